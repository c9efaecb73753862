//! Settings of the presign function, read once at start-up.

use std::time::Duration;

use filestore::config::{self, ConfigError};
use filestore::content::Policy;

/// Settings of the presign function.
#[derive(Debug, Clone)]
pub struct Config {
    pub incoming_bucket: String,
    pub status_bucket: String,
    pub max_bytes: u64,
    pub expiry: Duration,
    pub policy: Policy,
    pub force_path_style: bool,
}

impl Config {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let extensions = config::or("PRESIGN_ALLOWED_EXTENSIONS", "");
        let policy = Policy::from_list(&extensions).map_err(|e| ConfigError::Invalid {
            name: "PRESIGN_ALLOWED_EXTENSIONS",
            value: extensions.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            incoming_bucket: config::required("INCOMING_BUCKET")?,
            status_bucket: config::required("STATUS_BUCKET")?,
            max_bytes: config::bytes("PRESIGN_MAX_BYTES", 100 << 20)?,
            expiry: config::seconds("PRESIGN_EXPIRY_SECS", Duration::from_secs(900))?,
            policy,
            force_path_style: config::parsed("S3_FORCE_PATH_STYLE", false)?,
        })
    }
}
