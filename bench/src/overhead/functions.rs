//! Cold start of each function in plain HTTP mode, and presign's request rate.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::corpus::Entry;
use crate::measure::{Latency, Probe, Processes};
use crate::product::{Product, minio_event, put_file};

/// Cold start of one function over several process starts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ColdStart {
    pub kind: String,
    pub db: String,
    pub function: String,
    pub event: String,
    pub starts: usize,
    /// Process start to the first accepted TCP connection.
    pub listening_ms: Latency,
    /// Process start to the response to the first event: the cold start.
    pub first_event_ms: Latency,
    /// The same kind of event sent right after, to a warm process.
    pub warm_event_ms: Latency,
    pub rss_after_first_event_mib: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// Where the cold-start instances run and which binaries they are.
pub struct ColdStartSetup<'a> {
    pub bin_dir: &'a Path,
    pub port: u16,
    pub log_dir: &'a Path,
    /// notify URL for the scan instance: the receiver's stand-in, so only scan starts cold.
    pub scan_notify_url: &'a str,
    pub notify_token: &'a str,
    pub starts: usize,
}

struct Spawned {
    child: Child,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts each function `starts` times and times its first event.
pub async fn cold_starts(product: &Product, setup: &ColdStartSetup<'_>) -> Vec<ColdStart> {
    let mut results = Vec::new();
    for function in ["presign", "notify", "scan", "upload"] {
        let mut first = Vec::new();
        let mut listening = Vec::new();
        let mut warm = Vec::new();
        let mut rss = 0.0f64;
        let mut errors = Vec::new();
        for start in 0..setup.starts {
            match cold_start_once(product, setup, function, start).await {
                Ok(timing) => {
                    listening.push(timing.listening);
                    first.push(timing.first_event);
                    warm.push(timing.warm_event);
                    rss = rss.max(timing.rss_mib);
                }
                Err(e) => errors.push(e),
            }
        }
        results.push(ColdStart {
            kind: "cold_start".into(),
            db: product.db.clone(),
            function: function.into(),
            event: event_name(function).into(),
            starts: first.len(),
            listening_ms: Latency::of(&listening),
            first_event_ms: Latency::of(&first),
            warm_event_ms: Latency::of(&warm),
            rss_after_first_event_mib: rss,
            errors,
        });
    }
    results
}

fn event_name(function: &str) -> &'static str {
    match function {
        "presign" => "POST /uploads (JWT, status record written)",
        "notify" => "POST /verdicts (status record, signed webhook delivered)",
        "scan" => "POST /webhook for a 4 KiB text object (scan, encrypted copy, verdict)",
        _ => "POST /files with 4 KiB of text (scan, encrypted copy, answer)",
    }
}

struct Timing {
    listening: Duration,
    first_event: Duration,
    warm_event: Duration,
    rss_mib: f64,
}

async fn cold_start_once(
    product: &Product,
    setup: &ColdStartSetup<'_>,
    function: &str,
    start: usize,
) -> Result<Timing, String> {
    // Objects for the scan events are uploaded before the process starts.
    let mut scan_keys = Vec::new();
    let entry = cold_entry();
    if function == "scan" {
        let path = setup.log_dir.join("cold-start.txt");
        std::fs::write(&path, cold_text()).map_err(|e| e.to_string())?;
        for n in 0..2 {
            let key = format!(
                "cold-{}-{start}-{n}-{}/cold-start.txt",
                product.db,
                filestore::webhook::unix_now()
            );
            put_file(&product.s3, &product.direct_bucket, &key, &path).await?;
            scan_keys.push(key);
        }
    }
    let base = format!("http://127.0.0.1:{}", setup.port);
    let log: PathBuf = setup.log_dir.join(format!("cold-start-{function}.log"));
    let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let mut command = Command::new(setup.bin_dir.join(function));
    command
        .env("PORT", setup.port.to_string())
        .env("BIND_ADDR", "127.0.0.1")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdin(Stdio::null())
        .stdout(Stdio::from(
            log_file.try_clone().map_err(|e| e.to_string())?,
        ))
        .stderr(Stdio::from(log_file));
    if function == "scan" {
        command.env("NOTIFY_URL", setup.scan_notify_url);
    }

    let started = Instant::now();
    let spawned = Spawned {
        child: command
            .spawn()
            .map_err(|e| format!("starting {function} failed: {e}"))?,
    };
    let pid = spawned.child.id();
    let address = format!("127.0.0.1:{}", setup.port);
    loop {
        if TcpStream::connect(&address).is_ok() {
            break;
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!(
                "{function} did not listen within 10 s; see {}",
                log.display()
            ));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let listening = started.elapsed();
    send_event(product, setup, function, &base, scan_keys.first(), &entry).await?;
    let first_event = started.elapsed();
    let rss_mib = crate::measure::status_kib(pid, "VmRSS").unwrap_or(0) as f64 / 1024.0;
    let warm_started = Instant::now();
    send_event(product, setup, function, &base, scan_keys.get(1), &entry).await?;
    let warm_event = warm_started.elapsed();
    drop(spawned);
    Ok(Timing {
        listening,
        first_event,
        warm_event,
        rss_mib,
    })
}

fn cold_text() -> Vec<u8> {
    let line = "Cold start probe: a small clean text object for the first event.\n";
    line.repeat(4096 / line.len() + 1).into_bytes()[..4096].to_vec()
}

fn cold_entry() -> Entry {
    Entry {
        path: "cold-start.txt".into(),
        class: "cold".into(),
        size: 4096,
        content_type: "text/plain".into(),
        expected: "clean".into(),
    }
}

async fn send_event(
    product: &Product,
    setup: &ColdStartSetup<'_>,
    function: &str,
    base: &str,
    scan_key: Option<&String>,
    entry: &Entry,
) -> Result<(), String> {
    let request = match function {
        "presign" => product
            .http
            .post(format!("{base}/uploads"))
            .bearer_auth(&product.jwt)
            .json(&json!({ "filename": "cold-start.txt", "content_type": "text/plain", "size": 4096 })),
        "notify" => product
            .http
            .post(format!("{base}/verdicts"))
            .bearer_auth(setup.notify_token)
            .json(&verdict_record()),
        "scan" => product
            .http
            .post(format!("{base}/webhook"))
            .bearer_auth(&product.scan_token)
            .json(&minio_event(
                &product.direct_bucket,
                scan_key.ok_or("no object for the scan event")?,
                entry,
            )),
        _ => product
            .http
            .post(format!("{base}/files?name=cold-start.txt"))
            .bearer_auth(&product.jwt)
            .header("content-type", "application/octet-stream")
            .body(cold_text()),
    };
    let response = request
        .send()
        .await
        .map_err(|e| format!("{function} request failed: {e}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("{function} answered {status}: {body}"));
    }
    Ok(())
}

fn verdict_record() -> serde_json::Value {
    let id = format!(
        "cold-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    );
    json!({
        "id": id,
        "upload_id": null,
        "bucket": "incoming",
        "key": "cold-start.txt",
        "version_id": null,
        "etag": null,
        "size": 4096,
        "declared_type": "text/plain",
        "detected_type": "text/plain",
        "verdict": "clean",
        "action": "stored",
        "scanned_at": "2026-12-04T12:00:00Z",
        "scan_ms": 1
    })
}

/// presign's request rate for one route.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoadResult {
    pub kind: String,
    pub route: String,
    pub connections: usize,
    pub seconds: f64,
    pub requests: usize,
    pub failures: usize,
    pub requests_per_sec: f64,
    pub latency_ms: Latency,
    /// CPU microseconds per request, by process.
    pub cpu_us_per_request: BTreeMap<String, f64>,
}

/// Sends `request` (a whole HTTP/1.1 request) over `connections` keep-alive connections for
/// `duration` after a one-second warm-up, and counts 2xx answers.
pub async fn load(
    processes: &Processes,
    address: &str,
    route: &str,
    request: Vec<u8>,
    connections: usize,
    duration: Duration,
) -> LoadResult {
    let request = std::sync::Arc::new(request);
    let warm_up_end = Instant::now() + Duration::from_secs(1);
    let end = warm_up_end + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let request = request.clone();
        let address = address.to_string();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            let Ok(mut stream) = tokio::net::TcpStream::connect(&address).await else {
                return (latencies, 1usize);
            };
            let _ = stream.set_nodelay(true);
            let mut buffer = Vec::with_capacity(16 * 1024);
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                let ok = exchange(&mut stream, &request, &mut buffer).await;
                let latency = now.elapsed();
                if now >= warm_up_end {
                    match ok {
                        Ok(true) => latencies.push(latency),
                        _ => failures += 1,
                    }
                }
                if ok.is_err() {
                    match tokio::net::TcpStream::connect(&address).await {
                        Ok(fresh) => stream = fresh,
                        Err(_) => break,
                    }
                }
            }
            (latencies, failures)
        }));
    }
    tokio::time::sleep_until((warm_up_end).into()).await;
    let probe = Probe::start(processes);
    let mut latencies = Vec::new();
    let mut failures = 0;
    for task in tasks {
        if let Ok((mut l, f)) = task.await {
            latencies.append(&mut l);
            failures += f;
        }
    }
    let seconds = probe.started().elapsed().as_secs_f64();
    let usage = probe.finish(1_000_000);
    let requests = latencies.len();
    let per_request = |cpu: f64| cpu * 1e6 / (requests.max(1)) as f64;
    LoadResult {
        kind: "presign_load".into(),
        route: route.into(),
        connections,
        seconds,
        requests,
        failures,
        requests_per_sec: requests as f64 / seconds,
        latency_ms: Latency::of(&latencies),
        cpu_us_per_request: usage
            .cpu_seconds
            .iter()
            .filter(|(role, _)| matches!(role.as_str(), "presign" | "minio" | "client"))
            .map(|(role, cpu)| (role.clone(), per_request(*cpu)))
            .collect(),
    }
}

/// Writes one request and reads one response; returns whether its status was 2xx.
async fn exchange(
    stream: &mut tokio::net::TcpStream,
    request: &[u8],
    buffer: &mut Vec<u8>,
) -> std::io::Result<bool> {
    stream.write_all(request).await?;
    buffer.clear();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_ascii_lowercase();
    let status_ok = head.starts_with("http/1.1 2");
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| std::io::Error::other("response without content-length"))?;
    while buffer.len() < header_end + length {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    Ok(status_ok)
}

/// Builds a whole HTTP/1.1 request with an optional bearer token and JSON body.
pub fn http_request(
    method: &str,
    host: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    if let Some(token) = token {
        text.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    match body {
        Some(body) => text.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )),
        None => text.push_str("\r\n"),
    }
    text.into_bytes()
}
