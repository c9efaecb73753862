//! Envelopes around S3 records: SQS messages, SNS notifications and EventBridge events.

use serde_json::Value;

use super::{EventError, ObjectRef, RecordKind, decode_key, parse_notification, parse_s3_records};

/// A parsed invocation payload.
#[derive(Debug)]
pub enum Envelope {
    /// Records of one notification; a failure fails the whole invocation.
    Records(Vec<RecordKind>),
    /// An SQS batch, whose messages succeed or fail one by one.
    Sqs(Vec<SqsMessage>),
}

/// One SQS message of a batch with its own parse result, so one bad message fails alone.
#[derive(Debug)]
pub struct SqsMessage {
    pub message_id: String,
    pub records: Result<Vec<RecordKind>, EventError>,
}

/// Parses an invocation payload of any supported shape.
pub fn parse_envelope(value: Value) -> Result<Envelope, EventError> {
    if first_record_field(&value, "eventSource") == Some("aws:sqs") {
        return Ok(Envelope::Sqs(sqs_messages(&value)?));
    }
    parse_records(value).map(Envelope::Records)
}

/// Parses S3 records, SNS-wrapped records or an EventBridge event. A payload with none of these
/// (a probe, `s3:TestEvent`) yields no records.
pub(super) fn parse_records(value: Value) -> Result<Vec<RecordKind>, EventError> {
    if value.get("detail-type").is_some() {
        return eventbridge(&value).map(|record| vec![record]);
    }
    if value.get("Type").and_then(Value::as_str) == Some("Notification") {
        let message = str_field(&value, "/Message", "SNS notification")?;
        return parse_notification(message.as_bytes());
    }
    if value.get("Records").is_none() {
        return Ok(Vec::new());
    }
    if first_record_field(&value, "EventSource") == Some("aws:sns") {
        return sns_records(&value);
    }
    parse_s3_records(value)
}

fn first_record_field<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value
        .get("Records")?
        .as_array()?
        .first()?
        .get(field)?
        .as_str()
}

fn records<'a>(value: &'a Value, kind: &'static str) -> Result<&'a Vec<Value>, EventError> {
    value
        .get("Records")
        .and_then(Value::as_array)
        .ok_or(EventError::MalformedEnvelope {
            kind,
            field: "Records",
        })
}

fn str_field<'a>(
    value: &'a Value,
    pointer: &'static str,
    kind: &'static str,
) -> Result<&'a str, EventError> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or(EventError::MalformedEnvelope {
            kind,
            field: pointer,
        })
}

fn sqs_messages(value: &Value) -> Result<Vec<SqsMessage>, EventError> {
    records(value, "SQS")?
        .iter()
        .map(|message| {
            let message_id = str_field(message, "/messageId", "SQS message")?.to_string();
            let records = str_field(message, "/body", "SQS message")
                .and_then(|body| parse_notification(body.as_bytes()));
            Ok(SqsMessage {
                message_id,
                records,
            })
        })
        .collect()
}

fn sns_records(value: &Value) -> Result<Vec<RecordKind>, EventError> {
    let mut all = Vec::new();
    for record in records(value, "SNS")? {
        let message = str_field(record, "/Sns/Message", "SNS record")?;
        all.extend(parse_notification(message.as_bytes())?);
    }
    Ok(all)
}

/// Reads an EventBridge event from S3 (`source` `aws.s3`).
///
/// NOTE: keys are decoded like S3 notification keys (form encoding). Keys in S3's own
/// EventBridge samples contain no characters that would show the difference.
fn eventbridge(value: &Value) -> Result<RecordKind, EventError> {
    const KIND: &str = "EventBridge event";
    let detail_type = str_field(value, "/detail-type", KIND)?;
    let key = decode_key(str_field(value, "/detail/object/key", KIND)?);
    if value.get("source").and_then(Value::as_str) != Some("aws.s3")
        || detail_type != "Object Created"
    {
        return Ok(RecordKind::Ignored {
            event_name: detail_type.to_string(),
            key,
        });
    }
    let text = |pointer: &str| {
        value
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let reason = value
        .pointer("/detail/reason")
        .and_then(Value::as_str)
        .unwrap_or("PutObject");
    Ok(RecordKind::Created(ObjectRef {
        bucket: str_field(value, "/detail/bucket/name", KIND)?.to_string(),
        key,
        version_id: text("/detail/object/version-id"),
        etag: text("/detail/object/etag").map(|e| e.trim_matches('"').to_string()),
        size: value.pointer("/detail/object/size").and_then(Value::as_i64),
        event_name: created_event_name(reason).to_string(),
        sequencer: text("/detail/object/sequencer"),
    }))
}

/// Maps EventBridge's `reason` to the matching S3 notification event name.
fn created_event_name(reason: &str) -> &'static str {
    match reason {
        "CopyObject" => "ObjectCreated:Copy",
        "CompleteMultipartUpload" => "ObjectCreated:CompleteMultipartUpload",
        "PostObject" | "POST Object" => "ObjectCreated:Post",
        _ => "ObjectCreated:Put",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::tests::created;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/../tests/fixtures/events/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn sqs_batch_keeps_bad_message_apart() {
        let Envelope::Sqs(messages) = parse_envelope(fixture("sqs-batch.json")).unwrap() else {
            panic!("an SQS batch must parse as Sqs");
        };
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[0].message_id, "msg-1");
        let first = messages[0].records.as_ref().unwrap();
        assert_eq!(created(first)[0].key, "uploads/a b/c+d.pdf");
        assert!(
            messages[1].records.as_ref().unwrap().is_empty(),
            "s3:TestEvent has no records"
        );
        assert!(
            messages[2].records.is_err(),
            "a body that is not JSON fails only its message"
        );
    }

    #[test]
    fn sns_records_are_unwrapped() {
        let Envelope::Records(records) = parse_envelope(fixture("sns-s3.json")).unwrap() else {
            panic!("an SNS event must parse as records");
        };
        let objects = created(&records);
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].bucket, "incoming");
        assert_eq!(objects[0].key, "uploads/x/report 2026.pdf");
    }

    #[test]
    fn sns_inside_sqs_is_unwrapped() {
        let Envelope::Sqs(messages) = parse_envelope(fixture("sqs-sns-s3.json")).unwrap() else {
            panic!("an SQS batch must parse as Sqs");
        };
        let records = messages[0].records.as_ref().unwrap();
        assert_eq!(created(records)[0].key, "uploads/x/report 2026.pdf");
    }

    #[test]
    fn eventbridge_object_created_is_read() {
        let Envelope::Records(records) =
            parse_envelope(fixture("eventbridge-object-created.json")).unwrap()
        else {
            panic!("an EventBridge event must parse as records");
        };
        let objects = created(&records);
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].bucket, "incoming");
        assert_eq!(objects[0].key, "uploads/eb/photo one.png");
        assert_eq!(objects[0].size, Some(2048));
        assert_eq!(objects[0].version_id.as_deref(), Some("vid-42"));
        assert_eq!(
            objects[0].event_name,
            "ObjectCreated:CompleteMultipartUpload"
        );
    }

    #[test]
    fn eventbridge_other_detail_types_are_ignored() {
        let mut event = fixture("eventbridge-object-created.json");
        event["detail-type"] = Value::from("Object Deleted");
        let Envelope::Records(records) = parse_envelope(event).unwrap() else {
            panic!("an EventBridge event must parse as records");
        };
        assert!(created(&records).is_empty());
    }

    #[test]
    fn eventbridge_without_key_is_malformed() {
        let mut event = fixture("eventbridge-object-created.json");
        event["detail"]["object"]
            .as_object_mut()
            .unwrap()
            .remove("key");
        let result = parse_envelope(event);
        assert!(matches!(
            result,
            Err(EventError::MalformedEnvelope {
                field: "/detail/object/key",
                ..
            })
        ));
    }
}
