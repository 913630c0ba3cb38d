//! Serving the demo so that slow or idle clients cannot exhaust it.
//!
//! `axum::serve` has no header-read timeout: a client that sends half a request line, or
//! nothing at all, holds its connection (and a file descriptor) for ever, and enough of them
//! lock everyone else out. This serves HTTP/1.1 with hyper directly, with
//! - a header-read timeout, which also closes keep-alive connections left idle that long;
//! - a request timeout (408 Request Timeout) and a body timeout (the longest pause allowed
//!   between two pieces of a request body);
//! - a cap on open connections: past it, new connections wait in the kernel's listen backlog
//!   until one closes, so the process never runs out of descriptors for its own files and
//!   database connections;
//! - a lifetime for each connection: then it is shut down gracefully, and dropped if that
//!   does not finish within the request timeout. Nothing else covers a client that sends
//!   requests and never reads the answers: hyper then waits on its writes for ever.
//!
//! Only HTTP/1.1: hyper's header-read timeout does not apply to HTTP/2, where a client that
//! sends the connection preface and then nothing would hold its connection for ever. Put a
//! proxy in front for HTTP/2 (and TLS).
#![allow(dead_code)]

use axum::Router;
use axum::http::StatusCode;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

/// How long a client may take, and how many may be connected at once.
#[derive(Clone, Debug)]
pub struct Limits {
    /// From the first byte of a request (or the end of the previous one) to the end of its
    /// headers.
    pub header_read: Duration,
    /// The longest pause between two pieces of a request body.
    pub body: Duration,
    /// From the end of the headers to the response, body reading included.
    pub request: Duration,
    /// How long one connection may stay open, however busy.
    pub connection_lifetime: Duration,
    /// Open connections at most.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            body: Duration::from_secs(10),
            request: Duration::from_secs(30),
            connection_lifetime: Duration::from_secs(120),
            max_connections: 256,
        }
    }
}

/// `router` with the request and body timeouts: what any host mounting `appgrant::http::router`
/// needs (the header-read timeout and the connection cap belong to the server loop, below).
pub fn with_timeouts(router: Router, limits: &Limits) -> Router {
    router
        .layer(RequestBodyTimeoutLayer::new(limits.body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request,
        ))
}

/// Serves `router` on `listener` within `limits`, until accepting fails for good.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits) -> io::Result<()> {
    let router = with_timeouts(router, &limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    loop {
        // A free slot first, then accept: connections past the cap wait in the backlog and
        // cost this process nothing.
        let slot = Arc::clone(&slots)
            .acquire_owned()
            .await
            .map_err(io::Error::other)?;
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of descriptors, or a connection reset before it was accepted: pause
                // rather than spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let connection = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let (lifetime, grace) = (limits.connection_lifetime, limits.request);
        tokio::spawn(async move {
            // An error here is a client that timed out, went away or spoke garbage: hyper has
            // already answered or closed; there is nothing more to do.
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = tokio::time::sleep(lifetime) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(grace, connection).await;
                }
            }
            drop(slot);
        });
    }
}
