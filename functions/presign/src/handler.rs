//! HTTP routes of the presign function.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use filestore::http::error_response;
use filestore::store::{Store, StoreError};
use filestore::verdict::{UploadStatus, status_key};
use tracing::{error, warn};

use crate::config::Config;
use crate::uploads;
use filestore::auth::{AuthError, Authenticator, Principal};

/// The upload page, served at `GET /`.
const PAGE: &str = include_str!("page.html");

/// Everything the routes need, built once at start-up.
pub struct App {
    pub config: Config,
    pub store: Store,
    pub auth: Authenticator,
}

/// Error of one request, mapped to an HTTP status in [`PresignError::status`].
#[derive(Debug, thiserror::Error)]
pub enum PresignError {
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
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
    #[error("upload {0} is not a multipart upload in progress")]
    NotMultipart(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PresignError {
    fn status(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
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
            Self::NotMultipart(_) => (StatusCode::CONFLICT, "not_multipart"),
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
        let mut response = error_response(status, code, self.to_string());
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                "Bearer".parse().expect("valid header"),
            );
        }
        response
    }
}

/// Builds the router of the presign function.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/uploads", post(create_upload))
        .route("/uploads/{id}", get(upload_status).delete(abort_upload))
        .route("/uploads/{id}/complete", post(complete_upload))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(app)
}

/// Serves the upload page with headers that keep it from loading or leaking anything: it needs
/// only itself, the API and the bucket, which it reaches with XMLHttpRequest and `fetch`.
async fn page() -> impl IntoResponse {
    let headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src http: https:; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    (headers, Html(PAGE))
}

async fn create_upload(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Json<uploads::UploadRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<uploads::UploadTicket>), PresignError> {
    let principal = app.auth.authenticate(&headers)?;
    let Json(request) = body.map_err(|e| PresignError::InvalidBody(e.body_text()))?;
    let ticket = uploads::create(&app, &principal, &request).await?;
    Ok((StatusCode::CREATED, Json(ticket)))
}

/// Loads the status record of an upload the caller owns. Someone else's upload is reported as
/// not found, so ids cannot be probed.
pub async fn owned_status(
    app: &App,
    principal: &Principal,
    id: &str,
) -> Result<UploadStatus, PresignError> {
    if uuid::Uuid::try_parse(id).is_err() {
        return Err(PresignError::InvalidId(id.to_string()));
    }
    let status: Option<UploadStatus> = app
        .store
        .get_json(&app.config.status_bucket, &status_key(id))
        .await?;
    match status {
        Some(status)
            if status
                .owner
                .as_deref()
                .is_none_or(|owner| owner == principal.subject) =>
        {
            Ok(status)
        }
        _ => Err(PresignError::NotFound(id.to_string())),
    }
}

async fn upload_status(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<UploadStatus>, PresignError> {
    let principal = app.auth.authenticate(&headers)?;
    let mut status = owned_status(&app, &principal, &id).await?;
    status.multipart_upload_id = None;
    Ok(Json(status))
}

async fn complete_upload(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<uploads::CompleteRequest>, JsonRejection>,
) -> Result<StatusCode, PresignError> {
    let principal = app.auth.authenticate(&headers)?;
    let Json(request) = body.map_err(|e| PresignError::InvalidBody(e.body_text()))?;
    uploads::complete(&app, &principal, &id, &request).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn abort_upload(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, PresignError> {
    let principal = app.auth.authenticate(&headers)?;
    uploads::abort(&app, &principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
