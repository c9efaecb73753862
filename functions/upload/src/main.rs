//! The upload function: synchronous uploads into the encrypted file store, and downloads.
//!
//! Routes (function URL or HTTP API):
//! - `POST /files?name=<file name>` with the file as the body: the content check and the virus
//!   scan run while the body streams into the encrypted store. Returns 201 with the file id when
//!   clean; 422 with the signature when infected (or the reason when it cannot be scanned); 415
//!   with the declared and detected types when the content does not match the name; 413 over
//!   the size limit; 503 when clamd, Vault or storage cannot be reached. Nothing is stored in
//!   any refused case.
//! - `GET /files/{id}`: the plaintext of a clean file, to its owner only; `Range: bytes=a-b`
//!   gives 206. Files uploaded through presign are fetched by their upload id.
//! - `GET /healthz`: 200.
//!
//! Authentication is the same as presign's (`PRESIGN_JWT_HS256_SECRET`, `PRESIGN_JWKS`,
//! `PRESIGN_API_KEYS`, ...; see `filestore::auth`).
//!
//! Environment: `STORE_BUCKET`, `STATUS_BUCKET`, `VAULT_ADDR` and Vault credentials
//! (`filestore::keys`), `UPLOAD_MAX_BYTES`, `SCAN_CLAMD_ADDR`, `SCAN_CLAMD_TIMEOUT_SECS`, the
//! content policy variables `SCAN_ALLOWED_EXTENSIONS` and `SCAN_ALLOW_*`, clamd's limits
//! `CLAMD_*`, `S3_FORCE_PATH_STYLE`, and the standard AWS SDK variables.

mod config;
mod handler;
mod receive;

use std::sync::Arc;

use filestore::auth::Authenticator;
use filestore::clamd::Clamd;
use filestore::keys::KeyService;
use filestore::store::Store;

use crate::config::Config;
use crate::handler::App;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    filestore::logging::init();
    filestore::memory::return_large_blocks();
    let config = Config::from_env()?;
    let app = Arc::new(App {
        store: Store::from_env(config.force_path_style).await,
        keys: KeyService::new(config.vault.clone()),
        scanner: Clamd::new(config.clamd_addr.clone(), config.clamd_timeout),
        auth: Authenticator::from_env()?,
        config,
    });
    let router = handler::router(app);
    use filestore::serve::Mode;
    match Mode::from_env()? {
        Mode::Lambda => lambda_http::run(router).await,
        Mode::Http(endpoint) => Ok(endpoint.serve(router, "/files").await?),
    }
}
