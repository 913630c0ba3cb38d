//! Where the memory store keeps its packed records: a hash table of records that carry their
//! own keys, and an ordered index of id pairs.

use super::packed::{Corrupt, Reader, put_bytes};
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use std::collections::BTreeSet;
use std::hash::{BuildHasher, RandomState};
use std::ops::Bound;

/// Packed records keyed by their first `N` fields, each one length-prefixed text (an id).
///
/// A record is one allocation holding its key and its value, and the table holds a pointer to
/// it: a `HashMap<Id, Record>` would hold every id a second time, in an allocation of its own.
/// A lookup hashes the key's parts and compares them with the parts at the front of each
/// candidate, so nothing is built to look a record up either.
pub(super) struct Table<const N: usize> {
    hasher: RandomState,
    records: HashTable<Box<[u8]>>,
}

impl<const N: usize> Default for Table<N> {
    fn default() -> Self {
        Self {
            hasher: RandomState::new(),
            records: HashTable::new(),
        }
    }
}

/// The first `N` parts of `record`: its key.
fn key_of<const N: usize>(record: &[u8]) -> Result<[&[u8]; N], Corrupt> {
    let mut input = Reader::new(record);
    let mut key: [&[u8]; N] = [&[]; N];
    for part in &mut key {
        *part = input.bytes()?;
    }
    Ok(key)
}

fn hash_key<const N: usize>(hasher: &RandomState, key: [&[u8]; N]) -> u64 {
    hasher.hash_one(key)
}

fn hash_record<const N: usize>(hasher: &RandomState, record: &[u8]) -> u64 {
    match key_of::<N>(record) {
        Ok(key) => hash_key(hasher, key),
        // Every record is packed with its key in front, so this is never taken; hashing the
        // whole record keeps the table consistent if it were, instead of panicking.
        Err(Corrupt) => hasher.hash_one(record),
    }
}

fn has_key<const N: usize>(record: &[u8], key: [&[u8]; N]) -> bool {
    key_of::<N>(record) == Ok(key)
}

impl<const N: usize> Table<N> {
    /// The record stored under `key`.
    pub(super) fn get(&self, key: [&str; N]) -> Option<&[u8]> {
        let key = key.map(str::as_bytes);
        self.records
            .find(hash_key(&self.hasher, key), |record| has_key(record, key))
            .map(|record| &**record)
    }

    /// The slot of the record stored under `key`, to replace it in place.
    pub(super) fn get_mut(&mut self, key: [&str; N]) -> Option<&mut Box<[u8]>> {
        let key = key.map(str::as_bytes);
        self.records
            .find_mut(hash_key(&self.hasher, key), |record| has_key(record, key))
    }

    /// Whether a record is stored under `key`.
    pub(super) fn contains(&self, key: [&str; N]) -> bool {
        self.get(key).is_some()
    }

    /// Stores `record` under the key it starts with, replacing the record stored there.
    pub(super) fn insert(&mut self, record: Box<[u8]>) {
        let hasher = &self.hasher;
        let hash = hash_record::<N>(hasher, &record);
        let entry = match key_of::<N>(&record) {
            Ok(key) => self.records.entry(
                hash,
                |stored| has_key(stored, key),
                |stored| hash_record::<N>(hasher, stored),
            ),
            Err(Corrupt) => self.records.entry(
                hash,
                |stored| **stored == *record,
                |stored| hash_record::<N>(hasher, stored),
            ),
        };
        match entry {
            Entry::Occupied(mut stored) => *stored.get_mut() = record,
            Entry::Vacant(slot) => {
                slot.insert(record);
            }
        }
    }

    /// Removes the record stored under `key`; returns whether there was one.
    pub(super) fn remove(&mut self, key: [&str; N]) -> bool {
        let key = key.map(str::as_bytes);
        match self
            .records
            .find_entry(hash_key(&self.hasher, key), |record| has_key(record, key))
        {
            Ok(stored) => {
                stored.remove();
                true
            }
            Err(_) => false,
        }
    }

    /// Every record, in no particular order.
    pub(super) fn records(&self) -> impl Iterator<Item = &[u8]> {
        self.records.iter().map(|record| &**record)
    }
}

/// Pairs of ids, ordered so that every pair with one first id can be listed: which users a
/// company has, which companies a user is in.
///
/// One packed `(first, second)` per pair, in a B-tree: a hash table of lists would rewrite a
/// whole list for each pair added (quadratic for a large company), and a map of sets per id
/// would spend a B-tree node of about 200 bytes on a set of one.
#[derive(Default)]
pub(super) struct PairIndex {
    pairs: BTreeSet<Box<[u8]>>,
}

fn prefix(first: &str) -> Vec<u8> {
    let mut packed = Vec::with_capacity(first.len() + 10);
    put_bytes(&mut packed, first.as_bytes());
    packed
}

impl PairIndex {
    /// Adds the pair, if it is not there already.
    pub(super) fn insert(&mut self, first: &str, second: &str) {
        let mut pair = prefix(first);
        put_bytes(&mut pair, second.as_bytes());
        if !self.pairs.contains(pair.as_slice()) {
            self.pairs.insert(pair.into_boxed_slice());
        }
    }

    /// Every `second` paired with `first`, in no order that means anything: pairs are ordered
    /// by their packed bytes, which put a shorter id first.
    pub(super) fn seconds(&self, first: &str) -> Result<Vec<&str>, Corrupt> {
        let prefix = prefix(first);
        // A first id is packed with its length, so every pair that starts with these bytes has
        // exactly this first id, and they all sort together from the prefix on.
        self.pairs
            .range::<[u8], _>((Bound::Included(prefix.as_slice()), Bound::Unbounded))
            .take_while(|pair| pair.starts_with(&prefix))
            .map(|pair| {
                let mut input = Reader::new(&pair[prefix.len()..]);
                let second = input.str()?;
                input.finish()?;
                Ok(second)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientId, CompanyId, Installation};
    use crate::store::memory::packed::{pack, unpack};

    fn installation(app: &str, company: &str, revision: u64) -> Installation {
        Installation {
            app: ClientId::new(app),
            company: CompanyId::new(company),
            revision,
            ..crate::store::memory::packed::tests::requested()
        }
    }

    fn revision_at(table: &Table<2>, key: [&str; 2]) -> Option<u64> {
        table
            .get(key)
            .map(|record| unpack::<Installation>(record).expect("decodes").revision)
    }

    #[test]
    fn keys_whose_parts_join_to_the_same_text_are_different_keys() {
        let mut table = Table::<2>::default();
        table.insert(pack(&installation("ab", "c", 1)));
        table.insert(pack(&installation("a", "bc", 2)));
        assert_eq!(revision_at(&table, ["ab", "c"]), Some(1));
        assert_eq!(revision_at(&table, ["a", "bc"]), Some(2));
        assert_eq!(revision_at(&table, ["abc", ""]), None);
        assert_eq!(table.records().count(), 2);
    }

    #[test]
    fn a_record_saved_again_under_its_key_replaces_the_one_stored() {
        let mut table = Table::<2>::default();
        for revision in 0..100 {
            table.insert(pack(&installation("app", "acme", revision)));
        }
        assert_eq!(revision_at(&table, ["app", "acme"]), Some(99));
        assert_eq!(table.records().count(), 1);
        assert!(table.remove(["app", "acme"]));
        assert!(!table.remove(["app", "acme"]));
        assert!(!table.contains(["app", "acme"]));
    }

    #[test]
    fn records_stay_found_as_the_table_grows() {
        let mut table = Table::<2>::default();
        for index in 0..5_000 {
            table.insert(pack(&installation(&format!("app-{index}"), "acme", index)));
        }
        for index in 0..5_000 {
            let app = format!("app-{index}");
            assert_eq!(revision_at(&table, [&app, "acme"]), Some(index));
        }
    }

    #[test]
    fn a_pair_index_lists_the_seconds_of_one_first_id_only() {
        let mut index = PairIndex::default();
        for (first, second) in [
            ("a", "x"),
            ("ab", "y"),
            ("a", "bz"),
            ("", "w"),
            ("a", "x"),
            ("b", "x"),
        ] {
            index.insert(first, second);
        }
        let mut seconds = index.seconds("a").expect("decodes");
        seconds.sort_unstable();
        assert_eq!(seconds, ["bz", "x"]);
        assert_eq!(index.seconds("ab").expect("decodes"), ["y"]);
        assert_eq!(index.seconds("").expect("decodes"), ["w"]);
        assert!(index.seconds("c").expect("decodes").is_empty());
    }
}
