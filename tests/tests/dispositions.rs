//! Per-verdict actions other than the defaults, on a scan process of this test's own: the built
//! `target/debug/scan` as a plain HTTP server on a free 127.0.0.1 port, with the stack's
//! settings plus the dispositions under test. It is killed when the test ends.

use filestore_e2e::spawn::{Spawned, start_function};
use filestore_e2e::{ensure_bucket, put_object, s3_client, s3_event, samples};
use serde_json::Value;

const BUCKET: &str = "filestore-test-plain";

async fn start_scan(settings: &[(&str, &str)]) -> Spawned {
    start_function("scan", settings).await
}

async fn post_event(scan: &Spawned, event: &Value) -> Value {
    let token = std::env::var("SCAN_WEBHOOK_TOKEN").expect("the stack sets SCAN_WEBHOOK_TOKEN");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client
        .post(format!("{}/webhook", scan.url))
        .bearer_auth(token)
        .json(event)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn infected_object_is_quarantined() {
    let quarantine = std::env::var("QUARANTINE_BUCKET").expect("the stack sets QUARANTINE_BUCKET");
    let scan = start_scan(&[("SCAN_ACTION_INFECTED", "quarantine")]).await;
    let client = s3_client().await;
    ensure_bucket(&client, BUCKET, false).await;
    ensure_bucket(&client, &quarantine, false).await;
    let key = format!(
        "uploads/dispositions/{}/eicar.txt",
        filestore::webhook::unix_now()
    );
    let bytes = samples::eicar();
    let size = bytes.len();
    let (etag, _) = put_object(&client, BUCKET, &key, bytes.clone(), None).await;

    let summary = post_event(&scan, &s3_event(BUCKET, &key, size, &etag, None)).await;

    let verdict = &summary["verdicts"][0];
    assert_eq!(verdict["verdict"], "infected", "{summary}");
    assert_eq!(verdict["action"], "quarantined", "{summary}");
    assert!(
        client
            .head_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .is_err(),
        "left in the incoming bucket"
    );
    let copy = client
        .get_object()
        .bucket(&quarantine)
        .key(&key)
        .send()
        .await
        .expect("copy is in quarantine");
    let copied = copy.body.collect().await.unwrap().into_bytes();
    assert_eq!(copied.as_ref(), bytes.as_slice());
}

#[tokio::test]
async fn spoofed_object_can_be_tagged_in_place() {
    let scan = start_scan(&[("SCAN_ACTION_SPOOFED", "tag")]).await;
    let client = s3_client().await;
    ensure_bucket(&client, BUCKET, false).await;
    let key = format!(
        "uploads/dispositions/{}/photo.png",
        filestore::webhook::unix_now()
    );
    let bytes = samples::pdf("not a picture");
    let size = bytes.len();
    let (etag, _) = put_object(&client, BUCKET, &key, bytes, None).await;

    let summary = post_event(&scan, &s3_event(BUCKET, &key, size, &etag, None)).await;

    assert_eq!(summary["verdicts"][0]["verdict"], "spoofed", "{summary}");
    assert_eq!(summary["verdicts"][0]["action"], "tagged", "{summary}");
    let tags = client
        .get_object_tagging()
        .bucket(BUCKET)
        .key(&key)
        .send()
        .await
        .unwrap();
    let status: Vec<_> = tags
        .tag_set
        .iter()
        .filter(|t| t.key == "scan-status")
        .map(|t| t.value.as_str())
        .collect();
    assert_eq!(status, ["spoofed"]);
}

#[tokio::test]
async fn clean_object_tagged_in_place_keeps_user_tags() {
    let scan = start_scan(&[("SCAN_ACTION_CLEAN", "tag")]).await;
    let client = s3_client().await;
    ensure_bucket(&client, BUCKET, false).await;
    let key = format!(
        "uploads/dispositions/{}/tagged.txt",
        filestore::webhook::unix_now()
    );
    let bytes = samples::text();
    let size = bytes.len();
    let (etag, _) = put_object(&client, BUCKET, &key, bytes, Some("owner=alice&project=x")).await;

    let summary = post_event(&scan, &s3_event(BUCKET, &key, size, &etag, None)).await;

    assert_eq!(summary["verdicts"][0]["verdict"], "clean", "{summary}");
    assert_eq!(summary["verdicts"][0]["action"], "tagged", "{summary}");
    let tags: Vec<(String, String)> = client
        .get_object_tagging()
        .bucket(BUCKET)
        .key(&key)
        .send()
        .await
        .unwrap()
        .tag_set
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    assert!(tags.contains(&("owner".into(), "alice".into())), "{tags:?}");
    assert!(tags.contains(&("project".into(), "x".into())), "{tags:?}");
    assert!(
        tags.contains(&("scan-status".into(), "clean".into())),
        "{tags:?}"
    );
}
