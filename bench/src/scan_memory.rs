//! Uploads one large object and has the scan function scan it through the Lambda invoke API,
//! then prints the verdict and timing as JSON. `bench/scan-memory.sh` runs it and reads the scan
//! process's peak RSS around it.
//!
//! Usage: `scan-memory <bucket> <size-in-MiB> <invoke-base-url>`, with the stack's environment.

use std::time::Instant;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use serde_json::{Value, json};

/// Size of each uploaded part; S3 needs at least 5 MiB for every part but the last.
const PART_MIB: u64 = 64;

/// Fills a buffer with a xorshift sequence: cheap, reproducible and not compressible, like most
/// real uploads.
fn fill(buffer: &mut [u8], state: &mut u64) {
    for chunk in buffer.chunks_mut(8) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
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
        Err(e) => Err(format!("creating bucket {bucket} failed: {e:?}")),
    }
}

/// Uploads `mib` MiB in parts and returns the object's ETag.
async fn upload(client: &Client, bucket: &str, key: &str, mib: u64) -> Result<String, String> {
    let created = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await;
    let upload_id = created
        .map_err(|e| format!("create multipart upload failed: {e:?}"))?
        .upload_id
        .unwrap_or_default();
    let mut parts = Vec::new();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut remaining = mib;
    for number in 1.. {
        if remaining == 0 {
            break;
        }
        let part_mib = remaining.min(PART_MIB);
        remaining -= part_mib;
        let mut buffer = vec![0u8; (part_mib << 20) as usize];
        fill(&mut buffer, &mut state);
        let part = client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(buffer))
            .send()
            .await
            .map_err(|e| format!("upload of part {number} failed: {e:?}"))?;
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(part.e_tag)
                .build(),
        );
    }
    let completed = CompletedMultipartUpload::builder()
        .set_parts(Some(parts))
        .build();
    let done = client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(completed)
        .send()
        .await
        .map_err(|e| format!("complete multipart upload failed: {e:?}"))?;
    Ok(done.e_tag.unwrap_or_default().trim_matches('"').to_string())
}

fn event(bucket: &str, key: &str, size: u64, etag: &str) -> Value {
    json!({ "Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-12-04T12:00:00.000Z", "eventName": "ObjectCreated:CompleteMultipartUpload",
        "userIdentity": { "principalId": "bench" }, "requestParameters": { "sourceIPAddress": "127.0.0.1" },
        "responseElements": { "x-amz-request-id": "0", "x-amz-id-2": "0" },
        "s3": { "s3SchemaVersion": "1.0", "configurationId": "bench",
            "bucket": { "name": bucket, "ownerIdentity": { "principalId": "bench" }, "arn": "" },
            "object": { "key": key, "size": size, "eTag": etag, "sequencer": "0" } }
    }]})
}

async fn run(bucket: &str, mib: u64, invoke_base: &str) -> Result<Value, String> {
    let client = filestore::store::Store::from_env(true)
        .await
        .client()
        .clone();
    ensure_bucket(&client, bucket).await?;
    // A new key each run: the verdict ledger would replay an earlier run's verdict for the same
    // key and ETag instead of scanning again.
    let key = format!(
        "bench/{}/object-{mib}mib.txt",
        filestore::webhook::unix_now()
    );
    let uploaded = Instant::now();
    let etag = upload(&client, bucket, &key, mib).await?;
    let upload_secs = uploaded.elapsed().as_secs_f64();

    let url = format!("{invoke_base}/2015-03-31/functions/scan/invocations");
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let response = http
        .post(url)
        .json(&event(bucket, &key, mib << 20, &etag))
        .send()
        .await;
    let summary: Value = response
        .map_err(|e| format!("invoke failed: {e}"))?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let scan_secs = started.elapsed().as_secs_f64();
    let verdict = summary
        .pointer("/verdicts/0")
        .cloned()
        .ok_or_else(|| format!("no verdict: {summary}"))?;
    Ok(json!({
        "size_mib": mib,
        "upload_secs": upload_secs,
        "invoke_secs": scan_secs,
        "mib_per_sec": mib as f64 / scan_secs,
        "verdict": verdict["verdict"],
        "reason": verdict.get("reason"),
        "scan_ms": verdict["scan_ms"],
    }))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(bucket), Some(mib), Some(invoke_base)) = (args.get(1), args.get(2), args.get(3))
    else {
        eprintln!("usage: scan-memory <bucket> <size-in-MiB> <invoke-base-url>");
        std::process::exit(2);
    };
    let Ok(mib) = mib.parse::<u64>() else {
        eprintln!("scan-memory: size {mib:?} is not a whole number of MiB");
        std::process::exit(2);
    };
    match run(bucket, mib, invoke_base).await {
        Ok(result) => println!("{result}"),
        Err(message) => {
            eprintln!("scan-memory: {message}");
            std::process::exit(1);
        }
    }
}
