//! The main job end to end for one file: presign, upload, wait for the verdict and the webhook.

use std::time::{Duration, Instant};

use filestore::verdict::VerdictRecord;

use crate::client::Uploader;
use crate::receiver::Receiver;
use crate::samples::Sample;

/// How long one file may take from upload to verdict before the flow gives up.
pub const VERDICT_WAIT: Duration = Duration::from_secs(90);

/// What happened to one file.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub sample: Sample,
    pub upload_id: String,
    pub key: String,
    pub verdict: VerdictRecord,
    pub webhook_delivered: bool,
    pub webhook_verified: bool,
    /// Milliseconds from the end of the upload to the webhook delivery, or to the polled verdict
    /// when no delivery arrived.
    pub upload_to_verdict_ms: u128,
}

/// Runs one sample through presign, upload, scan and notify.
pub async fn run(
    uploader: &Uploader,
    receiver: &Receiver,
    sample: &Sample,
) -> Result<Outcome, String> {
    let ticket = uploader
        .presign(
            &sample.filename,
            sample.content_type,
            sample.bytes.len() as u64,
        )
        .await?;
    let status = uploader
        .upload(&ticket, sample.bytes.clone())
        .await
        .map_err(|e| format!("upload failed: {e}"))?;
    if !(200..300).contains(&status) {
        return Err(format!(
            "storage answered {status} to the upload of {}",
            sample.filename
        ));
    }
    let uploaded = Instant::now();

    let final_status = uploader.wait_for_verdict(&ticket.id, VERDICT_WAIT).await?;
    let polled_ms = uploaded.elapsed().as_millis();
    let verdict = final_status
        .verdict
        .ok_or_else(|| format!("status of {} has no verdict", ticket.id))?;
    let delivery = receiver.wait_for(&ticket.id, Duration::from_secs(10)).await;

    Ok(Outcome {
        sample: sample.clone(),
        upload_id: ticket.id,
        key: ticket.key,
        webhook_delivered: delivery.is_some(),
        webhook_verified: delivery.as_ref().is_some_and(|d| d.verified),
        upload_to_verdict_ms: delivery
            .map_or(polled_ms, |d| d.at.duration_since(uploaded).as_millis()),
        verdict,
    })
}
