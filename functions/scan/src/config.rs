//! Settings of the scan function, read once at start-up.

use std::time::Duration;

use filestore::config::{self, ConfigError};
use filestore::content::{Policy, PolicyOptions};

/// Action taken on an object after a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Set the `scan-status` tag and leave the object in place.
    Tag,
    /// Delete exactly the scanned version.
    Delete,
    /// Copy to the quarantine bucket, then delete the scanned version.
    Quarantine,
}

impl std::str::FromStr for Disposition {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "tag" => Ok(Self::Tag),
            "delete" => Ok(Self::Delete),
            "quarantine" => Ok(Self::Quarantine),
            _ => Err("expected tag, delete or quarantine".to_string()),
        }
    }
}

/// The disposition for each verdict.
#[derive(Debug, Clone, Copy)]
pub struct Dispositions {
    pub clean: Disposition,
    pub infected: Disposition,
    pub spoofed: Disposition,
    pub unscannable: Disposition,
    pub error: Disposition,
}

/// Settings of the scan function.
#[derive(Debug, Clone)]
pub struct Config {
    pub clamd_addr: String,
    pub clamd_timeout: Duration,
    /// Largest object scanned: the smallest of `SCAN_MAX_BYTES` and clamd's `StreamMaxLength`,
    /// `MaxFileSize` and `MaxScanSize`, because clamd reports content past its own limits as clean
    /// without scanning it.
    pub max_bytes: u64,
    /// Attempts per object when clamd fails before the verdict becomes `error`.
    pub attempts: u32,
    pub policy: Policy,
    pub dispositions: Dispositions,
    pub quarantine_bucket: Option<String>,
    /// Bucket holding the verdict ledger, which makes one verdict per object version final.
    pub ledger_bucket: String,
    /// Bearer token MinIO's webhook target must send; the HTTP front door is closed when unset.
    pub webhook_token: Option<String>,
    pub notify_url: String,
    pub notify_token: String,
    pub force_path_style: bool,
}

/// ClamAV scans at most 2 GiB minus one byte of any stream, whatever its settings.
pub const CLAMAV_HARD_LIMIT: u64 = (2 << 30) - 1;

impl Config {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let dispositions = read_dispositions()?;
        let quarantine_bucket = config::optional("QUARANTINE_BUCKET");
        let uses_quarantine = [
            dispositions.infected,
            dispositions.spoofed,
            dispositions.unscannable,
        ]
        .contains(&Disposition::Quarantine);
        if uses_quarantine && quarantine_bucket.is_none() {
            return Err(ConfigError::Missing("QUARANTINE_BUCKET"));
        }
        Ok(Self {
            clamd_addr: config::or("SCAN_CLAMD_ADDR", "127.0.0.1:3310"),
            clamd_timeout: config::seconds("SCAN_CLAMD_TIMEOUT_SECS", Duration::from_secs(60))?,
            max_bytes: scan_limit()?,
            attempts: config::parsed("SCAN_ATTEMPTS", 3)?,
            policy: read_policy()?,
            dispositions,
            quarantine_bucket,
            ledger_bucket: config::required("STATUS_BUCKET")?,
            webhook_token: config::optional("SCAN_WEBHOOK_TOKEN"),
            notify_url: config::required("NOTIFY_URL")?,
            notify_token: config::required("NOTIFY_TOKEN")?,
            force_path_style: config::parsed("S3_FORCE_PATH_STYLE", false)?,
        })
    }
}

/// Returns the effective scan limit. The defaults are clamd's own defaults (ClamAV 1.4).
fn scan_limit() -> Result<u64, ConfigError> {
    let limits = [
        config::bytes("SCAN_MAX_BYTES", CLAMAV_HARD_LIMIT)?,
        config::bytes("CLAMD_STREAM_MAX_LENGTH", 100 << 20)?,
        config::bytes("CLAMD_MAX_FILE_SIZE", 100 << 20)?,
        config::bytes("CLAMD_MAX_SCAN_SIZE", 400 << 20)?,
        CLAMAV_HARD_LIMIT,
    ];
    Ok(limits.into_iter().min().unwrap_or(CLAMAV_HARD_LIMIT))
}

fn read_policy() -> Result<Policy, ConfigError> {
    let extensions = config::or("SCAN_ALLOWED_EXTENSIONS", "");
    let options = PolicyOptions {
        allow_executables: config::parsed("SCAN_ALLOW_EXECUTABLES", false)?,
        allow_active_content: config::parsed("SCAN_ALLOW_ACTIVE_CONTENT", false)?,
        allow_encrypted: config::parsed("SCAN_ALLOW_ENCRYPTED", false)?,
    };
    Policy::with_options(&extensions, options).map_err(|e| ConfigError::Invalid {
        name: "SCAN_ALLOWED_EXTENSIONS",
        value: extensions.clone(),
        reason: e.to_string(),
    })
}

fn read_dispositions() -> Result<Dispositions, ConfigError> {
    Ok(Dispositions {
        clean: config::parsed("SCAN_ACTION_CLEAN", Disposition::Tag)?,
        infected: config::parsed("SCAN_ACTION_INFECTED", Disposition::Delete)?,
        spoofed: config::parsed("SCAN_ACTION_SPOOFED", Disposition::Delete)?,
        unscannable: config::parsed("SCAN_ACTION_UNSCANNABLE", Disposition::Delete)?,
        error: config::parsed("SCAN_ACTION_ERROR", Disposition::Tag)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_parses_known_words() {
        assert_eq!("tag".parse::<Disposition>(), Ok(Disposition::Tag));
        assert_eq!(" Delete ".parse::<Disposition>(), Ok(Disposition::Delete));
        assert_eq!(
            "QUARANTINE".parse::<Disposition>(),
            Ok(Disposition::Quarantine)
        );
        assert!("move".parse::<Disposition>().is_err());
    }
}
