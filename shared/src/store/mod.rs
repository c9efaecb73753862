//! Object storage through the S3 API (AWS S3 or MinIO, chosen by the standard SDK endpoint
//! variables such as `AWS_ENDPOINT_URL_S3`).

mod multipart;

pub mod encrypted;
pub use multipart::{CompletedPartRef, PresignedPart};

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::{ByteStream, ByteStreamError};
use aws_sdk_s3::types::{Tag, Tagging};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// S3 allows at most this many tags on one object.
pub const MAX_TAGS: usize = 10;

/// Error raised by a storage call, with the operation and object it concerned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{operation} on {bucket}/{key} failed: {message}")]
    Request {
        operation: &'static str,
        bucket: String,
        key: String,
        message: String,
    },
    #[error("reading {bucket}/{key} failed: {source}")]
    Body {
        bucket: String,
        key: String,
        source: ByteStreamError,
    },
    #[error("stored JSON at {bucket}/{key} is invalid: {source}")]
    Json {
        bucket: String,
        key: String,
        source: serde_json::Error,
    },
    #[error("invalid presign expiry: {0}")]
    Expiry(String),
    #[error("cannot load storage credentials: {0}")]
    Credentials(String),
}

/// Identifies one object, optionally one version of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub version_id: Option<&'a str>,
}

/// Metadata of an object as found by HEAD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

/// Result of adding a tag to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagOutcome {
    Tagged,
    /// The object already has [`MAX_TAGS`] other tags, so none was added.
    LimitReached,
}

/// A presigned request a browser can send without credentials.
#[derive(Debug, Clone, Serialize)]
pub struct PresignedRequest {
    pub method: String,
    pub url: String,
    /// Headers the client must send exactly as given, because they are signed.
    pub headers: BTreeMap<String, String>,
}

/// An S3 client with the operations Filestore needs.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    /// Credentials of the client, kept for signing POST policies, which the SDK cannot presign.
    credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    region: String,
}

fn request_error<E, R>(
    operation: &'static str,
    location: Location<'_>,
    err: SdkError<E, R>,
) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: HttpStatus + std::fmt::Debug + Send + Sync + 'static,
{
    let message = match (err.as_service_error(), http_status(&err)) {
        (Some(service), Some(status)) => format!(
            "HTTP {status} {}: {}",
            service.code().unwrap_or("no error code"),
            service.message().unwrap_or("no message")
        ),
        _ => DisplayErrorContext(err).to_string(),
    };
    StoreError::Request {
        operation,
        bucket: location.bucket.to_string(),
        key: location.key.to_string(),
        message,
    }
}

fn http_status<E, R: HttpStatus>(err: &SdkError<E, R>) -> Option<u16> {
    err.raw_response().map(HttpStatus::status_code)
}

fn is_not_found<E: ProvideErrorMetadata, R: HttpStatus>(err: &SdkError<E, R>) -> bool {
    let code = err.as_service_error().and_then(|e| e.code());
    matches!(code, Some("NoSuchKey" | "NotFound" | "NoSuchVersion"))
        || http_status(err) == Some(404)
}

/// Raw responses whose HTTP status can be read.
trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

impl Store {
    /// Builds a client from the standard AWS environment. `force_path_style` is needed for MinIO.
    pub async fn from_env(force_path_style: bool) -> Self {
        let shared = aws_config::load_from_env().await;
        let config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(force_path_style)
            .build();
        Self {
            client: Client::from_conf(config),
            credentials: shared.credentials_provider(),
            region: shared
                .region()
                .map_or("us-east-1".to_string(), |r| r.to_string()),
        }
    }

    /// Wraps an existing client.
    pub fn new(client: Client) -> Self {
        let region = client
            .config()
            .region()
            .map_or("us-east-1".to_string(), |r| r.to_string());
        Self {
            client,
            credentials: None,
            region,
        }
    }

    /// Returns the underlying SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Returns the object's metadata, or `None` if it (or that version) does not exist.
    pub async fn head(&self, at: Location<'_>) -> Result<Option<ObjectInfo>, StoreError> {
        let result = self
            .client
            .head_object()
            .bucket(at.bucket)
            .key(at.key)
            .set_version_id(at.version_id.map(str::to_string))
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(ObjectInfo {
                size: out.content_length.unwrap_or_default().max(0) as u64,
                etag: out.e_tag.map(|e| e.trim_matches('"').to_string()),
                version_id: out.version_id,
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(request_error("HeadObject", at, e)),
        }
    }

    /// Opens the object's body, only if its ETag still equals `etag` when one is given.
    /// Returns `None` if the object is gone or was replaced.
    pub async fn open(
        &self,
        at: Location<'_>,
        etag: Option<&str>,
    ) -> Result<Option<ByteStream>, StoreError> {
        let result = self
            .client
            .get_object()
            .bucket(at.bucket)
            .key(at.key)
            .set_version_id(at.version_id.map(str::to_string))
            .set_if_match(etag.map(|e| format!("\"{e}\"")))
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(out.body)),
            Err(e) if is_not_found(&e) || http_status(&e) == Some(412) => Ok(None),
            Err(e) => Err(request_error("GetObject", at, e)),
        }
    }

    /// Sets one tag on the object, keeping every other tag it already has.
    pub async fn merge_tag(
        &self,
        at: Location<'_>,
        name: &str,
        value: &str,
    ) -> Result<TagOutcome, StoreError> {
        let current = self
            .client
            .get_object_tagging()
            .bucket(at.bucket)
            .key(at.key)
            .set_version_id(at.version_id.map(str::to_string))
            .send()
            .await
            .map_err(|e| request_error("GetObjectTagging", at, e))?;
        let mut tags: Vec<Tag> = current
            .tag_set
            .into_iter()
            .filter(|t| t.key != name)
            .collect();
        if tags.len() >= MAX_TAGS {
            return Ok(TagOutcome::LimitReached);
        }
        tags.push(
            Tag::builder()
                .key(name)
                .value(value)
                .build()
                .expect("key and value are set"),
        );
        let tagging = Tagging::builder()
            .set_tag_set(Some(tags))
            .build()
            .expect("tag set is set");
        self.client
            .put_object_tagging()
            .bucket(at.bucket)
            .key(at.key)
            .set_version_id(at.version_id.map(str::to_string))
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| request_error("PutObjectTagging", at, e))?;
        Ok(TagOutcome::Tagged)
    }

    /// Deletes the object, or exactly the given version of it.
    pub async fn delete(&self, at: Location<'_>) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(at.bucket)
            .key(at.key)
            .set_version_id(at.version_id.map(str::to_string))
            .send()
            .await
            .map_err(|e| request_error("DeleteObject", at, e))?;
        Ok(())
    }

    /// Stores a value as a JSON object.
    pub async fn put_json<T: Serialize>(
        &self,
        bucket: &str,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let at = Location {
            bucket,
            key,
            version_id: None,
        };
        self.json_put(at, value)?
            .send()
            .await
            .map_err(|e| request_error("PutObject", at, e))?;
        Ok(())
    }

    /// Stores a value as a JSON object only if no object exists at that key yet. Returns `false`
    /// when another writer got there first, so that only one of several concurrent writers wins.
    pub async fn put_json_if_absent<T: Serialize>(
        &self,
        bucket: &str,
        key: &str,
        value: &T,
    ) -> Result<bool, StoreError> {
        let at = Location {
            bucket,
            key,
            version_id: None,
        };
        let result = self.json_put(at, value)?.if_none_match("*").send().await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if matches!(http_status(&e), Some(412 | 409)) => Ok(false),
            Err(e) => Err(request_error("PutObject", at, e)),
        }
    }

    /// Builds a PutObject request whose body is `value` as JSON.
    fn json_put<T: Serialize>(
        &self,
        at: Location<'_>,
        value: &T,
    ) -> Result<aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder, StoreError>
    {
        let body = serde_json::to_vec(value).map_err(|source| StoreError::Json {
            bucket: at.bucket.to_string(),
            key: at.key.to_string(),
            source,
        })?;
        Ok(self
            .client
            .put_object()
            .bucket(at.bucket)
            .key(at.key)
            .content_type("application/json")
            .body(ByteStream::from(body)))
    }

    /// Copies one object version to another bucket under the same key.
    pub async fn copy_to(&self, from: Location<'_>, bucket: &str) -> Result<(), StoreError> {
        let mut source = format!("{}/{}", from.bucket, encode_key(from.key));
        if let Some(version) = from.version_id {
            source.push_str(&format!("?versionId={}", encode_key(version)));
        }
        self.client
            .copy_object()
            .bucket(bucket)
            .key(from.key)
            .copy_source(source)
            .send()
            .await
            .map_err(|e| request_error("CopyObject", from, e))?;
        Ok(())
    }

    /// Reads a JSON object, or returns `None` if it does not exist.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let at = Location {
            bucket,
            key,
            version_id: None,
        };
        let Some(body) = self.open(at, None).await? else {
            return Ok(None);
        };
        let bytes = collect(body, at).await?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StoreError::Json {
                bucket: bucket.to_string(),
                key: key.to_string(),
                source,
            })
    }

    /// Presigns a PUT whose content type and exact length are part of the signature, so storage
    /// rejects an upload of any other length or type.
    pub async fn presign_put(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        size: u64,
        expires_in: Duration,
    ) -> Result<PresignedRequest, StoreError> {
        let at = Location {
            bucket,
            key,
            version_id: None,
        };
        let config = PresigningConfig::expires_in(expires_in)
            .map_err(|e| StoreError::Expiry(e.to_string()))?;
        let presigned = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size as i64)
            .presigned(config)
            .await
            .map_err(|e| request_error("PresignPutObject", at, e))?;
        let headers = presigned
            .headers()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        Ok(PresignedRequest {
            method: presigned.method().to_string(),
            url: presigned.uri().to_string(),
            headers,
        })
    }
}

/// Percent-encodes a key for `x-amz-copy-source`, keeping `/` as the path separator.
fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|segment| {
            form_urlencoded::byte_serialize(segment.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn collect(body: ByteStream, at: Location<'_>) -> Result<Bytes, StoreError> {
    body.collect()
        .await
        .map(|data| data.into_bytes())
        .map_err(|source| StoreError::Body {
            bucket: at.bucket.to_string(),
            key: at.key.to_string(),
            source,
        })
}
