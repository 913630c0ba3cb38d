//! Pushed authorization requests (RFC 9126): the push, and the authorization request as it
//! reaches the authorization endpoint, pushed or not.

use super::{AuthorizationServer, ConsentPrompt, telemetry};
use crate::grant::{
    AuthorizationRequest, AuthorizeError, ClientAuthentication, ErrorPage, PushError,
    PushedRequest, PushedResponse, check_pushed_requirement, open_pushed_request, push,
};
use crate::store::{Directory, Store};

/// An authorization request as it reached the authorization endpoint, validated.
#[derive(Clone, Debug)]
pub struct ReceivedAuthorization {
    /// The request to act on: the pushed one if a `request_uri` came, else the query's.
    pub request: AuthorizationRequest,
    /// What the consent page shows.
    pub prompt: ConsentPrompt,
    /// The pushed request it came as, if it did: spend it
    /// ([`spend_pushed_request`](AuthorizationServer::spend_pushed_request)) before acting.
    pub pushed: Option<PushedRequest>,
}

impl<S: Store, D: Directory> AuthorizationServer<S, D> {
    /// `POST /oauth/par` (RFC 9126 §2): authenticates the client as the token endpoint does,
    /// validates `request` as the authorization endpoint would, and answers the `request_uri`
    /// that stands for it (see [`crate::grant::pushed`]).
    #[tracing::instrument(
        name = "push_authorization",
        target = "appgrant::authorize",
        level = "debug",
        skip_all,
        fields(client_id = %credentials.client_id())
    )]
    pub async fn push_authorization(
        &self,
        credentials: &ClientAuthentication,
        request: &AuthorizationRequest,
    ) -> Result<PushedResponse, PushError> {
        let app = self.authenticate(credentials).await?;
        let result = push(
            request,
            &app,
            &self.inner.config,
            &self.inner.pushed_request_key,
            self.now(),
            &mut rand::thread_rng(),
        );
        match &result {
            Ok(_) => tracing::info!(
                target: telemetry::AUTHORIZE,
                client_id = %app.client_id,
                outcome = "pushed",
                "authorization request pushed"
            ),
            Err(error) => tracing::info!(
                target: telemetry::AUTHORIZE,
                client_id = %app.client_id,
                outcome = "push_refused",
                error = %error.code(),
                "pushed authorization request refused"
            ),
        }
        result
    }

    /// The authorization request a browser brought to the authorization endpoint: `query`
    /// as its parameters say, and the `request_uri` among them, if any.
    ///
    /// With a `request_uri`, the request is the pushed one and only it: the query's other
    /// parameters besides `client_id` are ignored (RFC 9126 §4, RFC 9101 §5); the
    /// `request_uri` must be this server's, unaltered, unexpired and the query's client's, or
    /// the answer is an error page. Without one, an app that must push is refused
    /// (`invalid_request`, RFC 9126 §4). Either way the request is validated as any other
    /// ([`consent_prompt`](Self::consent_prompt)).
    ///
    /// The `request_uri` is not spent here: a browser sent to sign in comes back with the same
    /// query. Spend it with [`spend_pushed_request`](Self::spend_pushed_request) once the user
    /// is signed in, before showing consent or issuing a code.
    pub async fn receive_authorization(
        &self,
        query: &AuthorizationRequest,
        request_uri: Option<&str>,
    ) -> Result<ReceivedAuthorization, AuthorizeError> {
        let pushed = match request_uri {
            Some(request_uri) => {
                let opened = open_pushed_request(
                    request_uri,
                    query.client_id.as_deref(),
                    &self.inner.pushed_request_key,
                    self.now(),
                )
                .map_err(AuthorizeError::Page);
                if let Err(error) = &opened {
                    telemetry::authorization_refused(query, None, error);
                }
                Some(opened?)
            }
            None => None,
        };
        let request = pushed
            .as_ref()
            .map_or_else(|| query.clone(), |pushed| pushed.request.clone());
        let prompt = self.consent_prompt(&request).await?;
        if let Err(refused) = check_pushed_requirement(
            &prompt.app,
            &prompt.request,
            pushed.is_some(),
            &self.inner.config,
        ) {
            let error = AuthorizeError::Redirect(refused);
            telemetry::authorization_refused(&request, None, &error);
            return Err(error);
        }
        Ok(ReceivedAuthorization {
            request,
            prompt,
            pushed,
        })
    }

    /// Spends a pushed request's `request_uri`: it is good for one authorization, recorded
    /// in the store (across instances) until it expires. A second use is an error page.
    pub async fn spend_pushed_request(&self, pushed: &PushedRequest) -> Result<(), AuthorizeError> {
        let first = self
            .inner
            .store
            .first_use(&pushed.digest, pushed.expires_at)
            .await
            .map_err(|error| {
                telemetry::store_failed("spend_pushed_request", &error);
                AuthorizeError::Unavailable
            })?;
        if first {
            Ok(())
        } else {
            let error = AuthorizeError::Page(ErrorPage::UsedRequestUri);
            telemetry::authorization_refused(&pushed.request, None, &error);
            Err(error)
        }
    }
}
