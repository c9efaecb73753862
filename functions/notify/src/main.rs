//! The notify function: records each verdict where the uploader polls it and sends it to every
//! configured sink: webhooks, signed, and an EventBridge bus.
//!
//! Routes (function URL or HTTP API):
//! - `POST /verdicts` with a verdict record and `Authorization: Bearer $NOTIFY_TOKEN`: 200 with
//!   one report per sink and the sinks that were dead-lettered; 401, 400, or 503 when the status
//!   store is unavailable (for the status record or a dead letter).
//! - `GET /healthz`: 200.
//!
//! Front doors: the Lambda runtime when `AWS_LAMBDA_RUNTIME_API` is set (AWS Lambda, `cargo
//! lambda watch`), otherwise a plain HTTP server on Fn's `FN_LISTENER` socket or on
//! `BIND_ADDR:PORT` (default `127.0.0.1:8080`); see `filestore::serve`.
//!
//! Environment: `STATUS_BUCKET`, `NOTIFY_TOKEN` (required), `NOTIFY_WEBHOOK_URLS` (comma
//! separated), `NOTIFY_WEBHOOK_SECRET` (required with webhooks), `NOTIFY_WEBHOOK_TIMEOUT_SECS`
//! (10), `NOTIFY_WEBHOOK_ATTEMPTS` (3), `NOTIFY_WEBHOOK_BACKOFF_MS` (200),
//! `NOTIFY_DELIVERY_DEADLINE_SECS` (20), `NOTIFY_EVENTBRIDGE_BUS` (unset), `S3_FORCE_PATH_STYLE`
//! (false), and the standard AWS SDK variables. The function's own timeout must exceed the
//! delivery deadline.
//!
//! Permissions: `s3:GetObject`, `s3:PutObject` on the status bucket, and `events:PutEvents` on
//! the bus when one is set.
//!
//! Output: each webhook gets the verdict record as JSON with `X-Filestore-Signature:
//! t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` and `X-Filestore-Delivery: <verdict
//! id>.<sink id>`. A delivery that fails after its attempts is stored under
//! `dead-letters/<verdict id>/<sink id>.json` for the `redeliver` command.

use std::sync::Arc;

use notify::config::Config;
use notify::handler::{self, App};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    filestore::logging::init();
    let config = Config::from_env()?;
    let app = Arc::new(App::new(config).await?);
    let router = handler::router(app);
    use filestore::serve::Mode;
    match Mode::from_env()? {
        Mode::Lambda => lambda_http::run(router).await,
        Mode::Http(endpoint) => Ok(endpoint.serve(router, "/verdicts").await?),
    }
}
