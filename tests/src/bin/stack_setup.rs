//! Creates the local stack's buckets and subscribes the scan function's webhook target to new
//! objects in the incoming bucket, through the S3 API. Safe to run again.
//!
//! Environment: `INCOMING_BUCKET`, `STATUS_BUCKET`, `QUARANTINE_BUCKET`, `MINIO_WEBHOOK_ARN` and the standard AWS SDK
//! variables pointing at MinIO.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};

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

async fn setup() -> Result<(), String> {
    let incoming = required("INCOMING_BUCKET")?;
    let status = required("STATUS_BUCKET")?;
    let quarantine = required("QUARANTINE_BUCKET")?;
    let arn = required("MINIO_WEBHOOK_ARN")?;
    let client = filestore_e2e::s3_client().await;

    ensure_bucket(&client, &incoming).await?;
    ensure_bucket(&client, &status).await?;
    ensure_bucket(&client, &quarantine).await?;
    subscribe(&client, &incoming, &arn).await?;

    println!("buckets ready: {incoming} (notifies {arn}), {status}, {quarantine}");
    Ok(())
}

#[tokio::main]
async fn main() {
    if let Err(message) = setup().await {
        eprintln!("stack-setup: {message}");
        std::process::exit(1);
    }
}
