//! HTTP routes of the upload function.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use filestore::auth::{AuthError, Authenticator, Principal};
use filestore::clamd::Clamd;
use filestore::envelope::EnvelopeError;
use filestore::http::error_response;
use filestore::keys::{KeyError, KeyService};
use filestore::names::sanitise_file_name;
use filestore::store::encrypted::{self, FileInfo, OpenedFile, SealError, file_key};
use filestore::store::{Store, StoreError};
use filestore::verdict::{Action, UploadStatus, Verdict, VerdictRecord, now_rfc3339, status_key};
use serde::Deserialize;
use serde_json::json;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::receive::{ReceiveError, Received, receive};

/// Everything the routes need, built once at start-up.
pub struct App<S = Clamd> {
    pub config: Config,
    pub store: Store,
    pub keys: KeyService,
    pub scanner: S,
    pub auth: Authenticator,
}

/// Header that may carry the file name instead of the `name` query parameter.
const NAME_HEADER: &str = "x-file-name";

/// Builds the router of the upload function.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/files", post(upload))
        .route("/files/{id}", get(download))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(app)
}

#[derive(Debug, Deserialize)]
struct UploadQuery {
    name: Option<String>,
}

/// `POST /files?name=...`: stores the body if it is clean.
async fn upload(
    State(app): State<Arc<App>>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let principal = match app.auth.authenticate(&headers) {
        Ok(principal) => principal,
        Err(e) => return unauthorized(e),
    };
    let raw_name = query.name.or_else(|| {
        headers
            .get(NAME_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    let Some(file_name) = raw_name.as_deref().and_then(sanitise_file_name) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "give the file name as ?name=<file name> or an X-File-Name header",
        );
    };
    let Some(rule) = app.config.policy.rule_for_name(&file_name) else {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "extension_not_allowed",
            format!("the extension of {file_name:?} is not accepted"),
        );
    };
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared_length
        && length > app.config.max_bytes
    {
        return too_large(app.config.max_bytes);
    }
    let file = FileInfo {
        file_id: uuid::Uuid::new_v4().to_string(),
        file_name: file_name.clone(),
        content_type: rule.content_type.to_string(),
    };
    let started = std::time::Instant::now();
    match receive(&app, file.clone(), body.into_data_stream()).await {
        Ok(received) => {
            let record = status_record(&app, &file, &principal, &received, started);
            if let Err(e) = app
                .store
                .put_json(
                    &app.config.status_bucket,
                    &status_key(&file.file_id),
                    &record,
                )
                .await
            {
                // The file is stored but its owner was not recorded, so no one could fetch it.
                // It is removed and the failure reported.
                error!(file_id = %file.file_id, error = %e, "status record not written");
                remove_file(&app, &file.file_id).await;
                return unavailable("storage", &e.to_string());
            }
            info!(file_id = %file.file_id, bytes = received.stored.plain_bytes, "stored");
            (
                StatusCode::CREATED,
                [(header::LOCATION, format!("/files/{}", file.file_id))],
                Json(json!({
                    "file_id": file.file_id,
                    "filename": file_name,
                    "content_type": file.content_type,
                    "size": received.stored.plain_bytes,
                    "verdict": "clean",
                })),
            )
                .into_response()
        }
        Err(e) => refusal(e, &file_name),
    }
}

fn status_record(
    app: &App,
    file: &FileInfo,
    principal: &Principal,
    received: &Received,
    started: std::time::Instant,
) -> UploadStatus {
    let key = file_key(&file.file_id);
    let verdict = VerdictRecord {
        id: uuid::Uuid::new_v4().to_string(),
        upload_id: Some(file.file_id.clone()),
        bucket: app.config.store_bucket.clone(),
        key: key.clone(),
        version_id: None,
        etag: None,
        size: received.stored.plain_bytes,
        declared_type: received.judgement.declared.clone(),
        detected_type: received.judgement.detected.clone(),
        verdict: Verdict::Clean,
        action: Action::Stored,
        action_note: None,
        file_id: Some(file.file_id.clone()),
        scanned_at: now_rfc3339(),
        scan_ms: started.elapsed().as_millis() as u64,
    };
    UploadStatus {
        upload_id: file.file_id.clone(),
        filename: file.file_name.clone(),
        key,
        content_type: file.content_type.clone(),
        size: received.stored.plain_bytes,
        status: "clean".into(),
        created_at: now_rfc3339(),
        verdict: Some(verdict),
        owner: Some(principal.subject.clone()),
        multipart_upload_id: None,
    }
}

async fn remove_file(app: &App, file_id: &str) {
    let key = file_key(file_id);
    let at = filestore::store::Location {
        bucket: &app.config.store_bucket,
        key: &key,
        version_id: None,
    };
    if let Err(e) = app.store.delete(at).await {
        error!(file_id, error = %e, "stored file without a status record was not removed");
    }
}

/// Maps a refused or failed upload to its response.
fn refusal(error: ReceiveError, file_name: &str) -> Response {
    match error {
        ReceiveError::TooLarge { max } => too_large(max),
        ReceiveError::Refused(judgement) => {
            warn!(
                file_name,
                verdict = judgement.verdict.name(),
                "upload refused"
            );
            match judgement.verdict {
                Verdict::Infected { signature } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({
                        "error": "infected",
                        "message": format!("the file contains {signature}"),
                        "signature": signature,
                    })),
                )
                    .into_response(),
                Verdict::Spoofed {
                    declared,
                    detected,
                    reason,
                } => (
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    Json(json!({
                        "error": "spoofed",
                        "message": reason.clone().unwrap_or_else(|| format!("the name says {declared} but the content is {detected}")),
                        "declared": declared,
                        "detected": detected,
                    })),
                )
                    .into_response(),
                Verdict::Unscannable { reason } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({
                        "error": "unscannable",
                        "message": format!("the file could not be fully scanned: {reason}"),
                    })),
                )
                    .into_response(),
                Verdict::Error { reason } => unavailable("scanner", &reason),
                Verdict::Clean => unreachable!("clean files are stored, not refused"),
            }
        }
        ReceiveError::Body(message) => {
            error_response(StatusCode::BAD_REQUEST, "invalid_body", message)
        }
        ReceiveError::Scanner(e) => unavailable("scanner", &e.to_string()),
        ReceiveError::Keys(e) => key_failure(&e),
        ReceiveError::Store(e) => unavailable("storage", &e.to_string()),
    }
}

fn too_large(max: u64) -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the file is over the limit of {max} bytes"),
    )
}

/// Builds the 503 for a dependency that failed: `storage`, `scanner` or `keys` (Vault).
fn unavailable(what: &str, detail: &str) -> Response {
    error!(service = what, error = detail, "dependency unavailable");
    let name = match what {
        "keys" => "the key service (Vault)",
        "scanner" => "the virus scanner",
        _ => "storage",
    };
    let mut response = error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("{what}_unavailable"),
        format!("{name} cannot be reached; nothing was stored; retry later"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

fn key_failure(error: &KeyError) -> Response {
    // Whatever Vault returned, the caller can only retry later, so the detail goes to the log.
    unavailable("keys", &error.to_string())
}

fn unauthorized(error: AuthError) -> Response {
    warn!(error = %error, "request rejected");
    let mut response = error_response(StatusCode::UNAUTHORIZED, "unauthorized", error.to_string());
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// `GET /files/{id}`: the plaintext of a clean file, to its owner.
async fn download(
    State(app): State<Arc<App>>,
    Path(file_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let principal = match app.auth.authenticate(&headers) {
        Ok(principal) => principal,
        Err(e) => return unauthorized(e),
    };
    let not_found = || {
        error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("file {file_id} not found"),
        )
    };
    if !valid_id(&file_id) {
        return not_found();
    }
    let status: Option<UploadStatus> = match app
        .store
        .get_json(&app.config.status_bucket, &status_key(&file_id))
        .await
    {
        Ok(status) => status,
        Err(e) => return unavailable("storage", &e.to_string()),
    };
    // Unknown, someone else's and not-yet-clean files look the same from outside.
    let Some(status) = status.filter(|s| s.owner.as_deref() == Some(principal.subject.as_str()))
    else {
        return not_found();
    };
    let clean = status
        .verdict
        .as_ref()
        .is_some_and(|v| v.verdict == Verdict::Clean && v.action == Action::Stored);
    if !clean {
        return error_response(
            StatusCode::CONFLICT,
            "not_clean",
            format!(
                "file {file_id} has the status {}; only clean files are served",
                status.status
            ),
        );
    }
    let opened =
        match encrypted::open(&app.store, &app.keys, &app.config.store_bucket, &file_id).await {
            Ok(Some(opened)) => opened,
            Ok(None) => return not_found(),
            Err(e) => return read_failure(&file_id, e),
        };
    match parse_range(&headers, opened.size) {
        RangeRequest::Whole => stream_file(&app, &opened, None).await,
        RangeRequest::Bytes(start, end) => stream_file(&app, &opened, Some((start, end))).await,
        RangeRequest::Unsatisfiable => {
            let mut response = error_response(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("the file has {} bytes", opened.size),
            );
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{}", opened.size)) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            response
        }
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn stream_file(app: &App, opened: &OpenedFile, range: Option<(u64, u64)>) -> Response {
    let stream = match range {
        None => opened.read(&app.store).await,
        Some((start, end)) => opened.read_range(&app.store, start, end).await,
    };
    let mut stream = match stream {
        Ok(stream) => stream,
        Err(e) => return read_failure(&opened.file_id, e),
    };
    // The first piece is checked before the status line goes out, so damage in the first
    // chunk gets a clear error response. Later damage ends the body early.
    let first = match stream.next().await {
        Some(Ok(first)) => Some(first),
        Some(Err(e)) => return read_failure(&opened.file_id, e),
        None => None,
    };
    let file_id = opened.file_id.clone();
    let body = futures::stream::unfold((first, Some(stream)), move |(pending, stream)| {
        let file_id = file_id.clone();
        async move {
            if let Some(piece) = pending {
                return Some((Ok::<_, std::io::Error>(piece), (None, stream)));
            }
            let mut stream = stream?;
            match stream.next().await {
                Some(Ok(piece)) => Some((Ok(piece), (None, Some(stream)))),
                Some(Err(e)) => {
                    error!(file_id, error = %e, "stored file failed while streaming");
                    Some((Err(std::io::Error::other(e.to_string())), (None, None)))
                }
                None => None,
            }
        }
    });
    let (status, length) = match range {
        None => (StatusCode::OK, opened.size),
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, end - start + 1),
    };
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(value) = HeaderValue::from_str(&opened.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    let name = opened.file_name.as_deref().unwrap_or("file");
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        name.replace('"', "_")
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some((start, end)) = range
        && let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{}", opened.size))
    {
        headers.insert(header::CONTENT_RANGE, value);
    }
    response
}

fn read_failure(file_id: &str, error: SealError) -> Response {
    match error {
        SealError::Keys(e) => key_failure(&e),
        SealError::Store(e @ StoreError::Request { .. })
        | SealError::Store(e @ StoreError::Body { .. }) => unavailable("storage", &e.to_string()),
        SealError::Envelope(e) => damaged(file_id, &e),
        other => {
            error!(file_id, error = %other, "stored file cannot be read");
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "file_unreadable",
                format!("file {file_id} cannot be read: {other}"),
            )
        }
    }
}

fn damaged(file_id: &str, error: &EnvelopeError) -> Response {
    error!(file_id, error = %error, "stored file failed authentication");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "file_damaged",
        format!("file {file_id} failed its integrity check and is not served: {error}"),
    )
}

/// A `Range` header, reduced to what this route serves: one byte range.
#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    Whole,
    Bytes(u64, u64),
    Unsatisfiable,
}

/// Reads `Range: bytes=a-b`, `bytes=a-` or `bytes=-n`. Several ranges, other units and
/// malformed values are ignored and the whole file is served, as HTTP allows.
fn parse_range(headers: &HeaderMap, size: u64) -> RangeRequest {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return RangeRequest::Whole;
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let range = match (first.is_empty(), last.is_empty()) {
        (true, false) => match last.parse::<u64>() {
            Ok(0) => return RangeRequest::Unsatisfiable,
            Ok(n) => (size.saturating_sub(n), size.saturating_sub(1)),
            Err(_) => return RangeRequest::Whole,
        },
        (false, _) => {
            let Ok(start) = first.parse::<u64>() else {
                return RangeRequest::Whole;
            };
            let end = if last.is_empty() {
                size.saturating_sub(1)
            } else {
                match last.parse::<u64>() {
                    Ok(end) if end >= start => end.min(size.saturating_sub(1)),
                    _ => return RangeRequest::Whole,
                }
            };
            (start, end)
        }
        (true, true) => return RangeRequest::Whole,
    };
    if size == 0 || range.0 >= size {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Bytes(range.0, range.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, size: u64) -> RangeRequest {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, value.parse().unwrap());
        parse_range(&headers, size)
    }

    #[test]
    fn reads_single_byte_ranges() {
        assert_eq!(range("bytes=0-9", 100), RangeRequest::Bytes(0, 9));
        assert_eq!(range("bytes=90-", 100), RangeRequest::Bytes(90, 99));
        assert_eq!(range("bytes=-10", 100), RangeRequest::Bytes(90, 99));
        assert_eq!(range("bytes=50-500", 100), RangeRequest::Bytes(50, 99));
        assert_eq!(range("bytes=-500", 100), RangeRequest::Bytes(0, 99));
    }

    #[test]
    fn refuses_ranges_past_the_end_and_ignores_the_rest() {
        assert_eq!(range("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(range("bytes=-0", 100), RangeRequest::Unsatisfiable);
        assert_eq!(range("bytes=0-1,5-6", 100), RangeRequest::Whole);
        assert_eq!(range("items=0-1", 100), RangeRequest::Whole);
        assert_eq!(range("bytes=9-2", 100), RangeRequest::Whole);
        assert_eq!(parse_range(&HeaderMap::new(), 100), RangeRequest::Whole);
    }

    #[test]
    fn file_ids_are_plain() {
        assert!(valid_id("0b4c4c8e-6f6a-4b8e-9d3e-1f2a3b4c5d6e"));
        assert!(!valid_id("../status"));
        assert!(!valid_id(""));
    }
}
