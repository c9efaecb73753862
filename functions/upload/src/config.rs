//! Settings of the upload function, read once at start-up.

use std::time::Duration;

use filestore::config::{self, ConfigError};
use filestore::content::Policy;
use filestore::keys::VaultSettings;

/// Settings of the upload function.
#[derive(Debug, Clone)]
pub struct Config {
    /// Bucket of the encrypted file store.
    pub store_bucket: String,
    /// Bucket of the status records, shared with presign and notify.
    pub status_bucket: String,
    pub clamd_addr: String,
    pub clamd_timeout: Duration,
    /// Largest accepted upload: `UPLOAD_MAX_BYTES`, and never more than clamd can scan.
    pub max_bytes: u64,
    pub policy: Policy,
    pub vault: VaultSettings,
    pub force_path_style: bool,
}

impl Config {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let scan_limit = filestore::decision::scan_limit_from_env()?;
        Ok(Self {
            store_bucket: config::required("STORE_BUCKET")?,
            status_bucket: config::required("STATUS_BUCKET")?,
            clamd_addr: config::or("SCAN_CLAMD_ADDR", "127.0.0.1:3310"),
            clamd_timeout: config::seconds("SCAN_CLAMD_TIMEOUT_SECS", Duration::from_secs(60))?,
            max_bytes: config::bytes("UPLOAD_MAX_BYTES", scan_limit)?.min(scan_limit),
            policy: filestore::decision::policy_from_env()?,
            vault: VaultSettings::from_env()?.ok_or(ConfigError::Missing("VAULT_ADDR"))?,
            force_path_style: config::parsed("S3_FORCE_PATH_STYLE", false)?,
        })
    }
}
