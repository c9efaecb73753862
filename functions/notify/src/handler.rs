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
use filestore::webhook::{Delivery, Sender};
use serde::Serialize;
use tracing::{error, info, warn};

use crate::config::Config;

/// Everything the routes need, built once at start-up.
pub struct App {
    pub config: Config,
    pub store: Store,
    pub sender: Sender,
}

/// Error of one request, mapped to an HTTP status in [`NotifyError::status`].
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("invalid verdict body: {0}")]
    InvalidBody(#[from] serde_json::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NotifyError {
    fn status(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
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

/// Answer to `POST /verdicts`.
#[derive(Debug, Serialize)]
pub struct Fanout {
    pub verdict_id: String,
    pub status_recorded: bool,
    pub deliveries: Vec<Delivery>,
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
) -> Result<Json<Fanout>, NotifyError> {
    let token = bearer_token(&headers).unwrap_or_default();
    if !constant_time_eq(token.as_bytes(), app.config.token.as_bytes()) {
        return Err(NotifyError::Unauthorized);
    }
    let record: VerdictRecord = serde_json::from_slice(&body)?;

    let status_recorded = record_status(&app, &record).await?;
    let deliveries = fan_out(&app, &record).await;

    let delivered = deliveries.iter().filter(|d| d.delivered).count();
    info!(verdict_id = %record.id, key = %record.key, verdict = record.verdict.name(), delivered,
        webhooks = deliveries.len(), "verdict fanned out");
    Ok(Json(Fanout {
        verdict_id: record.id,
        status_recorded,
        deliveries,
    }))
}

/// Stores the verdict in the upload's status record. Keys not made by presign have no upload id
/// and so no record; returns whether one was written.
async fn record_status(app: &App, record: &VerdictRecord) -> Result<bool, StoreError> {
    let Some(upload_id) = record.upload_id.as_deref() else {
        return Ok(false);
    };
    let key = status_key(upload_id);
    let existing: Option<UploadStatus> =
        app.store.get_json(&app.config.status_bucket, &key).await?;
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
    });
    status.status = record.verdict.name().to_string();
    status.verdict = Some(record.clone());
    app.store
        .put_json(&app.config.status_bucket, &key, &status)
        .await?;
    Ok(true)
}

/// Delivers the verdict to every webhook at once, so a slow receiver delays no other.
async fn fan_out(app: &App, record: &VerdictRecord) -> Vec<Delivery> {
    let body = serde_json::to_vec(record).expect("a verdict record always serialises");
    let sends = app
        .config
        .webhook_urls
        .iter()
        .map(|url| app.sender.deliver(url, &record.id, &body));
    let deliveries = futures::future::join_all(sends).await;
    for failed in deliveries.iter().filter(|d| !d.delivered) {
        warn!(verdict_id = %record.id, target = %failed.target, attempts = failed.attempts,
            error = failed.error.as_deref().unwrap_or_default(), "webhook delivery failed");
    }
    deliveries
}
