//! Routes of the scan function when it runs as a plain HTTP server (OpenFaaS, Knative, Fn or a
//! local run) instead of under the Lambda runtime.
//!
//! - `POST /` and `POST /webhook`: a MinIO webhook delivery, handled by [`handler::webhook`]
//!   with the request's `Authorization` header and body.
//! - `GET /healthz`: 200 with `ok`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use filestore::clamd::Scanner;

use crate::handler::{self, App};

/// Largest webhook body accepted, in bytes.
pub const WEBHOOK_BODY_LIMIT: usize = 256 * 1024;

/// Builds the router of the HTTP front door.
pub fn router<S: Scanner + 'static>(app: Arc<App<S>>) -> Router {
    Router::new()
        .route("/", post(receive_webhook::<S>))
        .route("/webhook", post(receive_webhook::<S>))
        .route("/healthz", get(|| async { "ok" }))
        // A MinIO event carries one record of a few KiB, so a larger body is refused before it
        // is read, which bounds memory under a flood to this limit per open request.
        .layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT))
        .with_state(app)
}

async fn receive_webhook<S: Scanner + 'static>(
    State(app): State<Arc<App<S>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let (status, body) = handler::webhook(&app, authorization, &body).await;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(body)).into_response()
}
