//! Settings of the scan function, read once at start-up.

use std::time::Duration;

use filestore::config::{self, ConfigError};
use filestore::content::Policy;
use filestore::keys::VaultSettings;

/// Action taken on an object after a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Set the `scan-status` tag and leave the object in place.
    Tag,
    /// Delete exactly the scanned version.
    Delete,
    /// Copy to the quarantine bucket, then delete the scanned version.
    Quarantine,
    /// Clean objects only: keep an encrypted copy in the store bucket, written from the same
    /// read as the scan, then delete the scanned version.
    Store,
}

impl std::str::FromStr for Disposition {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "tag" => Ok(Self::Tag),
            "delete" => Ok(Self::Delete),
            "quarantine" => Ok(Self::Quarantine),
            "store" => Ok(Self::Store),
            _ => Err("expected tag, delete, quarantine or store".to_string()),
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
    /// Bucket of the encrypted file store, for the `store` disposition.
    pub store_bucket: Option<String>,
    /// Vault settings for data keys; required by the `store` disposition.
    pub vault: Option<VaultSettings>,
    /// Bucket holding the verdict ledger, which makes one verdict per object version final.
    pub ledger_bucket: String,
    /// Bearer token MinIO's webhook target must send; the HTTP front door is closed when unset.
    pub webhook_token: Option<String>,
    pub notify_url: String,
    pub notify_token: String,
    pub force_path_style: bool,
}

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
        let store_bucket = config::optional("STORE_BUCKET");
        let vault = VaultSettings::from_env()?;
        if dispositions.clean == Disposition::Store {
            if store_bucket.is_none() {
                return Err(ConfigError::Missing("STORE_BUCKET"));
            }
            if vault.is_none() {
                return Err(ConfigError::Missing("VAULT_ADDR"));
            }
        }
        let only_clean_stores = [
            dispositions.infected,
            dispositions.spoofed,
            dispositions.unscannable,
            dispositions.error,
        ]
        .iter()
        .all(|d| *d != Disposition::Store);
        if !only_clean_stores {
            return Err(ConfigError::Invalid {
                name: "SCAN_ACTION_*",
                value: "store".into(),
                reason: "only clean objects may go to the file store".into(),
            });
        }
        Ok(Self {
            store_bucket,
            vault,
            clamd_addr: config::or("SCAN_CLAMD_ADDR", "127.0.0.1:3310"),
            clamd_timeout: config::seconds("SCAN_CLAMD_TIMEOUT_SECS", Duration::from_secs(60))?,
            max_bytes: filestore::decision::scan_limit_from_env()?,
            attempts: config::parsed("SCAN_ATTEMPTS", 3)?,
            policy: filestore::decision::policy_from_env()?,
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

/// Clean objects go to the file store when one is configured, and are tagged in place otherwise.
fn read_dispositions() -> Result<Dispositions, ConfigError> {
    let clean_default = if config::optional("STORE_BUCKET").is_some() {
        Disposition::Store
    } else {
        Disposition::Tag
    };
    Ok(Dispositions {
        clean: config::parsed("SCAN_ACTION_CLEAN", clean_default)?,
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
        assert_eq!("store".parse::<Disposition>(), Ok(Disposition::Store));
        assert!("move".parse::<Disposition>().is_err());
    }
}
