//! Bucket notification parsing: AWS S3 events and MinIO webhook bodies, whether they arrive
//! directly, inside SNS notifications, inside SQS messages, or as EventBridge events.

mod envelope;

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use serde::Serialize;

pub use envelope::{Envelope, SqsMessage, parse_envelope};

/// Error raised when a notification body cannot be read as an S3 event.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("invalid notification body: {0}")]
    InvalidJson(#[from] serde_json::Error),
    #[error("record {index} is missing {field}")]
    MissingField { index: usize, field: &'static str },
    #[error("{kind} envelope is missing {field}")]
    MalformedEnvelope {
        kind: &'static str,
        field: &'static str,
    },
}

/// One object named by a bucket notification record, with its key already decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    /// Size from the record. MinIO leaves it out for zero-byte objects, so `None` is not "unknown".
    pub size: Option<i64>,
    /// Event name without the `s3:` prefix MinIO adds, e.g. `ObjectCreated:Put`.
    pub event_name: String,
    pub sequencer: Option<String>,
}

/// Work a record gives the scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKind {
    /// New content that must be scanned.
    Created(ObjectRef),
    /// A record the scanner has no work for, such as a delete or a tagging change.
    Ignored { event_name: String, key: String },
}

/// Parses a notification body from AWS S3 or a MinIO webhook into one entry per record.
///
/// An empty body or a body without `Records` (MinIO's probe, `s3:TestEvent`) yields no entries.
pub fn parse_notification(body: &[u8]) -> Result<Vec<RecordKind>, EventError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let value: serde_json::Value = serde_json::from_slice(body)?;
    envelope::parse_records(value)
}

/// Parses a value already known to hold S3 records (`{"Records":[...]}` with `s3` entries).
fn parse_s3_records(value: serde_json::Value) -> Result<Vec<RecordKind>, EventError> {
    let event: S3Event = serde_json::from_value(value)?;
    event
        .records
        .iter()
        .enumerate()
        .map(|(index, record)| classify(index, record))
        .collect()
}

fn classify(index: usize, record: &S3EventRecord) -> Result<RecordKind, EventError> {
    let missing = |field| EventError::MissingField { index, field };
    let raw_name = record.event_name.as_deref().ok_or(missing("eventName"))?;
    let event_name = raw_name.strip_prefix("s3:").unwrap_or(raw_name).to_string();
    let bucket = record
        .s3
        .bucket
        .name
        .clone()
        .ok_or(missing("s3.bucket.name"))?;
    let raw_key = record
        .s3
        .object
        .key
        .as_deref()
        .ok_or(missing("s3.object.key"))?;
    let key = decode_key(raw_key);

    if !is_new_content(&event_name) {
        return Ok(RecordKind::Ignored { event_name, key });
    }
    Ok(RecordKind::Created(ObjectRef {
        bucket,
        key,
        version_id: non_empty(record.s3.object.version_id.as_deref()),
        etag: non_empty(
            record
                .s3
                .object
                .e_tag
                .as_deref()
                .map(|e| e.trim_matches('"')),
        ),
        size: record.s3.object.size,
        event_name,
        sequencer: non_empty(record.s3.object.sequencer.as_deref()),
    }))
}

/// Tells whether an event name means new object content.
///
/// Tagging, retention and legal-hold changes also arrive as `ObjectCreated:*` on MinIO, and the
/// scanner's own tagging would otherwise trigger a rescan of the same object.
pub fn is_new_content(event_name: &str) -> bool {
    matches!(
        event_name,
        "ObjectCreated:Put"
            | "ObjectCreated:Post"
            | "ObjectCreated:Copy"
            | "ObjectCreated:CompleteMultipartUpload"
    )
}

/// Decodes an object key exactly once, as S3 and MinIO encode it in records (form encoding).
pub fn decode_key(raw: &str) -> String {
    form_urlencoded::parse(format!("k={raw}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value.filter(|v| !v.is_empty()).map(str::to_string)
}

/// Returns an event's ETag when it has the form HEAD and GET return (32 hex digits, with
/// `-<parts>` after a multipart upload, quotes removed), and `None` otherwise. MinIO puts the
/// sealed 96-digit ETag of an object it encrypts at rest (SSE-S3, SSE-KMS) in its events, which
/// never equals the ETag that HEAD returns, so comparing with it would call every such object
/// replaced. The sealed ETag still identifies the event's object version.
pub fn comparable_etag(value: Option<&str>) -> Option<String> {
    let etag = value?.trim_matches('"');
    let (digest, parts) = match etag.split_once('-') {
        Some((digest, parts)) => (digest, Some(parts)),
        None => (etag, None),
    };
    let digest_ok = digest.len() == 32 && digest.bytes().all(|b| b.is_ascii_hexdigit());
    let parts_ok = parts.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (digest_ok && parts_ok).then(|| etag.to_string())
}

#[cfg(test)]
mod etag_tests {
    use super::comparable_etag;

    #[test]
    fn keeps_md5_and_multipart_etags_and_drops_sealed_ones() {
        let md5 = "183a5804104d01747148b9b7f1bc726b";
        assert_eq!(comparable_etag(Some(md5)).as_deref(), Some(md5));
        assert_eq!(
            comparable_etag(Some("\"183a5804104d01747148b9b7f1bc726b\"")).as_deref(),
            Some(md5)
        );
        assert_eq!(
            comparable_etag(Some("183a5804104d01747148b9b7f1bc726b-12")).as_deref(),
            Some("183a5804104d01747148b9b7f1bc726b-12")
        );
        let sealed = "20000f00b3d8d3bf62795e31ba19662a2b1e893ea59dbb0a110a4622efe33b71358f578fe30d074c92acb2edd0ff1330";
        assert_eq!(comparable_etag(Some(sealed)), None);
        assert_eq!(comparable_etag(Some("")), None);
        assert_eq!(
            comparable_etag(Some("183a5804104d01747148b9b7f1bc726b-")),
            None
        );
        assert_eq!(comparable_etag(None), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../tests/fixtures/events/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"))
    }

    /// Returns the objects of the records that mean new content.
    pub(super) fn created(records: &[RecordKind]) -> Vec<&ObjectRef> {
        records
            .iter()
            .filter_map(|r| match r {
                RecordKind::Created(object) => Some(object),
                RecordKind::Ignored { .. } => None,
            })
            .collect()
    }

    #[test]
    fn aws_event_yields_every_record() {
        let records = parse_notification(&fixture("aws-put-two-records.json")).unwrap();
        let objects = created(&records);
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0].bucket, "incoming");
        assert_eq!(objects[0].key, "uploads/a b/report+final.pdf");
        assert_eq!(objects[0].size, Some(1024));
        assert_eq!(
            objects[0].etag.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(objects[0].event_name, "ObjectCreated:Put");
        assert_eq!(objects[1].key, "uploads/café/naïve 100%.txt");
        assert_eq!(
            objects[1].version_id.as_deref(),
            Some("3HL4kqtJlcpXroDTDmjVBH40Nrjfkd")
        );
    }

    #[test]
    fn minio_event_decodes_slashes_and_strips_prefix() {
        let records = parse_notification(&fixture("minio-put.json")).unwrap();
        let objects = created(&records);
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].bucket, "incoming");
        assert_eq!(objects[0].key, "uploads/0d2c/my file+v2 é.png");
        assert_eq!(objects[0].event_name, "ObjectCreated:Put");
        assert_eq!(objects[0].version_id, None);
    }

    #[test]
    fn minio_zero_byte_object_has_no_size() {
        let records = parse_notification(&fixture("minio-put-empty-object.json")).unwrap();
        let objects = created(&records);
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].size, None);
        assert_eq!(objects[0].etag, None);
    }

    #[test]
    fn tagging_and_delete_events_are_ignored() {
        let records = parse_notification(&fixture("minio-put-tagging.json")).unwrap();
        assert!(created(&records).is_empty());
        assert!(matches!(&records[0], RecordKind::Ignored { event_name, .. }
            if event_name == "ObjectCreated:PutTagging"));

        let records = parse_notification(&fixture("aws-delete.json")).unwrap();
        assert!(created(&records).is_empty());
    }

    #[test]
    fn probe_and_test_event_yield_nothing() {
        assert!(parse_notification(b"").unwrap().is_empty());
        assert!(parse_notification(b"  \n").unwrap().is_empty());
        assert!(
            parse_notification(&fixture("aws-test-event.json"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn malformed_body_is_an_error() {
        assert!(matches!(
            parse_notification(b"{not json"),
            Err(EventError::InvalidJson(_))
        ));
        let no_key = fixture("minio-put-no-key.json");
        let result = parse_notification(&no_key);
        assert!(
            matches!(
                result,
                Err(EventError::MissingField {
                    index: 0,
                    field: "s3.object.key"
                })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn key_with_plus_and_space_is_decoded_once() {
        assert_eq!(decode_key("a+b%2Bc"), "a b+c");
        assert_eq!(decode_key("dir%2Fsub%2Ffile.txt"), "dir/sub/file.txt");
        assert_eq!(decode_key("100%2525"), "100%25");
        assert_eq!(decode_key("caf%C3%A9"), "café");
        assert_eq!(decode_key("plain/key.pdf"), "plain/key.pdf");
    }
}
