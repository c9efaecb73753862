//! Verdicts, the actions taken on them, and the status record an uploader polls.

use serde::{Deserialize, Serialize};

/// Outcome of scanning one object version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Clean,
    Infected {
        signature: String,
    },
    Spoofed {
        declared: String,
        detected: String,
        /// Reason the content does not match, in plain words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The object could not be fully scanned, for example because it is over the scanner's limits.
    Unscannable {
        reason: String,
    },
    /// Scanning failed after retries; the object is not served.
    Error {
        reason: String,
    },
}

impl Verdict {
    /// Short lowercase name, as used in tags and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Clean => "clean",
            Self::Infected { .. } => "infected",
            Self::Spoofed { .. } => "spoofed",
            Self::Unscannable { .. } => "unscannable",
            Self::Error { .. } => "error",
        }
    }
}

/// Action the scanner took on the object after the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Tagged,
    Deleted,
    /// Copied to the quarantine bucket, then deleted from the incoming bucket.
    Quarantined,
    /// Encrypted into the file store, then deleted from the incoming bucket.
    Stored,
    /// Nothing was changed. `action_note` gives the reason (object replaced, tag limit reached).
    Skipped,
}

/// A verdict on one object version, as sent to notify and stored in the status record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictRecord {
    /// Unique id of this verdict, so receivers can drop duplicates.
    pub id: String,
    pub upload_id: Option<String>,
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    pub size: u64,
    pub declared_type: Option<String>,
    pub detected_type: Option<String>,
    #[serde(flatten)]
    pub verdict: Verdict,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_note: Option<String>,
    /// Id of the encrypted copy in the file store, for `stored` objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// RFC 3339 time the verdict was reached.
    pub scanned_at: String,
    pub scan_ms: u64,
}

/// State of an upload as shown to its uploader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStatus {
    pub upload_id: String,
    pub filename: String,
    pub key: String,
    pub content_type: String,
    pub size: u64,
    /// `pending` until a verdict exists, then the verdict's name.
    pub status: String,
    pub created_at: String,
    pub verdict: Option<VerdictRecord>,
    /// Subject of the credential that created the upload; only it may read the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Storage's id of a multipart upload, needed to complete or abort it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart_upload_id: Option<String>,
}

/// Prefix of every key that presign hands out; the upload id is the next path segment.
pub const UPLOAD_PREFIX: &str = "uploads/";

/// Returns the object key for an upload id and an already sanitised file name.
pub fn upload_key(upload_id: &str, file_name: &str) -> String {
    format!("{UPLOAD_PREFIX}{upload_id}/{file_name}")
}

/// Returns the upload id encoded in a key made by [`upload_key`].
pub fn upload_id_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(UPLOAD_PREFIX)?;
    let (id, name) = rest.split_once('/')?;
    (!id.is_empty() && !name.is_empty()).then_some(id)
}

/// Returns the key of an upload's status record in the status bucket.
pub fn status_key(upload_id: &str) -> String {
    format!("status/{upload_id}.json")
}

/// Returns the current time in RFC 3339 form.
pub fn now_rfc3339() -> String {
    let now = aws_sdk_s3::primitives::DateTime::from(std::time::SystemTime::now());
    now.fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime)
        .expect("the current time is representable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_id_round_trips_through_key() {
        let key = upload_key("7f1c", "report final.pdf");
        assert_eq!(key, "uploads/7f1c/report final.pdf");
        assert_eq!(upload_id_of(&key), Some("7f1c"));
        assert_eq!(upload_id_of("other/7f1c/a.pdf"), None);
        assert_eq!(upload_id_of("uploads/7f1c"), None);
        assert_eq!(upload_id_of("uploads//a.pdf"), None);
    }

    #[test]
    fn verdict_serialises_flat() {
        let verdict = Verdict::Infected {
            signature: "Eicar-Test-Signature".into(),
        };
        let json = serde_json::to_value(&verdict).unwrap();
        assert_eq!(json["verdict"], "infected");
        assert_eq!(json["signature"], "Eicar-Test-Signature");
        assert_eq!(serde_json::from_value::<Verdict>(json).unwrap(), verdict);
    }
}
