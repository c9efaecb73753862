//! The presign function: hands browsers presigned upload URLs and reports upload status.
//!
//! Routes (function URL or HTTP API):
//! - `POST /uploads` with `{"filename", "content_type", "size"}`: 201 with the upload id, object
//!   key, presigned `PUT` URL, the headers to send and the expiry; 400, 413 or 415 otherwise.
//! - `GET /uploads/{id}`: the status record, `pending` until a verdict exists; 404 if unknown.
//! - `GET /healthz`: 200.
//!
//! Front doors: the Lambda runtime when `AWS_LAMBDA_RUNTIME_API` is set (AWS Lambda, `cargo
//! lambda watch`), otherwise a plain HTTP server on Fn's `FN_LISTENER` socket or on
//! `BIND_ADDR:PORT` (default `127.0.0.1:8080`); see `filestore::serve`.
//!
//! Environment: `INCOMING_BUCKET`, `STATUS_BUCKET` (required), `PRESIGN_MAX_BYTES` (100MiB),
//! `PRESIGN_EXPIRY_SECS` (900), `PRESIGN_ALLOWED_EXTENSIONS` (every built-in rule),
//! `S3_FORCE_PATH_STYLE` (false), and the standard AWS SDK variables.
//!
//! Permissions: `s3:PutObject` on the incoming bucket (the presigned URL acts with it), and
//! `s3:PutObject`, `s3:GetObject` on the status bucket.

mod config;
mod handler;
mod uploads;

use std::sync::Arc;

use filestore::store::Store;

use crate::config::Config;
use crate::handler::App;
use filestore::auth::Authenticator;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    filestore::logging::init();
    let config = Config::from_env()?;
    let store = Store::from_env(config.force_path_style).await;
    let auth = Authenticator::from_env()?;
    let app = Arc::new(App {
        config,
        store,
        auth,
    });
    let router = handler::router(app);
    use filestore::serve::Mode;
    match Mode::from_env()? {
        Mode::Lambda => lambda_http::run(router).await,
        // A direct `fn invoke` carries an upload request.
        Mode::Http(endpoint) => Ok(endpoint.serve(router, "/uploads").await?),
    }
}
