//! A webhook receiver with scripted failures. It fails a number of times (or always) with a
//! chosen status, can respond slowly, and records every request with its signature check.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use filestore::verdict::VerdictRecord;
use filestore::webhook::{
    DEFAULT_TOLERANCE, DELIVERY_HEADER, SIGNATURE_HEADER, SignatureError, unix_now, verify,
};
use tokio::task::JoinHandle;

/// Responses of the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behaviour {
    /// Number of requests that get `failure_status` before the receiver succeeds, or `None` to
    /// fail every request.
    pub failures: Option<u32>,
    pub failure_status: StatusCode,
    /// `Retry-After` value sent with each failure.
    pub retry_after: Option<String>,
    /// Wait before responding to any request.
    pub delay: Duration,
}

impl Behaviour {
    /// Returns a behaviour that responds 204 at once to every request.
    pub fn succeed() -> Self {
        Self {
            failures: Some(0),
            failure_status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: None,
            delay: Duration::ZERO,
        }
    }

    /// Returns a behaviour that fails the first `count` requests with `status`, then responds 204.
    pub fn fail_then_succeed(count: u32, status: StatusCode) -> Self {
        Self {
            failures: Some(count),
            failure_status: status,
            ..Self::succeed()
        }
    }

    /// Returns a behaviour that fails every request with `status`.
    pub fn always_fail(status: StatusCode) -> Self {
        Self {
            failures: None,
            failure_status: status,
            ..Self::succeed()
        }
    }

    /// Sends `Retry-After: <value>` with each failure.
    pub fn with_retry_after(mut self, value: &str) -> Self {
        self.retry_after = Some(value.to_string());
        self
    }

    /// Waits `delay` before responding to each request.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// One request as received, with the status the receiver returned.
#[derive(Debug, Clone)]
pub struct Hit {
    pub at: Instant,
    /// Status returned. A request cut off during `delay` shows the status it would have got.
    pub status: StatusCode,
    pub delivery_id: Option<String>,
    pub signature: Option<String>,
    pub body: Bytes,
    pub record: Option<VerdictRecord>,
    pub signature_check: Result<(), SignatureError>,
}

struct Shared {
    secret: Vec<u8>,
    behaviour: Mutex<Behaviour>,
    hits: Mutex<Vec<Hit>>,
}

/// A running receiver on an ephemeral 127.0.0.1 port at `/webhook`. It stops when dropped.
pub struct FlakyReceiver {
    address: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl FlakyReceiver {
    /// Starts a receiver that verifies signatures with `secret` and responds per `behaviour`.
    /// A request whose signature does not verify gets 401 and does not count as a failure.
    pub async fn start(secret: Vec<u8>, behaviour: Behaviour) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            secret,
            behaviour: Mutex::new(behaviour),
            hits: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let router = Router::new()
            .route("/webhook", post(receive))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.ok();
        });
        Ok(Self {
            address,
            shared,
            server,
        })
    }

    /// Returns the receiver's webhook URL, with `query` appended when given.
    pub fn url(&self, query: Option<&str>) -> String {
        match query {
            Some(query) => format!("http://{}/webhook?{query}", self.address),
            None => format!("http://{}/webhook", self.address),
        }
    }

    /// Changes the responses to later requests. Earlier failures still count.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().expect("lock is not poisoned") = behaviour;
    }

    /// Returns every request received so far, oldest first.
    pub fn hits(&self) -> Vec<Hit> {
        self.shared
            .hits
            .lock()
            .expect("lock is not poisoned")
            .clone()
    }

    /// Waits until at least `count` requests arrived or `limit` passed, and returns them.
    pub async fn wait_for_hits(&self, count: usize, limit: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + limit;
        loop {
            let hits = self.hits();
            if hits.len() >= count || Instant::now() >= deadline {
                return hits;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for FlakyReceiver {
    fn drop(&mut self) {
        // Abort instead of a graceful shutdown, which would wait for slow responses in flight.
        self.server.abort();
    }
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let at = Instant::now();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let signature = header(SIGNATURE_HEADER);
    let signature_check = verify(
        &shared.secret,
        signature.as_deref().unwrap_or_default(),
        &body,
        unix_now(),
        DEFAULT_TOLERANCE,
    );
    let (status, retry_after, delay) = {
        let behaviour = shared.behaviour.lock().expect("lock is not poisoned");
        let hits = shared.hits.lock().expect("lock is not poisoned");
        let failed_so_far = hits.iter().filter(|h| is_scripted_failure(h)).count() as u32;
        let fails = behaviour.failures.is_none_or(|count| failed_so_far < count);
        let delay = behaviour.delay;
        match (signature_check.is_ok(), fails) {
            (false, _) => (StatusCode::UNAUTHORIZED, None, delay),
            (true, true) => (
                behaviour.failure_status,
                behaviour.retry_after.clone(),
                delay,
            ),
            (true, false) => (StatusCode::NO_CONTENT, None, delay),
        }
    };
    let hit = Hit {
        at,
        status,
        delivery_id: header(DELIVERY_HEADER),
        signature,
        record: serde_json::from_slice(&body).ok(),
        body,
        signature_check,
    };
    shared.hits.lock().expect("lock is not poisoned").push(hit);
    tokio::time::sleep(delay).await;
    match retry_after {
        Some(value) => (status, [("retry-after", value)]).into_response(),
        None => status.into_response(),
    }
}

fn is_scripted_failure(hit: &Hit) -> bool {
    hit.signature_check.is_ok() && !hit.status.is_success()
}
