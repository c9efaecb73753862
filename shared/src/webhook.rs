//! Signed webhook deliveries.
//!
//! Each delivery carries `X-Filestore-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` where the
//! MAC covers `<t>.<body>` with the shared secret, so a receiver can check both origin and age.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header that carries the timestamp and signature.
pub const SIGNATURE_HEADER: &str = "x-filestore-signature";
/// Header that carries a unique id per delivery attempt series.
pub const DELIVERY_HEADER: &str = "x-filestore-delivery";

type HmacSha256 = Hmac<Sha256>;

/// Error raised when a received signature does not verify.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header is malformed")]
    Malformed,
    #[error(
        "signature timestamp is {age_secs} s away from now, over the {tolerance_secs} s tolerance"
    )]
    Expired { age_secs: u64, tolerance_secs: u64 },
    #[error("signature does not match the body")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: u64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Builds the signature header value for a body sent at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(tag))
}

/// Verifies a signature header against the body, the secret and the current time.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: u64,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<u64>().ok(),
            Some(("v1", value)) => signature = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Malformed);
    };
    let age_secs = now.abs_diff(timestamp);
    if age_secs > tolerance.as_secs() {
        return Err(SignatureError::Expired {
            age_secs,
            tolerance_secs: tolerance.as_secs(),
        });
    }
    mac(secret, timestamp, body)
        .verify_slice(&signature)
        .map_err(|_| SignatureError::Mismatch)
}

/// Returns the current Unix time in seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Outcome of delivering one body to one webhook.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Delivery {
    /// Host and port of the receiver; the full URL may carry secrets, so it is not repeated.
    pub target: String,
    pub delivered: bool,
    pub attempts: u32,
    /// Last HTTP status received, if any.
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// Sends signed JSON bodies to webhook receivers, retrying 5xx, 429 and network failures.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    secret: Vec<u8>,
    attempts: u32,
    backoff: Duration,
}

impl Sender {
    /// Creates a sender with a per-request timeout and at most `attempts` tries per delivery.
    pub fn new(secret: Vec<u8>, timeout: Duration, attempts: u32) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .no_proxy()
            .build()?;
        Ok(Self {
            client,
            secret,
            attempts: attempts.max(1),
            backoff: Duration::from_millis(200),
        })
    }

    /// Delivers one body to one URL, signing each attempt with its own timestamp.
    pub async fn deliver(&self, url: &str, delivery_id: &str, body: &[u8]) -> Delivery {
        let target = reqwest::Url::parse(url)
            .map(|u| {
                format!(
                    "{}:{}",
                    u.host_str().unwrap_or_default(),
                    u.port_or_known_default().unwrap_or_default()
                )
            })
            .unwrap_or_else(|_| "invalid-url".to_string());
        let mut outcome = Delivery {
            target,
            delivered: false,
            attempts: 0,
            status: None,
            error: None,
        };
        while outcome.attempts < self.attempts {
            if outcome.attempts > 0 {
                tokio::time::sleep(self.backoff * 2u32.pow(outcome.attempts - 1)).await;
            }
            outcome.attempts += 1;
            let retry = self.attempt(url, delivery_id, body, &mut outcome).await;
            if outcome.delivered || !retry {
                break;
            }
        }
        outcome
    }

    /// Sends one attempt and returns whether another attempt may succeed.
    async fn attempt(
        &self,
        url: &str,
        delivery_id: &str,
        body: &[u8],
        outcome: &mut Delivery,
    ) -> bool {
        let signature = sign(&self.secret, unix_now(), body);
        let result = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(DELIVERY_HEADER, delivery_id)
            .body(body.to_vec())
            .send()
            .await;
        match result {
            Ok(response) => {
                let status = response.status();
                outcome.status = Some(status.as_u16());
                outcome.delivered = status.is_success();
                outcome.error =
                    (!status.is_success()).then(|| format!("receiver returned {status}"));
                status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            }
            Err(e) => {
                outcome.error = Some(format!("request failed: {e}"));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec-test";
    const TOLERANCE: Duration = Duration::from_secs(300);

    #[test]
    fn signature_verifies() {
        let header = sign(SECRET, 1_700_000_000, br#"{"verdict":"clean"}"#);
        assert!(header.starts_with("t=1700000000,v1="));
        let result = verify(
            SECRET,
            &header,
            br#"{"verdict":"clean"}"#,
            1_700_000_010,
            TOLERANCE,
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn tampered_body_or_secret_fails() {
        let header = sign(SECRET, 1_700_000_000, b"body");
        assert_eq!(
            verify(SECRET, &header, b"bodY", 1_700_000_000, TOLERANCE),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", &header, b"body", 1_700_000_000, TOLERANCE),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn old_signature_is_rejected() {
        let header = sign(SECRET, 1_700_000_000, b"body");
        let result = verify(SECRET, &header, b"body", 1_700_000_301, TOLERANCE);
        assert_eq!(
            result,
            Err(SignatureError::Expired {
                age_secs: 301,
                tolerance_secs: 300
            })
        );
    }

    #[test]
    fn malformed_header_is_rejected() {
        for header in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz"] {
            assert_eq!(
                verify(SECRET, header, b"b", 1, TOLERANCE),
                Err(SignatureError::Malformed)
            );
        }
    }
}
