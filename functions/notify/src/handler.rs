//! HTTP routes of the notify function.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use filestore::http::{bearer_token, constant_time_eq, error_response};
use filestore::store::{Store, StoreError};
use filestore::verdict::{UploadStatus, VerdictRecord, status_key};
use serde::Serialize;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::dead_letter::is_valid_verdict_id;
use crate::fanout::{Deliverer, Fanout, StartError};
use crate::sink::{Sink, SinkReport};

/// Everything the routes need, built once at start-up.
pub struct App {
    pub config: Config,
    pub store: Store,
    pub sinks: Vec<Sink>,
    pub deliverer: Deliverer,
}

impl App {
    /// Builds the storage client and a client for each kind of configured sink.
    pub async fn new(config: Config) -> Result<Self, StartError> {
        let store = Store::from_env(config.delivery.force_path_style).await;
        let sinks = Sink::all(&config.delivery);
        let eventbridge = config.delivery.eventbridge_bus.is_some();
        let deliverer = Deliverer::new(&config.delivery, eventbridge).await?;
        Ok(Self {
            config,
            store,
            sinks,
            deliverer,
        })
    }
}

/// Error of one request, mapped to an HTTP status in [`NotifyError::status`].
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("invalid verdict body: {0}")]
    InvalidBody(#[from] serde_json::Error),
    #[error("invalid verdict id: expected 1 to 128 ASCII letters, digits, '-' or '_'")]
    InvalidVerdictId,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NotifyError {
    fn status(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::InvalidBody(_) | Self::InvalidVerdictId => {
                (StatusCode::BAD_REQUEST, "invalid_request")
            }
            Self::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
        }
    }
}

impl IntoResponse for NotifyError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        if status.is_server_error() {
            error!(error = %self, "request failed");
            return error_response(status, code, "status store is unavailable; retry later");
        }
        warn!(error = %self, "request rejected");
        error_response(status, code, self.to_string())
    }
}

/// Response to `POST /verdicts`.
#[derive(Debug, Serialize)]
pub struct FanoutResponse {
    pub verdict_id: String,
    pub status_recorded: bool,
    /// One report per sink, in configuration order.
    pub deliveries: Vec<SinkReport>,
    /// Ids of the sinks whose delivery failed and was stored as a dead letter.
    pub dead_lettered: Vec<String>,
}

/// Builds the router of the notify function.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/verdicts", post(receive_verdict))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(app)
}

async fn receive_verdict(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<FanoutResponse>, NotifyError> {
    let token = bearer_token(&headers).unwrap_or_default();
    if !constant_time_eq(token.as_bytes(), app.config.token.as_bytes()) {
        return Err(NotifyError::Unauthorized);
    }
    let record: VerdictRecord = serde_json::from_slice(&body)?;
    // The id becomes part of dead-letter keys and delivery ids.
    if !is_valid_verdict_id(&record.id) {
        return Err(NotifyError::InvalidVerdictId);
    }

    let status_recorded = record_status(&app, &record).await?;
    let fanout = Fanout {
        sinks: &app.sinks,
        deliverer: &app.deliverer,
        store: &app.store,
        bucket: &app.config.delivery.status_bucket,
    };
    let deliveries = fanout.send(&record).await?;

    let delivered = deliveries.iter().filter(|d| d.delivered).count();
    let dead_lettered: Vec<String> = deliveries
        .iter()
        .filter(|d| d.dead_letter.is_some())
        .map(|d| d.sink_id.clone())
        .collect();
    info!(verdict_id = %record.id, key = %record.key, verdict = record.verdict.name(), delivered,
        sinks = deliveries.len(), dead_lettered = ?dead_lettered, "verdict fanned out");
    Ok(Json(FanoutResponse {
        verdict_id: record.id,
        status_recorded,
        deliveries,
        dead_lettered,
    }))
}

/// Stores the verdict in the upload's status record. Keys not made by presign have no upload id
/// and so no record; returns whether one was written.
async fn record_status(app: &App, record: &VerdictRecord) -> Result<bool, StoreError> {
    let Some(upload_id) = record.upload_id.as_deref() else {
        return Ok(false);
    };
    let key = status_key(upload_id);
    let bucket = &app.config.delivery.status_bucket;
    let existing: Option<UploadStatus> = app.store.get_json(bucket, &key).await?;
    let mut status = existing.unwrap_or_else(|| UploadStatus {
        upload_id: upload_id.to_string(),
        filename: record
            .key
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string(),
        key: record.key.clone(),
        content_type: record.declared_type.clone().unwrap_or_default(),
        size: record.size,
        status: String::new(),
        created_at: record.scanned_at.clone(),
        verdict: None,
        owner: None,
        multipart_upload_id: None,
    });
    status.status = record.verdict.name().to_string();
    status.verdict = Some(record.clone());
    app.store.put_json(bucket, &key, &status).await?;
    Ok(true)
}
