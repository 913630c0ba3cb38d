//! Registering an app: a client id, a secret shown once, and redirect URIs checked up front.

use crate::model::{
    App, AppFlows, AppProfile, ApplicationType, ClientId, ClientSecurity, ClientType, CompanyId,
    Manifest, OUT_OF_BAND, ToolLevels,
};
use crate::token::{JwkError, PublicKey, Secret};
use rand::RngCore;

/// What a developer registers.
#[derive(Clone, Debug)]
pub struct AppRegistration {
    /// Name shown to users and admins.
    pub name: String,
    /// Confidential or public.
    pub client_type: ClientType,
    /// Web, or native (a public client whose loopback redirect URIs match at any port).
    pub application_type: ApplicationType,
    /// Redirect URIs (needed for the authorization-code flow).
    pub redirect_uris: Vec<String>,
    /// Which flows it uses.
    pub flows: AppFlows,
    /// The first manifest, for an app with a service account.
    pub manifest: Option<Manifest>,
    /// Optional ceiling on user-delegated access.
    pub ceiling: Option<ToolLevels>,
    /// Publisher, description, homepage and logo, for the consent and install pages.
    pub profile: AppProfile,
    /// For a custom app: the one company that may install it.
    pub owner: Option<CompanyId>,
    /// How it authenticates (a secret, or `private_key_jwt` with its public keys), and
    /// whether its tokens must be DPoP-bound and its authorization requests pushed.
    pub security: ClientSecurity,
}

/// Why a registration was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// A redirect URI is not an absolute URI, has a fragment, or is plain http off loopback.
    #[error("invalid redirect URI: {0}")]
    InvalidRedirectUri(String),
    /// The authorization-code flow needs at least one redirect URI.
    #[error("an app using the authorization-code flow needs a redirect URI")]
    NoRedirectUri,
    /// A public client cannot keep the secret the client-credentials grant needs.
    #[error("a public client cannot use a service account")]
    PublicServiceAccount,
    /// The service-account flow needs a manifest.
    #[error("an app using a service account needs a manifest")]
    NoManifest,
    /// A homepage or logo URL that is not an `https` URL (pages link to it).
    #[error("invalid {field} URL: it must be an https URL")]
    InvalidProfileUrl {
        /// `homepage` or `logo_url`.
        field: &'static str,
    },
    /// An empty or blank name: consent and install pages show it.
    #[error("an app needs a name")]
    BlankName,
    /// A native app runs on the person's device, where it cannot keep a secret (RFC 8252
    /// §8.5): it is a public client.
    #[error("a native app is a public client")]
    ConfidentialNativeApp,
    /// `private_key_jwt` is for confidential clients, with at least one usable public key.
    #[error("private_key_jwt needs a confidential client and at least one public key: {0}")]
    InvalidClientKeys(&'static str),
}

/// Checks an app's registered public keys: a confidential client, at least one key, each a
/// public key the server can verify with, and no two with the same `kid`.
fn check_client_keys(
    client_type: ClientType,
    security: &ClientSecurity,
) -> Result<(), RegistrationError> {
    let Some(keys) = security.client_keys() else {
        return Ok(());
    };
    if client_type != ClientType::Confidential {
        return Err(RegistrationError::InvalidClientKeys(
            "a public client cannot authenticate",
        ));
    }
    if keys.is_empty() {
        return Err(RegistrationError::InvalidClientKeys("no key given"));
    }
    let mut kids = std::collections::BTreeSet::new();
    for jwk in keys {
        let key = PublicKey::from_jwk(jwk).map_err(|error| {
            RegistrationError::InvalidClientKeys(match error {
                JwkError::Private => "a key holds private material",
                JwkError::WeakRsa => "an RSA key is shorter than 2048 bits",
                _ => "a key is not an Ed25519, P-256 or RSA public JWK",
            })
        })?;
        if !kids.insert(key.kid().map(str::to_owned)) {
            return Err(RegistrationError::InvalidClientKeys(
                "two keys share a kid (or both have none)",
            ));
        }
    }
    Ok(())
}

/// What registration and every later update check of an app's settings, together: a name,
/// valid redirect URIs and profile links, a redirect URI for the authorization-code flow, and a
/// confidential client with a manifest for a service account.
pub(crate) fn check_settings(
    name: &str,
    (client_type, application_type): (ClientType, ApplicationType),
    redirect_uris: &[String],
    flows: AppFlows,
    has_manifest: bool,
    profile: &AppProfile,
) -> Result<(), RegistrationError> {
    if name.trim().is_empty() {
        return Err(RegistrationError::BlankName);
    }
    if application_type == ApplicationType::Native && client_type != ClientType::Public {
        return Err(RegistrationError::ConfidentialNativeApp);
    }
    for uri in redirect_uris {
        check_redirect_uri(uri)?;
    }
    check_profile(profile)?;
    if flows.user_delegated() && redirect_uris.is_empty() {
        return Err(RegistrationError::NoRedirectUri);
    }
    if flows.service_account() {
        if client_type == ClientType::Public {
            return Err(RegistrationError::PublicServiceAccount);
        }
        if !has_manifest {
            return Err(RegistrationError::NoManifest);
        }
    }
    Ok(())
}

/// A homepage or logo is linked from pages people trust: `https` only, so no `javascript:`
/// link and no mixed content.
fn check_profile(profile: &AppProfile) -> Result<(), RegistrationError> {
    let fields = [
        ("homepage", &profile.homepage),
        ("logo_url", &profile.logo_url),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            let parsed = url::Url::parse(value);
            if !parsed.is_ok_and(|url| url.scheme() == "https" && url.host_str().is_some()) {
                return Err(RegistrationError::InvalidProfileUrl { field });
            }
        }
    }
    Ok(())
}

fn check_redirect_uri(uri: &str) -> Result<(), RegistrationError> {
    if uri == OUT_OF_BAND {
        return Ok(());
    }
    let invalid = || RegistrationError::InvalidRedirectUri(uri.to_owned());
    let parsed = url::Url::parse(uri).map_err(|_| invalid())?;
    // Schemes that run or embed content instead of delivering a request to a client.
    let dangerous = matches!(parsed.scheme(), "javascript" | "data" | "vbscript" | "file");
    if parsed.fragment().is_some() || dangerous {
        return Err(invalid());
    }
    // RFC 9700 §2.6: plain http only for native apps on loopback.
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if parsed.scheme() == "http" && !loopback {
        return Err(invalid());
    }
    Ok(())
}

impl AppRegistration {
    /// Registers the app: returns it and, for a confidential client, its secret, which is
    /// shown this once and kept only as a digest.
    pub fn register(
        self,
        rng: &mut dyn RngCore,
    ) -> Result<(App, Option<Secret>), RegistrationError> {
        check_settings(
            &self.name,
            (self.client_type, self.application_type),
            &self.redirect_uris,
            self.flows,
            self.manifest.is_some(),
            &self.profile,
        )?;
        check_client_keys(self.client_type, &self.security)?;
        // An app that signs JWTs with its own keys gets no shared secret at all.
        let secret = (self.client_type == ClientType::Confidential
            && self.security.client_keys().is_none())
        .then(|| Secret::generate(rng));
        let mut app = App {
            client_id: ClientId::generate(rng),
            name: self.name,
            client_type: self.client_type,
            application_type: self.application_type,
            secret_digest: secret.as_ref().map(Secret::digest),
            previous_secret: None,
            redirect_uris: self.redirect_uris,
            flows: self.flows,
            manifests: Vec::new(),
            ceiling: self.ceiling,
            profile: self.profile,
            owner: self.owner,
            security: self.security,
            revision: 0,
        };
        if let Some(manifest) = self.manifest {
            app.publish_manifest(manifest);
        }
        Ok((app, secret))
    }
}
