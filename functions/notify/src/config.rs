//! Settings of the notify function and the redeliver command, read once at start-up.

use std::time::Duration;

use filestore::config::{self, ConfigError};
use filestore::webhook::{MAX_RETRY_DELAY, RetryPolicy, check_url};

/// Settings of the notify function.
#[derive(Debug, Clone)]
pub struct Config {
    /// Bearer token the scan function sends.
    pub token: String,
    pub delivery: DeliveryConfig,
}

/// Delivery settings, shared by notify and redeliver: the sinks and how each delivery is tried.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Bucket of the status records and the dead letters.
    pub status_bucket: String,
    pub webhook_urls: Vec<String>,
    pub webhook_secret: Vec<u8>,
    /// Limit on each webhook request.
    pub webhook_timeout: Duration,
    /// Attempts, backoff and deadline of each delivery to each sink.
    pub retry: RetryPolicy,
    /// EventBridge bus name or ARN that gets every verdict, if any.
    pub eventbridge_bus: Option<String>,
    pub force_path_style: bool,
}

impl Config {
    /// Reads the function's settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            token: config::required("NOTIFY_TOKEN")?,
            delivery: DeliveryConfig::from_env()?,
        })
    }
}

impl DeliveryConfig {
    /// Reads the delivery settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let webhook_urls = webhook_urls()?;
        let webhook_secret = config::optional("NOTIFY_WEBHOOK_SECRET")
            .unwrap_or_default()
            .into_bytes();
        if !webhook_urls.is_empty() && webhook_secret.is_empty() {
            return Err(ConfigError::Missing("NOTIFY_WEBHOOK_SECRET"));
        }
        Ok(Self {
            status_bucket: config::required("STATUS_BUCKET")?,
            webhook_urls,
            webhook_secret,
            webhook_timeout: nonzero(
                "NOTIFY_WEBHOOK_TIMEOUT_SECS",
                config::seconds("NOTIFY_WEBHOOK_TIMEOUT_SECS", Duration::from_secs(10))?,
            )?,
            retry: retry_policy()?,
            eventbridge_bus: config::optional("NOTIFY_EVENTBRIDGE_BUS"),
            force_path_style: config::parsed("S3_FORCE_PATH_STYLE", false)?,
        })
    }
}

/// Reads `NOTIFY_WEBHOOK_URLS`. An invalid entry is named by its position, not its text,
/// because a URL may carry credentials.
fn webhook_urls() -> Result<Vec<String>, ConfigError> {
    let urls = config::list("NOTIFY_WEBHOOK_URLS");
    for (index, url) in urls.iter().enumerate() {
        check_url(url).map_err(|e| ConfigError::Invalid {
            name: "NOTIFY_WEBHOOK_URLS",
            value: format!("<entry {} of {}>", index + 1, urls.len()),
            reason: e.to_string(),
        })?;
    }
    Ok(urls)
}

fn retry_policy() -> Result<RetryPolicy, ConfigError> {
    let attempts: u32 = config::parsed("NOTIFY_WEBHOOK_ATTEMPTS", 3)?;
    if attempts == 0 {
        return Err(ConfigError::Invalid {
            name: "NOTIFY_WEBHOOK_ATTEMPTS",
            value: attempts.to_string(),
            reason: "expected at least 1".into(),
        });
    }
    let backoff_ms: u64 = config::parsed("NOTIFY_WEBHOOK_BACKOFF_MS", 200)?;
    Ok(RetryPolicy {
        attempts,
        base_delay: Duration::from_millis(backoff_ms),
        max_delay: MAX_RETRY_DELAY,
        deadline: nonzero(
            "NOTIFY_DELIVERY_DEADLINE_SECS",
            config::seconds("NOTIFY_DELIVERY_DEADLINE_SECS", Duration::from_secs(20))?,
        )?,
    })
}

/// Rejects a zero duration, which would make every delivery fail before its first attempt.
fn nonzero(name: &'static str, value: Duration) -> Result<Duration, ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::Invalid {
            name,
            value: "0".into(),
            reason: "expected at least 1 second".into(),
        });
    }
    Ok(value)
}
