//! Access-token validation (`token::validate` and `token::verify`) against a real key set.
//!
//! Invariants:
//! - any input, as a token: no panic, and it never validates (the fuzzer cannot sign with the
//!   key set's keys; the only tokens that validate are the ones `issue` made);
//! - claims derived from the input, issued with each key: the token validates and round-trips
//!   to exactly those claims;
//! - that token with one byte changed (position and byte from the input): never validates and
//!   never verifies, whatever the change (base64url here is strict: no padding, no
//!   non-canonical trailing bits, so no other spelling decodes to the same bytes).
#![no_main]

use appgrant::model::{ClientId, CompanyId, GrantId, Scopes, TokenId};
use appgrant::token::{
    AccessClaims, Algorithm, Expectations, KeySet, SigningKey, SubjectKind, issue, validate, verify,
};
use appgrant_fuzz::now;
use chrono::TimeDelta;
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use std::sync::OnceLock;

struct Keys {
    /// An Ed25519 current key, an ES256 upcoming key, an HS256 retired key still in its
    /// window, and an Ed25519 retired key past its window.
    set: KeySet,
    /// The keys that sign the derived tokens (the same keys, kept to sign with).
    signers: Vec<SigningKey>,
    /// A key the set does not hold, with the kid of one it does: a token it signs must fail.
    impostor: SigningKey,
    /// A retired key whose window has closed.
    expired: SigningKey,
}

const ISSUER: &str = "https://auth.example.com";
const AUDIENCES: [&str; 2] = ["https://auth.example.com", "https://api.example.com"];

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(14);
        let mut make = |algorithm, kid: &str| {
            SigningKey::generate(algorithm, &mut rng)
                .unwrap()
                .with_kid(kid)
        };
        let current = make(Algorithm::EdDSA, "current");
        let upcoming = make(Algorithm::ES256, "upcoming");
        let expired = make(Algorithm::EdDSA, "expired");
        let impostor = make(Algorithm::EdDSA, "current");
        // The same key material, twice: once in the set, once to sign with.
        let again = |key: &SigningKey| {
            SigningKey::from_pkcs8_pem(key.algorithm(), key.kid(), &key.to_pkcs8_pem().unwrap())
                .unwrap()
        };
        let hmac = || SigningKey::hmac("retired", &[0x42; 32]).unwrap();
        let signers = vec![again(&current), again(&upcoming), hmac()];
        let expired_copy = again(&expired);
        let set = KeySet::scheduled(
            current,
            vec![upcoming],
            vec![
                (hmac(), now() + TimeDelta::hours(1)),
                (expired, now() - TimeDelta::seconds(1)),
            ],
        );
        Keys {
            set,
            signers,
            impostor,
            expired: expired_copy,
        }
    })
}

fn expectations() -> Expectations {
    Expectations {
        issuer: ISSUER.into(),
        audiences: AUDIENCES
            .iter()
            .map(|audience| audience.to_string())
            .collect(),
        leeway_seconds: 0,
    }
}

/// Reads fuzz bytes as fields.
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

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn text(&mut self) -> String {
        let len = usize::from(self.byte() % 24).min(self.0.len());
        let (text, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8_lossy(text).into_owned()
    }
}

/// Claims that validate at `now` (issuer and audience accepted, alive), with free text taken
/// from the input.
fn claims_from(reader: &mut Reader<'_>) -> AccessClaims {
    let now = now().timestamp();
    let iat = now - i64::from(reader.u32() % 3600);
    let exp = now + 1 + i64::from(reader.u32() % 86_400);
    let flags = reader.byte();
    AccessClaims {
        iss: ISSUER.into(),
        sub: reader.text(),
        aud: AUDIENCES[usize::from(flags & 1)].into(),
        exp,
        iat,
        granted_at_ms: i64::from(reader.u32()),
        nbf: (flags & 2 != 0).then_some(iat),
        jti: TokenId::new(reader.text()),
        client_id: ClientId::new(reader.text()),
        grant_kind: if flags & 4 != 0 {
            SubjectKind::User
        } else {
            SubjectKind::ServiceAccount
        },
        company_id: (flags & 8 != 0).then(|| CompanyId::new(reader.text())),
        grant_id: GrantId::new(reader.text()),
        scope: (flags & 16 != 0).then(|| Scopes::parse("rfis:read directory:write").unwrap()),
        cnf: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let expect = expectations();
    let now = now();

    // 1. The input itself, as a token: never a panic, and valid only if it is, byte for byte,
    //    the token `issue` makes for its claims with the key it names (the fuzzer cannot sign;
    //    only the seed corpus's real token, and what it keeps of it whole, validates).
    let text = String::from_utf8_lossy(data);
    if let Ok(verified) = verify(&text, &keys.set, now) {
        let signer = keys
            .signers
            .iter()
            .find(|key| key.kid() == verified.kid)
            .expect("verified by a key of the set");
        assert_eq!(
            issue(&verified.claims, signer),
            text,
            "a token that issue did not make verifies"
        );
    }
    if let Ok(claims) = validate(&text, &keys.set, &expect, now) {
        assert_eq!(verify(&text, &keys.set, now).unwrap().claims, claims);
    }

    // 2. Claims from the input, issued by a key of the set: valid, and the same claims back.
    let mut reader = Reader(data);
    let which = usize::from(reader.byte());
    let signer = &keys.signers[which % keys.signers.len()];
    let claims = claims_from(&mut reader);
    let token = issue(&claims, signer);
    if std::env::var_os("PRINT_SEED_STATE").is_some() {
        eprintln!("{token}");
    }
    let validated = validate(&token, &keys.set, &expect, now)
        .unwrap_or_else(|error| panic!("an issued token did not validate: {error:?}"));
    assert_eq!(validated, claims, "claims did not round-trip");
    let verified = verify(&token, &keys.set, now).unwrap();
    assert_eq!(verified.kid, signer.kid());

    // The same claims signed by a key the set does not hold (under a kid it does), or by a
    // retired key past its window, never validate.
    assert!(validate(&issue(&claims, &keys.impostor), &keys.set, &expect, now).is_err());
    assert!(validate(&issue(&claims, &keys.expired), &keys.set, &expect, now).is_err());

    // 3. One byte of the token changed: never valid, unless the change changed nothing.
    let position = usize::from(reader.byte()) << 8 | usize::from(reader.byte());
    let replacement = reader.byte();
    let mut mutated = token.clone().into_bytes();
    let at = position % mutated.len();
    mutated[at] = replacement;
    if let Ok(mutated) = String::from_utf8(mutated) {
        if mutated != token {
            assert!(
                verify(&mutated, &keys.set, now).is_err(),
                "a token with byte {at} changed to {replacement:#04x} still verifies"
            );
            assert!(validate(&mutated, &keys.set, &expect, now).is_err());
        }
    }

    // 4. Cut short, or with anything appended: never valid.
    let cut = position % token.len();
    assert!(validate(&token[..cut], &keys.set, &expect, now).is_err());
    let mut longer = token.clone();
    longer.push_str(&String::from_utf8_lossy(reader.0));
    if longer != token {
        assert!(
            validate(&longer, &keys.set, &expect, now).is_err(),
            "a token with {:?} appended still validates",
            &longer[token.len()..]
        );
    }
});
