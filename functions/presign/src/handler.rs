//! HTTP routes of the presign function.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use filestore::http::error_response;
use filestore::store::{PresignedRequest, Store, StoreError};
use filestore::verdict::{UploadStatus, now_rfc3339, status_key, upload_key};
use serde::{Deserialize, Serialize};
use tracing::{error, info, warn};

use crate::config::Config;
use crate::names::sanitise_file_name;

/// Everything the routes need, built once at start-up.
pub struct App {
    pub config: Config,
    pub store: Store,
}

/// Error of one request, mapped to an HTTP status in [`PresignError::status`].
#[derive(Debug, thiserror::Error)]
pub enum PresignError {
    #[error("invalid request body: {0}")]
    InvalidBody(String),
    #[error("file name is empty after removing path and control characters")]
    EmptyName,
    #[error("extension of {name:?} is not allowed; allowed: {allowed}")]
    ExtensionNotAllowed { name: String, allowed: String },
    #[error("content type {given:?} does not match {expected:?} for this extension")]
    ContentTypeMismatch {
        given: String,
        expected: &'static str,
    },
    #[error("size {size} bytes is over the limit of {max} bytes")]
    TooLarge { size: u64, max: u64 },
    #[error("upload id {0:?} is not valid")]
    InvalidId(String),
    #[error("upload {0} not found")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PresignError {
    fn status(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidBody(_) | Self::EmptyName | Self::InvalidId(_) => {
                (StatusCode::BAD_REQUEST, "invalid_request")
            }
            Self::ExtensionNotAllowed { .. } => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "extension_not_allowed")
            }
            Self::ContentTypeMismatch { .. } => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "content_type_mismatch")
            }
            Self::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
        }
    }
}

impl IntoResponse for PresignError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        if status.is_server_error() {
            error!(error = %self, "request failed");
            return error_response(status, code, "storage is unavailable; retry later");
        }
        warn!(error = %self, "request rejected");
        error_response(status, code, self.to_string())
    }
}

/// Body of `POST /uploads`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    pub filename: String,
    #[serde(default)]
    pub content_type: Option<String>,
    pub size: u64,
}

/// Answer to `POST /uploads`.
#[derive(Debug, Serialize)]
pub struct UploadTicket {
    pub id: String,
    pub key: String,
    pub method: String,
    pub url: String,
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: String,
    pub status_url: String,
}

/// Builds the router of the presign function.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/uploads", post(create_upload))
        .route("/uploads/{id}", get(upload_status))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(app)
}

async fn create_upload(
    State(app): State<Arc<App>>,
    body: Result<Json<UploadRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<UploadTicket>), PresignError> {
    let Json(request) = body.map_err(|e| PresignError::InvalidBody(e.body_text()))?;
    let (name, content_type) = validate(&app.config, &request)?;

    let id = uuid::Uuid::new_v4().simple().to_string();
    let key = upload_key(&id, &name);
    let presigned = app
        .store
        .presign_put(
            &app.config.incoming_bucket,
            &key,
            content_type,
            request.size,
            app.config.expiry,
        )
        .await?;
    record_pending(&app, &id, &key, &name, content_type, request.size).await?;

    info!(upload_id = %id, key = %key, size = request.size, "upload presigned");
    Ok((
        StatusCode::CREATED,
        Json(ticket(&app.config, id, key, presigned)),
    ))
}

/// Checks name, extension, content type and size, returning the safe name and the content type
/// the upload must carry.
fn validate(
    config: &Config,
    request: &UploadRequest,
) -> Result<(String, &'static str), PresignError> {
    let name = sanitise_file_name(&request.filename).ok_or(PresignError::EmptyName)?;
    let rule =
        config
            .policy
            .rule_for_name(&name)
            .ok_or_else(|| PresignError::ExtensionNotAllowed {
                name: name.clone(),
                allowed: config.policy.extensions().join(", "),
            })?;
    if let Some(given) = request.content_type.as_deref().filter(|t| !t.is_empty()) {
        let essence = given.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case(rule.content_type) {
            return Err(PresignError::ContentTypeMismatch {
                given: given.into(),
                expected: rule.content_type,
            });
        }
    }
    if request.size > config.max_bytes {
        return Err(PresignError::TooLarge {
            size: request.size,
            max: config.max_bytes,
        });
    }
    Ok((name, rule.content_type))
}

async fn record_pending(
    app: &App,
    id: &str,
    key: &str,
    name: &str,
    content_type: &str,
    size: u64,
) -> Result<(), StoreError> {
    let status = UploadStatus {
        upload_id: id.to_string(),
        filename: name.to_string(),
        key: key.to_string(),
        content_type: content_type.to_string(),
        size,
        status: "pending".to_string(),
        created_at: now_rfc3339(),
        verdict: None,
    };
    app.store
        .put_json(&app.config.status_bucket, &status_key(id), &status)
        .await
}

fn ticket(config: &Config, id: String, key: String, presigned: PresignedRequest) -> UploadTicket {
    let expires = std::time::SystemTime::now() + config.expiry;
    let expires_at = aws_sdk_s3::primitives::DateTime::from(expires)
        .fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime)
        .unwrap_or_default();
    UploadTicket {
        status_url: format!("/uploads/{id}"),
        id,
        key,
        method: presigned.method,
        url: presigned.url,
        headers: presigned.headers,
        expires_at,
    }
}

async fn upload_status(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<UploadStatus>, PresignError> {
    if uuid::Uuid::try_parse(&id).is_err() {
        return Err(PresignError::InvalidId(id));
    }
    let status: Option<UploadStatus> = app
        .store
        .get_json(&app.config.status_bucket, &status_key(&id))
        .await?;
    status.map(Json).ok_or(PresignError::NotFound(id))
}
