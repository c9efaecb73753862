//! Authentication of upload requests: bearer JWTs verified against a configured key, or API keys.

use crate::config::{self, ConfigError};
use crate::http::{bearer_token, constant_time_eq};
use axum::http::HeaderMap;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Header that carries an API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// Error of a request without valid credentials; every variant becomes 401.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing credentials: send Authorization: Bearer <token> or X-Api-Key")]
    Missing,
    #[error("invalid token: {0}")]
    InvalidToken(#[from] jsonwebtoken::errors::Error),
    #[error("token key id {0:?} is not in the configured key set")]
    UnknownKey(Option<String>),
    #[error("invalid API key")]
    InvalidApiKey,
}

/// The caller a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// JWT `sub`, or `api-key:<name>` for an API key.
    pub subject: String,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
}

/// Checks credentials against the deployment's configured keys.
pub struct Authenticator {
    hs256: Option<DecodingKey>,
    jwks: Option<JwkSet>,
    issuer: Option<String>,
    audience: Option<String>,
    /// API key names with the SHA-256 of each key; the keys themselves are never configured.
    api_keys: Vec<(String, Vec<u8>)>,
    allow_anonymous: bool,
}

impl Authenticator {
    /// Reads `PRESIGN_JWT_HS256_SECRET`, `PRESIGN_JWKS` (a JSON key set), `PRESIGN_JWT_ISSUER`,
    /// `PRESIGN_JWT_AUDIENCE`, `PRESIGN_API_KEYS` (`name=<sha256 hex>,...`) and
    /// `PRESIGN_ALLOW_ANONYMOUS`. At least one credential source, or anonymous access, must be set.
    pub fn from_env() -> Result<Self, ConfigError> {
        let jwks = match config::optional("PRESIGN_JWKS") {
            None => None,
            Some(text) => Some(
                serde_json::from_str(&text).map_err(|e| ConfigError::Invalid {
                    name: "PRESIGN_JWKS",
                    value: "(key set)".into(),
                    reason: e.to_string(),
                })?,
            ),
        };
        let hs256 = match config::optional("PRESIGN_JWT_HS256_SECRET") {
            None => None,
            Some(secret) => Some(DecodingKey::from_secret(secret.as_bytes()).map_err(|e| {
                ConfigError::Invalid {
                    name: "PRESIGN_JWT_HS256_SECRET",
                    value: "(secret)".into(),
                    reason: e.to_string(),
                }
            })?),
        };
        let authenticator = Self {
            hs256,
            jwks,
            issuer: config::optional("PRESIGN_JWT_ISSUER"),
            audience: config::optional("PRESIGN_JWT_AUDIENCE"),
            api_keys: parse_api_keys(&config::list("PRESIGN_API_KEYS"))?,
            allow_anonymous: config::parsed("PRESIGN_ALLOW_ANONYMOUS", false)?,
        };
        let configured = authenticator.hs256.is_some()
            || authenticator.jwks.is_some()
            || !authenticator.api_keys.is_empty();
        if !configured && !authenticator.allow_anonymous {
            return Err(ConfigError::Missing(
                "PRESIGN_JWT_HS256_SECRET, PRESIGN_JWKS or PRESIGN_API_KEYS",
            ));
        }
        Ok(authenticator)
    }

    /// Returns the principal a request's credentials name.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        if let Some(key) = headers.get(API_KEY_HEADER).and_then(|v| v.to_str().ok()) {
            return self.api_key(key);
        }
        match bearer_token(headers) {
            Some(token) => self.jwt(token),
            None if self.allow_anonymous => Ok(Principal {
                subject: "anonymous".into(),
            }),
            None => Err(AuthError::Missing),
        }
    }

    fn api_key(&self, key: &str) -> Result<Principal, AuthError> {
        let digest = Sha256::digest(key.as_bytes());
        self.api_keys
            .iter()
            .find(|(_, expected)| constant_time_eq(expected, &digest))
            .map(|(name, _)| Principal {
                subject: format!("api-key:{name}"),
            })
            .ok_or(AuthError::InvalidApiKey)
    }

    fn jwt(&self, token: &str) -> Result<Principal, AuthError> {
        let header = decode_header(token)?;
        let (key, algorithm) = self.decoding_key(&header)?;
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 30;
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
        }
        match &self.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        let data = decode::<Claims>(token, &key, &validation)?;
        Ok(Principal {
            subject: data.claims.sub,
        })
    }

    /// Picks the key for a token: HS256 uses the shared secret, other algorithms the key set
    /// entry named by `kid`. The algorithm comes from the configured key, never from the token
    /// alone, so a token cannot choose a weaker check.
    fn decoding_key(
        &self,
        header: &jsonwebtoken::Header,
    ) -> Result<(DecodingKey, Algorithm), AuthError> {
        if header.alg == Algorithm::HS256 {
            let key = self
                .hs256
                .clone()
                .ok_or(AuthError::UnknownKey(header.kid.clone()))?;
            return Ok((key, Algorithm::HS256));
        }
        let jwks = self
            .jwks
            .as_ref()
            .ok_or(AuthError::UnknownKey(header.kid.clone()))?;
        let jwk = header
            .kid
            .as_deref()
            .and_then(|kid| jwks.find(kid))
            .ok_or(AuthError::UnknownKey(header.kid.clone()))?;
        let algorithm = jwk
            .common
            .key_algorithm
            .and_then(|a| a.to_string().parse::<Algorithm>().ok())
            .unwrap_or(header.alg);
        if algorithm != header.alg {
            return Err(AuthError::UnknownKey(header.kid.clone()));
        }
        Ok((DecodingKey::from_jwk(jwk)?, algorithm))
    }
}

fn parse_api_keys(entries: &[String]) -> Result<Vec<(String, Vec<u8>)>, ConfigError> {
    entries
        .iter()
        .map(|entry| {
            let invalid = |reason: &str| ConfigError::Invalid {
                name: "PRESIGN_API_KEYS",
                value: entry.split('=').next().unwrap_or_default().to_string() + "=...",
                reason: reason.to_string(),
            };
            let (name, hash) = entry
                .split_once('=')
                .ok_or_else(|| invalid("expected name=<sha256 hex>"))?;
            let digest = hex::decode(hash.trim()).map_err(|_| invalid("hash is not hex"))?;
            if digest.len() != 32 {
                return Err(invalid("hash is not 32 bytes of SHA-256"));
            }
            Ok((name.trim().to_string(), digest))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};

    const SECRET: &str = "test-secret";

    fn authenticator() -> Authenticator {
        Authenticator {
            hs256: Some(DecodingKey::from_secret(SECRET.as_bytes()).unwrap()),
            jwks: None,
            issuer: None,
            audience: None,
            api_keys: parse_api_keys(&[format!("ci={}", hex::encode(Sha256::digest(b"key-1")))])
                .unwrap(),
            allow_anonymous: false,
        }
    }

    fn token(secret: &str, sub: &str, exp_offset: i64) -> String {
        let exp = crate::webhook::unix_now() as i64 + exp_offset;
        let claims = serde_json::json!({ "sub": sub, "exp": exp });
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        headers
    }

    #[test]
    fn valid_token_names_subject() {
        let auth = authenticator().authenticate(&headers(
            "authorization",
            &format!("Bearer {}", token(SECRET, "alice", 600)),
        ));
        assert_eq!(auth.unwrap().subject, "alice");
    }

    #[test]
    fn expired_or_forged_token_is_rejected() {
        let expired = authenticator().authenticate(&headers(
            "authorization",
            &format!("Bearer {}", token(SECRET, "a", -600)),
        ));
        assert!(
            matches!(expired, Err(AuthError::InvalidToken(_))),
            "{expired:?}"
        );
        let forged = authenticator().authenticate(&headers(
            "authorization",
            &format!("Bearer {}", token("other", "a", 600)),
        ));
        assert!(
            matches!(forged, Err(AuthError::InvalidToken(_))),
            "{forged:?}"
        );
        let garbage = authenticator().authenticate(&headers("authorization", "Bearer not.a.jwt"));
        assert!(garbage.is_err());
    }

    #[test]
    fn missing_credentials_are_rejected() {
        assert!(matches!(
            authenticator().authenticate(&HeaderMap::new()),
            Err(AuthError::Missing)
        ));
    }

    #[test]
    fn api_key_is_checked_by_hash() {
        let good = authenticator().authenticate(&headers(API_KEY_HEADER, "key-1"));
        assert_eq!(good.unwrap().subject, "api-key:ci");
        let bad = authenticator().authenticate(&headers(API_KEY_HEADER, "key-2"));
        assert!(matches!(bad, Err(AuthError::InvalidApiKey)));
    }

    #[test]
    fn api_key_config_needs_sha256_hex() {
        assert!(parse_api_keys(&["ci=zz".to_string()]).is_err());
        assert!(parse_api_keys(&["ci=00ff".to_string()]).is_err());
        assert!(parse_api_keys(&["no-equals".to_string()]).is_err());
    }
}
