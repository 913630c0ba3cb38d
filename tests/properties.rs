//! Invariants that hold for every input: access never exceeds what the user holds, the app's
//! ceiling or the approved manifest; nothing is allowed where the app is not installed; and a
//! token that was not signed as issued by a trusted key never validates.

use appgrant::access::DirectoryView;
use appgrant::model::*;
use appgrant::token::{
    AccessClaims, Algorithm, Expectations, KeySet, SigningKey, SubjectKind, issue, validate,
};
use appgrant::{Decision, DenyReason, decide};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use rand::SeedableRng;
use rand::rngs::StdRng;

const TOOLS: [&str; 3] = ["rfis", "budget", "directory"];
const PROJECTS: [&str; 3] = ["tower", "depot", "annex"];
const NOW: i64 = 1_800_000_000;
const ISSUER: &str = "https://auth.example.com";
const ACCOUNT: &str = "sa-fieldsync";

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------------------------

fn level() -> impl Strategy<Value = Level> {
    select(Level::ALL.to_vec())
}

fn tool() -> impl Strategy<Value = Tool> {
    select(TOOLS.to_vec()).prop_map(Tool::new)
}

fn project() -> impl Strategy<Value = ProjectId> {
    select(PROJECTS.to_vec()).prop_map(ProjectId::new)
}

fn tool_levels() -> impl Strategy<Value = ToolLevels> {
    prop::collection::btree_map(tool(), level(), 0..=TOOLS.len())
}

fn permissions() -> impl Strategy<Value = Permissions> {
    (
        tool_levels(),
        prop::collection::btree_map(project(), tool_levels(), 0..=PROJECTS.len()),
    )
        .prop_map(|(company, projects)| Permissions { company, projects })
}

fn manifest() -> impl Strategy<Value = Manifest> {
    (tool_levels(), tool_levels()).prop_map(|(company, project)| Manifest {
        version: 1,
        company,
        project,
    })
}

fn requirement() -> impl Strategy<Value = Requirement> {
    (prop::option::of(project()), tool(), level()).prop_map(|(project, tool, level)| Requirement {
        company: CompanyId::new("acme"),
        project,
        tool,
        level,
    })
}

fn status() -> impl Strategy<Value = InstallationStatus> {
    select(vec![
        InstallationStatus::Requested,
        InstallationStatus::Active,
        InstallationStatus::Denied,
        InstallationStatus::Uninstalled,
    ])
}

// ---------------------------------------------------------------------------------------------
// Building claims and views.
// ---------------------------------------------------------------------------------------------

fn claims(kind: SubjectKind, bound: bool) -> AccessClaims {
    let sub = match (kind, bound) {
        (SubjectKind::User, _) => "john",
        (SubjectKind::ServiceAccount, true) => ACCOUNT,
        (SubjectKind::ServiceAccount, false) => "fieldsync",
    };
    AccessClaims {
        iss: ISSUER.into(),
        sub: sub.into(),
        aud: ISSUER.into(),
        exp: NOW + 3600,
        iat: NOW - 60,
        granted_at_ms: (NOW - 60) * 1000,
        nbf: None,
        jti: TokenId::new("jti"),
        client_id: ClientId::new("fieldsync"),
        grant_kind: kind,
        company_id: bound.then(|| CompanyId::new("acme")),
        grant_id: GrantId::new("grant"),
        scope: None,
        cnf: Default::default(),
    }
}

fn installation(
    app: &str,
    company: &str,
    status: InstallationStatus,
    account: Option<ServiceAccountGrant>,
) -> Installation {
    let long_ago = DateTime::from_timestamp(NOW - 86_400, 0).unwrap();
    Installation {
        app: ClientId::new(app),
        company: CompanyId::new(company),
        status,
        requested_by: UserId::new("jane"),
        requested_at: long_ago,
        decided_by: Some(UserId::new("jane")),
        decided_at: Some(long_ago),
        active_since: Some(long_ago),
        uninstalled_at: None,
        app_deleted_at: None,
        revision: 0,
        service_account: account,
        pending_manifest: None,
    }
}

fn user_view(held: Permissions, ceiling: Option<ToolLevels>) -> DirectoryView {
    DirectoryView {
        installation: Some(installation(
            "fieldsync",
            "acme",
            InstallationStatus::Active,
            None,
        )),
        user: Some(User::person("john", "John")),
        permissions: Some(held),
        ceiling,
        revoked: false,
    }
}

/// FieldSync's service account, as the directory holds it.
fn service_account_user() -> User {
    User {
        id: UserId::new(ACCOUNT),
        name: "FieldSync (service account)".into(),
        kind: UserKind::ServiceAccount {
            app: ClientId::new("fieldsync"),
        },
        status: UserStatus::Active,
    }
}

fn service_view(grant: ServiceAccountGrant, held: Permissions) -> DirectoryView {
    DirectoryView {
        installation: Some(installation(
            "fieldsync",
            "acme",
            InstallationStatus::Active,
            Some(grant),
        )),
        user: Some(service_account_user()),
        permissions: Some(held),
        ceiling: None,
        revoked: false,
    }
}

fn level_in(levels: &ToolLevels, tool: &Tool) -> Level {
    levels.get(tool).copied().unwrap_or(Level::None)
}

/// Admin on every tool, at company level and on every project.
fn everything() -> Permissions {
    let all: ToolLevels = TOOLS
        .iter()
        .map(|t| (Tool::new(*t), Level::Admin))
        .collect();
    Permissions {
        company: all.clone(),
        projects: PROJECTS
            .iter()
            .map(|p| (ProjectId::new(*p), all.clone()))
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// (a) User-delegated access.
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn user_delegated_access_never_exceeds_the_users_level_or_the_apps_ceiling(
        held in permissions(),
        ceiling in prop::option::of(tool_levels()),
        requirement in requirement(),
    ) {
        let users = held.level(requirement.project.as_ref(), &requirement.tool);
        let cap = ceiling.as_ref().map_or(Level::Admin, |c| level_in(c, &requirement.tool));
        let view = user_view(held, ceiling);
        match decide(&claims(SubjectKind::User, false), &view, &requirement, now()) {
            Decision::Allow { level } => {
                prop_assert!(level <= users, "{level:?} above the user's {users:?}");
                prop_assert!(level <= cap, "{level:?} above the ceiling {cap:?}");
                prop_assert!(level >= requirement.level);
            }
            Decision::Deny(DenyReason::InsufficientLevel { have, need }) => {
                // A deny is justified: the user or the ceiling really is below the need.
                prop_assert_eq!(need, requirement.level);
                prop_assert!(have < need);
                prop_assert!(users.min(cap) < need);
            }
            Decision::Deny(other) => prop_assert!(false, "unexpected deny {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (b) Service-account access.
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn service_account_access_never_exceeds_the_approved_manifest_or_leaves_permitted_projects(
        approved in manifest(),
        permitted in prop::collection::btree_set(project(), 0..=PROJECTS.len()),
        raised in prop::option::of(permissions()),
        bound in any::<bool>(),
        requirement in requirement(),
    ) {
        let grant = ServiceAccountGrant {
            user: UserId::new(ACCOUNT),
            approved: approved.clone(),
            permitted_projects: permitted.clone(),
        };
        // The directory holds what the approval gave, or something else entirely (raised by
        // hand above the manifest, or lowered).
        let held = raised.unwrap_or_else(|| grant.permissions());
        let in_directory = held.level(requirement.project.as_ref(), &requirement.tool);
        let in_manifest = match &requirement.project {
            None => level_in(&approved.company, &requirement.tool),
            Some(_) => level_in(&approved.project, &requirement.tool),
        };
        let permitted_here = requirement.project.as_ref().is_none_or(|p| permitted.contains(p));
        let view = service_view(grant, held);
        let claims = claims(SubjectKind::ServiceAccount, bound);
        match decide(&claims, &view, &requirement, now()) {
            Decision::Allow { level } => {
                prop_assert!(permitted_here, "allowed on an unpermitted project");
                prop_assert!(level <= in_manifest, "{level:?} above the manifest's {in_manifest:?}");
                prop_assert!(level <= in_directory, "{level:?} above the directory's {in_directory:?}");
                prop_assert!(level >= requirement.level);
            }
            Decision::Deny(DenyReason::ProjectNotPermitted) => prop_assert!(!permitted_here),
            Decision::Deny(DenyReason::InsufficientLevel { have, need }) => {
                prop_assert!(permitted_here);
                prop_assert!(have < need);
                prop_assert!(in_manifest.min(in_directory) < need);
            }
            Decision::Deny(other) => prop_assert!(false, "unexpected deny {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (c) Nothing where the app is not installed.
// ---------------------------------------------------------------------------------------------

/// Any installation except an active one of `fieldsync` in `acme`.
fn not_installed_in_acme() -> impl Strategy<Value = Option<(String, String, InstallationStatus)>> {
    let elsewhere = (
        select(vec!["fieldsync", "another-app"]),
        select(vec!["acme", "globex"]),
        status(),
    )
        .prop_filter(
            "an active install of this app in acme",
            |(app, company, status)| {
                !(*app == "fieldsync"
                    && *company == "acme"
                    && *status == InstallationStatus::Active)
            },
        )
        .prop_map(|(app, company, status)| Some((app.to_owned(), company.to_owned(), status)));
    prop_oneof![Just(None), elsewhere]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_decision_allows_access_in_a_company_without_an_active_installation_of_the_app(
        found in not_installed_in_acme(),
        kind in select(vec![SubjectKind::User, SubjectKind::ServiceAccount]),
        bound in any::<bool>(),
        requirement in requirement(),
    ) {
        let bound = bound && kind == SubjectKind::ServiceAccount;
        let account = ServiceAccountGrant {
            user: UserId::new(ACCOUNT),
            approved: Manifest { version: 1, company: everything().company, project: everything().company },
            permitted_projects: PROJECTS.iter().map(|p| ProjectId::new(*p)).collect(),
        };
        let acting = match kind {
            SubjectKind::User => User::person("john", "John"),
            SubjectKind::ServiceAccount => service_account_user(),
        };
        let view = DirectoryView {
            installation: found.map(|(app, company, status)| {
                installation(&app, &company, status, Some(account))
            }),
            user: Some(acting),
            permissions: Some(everything()),
            ceiling: None,
            revoked: false,
        };
        let decision = decide(&claims(kind, bound), &view, &requirement, now());
        let reason = decision.deny_reason();
        prop_assert!(
            matches!(
                reason,
                Some(
                    DenyReason::AppNotInstalled
                        | DenyReason::AppUninstalled
                        | DenyReason::InstallationNotApproved
                )
            ),
            "{decision:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// (d) Tokens: only what a trusted key signed, unchanged, validates.
// ---------------------------------------------------------------------------------------------

const SIGNING: [Algorithm; 3] = [Algorithm::EdDSA, Algorithm::ES256, Algorithm::HS256];

fn expectations() -> Expectations {
    Expectations {
        issuer: ISSUER.into(),
        audiences: vec![ISSUER.into()],
        leeway_seconds: 0,
    }
}

/// A trusted key set, and a token it signed that validates now.
fn signed(algorithm: Algorithm, rng: &mut StdRng, sub: &str) -> (KeySet, String) {
    let keys = KeySet::new(SigningKey::generate(algorithm, rng).unwrap());
    let mut claims = claims(SubjectKind::User, false);
    claims.sub = sub.to_owned();
    let token = issue(&claims, keys.signing_key());
    assert_eq!(
        validate(&token, &keys, &expectations(), now()),
        Ok(claims),
        "the untampered token must validate"
    );
    (keys, token)
}

fn valid(token: &str, keys: &KeySet) -> bool {
    validate(token, keys, &expectations(), now()).is_ok()
}

/// A key the verifier does not hold, of `algorithm`, claiming the key id `kid`.
fn impostor(algorithm: Algorithm, kid: &str, rng: &mut StdRng) -> SigningKey {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    let lf = ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF;
    match algorithm {
        Algorithm::EdDSA => {
            let key = ed25519_dalek::SigningKey::generate(rng);
            SigningKey::from_pkcs8_pem(algorithm, kid, &key.to_pkcs8_pem(lf).unwrap()).unwrap()
        }
        Algorithm::ES256 => {
            let key = p256::SecretKey::random(rng);
            SigningKey::from_pkcs8_pem(algorithm, kid, &key.to_pkcs8_pem(lf).unwrap()).unwrap()
        }
        Algorithm::HS256 | Algorithm::RS256 => {
            let mut secret = [0u8; 32];
            rand::RngCore::fill_bytes(rng, &mut secret);
            SigningKey::hmac(kid, &secret).unwrap()
        }
    }
}

fn parts(token: &str) -> (&str, &str, &str) {
    let mut parts = token.split('.');
    let mut next = || parts.next().unwrap();
    (next(), next(), next())
}

const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_token_signed_by_an_unknown_key_never_validates(
        seed in any::<u64>(),
        algorithm in select(SIGNING.to_vec()),
        forger_algorithm in select(SIGNING.to_vec()),
        claims_trusted_kid in any::<bool>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (keys, _) = signed(algorithm, &mut rng, "john");
        let forger = if claims_trusted_kid {
            impostor(forger_algorithm, keys.signing_key().kid(), &mut rng)
        } else {
            SigningKey::generate(forger_algorithm, &mut rng).unwrap()
        };
        let forged = issue(&claims(SubjectKind::User, false), &forger);
        prop_assert!(!valid(&forged, &keys));
    }

    #[test]
    fn a_token_with_any_payload_character_changed_never_validates(
        seed in any::<u64>(),
        algorithm in select(SIGNING.to_vec()),
        sub in "[a-z]{1,12}",
        at in any::<Index>(),
        replacement in any::<Index>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (keys, token) = signed(algorithm, &mut rng, &sub);
        let (header, payload, signature) = parts(&token);
        let mut payload = payload.as_bytes().to_vec();
        let i = at.index(payload.len());
        let mut new = BASE64URL[replacement.index(BASE64URL.len())];
        if new == payload[i] {
            new = BASE64URL[(replacement.index(BASE64URL.len()) + 1) % BASE64URL.len()];
        }
        payload[i] = new;
        let tampered = format!("{header}.{}.{signature}", String::from_utf8(payload).unwrap());
        prop_assert!(!valid(&tampered, &keys));
    }

    #[test]
    fn a_token_with_any_payload_bit_flipped_never_validates(
        seed in any::<u64>(),
        algorithm in select(SIGNING.to_vec()),
        sub in "[a-z]{1,12}",
        at in any::<Index>(),
        bit in 0u8..8,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (keys, token) = signed(algorithm, &mut rng, &sub);
        let (header, payload, signature) = parts(&token);
        let mut bytes = URL_SAFE_NO_PAD.decode(payload).unwrap();
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        let tampered = format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(&bytes));
        prop_assert!(!valid(&tampered, &keys));
    }

    #[test]
    fn a_token_whose_alg_is_altered_never_validates(
        seed in any::<u64>(),
        algorithm in select(SIGNING.to_vec()),
        alg in prop_oneof![
            select(vec!["none", "None", "NONE", "HS256", "HS512", "RS256", "ES256", "EdDSA",
                        "eddsa", "EDDSA", "PS256", "ES384", ""]).prop_map(str::to_owned),
            "[A-Za-z0-9+]{0,8}",
        ],
        empty_signature in any::<bool>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (keys, token) = signed(algorithm, &mut rng, "john");
        prop_assume!(alg != algorithm.name());
        let (_, payload, signature) = parts(&token);
        let header = serde_json::json!({
            "alg": alg, "typ": "at+jwt", "kid": keys.signing_key().kid()
        });
        let header = URL_SAFE_NO_PAD.encode(header.to_string());
        let signature = if empty_signature { "" } else { signature };
        let altered = format!("{header}.{payload}.{signature}");
        prop_assert!(!valid(&altered, &keys));
    }

    #[test]
    fn a_token_re_signed_with_hmac_over_the_public_key_never_validates(
        seed in any::<u64>(),
        algorithm in select(vec![Algorithm::EdDSA, Algorithm::ES256]),
    ) {
        use hmac::Mac as _;
        let mut rng = StdRng::seed_from_u64(seed);
        let (keys, token) = signed(algorithm, &mut rng, "john");
        let (_, payload, _) = parts(&token);
        let jwk = keys.signing_key().public_jwk().unwrap();
        let header = serde_json::json!({
            "alg": "HS256", "typ": "at+jwt", "kid": keys.signing_key().kid()
        });
        let input = format!("{}.{payload}", URL_SAFE_NO_PAD.encode(header.to_string()));
        let public = serde_json::to_string(&jwk).unwrap();
        for secret in [jwk.x.clone().unwrap_or_default(), public] {
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(input.as_bytes());
            let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
            let forged = format!("{input}.{signature}");
            prop_assert!(!valid(&forged, &keys));
        }
    }
}

#[test]
fn an_impostor_key_claims_the_trusted_kid_but_is_a_different_key() {
    let mut rng = StdRng::seed_from_u64(7);
    let (keys, _) = signed(Algorithm::EdDSA, &mut rng, "john");
    let forger = impostor(Algorithm::EdDSA, keys.signing_key().kid(), &mut rng);
    assert_eq!(forger.kid(), keys.signing_key().kid());
    assert_ne!(forger.public_jwk(), keys.signing_key().public_jwk());
}

// ---------------------------------------------------------------------------------------------
// (e) What the consent page shows is what decisions allow.
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_consent_pages_capabilities_are_exactly_what_user_decisions_allow(
        held in permissions(),
        ceiling in prop::option::of(tool_levels()),
        requirement in requirement(),
    ) {
        let shown = appgrant::access::delegated_permissions(&held, ceiling.as_ref());
        let shown_level = shown.level(requirement.project.as_ref(), &requirement.tool);
        let view = user_view(held, ceiling);
        match decide(&claims(SubjectKind::User, false), &view, &requirement, now()) {
            Decision::Allow { level } => prop_assert_eq!(level, shown_level),
            Decision::Deny(DenyReason::InsufficientLevel { have, .. }) => {
                prop_assert_eq!(have, shown_level)
            }
            Decision::Deny(other) => prop_assert!(false, "unexpected deny {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (e) Scopes: a token's scopes cap what it may do, and never add to it.
// ---------------------------------------------------------------------------------------------

fn scopes() -> impl Strategy<Value = Scopes> {
    prop::collection::btree_map(tool(), select(Level::ALL[1..].to_vec()), 1..=TOOLS.len()).prop_map(
        |levels| {
            let text: Vec<String> = levels
                .iter()
                .map(|(tool, level)| Scopes::token(tool, *level))
                .collect();
            Scopes::parse(&text.join(" ")).unwrap()
        },
    )
}

fn scoped(mut claims: AccessClaims, scope: Option<Scopes>) -> AccessClaims {
    claims.scope = scope;
    claims
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_scoped_user_token_never_exceeds_the_users_level_the_ceiling_or_the_scope(
        held in permissions(),
        ceiling in prop::option::of(tool_levels()),
        scope in prop::option::of(scopes()),
        requirement in requirement(),
    ) {
        let users = held.level(requirement.project.as_ref(), &requirement.tool);
        let cap = ceiling.as_ref().map_or(Level::Admin, |c| level_in(c, &requirement.tool));
        let scoped_to = scope.as_ref().map_or(Level::Admin, |s| s.level(&requirement.tool));
        let claims = scoped(claims(SubjectKind::User, false), scope);
        let view = user_view(held, ceiling);
        let most = users.min(cap).min(scoped_to);
        match decide(&claims, &view, &requirement, now()) {
            Decision::Allow { level } => {
                prop_assert_eq!(level, most, "allowed at what the three allow together");
                prop_assert!(level >= requirement.level);
            }
            Decision::Deny(DenyReason::InsufficientLevel { have, need }) => {
                prop_assert_eq!(have, most);
                prop_assert!(most < need);
            }
            Decision::Deny(other) => prop_assert!(false, "unexpected deny {other:?}"),
        }
    }

    #[test]
    fn a_scoped_service_account_token_never_exceeds_the_approved_manifest_or_the_scope(
        approved in manifest(),
        permitted in prop::collection::btree_set(project(), 0..=PROJECTS.len()),
        scope in prop::option::of(scopes()),
        requirement in requirement(),
    ) {
        let grant = ServiceAccountGrant {
            user: UserId::new(ACCOUNT),
            approved: approved.clone(),
            permitted_projects: permitted.clone(),
        };
        let held = grant.permissions();
        let in_manifest = grant.approved_level(requirement.project.as_ref(), &requirement.tool);
        let scoped_to = scope.as_ref().map_or(Level::Admin, |s| s.level(&requirement.tool));
        let claims = scoped(claims(SubjectKind::ServiceAccount, true), scope);
        let view = service_view(grant, held);
        match decide(&claims, &view, &requirement, now()) {
            Decision::Allow { level } => {
                prop_assert!(level <= in_manifest && level <= scoped_to);
                prop_assert!(level >= requirement.level);
            }
            Decision::Deny(DenyReason::InsufficientLevel { have, need }) => {
                prop_assert!(have < need);
                prop_assert!(in_manifest.min(scoped_to) < need);
            }
            Decision::Deny(DenyReason::ProjectNotPermitted) => {
                prop_assert!(requirement.project.as_ref().is_some_and(|p| !permitted.contains(p)));
            }
            Decision::Deny(other) => prop_assert!(false, "unexpected deny {other:?}"),
        }
    }

    #[test]
    fn a_scope_string_reads_back_as_the_same_scopes(scope in scopes()) {
        prop_assert_eq!(Scopes::parse(&scope.to_string()).unwrap(), scope);
    }

    #[test]
    fn granted_scopes_are_within_what_was_asked_and_the_reach(
        asked in scopes(),
        reach in tool_levels(),
    ) {
        let reach_of = |tool: &Tool| level_in(&reach, tool);
        match asked.granted(&[], reach_of) {
            Ok(granted) => {
                prop_assert!(granted.is_within(&asked));
                for (tool, level) in granted.iter() {
                    prop_assert!(level <= reach_of(tool) && level > Level::None);
                }
            }
            Err(ScopeError::OutOfReach(tool)) => {
                prop_assert_eq!(reach_of(&Tool::new(tool.as_str())), Level::None);
            }
            Err(other) => prop_assert!(false, "unexpected refusal {other:?}"),
        }
    }
}
