//! The verdict ledger: one record per object version, written once, so duplicate and late
//! deliveries of the same event replay the first verdict instead of deciding again. Entries
//! live in the status bucket under `verdicts/`.

use filestore::store::StoreError;
use filestore::verdict::VerdictRecord;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::handler::App;

/// One ledger record: the verdict and how far its handling got.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub record: VerdictRecord,
    /// The disposition has been applied, and `record.action` records what it did.
    pub acted: bool,
    /// notify has accepted the verdict.
    pub notified: bool,
}

/// Returns the ledger key for one object version, identified by version id or else ETag.
pub fn ledger_key(bucket: &str, key: &str, identity: &str) -> String {
    let mut hash = Sha256::new();
    for part in [bucket, key, identity] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    format!("verdicts/{}.json", hex::encode(hash.finalize()))
}

/// Returns the verdict already recorded for an object version, if any.
pub async fn find<S>(app: &App<S>, ledger_key: &str) -> Result<Option<Entry>, StoreError> {
    app.store
        .get_json(&app.config.ledger_bucket, ledger_key)
        .await
}

/// Records a verdict unless one exists, and returns the verdict that counts: the new one, or the
/// one a concurrent delivery recorded first.
pub async fn claim<S>(app: &App<S>, ledger_key: &str, entry: Entry) -> Result<Entry, StoreError> {
    if app
        .store
        .put_json_if_absent(&app.config.ledger_bucket, ledger_key, &entry)
        .await?
    {
        return Ok(entry);
    }
    Ok(find(app, ledger_key).await?.unwrap_or(entry))
}

/// Stores the progress of an entry.
pub async fn update<S>(app: &App<S>, ledger_key: &str, entry: &Entry) -> Result<(), StoreError> {
    app.store
        .put_json(&app.config.ledger_bucket, ledger_key, entry)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_key_separates_parts() {
        let a = ledger_key("b", "k1", "v");
        assert_eq!(a, ledger_key("b", "k1", "v"));
        assert_ne!(a, ledger_key("b", "k", "1v"));
        assert_ne!(a, ledger_key("b", "k1", "w"));
        assert!(a.starts_with("verdicts/"));
        assert!(a.ends_with(".json"));
        assert_eq!(a.len(), "verdicts/".len() + 64 + ".json".len());
    }
}
