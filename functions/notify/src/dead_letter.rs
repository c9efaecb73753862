//! Dead letters: deliveries that failed after every attempt, stored in the status bucket under
//! `dead-letters/<verdict id>/<sink id>.json` until the redeliver command delivers them.
//!
//! A dead letter stores the sink's full address, and a webhook URL may carry credentials, so
//! access to the `dead-letters/` prefix should be as narrow as to the webhook secret.

use filestore::store::{Location, Store, StoreError};
use filestore::verdict::now_rfc3339;
use filestore::webhook::Delivery;
use serde::{Deserialize, Serialize};

use crate::sink::{Sink, SinkKind};

/// Prefix of every dead-letter key.
pub const PREFIX: &str = "dead-letters/";

/// A failed delivery with everything needed to send it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub verdict_id: String,
    pub sink: SinkKind,
    pub sink_id: String,
    /// Webhook URL or EventBridge bus. Stored because redelivery needs it, but never logged.
    pub address: String,
    /// Sent again unchanged on redelivery, so receivers can drop duplicates.
    pub delivery_id: String,
    /// The verdict record that was sent.
    pub body: serde_json::Value,
    /// Attempts so far, by notify and by every redelivery.
    pub attempts: u32,
    /// HTTP status of the last attempt, if it got a response.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// RFC 3339 time of the last failed attempt.
    pub failed_at: String,
}

impl DeadLetter {
    /// Builds the dead letter of a delivery that failed.
    pub fn new(sink: &Sink, verdict_id: &str, body: serde_json::Value, outcome: &Delivery) -> Self {
        Self {
            verdict_id: verdict_id.to_string(),
            sink: sink.kind,
            sink_id: sink.id(),
            address: sink.address.clone(),
            delivery_id: sink.delivery_id(verdict_id),
            body,
            attempts: outcome.attempts,
            last_status: outcome.status,
            last_error: outcome.error.clone(),
            failed_at: now_rfc3339(),
        }
    }

    /// Returns the sink this dead letter was meant for.
    pub fn sink(&self) -> Sink {
        Sink {
            kind: self.sink,
            address: self.address.clone(),
        }
    }

    /// Returns the key of this dead letter in the status bucket.
    pub fn key(&self) -> String {
        key(&self.verdict_id, &self.sink_id)
    }

    /// Adds the attempts of a failed redelivery.
    pub fn record_failure(&mut self, outcome: &Delivery) {
        self.attempts += outcome.attempts;
        self.last_status = outcome.status;
        self.last_error = outcome.error.clone();
        self.failed_at = now_rfc3339();
    }
}

/// Returns the key of the dead letter of one verdict for one sink.
pub fn key(verdict_id: &str, sink_id: &str) -> String {
    format!("{PREFIX}{verdict_id}/{sink_id}.json")
}

/// Returns whether `id` can name a verdict in object keys: 1 to 128 ASCII letters, digits,
/// `-` or `_`. Scan's ids are UUIDs.
pub fn is_valid_verdict_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Stores a dead letter, replacing an earlier one for the same verdict and sink, and returns
/// its key.
pub async fn store(store: &Store, bucket: &str, letter: &DeadLetter) -> Result<String, StoreError> {
    let key = letter.key();
    store.put_json(bucket, &key, letter).await?;
    Ok(key)
}

/// Reads a dead letter, or returns `None` if it is gone.
pub async fn read(
    store: &Store,
    bucket: &str,
    key: &str,
) -> Result<Option<DeadLetter>, StoreError> {
    store.get_json(bucket, key).await
}

/// Deletes a dead letter.
pub async fn remove(store: &Store, bucket: &str, key: &str) -> Result<(), StoreError> {
    let at = Location {
        bucket,
        key,
        version_id: None,
    };
    store.delete(at).await
}

/// Lists the keys of the dead letters of one verdict, or of all verdicts when `verdict_id` is
/// `None`.
pub async fn list(
    store: &Store,
    bucket: &str,
    verdict_id: Option<&str>,
) -> Result<Vec<String>, StoreError> {
    let prefix = match verdict_id {
        Some(id) => format!("{PREFIX}{id}/"),
        None => PREFIX.to_string(),
    };
    let mut pages = store
        .client()
        .list_objects_v2()
        .bucket(bucket)
        .prefix(&prefix)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| StoreError::Request {
            operation: "ListObjectsV2",
            bucket: bucket.to_string(),
            key: prefix.clone(),
            message: aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
        })?;
        let found = page.contents().iter().filter_map(|o| o.key());
        keys.extend(found.filter(|k| k.ends_with(".json")).map(str::to_string));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn letter() -> DeadLetter {
        let sink = Sink {
            kind: SinkKind::Webhook,
            address: "https://hooks.example.com/in?token=s3cret".into(),
        };
        let outcome = Delivery {
            delivered: false,
            attempts: 3,
            status: Some(503),
            error: Some("receiver returned 503 Service Unavailable".into()),
        };
        let body = json!({"id": "9b2f0c1e", "verdict": "clean"});
        DeadLetter::new(&sink, "9b2f0c1e", body, &outcome)
    }

    #[test]
    fn dead_letter_round_trips_as_json() {
        let letter = letter();
        let json = serde_json::to_value(&letter).unwrap();
        assert_eq!(json["sink"], "webhook");
        assert_eq!(json["address"], "https://hooks.example.com/in?token=s3cret");
        assert_eq!(json["delivery_id"], format!("9b2f0c1e.{}", letter.sink_id));
        assert_eq!(json["body"]["verdict"], "clean");
        assert_eq!(json["attempts"], 3);
        assert_eq!(json["last_status"], 503);
        let back: DeadLetter = serde_json::from_value(json).unwrap();
        assert_eq!(back, letter);
        assert_eq!(back.sink(), letter.sink());
    }

    #[test]
    fn dead_letter_key_names_verdict_and_sink() {
        let letter = letter();
        assert_eq!(
            letter.key(),
            format!("dead-letters/9b2f0c1e/{}.json", letter.sink_id)
        );
        assert!(!letter.key().contains("hooks.example.com"));
    }

    #[test]
    fn failure_adds_attempts() {
        let mut letter = letter();
        let again = Delivery {
            delivered: false,
            attempts: 2,
            status: None,
            error: Some("request timed out after 10 s".into()),
        };
        letter.record_failure(&again);
        assert_eq!(letter.attempts, 5);
        assert_eq!(letter.last_status, None);
        assert_eq!(
            letter.last_error.as_deref(),
            Some("request timed out after 10 s")
        );
    }

    #[test]
    fn verdict_ids_are_checked() {
        assert!(is_valid_verdict_id("9b2f0c1e-7a4d-4c1b-8f7e-2d5a6b3c4d5e"));
        assert!(is_valid_verdict_id("test_1"));
        for invalid in ["", "a/b", "..", "a.b", "ü", &"a".repeat(129)] {
            assert!(!is_valid_verdict_id(invalid), "{invalid:?}");
        }
    }
}
