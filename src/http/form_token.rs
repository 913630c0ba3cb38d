//! Tokens that bind a server-rendered form to who was shown it, what it was for and when:
//! `base64url(issued_at ‖ HMAC-SHA256)`, keyed by the deployment's consent-form key, so any
//! instance can check a form another rendered. Every form the library renders carries one.

use crate::token::ConsentFormKey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far in the future a form's time may be: instances sharing the key have clocks that
/// differ a little.
const CLOCK_SKEW_SECONDS: i64 = 60;

/// What a form is bound to: a purpose naming the form, and its fields (absent ones count).
pub(crate) struct FormBinding<'a> {
    /// Which form, with a version (a form of one kind never passes as another).
    pub purpose: &'static [u8],
    /// The values it is bound to, in order.
    pub fields: &'a [Option<&'a [u8]>],
}

fn mac(key: &ConsentFormKey, binding: &FormBinding<'_>, issued_at: i64) -> Hmac<Sha256> {
    // Infallible: HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key.bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(binding.purpose);
    mac.update(&[0]);
    mac.update(&issued_at.to_be_bytes());
    // Length-prefixed, so no choice of values can make two different forms feed the MAC the
    // same input.
    for field in binding.fields {
        match field {
            Some(bytes) => {
                mac.update(&[1]);
                mac.update(&(bytes.len() as u64).to_be_bytes());
                mac.update(bytes);
            }
            None => mac.update(&[0]),
        }
    }
    mac
}

/// A token for a form shown at `now` (seconds since the epoch).
pub(crate) fn issue(key: &ConsentFormKey, binding: &FormBinding<'_>, now: i64) -> String {
    let tag = mac(key, binding, now).finalize().into_bytes();
    let mut token = now.to_be_bytes().to_vec();
    token.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(token)
}

/// Whether `presented` was issued for exactly this binding, less than `lifetime_seconds` before
/// `now`; compared in constant time.
pub(crate) fn verify(
    key: &ConsentFormKey,
    binding: &FormBinding<'_>,
    now: i64,
    lifetime_seconds: u64,
    presented: &str,
) -> bool {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(presented) else {
        return false;
    };
    let Some((issued_at, tag)) = bytes.split_first_chunk::<8>() else {
        return false;
    };
    let issued_at = i64::from_be_bytes(*issued_at);
    let age = now.saturating_sub(issued_at);
    let fresh = u64::try_from(age).is_ok_and(|age| age < lifetime_seconds)
        || (-CLOCK_SKEW_SECONDS..0).contains(&age);
    fresh && mac(key, binding, issued_at).verify_slice(tag).is_ok()
}
