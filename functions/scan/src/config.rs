//! Settings of the scan function, read once at start-up.

use std::time::Duration;

use filestore::config::{self, ConfigError};
use filestore::content::Policy;

/// Settings of the scan function.
#[derive(Debug, Clone)]
pub struct Config {
    pub clamd_addr: String,
    pub clamd_timeout: Duration,
    /// Largest object scanned. It must not exceed clamd's `StreamMaxLength`, `MaxFileSize` or
    /// `MaxScanSize`, because clamd reports content past those limits as clean without scanning it.
    pub max_bytes: u64,
    /// Attempts per object when clamd fails before the verdict becomes `error`.
    pub attempts: u32,
    pub policy: Policy,
    /// Bearer token MinIO's webhook target must send; the HTTP front door is closed when unset.
    pub webhook_token: Option<String>,
    pub notify_url: String,
    pub notify_token: String,
    pub force_path_style: bool,
}

/// ClamAV refuses to scan more than 2 GiB in any case.
const CLAMAV_HARD_LIMIT: u64 = (2 << 30) - 1;

impl Config {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let max_bytes = config::bytes("SCAN_MAX_BYTES", 100 << 20)?;
        if max_bytes > CLAMAV_HARD_LIMIT {
            return Err(ConfigError::Invalid {
                name: "SCAN_MAX_BYTES",
                value: max_bytes.to_string(),
                reason: format!("ClamAV cannot scan more than {CLAMAV_HARD_LIMIT} bytes"),
            });
        }
        let extensions = config::or("SCAN_ALLOWED_EXTENSIONS", "");
        let policy = Policy::from_list(&extensions).map_err(|e| ConfigError::Invalid {
            name: "SCAN_ALLOWED_EXTENSIONS",
            value: extensions.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            clamd_addr: config::or("SCAN_CLAMD_ADDR", "127.0.0.1:3310"),
            clamd_timeout: config::seconds("SCAN_CLAMD_TIMEOUT_SECS", Duration::from_secs(60))?,
            max_bytes,
            attempts: config::parsed("SCAN_ATTEMPTS", 3)?,
            policy,
            webhook_token: config::optional("SCAN_WEBHOOK_TOKEN"),
            notify_url: config::required("NOTIFY_URL")?,
            notify_token: config::required("NOTIFY_TOKEN")?,
            force_path_style: config::parsed("S3_FORCE_PATH_STYLE", false)?,
        })
    }
}
