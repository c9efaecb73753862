//! The deployment targets, checked without Docker or a cloud account.
//!
//! - The function binaries run as OpenFaaS, Knative and Fn run them: started without
//!   `AWS_LAMBDA_RUNTIME_API`, serving plain HTTP on `PORT` or on Fn's `FN_LISTENER` socket,
//!   against the local stack's MinIO and clamd, and stopped with SIGTERM.
//! - `template.yaml` passes cfn-lint and `sam validate --lint`.
//! - Every deployment descriptor sets only variables the functions read, sets every required one,
//!   and passes secrets by reference.
//! - The LocalStack set-up (ignored here; `make localstack-test` runs it) turns an upload into an
//!   SQS message that scan parses and scans.
//!
//! The binaries come from `cargo build --workspace` (target/debug), the Python tools from
//! `scripts/install.sh` ($FILESTORE_STATE_DIR/tools/deploy). Each test starts its own processes
//! on ports 18080-18089 or on sockets in a temporary folder.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use filestore::event::{Envelope, RecordKind, parse_envelope};
use filestore_e2e::{ensure_bucket, put_object, s3_client};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bucket without notifications, shared with the scan tests, so only the events a test sends
/// reach the function.
const PLAIN: &str = "filestore-test-plain";

/// Maximum wait for a process to pass its health check.
const START_LIMIT: Duration = Duration::from_secs(30);

/// Maximum wait for a process to exit after SIGTERM.
const STOP_LIMIT: Duration = Duration::from_secs(5);

// --- processes ------------------------------------------------------------------------------

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the repository")
        .to_path_buf()
}

fn state_dir() -> PathBuf {
    std::env::var_os("FILESTORE_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".stack"))
}

fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let path = target.join("debug").join(name);
    assert!(
        path.is_file(),
        "{} is missing; build it with `cargo build --workspace`",
        path.display()
    );
    path
}

/// Returns a program from the deployment tools' virtual environment.
fn tool(name: &str) -> PathBuf {
    let path = state_dir().join("tools/deploy/bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing; install the deployment tools with scripts/install.sh",
        path.display()
    );
    path
}

fn env_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: start the stack with `make stack-up` and source .stack/env")
    })
}

/// A scratch folder for logs and sockets, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        // Fn limits socket paths to 107 bytes, so the folder stays short.
        let path = std::env::temp_dir().join(format!("fs-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("creating a folder under the temporary folder");
        Self(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A function binary started as a plain HTTP server; killed on drop if a test fails first.
struct Function {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Function {
    /// Starts a binary with the test's environment (the stack's, from .stack/env) minus every
    /// variable that picks a front door, plus `vars`.
    fn start(name: &str, scratch: &Scratch, vars: &[(&str, &str)]) -> Self {
        let log = scratch.0.join(format!("{name}.log"));
        let output = fs::File::create(&log).expect("creating the log file");
        let mut command = Command::new(binary(name));
        for variable in [
            "AWS_LAMBDA_RUNTIME_API",
            "FN_LISTENER",
            "FN_FORMAT",
            "PORT",
            "BIND_ADDR",
        ] {
            command.env_remove(variable);
        }
        command
            .env("RUST_LOG", "info")
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("cloning the log file handle"))
            .stderr(output);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name} failed: {e}"));
        Self {
            name: name.to_string(),
            child,
            log,
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics with the process log when the process has exited.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("polling the child process") {
            panic!(
                "{} exited early with {status}; its log:\n{}",
                self.name,
                self.log_text()
            );
        }
    }

    /// Waits until `GET /healthz` on `port` returns 200 `ok`.
    async fn wait_for_tcp(&mut self, port: u16) {
        let url = format!("http://127.0.0.1:{port}/healthz");
        let deadline = Instant::now() + START_LIMIT;
        loop {
            self.assert_running();
            if let Ok(response) = http().get(&url).send().await
                && response.status() == 200
            {
                assert_eq!(response.text().await.unwrap(), "ok");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not answer {url} within {START_LIMIT:?}; its log:\n{}",
                self.name,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the Fn socket exists and `GET /healthz` on it returns 200.
    async fn wait_for_socket(&mut self, socket: &Path) {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            self.assert_running();
            if socket.exists() {
                let response = unix_request(socket, "GET", "/healthz", &[], b"").await;
                assert_eq!(response.status, 200, "{response:?}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not create {} within {START_LIMIT:?}; its log:\n{}",
                self.name,
                socket.display(),
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM, as a platform does before it removes a container, and returns the exit
    /// status, failing if the process is still running after [`STOP_LIMIT`].
    fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + STOP_LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("polling the child process") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} still running {STOP_LIMIT:?} after SIGTERM; its log:\n{}",
                self.name,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Terminates the process and checks that it exited 0 after logging its shutdown.
    fn terminate_cleanly(&mut self) {
        let status = self.terminate();
        let log = self.log_text();
        assert_eq!(status.code(), Some(0), "{} log:\n{log}", self.name);
        assert!(log.contains("shutting down"), "{} log:\n{log}", self.name);
        assert!(
            log.contains("HTTP server stopped"),
            "{} log:\n{log}",
            self.name
        );
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client settings are valid")
}

// --- HTTP over a unix socket ----------------------------------------------------------------

/// A response read off a unix socket.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    /// Header names in lower case.
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl RawResponse {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Sends one HTTP/1.1 request over a unix socket, as Fn's agent does, and reads the response.
async fn unix_request(
    socket: &Path,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    let mut stream = tokio::net::UnixStream::connect(socket)
        .await
        .unwrap_or_else(|e| panic!("connecting to {} failed: {e}", socket.display()));
    let mut request = format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> RawResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("invalid status line {status_line:?}"));
    let headers: BTreeMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let rest = &raw[split + 4..];
    let body = if headers.get("transfer-encoding").map(String::as_str) == Some("chunked") {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = String::from_utf8_lossy(&rest[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .expect("hexadecimal chunk size");
        rest = &rest[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

// --- events and objects -----------------------------------------------------------------------

fn unique_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:032x}")
}

/// Builds the body MinIO's webhook target posts for one new object. MinIO escapes the key with
/// query escaping, `/` included.
fn minio_event(bucket: &str, key: &str, size: usize, etag: &str) -> Value {
    let escaped: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
    json!({
        "EventName": "s3:ObjectCreated:Put",
        "Key": format!("{bucket}/{key}"),
        "Records": [{
            "eventVersion": "2.0",
            "eventSource": "minio:s3",
            "awsRegion": "",
            "eventTime": "2026-12-04T12:00:00.000Z",
            "eventName": "s3:ObjectCreated:Put",
            "userIdentity": { "principalId": "filestore-test" },
            "requestParameters": { "principalId": "filestore-test", "region": "", "sourceIPAddress": "127.0.0.1" },
            "responseElements": { "x-amz-request-id": "187C9B2D5E9A1A20" },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "Config",
                "bucket": { "name": bucket, "ownerIdentity": { "principalId": "filestore-test" }, "arn": format!("arn:aws:s3:::{bucket}") },
                "object": { "key": escaped, "size": size, "eTag": etag, "contentType": "text/plain", "sequencer": "187C9B2D5EB0F6C4" }
            },
            "source": { "host": "127.0.0.1", "port": "", "userAgent": "filestore-test" }
        }]
    })
}

/// Uploads a clean text file under `uploads/<id>/` to the plain test bucket and returns the key
/// and the MinIO event for it.
async fn upload_text(name: &str) -> (String, Value) {
    let client = s3_client().await;
    ensure_bucket(&client, PLAIN, false).await;
    let key = format!("uploads/{}/{name}", unique_id());
    let bytes = filestore_e2e::samples::text();
    let size = bytes.len();
    let (etag, _) = put_object(&client, PLAIN, &key, bytes, None).await;
    let event = minio_event(PLAIN, &key, size, &etag);
    (key, event)
}

async fn object_tags(bucket: &str, key: &str) -> Vec<(String, String)> {
    let client = s3_client().await;
    let output = client
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("reading the tags of {bucket}/{key} failed: {e:?}"));
    output
        .tag_set
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect()
}

async fn status_record(upload_id: &str) -> Value {
    let client = s3_client().await;
    let bucket = env_var("STATUS_BUCKET");
    let key = filestore::verdict::status_key(upload_id);
    let output = client
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("reading {bucket}/{key} failed: {e:?}"));
    let bytes = output.body.collect().await.unwrap().into_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// Returns every string in a JSON value, at any depth.
fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(fields) => fields.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

fn only_verdict(summary: &Value) -> &Value {
    let verdicts = summary["verdicts"]
        .as_array()
        .unwrap_or_else(|| panic!("no verdicts in {summary}"));
    assert_eq!(verdicts.len(), 1, "expected one verdict in {summary}");
    &verdicts[0]
}

// --- plain HTTP over TCP (OpenFaaS, Knative, local runs) --------------------------------------

#[tokio::test]
async fn presign_serves_plain_http() {
    let scratch = Scratch::new("presign-tcp");
    let mut presign = Function::start(
        "presign",
        &scratch,
        &[("PORT", "18080"), ("PRESIGN_ALLOW_ANONYMOUS", "true")],
    );
    presign.wait_for_tcp(18080).await;
    let base = "http://127.0.0.1:18080";

    let created = http()
        .post(format!("{base}/uploads"))
        .json(&json!({ "filename": "report.pdf", "content_type": "application/pdf", "size": 1234 }))
        .send()
        .await
        .unwrap();
    let created_status = created.status().as_u16();
    let ticket: Value = created.json().await.unwrap();
    let id = ticket["id"].as_str().unwrap_or_default().to_string();
    let status = http()
        .get(format!("{base}/uploads/{id}"))
        .send()
        .await
        .unwrap();
    let status_code = status.status().as_u16();
    let record: Value = status.json().await.unwrap();
    let rejected = http()
        .post(format!("{base}/uploads"))
        .json(&json!({ "filename": "tool.exe", "content_type": "application/octet-stream", "size": 10 }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();

    assert_eq!(created_status, 201, "{ticket}");
    assert!(!id.is_empty(), "{ticket}");
    let key = ticket["key"].as_str().unwrap_or_default();
    assert!(key.starts_with(&format!("uploads/{id}/")), "{ticket}");
    // The ticket's shape depends on the upload kind, but every kind sends the browser to a URL
    // of the incoming bucket on the stack's storage.
    let bucket_url = format!(
        "{}/{}",
        env_var("AWS_ENDPOINT_URL_S3"),
        env_var("INCOMING_BUCKET")
    );
    assert!(
        strings(&ticket).iter().any(|s| s.starts_with(&bucket_url)),
        "no URL under {bucket_url} in {ticket}"
    );
    assert_eq!(status_code, 200, "{record}");
    assert_eq!(record["status"], "pending", "{record}");
    assert_eq!(rejected, 415);
    presign.terminate_cleanly();
}

#[tokio::test]
async fn scan_and_notify_serve_plain_http() {
    let scratch = Scratch::new("scan-tcp");
    let mut notify = Function::start(
        "notify",
        &scratch,
        &[("PORT", "18082"), ("NOTIFY_WEBHOOK_URLS", "")],
    );
    let mut scan = Function::start(
        "scan",
        &scratch,
        &[
            ("PORT", "18081"),
            ("NOTIFY_URL", "http://127.0.0.1:18082/verdicts"),
            ("SCAN_ACTION_CLEAN", "tag"),
        ],
    );
    notify.wait_for_tcp(18082).await;
    scan.wait_for_tcp(18081).await;
    let token = env_var("SCAN_WEBHOOK_TOKEN");
    let (key, event) = upload_text("notes.txt").await;
    let upload_id = filestore::verdict::upload_id_of(&key).unwrap().to_string();

    let unauthorized = http()
        .post("http://127.0.0.1:18081/")
        .json(&event)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    let probe = http()
        .post("http://127.0.0.1:18081/")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    let response = http()
        .post("http://127.0.0.1:18081/webhook")
        .bearer_auth(&token)
        .json(&event)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let summary: Value = response.json().await.unwrap();

    assert_eq!(unauthorized, 401);
    assert_eq!(probe, 200, "MinIO's empty probe must get 200");
    assert_eq!(status, 200, "{summary}");
    let verdict = only_verdict(&summary);
    assert_eq!(verdict["key"], key.as_str());
    assert_eq!(verdict["verdict"], "clean", "{summary}");
    assert!(
        object_tags(PLAIN, &key)
            .await
            .contains(&("scan-status".into(), "clean".into()))
    );
    let record = status_record(&upload_id).await;
    assert_eq!(
        record["status"], "clean",
        "notify did not record the verdict: {record}"
    );
    scan.terminate_cleanly();
    notify.terminate_cleanly();
}

#[tokio::test]
async fn invalid_front_door_settings_stop_start_up() {
    let scratch = Scratch::new("invalid");
    // main returns the error, so the process prints it (in Debug form) and exits 1.
    let cases = [
        (vec![("PORT", "http")], ["PORT", "\"http\""]),
        (
            vec![("BIND_ADDR", "everywhere")],
            ["BIND_ADDR", "everywhere"],
        ),
        (
            vec![("FN_LISTENER", "/tmp/no-scheme.sock")],
            ["FN_LISTENER", "/tmp/no-scheme.sock"],
        ),
        (
            vec![("FN_FORMAT", "json"), ("FN_LISTENER", "unix:/tmp/x.sock")],
            ["FN_FORMAT", "json"],
        ),
    ];
    for (vars, expected) in cases {
        let mut vars = vars;
        vars.push(("NOTIFY_WEBHOOK_URLS", ""));
        let mut notify = Function::start("notify", &scratch, &vars);
        let deadline = Instant::now() + START_LIMIT;
        let status = loop {
            if let Some(status) = notify.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "notify kept running with {vars:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let log = notify.log_text();
        assert!(!status.success(), "notify exited 0 with {vars:?}");
        for text in expected {
            assert!(log.contains(text), "{vars:?} logged:\n{log}");
        }
    }
}

// --- Fn's http-stream contract on a unix socket -----------------------------------------------

/// Starts a function the way Fn's agent does and returns it with its socket path.
async fn start_fn(name: &str, scratch: &Scratch, vars: &[(&str, &str)]) -> (Function, PathBuf) {
    let folder = scratch.0.join(name);
    fs::create_dir_all(&folder).unwrap();
    let socket = folder.join("lsnr.sock");
    let listener = format!("unix:{}", socket.display());
    let mut all = vec![
        ("FN_FORMAT", "http-stream"),
        ("FN_LISTENER", listener.as_str()),
    ];
    all.extend_from_slice(vars);
    let mut function = Function::start(name, scratch, &all);
    function.wait_for_socket(&socket).await;
    (function, socket)
}

/// Checks what Fn's agent checks before it connects: a symlink with a target in the same
/// folder, which is a socket the agent may write to.
fn assert_fn_socket_layout(socket: &Path) {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    let link = fs::read_link(socket).expect("FN_LISTENER is a symlink");
    assert_eq!(
        link.parent(),
        Some(Path::new("")),
        "symlink target {link:?} is not a bare file name"
    );
    let target = fs::metadata(socket).expect("the symlink target exists");
    assert!(target.file_type().is_socket(), "the target is not a socket");
    assert_eq!(target.permissions().mode() & 0o777, 0o666);
}

#[tokio::test]
async fn scan_serves_fn_trigger_calls() {
    let scratch = Scratch::new("scan-fn");
    let mut notify = Function::start(
        "notify",
        &scratch,
        &[("PORT", "18083"), ("NOTIFY_WEBHOOK_URLS", "")],
    );
    notify.wait_for_tcp(18083).await;
    let (mut scan, socket) = start_fn(
        "scan",
        &scratch,
        &[("NOTIFY_URL", "http://127.0.0.1:18083/verdicts")],
    )
    .await;
    assert_fn_socket_layout(&socket);
    let token = format!("Bearer {}", env_var("SCAN_WEBHOOK_TOKEN"));
    let (key, event) = upload_text("fn notes.txt").await;
    let body = serde_json::to_vec(&event).unwrap();
    // What Fn's HTTP trigger sends for MinIO's POST to /t/filestore/webhook.
    let trigger = [
        ("Fn-Call-Id", "01TESTCALL"),
        ("Fn-Deadline", "2099-01-01T00:00:00Z"),
        ("Fn-Intent", "httprequest"),
        ("Fn-Http-Method", "POST"),
        (
            "Fn-Http-Request-Url",
            "http://fnserver:8080/t/filestore/webhook",
        ),
        ("Fn-Http-H-Authorization", token.as_str()),
        ("Content-Type", "application/json"),
    ];

    let unauthorized = unix_request(&socket, "POST", "/call", &trigger[..5], &body).await;
    let scanned = unix_request(&socket, "POST", "/call", &trigger, &body).await;

    assert_eq!(
        unauthorized.status, 200,
        "Fn's agent needs 200: {unauthorized:?}"
    );
    assert_eq!(unauthorized.headers["fn-http-status"], "401");
    assert_eq!(scanned.status, 200, "{scanned:?}");
    assert_eq!(scanned.headers["fn-http-status"], "200", "{scanned:?}");
    assert_eq!(scanned.headers["content-type"], "application/json");
    let summary = scanned.json();
    let verdict = only_verdict(&summary);
    assert_eq!(verdict["key"], key.as_str());
    assert_eq!(verdict["verdict"], "clean", "{summary}");
    scan.terminate_cleanly();
    assert!(
        fs::symlink_metadata(&socket).is_err(),
        "the socket link is left behind"
    );
    notify.terminate_cleanly();
}

#[tokio::test]
async fn presign_serves_fn_invokes() {
    let scratch = Scratch::new("presign-fn");
    let (mut presign, socket) =
        start_fn("presign", &scratch, &[("PRESIGN_ALLOW_ANONYMOUS", "true")]).await;
    let request = serde_json::to_vec(
        &json!({ "filename": "photo.png", "content_type": "image/png", "size": 2048 }),
    )
    .unwrap();

    // `fn invoke` sends the body alone; the binary routes it to POST /uploads.
    let invoked = unix_request(
        &socket,
        "POST",
        "/call",
        &[
            ("Fn-Call-Id", "01INVOKE"),
            ("Content-Type", "application/json"),
        ],
        &request,
    )
    .await;
    // A trigger call for GET /uploads/{id}, as a gateway in front of Fn forwards it.
    let id = invoked.json()["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let url = format!("https://api.example.com/t/filestore/uploads/{id}");
    let polled = unix_request(
        &socket,
        "POST",
        "/call",
        &[
            ("Fn-Call-Id", "01STATUS"),
            ("Fn-Intent", "httprequest"),
            ("Fn-Http-Method", "GET"),
            ("Fn-Http-Request-Url", url.as_str()),
        ],
        b"",
    )
    .await;

    assert_eq!(invoked.status, 200, "{invoked:?}");
    assert_eq!(invoked.headers["fn-http-status"], "201", "{invoked:?}");
    assert!(!id.is_empty(), "{invoked:?}");
    assert_eq!(polled.status, 200, "{polled:?}");
    assert_eq!(polled.headers["fn-http-status"], "200", "{polled:?}");
    assert_eq!(polled.json()["status"], "pending");
    presign.terminate_cleanly();
}

// --- AWS SAM template -------------------------------------------------------------------------

/// Environment that keeps the AWS tools offline: fake credentials, a region, every endpoint on a
/// closed local port, and no telemetry.
fn offline_aws_env(command: &mut Command) -> &mut Command {
    command
        .env("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKEFAKE")
        .env("AWS_SECRET_ACCESS_KEY", "fake-secret-for-offline-checks")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("SAM_CLI_TELEMETRY", "0")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
}

fn run_checked(command: &mut Command) -> String {
    let output = command
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("running {command:?} failed: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{command:?} exited with {}:\n{text}",
        output.status
    );
    text
}

#[test]
fn template_passes_cfn_lint() {
    let mut command = Command::new(tool("cfn-lint"));
    offline_aws_env(&mut command).args([
        "--non-zero-exit-code",
        "informational",
        "--",
        "template.yaml",
    ]);
    run_checked(&mut command);
}

#[test]
fn template_passes_sam_validate() {
    let mut command = Command::new(tool("sam"));
    offline_aws_env(&mut command).args([
        "validate",
        "--lint",
        "--region",
        "us-east-1",
        "--template-file",
        "template.yaml",
    ]);
    let output = run_checked(&mut command);
    assert!(
        output.contains("is a valid SAM Template"),
        "sam validate printed:\n{output}"
    );
}

// --- deployment descriptors -------------------------------------------------------------------

/// Variables that contain secrets: descriptors pass them by reference, never as values.
const SECRETS: [&str; 10] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "SCAN_WEBHOOK_TOKEN",
    "NOTIFY_TOKEN",
    "NOTIFY_WEBHOOK_SECRET",
    "PRESIGN_JWT_HS256_SECRET",
    "PRESIGN_API_KEYS",
    "VAULT_TOKEN",
    "VAULT_SECRET_ID",
];

/// Variables every function reads besides its own: the front door (`filestore::serve`), the
/// AWS SDK and logging.
const COMMON_VARIABLES: [&str; 14] = [
    "PORT",
    "BIND_ADDR",
    "FN_LISTENER",
    "FN_FORMAT",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "S3_FORCE_PATH_STYLE",
    "RUST_LOG",
    "AWS_LAMBDA_LOG_LEVEL",
    "AWS_LAMBDA_LOG_FORMAT",
];

/// Variables of OpenFaaS's of-watchdog, which reads them in the same container.
const WATCHDOG_VARIABLES: [&str; 7] = [
    "mode",
    "upstream_url",
    "ready_path",
    "read_timeout",
    "write_timeout",
    "exec_timeout",
    "fprocess",
];

/// Returns the modules of the shared library that read settings on a function's behalf.
fn shared_settings_modules(function: &str) -> &'static [&'static str] {
    match function {
        "presign" => &["auth.rs"],
        "scan" => &["decision.rs", "keys.rs"],
        "upload" => &["auth.rs", "decision.rs", "keys.rs"],
        _ => &[],
    }
}

/// The variables one function reads, found in its sources and the shared modules that read
/// settings for it, by the `filestore::config` calls that read them.
#[derive(Debug)]
struct Variables {
    known: BTreeSet<String>,
    required: BTreeSet<String>,
}

fn function_variables(function: &str) -> Variables {
    let folder = repo_root().join("functions").join(function).join("src");
    let mut known: BTreeSet<String> = COMMON_VARIABLES.iter().map(|v| v.to_string()).collect();
    let mut required = BTreeSet::new();
    let mut sources = rust_files(&folder);
    for module in shared_settings_modules(function) {
        sources.push(repo_root().join("shared/src").join(module));
    }
    for path in sources {
        let source = fs::read_to_string(&path).unwrap();
        for reader in [
            "required", "optional", "or", "parsed", "bytes", "seconds", "list",
        ] {
            let call = format!("config::{reader}(\"");
            for (index, _) in source.match_indices(&call) {
                let rest = &source[index + call.len()..];
                let name = &rest[..rest.find('"').unwrap()];
                known.insert(name.to_string());
                if reader == "required" {
                    required.insert(name.to_string());
                }
            }
        }
    }
    assert!(
        required.contains("STATUS_BUCKET"),
        "no required variables found in {}; has filestore::config changed?",
        folder.display()
    );
    Variables { known, required }
}

/// Returns the Rust files under a folder, at any depth.
fn rust_files(folder: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// Parses a YAML file with the deployment tools' Python (PyYAML) and returns one JSON value per
/// document.
fn yaml_documents(relative: &str) -> Vec<Value> {
    let script = "import json, sys, yaml\n\
                  print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))";
    let output = run_checked(Command::new(tool("python")).args(["-c", script, relative]));
    serde_json::from_str(&output).unwrap()
}

fn assert_variables(
    descriptor: &str,
    function: &str,
    set: &BTreeSet<String>,
    extra: &[&str],
    secrets_elsewhere: bool,
) {
    let variables = function_variables(function);
    for name in set {
        assert!(
            variables.known.contains(name) || extra.contains(&name.as_str()),
            "{descriptor}: {function} does not read {name}"
        );
    }
    for name in &variables.required {
        let by_reference = secrets_elsewhere && SECRETS.contains(&name.as_str());
        assert!(
            set.contains(name) || by_reference,
            "{descriptor}: required variable {name} of {function} is not set"
        );
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|object| object.keys().cloned().collect())
        .unwrap_or_default()
}

/// Checks that a function which stores files gets `VAULT_ADDR` and a Vault login method.
/// `filestore::keys` requires both at start-up but reads them with `config::optional`, so
/// [`function_variables`] does not list them as required. upload always stores files, and scan
/// does when `STORE_BUCKET` is set. With `secrets_elsewhere`, a token or AppRole credentials may
/// be set outside the descriptor.
fn assert_vault_login(
    descriptor: &str,
    function: &str,
    set: &BTreeSet<String>,
    secrets_elsewhere: bool,
) {
    if function != "upload" && !set.contains("STORE_BUCKET") {
        return;
    }
    let token = set.contains("VAULT_TOKEN");
    let app_role = set.contains("VAULT_ROLE_ID") && set.contains("VAULT_SECRET_ID");
    let aws_iam = set.contains("VAULT_AWS_ROLE");
    assert!(
        set.contains("VAULT_ADDR"),
        "{descriptor}: {function} stores files but VAULT_ADDR is not set"
    );
    assert!(
        token || app_role || aws_iam || secrets_elsewhere,
        "{descriptor}: {function} has no Vault login: set VAULT_TOKEN, VAULT_ROLE_ID and \
         VAULT_SECRET_ID, or VAULT_AWS_ROLE"
    );
}

#[test]
fn openfaas_stack_matches_functions() {
    let stack = &yaml_documents("deploy/openfaas/stack.yml")[0];
    let functions = stack["functions"].as_object().unwrap();
    assert_eq!(stack["provider"]["name"], "openfaas");
    assert_eq!(functions.len(), 4);
    for function in ["presign", "scan", "notify", "upload"] {
        let entry = &functions[&format!("filestore-{function}")];
        let environment = &entry["environment"];
        let secrets_file = format!("deploy/openfaas/{function}.secrets.example.yml");
        let secrets = keys(&yaml_documents(&secrets_file)[0]["environment"]);
        let mut set = keys(environment);

        assert_eq!(entry["lang"], "dockerfile", "{function}");
        assert_eq!(entry["build_args"]["FUNCTION"], function);
        assert_eq!(environment["mode"], "http", "{function}");
        assert_eq!(environment["ready_path"], "/healthz", "{function}");
        assert_eq!(
            environment["upstream_url"],
            format!("http://127.0.0.1:{}", environment["PORT"].as_str().unwrap()),
            "{function}: the watchdog must forward to the function's PORT"
        );
        assert_ne!(
            environment["PORT"], "8080",
            "{function}: of-watchdog owns port 8080"
        );
        assert_eq!(
            entry["environment_file"],
            json!([format!("{function}.secrets.yml")])
        );
        for name in SECRETS {
            assert!(
                environment.get(name).is_none(),
                "{function}: secret {name} is set in stack.yml"
            );
        }
        set.extend(secrets);
        assert_variables(
            "deploy/openfaas/stack.yml",
            function,
            &set,
            &WATCHDOG_VARIABLES,
            false,
        );
        assert_vault_login("deploy/openfaas/stack.yml", function, &set, false);
    }
}

#[test]
fn fn_func_files_match_functions() {
    let routes = [
        ("presign", "/uploads"),
        ("scan", "/webhook"),
        ("notify", "/verdicts"),
        ("upload", "/files"),
    ];
    for (function, route) in routes {
        let path = format!("deploy/fn/{function}/func.yaml");
        let func = &yaml_documents(&path)[0];
        let config = &func["config"];
        let triggers = func["triggers"].as_array().unwrap();
        let dockerfile =
            fs::read_to_string(repo_root().join(format!("deploy/fn/{function}/Dockerfile")))
                .unwrap();

        assert_eq!(func["schema_version"], 20180708, "{path}");
        assert_eq!(func["name"], format!("filestore-{function}"), "{path}");
        assert_eq!(func["runtime"], "docker", "{path}");
        assert_eq!(func["format"], "http-stream", "{path}");
        assert_eq!(triggers.len(), 1, "{path}");
        assert_eq!(triggers[0]["type"], "http", "{path}");
        assert_eq!(triggers[0]["source"], route, "{path}");
        assert!(
            dockerfile.contains(&format!("FROM filestore/{function}-function")),
            "{path}: Dockerfile does not name the function image"
        );
        for name in SECRETS {
            assert!(config.get(name).is_none(), "{path}: secret {name} is set");
        }
        assert!(
            config.get("PORT").is_none(),
            "{path}: Fn serves on FN_LISTENER"
        );
        assert_variables(&path, function, &keys(config), &[], true);
        assert_vault_login(&path, function, &keys(config), true);
    }
}

#[test]
fn knative_services_match_functions() {
    let path = "deploy/knative/filestore.yaml";
    let services = yaml_documents(path);
    assert_eq!(services.len(), 4);
    // The Knative Serving models check types, and validate.py rejects unknown field names.
    let output =
        run_checked(Command::new(tool("python")).args(["deploy/knative/validate.py", path]));
    assert!(output.contains("valid:"), "{output}");
    for (service, function) in services.iter().zip(["presign", "scan", "notify", "upload"]) {
        let container = &service["spec"]["template"]["spec"]["containers"][0];
        let env = container["env"].as_array().unwrap();
        let mut set = BTreeSet::new();

        assert_eq!(service["apiVersion"], "serving.knative.dev/v1");
        assert_eq!(service["kind"], "Service");
        assert_eq!(service["metadata"]["name"], format!("filestore-{function}"));
        assert_eq!(container["ports"][0]["containerPort"], 8080);
        assert_eq!(
            container["readinessProbe"]["httpGet"]["path"], "/healthz",
            "{function}"
        );
        for variable in env {
            let name = variable["name"].as_str().unwrap().to_string();
            assert_ne!(name, "PORT", "{function}: Knative reserves PORT");
            if SECRETS.contains(&name.as_str()) {
                assert!(
                    variable["valueFrom"]["secretKeyRef"].is_object(),
                    "{function}: secret {name} is not a secretKeyRef"
                );
            }
            set.insert(name);
        }
        assert_variables(path, function, &set, &[], false);
        assert_vault_login(path, function, &set, false);
    }
}

#[test]
fn sam_functions_match_functions() {
    // cfn-lint's decoder reads CloudFormation's short tags (!Ref, !Sub) that PyYAML rejects.
    let script = "import json, sys\n\
                  from cfnlint.decode import decode\n\
                  template, errors = decode(sys.argv[1])\n\
                  assert not errors, errors\n\
                  print(json.dumps(template))";
    let output = run_checked(Command::new(tool("python")).args(["-c", script, "template.yaml"]));
    let template: Value = serde_json::from_str(&output).unwrap();
    let resources = &template["Resources"];
    let globals = keys(&template["Globals"]["Function"]["Environment"]["Variables"]);
    for (resource, function) in [
        ("PresignFunction", "presign"),
        ("ScanFunction", "scan"),
        ("NotifyFunction", "notify"),
        ("UploadFunction", "upload"),
    ] {
        let properties = &resources[resource]["Properties"];
        let variables = &properties["Environment"]["Variables"];
        // Every function gets the Globals variables too, so it must read them as well.
        let mut set = keys(variables);
        set.extend(globals.iter().cloned());

        assert_eq!(
            resources[resource]["Metadata"]["BuildMethod"],
            "rust-cargolambda"
        );
        assert_eq!(
            resources[resource]["Metadata"]["BuildProperties"]["Binary"],
            function
        );
        assert_eq!(properties["CodeUri"], format!("functions/{function}"));
        assert_eq!(properties["LoggingConfig"]["LogFormat"], "JSON");
        for name in SECRETS {
            if let Some(value) = variables.get(name) {
                let parameter = value["Ref"].as_str().unwrap_or_else(|| {
                    panic!("{resource}: secret {name} is not a parameter reference")
                });
                assert_eq!(
                    template["Parameters"][parameter]["NoEcho"], true,
                    "{resource}: secret {name} comes from {parameter}, which is not NoEcho"
                );
            }
        }
        assert_variables("template.yaml", function, &set, &[], false);
        assert_vault_login("template.yaml", function, &set, false);
    }
    for parameter in ["NotifyToken", "NotifyWebhookSecret"] {
        assert_eq!(
            template["Parameters"][parameter]["NoEcho"], true,
            "{parameter}"
        );
    }
}

// --- LocalStack -----------------------------------------------------------------------------

/// Builds an S3 client for LocalStack with its test credentials.
fn localstack_s3(endpoint: &str) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "localstack"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Receives the messages waiting in an SQS queue, through SQS's JSON protocol.
async fn receive_messages(endpoint: &str, queue_url: &str) -> Vec<Value> {
    let response = http()
        .post(endpoint)
        .header("X-Amz-Target", "AmazonSQS.ReceiveMessage")
        .header("Content-Type", "application/x-amz-json-1.0")
        .json(&json!({ "QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 2 }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(
        status.is_success(),
        "ReceiveMessage returned {status}: {body}"
    );
    body["Messages"].as_array().cloned().unwrap_or_default()
}

/// Wraps SQS messages the way Lambda's SQS event source mapping hands them to a function.
fn lambda_sqs_event(messages: &[Value]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|message| {
            json!({
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": { "ApproximateReceiveCount": "1" },
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:filestore-scan",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test]
#[ignore = "needs LocalStack with Filestore's set-up: run `make localstack-test`"]
async fn localstack_upload_reaches_scan() {
    let endpoint = std::env::var("LOCALSTACK_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "LOCALSTACK_ENDPOINT is not set: run `make localstack-test`, which starts LocalStack"
        )
    });
    let queue_url = env_var("SCAN_QUEUE_URL");
    let s3 = localstack_s3(&endpoint);
    let key = format!("uploads/{}/local stack+notes.txt", unique_id());
    let bytes = filestore_e2e::samples::text();
    s3.put_object()
        .bucket("incoming")
        .key(&key)
        .body(bytes.into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("uploading to LocalStack failed: {e:?}"));

    // The queue also contains S3's test event and earlier runs' events.
    let deadline = Instant::now() + Duration::from_secs(30);
    let message = loop {
        let messages = receive_messages(&endpoint, &queue_url).await;
        let ours = messages.into_iter().find(|m| {
            m["Body"]
                .as_str()
                .is_some_and(|b| b.contains(&unique_key_fragment(&key)))
        });
        if let Some(message) = ours {
            break message;
        }
        assert!(Instant::now() < deadline, "no SQS message for {key}");
    };
    let Envelope::Sqs(batch) = parse_envelope(lambda_sqs_event(std::slice::from_ref(&message)))
        .expect("the SQS event parses")
    else {
        panic!("an SQS event must parse as an SQS batch");
    };
    let records = batch[0].records.as_ref().expect("the message body parses");
    let [RecordKind::Created(object)] = records.as_slice() else {
        panic!("expected one created object in {records:?}");
    };
    assert_eq!(object.bucket, "incoming");
    assert_eq!(object.key, key);
    assert!(
        object.version_id.is_some(),
        "the incoming bucket is versioned"
    );

    // scan, in HTTP mode against LocalStack's S3, scans the object the message names.
    let scratch = Scratch::new("localstack");
    let storage = [
        ("AWS_ENDPOINT_URL_S3", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("S3_FORCE_PATH_STYLE", "true"),
        ("STATUS_BUCKET", "filestore-status"),
    ];
    let mut notify_vars = storage.to_vec();
    notify_vars.extend([("PORT", "18085"), ("NOTIFY_WEBHOOK_URLS", "")]);
    let mut notify = Function::start("notify", &scratch, &notify_vars);
    let mut scan_vars = storage.to_vec();
    scan_vars.extend([
        ("PORT", "18084"),
        ("QUARANTINE_BUCKET", "filestore-quarantine"),
        ("NOTIFY_URL", "http://127.0.0.1:18085/verdicts"),
        ("SCAN_ACTION_CLEAN", "tag"),
    ]);
    let mut scan = Function::start("scan", &scratch, &scan_vars);
    notify.wait_for_tcp(18085).await;
    scan.wait_for_tcp(18084).await;
    let response = http()
        .post("http://127.0.0.1:18084/")
        .bearer_auth(env_var("SCAN_WEBHOOK_TOKEN"))
        .body(message["Body"].as_str().unwrap().to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let summary: Value = response.json().await.unwrap();
    let tags = s3
        .get_object_tagging()
        .bucket("incoming")
        .key(&key)
        .send()
        .await
        .unwrap()
        .tag_set;

    assert_eq!(status, 200, "{summary}");
    assert_eq!(only_verdict(&summary)["verdict"], "clean", "{summary}");
    assert!(
        tags.iter()
            .any(|t| t.key == "scan-status" && t.value == "clean"),
        "{tags:?}"
    );
    scan.terminate_cleanly();
    notify.terminate_cleanly();
}

/// Returns the upload id segment of a key, which appears unescaped in any event encoding.
fn unique_key_fragment(key: &str) -> String {
    filestore::verdict::upload_id_of(key)
        .expect("the key is an upload key")
        .to_string()
}
