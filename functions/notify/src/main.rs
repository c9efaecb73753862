//! The notify function: records each verdict where the uploader polls it and sends it to every
//! configured webhook, signed.
//!
//! Routes (function URL or HTTP API):
//! - `POST /verdicts` with a verdict record and `Authorization: Bearer $NOTIFY_TOKEN`: 200 with
//!   the delivery results; 401, 400, or 503 when the status store is unavailable.
//! - `GET /healthz`: 200.
//!
//! Environment: `STATUS_BUCKET`, `NOTIFY_TOKEN` (required), `NOTIFY_WEBHOOK_URLS` (comma
//! separated), `NOTIFY_WEBHOOK_SECRET` (required with webhooks), `NOTIFY_WEBHOOK_TIMEOUT_SECS`
//! (10), `NOTIFY_WEBHOOK_ATTEMPTS` (3), `S3_FORCE_PATH_STYLE` (false), and the standard AWS SDK
//! variables.
//!
//! Permissions: `s3:GetObject`, `s3:PutObject` on the status bucket.
//!
//! Output: each webhook gets the verdict record as JSON with `X-Filestore-Signature:
//! t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` and `X-Filestore-Delivery: <verdict id>`.

mod config;
mod handler;

use std::sync::Arc;

use filestore::store::Store;
use filestore::webhook::Sender;

use crate::config::Config;
use crate::handler::App;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    filestore::logging::init();
    let config = Config::from_env()?;
    let store = Store::from_env(config.force_path_style).await;
    let sender = Sender::new(
        config.webhook_secret.clone(),
        config.webhook_timeout,
        config.webhook_attempts,
    )?;
    let app = Arc::new(App {
        config,
        store,
        sender,
    });
    lambda_http::run(handler::router(app)).await
}
