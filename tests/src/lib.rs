//! Harness shared by the demo and the end-to-end tests: the local stack's settings, a client that
//! uploads the way a browser does, a webhook receiver, and the sample files.

pub mod client;
pub mod flaky;
pub mod flow;
pub mod formats;
pub mod receiver;
pub mod samples;
pub mod soak;
pub mod spawn;

/// Settings of the running local stack, read from the environment `scripts/stack.sh` writes.
#[derive(Debug, Clone)]
pub struct StackEnv {
    pub functions_url: String,
    pub incoming_bucket: String,
    pub status_bucket: String,
    pub webhook_secret: Vec<u8>,
    pub scan_token: String,
    /// HS256 key presign verifies bearer tokens with.
    pub jwt_secret: Vec<u8>,
}

impl StackEnv {
    /// Reads the stack settings, failing with the name of the first missing variable.
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| {
            std::env::var(name).map_err(|_| {
                format!(
                    "{name} is not set: start the stack with `make stack-up` and source .stack/env"
                )
            })
        };
        Ok(Self {
            functions_url: var("FUNCTIONS_URL")?.trim_end_matches('/').to_string(),
            incoming_bucket: var("INCOMING_BUCKET")?,
            status_bucket: var("STATUS_BUCKET")?,
            webhook_secret: var("NOTIFY_WEBHOOK_SECRET")?.into_bytes(),
            scan_token: var("SCAN_WEBHOOK_TOKEN")?,
            jwt_secret: var("PRESIGN_JWT_HS256_SECRET")?.into_bytes(),
        })
    }

    /// Returns the URL of a route of one function.
    pub fn url(&self, function: &str, path: &str) -> String {
        format!("{}/{function}{path}", self.functions_url)
    }
}

/// Builds an S3 client for the stack's MinIO from the standard AWS environment.
pub async fn s3_client() -> aws_sdk_s3::Client {
    filestore::store::Store::from_env(true)
        .await
        .client()
        .clone()
}

/// Uploads bytes straight to a bucket, with optional tags in `k1=v1&k2=v2` form, and returns the
/// new object's ETag (without quotes) and version id.
pub async fn put_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
    tagging: Option<&str>,
) -> (String, Option<String>) {
    let output = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .set_tagging(tagging.map(str::to_string))
        .body(bytes.into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("uploading {bucket}/{key} failed: {e:?}"));
    let etag = output
        .e_tag
        .unwrap_or_default()
        .trim_matches('"')
        .to_string();
    (etag, output.version_id)
}

/// Creates a bucket unless it exists, optionally with versioning enabled. It has no
/// notifications, so tests choose which events the scan function receives.
pub async fn ensure_bucket(client: &aws_sdk_s3::Client, bucket: &str, versioned: bool) {
    let created = client.create_bucket().bucket(bucket).send().await;
    if let Err(e) = created
        && !e
            .as_service_error()
            .is_some_and(|s| s.is_bucket_already_owned_by_you())
    {
        panic!("creating bucket {bucket} failed: {e:?}");
    }
    if versioned {
        let configuration = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
            .build();
        client
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(configuration)
            .send()
            .await
            .unwrap_or_else(|e| panic!("enabling versioning on {bucket} failed: {e:?}"));
    }
}

/// Builds an AWS S3 `ObjectCreated:Put` notification for one object, with the key form-encoded
/// as S3 encodes it.
pub fn s3_event(
    bucket: &str,
    key: &str,
    size: usize,
    etag: &str,
    version_id: Option<&str>,
) -> serde_json::Value {
    let encoded: String = key
        .split('/')
        .map(form_urlencoded_segment)
        .collect::<Vec<_>>()
        .join("/");
    let mut object = serde_json::json!({ "key": encoded, "size": size, "eTag": etag, "sequencer": "0A1B2C3D4E5F678901" });
    if let Some(version_id) = version_id {
        object["versionId"] = version_id.into();
    }
    serde_json::json!({ "Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-12-04T12:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": { "principalId": "AWS:AIDAEXAMPLE" },
        "requestParameters": { "sourceIPAddress": "127.0.0.1" },
        "responseElements": { "x-amz-request-id": "0000000000000000", "x-amz-id-2": "test" },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "filestore-test",
            "bucket": { "name": bucket, "ownerIdentity": { "principalId": "test" }, "arn": format!("arn:aws:s3:::{bucket}") },
            "object": object
        }
    }]})
}

fn form_urlencoded_segment(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}
