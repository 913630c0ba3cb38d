//! The packed form of the memory store's directory and app records: each record is one
//! allocation of bytes, decoded on every read.
//!
//! A tenant held as model values cost about 6.8 KB and 57 allocations: every id its own
//! `String`, every `ToolLevels` a B-tree node of about 300 bytes for one to three entries.
//! Packed, a record is its fields back to back, without names or padding.
//!
//! Why not serde with a ready format: the model's serde form is its JSON (the SQL stores keep
//! it), with `skip_serializing_if` and an internally tagged `UserKind`, which formats that do
//! not describe themselves (postcard, bincode) cannot read back; formats that do (CBOR,
//! MessagePack) would store every field's name in every record. Mirror structs for serde would
//! be as much code as this, and a copy of every record on each write besides.
//!
//! The format is positional: lengths, counts and integers as LEB128 varints, text as a length
//! and UTF-8 bytes, an `Option` or enum as a one-byte tag, a digest as its 32 bytes. A record
//! starts with its key (see [`super::table`]). It never leaves the process, so it has no
//! version: a build reads only what the same build wrote.
//!
//! Every [`Pack`] of a struct destructures it whole, so a field added to the model does not
//! compile until it is packed too; the round-trip tests below check that [`Unpack`] reads
//! each field back.

use crate::model::{
    App, AppFlows, AppProfile, ApplicationType, ClientId, ClientSecurity, ClientType, Company,
    CompanyId, CompanySettings, ConsentInstall, Installation, InstallationStatus, Level, Manifest,
    Membership, Permissions, PreviousSecret, Project, ProjectId, SecretDigest, ServiceAccountGrant,
    Tool, ToolLevels, User, UserId, UserKind, UserStatus,
};
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// A record that does not decode: only a bug in this module can make one, since the store
/// decodes nothing it did not encode itself. Reported as a backend failure, never a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a memory store record did not decode")]
pub(super) struct Corrupt;

impl From<Corrupt> for StoreError {
    fn from(corrupt: Corrupt) -> Self {
        StoreError::Backend(Box::new(corrupt))
    }
}

/// Writes a value in its packed form.
pub(super) trait Pack {
    /// Appends the value to `out`.
    fn pack(&self, out: &mut Vec<u8>);
}

/// Reads a value back from its packed form.
pub(super) trait Unpack: Sized {
    /// Reads one value from the front of `input`.
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt>;
}

/// The packed record of `value`, sized exactly: the store keeps it for as long as the record
/// lives, so spare capacity would be kept with it.
pub(super) fn pack<T: Pack>(value: &T) -> Box<[u8]> {
    let mut out = Vec::with_capacity(128);
    value.pack(&mut out);
    out.into_boxed_slice()
}

/// The value a whole record holds; bytes left over mean the record is not a `T`.
pub(super) fn unpack<T: Unpack>(record: &[u8]) -> Result<T, Corrupt> {
    let mut input = Reader::new(record);
    let value = T::unpack(&mut input)?;
    input.finish()?;
    Ok(value)
}

/// What is left to read of a record.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads `record` from its start.
    pub(super) fn new(record: &'a [u8]) -> Self {
        Self { rest: record }
    }

    /// Fails unless everything was read.
    pub(super) fn finish(self) -> Result<(), Corrupt> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Corrupt)
        }
    }

    fn byte(&mut self) -> Result<u8, Corrupt> {
        let (&first, rest) = self.rest.split_first().ok_or(Corrupt)?;
        self.rest = rest;
        Ok(first)
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], Corrupt> {
        if count > self.rest.len() {
            return Err(Corrupt);
        }
        let (taken, rest) = self.rest.split_at(count);
        self.rest = rest;
        Ok(taken)
    }

    fn varint(&mut self) -> Result<u64, Corrupt> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Corrupt)
    }

    fn length(&mut self) -> Result<usize, Corrupt> {
        usize::try_from(self.varint()?).map_err(|_| Corrupt)
    }

    /// A count of items that follow, each at least one byte long: a count larger than what is
    /// left is corrupt, so it never sizes an allocation beyond the record's own length.
    fn count(&mut self) -> Result<usize, Corrupt> {
        let count = self.length()?;
        if count > self.rest.len() {
            return Err(Corrupt);
        }
        Ok(count)
    }

    /// Length-prefixed bytes, as [`put_bytes`] writes them: how keys are read.
    pub(super) fn bytes(&mut self) -> Result<&'a [u8], Corrupt> {
        let length = self.length()?;
        self.take(length)
    }

    /// Length-prefixed UTF-8 text.
    pub(super) fn str(&mut self) -> Result<&'a str, Corrupt> {
        std::str::from_utf8(self.bytes()?).map_err(|_| Corrupt)
    }

    fn tag(&mut self) -> Result<u8, Corrupt> {
        self.byte()
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        // Truncation is the point: the low seven bits, with the continuation bit set.
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends `bytes` with their length in front: keys are written this way, so that a key of
/// several parts can be read back part by part.
pub(super) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_len(out: &mut Vec<u8>, count: usize) {
    put_varint(out, count as u64);
}

impl Pack for str {
    fn pack(&self, out: &mut Vec<u8>) {
        put_bytes(out, self.as_bytes());
    }
}

impl Pack for String {
    fn pack(&self, out: &mut Vec<u8>) {
        self.as_str().pack(out);
    }
}

impl Unpack for String {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        input.str().map(str::to_owned)
    }
}

/// Ids and tools are their text.
macro_rules! packed_as_text {
    ($($name:ty),*) => {$(
        impl Pack for $name {
            fn pack(&self, out: &mut Vec<u8>) {
                self.as_str().pack(out);
            }
        }

        impl Unpack for $name {
            fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
                input.str().map(<$name>::new)
            }
        }
    )*};
}

packed_as_text!(ClientId, CompanyId, UserId, ProjectId, Tool);

impl Pack for u64 {
    fn pack(&self, out: &mut Vec<u8>) {
        put_varint(out, *self);
    }
}

impl Unpack for u64 {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        input.varint()
    }
}

impl Pack for u32 {
    fn pack(&self, out: &mut Vec<u8>) {
        put_varint(out, u64::from(*self));
    }
}

impl Unpack for u32 {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        u32::try_from(input.varint()?).map_err(|_| Corrupt)
    }
}

impl Pack for DateTime<Utc> {
    fn pack(&self, out: &mut Vec<u8>) {
        // Zigzag, so that instants before 1970 stay short too.
        let seconds = self.timestamp();
        put_varint(out, ((seconds << 1) ^ (seconds >> 63)) as u64);
        // Above a billion only inside a leap second, which `from_timestamp` reads back.
        put_varint(out, u64::from(self.timestamp_subsec_nanos()));
    }
}

impl Unpack for DateTime<Utc> {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        let zigzag = input.varint()?;
        let seconds = (zigzag >> 1) as i64 ^ -((zigzag & 1) as i64);
        let nanos = u32::unpack(input)?;
        DateTime::from_timestamp(seconds, nanos).ok_or(Corrupt)
    }
}

impl Pack for SecretDigest {
    fn pack(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Unpack for SecretDigest {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        let bytes = input.take(32)?;
        <[u8; 32]>::try_from(bytes)
            .map(SecretDigest)
            .map_err(|_| Corrupt)
    }
}

impl<T: Pack> Pack for Option<T> {
    fn pack(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                value.pack(out);
            }
        }
    }
}

impl<T: Unpack> Unpack for Option<T> {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        match input.tag()? {
            0 => Ok(None),
            1 => T::unpack(input).map(Some),
            _ => Err(Corrupt),
        }
    }
}

impl<T: Pack> Pack for Vec<T> {
    fn pack(&self, out: &mut Vec<u8>) {
        put_len(out, self.len());
        for item in self {
            item.pack(out);
        }
    }
}

impl<T: Unpack> Unpack for Vec<T> {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        let count = input.count()?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(T::unpack(input)?);
        }
        Ok(items)
    }
}

impl<K: Pack, V: Pack> Pack for BTreeMap<K, V> {
    fn pack(&self, out: &mut Vec<u8>) {
        put_len(out, self.len());
        for (key, value) in self {
            key.pack(out);
            value.pack(out);
        }
    }
}

impl<K: Unpack + Ord, V: Unpack> Unpack for BTreeMap<K, V> {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        let count = input.count()?;
        let mut map = BTreeMap::new();
        for _ in 0..count {
            let key = K::unpack(input)?;
            map.insert(key, V::unpack(input)?);
        }
        Ok(map)
    }
}

impl<T: Pack> Pack for BTreeSet<T> {
    fn pack(&self, out: &mut Vec<u8>) {
        put_len(out, self.len());
        for item in self {
            item.pack(out);
        }
    }
}

impl<T: Unpack + Ord> Unpack for BTreeSet<T> {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        let count = input.count()?;
        let mut set = BTreeSet::new();
        for _ in 0..count {
            set.insert(T::unpack(input)?);
        }
        Ok(set)
    }
}

/// Fieldless enums are one byte: the variant's place in `$variants`.
macro_rules! packed_as_tag {
    ($name:ident { $($variant:ident = $tag:literal),* $(,)? }) => {
        impl Pack for $name {
            fn pack(&self, out: &mut Vec<u8>) {
                out.push(match self {
                    $($name::$variant => $tag,)*
                });
            }
        }

        impl Unpack for $name {
            fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
                match input.tag()? {
                    $($tag => Ok($name::$variant),)*
                    _ => Err(Corrupt),
                }
            }
        }
    };
}

packed_as_tag!(Level {
    None = 0,
    ReadOnly = 1,
    Standard = 2,
    Admin = 3,
});
packed_as_tag!(ClientType {
    Confidential = 0,
    Public = 1,
});
packed_as_tag!(ApplicationType { Web = 0, Native = 1 });
packed_as_tag!(AppFlows {
    UserDelegated = 0,
    ServiceAccount = 1,
    Both = 2,
});
packed_as_tag!(InstallationStatus {
    Requested = 0,
    Active = 1,
    Denied = 2,
    Uninstalled = 3,
});
packed_as_tag!(UserStatus {
    Active = 0,
    Deactivated = 1,
});
packed_as_tag!(ConsentInstall {
    AdminOnly = 0,
    ForUserAccess = 1,
});

impl Pack for UserKind {
    fn pack(&self, out: &mut Vec<u8>) {
        match self {
            UserKind::Person => out.push(0),
            UserKind::ServiceAccount { app } => {
                out.push(1);
                app.pack(out);
            }
        }
    }
}

impl Unpack for UserKind {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        match input.tag()? {
            0 => Ok(UserKind::Person),
            1 => Ok(UserKind::ServiceAccount {
                app: ClientId::unpack(input)?,
            }),
            _ => Err(Corrupt),
        }
    }
}

impl Pack for Permissions {
    fn pack(&self, out: &mut Vec<u8>) {
        let Permissions { company, projects } = self;
        company.pack(out);
        projects.pack(out);
    }
}

impl Unpack for Permissions {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        Ok(Permissions {
            company: ToolLevels::unpack(input)?,
            projects: BTreeMap::unpack(input)?,
        })
    }
}

impl Pack for Manifest {
    fn pack(&self, out: &mut Vec<u8>) {
        let Manifest {
            version,
            company,
            project,
        } = self;
        version.pack(out);
        company.pack(out);
        project.pack(out);
    }
}

impl Unpack for Manifest {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        Ok(Manifest {
            version: u32::unpack(input)?,
            company: ToolLevels::unpack(input)?,
            project: ToolLevels::unpack(input)?,
        })
    }
}

impl Pack for AppProfile {
    fn pack(&self, out: &mut Vec<u8>) {
        let AppProfile {
            publisher,
            description,
            homepage,
            logo_url,
        } = self;
        publisher.pack(out);
        description.pack(out);
        homepage.pack(out);
        logo_url.pack(out);
    }
}

impl Unpack for AppProfile {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        Ok(AppProfile {
            publisher: Option::unpack(input)?,
            description: Option::unpack(input)?,
            homepage: Option::unpack(input)?,
            logo_url: Option::unpack(input)?,
        })
    }
}

impl Pack for PreviousSecret {
    fn pack(&self, out: &mut Vec<u8>) {
        let PreviousSecret {
            digest,
            valid_until,
        } = self;
        digest.pack(out);
        valid_until.pack(out);
    }
}

impl Unpack for PreviousSecret {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        Ok(PreviousSecret {
            digest: SecretDigest::unpack(input)?,
            valid_until: DateTime::unpack(input)?,
        })
    }
}

/// An app's record: its client id (the key), then its ceiling, so that a decision for a
/// person's token reads the ceiling without decoding the rest ([`app_ceiling`]).
impl Pack for App {
    fn pack(&self, out: &mut Vec<u8>) {
        let App {
            client_id,
            name,
            client_type,
            application_type,
            secret_digest,
            previous_secret,
            redirect_uris,
            flows,
            manifests,
            ceiling,
            profile,
            owner,
            security,
            revision,
        } = self;
        client_id.pack(out);
        ceiling.pack(out);
        name.pack(out);
        client_type.pack(out);
        application_type.pack(out);
        secret_digest.pack(out);
        previous_secret.pack(out);
        redirect_uris.pack(out);
        flows.pack(out);
        manifests.pack(out);
        profile.pack(out);
        owner.pack(out);
        // Rare and shaped like JSON (keys are JWKs): kept as JSON, and absent when default.
        // Serializing plain data and JSON values cannot fail.
        let security =
            (!security.is_default()).then(|| serde_json::to_string(security).unwrap_or_default());
        security.pack(out);
        revision.pack(out);
    }
}

impl Unpack for App {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        let client_id = ClientId::unpack(input)?;
        let ceiling = Option::unpack(input)?;
        Ok(App {
            client_id,
            ceiling,
            name: String::unpack(input)?,
            client_type: ClientType::unpack(input)?,
            application_type: ApplicationType::unpack(input)?,
            secret_digest: Option::unpack(input)?,
            previous_secret: Option::unpack(input)?,
            redirect_uris: Vec::unpack(input)?,
            flows: AppFlows::unpack(input)?,
            manifests: Vec::unpack(input)?,
            profile: AppProfile::unpack(input)?,
            owner: Option::unpack(input)?,
            security: match Option::<String>::unpack(input)? {
                Some(json) => serde_json::from_str(&json).map_err(|_| Corrupt)?,
                None => ClientSecurity::default(),
            },
            revision: u64::unpack(input)?,
        })
    }
}

/// The ceiling of a packed app, read without the rest of the record.
pub(super) fn app_ceiling(record: &[u8]) -> Result<Option<ToolLevels>, Corrupt> {
    let mut input = Reader::new(record);
    input.bytes()?;
    Option::unpack(&mut input)
}

impl Pack for Project {
    fn pack(&self, out: &mut Vec<u8>) {
        let Project { id, name } = self;
        id.pack(out);
        name.pack(out);
    }
}

impl Unpack for Project {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        Ok(Project {
            id: ProjectId::unpack(input)?,
            name: String::unpack(input)?,
        })
    }
}

/// A company's record: its id (the key) first.
impl Pack for Company {
    fn pack(&self, out: &mut Vec<u8>) {
        let Company {
            id,
            name,
            settings: CompanySettings { consent_install },
            projects,
        } = self;
        id.pack(out);
        name.pack(out);
        consent_install.pack(out);
        projects.pack(out);
    }
}

impl Unpack for Company {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        Ok(Company {
            id: CompanyId::unpack(input)?,
            name: String::unpack(input)?,
            settings: CompanySettings {
                consent_install: ConsentInstall::unpack(input)?,
            },
            projects: Vec::unpack(input)?,
        })
    }
}

/// A user's record: its id (the key) first.
impl Pack for User {
    fn pack(&self, out: &mut Vec<u8>) {
        let User {
            id,
            name,
            kind,
            status,
        } = self;
        id.pack(out);
        name.pack(out);
        kind.pack(out);
        status.pack(out);
    }
}

impl Unpack for User {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        Ok(User {
            id: UserId::unpack(input)?,
            name: String::unpack(input)?,
            kind: UserKind::unpack(input)?,
            status: UserStatus::unpack(input)?,
        })
    }
}

/// A membership's record: company and user (the key), then what the user holds there.
impl Pack for Membership {
    fn pack(&self, out: &mut Vec<u8>) {
        let Membership {
            company,
            user,
            permissions,
        } = self;
        company.pack(out);
        user.pack(out);
        permissions.pack(out);
    }
}

impl Unpack for Membership {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        Ok(Membership {
            company: CompanyId::unpack(input)?,
            user: UserId::unpack(input)?,
            permissions: Permissions::unpack(input)?,
        })
    }
}

/// What a packed membership holds, read without allocating its key: a decision needs only
/// the permissions, and knows whose they are.
pub(super) fn membership_permissions(record: &[u8]) -> Result<Permissions, Corrupt> {
    let mut input = Reader::new(record);
    input.bytes()?;
    input.bytes()?;
    let permissions = Permissions::unpack(&mut input)?;
    input.finish()?;
    Ok(permissions)
}

impl Pack for ServiceAccountGrant {
    fn pack(&self, out: &mut Vec<u8>) {
        let ServiceAccountGrant {
            user,
            approved,
            permitted_projects,
        } = self;
        user.pack(out);
        approved.pack(out);
        permitted_projects.pack(out);
    }
}

impl Unpack for ServiceAccountGrant {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        Ok(ServiceAccountGrant {
            user: UserId::unpack(input)?,
            approved: Manifest::unpack(input)?,
            permitted_projects: BTreeSet::unpack(input)?,
        })
    }
}

/// An installation's record: app and company (the key) first.
impl Pack for Installation {
    fn pack(&self, out: &mut Vec<u8>) {
        let Installation {
            app,
            company,
            status,
            requested_by,
            requested_at,
            decided_by,
            decided_at,
            active_since,
            uninstalled_at,
            app_deleted_at,
            service_account,
            pending_manifest,
            revision,
        } = self;
        app.pack(out);
        company.pack(out);
        status.pack(out);
        requested_by.pack(out);
        requested_at.pack(out);
        decided_by.pack(out);
        decided_at.pack(out);
        active_since.pack(out);
        uninstalled_at.pack(out);
        app_deleted_at.pack(out);
        service_account.pack(out);
        pending_manifest.pack(out);
        revision.pack(out);
    }
}

impl Unpack for Installation {
    fn unpack(input: &mut Reader<'_>) -> Result<Self, Corrupt> {
        Ok(Installation {
            app: ClientId::unpack(input)?,
            company: CompanyId::unpack(input)?,
            status: InstallationStatus::unpack(input)?,
            requested_by: UserId::unpack(input)?,
            requested_at: DateTime::unpack(input)?,
            decided_by: Option::unpack(input)?,
            decided_at: Option::unpack(input)?,
            active_since: Option::unpack(input)?,
            uninstalled_at: Option::unpack(input)?,
            app_deleted_at: Option::unpack(input)?,
            service_account: Option::unpack(input)?,
            pending_manifest: Option::unpack(input)?,
            revision: u64::unpack(input)?,
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::model::Scope;
    use chrono::NaiveDate;

    fn at(seconds: i64, nanos: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, nanos).expect("a valid instant")
    }

    fn reads_back<T: Pack + Unpack + PartialEq + std::fmt::Debug>(value: &T) -> Box<[u8]> {
        let record = pack(value);
        assert_eq!(&unpack::<T>(&record).expect("decodes"), value);
        record
    }

    fn manifest(version: u32) -> Manifest {
        Manifest::new(version)
            .company_tool("budget", Level::ReadOnly)
            .project_tool("rfis", Level::Standard)
            .project_tool("submittals", Level::Admin)
    }

    fn app_with_everything() -> App {
        App {
            client_id: ClientId::new("app-1"),
            name: "FieldSync ✓".into(),
            client_type: ClientType::Confidential,
            application_type: ApplicationType::Native,
            secret_digest: Some(SecretDigest([7; 32])),
            previous_secret: Some(PreviousSecret {
                digest: SecretDigest([9; 32]),
                valid_until: at(1_700_000_000, 123_456_789),
            }),
            redirect_uris: vec!["http://127.0.0.1/cb".into(), "com.example:/cb".into()],
            flows: AppFlows::Both,
            manifests: vec![manifest(1), Manifest::new(2), manifest(3)],
            ceiling: Some(ToolLevels::from([
                (Tool::new("rfis"), Level::Standard),
                (Tool::new("budget"), Level::None),
            ])),
            profile: AppProfile {
                publisher: Some("FieldSync Inc.".into()),
                description: Some("Syncs RFIs.".into()),
                homepage: Some("https://fieldsync.example.com".into()),
                logo_url: Some("https://fieldsync.example.com/logo.png".into()),
            },
            owner: Some(CompanyId::new("acme")),
            revision: u64::MAX,
            security: Default::default(),
        }
    }

    fn app_with_nothing() -> App {
        App {
            client_id: ClientId::new(""),
            name: String::new(),
            client_type: ClientType::Public,
            application_type: ApplicationType::Web,
            secret_digest: None,
            previous_secret: None,
            redirect_uris: Vec::new(),
            flows: AppFlows::UserDelegated,
            manifests: Vec::new(),
            ceiling: None,
            profile: AppProfile::default(),
            owner: None,
            revision: 0,
            security: Default::default(),
        }
    }

    #[test]
    fn an_app_reads_back_with_every_optional_field_set_and_unset() {
        reads_back(&app_with_everything());
        reads_back(&app_with_nothing());
        // An empty ceiling (the app may do nothing through a user) is not the absence of one.
        reads_back(&App {
            ceiling: Some(ToolLevels::new()),
            flows: AppFlows::ServiceAccount,
            ..app_with_nothing()
        });
    }

    #[test]
    fn an_apps_ceiling_reads_alone_as_the_whole_record_holds_it() {
        for app in [app_with_everything(), app_with_nothing()] {
            assert_eq!(app_ceiling(&pack(&app)), Ok(app.ceiling.clone()));
        }
    }

    #[test]
    fn a_person_and_a_service_account_read_back_active_or_deactivated() {
        let person = User::person("jane", "Jane Doe");
        let account = User {
            id: UserId::new("sa-1"),
            name: "FieldSync (service account)".into(),
            kind: UserKind::ServiceAccount {
                app: ClientId::new("app-1"),
            },
            status: UserStatus::Active,
        };
        for user in [person, account] {
            reads_back(&user);
            reads_back(&User {
                status: UserStatus::Deactivated,
                ..user
            });
        }
    }

    #[test]
    fn a_company_reads_back_with_its_projects_and_either_consent_setting() {
        let bare = Company::new("acme", "Acme");
        reads_back(&bare);
        let full = Company {
            settings: CompanySettings {
                consent_install: ConsentInstall::ForUserAccess,
            },
            ..bare
        }
        .with_project("tower", "Riverside Tower")
        .with_project("bridge", "Harbour Bridge");
        reads_back(&full);
    }

    #[test]
    fn a_membership_reads_back_holding_nothing_or_tools_in_both_scopes() {
        let nothing = Membership {
            company: CompanyId::new("acme"),
            user: UserId::new("jane"),
            permissions: Permissions::none(),
        };
        let permissions = Permissions::none()
            .with(Scope::Company, "directory", Level::Admin)
            .with(Scope::Project(ProjectId::new("tower")), "rfis", Level::None)
            .with(
                Scope::Project(ProjectId::new("bridge")),
                "rfis",
                Level::ReadOnly,
            );
        let holding = Membership {
            permissions,
            ..nothing.clone()
        };
        for membership in [nothing, holding] {
            let record = reads_back(&membership);
            assert_eq!(
                membership_permissions(&record),
                Ok(membership.permissions),
                "the permissions read alone are the ones the whole record holds"
            );
        }
    }

    /// A requested installation of `app-1` in `acme`, pending manifest 1: the test fixture
    /// of the memory store's modules.
    pub(in crate::store::memory) fn requested() -> Installation {
        Installation {
            app: ClientId::new("app-1"),
            company: CompanyId::new("acme"),
            status: InstallationStatus::Requested,
            requested_by: UserId::new("jane"),
            requested_at: at(1_700_000_000, 0),
            decided_by: None,
            decided_at: None,
            active_since: None,
            uninstalled_at: None,
            app_deleted_at: None,
            service_account: None,
            pending_manifest: Some(1),
            revision: 0,
        }
    }

    #[test]
    fn an_installation_reads_back_pending_or_decided_with_every_optional_field() {
        reads_back(&requested());
        reads_back(&Installation {
            status: InstallationStatus::Denied,
            pending_manifest: None,
            ..requested()
        });
        let everything = Installation {
            status: InstallationStatus::Uninstalled,
            decided_by: Some(UserId::new("admin")),
            decided_at: Some(at(1_700_000_100, 1)),
            active_since: Some(at(1_700_000_050, 999_999_999)),
            uninstalled_at: Some(at(1_700_000_200, 5)),
            app_deleted_at: Some(at(1_700_000_300, 6)),
            service_account: Some(ServiceAccountGrant {
                user: UserId::new("sa-1"),
                approved: manifest(2),
                permitted_projects: BTreeSet::from([
                    ProjectId::new("tower"),
                    ProjectId::new("bridge"),
                ]),
            }),
            pending_manifest: Some(u32::MAX),
            revision: 42,
            ..requested()
        };
        reads_back(&everything);
        // Approved on no project, with nothing waiting: the account holds company tools only.
        reads_back(&Installation {
            status: InstallationStatus::Active,
            service_account: Some(ServiceAccountGrant {
                user: UserId::new("sa-1"),
                approved: Manifest::new(1),
                permitted_projects: BTreeSet::new(),
            }),
            pending_manifest: None,
            ..everything
        });
    }

    #[test]
    fn instants_read_back_to_the_nanosecond_before_1970_far_ahead_and_in_a_leap_second() {
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|day| day.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
            .expect("a leap second")
            .and_utc();
        for instant in [
            at(0, 0),
            at(-1, 999_999_999),
            at(-62_135_596_800, 0),
            at(253_402_300_799, 999_999_999),
            leap,
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
        ] {
            reads_back(&instant);
        }
    }

    #[test]
    fn every_cut_short_record_and_one_with_a_byte_too_many_is_corrupt() {
        let record = pack(&app_with_everything());
        for length in 0..record.len() {
            assert_eq!(
                unpack::<App>(&record[..length]),
                Err(Corrupt),
                "cut at {length}"
            );
        }
        let mut longer = record.to_vec();
        longer.push(0);
        assert_eq!(unpack::<App>(&longer), Err(Corrupt));
    }

    #[test]
    fn unknown_tags_text_that_is_not_utf8_and_oversized_counts_are_corrupt() {
        // Level tag 4 does not exist.
        assert_eq!(unpack::<Level>(&[4]), Err(Corrupt));
        // An `Option` is 0 or 1.
        assert_eq!(unpack::<Option<Level>>(&[2, 0]), Err(Corrupt));
        // Two bytes of text that are not UTF-8.
        assert_eq!(unpack::<UserId>(&[2, 0xff, 0xfe]), Err(Corrupt));
        // A million projects promised by a three-byte record.
        assert_eq!(
            unpack::<BTreeSet<ProjectId>>(&[0xc0, 0x84, 0x3d]),
            Err(Corrupt)
        );
        // A varint longer than 64 bits.
        assert_eq!(unpack::<u64>(&[0xff; 11]), Err(Corrupt));
    }
}
