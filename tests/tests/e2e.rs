//! End-to-end tests against the real local stack (`make stack-up`): MinIO, clamd, OpenBao and
//! the functions under `cargo lambda watch`. They fail, not skip, when the stack is missing.
use aws_sdk_s3::Client;
use filestore_e2e::StackEnv;
use filestore_e2e::client::{Uploader, mint_token};
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
            "stored" => {
                assert!(!exists, "{name} is still in the incoming bucket");
                assert_eq!(record.file_id.as_deref(), Some(outcome.upload_id.as_str()));
                let response = uploader.download(&outcome.upload_id, None).await.unwrap();
                assert_eq!(response.status().as_u16(), 200, "download of {name}");
                let body = response.bytes().await.unwrap();
                assert!(
                    body[..] == sample.bytes[..],
                    "downloaded {name} differs from the upload"
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
            json!({ "filename": "big.pdf", "content_type": "application/pdf", "size": 4u64 << 30 }),
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
    assert_eq!(ticket.status_url, format!("uploads/{}", ticket.id));
    assert!(ticket.multipart.is_none());
    let form = ticket.upload.expect("a small upload is a form upload");
    assert_eq!(form.method, "POST");
    assert_eq!(form.fields["key"], ticket.key);
    assert_eq!(form.fields["Content-Type"], "application/pdf");
    assert!(form.fields.contains_key("policy"));
    assert!(form.fields.contains_key("x-amz-signature"));
    assert!(!ticket.expires_at.is_empty());
    let status = uploader.status(&ticket.id).await.unwrap();
    assert_eq!(status.status, 200);
    assert_eq!(status.body["status"], "pending");
    assert!(
        status.body.get("owner").is_some(),
        "the owner is part of the record"
    );
}

#[tokio::test]
async fn storage_rejects_form_of_other_length() {
    let uploader = Uploader::new(stack());
    let ticket = uploader
        .presign("short.txt", "text/plain", 10)
        .await
        .unwrap();
    let form = ticket.upload.clone().unwrap();

    let longer = uploader
        .post_form(&form, &form.fields, b"eleven byte".to_vec())
        .await
        .unwrap();
    let shorter = uploader
        .post_form(&form, &form.fields, b"nine byte".to_vec())
        .await
        .unwrap();

    assert_eq!(
        longer, 400,
        "storage must reject a body over the signed length range"
    );
    assert_eq!(
        shorter, 400,
        "storage must reject a body under the signed length range"
    );
}

#[tokio::test]
async fn storage_rejects_form_with_changed_fields() {
    let uploader = Uploader::new(stack());
    let ticket = uploader
        .presign("doc.pdf", "application/pdf", 8)
        .await
        .unwrap();
    let form = ticket.upload.clone().unwrap();
    let mut other_type = form.fields.clone();
    other_type.insert("Content-Type".into(), "text/html".into());
    let mut other_key = form.fields.clone();
    other_key.insert("key".into(), format!("uploads/{}/other.pdf", ticket.id));

    let type_status = uploader
        .post_form(&form, &other_type, b"%PDF-1.4".to_vec())
        .await
        .unwrap();
    let key_status = uploader
        .post_form(&form, &other_key, b"%PDF-1.4".to_vec())
        .await
        .unwrap();

    assert_eq!(
        type_status, 403,
        "a content type outside the policy must be rejected"
    );
    assert_eq!(key_status, 403, "a key outside the policy must be rejected");
}

#[tokio::test]
async fn multipart_upload_of_large_file_reaches_verdict() {
    let env = stack();
    let receiver = Receiver::start(env.webhook_secret.clone())
        .await
        .expect("webhook receiver starts");
    let uploader = Uploader::new(env.clone());
    let size = 120 << 20;
    let limit: u64 = std::env::var("SCAN_MAX_BYTES").unwrap().parse().unwrap();
    let sample = Sample {
        filename: "large notes.txt".into(),
        content_type: "text/plain",
        bytes: vec![b'x'; size],
        expected_verdict: "unscannable",
        expected_action: "deleted",
    };

    let outcome = flow::run(&uploader, &receiver, &sample)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(
        outcome.verdict.size, size as u64,
        "the completed object has every part"
    );
    if size as u64 > limit {
        assert_eq!(
            outcome.verdict.verdict.name(),
            "unscannable",
            "{:?}",
            outcome.verdict
        );
    } else {
        assert_eq!(
            outcome.verdict.verdict.name(),
            "clean",
            "{:?}",
            outcome.verdict
        );
    }
}

#[tokio::test]
async fn storage_rejects_part_of_other_size() {
    let uploader = Uploader::new(stack());
    let ticket = uploader
        .presign("parts.txt", "text/plain", 40 << 20)
        .await
        .unwrap();
    let multipart = ticket
        .multipart
        .expect("a large upload is a multipart upload");
    let first = &multipart.parts[0];

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client
        .put(&first.url)
        .body(vec![b'x'; 1024])
        .send()
        .await
        .unwrap();

    assert_eq!(multipart.parts.len(), 3);
    assert_eq!(first.size, multipart.part_size);
    assert_eq!(
        response.status().as_u16(),
        403,
        "a part of another size must be rejected"
    );
}

#[tokio::test]
async fn presign_requires_valid_credentials() {
    let env = stack();
    let body = json!({ "filename": "a.pdf", "content_type": "application/pdf", "size": 10 });
    let anonymous = Uploader::with_token(env.clone(), None);
    let expired = Uploader::with_token(env.clone(), Some(mint_token(&env.jwt_secret, "u", -600)));
    let forged = Uploader::with_token(env.clone(), Some(mint_token(b"not the secret", "u", 600)));

    for (name, uploader) in [
        ("anonymous", anonymous),
        ("expired", expired),
        ("forged", forged),
    ] {
        let answer = uploader.request_upload(&body).await.unwrap();
        assert_eq!(answer.status, 401, "{name} request: {}", answer.body);
        assert_eq!(answer.body["error"], "unauthorized", "{name} request");
    }
}

#[tokio::test]
async fn status_is_visible_only_to_owner() {
    let env = stack();
    let alice = Uploader::with_token(env.clone(), Some(mint_token(&env.jwt_secret, "alice", 600)));
    let bob = Uploader::with_token(env.clone(), Some(mint_token(&env.jwt_secret, "bob", 600)));
    let ticket = alice.presign("mine.txt", "text/plain", 5).await.unwrap();

    let own = alice.status(&ticket.id).await.unwrap();
    let other = bob.status(&ticket.id).await.unwrap();

    assert_eq!(own.status, 200);
    assert_eq!(
        other.status, 404,
        "another user must not learn the upload exists"
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
