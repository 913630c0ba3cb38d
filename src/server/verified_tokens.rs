//! Access tokens whose signature this instance has verified, remembered (by digest) until they
//! are evicted, so a token presented again skips its signature check, most of what a decision
//! costs on the memory store. Only what cannot change while a token lives is remembered: the
//! key still verifying, the issuer, audience and times are checked again at every use, and a
//! decision still reads the installation, the acting user, their permissions and revocations
//! fresh, so nothing another instance changes is missed.

use crate::token::{
    AccessClaims, Expectations, KeySet, ValidationError, Verified, revalidate, validate, verify,
};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A bounded cache of verified tokens (none with a capacity of 0).
pub(super) struct VerifiedTokens {
    // quick_cache: a sharded, bounded cache whose eviction keeps tokens presented again and
    // drops one-offs, which a hand-written map would do worse under many concurrent requests.
    cache: Option<quick_cache::sync::Cache<[u8; 32], Arc<Verified>>>,
}

impl VerifiedTokens {
    /// Remembers up to `capacity` tokens.
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            cache: (capacity > 0).then(|| quick_cache::sync::Cache::new(capacity)),
        }
    }

    /// What [`validate`] answers for `token`, verifying its signature only the first time.
    pub(super) fn validate(
        &self,
        token: &str,
        keys: &KeySet,
        expect: &Expectations,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, ValidationError> {
        let Some(cache) = &self.cache else {
            return validate(token, keys, expect, now);
        };
        // By digest: the cache never holds a bearer token.
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(verified) = cache.get(&digest) {
            if let Err(refused) = revalidate(&verified, keys, expect, now) {
                cache.remove(&digest);
                return Err(refused);
            }
            return Ok(verified.claims.clone());
        }
        let verified = verify(token, keys, now)?;
        revalidate(&verified, keys, expect, now)?;
        let claims = verified.claims.clone();
        cache.insert(digest, Arc::new(verified));
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use crate::grant::{TokenGrant, mint_access_token};
    use crate::model::{ClientId, GrantId};
    use crate::token::{Algorithm, SigningKey, SubjectKind};
    use chrono::{TimeDelta, TimeZone};
    use rand::rngs::OsRng;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap()
    }

    fn keys() -> KeySet {
        KeySet::new(SigningKey::generate(Algorithm::EdDSA, &mut OsRng).unwrap())
    }

    fn token(keys: &KeySet, config: &Config) -> String {
        let grant = TokenGrant {
            subject: "john".into(),
            client_id: ClientId::new("field-sync"),
            kind: SubjectKind::User,
            company: None,
            grant: GrantId::new("grant-1"),
            granted_at: t0(),
            scope: None,
            resource: None,
            dpop_jkt: Default::default(),
        };
        let (token, _) = mint_access_token(grant, config, keys, t0(), &mut OsRng);
        token.expose().to_owned()
    }

    #[test]
    fn a_remembered_token_answers_what_validation_answers() {
        let (keys, config) = (keys(), Config::new("https://auth.example.com"));
        let token = token(&keys, &config);
        let cache = VerifiedTokens::new(8);
        let expect = config.expectations();
        let first = cache.validate(&token, &keys, &expect, t0()).unwrap();
        let again = cache.validate(&token, &keys, &expect, t0()).unwrap();
        assert_eq!(first, again);
        assert_eq!(Ok(again), validate(&token, &keys, &expect, t0()));
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let (keys, config) = (keys(), Config::new("https://auth.example.com"));
        let token = token(&keys, &config);
        let cache = VerifiedTokens::new(8);
        let expect = config.expectations();
        cache.validate(&token, &keys, &expect, t0()).unwrap();
        let later = t0() + config.access_token_ttl;
        assert_eq!(
            cache.validate(&token, &keys, &expect, later),
            Err(ValidationError::Expired)
        );
    }

    #[test]
    fn a_remembered_token_stops_when_its_key_no_longer_verifies() {
        let (mut keys, config) = (keys(), Config::new("https://auth.example.com"));
        let token = token(&keys, &config);
        let cache = VerifiedTokens::new(8);
        let expect = config.expectations();
        cache.validate(&token, &keys, &expect, t0()).unwrap();
        let next = SigningKey::generate(Algorithm::EdDSA, &mut OsRng).unwrap();
        keys.rotate(next, t0() + TimeDelta::seconds(60));
        let after_retirement = t0() + TimeDelta::seconds(61);
        assert_eq!(
            cache.validate(&token, &keys, &expect, after_retirement),
            Err(ValidationError::UnknownKey)
        );
    }

    #[test]
    fn a_remembered_token_is_checked_against_what_is_expected_now() {
        let (keys, config) = (keys(), Config::new("https://auth.example.com"));
        let token = token(&keys, &config);
        let cache = VerifiedTokens::new(8);
        cache
            .validate(&token, &keys, &config.expectations(), t0())
            .unwrap();
        let mut elsewhere = config.expectations();
        elsewhere.audiences = vec!["https://api.other.example".into()];
        assert_eq!(
            cache.validate(&token, &keys, &elsewhere, t0()),
            Err(ValidationError::WrongAudience)
        );
    }

    #[test]
    fn a_token_whose_signature_fails_is_refused_every_time() {
        let (keys, config) = (keys(), Config::new("https://auth.example.com"));
        let token = token(&keys, &config);
        let (signed, _) = token.rsplit_once('.').unwrap();
        let forged = format!("{signed}.AAAA");
        let cache = VerifiedTokens::new(8);
        let expect = config.expectations();
        for _ in 0..2 {
            assert!(cache.validate(&forged, &keys, &expect, t0()).is_err());
        }
        // Without a cache, the same answers.
        let none = VerifiedTokens::new(0);
        assert!(none.validate(&forged, &keys, &expect, t0()).is_err());
        assert!(none.validate(&token, &keys, &expect, t0()).is_ok());
    }
}
