//! The stored form of a secret: its SHA-256 digest, never the secret itself.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The SHA-256 digest of a secret (client secret, code, refresh token).
///
/// Computing and comparing digests lives in [`crate::token::secret`]; this is the plain data
/// that records and stores hold.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SecretDigest(pub [u8; 32]);

impl fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A digest is not the secret, but showing it would help an attacker who can read logs
        // check guesses offline; a short prefix is enough to tell records apart.
        write!(f, "SecretDigest({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

impl SecretDigest {
    /// Lower-case hex, the form databases store.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// Reads the hex form back; `None` unless it is 64 hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[index * 2..index * 2 + 2], 16).ok()?;
        }
        Some(Self(bytes))
    }
}
