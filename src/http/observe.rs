//! Each route of the router in a span, timed: a `DEBUG` event per request and the
//! [`HTTP_REQUEST_DURATION_SECONDS`] histogram. Neither the URI (its query may carry `state`
//! or a code challenge) nor any header is recorded: only the endpoint's name, the method and
//! the status.

use crate::server::telemetry::{HTTP_REQUEST_DURATION_SECONDS, millis_since};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum::routing::MethodRouter;
use std::time::Instant;
use tracing::Instrument;

/// The log target of the router's requests.
const TARGET: &str = "appgrant::http";

/// `route` with each request in an `http` span named `endpoint`, timed.
pub(crate) fn observed<St>(endpoint: &'static str, route: MethodRouter<St>) -> MethodRouter<St>
where
    St: Clone + Send + Sync + 'static,
{
    route.layer(from_fn_with_state(endpoint, request))
}

async fn request(State(endpoint): State<&'static str>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let span = tracing::info_span!(target: TARGET, "http", endpoint, method = %request.method());
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    tracing::debug!(
        target: TARGET,
        parent: &span,
        endpoint,
        status = status.as_u16(),
        latency_ms = millis_since(started),
        "request answered"
    );
    metrics::histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        "endpoint" => endpoint,
        "status" => status_label(status),
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// The status as a label, without allocating for the statuses the router answers with.
fn status_label(status: StatusCode) -> metrics::SharedString {
    let known = match status.as_u16() {
        200 => "200",
        201 => "201",
        204 => "204",
        303 => "303",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        415 => "415",
        500 => "500",
        503 => "503",
        other => return metrics::SharedString::from(other.to_string()),
    };
    metrics::SharedString::const_str(known)
}
