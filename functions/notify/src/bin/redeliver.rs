//! Sends dead letters again: `redeliver --all` or `redeliver <verdict-id>`.
//!
//! Reads the same environment as the notify function (except `NOTIFY_TOKEN`), signs each
//! webhook delivery with the current `NOTIFY_WEBHOOK_SECRET` and a fresh timestamp, keeps the
//! original delivery id, and removes each dead letter only after its sink accepted it.
//!
//! Prints one line per dead letter. Exits 0 when every selected dead letter was delivered (or
//! none was found), 1 when any failed or the storage failed, and 2 on invalid arguments or
//! settings.

use std::process::ExitCode;

use filestore::store::Store;
use notify::config::DeliveryConfig;
use notify::fanout::Deliverer;
use notify::redeliver::{Redeliverer, Selection, parse_args};

#[tokio::main]
async fn main() -> ExitCode {
    filestore::logging::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let selection = match parse_args(&args) {
        Ok(selection) => selection,
        Err(e) => return usage_error(&e),
    };
    let config = match DeliveryConfig::from_env() {
        Ok(config) => config,
        Err(e) => return usage_error(&e),
    };
    let store = Store::from_env(config.force_path_style).await;
    // Dead letters may name an EventBridge bus even when notify no longer sends to one.
    let deliverer = match Deliverer::new(&config, true).await {
        Ok(deliverer) => deliverer,
        Err(e) => return usage_error(&e),
    };
    let redeliverer = Redeliverer {
        config: &config,
        store: &store,
        deliverer: &deliverer,
    };
    match redeliverer.run(&selection).await {
        Ok(done) => report(&selection, &done),
        Err(e) => {
            eprintln!("redeliver: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage_error(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("redeliver: {error}");
    ExitCode::from(2)
}

fn report(selection: &Selection, done: &[notify::redeliver::Redelivery]) -> ExitCode {
    if done.is_empty() {
        match selection {
            Selection::All => println!("no dead letters found"),
            Selection::Verdict(id) => println!("no dead letters found for verdict {id}"),
        }
        return ExitCode::SUCCESS;
    }
    for item in done {
        let state = if item.delivered {
            "delivered"
        } else {
            "failed"
        };
        let error = item.error.as_deref().unwrap_or_default();
        println!(
            "{state}\t{}\t{}\tattempts={}\t{error}",
            item.key, item.target, item.attempts
        );
    }
    let failed = done.iter().filter(|d| !d.delivered).count();
    println!("{} delivered, {failed} not delivered", done.len() - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
