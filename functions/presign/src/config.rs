//! Settings of the presign function, read once at start-up.

use std::time::Duration;

use filestore::config::{self, ConfigError};
use filestore::content::Policy;

/// Smallest part S3 accepts for every part but the last.
const MIN_PART: u64 = 5 << 20;
/// Most parts one S3 multipart upload may have.
pub const MAX_PARTS: u64 = 10_000;

/// Settings of the presign function.
#[derive(Debug, Clone)]
pub struct Config {
    pub incoming_bucket: String,
    pub status_bucket: String,
    pub max_bytes: u64,
    /// Uploads larger than this use a multipart upload with presigned part URLs.
    pub multipart_threshold: u64,
    pub part_size: u64,
    pub expiry: Duration,
    pub policy: Policy,
    /// URL of the incoming bucket as browsers reach it, for form uploads.
    pub bucket_url: String,
    pub force_path_style: bool,
}

impl Config {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let extensions = config::or("PRESIGN_ALLOWED_EXTENSIONS", "");
        let policy = Policy::from_list(&extensions).map_err(|e| ConfigError::Invalid {
            name: "PRESIGN_ALLOWED_EXTENSIONS",
            value: extensions.clone(),
            reason: e.to_string(),
        })?;
        let incoming_bucket = config::required("INCOMING_BUCKET")?;
        let force_path_style = config::parsed("S3_FORCE_PATH_STYLE", false)?;
        let part_size = config::bytes("PRESIGN_PART_SIZE", 16 << 20)?;
        if part_size < MIN_PART {
            return Err(ConfigError::Invalid {
                name: "PRESIGN_PART_SIZE",
                value: part_size.to_string(),
                reason: format!("S3 needs parts of at least {MIN_PART} bytes"),
            });
        }
        Ok(Self {
            bucket_url: bucket_url(&incoming_bucket, force_path_style),
            incoming_bucket,
            status_bucket: config::required("STATUS_BUCKET")?,
            max_bytes: config::bytes("PRESIGN_MAX_BYTES", 100 << 20)?,
            multipart_threshold: config::bytes("PRESIGN_MULTIPART_THRESHOLD", 64 << 20)?,
            part_size,
            expiry: config::seconds("PRESIGN_EXPIRY_SECS", Duration::from_secs(900))?,
            policy,
            force_path_style,
        })
    }

    /// Returns the part size for an upload: the configured size, grown when needed so that the
    /// upload fits in S3's 10,000 parts.
    pub fn part_size_for(&self, size: u64) -> u64 {
        let needed = size.div_ceil(MAX_PARTS).next_multiple_of(1 << 20);
        self.part_size.max(needed)
    }
}

/// Builds the browser-facing bucket URL: `PRESIGN_BUCKET_URL` if set, else from the S3 endpoint
/// (`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`) or the AWS regional endpoint.
fn bucket_url(bucket: &str, path_style: bool) -> String {
    if let Some(url) = config::optional("PRESIGN_BUCKET_URL") {
        return url;
    }
    let endpoint =
        config::optional("AWS_ENDPOINT_URL_S3").or_else(|| config::optional("AWS_ENDPOINT_URL"));
    match endpoint {
        Some(endpoint) if path_style => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
        Some(endpoint) => match endpoint.split_once("://") {
            Some((scheme, host)) => format!("{scheme}://{bucket}.{}", host.trim_end_matches('/')),
            None => format!("{endpoint}/{bucket}"),
        },
        None => {
            let region = config::or("AWS_REGION", "us-east-1");
            format!("https://{bucket}.s3.{region}.amazonaws.com")
        }
    }
}
