//! Notify's fan-out, retries, dead letters and redelivery against the running stack's MinIO.
//!
//! The stack's own notify delivers to the fixed `NOTIFY_WEBHOOK_URLS`, so each test starts its
//! own `target/debug/notify` as a plain HTTP server on a free 127.0.0.1 port, pointed at
//! receivers of its own on ephemeral ports. The process is killed by its PID when the test ends.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::Client;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use filestore::webhook::{SIGNATURE_HEADER, SignatureError, sign, unix_now};
use filestore_e2e::flaky::{Behaviour, FlakyReceiver, Hit};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: start the stack with `make stack-up` and source .stack/env")
    })
}

fn secret() -> Vec<u8> {
    env("NOTIFY_WEBHOOK_SECRET").into_bytes()
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the notify binaries once per test run and returns the folder that contains them.
async fn binaries() -> &'static Path {
    static BUILT: OnceCell<PathBuf> = OnceCell::const_new();
    BUILT
        .get_or_init(|| async {
            let root = workspace_root();
            let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["build", "-q", "--workspace", "--bins"])
                .current_dir(&root)
                .status()
                .await
                .expect("cargo runs");
            assert!(status.success(), "cargo build --workspace --bins failed");
            let target =
                std::env::var("CARGO_TARGET_DIR").map_or(root.join("target"), PathBuf::from);
            root.join(target).join("debug")
        })
        .await
}

fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port exists");
    probe
        .local_addr()
        .expect("bound socket has an address")
        .port()
}

/// A notify process of this test, killed by its PID when dropped.
struct Notify {
    _child: Child,
    base_url: String,
    log: PathBuf,
}

impl Notify {
    /// Starts notify with `urls` as its webhooks; `settings` override the fast test defaults.
    async fn start(urls: &[String], settings: &[(&str, &str)]) -> Self {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("filestore-notify-test-{port}.log"));
        let output = std::fs::File::create(&log).expect("log file can be created");
        let mut command = Command::new(binaries().await.join("notify"));
        command
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .env_remove("FN_LISTENER")
            .env_remove("FN_FORMAT")
            .env_remove("NOTIFY_EVENTBRIDGE_BUS")
            .env("RUST_LOG", "info")
            .env("BIND_ADDR", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("NOTIFY_WEBHOOK_URLS", urls.join(","))
            .env("NOTIFY_WEBHOOK_ATTEMPTS", "3")
            .env("NOTIFY_WEBHOOK_BACKOFF_MS", "50")
            .env("NOTIFY_WEBHOOK_TIMEOUT_SECS", "5")
            .env("NOTIFY_DELIVERY_DEADLINE_SECS", "15");
        for (name, value) in settings {
            command.env(name, value);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("log file handle clones"))
            .stderr(output)
            .kill_on_drop(true)
            .spawn()
            .expect("target/debug/notify starts");
        let notify = Self {
            _child: child,
            base_url: format!("http://127.0.0.1:{port}"),
            log,
        };
        notify.wait_until_ready().await;
        notify
    }

    async fn wait_until_ready(&self) {
        let url = format!("{}/healthz", self.base_url);
        for _ in 0..200 {
            if reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "notify did not respond at {url} within 10 s; log:\n{}",
            self.log()
        );
    }

    /// Posts a verdict record and returns the response status and JSON body.
    async fn post(&self, record: &Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/verdicts", self.base_url))
            .bearer_auth(env("NOTIFY_TOKEN"))
            .json(record)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .expect("notify responds");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Notify {
    fn drop(&mut self) {
        // A failed test keeps the log for reading; its path is in the failure message.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// Shared state of [`EventBridgeStandIn`]: the status to return and the bodies received.
#[derive(Default)]
struct StandInState {
    status: Mutex<u16>,
    bodies: Mutex<Vec<Value>>,
}

/// A stand-in for the EventBridge API on an ephemeral 127.0.0.1 port: it records each
/// `PutEvents` body and responds with a settable status, in EventBridge's JSON protocol.
struct EventBridgeStandIn {
    url: String,
    state: Arc<StandInState>,
    server: JoinHandle<()>,
}

impl EventBridgeStandIn {
    async fn start(status: u16) -> Self {
        let state = Arc::new(StandInState::default());
        *state.status.lock().unwrap() = status;
        let router = Router::new()
            .route("/", post(put_events))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.ok();
        });
        Self { url, state, server }
    }

    fn set_status(&self, status: u16) {
        *self.state.status.lock().unwrap() = status;
    }

    fn bodies(&self) -> Vec<Value> {
        self.state.bodies.lock().unwrap().clone()
    }
}

impl Drop for EventBridgeStandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn put_events(
    State(state): State<Arc<StandInState>>,
    body: Bytes,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    state
        .bodies
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    let status = StatusCode::from_u16(*state.status.lock().unwrap()).unwrap();
    let reply = if status.is_success() {
        json!({"FailedEntryCount": 0, "Entries": [{"EventId": "stand-in-event"}]})
    } else {
        json!({"__type": "InternalException", "message": "stand-in failure"})
    };
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        reply.to_string(),
    )
}

/// Returns an id no other test run uses.
fn unique(label: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock is after 1970")
        .as_nanos();
    format!("{label}-{}-{nanos}", std::process::id())
}

/// Returns a clean verdict record with a fresh id and no upload id, so notify writes no status
/// record.
fn verdict(label: &str) -> Value {
    json!({
        "id": unique(label),
        "upload_id": null,
        "bucket": "incoming",
        "key": format!("uploads/notify-test/{label}.txt"),
        "version_id": null,
        "etag": null,
        "size": 5,
        "declared_type": "text/plain",
        "detected_type": "text/plain",
        "verdict": "clean",
        "action": "tagged",
        "scanned_at": "2026-12-04T12:00:00Z",
        "scan_ms": 1
    })
}

fn statuses(hits: &[Hit]) -> Vec<u16> {
    hits.iter().map(|h| h.status.as_u16()).collect()
}

async fn receiver(behaviour: Behaviour) -> FlakyReceiver {
    FlakyReceiver::start(secret(), behaviour)
        .await
        .expect("receiver starts")
}

async fn read_object(client: &Client, key: &str) -> Option<Value> {
    let object = client
        .get_object()
        .bucket(env("STATUS_BUCKET"))
        .key(key)
        .send()
        .await
        .ok()?;
    let bytes = object.body.collect().await.ok()?.into_bytes();
    serde_json::from_slice(&bytes).ok()
}

async fn remove_object(client: &Client, key: &str) {
    client
        .delete_object()
        .bucket(env("STATUS_BUCKET"))
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("deleting {key} failed: {e:?}"));
}

/// Sends `body` with `signature` to the receiver's URL and returns the response status.
async fn post_signed(url: &str, body: &[u8], signature: &str) -> u16 {
    reqwest::Client::new()
        .post(url)
        .header(SIGNATURE_HEADER, signature)
        .body(body.to_vec())
        .send()
        .await
        .expect("receiver responds")
        .status()
        .as_u16()
}

#[tokio::test]
async fn receiver_checks_signatures() {
    let receiver = receiver(Behaviour::succeed()).await;
    let notify = Notify::start(&[receiver.url(None)], &[]).await;
    let record = verdict("signature");

    let (status, response) = notify.post(&record).await;

    assert_eq!(status, 200, "{response}");
    let hits = receiver.wait_for_hits(1, Duration::from_secs(5)).await;
    assert_eq!(statuses(&hits), [204]);
    let delivered = &hits[0];
    assert_eq!(delivered.signature_check, Ok(()));
    assert_eq!(
        delivered.delivery_id.as_deref(),
        response["deliveries"][0]["delivery_id"].as_str()
    );
    let url = receiver.url(None);
    let body = delivered.body.to_vec();
    let original = delivered.signature.clone().expect("signature header sent");
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("\"clean\"", "\"infected\"");
    assert_ne!(tampered.as_bytes(), body.as_slice());
    let now = unix_now();

    assert_eq!(post_signed(&url, tampered.as_bytes(), &original).await, 401);
    assert_eq!(
        post_signed(&url, &body, &sign(b"wrong-secret", now, &body)).await,
        401
    );
    assert_eq!(
        post_signed(&url, &body, &sign(&secret(), now - 301, &body)).await,
        401
    );
    assert_eq!(
        post_signed(&url, &body, &sign(&secret(), now, &body)).await,
        204
    );

    let checks: Vec<_> = receiver.hits()[1..]
        .iter()
        .map(|h| h.signature_check.clone())
        .collect();
    assert_eq!(checks[0], Err(SignatureError::Mismatch));
    assert_eq!(checks[1], Err(SignatureError::Mismatch));
    let Err(SignatureError::Expired {
        age_secs,
        tolerance_secs,
    }) = checks[2]
    else {
        panic!("old signature was not rejected as expired: {:?}", checks[2]);
    };
    assert!(age_secs >= 301, "age {age_secs} s");
    assert_eq!(tolerance_secs, 300);
    assert_eq!(checks[3], Ok(()));
}

#[tokio::test]
async fn retries_until_receiver_recovers() {
    let receiver = receiver(Behaviour::fail_then_succeed(
        2,
        StatusCode::SERVICE_UNAVAILABLE,
    ))
    .await;
    let notify = Notify::start(&[receiver.url(None)], &[]).await;
    let record = verdict("recovers");

    let (status, response) = notify.post(&record).await;

    assert_eq!(status, 200, "{response}");
    let report = &response["deliveries"][0];
    assert_eq!(report["delivered"], true, "{report}");
    assert_eq!(report["attempts"], 3);
    assert_eq!(report["status"], 204);
    assert_eq!(report["dead_letter"], Value::Null);
    assert_eq!(response["dead_lettered"], json!([]));
    let hits = receiver.hits();
    assert_eq!(statuses(&hits), [503, 503, 204]);
    let delivery_id = report["delivery_id"].as_str().unwrap();
    assert!(
        hits.iter()
            .all(|h| h.delivery_id.as_deref() == Some(delivery_id))
    );
    assert!(hits.iter().all(|h| h.signature_check.is_ok()));
    let accepted: Vec<&Hit> = hits.iter().filter(|h| h.status.is_success()).collect();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].record.as_ref().unwrap().id, record["id"]);
}

#[tokio::test]
async fn client_error_is_not_retried() {
    let receiver = receiver(Behaviour::always_fail(StatusCode::BAD_REQUEST)).await;
    let notify = Notify::start(&[receiver.url(None)], &[]).await;
    let record = verdict("bad-request");

    let (status, response) = notify.post(&record).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert_eq!(status, 200, "{response}");
    let report = &response["deliveries"][0];
    assert_eq!(report["delivered"], false);
    assert_eq!(report["attempts"], 1);
    assert_eq!(report["status"], 400);
    assert_eq!(statuses(&receiver.hits()), [400]);
    let key = report["dead_letter"].as_str().expect("dead-lettered");
    remove_object(&filestore_e2e::s3_client().await, key).await;
}

#[tokio::test]
async fn rate_limit_waits_for_retry_after() {
    let behaviour =
        Behaviour::fail_then_succeed(1, StatusCode::TOO_MANY_REQUESTS).with_retry_after("1");
    let receiver = receiver(behaviour).await;
    let notify = Notify::start(&[receiver.url(None)], &[]).await;

    let (status, response) = notify.post(&verdict("rate-limited")).await;

    assert_eq!(status, 200, "{response}");
    let report = &response["deliveries"][0];
    assert_eq!(report["delivered"], true, "{report}");
    assert_eq!(report["attempts"], 2);
    let hits = receiver.hits();
    assert_eq!(statuses(&hits), [429, 204]);
    // The backoff alone would wait at most 50 ms.
    let gap = hits[1].at - hits[0].at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
}

#[tokio::test]
async fn failed_delivery_is_dead_lettered_then_redelivered() {
    let receiver = receiver(Behaviour::always_fail(StatusCode::INTERNAL_SERVER_ERROR)).await;
    let token = unique("url-token");
    let url = receiver.url(Some(&format!("token={token}")));
    let notify = Notify::start(std::slice::from_ref(&url), &[]).await;
    let record = verdict("dead-letter");
    let verdict_id = record["id"].as_str().unwrap().to_string();

    let (status, response) = notify.post(&record).await;

    assert_eq!(status, 200, "{response}");
    let report = &response["deliveries"][0];
    let sink_id = report["sink_id"].as_str().unwrap();
    let key = format!("dead-letters/{verdict_id}/{sink_id}.json");
    assert_eq!(report["delivered"], false);
    assert_eq!(report["attempts"], 3);
    assert_eq!(report["dead_letter"], key.as_str());
    assert_eq!(response["dead_lettered"], json!([sink_id]));
    assert_eq!(statuses(&receiver.hits()), [500, 500, 500]);

    let s3 = filestore_e2e::s3_client().await;
    let letter = read_object(&s3, &key).await.expect("dead letter is stored");
    assert_eq!(letter["verdict_id"], verdict_id.as_str());
    assert_eq!(letter["sink"], "webhook");
    assert_eq!(letter["sink_id"], sink_id);
    assert_eq!(letter["address"], url.as_str());
    assert_eq!(letter["delivery_id"], format!("{verdict_id}.{sink_id}"));
    assert_eq!(letter["body"], record);
    assert_eq!(letter["attempts"], 3);
    assert_eq!(letter["last_status"], 500);
    let last_error = letter["last_error"].as_str().unwrap();
    assert!(last_error.contains("500"), "{last_error}");
    assert!(letter["failed_at"].as_str().is_some_and(|t| t.len() >= 20));
    let log = notify.log();
    assert!(
        log.contains(&key),
        "notify log does not name the dead letter:\n{log}"
    );
    assert!(
        !log.contains(&token),
        "notify logged the webhook URL's token"
    );

    receiver.set_behaviour(Behaviour::succeed());
    let before = unix_now();
    let (succeeded, output) = redeliver(&verdict_id, &[]).await;

    assert!(succeeded, "redeliver failed:\n{output}");
    assert!(output.contains(&format!("delivered\t{key}")), "{output}");
    assert!(
        !output.contains(&token),
        "redeliver printed the webhook URL's token"
    );
    let hits = receiver.hits();
    assert_eq!(statuses(&hits), [500, 500, 500, 204]);
    let redelivered = &hits[3];
    assert_eq!(redelivered.signature_check, Ok(()));
    assert_eq!(
        redelivered.delivery_id.as_deref(),
        Some(format!("{verdict_id}.{sink_id}").as_str())
    );
    let signed_at: u64 = redelivered
        .signature
        .as_deref()
        .and_then(|s| s.split(',').find_map(|part| part.strip_prefix("t=")))
        .and_then(|t| t.parse().ok())
        .expect("signature has a timestamp");
    assert!(
        signed_at >= before,
        "signature is not fresh: t={signed_at}, before={before}"
    );
    assert_eq!(redelivered.record.as_ref().unwrap().id, verdict_id);
    assert_eq!(
        read_object(&s3, &key).await,
        None,
        "dead letter was not removed"
    );
}

#[tokio::test]
async fn slow_sink_does_not_delay_others() {
    let fast = receiver(Behaviour::succeed()).await;
    let slow = receiver(Behaviour::succeed().with_delay(Duration::from_secs(60))).await;
    let urls = [slow.url(None), fast.url(None)];
    let settings = [
        ("NOTIFY_WEBHOOK_TIMEOUT_SECS", "1"),
        ("NOTIFY_DELIVERY_DEADLINE_SECS", "3"),
    ];
    let notify = Notify::start(&urls, &settings).await;

    let started = Instant::now();
    let (status, response) = notify.post(&verdict("slow-sink")).await;
    let elapsed = started.elapsed();

    assert_eq!(status, 200, "{response}");
    let fast_hits = fast.hits();
    assert_eq!(statuses(&fast_hits), [204]);
    let fast_after = fast_hits[0].at - started;
    assert!(
        fast_after < Duration::from_secs(1),
        "fast sink reached after {fast_after:?}"
    );
    assert!(
        elapsed >= Duration::from_secs(2),
        "returned after {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(6),
        "returned after {elapsed:?}"
    );
    let slow_report = &response["deliveries"][0];
    let fast_report = &response["deliveries"][1];
    assert_eq!(fast_report["delivered"], true);
    assert_eq!(fast_report["attempts"], 1);
    assert_eq!(slow_report["delivered"], false);
    let error = slow_report["error"].as_str().unwrap();
    assert!(error.contains("timed out"), "{error}");
    let key = slow_report["dead_letter"].as_str().expect("dead-lettered");
    remove_object(&filestore_e2e::s3_client().await, key).await;
}

/// Runs `redeliver <verdict id>` with extra environment and returns its status and stdout.
async fn redeliver(verdict_id: &str, settings: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(binaries().await.join("redeliver"));
    command.arg(verdict_id);
    for (name, value) in settings {
        command.env(name, value);
    }
    let output = command.output().await.expect("redeliver runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    (output.status.success(), format!("{stdout}{stderr}"))
}

#[tokio::test]
async fn eventbridge_sink_is_dead_lettered_then_redelivered() {
    let stand_in = EventBridgeStandIn::start(500).await;
    let settings = [
        ("NOTIFY_EVENTBRIDGE_BUS", "filestore-test-bus"),
        ("AWS_ENDPOINT_URL_EVENTBRIDGE", stand_in.url.as_str()),
    ];
    let notify = Notify::start(&[], &settings).await;
    let record = verdict("eventbridge");
    let verdict_id = record["id"].as_str().unwrap().to_string();

    let (status, response) = notify.post(&record).await;

    assert_eq!(status, 200, "{response}");
    let report = &response["deliveries"][0];
    assert_eq!(report["sink"], "eventbridge");
    assert_eq!(report["target"], "filestore-test-bus");
    assert_eq!(report["delivered"], false);
    assert_eq!(report["attempts"], 3);
    assert_eq!(report["status"], 500);
    assert_eq!(stand_in.bodies().len(), 3);
    let key = report["dead_letter"]
        .as_str()
        .expect("dead-lettered")
        .to_string();
    let s3 = filestore_e2e::s3_client().await;
    let letter = read_object(&s3, &key).await.expect("dead letter is stored");
    assert_eq!(letter["sink"], "eventbridge");
    assert_eq!(letter["address"], "filestore-test-bus");

    stand_in.set_status(200);
    let (succeeded, output) = redeliver(&verdict_id, &settings).await;

    assert!(succeeded, "redeliver failed:\n{output}");
    let bodies = stand_in.bodies();
    assert_eq!(bodies.len(), 4);
    let entry = &bodies[3]["Entries"][0];
    assert_eq!(entry["EventBusName"], "filestore-test-bus");
    assert_eq!(entry["Source"], "filestore");
    assert_eq!(entry["DetailType"], "Filestore Verdict");
    let detail: Value = serde_json::from_str(entry["Detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail, record);
    assert_eq!(
        read_object(&s3, &key).await,
        None,
        "dead letter was not removed"
    );
}
