//! A webhook receiver that verifies each delivery's signature, as an application would.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use filestore::verdict::VerdictRecord;
use filestore::webhook::{SIGNATURE_HEADER, unix_now, verify};
use tokio::sync::oneshot;

/// Address notify delivers to in the local stack (`NOTIFY_WEBHOOK_URLS`).
pub const RECEIVER_ADDR: &str = "127.0.0.1:9400";

/// One delivery as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub record: Option<VerdictRecord>,
    pub verified: bool,
    pub error: Option<String>,
    pub at: Instant,
}

struct Shared {
    secret: Vec<u8>,
    deliveries: Mutex<Vec<Received>>,
}

/// A running receiver; it stops when dropped.
pub struct Receiver {
    shared: Arc<Shared>,
    _stop: oneshot::Sender<()>,
}

impl Receiver {
    /// Starts listening on [`RECEIVER_ADDR`] at `/webhook`.
    pub async fn start(secret: Vec<u8>) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            secret,
            deliveries: Mutex::new(Vec::new()),
        });
        let addr: SocketAddr = RECEIVER_ADDR.parse().expect("receiver address is valid");
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let router = Router::new()
            .route("/webhook", post(receive))
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async {
                stopped.await.ok();
            };
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
                .ok();
        });
        Ok(Self {
            shared,
            _stop: stop,
        })
    }

    /// Returns every delivery for one upload id received so far.
    pub fn for_upload(&self, upload_id: &str) -> Vec<Received> {
        let deliveries = self
            .shared
            .deliveries
            .lock()
            .expect("receiver lock is not poisoned");
        deliveries
            .iter()
            .filter(|d| d.record.as_ref().and_then(|r| r.upload_id.as_deref()) == Some(upload_id))
            .cloned()
            .collect()
    }

    /// Returns every delivery for one object key received so far.
    pub fn for_key(&self, key: &str) -> Vec<Received> {
        let deliveries = self
            .shared
            .deliveries
            .lock()
            .expect("receiver lock is not poisoned");
        deliveries
            .iter()
            .filter(|d| d.record.as_ref().is_some_and(|r| r.key == key))
            .cloned()
            .collect()
    }

    /// Waits until a delivery for the object key arrives or `limit` passes.
    pub async fn wait_for_key(&self, key: &str, limit: Duration) -> Option<Received> {
        poll(limit, || self.for_key(key)).await
    }

    /// Waits until a delivery for the upload arrives or `limit` passes.
    pub async fn wait_for(&self, upload_id: &str, limit: Duration) -> Option<Received> {
        poll(limit, || self.for_upload(upload_id)).await
    }
}

/// Returns the first delivery `lookup` finds, checking every 50 ms until `limit` passes.
async fn poll(limit: Duration, lookup: impl Fn() -> Vec<Received>) -> Option<Received> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(first) = lookup().into_iter().next() {
            return Some(first);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let check = verify(
        &shared.secret,
        signature,
        &body,
        unix_now(),
        Duration::from_secs(300),
    );
    let record = serde_json::from_slice::<VerdictRecord>(&body).ok();
    let received = Received {
        record,
        verified: check.is_ok(),
        error: check.err().map(|e| e.to_string()),
        at,
    };
    let status = if received.verified {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::UNAUTHORIZED
    };
    shared
        .deliveries
        .lock()
        .expect("receiver lock is not poisoned")
        .push(received);
    status
}
