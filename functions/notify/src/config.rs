//! Settings of the notify function, read once at start-up.

use std::time::Duration;

use filestore::config::{self, ConfigError};

/// Settings of the notify function.
#[derive(Debug, Clone)]
pub struct Config {
    pub status_bucket: String,
    /// Bearer token the scan function sends.
    pub token: String,
    pub webhook_urls: Vec<String>,
    pub webhook_secret: Vec<u8>,
    pub webhook_timeout: Duration,
    pub webhook_attempts: u32,
    pub force_path_style: bool,
}

impl Config {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let webhook_urls = config::list("NOTIFY_WEBHOOK_URLS");
        let webhook_secret = config::optional("NOTIFY_WEBHOOK_SECRET")
            .unwrap_or_default()
            .into_bytes();
        if !webhook_urls.is_empty() && webhook_secret.is_empty() {
            return Err(ConfigError::Missing("NOTIFY_WEBHOOK_SECRET"));
        }
        Ok(Self {
            status_bucket: config::required("STATUS_BUCKET")?,
            token: config::required("NOTIFY_TOKEN")?,
            webhook_urls,
            webhook_secret,
            webhook_timeout: config::seconds(
                "NOTIFY_WEBHOOK_TIMEOUT_SECS",
                Duration::from_secs(10),
            )?,
            webhook_attempts: config::parsed("NOTIFY_WEBHOOK_ATTEMPTS", 3)?,
            force_path_style: config::parsed("S3_FORCE_PATH_STYLE", false)?,
        })
    }
}
