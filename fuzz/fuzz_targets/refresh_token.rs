//! Refresh tokens: `RefreshTokenKey::open` on arbitrary strings, `mint`/`open` round trips
//! with one-byte mutations, and the refresh grant through the library's router against a real
//! refresh-token family.
//!
//! Input: byte 0 picks what the server part presents (the input as a token, a token minted
//! for a made-up family, or the real family's token with one byte changed); the rest feeds
//! the rest.
//!
//! Invariants:
//! - `open` never panics and opens nothing the key did not mint (the input itself never opens);
//! - a minted token (any family id and generation from the input) opens to exactly its family
//!   and generation, when it fits `open`'s length limit and names a family (see below);
//! - one byte changed in a minted token: it no longer opens (base64url without padding and
//!   with strict trailing bits: no other spelling decodes to the same bytes);
//! - a token minted by another key never opens;
//! - through the token endpoint (real client credentials): never a 200 for anything but the
//!   real current token, never a 5xx, always a JSON `invalid_grant`/`invalid_request`/
//!   `invalid_scope`/`invalid_target` error; and the real family is never revoked by a token
//!   the server did not issue (its grant is not revoked, its access token still allowed).
#![no_main]

use appgrant::model::{GrantId, Level, Requirement};
use appgrant::store::RevocationStore;
use appgrant::token::{DeploymentSecret, RefreshTokenKey};
use appgrant_fuzz::{
    CLIENT_ID, REDIRECT, SECRET, TOKEN_ERRORS, VERIFIER, World, runtime, shared_world,
};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use std::sync::OnceLock;

/// The longest token `open` reads.
const MAX_TOKEN_CHARS: usize = 512;

/// The seeded world's real refresh-token family: its current token, access token and grant.
struct Family {
    refresh_token: String,
    access_token: String,
    grant: GrantId,
}

fn family(world: &World) -> &'static Family {
    static FAMILY: OnceLock<Family> = OnceLock::new();
    FAMILY.get_or_init(|| {
        let code = world.code();
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", CLIENT_ID),
                ("client_secret", SECRET),
            ])
            .finish();
        let answer = world.send(
            Request::post("/oauth/token")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        );
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        let json = answer.json();
        let access_token = json["access_token"].as_str().unwrap().to_owned();
        let refresh_token = json["refresh_token"].as_str().unwrap().to_owned();
        let claims = world.server.keys();
        let claims = appgrant::token::validate(
            &access_token,
            &claims,
            &world.server.config().expectations_anywhere(),
            appgrant_fuzz::now(),
        )
        .unwrap();
        Family {
            refresh_token,
            access_token,
            grant: claims.grant_id,
        }
    })
}

/// The key the seeded world authenticates refresh tokens with.
fn server_key() -> &'static RefreshTokenKey {
    static KEY: OnceLock<RefreshTokenKey> = OnceLock::new();
    KEY.get_or_init(|| {
        DeploymentSecret::from_bytes(&[0x5a; 32])
            .unwrap()
            .refresh_token_key()
    })
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((first, rest)) => {
                self.0 = rest;
                *first
            }
            None => 0,
        }
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(std::array::from_fn(|_| self.byte()))
    }

    fn text(&mut self, max: u8) -> String {
        let len = usize::from(self.byte() % max).min(self.0.len());
        let (text, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8_lossy(text).into_owned()
    }
}

/// `token` with the byte at `position` replaced, if that is still UTF-8 and differs.
fn mutate(token: &str, position: usize, replacement: u8) -> Option<String> {
    let mut bytes = token.as_bytes().to_vec();
    let at = position % bytes.len();
    bytes[at] = replacement;
    String::from_utf8(bytes)
        .ok()
        .filter(|mutated| mutated != token)
}

fn refresh(world: &World, token: &str) {
    let family = family(world);
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
        ])
        .finish();
    let answer = world.send(
        Request::post("/oauth/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap(),
    );
    assert!(
        answer.status != StatusCode::OK,
        "a refresh with a token the server never issued succeeded: {token:?}"
    );
    assert!(
        !answer.status.is_server_error(),
        "{}: {}",
        answer.status,
        answer.text()
    );
    let json = answer.json();
    let error = json["error"].as_str().expect("an error code");
    assert!(TOKEN_ERRORS.contains(&error), "{error}");
    assert_ne!(error, "invalid_client", "the real credentials were refused");
    // The family the fuzzer does not hold is untouched.
    runtime().block_on(async {
        let revoked = world
            .server
            .store()
            .is_revoked(&family.grant)
            .await
            .unwrap();
        assert!(
            !revoked,
            "a made-up refresh token {token:?} revoked the real family"
        );
        let allowed = world
            .server
            .decide(
                &family.access_token,
                &Requirement::new("acme", "directory", Level::ReadOnly),
            )
            .await
            .unwrap();
        assert!(
            allowed.is_allowed(),
            "the real family's access token was cut off"
        );
    });
}

fuzz_target!(|data: &[u8]| {
    // 1. `open` on the input itself, by the server's key and by a key from the input.
    let text = String::from_utf8_lossy(data);
    assert!(
        server_key().open(&text).is_none(),
        "the input opened: {text:?}"
    );
    let mut reader = Reader(data);
    let key = RefreshTokenKey::from_bytes(std::array::from_fn(|_| reader.byte()));
    assert!(
        key.open(&text).is_none(),
        "the input opened under its own key: {text:?}"
    );

    // 2. A token minted for a family and generation from the input.
    let selector = reader.byte();
    let grant = GrantId::new(reader.text(255));
    let generation = reader.u64();
    let mut rng = rand::rngs::StdRng::seed_from_u64(reader.u64());
    let minted = key.mint(&grant, generation, &mut rng);
    let minted = minted.expose();
    let opened = key.open(minted);
    if minted.len() <= MAX_TOKEN_CHARS && !grant.as_str().is_empty() {
        let claims = opened.unwrap_or_else(|| panic!("a minted token did not open: {minted}"));
        assert_eq!(claims.grant, grant);
        assert_eq!(claims.generation, generation);
    } else {
        // Known limits of `open` (not reachable from the server, whose grant ids are short
        // and never empty): a token longer than 512 characters, or one naming an empty family,
        // does not open.
        assert!(opened.is_none());
    }
    // Another key never opens it.
    assert!(server_key().open(minted).is_none());
    // One byte changed: never opens.
    let position = usize::from(reader.byte()) << 8 | usize::from(reader.byte());
    let replacement = reader.byte();
    if let Some(mutated) = mutate(minted, position, replacement) {
        assert!(
            key.open(&mutated).is_none(),
            "a minted token with one byte changed still opens: {minted} → {mutated}"
        );
    }

    // 3. Through the server: the refresh grant never succeeds without the real token, and
    //    never revokes the real family.
    let world = shared_world();
    let family = family(world);
    match selector % 3 {
        0 => refresh(world, &text),
        1 => {
            let made_up = server_key().mint(&grant, generation, &mut rng);
            if made_up.expose() != family.refresh_token && grant != family.grant {
                refresh(world, made_up.expose());
            }
        }
        _ => {
            if let Some(mutated) = mutate(&family.refresh_token, position, replacement) {
                assert!(server_key().open(&mutated).is_none());
                refresh(world, &mutated);
            }
        }
    }
});
