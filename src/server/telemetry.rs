//! Logs and metrics at the server's edge: [`tracing`] events and spans for the host's
//! subscriber, and [`metrics`] counters for the host's recorder. Nothing here is called by the
//! pure core; the façade calls it around the core's answers.
//!
//! No event or metric carries a secret: fields are ids (client, company, user, grant), the
//! grant type, outcomes (the OAuth error code, the deny reason), error `Display`s (which never
//! show a secret) and latencies. Presented codes, tokens, verifiers, client secrets, session
//! ids and `Authorization` headers are never fields.
//!
//! With no subscriber or recorder installed, or their levels disabled, this costs a check per
//! call: fields are borrowed and formatted only when an event is recorded.
//!
//! # Metrics
//!
//! | name | kind | labels |
//! |---|---|---|
//! | [`GRANTS_TOTAL`] | counter | `grant_type`, `outcome` (`issued` or the OAuth error code) |
//! | [`DECISIONS_TOTAL`] | counter | `outcome` (`allow` or `deny`), `reason` (`none` or the deny reason) |
//! | [`INSTALLATION_CHANGES_TOTAL`] | counter | `change`, `outcome` (`ok` or why it was refused) |
//! | [`STORE_ERRORS_TOTAL`] | counter | `operation` (the server call that failed) |
//! | [`HTTP_REQUEST_DURATION_SECONDS`] | histogram | `endpoint`, `status` |

use super::ServerError;
use crate::access::{Decision, DenyReason};
use crate::grant::{AuthorizationRequest, AuthorizeError, TokenError, TokenRequest};
use crate::model::{ClientId, CompanyId, Installation, ProjectId, Requirement, UserId};
use crate::store::StoreError;
use crate::token::{AccessClaims, SubjectKind};
use std::time::Instant;

/// The log target of token-endpoint grants, revocation and introspection.
pub(crate) const TOKEN: &str = "appgrant::token";
/// The log target of authorization requests (the authorization endpoint).
pub(crate) const AUTHORIZE: &str = "appgrant::authorize";
/// The log target of access decisions and token info.
pub(crate) const ACCESS: &str = "appgrant::access";
/// The log target of installation changes.
pub(crate) const INSTALLATION: &str = "appgrant::installation";
/// The log target of store failures and readiness.
pub(crate) const STORE: &str = "appgrant::store";

/// Counter of token-endpoint grants, labelled `grant_type` (`authorization_code`,
/// `refresh_token`, `client_credentials`, or `unknown` for a request that names none the
/// server supports) and `outcome` (`issued`, or the OAuth error code it was refused with).
pub const GRANTS_TOTAL: &str = "appgrant_grants_total";

/// Counter of access decisions, labelled `outcome` (`allow` or `deny`) and `reason` (`none`
/// when allowed, else the deny reason in snake case, as in the decision's JSON: `expired`,
/// `revoked`, `app_uninstalled`, `insufficient_level`…).
pub const DECISIONS_TOTAL: &str = "appgrant_decisions_total";

/// Counter of installation changes, labelled `change` (the server call:
/// `request_installation`, `approve_installation`, `deny_installation`,
/// `approve_manifest_update`, `set_permitted_projects`, `uninstall`, `publish_manifest`,
/// `install_by_consent`, and `delete_app` for each installation a deleted app leaves) and
/// `outcome` (`ok`, or why it was refused: `not_allowed`, `unknown_user`, `not_a_member`,
/// `no_installation`, `busy`, `store_error`…).
pub const INSTALLATION_CHANGES_TOTAL: &str = "appgrant_installation_changes_total";

/// Counter of failed store calls, labelled `operation`: the server call that met the failure
/// (`token`, `check_access`, `approve_installation`, `readiness`…).
pub const STORE_ERRORS_TOTAL: &str = "appgrant_store_errors_total";

/// Histogram of the library router's request durations in seconds, labelled `endpoint`
/// (`authorize`, `authorize_decision`, `token`, `revoke`, `introspect`, `token_info`,
/// `metadata`, `jwks`, `healthz`, `readyz`; and the developer routes' `developer_apps`,
/// `developer_app`, `developer_app_secret`, `developer_app_manifests`,
/// `developer_app_installations`) and `status` (the HTTP status code).
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "appgrant_http_request_duration_seconds";

/// Describes every metric above to the installed recorder (units and help texts, which a
/// Prometheus exporter shows as `# HELP`). Call it once after installing the recorder;
/// metrics are recorded whether or not it was called.
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(
        GRANTS_TOTAL,
        Unit::Count,
        "Token-endpoint grants by grant type and outcome (issued or the OAuth error code)"
    );
    describe_counter!(
        DECISIONS_TOTAL,
        Unit::Count,
        "Access decisions by outcome (allow or deny) and deny reason"
    );
    describe_counter!(
        INSTALLATION_CHANGES_TOTAL,
        Unit::Count,
        "Installation changes by change and outcome"
    );
    describe_counter!(
        STORE_ERRORS_TOTAL,
        Unit::Count,
        "Failed store calls by the server operation that met them"
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Duration of the appgrant router's requests by endpoint and status"
    );
}

/// Milliseconds since `started`, for `latency_ms` fields.
pub(crate) fn millis_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// The `grant_type` of a token request, as on the wire.
pub(crate) fn grant_type(request: &TokenRequest) -> &'static str {
    match request {
        TokenRequest::AuthorizationCode { .. } => "authorization_code",
        TokenRequest::RefreshToken { .. } => "refresh_token",
        TokenRequest::ClientCredentials { .. } => "client_credentials",
    }
}

/// A deny reason's name, as the `reason` tag of its JSON.
pub(crate) fn deny_reason(reason: &DenyReason) -> &'static str {
    match reason {
        DenyReason::InvalidToken { .. } => "invalid_token",
        DenyReason::Expired => "expired",
        DenyReason::Revoked => "revoked",
        DenyReason::KeyBindingMismatch => "key_binding_mismatch",
        DenyReason::GrantedBeforeUninstall => "granted_before_uninstall",
        DenyReason::WrongCompany => "wrong_company",
        DenyReason::AppNotInstalled => "app_not_installed",
        DenyReason::AppUninstalled => "app_uninstalled",
        DenyReason::InstallationNotApproved => "installation_not_approved",
        DenyReason::ServiceAccountNotApproved => "service_account_not_approved",
        DenyReason::UserDeactivated => "user_deactivated",
        DenyReason::NotAMember => "not_a_member",
        DenyReason::ProjectNotPermitted => "project_not_permitted",
        DenyReason::InsufficientLevel { .. } => "insufficient_level",
    }
}

/// A grant kind's name, as in token JSON.
pub(crate) fn grant_kind(kind: SubjectKind) -> &'static str {
    match kind {
        SubjectKind::User => "user",
        SubjectKind::ServiceAccount => "service_account",
    }
}

/// What a failed server call is, in a word (the `outcome` of a refused installation change).
pub(crate) fn server_error_kind(error: &ServerError) -> &'static str {
    match error {
        ServerError::UnknownApp(_) => "unknown_app",
        ServerError::UnknownCompany(_) => "unknown_company",
        ServerError::UnknownUser(_) => "unknown_user",
        ServerError::NotAMember { .. } => "not_a_member",
        ServerError::NoInstallation { .. } => "no_installation",
        ServerError::Installation(_) => "not_allowed",
        ServerError::Registration(_) => "invalid_registration",
        ServerError::SecretRotation(_) => "invalid_rotation",
        ServerError::Key(_) => "key_error",
        ServerError::InvalidToken(_) | ServerError::Revoked | ServerError::Inactive(_) => {
            "invalid_token"
        }
        ServerError::Busy => "busy",
        ServerError::KeyConfiguration(_) => "key_configuration",
        ServerError::Store(_) => "store_error",
    }
}

/// Errors that may carry a store failure.
pub(crate) trait StoreFailure {
    /// The store failure inside, if this is one.
    fn store_error(&self) -> Option<&StoreError>;
}

impl StoreFailure for StoreError {
    fn store_error(&self) -> Option<&StoreError> {
        Some(self)
    }
}

impl StoreFailure for ServerError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            ServerError::Store(error) => Some(error),
            _ => None,
        }
    }
}

impl StoreFailure for TokenError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            TokenError::Store(error) => Some(error),
            _ => None,
        }
    }
}

/// Logs and counts a store failure met by `operation`. Store errors name what failed (the
/// backend's message), never a secret: the store only ever sees digests.
pub(crate) fn store_failed(operation: &'static str, error: &StoreError) {
    tracing::error!(target: STORE, operation, error = %error, "store call failed");
    metrics::counter!(STORE_ERRORS_TOTAL, "operation" => operation).increment(1);
}

/// Logs and counts the store failure in `result`, if there is one, and passes it on.
pub(crate) fn observe_store<T, E: StoreFailure>(
    operation: &'static str,
    result: Result<T, E>,
) -> Result<T, E> {
    if let Err(error) = &result {
        if let Some(store) = error.store_error() {
            store_failed(operation, store);
        }
    }
    result
}

/// A token-endpoint grant, answered: one event and one count.
pub(crate) fn grant<T>(
    grant_type: &'static str,
    client_id: &ClientId,
    company: Option<&CompanyId>,
    result: &Result<T, TokenError>,
    started: Instant,
) {
    let latency_ms = millis_since(started);
    let client_id = client_id.as_str();
    let company = company.map(CompanyId::as_str);
    let outcome = match result {
        Ok(_) => {
            tracing::info!(
                target: TOKEN,
                grant_type,
                client_id,
                company,
                outcome = "issued",
                latency_ms,
                "token issued"
            );
            "issued"
        }
        Err(error) => {
            let outcome = error.code().as_str();
            match error {
                TokenError::Store(store) => {
                    store_failed("token", store);
                    tracing::warn!(
                        target: TOKEN,
                        grant_type,
                        client_id,
                        company,
                        outcome,
                        error = %error,
                        latency_ms,
                        "token refused"
                    );
                }
                TokenError::RefreshReused { grant } | TokenError::CodeReused { grant, .. } => {
                    tracing::warn!(
                        target: TOKEN,
                        grant_type,
                        client_id,
                        company,
                        outcome,
                        error = %error,
                        grant = %grant,
                        latency_ms,
                        "token refused: a spent code or refresh token came back, its grant is revoked"
                    );
                }
                _ => {
                    tracing::info!(
                        target: TOKEN,
                        grant_type,
                        client_id,
                        company,
                        outcome,
                        error = %error,
                        latency_ms,
                        "token refused"
                    );
                }
            }
            outcome
        }
    };
    metrics::counter!(GRANTS_TOTAL, "grant_type" => grant_type, "outcome" => outcome).increment(1);
}

/// A token request refused before it reached the server (unparseable or unsupported): the
/// count of its grant type, `unknown` if it names none the server supports.
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) fn grant_not_parsed(grant_type: Option<&str>, error: &TokenError) {
    let grant_type = match grant_type {
        Some("authorization_code") => "authorization_code",
        Some("refresh_token") => "refresh_token",
        Some("client_credentials") => "client_credentials",
        _ => "unknown",
    };
    let outcome = error.code().as_str();
    tracing::info!(target: TOKEN, grant_type, outcome, error = %error, "token request refused");
    metrics::counter!(GRANTS_TOTAL, "grant_type" => grant_type, "outcome" => outcome).increment(1);
}

/// An access decision: one event and one count. Allowed decisions are the hot path of every
/// resource request, so they log at `DEBUG`; denials at `INFO`.
pub(crate) fn decision(
    decision: &Decision,
    claims: Option<&AccessClaims>,
    requirement: &Requirement,
    started: Instant,
) {
    let latency_ms = millis_since(started);
    let client_id = claims.map(|claims| claims.client_id.as_str());
    let grant_kind = claims.map(|claims| grant_kind(claims.grant_kind));
    let company = requirement.company.as_str();
    let project = requirement.project.as_ref().map(ProjectId::as_str);
    let tool = requirement.tool.as_str();
    let need = &requirement.level;
    match decision {
        Decision::Allow { level } => {
            tracing::debug!(
                target: ACCESS,
                client_id,
                grant_kind,
                company,
                project,
                tool,
                need = %need,
                have = %level,
                outcome = "allow",
                latency_ms,
                "access allowed"
            );
            metrics::counter!(DECISIONS_TOTAL, "outcome" => "allow", "reason" => "none")
                .increment(1);
        }
        Decision::Deny(reason) => {
            let name = deny_reason(reason);
            tracing::info!(
                target: ACCESS,
                client_id,
                grant_kind,
                company,
                project,
                tool,
                need = %need,
                outcome = "deny",
                reason = name,
                detail = %reason,
                latency_ms,
                "access denied"
            );
            metrics::counter!(DECISIONS_TOTAL, "outcome" => "deny", "reason" => name).increment(1);
        }
    }
}

/// An authorization request refused: the error page or the error redirected to the client.
/// Neither `state` nor the redirect URI is logged: `state` is the client's own secret.
pub(crate) fn authorization_refused(
    request: &AuthorizationRequest,
    user: Option<&UserId>,
    error: &AuthorizeError,
) {
    let client_id = request.client_id.as_deref();
    let user = user.map(UserId::as_str);
    match error {
        AuthorizeError::Page(problem) => tracing::info!(
            target: AUTHORIZE,
            client_id,
            user,
            outcome = "error_page",
            error = %problem,
            "authorization refused"
        ),
        AuthorizeError::Redirect(redirect) => tracing::info!(
            target: AUTHORIZE,
            client_id,
            user,
            outcome = redirect.error.as_str(),
            error = redirect.description,
            "authorization refused"
        ),
        // The store failure itself was logged as an error where it happened.
        AuthorizeError::Unavailable => tracing::info!(
            target: AUTHORIZE,
            client_id,
            user,
            outcome = "temporarily_unavailable",
            "authorization refused"
        ),
    }
}

/// An installation change, made or refused: one event and one count.
pub(crate) fn installation_change(
    change: &'static str,
    company: Option<&CompanyId>,
    app: &ClientId,
    actor: Option<&UserId>,
    result: &Result<Option<&Installation>, &ServerError>,
    started: Instant,
) {
    let latency_ms = millis_since(started);
    let company = company.map(CompanyId::as_str);
    let client_id = app.as_str();
    let actor = actor.map(UserId::as_str);
    let outcome = match result {
        Ok(installation) => {
            tracing::info!(
                target: INSTALLATION,
                change,
                company,
                client_id,
                actor,
                status = installation.map(|found| tracing::field::debug(found.status)),
                outcome = "ok",
                latency_ms,
                "installation changed"
            );
            "ok"
        }
        Err(error) => {
            let outcome = server_error_kind(error);
            if let ServerError::Store(store) = error {
                store_failed(change, store);
                tracing::warn!(
                    target: INSTALLATION,
                    change,
                    company,
                    client_id,
                    actor,
                    outcome,
                    error = %error,
                    latency_ms,
                    "installation change failed"
                );
            } else {
                tracing::info!(
                    target: INSTALLATION,
                    change,
                    company,
                    client_id,
                    actor,
                    outcome,
                    error = %error,
                    latency_ms,
                    "installation change refused"
                );
            }
            outcome
        }
    };
    metrics::counter!(INSTALLATION_CHANGES_TOTAL, "change" => change, "outcome" => outcome)
        .increment(1);
}

/// A developer's change of an app (`update_app`, `rotate_client_secret`, `delete_app`), made
/// or refused: one event. Only the outcome is logged, never what the change returned (a
/// rotation returns the new secret).
pub(crate) fn app_change<T>(
    change: &'static str,
    app: &ClientId,
    result: &Result<T, ServerError>,
    started: Instant,
) {
    let latency_ms = millis_since(started);
    let client_id = app.as_str();
    match result {
        Ok(_) => tracing::info!(
            target: INSTALLATION,
            change,
            client_id,
            outcome = "ok",
            latency_ms,
            "app changed"
        ),
        Err(error) => {
            let outcome = server_error_kind(error);
            if let ServerError::Store(store) = error {
                store_failed(change, store);
                tracing::warn!(
                    target: INSTALLATION,
                    change,
                    client_id,
                    outcome,
                    error = %error,
                    latency_ms,
                    "app change failed"
                );
            } else {
                tracing::info!(
                    target: INSTALLATION,
                    change,
                    client_id,
                    outcome,
                    error = %error,
                    latency_ms,
                    "app change refused"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;
    use crate::token::ValidationError;

    /// The metric and log names of deny reasons are the names their JSON carries.
    #[test]
    fn deny_reason_names_are_the_json_tags() {
        let reasons = [
            DenyReason::InvalidToken {
                problem: ValidationError::BadSignature,
            },
            DenyReason::Expired,
            DenyReason::Revoked,
            DenyReason::GrantedBeforeUninstall,
            DenyReason::WrongCompany,
            DenyReason::AppNotInstalled,
            DenyReason::AppUninstalled,
            DenyReason::InstallationNotApproved,
            DenyReason::ServiceAccountNotApproved,
            DenyReason::UserDeactivated,
            DenyReason::NotAMember,
            DenyReason::ProjectNotPermitted,
            DenyReason::InsufficientLevel {
                have: Level::ReadOnly,
                need: Level::Standard,
            },
        ];
        for reason in reasons {
            let json = serde_json::to_value(&reason).unwrap_or_default();
            assert_eq!(json["reason"], deny_reason(&reason), "{reason:?}");
        }
    }
}
