//! Creates the local stack's buckets and subscribes the scan function's webhook target to new
//! objects in the incoming bucket, through the S3 API. Safe to run again.
//!
//! The incoming and quarantine buckets are encrypted at rest by MinIO (SSE-S3 with the KMS key
//! the stack gives MinIO). The file store bucket contains bodies the functions encrypted
//! themselves. MinIO removes multipart uploads left unfinished after a day on its own
//! (`stale_uploads_expiry`); on AWS the SAM template adds a lifecycle rule for that.
//!
//! Environment: `INCOMING_BUCKET`, `STATUS_BUCKET`, `QUARANTINE_BUCKET`, `STORE_BUCKET`,
//! `MINIO_WEBHOOK_ARN` and the standard AWS SDK variables pointing at MinIO.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::types::{
    Event, NotificationConfiguration, QueueConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};

/// Events that mean new content. Tagging and other metadata changes are left out, because the
/// scanner's own tagging would otherwise notify it again.
const EVENTS: [&str; 4] = [
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
];

fn required(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

async fn ensure_bucket(client: &Client, bucket: &str) -> Result<(), String> {
    match client.create_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_bucket_already_owned_by_you()) =>
        {
            Ok(())
        }
        Err(e) => Err(format!(
            "creating bucket {bucket} failed: {}",
            DisplayErrorContext(e)
        )),
    }
}

async fn subscribe(client: &Client, bucket: &str, arn: &str) -> Result<(), String> {
    let queue = QueueConfiguration::builder()
        .id("filestore-scan")
        .queue_arn(arn)
        .set_events(Some(EVENTS.iter().map(|e| Event::from(*e)).collect()))
        .build()
        .map_err(|e| format!("invalid queue configuration: {e}"))?;
    let configuration = NotificationConfiguration::builder()
        .queue_configurations(queue)
        .build();
    client
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(configuration)
        .send()
        .await
        .map_err(|e| {
            format!(
                "setting notifications on {bucket} failed: {}",
                DisplayErrorContext(e)
            )
        })?;
    Ok(())
}

/// Makes MinIO encrypt every new object in `bucket` with its KMS key.
async fn encrypt_at_rest(client: &Client, bucket: &str) -> Result<(), String> {
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(|e| format!("invalid encryption rule: {e}"))?;
    let configuration = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(default)
                .build(),
        )
        .build()
        .map_err(|e| format!("invalid encryption configuration: {e}"))?;
    client
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(configuration)
        .send()
        .await
        .map_err(|e| {
            format!(
                "setting default encryption on {bucket} failed: {}",
                DisplayErrorContext(e)
            )
        })?;
    Ok(())
}

async fn setup() -> Result<(), String> {
    let incoming = required("INCOMING_BUCKET")?;
    let status = required("STATUS_BUCKET")?;
    let quarantine = required("QUARANTINE_BUCKET")?;
    let store = required("STORE_BUCKET")?;
    let arn = required("MINIO_WEBHOOK_ARN")?;
    let client = filestore_e2e::s3_client().await;

    ensure_bucket(&client, &incoming).await?;
    ensure_bucket(&client, &status).await?;
    ensure_bucket(&client, &quarantine).await?;
    ensure_bucket(&client, &store).await?;
    encrypt_at_rest(&client, &incoming).await?;
    encrypt_at_rest(&client, &quarantine).await?;
    subscribe(&client, &incoming, &arn).await?;

    println!(
        "buckets ready: {incoming} (encrypted by MinIO, notifies {arn}), {status}, \
         {quarantine} (encrypted by MinIO), {store} (encrypted by the functions)"
    );
    Ok(())
}

#[tokio::main]
async fn main() {
    if let Err(message) = setup().await {
        eprintln!("stack-setup: {message}");
        std::process::exit(1);
    }
}
