//! What one access decision reads of storage, asked for at once so that a store can answer it
//! in one round trip ([`InstallationStore::decision_records`](super::InstallationStore)).

use crate::model::{
    ClientId, CompanyId, GrantId, Installation, Permissions, ToolLevels, User, UserId,
};

/// Whom the token acts as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acting<'a> {
    /// The person the token was issued to.
    Person(&'a UserId),
    /// The installation's service account, whichever user it is when read.
    ServiceAccount,
}

/// Where the acting user and their membership are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemberReads {
    /// In this store's own directory tables, which the server uses as its directory: the store
    /// may read them with the rest.
    InStore,
    /// In another directory (the host's): the store must not answer for it.
    Elsewhere,
}

/// The question of one decision.
#[derive(Clone, Copy, Debug)]
pub struct DecisionQuery<'a> {
    /// The token's app.
    pub app: &'a ClientId,
    /// The company the request is for.
    pub company: &'a CompanyId,
    /// The token's grant.
    pub grant: &'a GrantId,
    /// Whom it acts as.
    pub acting: Acting<'a>,
    /// Where the acting member is read.
    pub member: MemberReads,
}

impl DecisionQuery<'_> {
    /// The acting user's id, given the installation read: the person, or the installation's
    /// service account (none without one).
    pub fn acting_user(&self, installation: Option<&Installation>) -> Option<UserId> {
        match self.acting {
            Acting::Person(user) => Some(user.clone()),
            Acting::ServiceAccount => installation
                .and_then(|installation| installation.service_account.as_ref())
                .map(|account| account.user.clone()),
        }
    }
}

/// What a store answers to a [`DecisionQuery`], all as of one read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecisionRecords {
    /// The app's installation in the company.
    pub installation: Option<Installation>,
    /// Whether the grant is revoked.
    pub revoked: bool,
    /// The app's ceiling, read for a person's token only (a service account is bounded by its
    /// approved manifest instead).
    pub ceiling: Option<ToolLevels>,
    /// The acting user and their permissions in the company, as
    /// [`Directory::member`](super::Directory::member) answers, when the query asked for them
    /// [`MemberReads::InStore`] and the store read them; `None` leaves them to the directory.
    pub member: Option<(Option<User>, Option<Permissions>)>,
}
