//! Signed webhook deliveries.
//!
//! Each delivery carries `X-Filestore-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` where the
//! MAC covers `<t>.<body>` with the shared secret, so a receiver can check both origin and age,
//! and `X-Filestore-Delivery: <delivery id>`, which stays the same for every attempt and
//! redelivery of one body to one receiver.
//!
//! Replays: [`verify`] rejects a signature whose timestamp is more than the tolerance away from
//! the receiver's clock ([`DEFAULT_TOLERANCE`] is 5 minutes). Within that window a captured
//! request still verifies, so receivers should also drop a delivery id they have already
//! processed.

mod retry;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use sha2::Sha256;

pub use retry::{Attempt, Delivery, MAX_RETRY_DELAY, RetryPolicy, parse_retry_after, retry};

/// Header that carries the timestamp and signature.
pub const SIGNATURE_HEADER: &str = "x-filestore-signature";
/// Header that carries the delivery id, the same for every attempt and redelivery of one body to
/// one receiver, so receivers can drop duplicates.
pub const DELIVERY_HEADER: &str = "x-filestore-delivery";
/// Signature age that receivers should accept, in either direction to allow for clock skew.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

type HmacSha256 = Hmac<Sha256>;

/// Error raised when a received signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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

/// Verifies a signature header against the body, the secret and the current time (`now`, Unix
/// seconds). A timestamp more than `tolerance` before or after `now` is rejected as expired.
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

/// Error raised when a webhook URL cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("webhook URL is not a valid absolute URL")]
    Invalid,
    #[error("webhook URL scheme {0:?} is not http or https")]
    Scheme(String),
}

/// Checks that a webhook URL is an absolute http or https URL. The error never repeats the URL,
/// because a URL may carry credentials.
pub fn check_url(url: &str) -> Result<(), UrlError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| UrlError::Invalid)?;
    match parsed.scheme() {
        "http" | "https" if parsed.host_str().is_some() => Ok(()),
        "http" | "https" => Err(UrlError::Invalid),
        other => Err(UrlError::Scheme(other.to_string())),
    }
}

/// Returns `host:port` of a webhook URL, safe to log: the path, query and user info, which may
/// carry credentials, are left out.
pub fn url_target(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| {
            format!(
                "{}:{}",
                u.host_str().unwrap_or_default(),
                u.port_or_known_default().unwrap_or_default()
            )
        })
        .unwrap_or_else(|_| "invalid-url".to_string())
}

/// Sends signed JSON bodies to webhook receivers under a [`RetryPolicy`].
///
/// 2xx is delivered. 5xx, 429, timeouts and connection errors are retried with backoff, or
/// after the `Retry-After` the receiver sent. Other statuses, including redirects, which are
/// not followed, fail at once.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    secret: Vec<u8>,
    timeout: Duration,
    policy: RetryPolicy,
}

impl Sender {
    /// Creates a sender with a per-request `timeout`. The policy bounds the whole delivery.
    pub fn new(
        secret: Vec<u8>,
        timeout: Duration,
        policy: RetryPolicy,
    ) -> Result<Self, reqwest::Error> {
        // A redirect would replay the signed body to another address, possibly another host.
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            secret,
            timeout,
            policy,
        })
    }

    /// Delivers one body to one URL, signing each attempt with its own timestamp.
    pub async fn deliver(&self, url: &str, delivery_id: &str, body: &[u8]) -> Delivery {
        retry(&self.policy, |_, left| {
            self.attempt(url, delivery_id, body, self.timeout.min(left))
        })
        .await
    }

    async fn attempt(
        &self,
        url: &str,
        delivery_id: &str,
        body: &[u8],
        timeout: Duration,
    ) -> Attempt {
        let signature = sign(&self.secret, unix_now(), body);
        let result = self
            .client
            .post(url)
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(DELIVERY_HEADER, delivery_id)
            .body(body.to_vec())
            .send()
            .await;
        match result {
            Ok(response) => classify_response(response.status(), response.headers()),
            Err(e) => classify_error(e, url, timeout),
        }
    }
}

/// Classifies a receiver's response: 2xx delivered, 5xx and 429 retryable, anything else
/// permanent.
pub fn classify_response(status: StatusCode, headers: &HeaderMap) -> Attempt {
    let code = Some(status.as_u16());
    if status.is_success() {
        return Attempt::Delivered { status: code };
    }
    let error = format!("receiver returned {status}");
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        return Attempt::Retryable {
            status: code,
            error,
            retry_after,
        };
    }
    Attempt::Permanent {
        status: code,
        error,
    }
}

/// Classifies a request that got no response. Only errors raised before sending, such as an
/// invalid URL, are permanent.
fn classify_error(error: reqwest::Error, url: &str, timeout: Duration) -> Attempt {
    let permanent = error.is_builder();
    let message = if error.is_timeout() {
        format!("request timed out after {} s", timeout.as_secs_f32())
    } else {
        describe(error.without_url(), url)
    };
    if permanent {
        return Attempt::Permanent {
            status: None,
            error: message,
        };
    }
    Attempt::Retryable {
        status: None,
        error: message,
        retry_after: None,
    }
}

/// Returns the error with its causes. The caller strips the URL that reqwest adds to its own
/// message, and any cause that repeats the URL gets `host:port` in its place.
fn describe(error: reqwest::Error, url: &str) -> String {
    let mut message = format!("request failed: {error}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message.replace(url, &url_target(url))
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

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn success_statuses_are_delivered() {
        for code in [200, 202, 204] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(
                classify_response(status, &HeaderMap::new()),
                Attempt::Delivered { status: Some(code) }
            );
        }
    }

    #[test]
    fn server_errors_and_429_are_retried() {
        let throttled = classify_response(
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[("retry-after", "7")]),
        );
        assert_eq!(
            throttled,
            Attempt::Retryable {
                status: Some(429),
                error: "receiver returned 429 Too Many Requests".into(),
                retry_after: Some(Duration::from_secs(7)),
            }
        );
        let unavailable = classify_response(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new());
        assert!(matches!(
            unavailable,
            Attempt::Retryable {
                status: Some(503),
                retry_after: None,
                ..
            }
        ));
    }

    #[test]
    fn client_errors_and_redirects_are_permanent() {
        for code in [301, 302, 400, 401, 404, 408, 410, 422] {
            let status = StatusCode::from_u16(code).unwrap();
            let result = classify_response(status, &headers(&[("retry-after", "1")]));
            assert!(
                matches!(result, Attempt::Permanent { status: Some(c), .. } if c == code),
                "{code}: {result:?}"
            );
        }
    }

    #[test]
    fn urls_are_checked_without_echo() {
        assert_eq!(check_url("https://hooks.example.com/in?token=x"), Ok(()));
        assert_eq!(check_url("http://127.0.0.1:9400/webhook"), Ok(()));
        assert_eq!(check_url("hooks.example.com/in"), Err(UrlError::Invalid));
        assert_eq!(check_url("http://"), Err(UrlError::Invalid));
        let error = check_url("ftp://user:s3cret@hooks.example.com/").unwrap_err();
        assert_eq!(error, UrlError::Scheme("ftp".into()));
        assert!(!error.to_string().contains("s3cret"));
    }

    #[test]
    fn url_target_keeps_host_and_port_only() {
        assert_eq!(
            url_target("https://user:pw@hooks.example.com/in?token=s3cret"),
            "hooks.example.com:443"
        );
        assert_eq!(
            url_target("http://127.0.0.1:9400/webhook"),
            "127.0.0.1:9400"
        );
        assert_eq!(url_target("not a url"), "invalid-url");
    }

    #[tokio::test]
    async fn connection_error_hides_url() {
        // Bind, then drop, so the port is closed for the attempt.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let policy = RetryPolicy {
            attempts: 2,
            base_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        let sender = Sender::new(SECRET.to_vec(), Duration::from_secs(2), policy).unwrap();
        let url = format!("http://127.0.0.1:{port}/hook?token=s3cret");

        let outcome = sender.deliver(&url, "v1.webhook-00", b"{}").await;

        assert!(!outcome.delivered);
        assert_eq!(outcome.attempts, 2);
        assert_eq!(outcome.status, None);
        let error = outcome.error.unwrap();
        assert!(error.starts_with("request failed: "), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
    }
}
