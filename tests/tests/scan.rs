//! Scan function behaviour on the classes of input real buckets send, against the real stack.
//! Events are sent straight to the function (Lambda invoke API or webhook URL) for objects in
//! test buckets that have no notifications, so each test controls exactly which events arrive.

use std::time::Duration;

use filestore::clamd::{Clamd, ClamdError, ScanSession, Scanner};
use filestore_e2e::client::Uploader;
use filestore_e2e::receiver::Receiver;
use filestore_e2e::spawn::start_function;
use filestore_e2e::{StackEnv, ensure_bucket, put_object, s3_client, s3_event, samples};
use serde_json::{Value, json};

const PLAIN: &str = "filestore-test-plain";
const VERSIONED: &str = "filestore-test-versioned";

fn stack() -> StackEnv {
    StackEnv::from_env().unwrap_or_else(|e| panic!("{e}"))
}

fn unique(name: &str) -> String {
    format!("uploads/{}/{name}", uuid_like())
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:032x}")
}

async fn exists(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> bool {
    client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

/// Uploads an object to the plain test bucket and invokes scan with an S3 event for it.
async fn scan_direct(
    uploader: &Uploader,
    key: &str,
    bytes: Vec<u8>,
    tagging: Option<&str>,
) -> Value {
    let client = s3_client().await;
    ensure_bucket(&client, PLAIN, false).await;
    let size = bytes.len();
    let (etag, _) = put_object(&client, PLAIN, key, bytes, tagging).await;
    uploader
        .invoke("scan", &s3_event(PLAIN, key, size, &etag, None))
        .await
        .unwrap()
}

fn only_verdict(summary: &Value) -> &Value {
    let verdicts = summary["verdicts"]
        .as_array()
        .unwrap_or_else(|| panic!("no verdicts in {summary}"));
    assert_eq!(verdicts.len(), 1, "expected one verdict in {summary}");
    &verdicts[0]
}

#[tokio::test]
async fn awkward_keys_are_decoded_once() {
    let uploader = Uploader::new(stack());
    let client = s3_client().await;
    for name in [
        "a b+c.txt",
        "100% sure.txt",
        "ünïcödé 文件.txt",
        "plus+plus%2B.txt",
    ] {
        let key = format!("{}/sub dir/{name}", unique("k").trim_end_matches("/k"));

        let summary = scan_direct(&uploader, &key, samples::text(), None).await;

        let verdict = only_verdict(&summary);
        assert_eq!(verdict["key"], key.as_str());
        assert_eq!(verdict["verdict"], "clean", "{summary}");
        assert_eq!(verdict["action"], "stored", "{summary}");
        let left = client.head_object().bucket(PLAIN).key(&key).send().await;
        assert!(left.is_err(), "{key} is still in the incoming bucket");
    }
}

#[tokio::test]
async fn zero_byte_objects_get_defined_verdicts() {
    let uploader = Uploader::new(stack());

    let text = scan_direct(&uploader, &unique("empty.txt"), Vec::new(), None).await;
    let pdf = scan_direct(&uploader, &unique("empty.pdf"), Vec::new(), None).await;

    assert_eq!(only_verdict(&text)["verdict"], "clean");
    assert_eq!(only_verdict(&pdf)["verdict"], "spoofed");
    assert_eq!(only_verdict(&pdf)["detected"], "application/x-empty");
}

#[tokio::test]
async fn tag_limit_still_records_verdict() {
    let env = stack();
    let receiver = Receiver::start(env.webhook_secret.clone()).await.unwrap();
    let key = unique("ten-tags.txt");
    let tagging = (0..10)
        .map(|i| format!("t{i}=v{i}"))
        .collect::<Vec<_>>()
        .join("&");

    // Tagging in place is the disposition with a tag limit; the stack stores clean objects.
    let scan = start_function("scan", &[("SCAN_ACTION_CLEAN", "tag")]).await;
    let client = s3_client().await;
    ensure_bucket(&client, PLAIN, false).await;
    let bytes = samples::text();
    let size = bytes.len();
    let (etag, _) = put_object(&client, PLAIN, &key, bytes, Some(&tagging)).await;
    let summary: Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}/webhook", scan.url))
        .bearer_auth(std::env::var("SCAN_WEBHOOK_TOKEN").unwrap())
        .json(&s3_event(PLAIN, &key, size, &etag, None))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let verdict = only_verdict(&summary);
    assert_eq!(verdict["verdict"], "clean");
    assert_eq!(verdict["action"], "skipped");
    assert_eq!(verdict["action_note"], "object already has 10 tags");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.for_key(&key).len(),
        1,
        "the verdict must still be delivered"
    );
}

#[tokio::test]
async fn duplicate_event_replays_first_verdict() {
    let env = stack();
    let receiver = Receiver::start(env.webhook_secret.clone()).await.unwrap();
    let uploader = Uploader::new(env);
    let client = s3_client().await;
    ensure_bucket(&client, PLAIN, false).await;
    let key = unique("twice.txt");
    let bytes = samples::eicar();
    let size = bytes.len();
    let (etag, _) = put_object(&client, PLAIN, &key, bytes, None).await;
    let event = s3_event(PLAIN, &key, size, &etag, None);

    let first = uploader.invoke("scan", &event).await.unwrap();
    let second = uploader.invoke("scan", &event).await.unwrap();

    assert_eq!(only_verdict(&first)["verdict"], "infected");
    assert_eq!(only_verdict(&first)["action"], "deleted");
    assert_eq!(
        only_verdict(&second)["id"],
        only_verdict(&first)["id"],
        "the same verdict must be replayed"
    );
    assert_eq!(only_verdict(&second)["action"], "deleted");
    assert!(!exists(&client, PLAIN, &key).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.for_key(&key).len(),
        1,
        "a replayed verdict is not delivered twice"
    );
}

#[tokio::test]
async fn sealed_etag_event_replays_after_store() {
    // MinIO's events for objects it encrypts at rest carry a sealed 96-digit ETag that HEAD
    // never returns. A redelivery after the clean object moved to the store must still find
    // the first verdict.
    let uploader = Uploader::new(stack());
    let client = s3_client().await;
    ensure_bucket(&client, PLAIN, false).await;
    let key = unique("sealed.txt");
    let bytes = samples::text();
    let size = bytes.len();
    put_object(&client, PLAIN, &key, bytes, None).await;
    let sealed = "20000f00b3d8d3bf62795e31ba19662a2b1e893ea59dbb0a110a4622efe33b71358f578fe30d074c92acb2edd0ff1330";
    let event = s3_event(PLAIN, &key, size, sealed, None);

    let first = uploader.invoke("scan", &event).await.unwrap();
    let second = uploader.invoke("scan", &event).await.unwrap();

    assert_eq!(only_verdict(&first)["verdict"], "clean", "{first}");
    assert_eq!(only_verdict(&first)["action"], "stored", "{first}");
    assert!(!exists(&client, PLAIN, &key).await);
    assert_eq!(
        only_verdict(&second)["id"],
        only_verdict(&first)["id"],
        "the same verdict must be replayed: {second}"
    );
}

#[tokio::test]
async fn overwritten_object_is_left_to_newer_event() {
    let uploader = Uploader::new(stack());
    let client = s3_client().await;
    ensure_bucket(&client, PLAIN, false).await;
    let key = unique("changing.txt");
    let (old_etag, _) = put_object(&client, PLAIN, &key, samples::eicar(), None).await;
    put_object(&client, PLAIN, &key, samples::text(), None).await;

    let summary = uploader
        .invoke("scan", &s3_event(PLAIN, &key, 68, &old_etag, None))
        .await
        .unwrap();

    assert_eq!(summary["verdicts"], json!([]));
    assert_eq!(summary["skipped"], 1);
    assert!(
        exists(&client, PLAIN, &key).await,
        "the newer content must not be touched"
    );
}

#[tokio::test]
async fn missing_object_is_skipped() {
    let uploader = Uploader::new(stack());
    ensure_bucket(&s3_client().await, PLAIN, false).await;

    let event = s3_event(
        PLAIN,
        &unique("never-uploaded.pdf"),
        10,
        "0123456789abcdef0123456789abcdef",
        None,
    );
    let summary = uploader.invoke("scan", &event).await.unwrap();

    assert_eq!(summary["skipped"], 1);
    assert_eq!(summary["verdicts"], json!([]));
}

#[tokio::test]
async fn versioned_delete_leaves_no_data() {
    let uploader = Uploader::new(stack());
    let client = s3_client().await;
    ensure_bucket(&client, VERSIONED, true).await;
    let key = unique("eicar.txt");
    let bytes = samples::eicar();
    let size = bytes.len();
    let (etag, version) = put_object(&client, VERSIONED, &key, bytes, None).await;
    let version = version.expect("a versioned bucket returns a version id");

    let summary = uploader
        .invoke(
            "scan",
            &s3_event(VERSIONED, &key, size, &etag, Some(&version)),
        )
        .await
        .unwrap();

    assert_eq!(only_verdict(&summary)["verdict"], "infected");
    assert_eq!(only_verdict(&summary)["version_id"], version.as_str());
    let listing = client
        .list_object_versions()
        .bucket(VERSIONED)
        .prefix(&key)
        .send()
        .await
        .unwrap();
    assert!(
        listing.versions().is_empty(),
        "versions left: {:?}",
        listing.versions()
    );
    assert!(
        listing.delete_markers().is_empty(),
        "a delete marker hides data instead of removing it"
    );
}

#[tokio::test]
async fn oversized_object_is_unscannable() {
    let uploader = Uploader::new(stack());
    let limit: usize = std::env::var("SCAN_MAX_BYTES").unwrap().parse().unwrap();
    let client = s3_client().await;
    let key = unique("huge.txt");

    let summary = scan_direct(&uploader, &key, vec![b'a'; limit + 1], None).await;

    let verdict = only_verdict(&summary);
    assert_eq!(verdict["verdict"], "unscannable");
    assert!(
        verdict["reason"]
            .as_str()
            .unwrap()
            .contains("over the scan limit"),
        "{verdict}"
    );
    assert_eq!(verdict["action"], "deleted");
    assert!(!exists(&client, PLAIN, &key).await);
}

#[tokio::test]
async fn clamd_limit_reply_is_read_after_broken_pipe() {
    let addr = std::env::var("SCAN_CLAMD_ADDR").unwrap();
    let limit: usize = std::env::var("SCAN_MAX_BYTES").unwrap().parse().unwrap();
    let clamd = Clamd::new(addr, Duration::from_secs(30));
    let chunk = vec![b'a'; 1 << 20];

    let mut session = clamd.start().await.unwrap();
    for _ in 0..=(limit >> 20) + 1 {
        session.send(&chunk).await.unwrap();
    }
    let result = session.finish().await;

    match result {
        Err(ClamdError::Reported(message)) => {
            assert!(message.contains("size limit exceeded"), "{message}")
        }
        other => panic!("expected clamd's size limit error, got {other:?}"),
    }
}

#[tokio::test]
async fn sqs_batch_reports_only_failed_messages() {
    let env = stack();
    let receiver = Receiver::start(env.webhook_secret.clone()).await.unwrap();
    let uploader = Uploader::new(env);
    let client = s3_client().await;
    ensure_bucket(&client, PLAIN, false).await;
    let key = unique("via sqs.txt");
    let (etag, _) = put_object(&client, PLAIN, &key, samples::text(), None).await;
    let good = s3_event(PLAIN, &key, samples::text().len(), &etag, None);
    let message = |id: &str, body: String| {
        json!({
            "messageId": id, "receiptHandle": "r", "body": body, "attributes": {}, "messageAttributes": {},
            "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:0:scan", "awsRegion": "us-east-1"
        })
    };
    let batch = json!({ "Records": [message("good", good.to_string()), message("bad", "{not json".into())] });

    let answer = uploader.invoke("scan", &batch).await.unwrap();

    assert_eq!(
        answer["batchItemFailures"],
        json!([{ "itemIdentifier": "bad" }])
    );
    let delivery = receiver
        .wait_for_key(&key, Duration::from_secs(10))
        .await
        .expect("verdict delivered");
    assert_eq!(delivery.record.unwrap().verdict.name(), "clean");
}

#[tokio::test]
async fn eventbridge_event_is_scanned() {
    let uploader = Uploader::new(stack());
    let client = s3_client().await;
    ensure_bucket(&client, PLAIN, false).await;
    let key = unique("from eventbridge.png");
    let bytes = samples::png(8, 8);
    let size = bytes.len();
    let (etag, _) = put_object(&client, PLAIN, &key, bytes, None).await;
    let event = json!({
        "version": "0", "id": "e1", "detail-type": "Object Created", "source": "aws.s3", "account": "0",
        "time": "2026-12-04T12:00:00Z", "region": "us-east-1", "resources": [],
        "detail": { "version": "0", "bucket": { "name": PLAIN },
            "object": { "key": key.replace(' ', "+"), "size": size, "etag": etag }, "reason": "PutObject" }
    });

    let summary = uploader.invoke("scan", &event).await.unwrap();

    assert_eq!(only_verdict(&summary)["verdict"], "clean");
    assert_eq!(only_verdict(&summary)["detected_type"], "image/png");
}

#[tokio::test]
async fn sns_wrapped_event_is_scanned() {
    let uploader = Uploader::new(stack());
    let client = s3_client().await;
    ensure_bucket(&client, PLAIN, false).await;
    let key = unique("via sns.pdf");
    let bytes = samples::pdf("sns");
    let size = bytes.len();
    let (etag, _) = put_object(&client, PLAIN, &key, bytes, None).await;
    let inner = s3_event(PLAIN, &key, size, &etag, None).to_string();
    let event = json!({ "Records": [{ "EventSource": "aws:sns", "EventVersion": "1.0",
        "Sns": { "Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:0:t", "Message": inner } }]});

    let summary = uploader.invoke("scan", &event).await.unwrap();

    assert_eq!(only_verdict(&summary)["verdict"], "clean");
    assert_eq!(only_verdict(&summary)["key"], key.as_str());
}
