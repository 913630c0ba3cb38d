//! Token issuance and validation against the cryptography they cannot avoid, whole grants
//! through the façade, the oxide-auth peer, and the client-credentials grant at store scale.
//!
//! Run with `cargo bench --bench issuance` (criterion flags go after `--`, e.g.
//! `-- --warm-up-time 1 --measurement-time 3`). The ids are fixed so runs can be compared:
//! see docs/performance.md for what each one measures and the targets.

use appgrant::access::{DirectoryView, decide};
use appgrant::audit::{AuditEvent, AuditSink};
use appgrant::grant::{
    AppRegistration, AuthorizationRequest, AuthorizationResponse, ClientAuthentication,
    TokenRequest, pkce,
};
use appgrant::model::{
    App, AppFlows, ClientId, ClientType, Company, CompanyId, Installation, InstallationStatus,
    Level, Manifest, Permissions, ProjectId, Requirement, Scope, ServiceAccountGrant, User, UserId,
    UserKind, UserStatus,
};
use appgrant::server::RegisteredApp;
use appgrant::store::{AppStore, DirectoryStore, InstallationStore};
use appgrant::token::{AccessClaims, Algorithm, KeySet, Secret, SigningKey, issue, validate};
use appgrant::{AuthorizationServer, Config, MemoryStore};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Utc;
use criterion::{BatchSize, Criterion, SamplingMode, black_box, criterion_group, criterion_main};
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use hmac::{Hmac, Mac};
use rand::SeedableRng;
use rand::rngs::StdRng;
use sha2::Sha256;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const ISSUER: &str = "https://auth.example.com";
const REDIRECT: &str = "https://app.example.com/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9NSaT3r8cqOJn2mFzRCLFbwGk0123456789";
const COMPANY: &str = "acme";
const PROJECT: &str = "tower";

/// Audit events go nowhere: the default in-memory sink would grow by one event per token for
/// the whole run. A host plugs in its own sink; its cost is the host's.
struct DiscardAudit;

impl AuditSink for DiscardAudit {
    fn record(&self, _event: AuditEvent) {}
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime")
}

/// One company (Acme), an admin (Jane), and one confidential app using both flows whose
/// service account is approved on one project: the seed world of the integration tests.
struct World {
    server: AuthorizationServer<MemoryStore>,
    /// The raw Ed25519 key the server signs with, for the raw-primitive baselines.
    raw_key: ed25519_dalek::SigningKey,
    company: CompanyId,
    jane: UserId,
    app: App,
    secret: Secret,
}

impl World {
    /// The world with an Ed25519 signing key (the default algorithm).
    async fn new() -> World {
        let raw_key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let pem = raw_key
            .to_pkcs8_pem(Default::default())
            .expect("a PKCS#8 PEM");
        let key = SigningKey::from_pkcs8_pem(Algorithm::EdDSA, "bench-key-2026-1", &pem)
            .expect("an Ed25519 key");
        World::with_key(key, raw_key).await
    }

    /// The world with an HS256 signing key.
    async fn hs256() -> World {
        let key = SigningKey::hmac("bench-key-2026-1", &[42u8; 32]).expect("an HS256 key");
        World::with_key(key, ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])).await
    }

    async fn with_key(key: SigningKey, raw_key: ed25519_dalek::SigningKey) -> World {
        let server = AuthorizationServer::builder(MemoryStore::new(), Config::new(ISSUER))
            .keys(KeySet::new(key))
            .audit(Arc::new(DiscardAudit))
            .build()
            .expect("a server");
        let (company, jane) = (CompanyId::new(COMPANY), UserId::new("jane"));
        let tower = ProjectId::new(PROJECT);
        server
            .save_company(
                Company::new(COMPANY, "Acme Construction")
                    .with_project("tower", "Tower")
                    .with_project("depot", "Depot"),
            )
            .await
            .unwrap();
        server
            .save_user(User::person("jane", "Jane"))
            .await
            .unwrap();
        let holds = Permissions::none()
            .with(Scope::Company, "directory", Level::Admin)
            .with(Scope::Project(tower.clone()), "rfis", Level::Admin);
        server.set_membership(&company, &jane, holds).await.unwrap();
        let RegisteredApp { app, client_secret } = server
            .register_app(AppRegistration {
                application_type: appgrant::model::ApplicationType::Web,
                name: "FieldSync".into(),
                client_type: ClientType::Confidential,
                redirect_uris: vec![REDIRECT.into()],
                flows: AppFlows::Both,
                manifest: Some(
                    Manifest::new(1)
                        .company_tool("directory", Level::ReadOnly)
                        .project_tool("rfis", Level::Standard),
                ),
                ceiling: None,
                profile: Default::default(),
                owner: None,
                security: Default::default(),
            })
            .await
            .unwrap();
        server
            .request_installation(&company, &app.client_id, &jane)
            .await
            .unwrap();
        server
            .approve_installation(&company, &app.client_id, &jane, BTreeSet::from([tower]))
            .await
            .unwrap();
        World {
            server,
            raw_key,
            company,
            jane,
            app,
            secret: client_secret.unwrap(),
        }
    }

    fn client(&self) -> ClientAuthentication {
        ClientAuthentication::Basic {
            client_id: self.app.client_id.clone(),
            secret: self.secret.clone(),
        }
    }

    fn service_request(&self) -> TokenRequest {
        TokenRequest::ClientCredentials {
            company_id: Some(self.company.clone()),
            scope: None,
            resource: None,
        }
    }

    /// A client-credentials access token bound to Acme: the typical token of these benches.
    async fn service_token(&self) -> String {
        let response = self
            .server
            .token(self.service_request(), &self.client())
            .await
            .unwrap();
        response.access_token.expose().to_owned()
    }

    /// Jane authorizes the app (with PKCE): a fresh code.
    async fn code(&self) -> Secret {
        let request = AuthorizationRequest {
            client_id: Some(self.app.client_id.to_string()),
            redirect_uri: Some(REDIRECT.into()),
            response_type: Some("code".into()),
            state: Some("xyz".into()),
            scope: None,
            code_challenge: Some(pkce::challenge_of(VERIFIER)),
            code_challenge_method: Some("S256".into()),
            resource: None,
        };
        let response = self
            .server
            .approve_authorization(&request, &self.jane, None)
            .await
            .unwrap();
        let AuthorizationResponse::Redirect(location) = response else {
            panic!("expected a redirect");
        };
        let url = url::Url::parse(location.expose()).unwrap();
        let code = url
            .query_pairs()
            .find(|(name, _)| name == "code")
            .map(|(_, value)| value.into_owned())
            .unwrap();
        Secret::new(code)
    }

    fn exchange_request(code: Secret) -> TokenRequest {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri: Some(REDIRECT.into()),
            code_verifier: Some(Secret::new(VERIFIER)),
            resource: None,
        }
    }
}

/// A token's signing input and its decoded signature.
fn split(token: &str) -> (&str, Vec<u8>) {
    let (input, signature) = token.rsplit_once('.').expect("a compact JWS");
    (input, URL_SAFE_NO_PAD.decode(signature).expect("base64url"))
}

fn primitives(c: &mut Criterion) {
    let rt = runtime();
    let world = rt.block_on(World::new());
    let token = rt.block_on(world.service_token());
    let keys = world.server.keys();
    let config = world.server.config().clone();
    let expectations = config.expectations();
    let claims: AccessClaims = validate(&token, &keys, &expectations, Utc::now()).unwrap();
    let (signing_input, signature) = split(&token);
    let message = signing_input.as_bytes();

    // The raw key is the server's key, and Ed25519 is deterministic: the raw signature over the
    // token's signing input is the token's signature, so both sides sign exactly the same bytes.
    assert_eq!(world.raw_key.sign(message).to_bytes().as_slice(), signature);
    assert_eq!(issue(&claims, keys.signing_key()), token);

    // An HS256 key whose header differs only in `alg`, so its signing input has the same length.
    let hmac_secret = [42u8; 32];
    let hmac_key = SigningKey::hmac(keys.signing_key().kid(), &hmac_secret).unwrap();
    let hmac_token = issue(&claims, &hmac_key);
    let (hmac_input, hmac_signature) = split(&hmac_token);
    assert_eq!(hmac_input.len(), signing_input.len());
    // Raw HMAC keyed once (as ours is): the keyed state is cloned per message.
    let raw_hmac = Hmac::<Sha256>::new_from_slice(&hmac_secret).unwrap();
    {
        let mut mac = raw_hmac.clone();
        mac.update(hmac_input.as_bytes());
        assert_eq!(&mac.finalize().into_bytes()[..], hmac_signature);
    }

    let mut sign = c.benchmark_group("sign");
    sign.bench_function("raw_ed25519", |b| {
        b.iter(|| world.raw_key.sign(black_box(message)))
    });
    sign.bench_function("raw_hmac_sha256", |b| {
        b.iter(|| {
            let mut mac = raw_hmac.clone();
            mac.update(black_box(hmac_input.as_bytes()));
            mac.finalize().into_bytes()
        })
    });
    sign.finish();

    let mut issuing = c.benchmark_group("issue");
    issuing.bench_function("access_token_eddsa", |b| {
        b.iter(|| issue(black_box(&claims), keys.signing_key()))
    });
    issuing.bench_function("access_token_hs256", |b| {
        b.iter(|| issue(black_box(&claims), &hmac_key))
    });
    issuing.finish();

    let verifying_key = world.raw_key.verifying_key();
    let raw_signature = ed25519_dalek::Signature::from_slice(&signature).unwrap();
    let mut verify = c.benchmark_group("verify");
    // verify_strict, as ours: it also refuses small-order keys and non-canonical signatures.
    verify.bench_function("raw_ed25519", |b| {
        b.iter(|| {
            verifying_key
                .verify_strict(black_box(message), &raw_signature)
                .is_ok()
        })
    });
    verify.finish();

    // What the directory says about the token's service account, loaded once: `decide` is pure.
    let view: DirectoryView = rt
        .block_on(world.server.directory_view(&claims, &world.company))
        .unwrap();
    let requirement = Requirement::new(COMPANY, "rfis", Level::ReadOnly).on_project(PROJECT);
    let now = Utc::now();
    assert!(decide(&claims, &view, &requirement, now).is_allowed());
    let mut validating = c.benchmark_group("validate");
    validating.bench_function("access_token_eddsa", |b| {
        b.iter(|| {
            let claims = validate(black_box(&token), &keys, &expectations, now).unwrap();
            decide(&claims, &view, &requirement, now)
        })
    });
    validating.finish();
}

fn grants(c: &mut Criterion) {
    let rt = runtime();
    let world = rt.block_on(World::new());
    let client = world.client();
    let mut group = c.benchmark_group("grant");

    group.bench_function("client_credentials", |b| {
        b.to_async(&rt).iter(|| async {
            world
                .server
                .token(world.service_request(), &client)
                .await
                .unwrap()
        })
    });

    // Each exchange needs a fresh code: they are issued before the clock starts.
    group.bench_function("authorization_code", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut codes = Vec::with_capacity(iters as usize);
                for _ in 0..iters {
                    codes.push(world.code().await);
                }
                let start = Instant::now();
                for code in codes {
                    black_box(
                        world
                            .server
                            .token(World::exchange_request(code), &client)
                            .await
                            .unwrap(),
                    );
                }
                start.elapsed()
            })
        })
    });

    // Each rotation presents the refresh token the previous one returned, as a client does. A
    // world of its own, so the codes and families the exchanges above left behind do not weigh.
    let world = rt.block_on(World::new());
    let client = world.client();
    let first = rt.block_on(async {
        let code = world.code().await;
        world
            .server
            .token(World::exchange_request(code), &client)
            .await
            .unwrap()
    });
    let mut refresh_token = first.refresh_token.unwrap();
    group.bench_function("refresh", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let request = TokenRequest::RefreshToken {
                        refresh_token: refresh_token.clone(),
                        scope: None,
                        resource: None,
                    };
                    let response = world.server.token(request, &client).await.unwrap();
                    refresh_token = response.refresh_token.unwrap();
                }
                start.elapsed()
            })
        })
    });

    // Supplementary: the same client-credentials grant with an HS256 server key, the
    // like-for-like comparison with oxide-auth's HMAC-signed tokens.
    let hs256 = rt.block_on(World::hs256());
    let hs256_client = hs256.client();
    group.bench_function("client_credentials_hs256", |b| {
        b.to_async(&rt).iter(|| async {
            hs256
                .server
                .token(hs256.service_request(), &hs256_client)
                .await
                .unwrap()
        })
    });
    group.finish();
}

mod peer {
    //! oxide-auth 0.6: its `TokenSigner` (HMAC-SHA256 over a MessagePack grant), and its
    //! client-credentials flow over a `ClientMap` and a `TokenSigner`.

    use super::*;
    use oxide_auth::endpoint::{OwnerConsent, Solicitation};
    use oxide_auth::frontends::simple::endpoint::{FnSolicitor, client_credentials_flow};
    use oxide_auth::frontends::simple::request::{Request, Response, Status};
    use oxide_auth::primitives::generator::{Assertion, AssertionKind};
    use oxide_auth::primitives::grant::{Extensions, Grant};
    use oxide_auth::primitives::issuer::{Issuer, TokenSigner};
    use oxide_auth::primitives::registrar::{
        Client, ClientMap, PasswordPolicy, RegisteredUrl, RegistrarError,
    };
    use sha2::Digest as _;

    const CLIENT_ID: &str = "fieldsync";
    const PASSPHRASE: &str = "a-256-bit-random-client-secret-0123456789ab";

    /// A client-secret check by SHA-256 digest, as appgrant does, instead of oxide-auth's
    /// default Argon2: the same flow with the password hash taken out of it.
    pub struct DigestPolicy;

    impl PasswordPolicy for DigestPolicy {
        fn store(&self, _client_id: &str, passphrase: &[u8]) -> Vec<u8> {
            Sha256::digest(passphrase).to_vec()
        }

        fn check(
            &self,
            _client_id: &str,
            passphrase: &[u8],
            stored: &[u8],
        ) -> Result<(), RegistrarError> {
            use subtle::ConstantTimeEq as _;
            if bool::from(Sha256::digest(passphrase)[..].ct_eq(stored)) {
                Ok(())
            } else {
                Err(RegistrarError::Unspecified)
            }
        }
    }

    pub fn registrar(policy: Option<DigestPolicy>) -> ClientMap {
        let mut registrar = ClientMap::new();
        if let Some(policy) = policy {
            registrar.set_password_policy(policy);
        }
        registrar.register_client(Client::confidential(
            CLIENT_ID,
            RegisteredUrl::Semantic(REDIRECT.parse().unwrap()),
            "rfis".parse().unwrap(),
            PASSPHRASE.as_bytes(),
        ));
        registrar
    }

    pub fn signer() -> TokenSigner {
        let mut signer = TokenSigner::new(Assertion::new(AssertionKind::HmacSha256, &[42u8; 32]));
        signer.valid_for(chrono::Duration::seconds(5400));
        signer
    }

    pub fn grant() -> Grant {
        Grant {
            owner_id: CLIENT_ID.into(),
            client_id: CLIENT_ID.into(),
            scope: "rfis".parse().unwrap(),
            redirect_uri: REDIRECT.parse().unwrap(),
            until: Utc::now() + chrono::Duration::seconds(5400),
            extensions: Extensions::new(),
        }
    }

    pub fn request() -> Request {
        let mut request = Request {
            auth: Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{CLIENT_ID}:{PASSPHRASE}"))
            )),
            ..Request::default()
        };
        request
            .urlbody
            .insert("grant_type".into(), "client_credentials".into());
        request
    }

    /// One whole client-credentials grant: authenticate the client, ask the owner solicitor
    /// (the app acts as itself), issue the token, render the JSON response.
    pub fn client_credentials(
        registrar: &ClientMap,
        signer: &mut TokenSigner,
        request: Request,
    ) -> Response {
        let mut solicitor = FnSolicitor(|_: &mut Request, _: Solicitation| {
            OwnerConsent::Authorized(CLIENT_ID.to_owned())
        });
        let response = client_credentials_flow(registrar, signer, &mut solicitor)
            .execute(request)
            .unwrap_or_else(|_| panic!("the oxide-auth flow failed"));
        assert_eq!(response.status, Status::Ok);
        response
    }

    pub fn issue(signer: &mut TokenSigner, grant: Grant) -> String {
        signer.issue(grant).unwrap().token
    }
}

fn peers(c: &mut Criterion) {
    let argon2 = peer::registrar(None);
    let digest = peer::registrar(Some(peer::DigestPolicy));
    let mut signer = peer::signer();
    let mut group = c.benchmark_group("peer");

    // The closest equivalent of grant/client_credentials, as oxide-auth ships it: a ClientMap
    // (Argon2 client-secret check) and a TokenSigner issuer. Argon2 takes tens of milliseconds,
    // so this one gets few samples.
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("oxide_auth_issue", |b| {
        b.iter_batched(
            peer::request,
            |request| peer::client_credentials(&argon2, &mut signer, request),
            BatchSize::SmallInput,
        )
    });
    group.sample_size(100);
    group.sampling_mode(SamplingMode::Auto);
    // Supplementary: the same flow with a SHA-256 client-secret check instead of Argon2.
    group.bench_function("oxide_auth_client_credentials_sha256", |b| {
        b.iter_batched(
            peer::request,
            |request| peer::client_credentials(&digest, &mut signer, request),
            BatchSize::SmallInput,
        )
    });
    // Supplementary: the TokenSigner issuing one token, the counterpart of issue/*.
    group.bench_function("oxide_auth_token_signer", |b| {
        b.iter_batched(
            peer::grant,
            |grant| peer::issue(&mut signer, grant),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// A store holding `size` apps, each installed in a company of its own with an approved
/// service account (a user with a membership): `size` apps, installations, companies and users.
/// Records go straight in through the store traits; the façade's install path would take
/// minutes for a million.
struct Populated {
    server: AuthorizationServer<MemoryStore>,
    /// Credentials and company of a spread of apps, cycled through by the benchmark.
    clients: Vec<(ClientAuthentication, CompanyId)>,
}

const SAMPLED_APPS: usize = 1024;

async fn populate(size: usize) -> Populated {
    let store = MemoryStore::new();
    let mut rng = StdRng::seed_from_u64(size as u64);
    let manifest = Manifest::new(1)
        .company_tool("directory", Level::ReadOnly)
        .project_tool("rfis", Level::Standard);
    let tower = ProjectId::new(PROJECT);
    let registered_at = Utc::now();
    let stride = (size / SAMPLED_APPS).max(1);
    let mut clients = Vec::new();
    for index in 0..size {
        let client_id = ClientId::new(format!("app-{index:07}"));
        let company = CompanyId::new(format!("company-{index:07}"));
        let account = UserId::new(format!("sa-{index:07}"));
        let secret = Secret::generate(&mut rng);
        let app = App {
            application_type: appgrant::model::ApplicationType::Web,
            client_id: client_id.clone(),
            name: format!("App {index}"),
            client_type: ClientType::Confidential,
            secret_digest: Some(secret.digest()),
            previous_secret: None,
            redirect_uris: Vec::new(),
            flows: AppFlows::ServiceAccount,
            manifests: vec![manifest.clone()],
            ceiling: None,
            profile: Default::default(),
            owner: None,
            revision: 0,
            security: Default::default(),
        };
        let grant = ServiceAccountGrant {
            user: account.clone(),
            approved: manifest.clone(),
            permitted_projects: BTreeSet::from([tower.clone()]),
        };
        let permissions = grant.permissions();
        let installation = Installation {
            app: client_id.clone(),
            company: company.clone(),
            status: InstallationStatus::Active,
            requested_by: account.clone(),
            requested_at: registered_at,
            decided_by: Some(account.clone()),
            decided_at: Some(registered_at),
            active_since: Some(registered_at),
            uninstalled_at: None,
            app_deleted_at: None,
            service_account: Some(grant),
            pending_manifest: None,
            revision: 0,
        };
        let user = User {
            id: account.clone(),
            name: format!("App {index} (service account)"),
            kind: UserKind::ServiceAccount {
                app: client_id.clone(),
            },
            status: UserStatus::Active,
        };
        store
            .save_company(
                Company::new(company.clone(), "Company")
                    .with_project("tower", "Tower")
                    .with_project("depot", "Depot"),
            )
            .await
            .unwrap();
        store.save_user(user).await.unwrap();
        store
            .save_membership(&company, &account, permissions)
            .await
            .unwrap();
        store.save_installation(installation).await.unwrap();
        store.save_app(app).await.unwrap();
        if index % stride == 0 && clients.len() < SAMPLED_APPS {
            let credentials = ClientAuthentication::Basic { client_id, secret };
            clients.push((credentials, company));
        }
    }
    let server = AuthorizationServer::builder(store, Config::new(ISSUER))
        .audit(Arc::new(DiscardAudit))
        .build()
        .expect("a server");
    Populated { server, clients }
}

fn scale(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("scale");
    for size in [100usize, 10_000, 1_000_000] {
        // Built on first use, so a filter that skips this size does not pay for it.
        let mut world: Option<Populated> = None;
        let mut next = 0usize;
        group.bench_function(format!("client_credentials_{size}"), |b| {
            let populated = world.get_or_insert_with(|| {
                let built = Instant::now();
                let world = rt.block_on(populate(size));
                eprintln!(
                    "scale: {size} apps, installations and users stored in {:.1?}",
                    built.elapsed()
                );
                world
            });
            let (server, clients) = (&populated.server, &populated.clients);
            b.to_async(&rt).iter(|| {
                let (client, company) = &clients[next % clients.len()];
                next += 1;
                let request = TokenRequest::ClientCredentials {
                    company_id: Some(company.clone()),
                    scope: None,
                    resource: None,
                };
                async move { server.token(request, client).await.unwrap() }
            })
        });
        drop(world);
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1))
}

criterion_group! {
    name = benches;
    config = config();
    targets = primitives, grants, peers, scale
}
criterion_main!(benches);
