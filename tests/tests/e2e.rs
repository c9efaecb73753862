//! End-to-end tests against the real local stack (`make stack-up`): MinIO, clamd, OpenBao and
//! the functions under `cargo lambda watch`. They fail, not skip, when the stack is missing.
use aws_sdk_s3::Client;
use filestore_e2e::StackEnv;
use filestore_e2e::client::Uploader;
use filestore_e2e::flow;
use filestore_e2e::receiver::Receiver;
use filestore_e2e::samples::{self, Sample};
use serde_json::json;

fn stack() -> StackEnv {
    StackEnv::from_env().unwrap_or_else(|e| panic!("{e}"))
}

async fn object_tags(client: &Client, bucket: &str, key: &str) -> Option<Vec<(String, String)>> {
    let output = client
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .ok()?;
    Some(
        output
            .tag_set
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect(),
    )
}

async fn object_exists(client: &Client, bucket: &str, key: &str) -> bool {
    client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn demo_files_get_expected_verdicts_and_actions() {
    let env = stack();
    let receiver = Receiver::start(env.webhook_secret.clone())
        .await
        .expect("webhook receiver starts");
    let uploader = Uploader::new(env.clone());
    let s3 = filestore_e2e::s3_client().await;

    for sample in samples::demo_set().expect("sample files are available") {
        let outcome = flow::run(&uploader, &receiver, &sample)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let record = &outcome.verdict;
        let name = &sample.filename;
        assert_eq!(
            record.verdict.name(),
            sample.expected_verdict,
            "verdict of {name}: {record:?}"
        );
        let action = serde_json::to_value(record.action).unwrap();
        assert_eq!(action, sample.expected_action, "action on {name}");
        assert!(
            outcome.webhook_delivered,
            "webhook for {name} was not delivered"
        );
        assert!(
            outcome.webhook_verified,
            "webhook signature for {name} did not verify"
        );
        assert_eq!(record.key, outcome.key);
        assert_eq!(record.size, sample.bytes.len() as u64);

        let exists = object_exists(&s3, &env.incoming_bucket, &outcome.key).await;
        match sample.expected_action {
            "tagged" => {
                let tags = object_tags(&s3, &env.incoming_bucket, &outcome.key)
                    .await
                    .unwrap_or_default();
                assert!(
                    tags.contains(&("scan-status".into(), "clean".into())),
                    "tags of {name}: {tags:?}"
                );
            }
            "deleted" => assert!(!exists, "{name} is still in the incoming bucket"),
            other => panic!("unexpected action {other} in the sample table"),
        }
    }
}

#[tokio::test]
async fn infected_verdict_names_signature() {
    let env = stack();
    let receiver = Receiver::start(env.webhook_secret.clone())
        .await
        .expect("webhook receiver starts");
    let uploader = Uploader::new(env);
    let mut embedded = b"Some notes before the test string.\n".to_vec();
    embedded.extend(samples::eicar());
    let sample = Sample {
        filename: "notes.txt".into(),
        content_type: "text/plain",
        bytes: embedded,
        expected_verdict: "infected",
        expected_action: "deleted",
    };

    let outcome = flow::run(&uploader, &receiver, &sample)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let verdict = serde_json::to_value(&outcome.verdict.verdict).unwrap();
    assert_eq!(verdict["verdict"], "infected");
    assert_eq!(verdict["signature"], "Filestore.Test.EICAR.UNOFFICIAL");
}

#[tokio::test]
async fn spoofed_verdict_names_both_types() {
    let env = stack();
    let receiver = Receiver::start(env.webhook_secret.clone())
        .await
        .expect("webhook receiver starts");
    let uploader = Uploader::new(env);
    let sample = Sample {
        filename: "photo.png".into(),
        content_type: "image/png",
        bytes: samples::pdf("not a picture"),
        expected_verdict: "spoofed",
        expected_action: "deleted",
    };

    let outcome = flow::run(&uploader, &receiver, &sample)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let verdict = serde_json::to_value(&outcome.verdict.verdict).unwrap();
    assert_eq!(verdict["verdict"], "spoofed");
    assert_eq!(verdict["declared"], "image/png");
    assert_eq!(verdict["detected"], "application/pdf");
}

#[tokio::test]
async fn presign_rejects_bad_requests() {
    let uploader = Uploader::new(stack());
    let cases = [
        (
            json!({ "filename": "big.pdf", "content_type": "application/pdf", "size": 200u64 << 20 }),
            413,
            "too_large",
        ),
        (
            json!({ "filename": "tool.exe", "content_type": "application/pdf", "size": 10 }),
            415,
            "extension_not_allowed",
        ),
        (
            json!({ "filename": "README", "size": 10 }),
            415,
            "extension_not_allowed",
        ),
        (
            json!({ "filename": "a.pdf", "content_type": "image/png", "size": 10 }),
            415,
            "content_type_mismatch",
        ),
        (
            json!({ "filename": "../..", "size": 10 }),
            400,
            "invalid_request",
        ),
        (json!({ "filename": "a.pdf" }), 400, "invalid_request"),
        (
            json!({ "filename": "a.pdf", "size": -1 }),
            400,
            "invalid_request",
        ),
        (json!("not an object"), 400, "invalid_request"),
    ];
    for (body, status, code) in cases {
        let answer = uploader
            .request_upload(&body)
            .await
            .expect("presign answers");
        assert_eq!(answer.status, status, "status for {body}: {}", answer.body);
        assert_eq!(answer.body["error"], code, "error code for {body}");
    }
}

#[tokio::test]
async fn presign_ticket_names_safe_key_and_pending_status() {
    let uploader = Uploader::new(stack());

    let ticket = uploader
        .presign("../../etc/report\u{7}.pdf", "application/pdf", 1234)
        .await
        .unwrap();

    assert_eq!(ticket.key, format!("uploads/{}/report.pdf", ticket.id));
    assert_eq!(ticket.method, "PUT");
    assert_eq!(
        ticket.headers.get("content-length").map(String::as_str),
        Some("1234")
    );
    assert_eq!(
        ticket.headers.get("content-type").map(String::as_str),
        Some("application/pdf")
    );
    assert!(!ticket.expires_at.is_empty());
    let status = uploader.status(&ticket.id).await.unwrap();
    assert_eq!(status.status, 200);
    assert_eq!(status.body["status"], "pending");
}

#[tokio::test]
async fn storage_rejects_upload_of_other_length() {
    let uploader = Uploader::new(stack());
    let ticket = uploader
        .presign("short.txt", "text/plain", 10)
        .await
        .unwrap();

    let mut ticket_with_wrong_length = ticket.clone();
    ticket_with_wrong_length
        .headers
        .insert("content-length".into(), "11".into());
    let status = uploader
        .upload(&ticket_with_wrong_length, b"eleven byte".to_vec())
        .await
        .unwrap();

    assert_eq!(
        status, 403,
        "storage must reject a length the URL was not signed for"
    );
}

#[tokio::test]
async fn unknown_upload_status_is_not_found() {
    let uploader = Uploader::new(stack());

    let missing = uploader
        .status("00000000000000000000000000000000")
        .await
        .unwrap();
    let malformed = uploader.status("not-an-id").await.unwrap();

    assert_eq!(missing.status, 404);
    assert_eq!(malformed.status, 400);
}

#[tokio::test]
async fn scan_endpoint_checks_token_and_answers_probe() {
    let env = stack();
    let uploader = Uploader::new(env.clone());

    let probe = uploader.post_scan(Some(&env.scan_token), "").await.unwrap();
    let no_token = uploader.post_scan(None, "").await.unwrap();
    let wrong_token = uploader.post_scan(Some("wrong"), "").await.unwrap();
    let malformed = uploader
        .post_scan(Some(&env.scan_token), "{not json")
        .await
        .unwrap();

    assert_eq!(probe.status, 200, "{}", probe.body);
    assert_eq!(probe.body["verdicts"], json!([]));
    assert_eq!(no_token.status, 401);
    assert_eq!(wrong_token.status, 401);
    assert_eq!(malformed.status, 400);
}

#[tokio::test]
async fn delete_event_is_ignored() {
    let env = stack();
    let uploader = Uploader::new(env.clone());
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/events/aws-delete.json"
    );
    let body = std::fs::read_to_string(path).unwrap();

    let answer = uploader
        .post_scan(Some(&env.scan_token), &body)
        .await
        .unwrap();

    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["skipped"], 1);
    assert_eq!(answer.body["verdicts"], json!([]));
}
