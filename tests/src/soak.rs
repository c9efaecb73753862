//! Load and fault scenarios against the running stack. Each scenario injects something, observes
//! what the product did, and returns a [`Finding`] listing every broken promise. The resilience
//! tests run them small in `make test`; `make soak` runs them large and writes the report.
//!
//! Every loop is bounded in count and time, all traffic goes to 127.0.0.1, and the stack's
//! services are stopped by the PIDs in their pid files and started again with
//! `scripts/stack.sh up`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;

use crate::client::Uploader;
use crate::receiver::Receiver;
use crate::spawn::{Spawned, repo_root};
use crate::{StackEnv, samples};

/// What one scenario injected and observed, and the promises it found broken.
#[derive(Debug, Clone)]
pub struct Finding {
    pub scenario: &'static str,
    pub injected: String,
    pub observed: String,
    pub problems: Vec<String>,
    pub duration: Duration,
}

impl Finding {
    /// Tells whether every promise held.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One upload of the mixed load, with the verdict its content must get.
#[derive(Debug, Clone)]
struct Planned {
    filename: String,
    content_type: &'static str,
    bytes: Vec<u8>,
    expected: &'static str,
}

/// Builds upload `index` of a load: clean text, PDF and PNG, EICAR, and a PNG named `.pdf`, in
/// turn. The clean files carry the index so that each is distinct content.
fn planned(index: usize) -> Planned {
    let (filename, content_type, bytes, expected) = match index % 5 {
        0 => (
            format!("notes-{index}.txt"),
            "text/plain",
            format!("load test note {index}\n").repeat(40).into_bytes(),
            "clean",
        ),
        1 => (
            format!("report-{index}.pdf"),
            "application/pdf",
            samples::pdf(&format!("load test report {index}")),
            "clean",
        ),
        2 => (
            format!("photo-{index}.png"),
            "image/png",
            samples::png(8 + (index % 64) as u32, 8),
            "clean",
        ),
        3 => (
            format!("eicar-{index}.txt"),
            "text/plain",
            samples::eicar(),
            "infected",
        ),
        _ => (
            format!("invoice-{index}.pdf"),
            "application/pdf",
            samples::png(8, 8 + (index % 64) as u32),
            "spoofed",
        ),
    };
    Planned {
        filename,
        content_type,
        bytes,
        expected,
    }
}

/// An upload that storage accepted.
#[derive(Debug, Clone)]
struct Sent {
    upload_id: String,
    key: String,
    expected: &'static str,
    uploaded_at: Instant,
}

/// Presigns and uploads `count` planned files, `concurrency` at a time, starting at `first`.
/// Returns the accepted uploads and the failures.
async fn send_all(
    uploader: &Uploader,
    first: usize,
    count: usize,
    concurrency: usize,
) -> (Vec<Sent>, Vec<String>) {
    let results: Vec<Result<Sent, String>> = futures::stream::iter(first..first + count)
        .map(|index| async move {
            let plan = planned(index);
            let ticket = uploader
                .presign(&plan.filename, plan.content_type, plan.bytes.len() as u64)
                .await?;
            let status = uploader
                .upload(&ticket, plan.bytes)
                .await
                .map_err(|e| format!("upload of {} failed: {e}", plan.filename))?;
            if !(200..300).contains(&status) {
                return Err(format!("storage answered {status} for {}", plan.filename));
            }
            Ok(Sent {
                upload_id: ticket.id,
                key: ticket.key,
                expected: plan.expected,
                uploaded_at: Instant::now(),
            })
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut sent = Vec::new();
    let mut failures = Vec::new();
    for result in results {
        match result {
            Ok(s) => sent.push(s),
            Err(e) => failures.push(e),
        }
    }
    (sent, failures)
}

/// Returns the final verdicts delivered for one upload (anything but `error`, which is retried).
fn final_deliveries(receiver: &Receiver, upload_id: &str) -> Vec<Value> {
    receiver
        .for_upload(upload_id)
        .into_iter()
        .filter_map(|d| d.record)
        .filter(|r| r.verdict.name() != "error")
        .map(|r| serde_json::to_value(r).expect("records serialise"))
        .collect()
}

/// What became of the sent uploads.
struct Settled {
    /// Upload id to its final verdict record, for those that got one in time.
    finals: BTreeMap<String, Value>,
    /// Milliseconds from upload to the first final delivery.
    latencies_ms: Vec<u128>,
}

/// Waits until every upload has a final verdict delivered, or `limit` passes.
async fn settle(receiver: &Receiver, sent: &[Sent], limit: Duration) -> Settled {
    let deadline = Instant::now() + limit;
    let mut finals = BTreeMap::new();
    let mut latencies_ms = Vec::new();
    while finals.len() < sent.len() && Instant::now() < deadline {
        for upload in sent {
            if finals.contains_key(&upload.upload_id) {
                continue;
            }
            let delivered = receiver.for_upload(&upload.upload_id);
            let first_final = delivered.iter().find(|d| {
                d.record
                    .as_ref()
                    .is_some_and(|r| r.verdict.name() != "error")
            });
            if let Some(delivery) = first_final {
                let record = delivery.record.clone().expect("checked above");
                latencies_ms.push(delivery.at.duration_since(upload.uploaded_at).as_millis());
                finals.insert(
                    upload.upload_id.clone(),
                    serde_json::to_value(record).expect("records serialise"),
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Settled {
        finals,
        latencies_ms,
    }
}

/// Checks the promises for settled uploads: one final verdict each, the verdict its content
/// must get, a matching status record, and nothing left in the incoming bucket.
async fn check_settled(
    uploader: &Uploader,
    receiver: &Receiver,
    sent: &[Sent],
    settled: &Settled,
    problems: &mut Vec<String>,
) -> BTreeMap<String, usize> {
    // Late duplicates of the same verdict are fine (delivery is at least once); two different
    // final verdicts for one upload are not.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let s3 = crate::s3_client().await;
    let incoming = std::env::var("INCOMING_BUCKET").unwrap_or_else(|_| "incoming".into());
    let mut counts = BTreeMap::new();
    for upload in sent {
        let Some(record) = settled.finals.get(&upload.upload_id) else {
            problems.push(format!("{}: no final verdict delivered", upload.key));
            continue;
        };
        let verdict = record["verdict"].as_str().unwrap_or_default().to_string();
        *counts.entry(verdict.clone()).or_insert(0) += 1;
        if verdict != upload.expected {
            problems.push(format!(
                "{}: verdict {verdict}, expected {}",
                upload.key, upload.expected
            ));
        }
        let ids: BTreeSet<String> = final_deliveries(receiver, &upload.upload_id)
            .iter()
            .map(|r| r["id"].as_str().unwrap_or_default().to_string())
            .collect();
        if ids.len() != 1 {
            problems.push(format!(
                "{}: {} different final verdicts delivered",
                upload.key,
                ids.len()
            ));
        }
        match uploader.status(&upload.upload_id).await {
            Ok(answer) if answer.body["status"] == verdict.as_str() => {}
            Ok(answer) => problems.push(format!(
                "{}: status {} after verdict {verdict}",
                upload.key, answer.body["status"]
            )),
            Err(e) => problems.push(format!("{}: status request failed: {e}", upload.key)),
        }
        let left = s3
            .head_object()
            .bucket(&incoming)
            .key(&upload.key)
            .send()
            .await;
        if left.is_ok() {
            problems.push(format!("{}: still in the incoming bucket", upload.key));
        }
    }
    counts
}

fn percentile(sorted: &[u128], fraction: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn describe(counts: &BTreeMap<String, usize>, latencies: &[u128]) -> String {
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    let verdicts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    format!(
        "{}; upload to delivered verdict p50 {} ms, p95 {} ms, max {} ms",
        verdicts.join(", "),
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.95),
        sorted.last().copied().unwrap_or(0)
    )
}

/// Time allowed for a load to settle: generous, because the debug build under
/// `cargo lambda watch` handles one request per function at a time.
fn settle_limit(uploads: usize) -> Duration {
    Duration::from_secs(60 + uploads as u64 / 2)
}

/// Uploads `uploads` mixed files through the real path, `concurrency` at a time.
pub async fn load(
    env: &StackEnv,
    receiver: &Receiver,
    uploads: usize,
    concurrency: usize,
) -> Finding {
    let started = Instant::now();
    let uploader = Uploader::new(env.clone());
    let (sent, failures) = send_all(&uploader, 0, uploads, concurrency).await;
    let mut problems = failures;
    let settled = settle(receiver, &sent, settle_limit(uploads)).await;
    let counts = check_settled(&uploader, receiver, &sent, &settled, &mut problems).await;
    Finding {
        scenario: "load",
        injected: format!(
            "{uploads} uploads (clean text, PDF and PNG, EICAR, PNG named .pdf) through presign, storage and MinIO's notifications, {concurrency} at a time"
        ),
        observed: describe(&counts, &settled.latencies_ms),
        problems,
        duration: started.elapsed(),
    }
}

/// Stops a stack service by the PID in its pid file and waits until the process is gone.
pub fn stop_service(service: &str) -> Result<(), String> {
    let state = std::env::var("FILESTORE_STATE_DIR")
        .map_err(|_| "FILESTORE_STATE_DIR is not set; source .stack/env".to_string())?;
    let pid_file = PathBuf::from(state).join(format!("run/{service}.pid"));
    let pid = std::fs::read_to_string(&pid_file)
        .map_err(|e| format!("cannot read {}: {e}", pid_file.display()))?
        .trim()
        .to_string();
    let killed = Command::new("kill")
        .arg(&pid)
        .status()
        .map_err(|e| format!("kill {pid}: {e}"))?;
    if !killed.success() {
        return Err(format!("kill {pid} failed"));
    }
    for _ in 0..200 {
        if !PathBuf::from(format!("/proc/{pid}")).exists() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{service} (pid {pid}) did not exit within 20 s"))
}

/// Starts whatever stack service is not running.
pub fn start_stack() -> Result<(), String> {
    let status = Command::new(repo_root().join("scripts/stack.sh"))
        .arg("up")
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("scripts/stack.sh up: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("scripts/stack.sh up failed: {status}"))
    }
}

/// Restarts the stack when dropped, so a failed scenario does not leave a service down.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        if let Err(e) = start_stack() {
            eprintln!("soak: {e}");
        }
    }
}

/// Kills clamd while uploads are being scanned, starts it again after `down_for`, and checks
/// that every upload still reaches the verdict its content must get.
pub async fn clamd_restart(
    env: &StackEnv,
    receiver: &Receiver,
    uploads: usize,
    concurrency: usize,
    down_for: Duration,
) -> Finding {
    let started = Instant::now();
    let uploader = Uploader::new(env.clone());
    let mut problems = Vec::new();
    let first = 100_000;
    let sending = send_all(&uploader, first, uploads, concurrency);
    let fault = async {
        // Some verdicts first, so the kill lands in the middle of the work.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let guard = Restart;
        let stopped = stop_service("clamd");
        tokio::time::sleep(down_for).await;
        drop(guard);
        stopped
    };
    let ((sent, failures), stopped) = tokio::join!(sending, fault);
    problems.extend(failures);
    if let Err(e) = stopped {
        problems.push(format!("clamd was not stopped: {e}"));
    }
    let settled = settle(receiver, &sent, settle_limit(uploads) + down_for).await;
    let counts = check_settled(&uploader, receiver, &sent, &settled, &mut problems).await;
    let retried = sent
        .iter()
        .filter(|s| {
            receiver.for_upload(&s.upload_id).iter().any(|d| {
                d.record
                    .as_ref()
                    .is_some_and(|r| r.verdict.name() == "error")
            })
        })
        .count();
    Finding {
        scenario: "clamd killed mid-scan",
        injected: format!(
            "{uploads} uploads, {concurrency} at a time; clamd killed 0.7 s in and started again {} s later",
            down_for.as_secs()
        ),
        observed: format!(
            "{retried} uploads got an error verdict first and were scanned again; final: {}",
            describe(&counts, &settled.latencies_ms)
        ),
        problems,
        duration: started.elapsed(),
    }
}

/// Stops OpenBao, uploads through presign, checks that nothing was stored or decided, then
/// starts OpenBao and checks that the backlog drains.
pub async fn openbao_restart(
    env: &StackEnv,
    receiver: &Receiver,
    uploads: usize,
    down_for: Duration,
) -> Finding {
    let started = Instant::now();
    let uploader = Uploader::new(env.clone());
    let mut problems = Vec::new();
    let guard = Restart;
    if let Err(e) = stop_service("openbao") {
        problems.push(format!("OpenBao was not stopped: {e}"));
    }
    // Only clean files, which need a data key to be stored.
    let first = 200_000;
    let plans: Vec<usize> = (first..).filter(|i| i % 5 < 3).take(uploads).collect();
    let mut sent = Vec::new();
    for index in &plans {
        let (mut one, failures) = send_all(&uploader, *index, 1, 1).await;
        sent.append(&mut one);
        problems.extend(failures);
    }
    let sync = uploader
        .upload_sync("while-vault-is-down.txt", samples::text())
        .await;
    tokio::time::sleep(down_for).await;
    let s3 = crate::s3_client().await;
    let store = std::env::var("STORE_BUCKET").unwrap_or_else(|_| "filestore-files".into());
    let mut decided_early = 0;
    for upload in &sent {
        if !final_deliveries(receiver, &upload.upload_id).is_empty() {
            decided_early += 1;
        }
        let stored = s3
            .head_object()
            .bucket(&store)
            .key(format!("files/{}", upload.upload_id))
            .send()
            .await;
        if stored.is_ok() {
            problems.push(format!("{}: stored while Vault was down", upload.key));
        }
    }
    if decided_early > 0 {
        problems.push(format!(
            "{decided_early} uploads got a verdict while Vault was down"
        ));
    }
    let sync_status = match &sync {
        Ok(answer) => answer.status,
        Err(_) => 0,
    };
    if sync_status != 503 {
        problems.push(format!(
            "synchronous upload answered {sync_status} while Vault was down, expected 503"
        ));
    }
    // Timed from the start of `scripts/stack.sh up`, which unseals OpenBao early and then
    // checks the other services, while the backlog already drains.
    let restarted = Instant::now();
    drop(guard);
    let settled = settle(
        receiver,
        &sent,
        settle_limit(uploads) + Duration::from_secs(60),
    )
    .await;
    let drained_s = restarted.elapsed().as_secs_f64();
    let counts = check_settled(&uploader, receiver, &sent, &settled, &mut problems).await;
    for upload in &sent {
        let stored = s3
            .head_object()
            .bucket(&store)
            .key(format!("files/{}", upload.upload_id))
            .send()
            .await;
        if stored.is_err() {
            problems.push(format!(
                "{}: no encrypted copy after Vault returned",
                upload.key
            ));
        }
    }
    Finding {
        scenario: "OpenBao stopped",
        injected: format!(
            "OpenBao stopped; {uploads} clean uploads through presign and one synchronous upload; started again after {} s",
            down_for.as_secs()
        ),
        observed: format!(
            "synchronous upload: {sync_status}; {decided_early} verdicts and 0 stored files while down; every upload had its verdict {drained_s:.1} s after the restart began; final: {}",
            describe(&counts, &settled.latencies_ms)
        ),
        problems,
        duration: started.elapsed(),
    }
}

/// Restarts MinIO right after uploads, while their events are queued or in flight, and checks
/// that each upload gets exactly one final verdict.
pub async fn minio_restart(env: &StackEnv, receiver: &Receiver, uploads: usize) -> Finding {
    let started = Instant::now();
    let uploader = Uploader::new(env.clone());
    let mut problems = Vec::new();
    let (sent, failures) = send_all(&uploader, 300_000, uploads, 10).await;
    problems.extend(failures);
    let in_flight = sent
        .iter()
        .filter(|s| final_deliveries(receiver, &s.upload_id).is_empty())
        .count();
    {
        let _guard = Restart;
        if let Err(e) = stop_service("minio") {
            problems.push(format!("MinIO was not stopped: {e}"));
        }
    }
    let settled = settle(
        receiver,
        &sent,
        settle_limit(uploads) + Duration::from_secs(60),
    )
    .await;
    let counts = check_settled(&uploader, receiver, &sent, &settled, &mut problems).await;
    Finding {
        scenario: "MinIO restarted",
        injected: format!("{uploads} uploads, then MinIO stopped at once and started again"),
        observed: format!(
            "{in_flight} had no verdict yet when MinIO stopped; final: {}",
            describe(&counts, &settled.latencies_ms)
        ),
        problems,
        duration: started.elapsed(),
    }
}

/// Peak resident memory of a process in KiB (`VmHWM`).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Sends `requests` bad requests to a scan function's HTTP front door, `concurrency` at a
/// time: no token, a wrong token, malformed JSON, a body over the size limit, and an event for
/// an object that does not exist. Checks each status, that the function still responds, and its
/// peak memory.
pub async fn flood(scan: &Spawned, token: &str, requests: usize, concurrency: usize) -> Finding {
    let started = Instant::now();
    // One connection per request, as from many clients: a connection the server closed after
    // a 413 is never reused for the next request.
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let url = format!("{}/webhook", scan.url);
    let oversized = vec![b'{'; 3 << 20];
    let missing = crate::s3_event(
        "filestore-test-plain",
        "uploads/flood/never-written.txt",
        1,
        "00000000000000000000000000000000",
        None,
    )
    .to_string();
    let results: Vec<(usize, u16)> = futures::stream::iter(0..requests)
        .map(|index| {
            let (http, url, oversized, missing) = (&http, &url, &oversized, &missing);
            async move {
                let kind = index % 5;
                let request = match kind {
                    0 => http.post(url).body(missing.clone()),
                    1 => http.post(url).bearer_auth("wrong").body(missing.clone()),
                    2 => http.post(url).bearer_auth(token).body("{\"Records\": [tru"),
                    3 => http.post(url).bearer_auth(token).body(oversized.clone()),
                    _ => http.post(url).bearer_auth(token).body(missing.clone()),
                };
                let status = request
                    .header("content-type", "application/json")
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                (kind, status)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let expected = [401u16, 401, 400, 413, 200];
    let mut problems = Vec::new();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for (kind, status) in &results {
        *by_status.entry(*status).or_insert(0) += 1;
        // The server returns 413 as soon as the body passes its limit and closes the
        // connection, so a client still sending the rest may see the connection reset instead.
        let reset_after_limit = *kind == 3 && *status == 0;
        if *status != expected[*kind] && !reset_after_limit {
            problems.push(format!(
                "request kind {kind} answered {status}, expected {}",
                expected[*kind]
            ));
        }
    }
    problems.truncate(10);
    // A new client, so that no pooled connection the server closed is reused.
    let healthy = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
        .get(format!("{}/healthz", scan.url))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success());
    if !healthy {
        problems.push("scan stopped answering /healthz after the flood".into());
    }
    let peak = scan.pid().and_then(peak_rss_kib);
    match peak {
        Some(kib) if kib > 64 * 1024 => {
            problems.push(format!("peak memory {} MiB is over 64 MiB", kib / 1024));
        }
        Some(_) => {}
        None => problems.push("peak memory could not be read".into()),
    }
    let statuses: Vec<String> = by_status
        .iter()
        .map(|(status, n)| match status {
            0 => format!("{n}× connection reset while sending the 3 MiB body"),
            _ => format!("{n}× {status}"),
        })
        .collect();
    Finding {
        scenario: "scan endpoint flood",
        injected: format!(
            "{requests} requests, {concurrency} at a time: no token, wrong token, malformed JSON, a 3 MiB body, an event for a missing object"
        ),
        observed: format!(
            "{}; /healthz {} afterwards; peak memory {} MiB",
            statuses.join(", "),
            if healthy {
                "answered"
            } else {
                "did not answer"
            },
            peak.map_or("unknown".to_string(), |k| format!(
                "{:.1}",
                k as f64 / 1024.0
            ))
        ),
        problems,
        duration: started.elapsed(),
    }
}

/// Writes the findings as a markdown report.
pub fn report(findings: &[Finding], title: &str) -> String {
    let mut text = format!("# {title}\n\n");
    text.push_str("| scenario | injected | observed | result | time |\n|---|---|---|---|---:|\n");
    for finding in findings {
        let result = if finding.passed() {
            "kept every promise".to_string()
        } else {
            format!("{} problems", finding.problems.len())
        };
        text.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} s |\n",
            finding.scenario,
            finding.injected,
            finding.observed,
            result,
            finding.duration.as_secs_f64()
        ));
    }
    for finding in findings.iter().filter(|f| !f.passed()) {
        text.push_str(&format!("\n## Problems: {}\n\n", finding.scenario));
        for problem in &finding.problems {
            text.push_str(&format!("- {problem}\n"));
        }
    }
    text
}
