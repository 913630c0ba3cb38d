//! Identifiers of the domain: plain strings, because host platforms bring their own ids.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id the host already has.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }
    };
}

string_id!(
    /// A company (tenant) of the host platform.
    CompanyId
);
string_id!(
    /// A user: a person or a service account.
    UserId
);
string_id!(
    /// A project inside a company.
    ProjectId
);
string_id!(
    /// The OAuth client id of an app; one id serves every company that installed the app.
    ClientId
);
string_id!(
    /// One grant: everything issued from one code exchange (a refresh family) or one
    /// client-credentials issuance. Revoking a grant revokes every token that names it.
    GrantId
);
string_id!(
    /// The unique id (`jti`) of one access token.
    TokenId
);

/// A random version-4 UUID in text form, drawn from the caller's random source.
pub fn random_uuid(rng: &mut dyn RngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

impl ClientId {
    /// A fresh random client id.
    pub fn generate(rng: &mut dyn RngCore) -> Self {
        Self(random_uuid(rng))
    }
}

impl GrantId {
    /// A fresh random grant id.
    pub fn generate(rng: &mut dyn RngCore) -> Self {
        Self(random_uuid(rng))
    }
}

impl TokenId {
    /// A fresh random token id.
    pub fn generate(rng: &mut dyn RngCore) -> Self {
        Self(random_uuid(rng))
    }
}

impl UserId {
    /// A fresh random user id (used for service accounts the library creates).
    pub fn generate(rng: &mut dyn RngCore) -> Self {
        Self(random_uuid(rng))
    }
}
