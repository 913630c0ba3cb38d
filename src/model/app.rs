//! Apps: client registrations with their redirect URIs, flows and permission manifests.

use super::client_security::ClientSecurity;
use super::digest::SecretDigest;
use super::ids::{ClientId, CompanyId};
use super::permission::{Level, Tool, ToolLevels};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The redirect URI that shows the code to the user instead of redirecting.
pub const OUT_OF_BAND: &str = "urn:ietf:wg:oauth:2.0:oob";

/// Whether the app can keep a secret (RFC 6749 §2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    /// A server-side app holding a client secret.
    Confidential,
    /// A native or browser app; it proves itself with PKCE alone.
    Public,
}

/// What kind of app it is, for the redirect URIs it may use (the `application_type` of OpenID
/// Connect dynamic registration).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationType {
    /// A web app: its redirect URIs are matched exactly, character for character.
    #[default]
    Web,
    /// A native app on the person's device (RFC 8252), a public client: a loopback IP
    /// redirect URI it registered (`http://127.0.0.1/…` or `http://[::1]/…`) matches at any
    /// port, because the app listens on whichever port the operating system gives it (§7.3).
    /// Every other redirect URI, `localhost` included, matches exactly.
    Native,
}

/// Which of the two ways into a company's data the app uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppFlows {
    /// Authorization code only: the app acts as the signed-in user.
    UserDelegated,
    /// Client credentials only: the app acts as its service account.
    ServiceAccount,
    /// Both.
    Both,
}

impl AppFlows {
    /// Whether the app may use the authorization-code flow.
    pub fn user_delegated(self) -> bool {
        matches!(self, AppFlows::UserDelegated | AppFlows::Both)
    }

    /// Whether the app may use the client-credentials flow for a service account.
    pub fn service_account(self) -> bool {
        matches!(self, AppFlows::ServiceAccount | AppFlows::Both)
    }
}

/// One version of the permissions an app's service account needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Version number, increasing from 1.
    pub version: u32,
    /// Company-level tools the service account needs.
    pub company: ToolLevels,
    /// Project-level tools it needs on each permitted project.
    pub project: ToolLevels,
}

impl Manifest {
    /// An empty manifest at `version`.
    pub fn new(version: u32) -> Self {
        Self {
            version,
            ..Self::default()
        }
    }

    /// Builder: asks for a company-level tool.
    pub fn company_tool(mut self, tool: impl Into<Tool>, level: Level) -> Self {
        self.company.insert(tool.into(), level);
        self
    }

    /// Builder: asks for a project-level tool on each permitted project.
    pub fn project_tool(mut self, tool: impl Into<Tool>, level: Level) -> Self {
        self.project.insert(tool.into(), level);
        self
    }

    /// Whether this manifest asks for anything `approved` did not grant.
    pub fn asks_more_than(&self, approved: &Manifest) -> bool {
        exceeds(&self.company, &approved.company) || exceeds(&self.project, &approved.project)
    }
}

/// Where a manifest's tool applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    /// Company-wide.
    Company,
    /// On each project the admin permits.
    EachPermittedProject,
}

/// One tool whose level differs between two manifest versions: what an update review shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ManifestChange {
    /// Company-wide or on each permitted project.
    pub reach: Reach,
    /// The tool.
    pub tool: Tool,
    /// Its level in the approved version ([`Level::None`] if it was not asked for).
    pub from: Level,
    /// Its level in the new version ([`Level::None`] if it is no longer asked for).
    pub to: Level,
}

impl ManifestChange {
    /// Whether the new version asks for more here (a new tool, or a higher level): what an
    /// admin must approve before it takes effect.
    pub fn asks_more(&self) -> bool {
        self.to > self.from
    }
}

impl Manifest {
    /// Every tool whose level differs from `approved`, company-wide tools first, each list in
    /// tool order: added or raised ones ask for more, lowered or dropped ones ask for less.
    pub fn changes_from(&self, approved: &Manifest) -> Vec<ManifestChange> {
        let mut changes = differences(Reach::Company, &approved.company, &self.company);
        changes.extend(differences(
            Reach::EachPermittedProject,
            &approved.project,
            &self.project,
        ));
        changes
    }
}

fn differences(reach: Reach, before: &ToolLevels, after: &ToolLevels) -> Vec<ManifestChange> {
    let tools: std::collections::BTreeSet<&Tool> = before.keys().chain(after.keys()).collect();
    tools
        .into_iter()
        .filter_map(|tool| {
            let from = before.get(tool).copied().unwrap_or_default();
            let to = after.get(tool).copied().unwrap_or_default();
            (from != to).then(|| ManifestChange {
                reach,
                tool: tool.clone(),
                from,
                to,
            })
        })
        .collect()
}

fn exceeds(wanted: &ToolLevels, granted: &ToolLevels) -> bool {
    wanted
        .iter()
        .any(|(tool, level)| *level > granted.get(tool).copied().unwrap_or_default())
}

/// The loopback IP literals a native app's redirect may name (RFC 8252 §7.3; `localhost` is
/// not one: RFC 8252 §8.3 advises against it, as a name may resolve elsewhere).
const LOOPBACK_HOSTS: [&str; 2] = ["127.0.0.1", "[::1]"];

/// Whether `requested` is the loopback IP redirect URI `registered` with, at most, another
/// port: the two are the same text once their ports are taken out (so the same `http` scheme,
/// IP literal, path and query, written the same way).
fn loopback_at_any_port(registered: &str, requested: &str) -> bool {
    match (without_port(registered), without_port(requested)) {
        (Some(registered), Some(requested)) => registered == requested,
        _ => false,
    }
}

/// A loopback IP redirect URI with its port, if it has one, taken out; `None` for any other
/// URI (another host, a malformed port, user info, or a fragment).
fn without_port(uri: &str) -> Option<String> {
    if uri.contains('#') {
        return None;
    }
    LOOPBACK_HOSTS.iter().find_map(|host| {
        let origin = format!("http://{host}");
        let rest = uri.strip_prefix(&origin)?;
        let rest = match rest.strip_prefix(':') {
            Some(port_and_rest) => {
                let digits = port_and_rest.len()
                    - port_and_rest
                        .trim_start_matches(|c: char| c.is_ascii_digit())
                        .len();
                let port = port_and_rest[..digits].parse::<u16>().ok()?;
                (port != 0).then_some(&port_and_rest[digits..])?
            }
            None => rest,
        };
        let authority_ends = rest.is_empty() || rest.starts_with(['/', '?']);
        authority_ends.then(|| format!("{origin}{rest}"))
    })
}

/// What pages say about an app, besides its name: who publishes it, what it does, where to
/// learn more. Shown on the consent and install pages, always escaped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppProfile {
    /// Who publishes it (a company or a person), as the developer says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    /// What it does, in a sentence or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its home page (an `https` URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    /// Its logo (an `https` URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
}

/// A client secret that a rotation replaced, still accepted for a while so the app's
/// deployments can move to the new one without an outage. Kept as a digest, like the current
/// one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret {
    /// Digest of the replaced secret.
    pub digest: SecretDigest,
    /// The replaced secret is accepted only before this instant.
    pub valid_until: DateTime<Utc>,
}

impl PreviousSecret {
    /// Whether the replaced secret is still accepted at `now`.
    pub fn accepted_at(&self, now: DateTime<Utc>) -> bool {
        now < self.valid_until
    }
}

/// A registered app (OAuth client). One registration serves every company that installs it,
/// unless it is a custom app, private to the one company that owns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    /// The client id.
    pub client_id: ClientId,
    /// The name shown to users and admins.
    pub name: String,
    /// Confidential or public.
    pub client_type: ClientType,
    /// Web or native; apps stored before native apps existed read as web apps.
    #[serde(default)]
    pub application_type: ApplicationType,
    /// Digest of the client secret (confidential clients only); the secret itself is shown once.
    pub secret_digest: Option<SecretDigest>,
    /// The secret the last rotation replaced, while it is still accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<PreviousSecret>,
    /// Registered redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// Which flows it uses.
    pub flows: AppFlows,
    /// Every manifest version it has published, oldest first; the last is current.
    pub manifests: Vec<Manifest>,
    /// Optional most the app may do through any user, per tool (absent tool: nothing).
    pub ceiling: Option<ToolLevels>,
    /// Publisher, description, homepage and logo.
    #[serde(default)]
    pub profile: AppProfile,
    /// The company that owns a custom app: it can be installed there and nowhere else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<CompanyId>,
    /// How it authenticates, and whether its tokens must be DPoP-bound and its authorization
    /// requests pushed. Apps stored before these existed read as the defaults.
    #[serde(default, skip_serializing_if = "ClientSecurity::is_default")]
    pub security: ClientSecurity,
    /// How many times the record was changed; stores save a change only over the revision it
    /// was made from, so concurrent changes (a settings change, a secret rotation, a manifest
    /// publish) cannot overwrite each other. Apps stored before revisions existed read as 0.
    #[serde(default)]
    pub revision: u64,
}

impl App {
    /// Whether `company` may install it: any company, or only its owner for a custom app.
    pub fn installable_in(&self, company: &CompanyId) -> bool {
        self.owner.as_ref().is_none_or(|owner| owner == company)
    }

    /// The current manifest, if the app has published one.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifests.last()
    }

    /// Whether `uri` is registered: by exact string comparison (RFC 9700 §4.1.3), or, for a
    /// native app, as a registered loopback IP redirect URI at another port (RFC 8252 §7.3).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|registered| {
            registered == uri
                || (self.application_type == ApplicationType::Native
                    && loopback_at_any_port(registered, uri))
        })
    }

    /// Publishes a new manifest version, numbered after the current one; returns its number.
    pub fn publish_manifest(&mut self, mut manifest: Manifest) -> u32 {
        manifest.version = self.manifest().map_or(1, |current| current.version + 1);
        let version = manifest.version;
        self.manifests.push(manifest);
        version
    }

    /// The most this app may do with `tool` through a user, or `None` when it has no ceiling.
    pub fn ceiling_for(&self, tool: &Tool) -> Option<Level> {
        self.ceiling
            .as_ref()
            .map(|ceiling| ceiling.get(tool).copied().unwrap_or_default())
    }

    /// The most a token acting through a user may ever do with `tool`: the app's ceiling, or
    /// anything when it declares none. Scopes asked for at authorization are capped by this.
    pub fn delegated_reach(&self, tool: &Tool) -> Level {
        self.ceiling_for(tool).unwrap_or(Level::Admin)
    }

    /// The most its service account may ever do with `tool` in any company: what the current
    /// manifest asks for it, at company level or on projects. Scopes asked for with client
    /// credentials are capped by this.
    pub fn service_account_reach(&self, tool: &Tool) -> Level {
        self.manifest().map_or(Level::None, |manifest| {
            let level = |levels: &ToolLevels| levels.get(tool).copied().unwrap_or_default();
            level(&manifest.company).max(level(&manifest.project))
        })
    }
}
