//! Audit events: who did what, to which app, in which company, when; sent to a sink the host
//! provides (an in-memory sink by default).

use crate::model::{ClientId, CompanyId, GrantId, UserId};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

/// Who acted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "id")]
#[non_exhaustive]
pub enum AuditActor {
    /// A user (a person, or an admin acting on an installation).
    User(UserId),
    /// An app, authenticating as itself.
    App(ClientId),
    /// The app's developer, managing it (through the host's developer portal, which knows
    /// which developer it was).
    Developer,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
#[non_exhaustive]
pub enum AuditAction {
    /// Someone asked to install the app.
    InstallRequested,
    /// A user's consent installed the app for user-level access.
    InstalledByConsent,
    /// An admin approved the install.
    InstallApproved,
    /// An admin denied the install.
    InstallDenied,
    /// A new manifest asks for more and waits for an admin.
    ManifestUpdatePending {
        /// The manifest version.
        version: u32,
    },
    /// A new manifest took effect (approved, or asking for nothing more).
    ManifestUpdated {
        /// The manifest version.
        version: u32,
    },
    /// An admin changed the permitted projects.
    PermittedProjectsChanged,
    /// An admin uninstalled the app.
    Uninstalled,
    /// The developer changed the app's settings (name, profile, redirect URIs, flows).
    AppUpdated,
    /// The developer rotated the app's client secret.
    ClientSecretRotated {
        /// Until when the replaced secret stays accepted (`None`: it stopped at once).
        previous_valid_until: Option<DateTime<Utc>>,
    },
    /// The developer deleted the app, which uninstalled it from this company.
    UninstalledWithApp,
    /// The developer deleted the app (after uninstalling it everywhere).
    AppDeleted,
    /// A user authorized the app (a code was issued).
    AuthorizationGranted,
    /// Tokens were issued from a grant.
    TokensIssued {
        /// The grant.
        grant: GrantId,
    },
    /// A refresh token was rotated.
    TokensRefreshed {
        /// The grant.
        grant: GrantId,
    },
    /// A grant was revoked, on request or because a code or refresh token was reused.
    GrantRevoked {
        /// The grant.
        grant: GrantId,
        /// Why.
        reason: RevocationReason,
    },
    /// A token request naming a grant was refused in a way an operator should see.
    TokensRefused {
        /// The grant.
        grant: GrantId,
        /// Why.
        reason: RefusalReason,
    },
}

/// Why a token request naming a grant was refused (see [`AuditAction::TokensRefused`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RefusalReason {
    /// The user who authorized the app is deactivated.
    UserDeactivated,
    /// A code was presented by a client it was not issued to (it stays unspent).
    CodeOfAnotherClient,
}

/// Why a grant was revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevocationReason {
    /// The client asked (RFC 7009).
    Requested,
    /// Its authorization code was presented a second time.
    CodeReused,
    /// A rotated refresh token was presented again.
    RefreshTokenReused,
    /// The person disconnected the app from their connected apps.
    UserDisconnected,
}

/// One audit record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: AuditActor,
    /// What.
    pub action: AuditAction,
    /// Which app.
    pub app: ClientId,
    /// Which company, when the event concerns one.
    pub company: Option<CompanyId>,
}

/// Where audit events go. Implementations must not block for long: they run inside requests.
pub trait AuditSink: Send + Sync {
    /// Records one event.
    fn record(&self, event: AuditEvent);
}

/// Keeps the most recent audit events in memory (10,000 by default, so a busy server's default
/// sink cannot grow without bound; hosts that must keep every event pass their own sink).
#[derive(Debug)]
pub struct MemoryAuditSink {
    events: Mutex<VecDeque<AuditEvent>>,
    capacity: usize,
}

impl Default for MemoryAuditSink {
    fn default() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

impl MemoryAuditSink {
    /// How many events [`MemoryAuditSink::new`] keeps.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// A sink keeping the last [`Self::DEFAULT_CAPACITY`] events.
    pub fn new() -> Self {
        Self::default()
    }

    /// A sink keeping the last `capacity` events.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            events: Mutex::new(VecDeque::new()),
            capacity,
        }
    }

    /// The events kept, oldest first.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

impl AuditSink for MemoryAuditSink {
    fn record(&self, event: AuditEvent) {
        // A push or pop cannot leave the queue half-written, so a poisoned lock is still usable.
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        if events.len() == self.capacity {
            events.pop_front();
        }
        if self.capacity > 0 {
            events.push_back(event);
        }
    }
}
