//! Harness shared by the demo and the end-to-end tests: the local stack's settings, a client that
//! uploads the way a browser does, a webhook receiver, and the sample files.

pub mod client;
pub mod flow;
pub mod receiver;
pub mod samples;

/// Settings of the running local stack, read from the environment `scripts/stack.sh` writes.
#[derive(Debug, Clone)]
pub struct StackEnv {
    pub functions_url: String,
    pub incoming_bucket: String,
    pub status_bucket: String,
    pub webhook_secret: Vec<u8>,
    pub scan_token: String,
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
