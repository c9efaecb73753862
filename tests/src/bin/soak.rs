//! `make soak`: the load and fault scenarios at full size against the local stack, with the
//! report written to `bench/results/soak.md`. Exits with 1 when any promise was broken.
//!
//! Sizes: 500 uploads 50 at a time; 100 uploads with clamd killed for 10 s; 20 uploads with
//! OpenBao stopped for 10 s; 50 uploads with MinIO restarted; 5,000 bad requests 50 at a time.

use std::time::Duration;

use filestore_e2e::StackEnv;
use filestore_e2e::receiver::Receiver;
use filestore_e2e::soak;
use filestore_e2e::spawn::{repo_root, start_function};

#[tokio::main]
async fn main() {
    let env = StackEnv::from_env().unwrap_or_else(|e| {
        eprintln!("soak: {e}");
        std::process::exit(2);
    });
    let token = std::env::var("SCAN_WEBHOOK_TOKEN").unwrap_or_default();
    let mut findings = Vec::new();
    {
        let receiver = Receiver::start(env.webhook_secret.clone())
            .await
            .expect("the webhook receiver starts on 127.0.0.1:9400");
        println!("soak: load");
        findings.push(soak::load(&env, &receiver, 500, 50).await);
        println!("soak: clamd killed mid-scan");
        findings.push(soak::clamd_restart(&env, &receiver, 100, 20, Duration::from_secs(10)).await);
        println!("soak: OpenBao stopped");
        findings.push(soak::openbao_restart(&env, &receiver, 20, Duration::from_secs(10)).await);
        println!("soak: MinIO restarted");
        findings.push(soak::minio_restart(&env, &receiver, 50).await);
    }
    println!("soak: flood");
    let scan = start_function("scan", &[]).await;
    findings.push(soak::flood(&scan, &token, 5000, 50).await);

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut text = soak::report(&findings, "Load and fault soak");
    text.push_str(&format!(
        "\nRun with `make soak` on {} ({cores} cores), against the debug build under `cargo lambda watch`, which runs one request per function at a time.\n\
         The notify sink outage (retries, dead letter, `redeliver`) is covered by `tests/tests/notify.rs`, which runs in `make test`.\n",
        filestore::verdict::now_rfc3339()
    ));
    let path = repo_root().join("bench/results/soak.md");
    std::fs::write(&path, &text).expect("bench/results is writable");
    println!("{text}");
    println!("soak: report written to {}", path.display());
    if findings.iter().any(|f| !f.passed()) {
        std::process::exit(1);
    }
}
