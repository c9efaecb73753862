//! The scan function: checks each new object's content against its extension, streams it to
//! clamd, then tags or deletes it and hands the verdict to notify.
//!
//! Triggers: S3 `ObjectCreated` events from the Lambda runtime, or MinIO webhook requests
//! (`POST`, `Authorization: Bearer $SCAN_WEBHOOK_TOKEN`) through a function URL. An empty
//! request body (MinIO's probe) gets 200.
//!
//! Front doors: the Lambda runtime when `AWS_LAMBDA_RUNTIME_API` is set (AWS Lambda, `cargo
//! lambda watch`), otherwise a plain HTTP server on Fn's `FN_LISTENER` socket or on
//! `BIND_ADDR:PORT` (default `127.0.0.1:8080`) with the routes of `http.rs`: `POST /` and
//! `POST /webhook` for MinIO webhook requests, and `GET /healthz`.
//!
//! Environment:
//! - `SCAN_CLAMD_ADDR` (`127.0.0.1:3310`), `SCAN_CLAMD_TIMEOUT_SECS` (60), `SCAN_ATTEMPTS` (3)
//! - `SCAN_MAX_BYTES` (100MiB): objects over it get the verdict `unscannable`; keep it at or below
//!   clamd's `StreamMaxLength`, `MaxFileSize` and `MaxScanSize`
//! - `SCAN_ALLOWED_EXTENSIONS` (every built-in rule), `SCAN_WEBHOOK_TOKEN`
//! - `NOTIFY_URL`, `NOTIFY_TOKEN` (required), `S3_FORCE_PATH_STYLE` (false), and the standard AWS
//!   SDK variables (`AWS_ENDPOINT_URL_S3` selects MinIO)
//!
//! Permissions: `s3:GetObject`, `s3:GetObjectVersion`, `s3:GetObjectTagging`,
//! `s3:PutObjectTagging`, `s3:DeleteObject`, `s3:DeleteObjectVersion` on the incoming bucket.
//!
//! Output: one verdict per new object (`clean`, `infected`, `spoofed`, `unscannable`, `error`)
//! sent to notify; the invocation fails only when a retry can help.

mod act;
mod config;
mod handler;
mod http;
mod ledger;
mod notify;
mod process;
mod scan;

use std::time::Duration;

use filestore::clamd::Clamd;
use filestore::keys::KeyService;
use filestore::store::Store;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

use crate::config::Config;
use crate::handler::App;
use crate::notify::NotifyClient;

#[tokio::main]
async fn main() -> Result<(), Error> {
    filestore::logging::init();
    filestore::memory::return_large_blocks();
    let config = Config::from_env()?;
    let notify = NotifyClient::new(
        config.notify_url.clone(),
        config.notify_token.clone(),
        Duration::from_secs(30),
    )?;
    let app = App {
        store: Store::from_env(config.force_path_style).await,
        scanner: Clamd::new(config.clamd_addr.clone(), config.clamd_timeout),
        notify,
        keys: config.vault.clone().map(KeyService::new),
        config,
    };
    use filestore::serve::Mode;
    match Mode::from_env()? {
        Mode::Lambda => {
            let app = &app;
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
                handler::handle(app, event)
            }))
            .await
        }
        Mode::Http(endpoint) => {
            let router = http::router(std::sync::Arc::new(app));
            Ok(endpoint.serve(router, "/").await?)
        }
    }
}
