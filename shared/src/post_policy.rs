//! Presigned POST uploads (browser form uploads) with an S3 POST policy signed with SigV4.
//!
//! The policy pins the bucket, the exact key, the content type and a byte range for the content
//! length, so storage itself rejects an upload that is too large, too small or of another type.
//! The AWS SDK for Rust presigns requests but not POST policies, so the policy document is built
//! here; the signing key and signature come from `aws-sigv4`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use base64::Engine;
use serde::Serialize;
use serde_json::{Value, json};

/// Limits of one presigned POST upload.
#[derive(Debug, Clone)]
pub struct PostRequest<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub content_type: &'a str,
    /// Smallest and largest accepted body, in bytes, both inclusive.
    pub length_range: (u64, u64),
    pub expires_in: Duration,
    pub region: &'a str,
    /// URL of the bucket as the browser reaches it, e.g. `http://127.0.0.1:9100/incoming` (path
    /// style) or `https://incoming.s3.eu-west-1.amazonaws.com` (virtual host).
    pub bucket_url: String,
}

/// A form the browser posts as `multipart/form-data`: every field, then the file last.
#[derive(Debug, Clone, Serialize)]
pub struct PresignedPost {
    pub method: &'static str,
    pub url: String,
    pub fields: BTreeMap<String, String>,
    /// RFC 3339 time after which storage rejects the form.
    pub expires_at: String,
}

/// Formats a time as S3 policies expect it: RFC 3339 in UTC with milliseconds.
fn format_time(time: SystemTime) -> String {
    let seconds = DateTime::from(time).secs();
    let whole = DateTime::from_secs(seconds)
        .fmt(DateTimeFormat::DateTime)
        .expect("the time is representable");
    format!("{}.000Z", whole.trim_end_matches('Z'))
}

/// Returns the SigV4 date (`20261204`) and timestamp (`20261204T101500Z`) of a time.
fn sigv4_dates(time: SystemTime) -> (String, String) {
    let compact: String = format_time(time)
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let timestamp = format!("{}Z", &compact[..15]);
    (compact[..8].to_string(), timestamp)
}

/// Builds and signs the form for one upload at time `now`.
pub fn presign_post(
    request: &PostRequest<'_>,
    credentials: &Credentials,
    now: SystemTime,
) -> PresignedPost {
    let (date, timestamp) = sigv4_dates(now);
    let credential = format!(
        "{}/{date}/{}/s3/aws4_request",
        credentials.access_key_id(),
        request.region
    );
    let expires_at = format_time(now + request.expires_in);

    let mut fields = BTreeMap::from([
        ("key".to_string(), request.key.to_string()),
        ("Content-Type".to_string(), request.content_type.to_string()),
        (
            "x-amz-algorithm".to_string(),
            "AWS4-HMAC-SHA256".to_string(),
        ),
        ("x-amz-credential".to_string(), credential),
        ("x-amz-date".to_string(), timestamp),
    ]);
    if let Some(token) = credentials.session_token() {
        fields.insert("x-amz-security-token".to_string(), token.to_string());
    }
    let policy = policy_document(request, &fields, &expires_at);
    let encoded = base64::engine::general_purpose::STANDARD.encode(policy.to_string());

    let key = aws_sigv4::sign::v4::generate_signing_key(
        credentials.secret_access_key(),
        now,
        request.region,
        "s3",
    );
    let signature = aws_sigv4::sign::v4::calculate_signature(key, encoded.as_bytes());
    fields.insert("policy".to_string(), encoded);
    fields.insert("x-amz-signature".to_string(), signature);
    PresignedPost {
        method: "POST",
        url: request.bucket_url.clone(),
        fields,
        expires_at,
    }
}

/// Builds the policy: every form field must match exactly, and the length must be in range.
fn policy_document(
    request: &PostRequest<'_>,
    fields: &BTreeMap<String, String>,
    expires_at: &str,
) -> Value {
    let mut conditions = vec![json!({ "bucket": request.bucket })];
    conditions.extend(
        fields
            .iter()
            .map(|(name, value)| json!(["eq", format!("${name}"), value])),
    );
    let (min, max) = request.length_range;
    conditions.push(json!(["content-length-range", min, max]));
    json!({ "expiration": expires_at, "conditions": conditions })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> PostRequest<'static> {
        PostRequest {
            bucket: "incoming",
            key: "uploads/abc/report.pdf",
            content_type: "application/pdf",
            length_range: (1, 1024),
            expires_in: Duration::from_secs(600),
            region: "us-east-1",
            bucket_url: "http://127.0.0.1:9100/incoming".to_string(),
        }
    }

    fn credentials(token: Option<&str>) -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            token.map(String::from),
            None,
            "test",
        )
    }

    fn decoded_policy(post: &PresignedPost) -> Value {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&post.fields["policy"])
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn dates_use_sigv4_format() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_400_000);
        assert_eq!(
            sigv4_dates(time),
            ("20261204".to_string(), "20261204T160000Z".to_string())
        );
    }

    #[test]
    fn policy_pins_key_type_and_length() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_400_000);
        let post = presign_post(&request(), &credentials(None), now);
        let policy = decoded_policy(&post);

        assert_eq!(policy["expiration"], "2026-12-04T16:10:00.000Z");
        let conditions = policy["conditions"].as_array().unwrap();
        assert!(conditions.contains(&json!({ "bucket": "incoming" })));
        assert!(conditions.contains(&json!(["eq", "$key", "uploads/abc/report.pdf"])));
        assert!(conditions.contains(&json!(["eq", "$Content-Type", "application/pdf"])));
        assert!(conditions.contains(&json!(["content-length-range", 1, 1024])));
        assert_eq!(
            post.fields["x-amz-credential"],
            "AKIDEXAMPLE/20261204/us-east-1/s3/aws4_request"
        );
        assert_eq!(post.fields["x-amz-signature"].len(), 64);
        assert!(!post.fields.contains_key("x-amz-security-token"));
    }

    #[test]
    fn session_token_is_a_signed_field() {
        let post = presign_post(&request(), &credentials(Some("token-1")), SystemTime::now());
        assert_eq!(post.fields["x-amz-security-token"], "token-1");
        let conditions = decoded_policy(&post)["conditions"].clone();
        assert!(conditions.as_array().unwrap().contains(&json!([
            "eq",
            "$x-amz-security-token",
            "token-1"
        ])));
    }

    #[test]
    fn signature_depends_on_secret() {
        let now = SystemTime::now();
        let first = presign_post(&request(), &credentials(None), now);
        let other = Credentials::new("AKIDEXAMPLE", "other", None, None, "test");
        let second = presign_post(&request(), &other, now);
        assert_eq!(first.fields["policy"], second.fields["policy"]);
        assert_ne!(
            first.fields["x-amz-signature"],
            second.fields["x-amz-signature"]
        );
    }
}
