//! Load and faults at small sizes: each scenario of `filestore_e2e::soak` must keep every
//! promise. `make soak` runs the same scenarios at full size and writes the report.

use std::time::Duration;

use filestore_e2e::StackEnv;
use filestore_e2e::receiver::Receiver;
use filestore_e2e::soak::{self, Finding};
use filestore_e2e::spawn::start_function;

fn stack() -> StackEnv {
    StackEnv::from_env().unwrap_or_else(|e| panic!("{e}"))
}

fn assert_kept(finding: Finding) {
    assert!(
        finding.passed(),
        "{}: {}\nobserved: {}\nproblems:\n{}",
        finding.scenario,
        finding.injected,
        finding.observed,
        finding.problems.join("\n")
    );
}

#[tokio::test]
async fn mixed_load_settles_once_each() {
    let env = stack();
    let receiver = Receiver::start(env.webhook_secret.clone()).await.unwrap();
    assert_kept(soak::load(&env, &receiver, 25, 10).await);
}

#[tokio::test]
async fn clamd_killed_mid_scan_recovers() {
    let env = stack();
    let receiver = Receiver::start(env.webhook_secret.clone()).await.unwrap();
    assert_kept(soak::clamd_restart(&env, &receiver, 15, 5, Duration::from_secs(3)).await);
}

#[tokio::test]
async fn openbao_outage_stores_nothing_then_drains() {
    let env = stack();
    let receiver = Receiver::start(env.webhook_secret.clone()).await.unwrap();
    assert_kept(soak::openbao_restart(&env, &receiver, 3, Duration::from_secs(3)).await);
}

#[tokio::test]
async fn minio_restart_keeps_queued_events() {
    let env = stack();
    let receiver = Receiver::start(env.webhook_secret.clone()).await.unwrap();
    assert_kept(soak::minio_restart(&env, &receiver, 8).await);
}

#[tokio::test]
async fn flood_of_bad_requests_is_refused() {
    let scan = start_function("scan", &[]).await;
    let token = std::env::var("SCAN_WEBHOOK_TOKEN").expect("the stack sets SCAN_WEBHOOK_TOKEN");
    assert_kept(soak::flood(&scan, &token, 250, 20).await);
}
