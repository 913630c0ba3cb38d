//! Records decoded from their stored JSON, remembered by that very text, so that a record read
//! again unchanged is not parsed again.
//!
//! Every read still goes to the database; only the decoding is remembered, and decoding is a
//! function of the text alone. A record another instance changed is other text, decoded anew,
//! so nothing written anywhere is missed: this is not a cache of the database, it is a cache
//! of `serde_json::from_str`, which was about 7% of the server's CPU on a SQLite API call
//! (`perf`, issue 12).

use super::StoreResult;
use super::sql::from_json;
use crate::model::{App, Installation, Permissions, ToolLevels, User};
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// How much each kind remembers, in the weight of [`TextWeight`] (about bytes).
const BUDGET_BYTES: u64 = 8 * 1024 * 1024;

/// A text longer than this is decoded every time rather than remembered: hashing and
/// comparing it would cost about what parsing does, and one would crowd out many.
const LONGEST_REMEMBERED: usize = 64 * 1024;

/// The decoded records of one store, one memory per kind.
#[derive(Default)]
pub(super) struct DecodedRecords {
    /// Installations, as stored in `appgrant_installations.record`.
    pub(super) installations: Decoded<Installation>,
    /// Apps, as stored in `appgrant_apps.record` (the revision is its own column).
    pub(super) apps: Decoded<App>,
    /// Users, as stored in `appgrant_users.record`.
    pub(super) users: Decoded<User>,
    /// Memberships' permissions, as stored in `appgrant_memberships.permissions`.
    pub(super) permissions: Decoded<Permissions>,
    /// Apps' ceilings, as the decision statements extract them.
    pub(super) ceilings: Decoded<Option<ToolLevels>>,
}

impl std::fmt::Debug for DecodedRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedRecords").finish_non_exhaustive()
    }
}

/// Weighs a remembered text: its bytes twice (the text, and about what it decodes to) plus
/// the entry itself, so the budget bounds memory rather than a count.
#[derive(Clone, Copy)]
struct TextWeight;

impl<T> quick_cache::Weighter<Box<str>, Arc<T>> for TextWeight {
    fn weight(&self, text: &Box<str>, _: &Arc<T>) -> u64 {
        // At most LONGEST_REMEMBERED, so the conversion holds; 64 for the entry.
        u64::try_from(text.len()).map_or(u64::MAX, |bytes| 2 * bytes + 64)
    }
}

/// Values of one kind, remembered by the exact text they were decoded from.
pub(super) struct Decoded<T> {
    // quick_cache: bounded by weight, sharded for many concurrent readers, and its eviction
    // keeps the records read again and again (the hot tenants) over one-offs.
    remembered: quick_cache::sync::Cache<Box<str>, Arc<T>, TextWeight>,
}

impl<T> Default for Decoded<T> {
    fn default() -> Self {
        Self {
            remembered: quick_cache::sync::Cache::with_weighter(4096, BUDGET_BYTES, TextWeight),
        }
    }
}

impl<T: DeserializeOwned + Clone> Decoded<T> {
    /// `text` decoded, as `from_json` decodes it, parsing only text not seen lately.
    pub(super) fn decode(&self, text: &str) -> StoreResult<T> {
        if let Some(known) = self.remembered.get(text) {
            return Ok(T::clone(&known));
        }
        let value: T = from_json(text)?;
        if text.len() <= LONGEST_REMEMBERED {
            self.remembered.insert(text.into(), Arc::new(value.clone()));
        }
        Ok(value)
    }

    /// An optional text decoded (none stays none).
    pub(super) fn decode_some(&self, text: Option<&str>) -> StoreResult<Option<T>> {
        text.map(|text| self.decode(text)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Level, Tool, UserId};

    fn permissions(level: Level) -> String {
        let mut held = Permissions::default();
        held.company.insert(Tool::new("rfis"), level);
        serde_json::to_string(&held).unwrap()
    }

    #[test]
    fn a_record_decodes_as_its_text_says_every_time_it_is_read() {
        let decoded = Decoded::<Permissions>::default();
        let read = permissions(Level::ReadOnly);
        let write = permissions(Level::Standard);
        for text in [&read, &write, &read, &read, &write] {
            let expected: Permissions = serde_json::from_str(text).unwrap();
            assert_eq!(decoded.decode(text).unwrap(), expected);
        }
    }

    #[test]
    fn a_changed_record_is_decoded_anew_even_when_only_one_character_differs() {
        let decoded = Decoded::<User>::default();
        let user =
            |name: &str| serde_json::to_string(&User::person(UserId::new("john"), name)).unwrap();
        let (before, after) = (user("John A"), user("John B"));
        assert_eq!(before.len(), after.len());
        assert_eq!(decoded.decode(&before).unwrap().name, "John A");
        assert_eq!(decoded.decode(&after).unwrap().name, "John B");
        assert_eq!(decoded.decode(&before).unwrap().name, "John A");
    }

    #[test]
    fn text_that_does_not_decode_is_refused_every_time_and_never_remembered() {
        let decoded = Decoded::<Permissions>::default();
        for _ in 0..2 {
            assert!(decoded.decode("{\"company\":").is_err());
        }
        assert_eq!(decoded.remembered.len(), 0);
    }

    #[test]
    fn what_is_remembered_stays_within_its_budget() {
        let decoded = Decoded::<Permissions>::default();
        for n in 0..20_000 {
            let mut held = Permissions::default();
            held.company
                .insert(Tool::new(format!("tool-{n:0>200}")), Level::ReadOnly);
            decoded
                .decode(&serde_json::to_string(&held).unwrap())
                .unwrap();
        }
        assert!(decoded.remembered.weight() <= BUDGET_BYTES);
        assert!(decoded.remembered.len() < 20_000);
    }
}
