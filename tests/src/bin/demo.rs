//! The demo: uploads five real files through the local stack as a browser would and prints what
//! happened to each.
//!
//! Needs the stack from `make stack-up` and its environment (`.stack/env`).

use filestore_e2e::StackEnv;
use filestore_e2e::client::Uploader;
use filestore_e2e::flow::{self, Outcome};
use filestore_e2e::receiver::{RECEIVER_ADDR, Receiver};
use filestore_e2e::samples;

fn detail(outcome: &Outcome) -> String {
    let value = serde_json::to_value(&outcome.verdict.verdict).unwrap_or_default();
    match (value.get("signature"), value.get("reason")) {
        (Some(signature), _) => signature.as_str().unwrap_or_default().to_string(),
        (_, Some(reason)) => reason.as_str().unwrap_or_default().to_string(),
        _ => String::new(),
    }
}

fn print_row(columns: [&str; 8]) {
    let [
        file,
        declared,
        detected,
        verdict,
        action,
        webhook,
        ms,
        detail,
    ] = columns;
    println!(
        "{file:<26} {declared:<16} {detected:<46} {verdict:<9} {action:<8} {webhook:<17} {ms:>6}  {detail}"
    );
}

fn print_table(outcomes: &[Outcome]) {
    print_row([
        "file",
        "declared type",
        "detected type",
        "verdict",
        "action",
        "webhook",
        "ms",
        "detail",
    ]);
    for outcome in outcomes {
        let record = &outcome.verdict;
        let webhook = match (outcome.webhook_delivered, outcome.webhook_verified) {
            (true, true) => "delivered+signed",
            (true, false) => "BAD SIGNATURE",
            _ => "not delivered",
        };
        let action = serde_json::to_value(record.action).ok();
        print_row([
            &outcome.sample.filename,
            record.declared_type.as_deref().unwrap_or("-"),
            record.detected_type.as_deref().unwrap_or("-"),
            record.verdict.name(),
            action.as_ref().and_then(|v| v.as_str()).unwrap_or_default(),
            webhook,
            &outcome.upload_to_verdict_ms.to_string(),
            &detail(outcome),
        ]);
    }
}

async fn run() -> Result<bool, String> {
    let env = StackEnv::from_env()?;
    let receiver = Receiver::start(env.webhook_secret.clone())
        .await
        .map_err(|e| format!("cannot listen on {RECEIVER_ADDR} for webhooks: {e}"))?;
    let uploader = Uploader::new(env);
    let samples = samples::demo_set()?;
    println!("webhook receiver listening on http://{RECEIVER_ADDR}/webhook");
    println!(
        "uploading {} files through presign -> MinIO -> scan -> notify\n",
        samples.len()
    );

    let runs = samples
        .iter()
        .map(|sample| flow::run(&uploader, &receiver, sample));
    let results = futures::future::join_all(runs).await;
    let mut outcomes = Vec::new();
    for (sample, result) in samples.iter().zip(results) {
        outcomes.push(result.map_err(|e| format!("{}: {e}", sample.filename))?);
    }
    print_table(&outcomes);

    let expected = outcomes
        .iter()
        .filter(|o| o.verdict.verdict.name() == o.sample.expected_verdict && o.webhook_verified);
    let all_expected = expected.count() == outcomes.len();
    println!(
        "\n{}",
        if all_expected {
            "every file got its expected verdict and a verified webhook"
        } else {
            "SOME FILES DID NOT GET THEIR EXPECTED VERDICT"
        }
    );
    Ok(all_expected)
}

#[tokio::main]
async fn main() {
    match run().await {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(message) => {
            eprintln!("demo failed: {message}");
            std::process::exit(1);
        }
    }
}
