//! Rewraps the data keys of every stored file under the newest version of the transit key.
//!
//! Run after rotating the key (`bao write -f transit/keys/filestore/rotate`). Old versions stay
//! readable until they are retired (`min_decryption_version`), so rotation does not block
//! reads. Rewrapping every file is what makes retiring them safe. Only object metadata changes: each
//! object is copied onto itself by storage, with the new wrapped key, on the condition that it
//! did not change since it was read. No body is read or written here, and no data key leaves
//! Vault in plaintext.
//!
//! Usage: `rewrap` with `STORE_BUCKET`, `S3_FORCE_PATH_STYLE`, the AWS SDK variables and the
//! Vault variables of `filestore::keys`. Prints one line per changed file and a summary; exits
//! with 1 when any file failed.

use filestore::config::{self, ConfigError};
use filestore::keys::{KeyService, VaultSettings};
use filestore::store::Store;
use filestore::store::encrypted::{Rewrapped, rewrap};

#[tokio::main]
async fn main() {
    filestore::logging::init();
    match run().await {
        Ok(0) => {}
        Ok(_) => std::process::exit(1),
        Err(e) => {
            eprintln!("rewrap: {e}");
            std::process::exit(2);
        }
    }
}

/// Returns the number of files that failed.
async fn run() -> Result<usize, Box<dyn std::error::Error>> {
    let bucket = config::required("STORE_BUCKET")?;
    let settings = VaultSettings::from_env()?.ok_or(ConfigError::Missing("VAULT_ADDR"))?;
    let store = Store::from_env(config::parsed("S3_FORCE_PATH_STYLE", false)?).await;
    let keys = KeyService::new(settings);
    let latest = keys.latest_version().await?;
    println!(
        "rewrap: transit key {} is at version {latest}",
        keys.key_name()
    );

    let (mut checked, mut updated, mut failed) = (0usize, 0usize, 0usize);
    let mut pages = store
        .client()
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("files/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("listing {bucket} failed: {}", aws_error(&e)))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            checked += 1;
            match rewrap(&store, &keys, &bucket, key, latest).await {
                Ok(Rewrapped::Current) => {}
                Ok(Rewrapped::Updated { from, to }) => {
                    updated += 1;
                    println!("{key}: v{} -> v{}", show(from), show(to));
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("{key}: {e}");
                }
            }
        }
    }
    println!("rewrap: {checked} files, {updated} rewrapped, {failed} failed");
    Ok(failed)
}

fn show(version: Option<u64>) -> String {
    version.map_or_else(|| "?".to_string(), |v| v.to_string())
}

fn aws_error<E: std::error::Error + 'static>(error: &E) -> String {
    aws_sdk_s3::error::DisplayErrorContext(error).to_string()
}
