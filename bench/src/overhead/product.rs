//! The product under measurement: the scan function alone, driven with MinIO webhook requests
//! for objects already in a bucket, and the whole flow from a presigned upload to the signed
//! webhook that notify delivers to this harness.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use filestore::verdict::VerdictRecord;
use filestore::webhook::{DEFAULT_TOLERANCE, SIGNATURE_HEADER, unix_now, verify};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::corpus::Entry;
use crate::measure::{Probe, Processes, Row, busy_time};

/// Longest wait for one verdict; a 256 MiB object with the large database takes well under it.
const VERDICT_TIMEOUT: Duration = Duration::from_secs(600);

/// A verdict as the receiver got it.
#[derive(Debug)]
pub struct Delivery {
    pub at: Instant,
    pub record: VerdictRecord,
}

#[derive(Default)]
struct Shared {
    secret: Vec<u8>,
    waiters: Mutex<HashMap<String, oneshot::Sender<Delivery>>>,
    unsigned: AtomicUsize,
    stub_calls: AtomicUsize,
}

/// The webhook receiver (`POST /webhook`, signatures checked as an application would) and a
/// stand-in for notify (`POST /verdicts`, answers 200 at once) that the scan-alone runs use.
#[derive(Clone)]
pub struct Receiver {
    shared: Arc<Shared>,
}

impl Receiver {
    pub async fn start(addr: SocketAddr, secret: Vec<u8>) -> Result<Self, String> {
        let shared = Arc::new(Shared {
            secret,
            ..Shared::default()
        });
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("binding the receiver on {addr} failed: {e}"))?;
        let router = Router::new()
            .route("/webhook", post(receive))
            .route("/verdicts", post(stub_notify))
            .with_state(shared.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                eprintln!("receiver stopped: {e}");
            }
        });
        Ok(Self { shared })
    }

    /// Registers interest in the verdict for one upload id, before the upload starts.
    pub fn expect(&self, upload_id: &str) -> oneshot::Receiver<Delivery> {
        let (sender, receiver) = oneshot::channel();
        self.shared
            .waiters
            .lock()
            .expect("receiver lock is not poisoned")
            .insert(upload_id.to_string(), sender);
        receiver
    }

    pub fn unsigned(&self) -> usize {
        self.shared.unsigned.load(Ordering::Relaxed)
    }
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if verify(
        &shared.secret,
        signature,
        &body,
        unix_now(),
        DEFAULT_TOLERANCE,
    )
    .is_err()
    {
        shared.unsigned.fetch_add(1, Ordering::Relaxed);
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(record) = serde_json::from_slice::<VerdictRecord>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let waiter = record.upload_id.as_ref().and_then(|id| {
        shared
            .waiters
            .lock()
            .expect("receiver lock is not poisoned")
            .remove(id)
    });
    if let Some(waiter) = waiter {
        let _ = waiter.send(Delivery { at, record });
    }
    StatusCode::OK
}

async fn stub_notify(State(shared): State<Arc<Shared>>) -> (StatusCode, &'static str) {
    shared.stub_calls.fetch_add(1, Ordering::Relaxed);
    (StatusCode::OK, "{}")
}

/// Everything the product runs need.
pub struct Product {
    pub db: String,
    pub corpus: std::path::PathBuf,
    pub processes: Processes,
    pub s3: Client,
    pub http: reqwest::Client,
    pub receiver: Receiver,
    /// Bucket without notifications that the scan-alone runs read from.
    pub direct_bucket: String,
    pub store_bucket: String,
    pub scan_alone_url: String,
    pub presign_url: String,
    pub minio_url: String,
    pub scan_token: String,
    pub jwt: String,
}

impl Product {
    /// The scan function alone: each object is uploaded first (not timed), then `concurrency`
    /// clients send its MinIO webhook request to the scan function and wait for the answer. That
    /// answer comes after the verdict, the encrypted copy, the action and the hand-off to the
    /// stand-in notify.
    /// Reads MinIO's request counters by S3 API (`minio_s3_requests_total`).
    async fn s3_requests(&self) -> BTreeMap<String, f64> {
        let url = format!("{}/minio/v2/metrics/cluster", self.minio_url);
        let Ok(response) = self.http.get(url).send().await else {
            return BTreeMap::new();
        };
        let text = response.text().await.unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let rest = line.strip_prefix("minio_s3_requests_total{api=\"")?;
                let (api, rest) = rest.split_once('"')?;
                let value = rest.rsplit(' ').next()?.parse().ok()?;
                Some((api.to_string(), value))
            })
            .collect()
    }

    /// Requests per object between two counter readings, leaving out the ones this harness made.
    fn requests_per_object(
        before: &BTreeMap<String, f64>,
        after: &BTreeMap<String, f64>,
        objects: usize,
        own: &[(&str, f64)],
    ) -> BTreeMap<String, f64> {
        after
            .iter()
            .filter_map(|(api, count)| {
                let own_count: f64 = own.iter().filter(|(a, _)| a == api).map(|(_, c)| c).sum();
                let delta = count - before.get(api).copied().unwrap_or(0.0) - own_count;
                (delta > 0.0).then(|| (api.clone(), delta / objects.max(1) as f64))
            })
            .collect()
    }

    pub async fn scan_alone(&self, class: &str, entries: &[Entry], concurrency: usize) -> Row {
        let prefix = format!("scan-{}-c{concurrency}-{class}-{}", self.db, unix_now());
        let mut keys = Vec::new();
        let mut errors = Vec::new();
        for chunk in entries.chunks(4) {
            let uploads = chunk.iter().map(|entry| {
                let key = format!("{prefix}/{}", entry.file_name());
                async move {
                    let result = put_file(
                        &self.s3,
                        &self.direct_bucket,
                        &key,
                        &self.corpus.join(&entry.path),
                    )
                    .await;
                    (key, result)
                }
            });
            for (key, result) in futures::future::join_all(uploads).await {
                if let Err(e) = result {
                    errors.push(e);
                }
                keys.push(key);
            }
        }

        let next = AtomicUsize::new(0);
        let requests_before = self.s3_requests().await;
        let probe = Probe::start(&self.processes);
        let workers = (0..concurrency).map(|_| async {
            let mut samples = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let (Some(entry), Some(key)) = (entries.get(index), keys.get(index)) else {
                    break;
                };
                let started = Instant::now();
                let outcome = self.post_event(key, entry).await;
                samples.push((index, started, Instant::now(), outcome));
            }
            samples
        });
        let samples: Vec<_> = futures::future::join_all(workers)
            .await
            .into_iter()
            .flatten()
            .collect();
        let bytes: u64 = entries.iter().map(|e| e.size).sum();
        let busy = probe.started().elapsed();
        let usage = probe.finish(bytes);
        let latencies: Vec<Duration> = samples.iter().map(|s| s.2 - s.1).collect();
        let requests_after = self.s3_requests().await;
        let mut row = Row::new(
            &self.db,
            "scan function",
            concurrency,
            class,
            bytes,
            &latencies,
            busy,
            usage,
        );
        row.s3_requests_per_object =
            Self::requests_per_object(&requests_before, &requests_after, entries.len(), &[]);
        for e in errors {
            row.note_error(e);
        }
        for (index, _, _, outcome) in &samples {
            check_verdict(&mut row, &entries[*index], outcome);
        }
        self.clean_up(&self.direct_bucket, &prefix).await;
        row
    }

    async fn post_event(&self, key: &str, entry: &Entry) -> Result<String, String> {
        let body = minio_event(&self.direct_bucket, key, entry);
        let response = self
            .http
            .post(format!("{}/webhook", self.scan_alone_url))
            .bearer_auth(&self.scan_token)
            .json(&body)
            .timeout(VERDICT_TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("scan request failed: {e}"))?;
        let status = response.status();
        let summary: Value = response.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("scan answered {status}: {summary}"));
        }
        summary
            .pointer("/verdicts/0/verdict")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("no verdict in {summary}"))
    }

    /// End to end: `concurrency` clients each ask presign for an upload, post the form to
    /// MinIO, and wait for the signed webhook. Latency runs from the end of the upload to the
    /// webhook's arrival; throughput is over the time at least one object was in that interval.
    pub async fn end_to_end(
        &self,
        mode: &str,
        class: &str,
        entries: &[Entry],
        concurrency: usize,
    ) -> Row {
        let next = AtomicUsize::new(0);
        let requests_before = self.s3_requests().await;
        let probe = Probe::start(&self.processes);
        let workers = (0..concurrency).map(|_| async {
            let mut samples = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(entry) = entries.get(index) else {
                    break;
                };
                samples.push((index, self.upload_and_wait(entry).await));
            }
            samples
        });
        let samples: Vec<_> = futures::future::join_all(workers)
            .await
            .into_iter()
            .flatten()
            .collect();
        // Throughput counts only the objects whose webhook arrived.
        let bytes: u64 = samples
            .iter()
            .filter(|(_, outcome)| outcome.is_ok())
            .map(|(index, _)| entries[*index].size)
            .sum();
        let usage = probe.finish(bytes);
        let intervals: Vec<(Instant, Instant)> = samples
            .iter()
            .filter_map(|(_, outcome)| outcome.as_ref().ok().map(|(start, end, _)| (*start, *end)))
            .collect();
        let latencies: Vec<Duration> = intervals
            .iter()
            .map(|(s, e)| e.saturating_duration_since(*s))
            .collect();
        let requests_after = self.s3_requests().await;
        let mut row = Row::new(
            &self.db,
            mode,
            concurrency,
            class,
            bytes,
            &latencies,
            busy_time(intervals),
            usage,
        );
        // The form upload of each object is the client's own request.
        let own = [("postpolicybucket", entries.len() as f64)];
        row.s3_requests_per_object =
            Self::requests_per_object(&requests_before, &requests_after, entries.len(), &own);
        row.objects = entries.len();
        for (index, outcome) in &samples {
            let outcome = outcome
                .as_ref()
                .map(|(_, _, verdict)| verdict.clone())
                .map_err(Clone::clone);
            check_verdict(&mut row, &entries[*index], &outcome);
        }
        self.clean_up(&self.store_bucket, "files/").await;
        row
    }

    /// Returns when the upload finished, when the webhook arrived, and the verdict.
    async fn upload_and_wait(&self, entry: &Entry) -> Result<(Instant, Instant, String), String> {
        let bytes = tokio::fs::read(self.corpus.join(&entry.path))
            .await
            .map_err(|e| format!("reading {} failed: {e}", entry.path))?;
        let request = json!({
            "filename": entry.file_name(),
            "content_type": entry.content_type,
            "size": bytes.len(),
        });
        let response = self
            .http
            .post(format!("{}/uploads", self.presign_url))
            .bearer_auth(&self.jwt)
            .json(&request)
            .send()
            .await
            .map_err(|e| format!("presign request failed: {e}"))?;
        let status = response.status();
        let ticket: Value = response.json().await.map_err(|e| e.to_string())?;
        if status != reqwest::StatusCode::CREATED {
            return Err(format!("presign answered {status}: {ticket}"));
        }
        let id = ticket["id"].as_str().unwrap_or_default().to_string();
        let form = &ticket["upload"];
        let url = form["url"]
            .as_str()
            .ok_or_else(|| format!("presign gave no form upload: {ticket}"))?;
        let mut multipart = reqwest::multipart::Form::new();
        if let Some(fields) = form["fields"].as_object() {
            for (name, value) in fields {
                multipart =
                    multipart.text(name.clone(), value.as_str().unwrap_or_default().to_string());
            }
        }
        multipart = multipart.part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(entry.file_name().to_string()),
        );
        let waiter = self.receiver.expect(&id);
        let response = self
            .http
            .post(url)
            .multipart(multipart)
            .send()
            .await
            .map_err(|e| format!("form upload failed: {e}"))?;
        let uploaded = Instant::now();
        if !response.status().is_success() {
            return Err(format!(
                "MinIO answered {} to the form upload",
                response.status()
            ));
        }
        let delivery = tokio::time::timeout(VERDICT_TIMEOUT, waiter)
            .await
            .map_err(|_| format!("no webhook for upload {id} within {VERDICT_TIMEOUT:?}"))?
            .map_err(|_| "receiver dropped the waiter".to_string())?;
        Ok((
            uploaded,
            delivery.at,
            delivery.record.verdict.name().to_string(),
        ))
    }

    /// Removes what a run left behind, so the disk does not fill over the passes.
    pub async fn clean_up(&self, bucket: &str, prefix: &str) {
        if let Err(e) = delete_prefix(&self.s3, bucket, prefix).await {
            eprintln!("overhead: clean-up of {bucket}/{prefix} failed: {e}");
        }
    }
}

fn check_verdict(row: &mut Row, entry: &Entry, outcome: &Result<String, String>) {
    match outcome {
        Ok(verdict) if *verdict == entry.expected => {}
        Ok(verdict) => row.note_error(format!("{}: {verdict}", entry.path)),
        Err(e) => row.note_error(format!("{}: {e}", entry.path)),
    }
}

/// A MinIO webhook body for a new object, as MinIO's webhook target sends it.
pub fn minio_event(bucket: &str, key: &str, entry: &Entry) -> Value {
    let encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
    json!({
        "EventName": "s3:ObjectCreated:Put",
        "Key": format!("{bucket}/{key}"),
        "Records": [{
            "eventVersion": "2.0",
            "eventSource": "minio:s3",
            "awsRegion": "",
            "eventTime": "2026-12-04T12:00:00.000Z",
            "eventName": "s3:ObjectCreated:Put",
            "userIdentity": { "principalId": "bench" },
            "requestParameters": { "principalId": "bench", "region": "", "sourceIPAddress": "127.0.0.1" },
            "responseElements": {},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "Config",
                "bucket": { "name": bucket, "ownerIdentity": { "principalId": "bench" }, "arn": format!("arn:aws:s3:::{bucket}") },
                "object": { "key": encoded, "size": entry.size, "contentType": entry.content_type, "sequencer": "0" }
            }
        }]
    })
}

/// Creates the bucket the scan-alone runs read from, encrypted at rest by MinIO like the incoming
/// bucket, and without notifications.
pub async fn ensure_direct_bucket(s3: &Client, bucket: &str) -> Result<(), String> {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    match s3.create_bucket().bucket(bucket).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_bucket_already_owned_by_you()) => {}
        Err(e) => {
            return Err(format!(
                "creating bucket {bucket} failed: {}",
                aws_sdk_s3::error::DisplayErrorContext(e)
            ));
        }
    }
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(|e| e.to_string())?;
    let configuration = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(default)
                .build(),
        )
        .build()
        .map_err(|e| e.to_string())?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(configuration)
        .send()
        .await
        .map_err(|e| {
            format!(
                "setting default encryption on {bucket} failed: {}",
                aws_sdk_s3::error::DisplayErrorContext(e)
            )
        })?;
    Ok(())
}

pub async fn put_file(s3: &Client, bucket: &str, key: &str, path: &Path) -> Result<(), String> {
    let body = aws_sdk_s3::primitives::ByteStream::from_path(path)
        .await
        .map_err(|e| format!("reading {} failed: {e}", path.display()))?;
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            format!(
                "uploading {bucket}/{key} failed: {}",
                aws_sdk_s3::error::DisplayErrorContext(e)
            )
        })?;
    Ok(())
}

pub async fn delete_prefix(s3: &Client, bucket: &str, prefix: &str) -> Result<(), String> {
    loop {
        let listed = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string())?;
        let objects: Vec<ObjectIdentifier> = listed
            .contents()
            .iter()
            .filter_map(|o| {
                ObjectIdentifier::builder()
                    .set_key(o.key.clone())
                    .build()
                    .ok()
            })
            .collect();
        if objects.is_empty() {
            return Ok(());
        }
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| e.to_string())?;
        s3.delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string())?;
    }
}
