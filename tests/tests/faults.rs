//! Scanner faults against the real stack: clamd is stopped by the PID in the stack's PID file,
//! and started again with `scripts/stack.sh up` when the test ends.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use filestore_e2e::client::Uploader;
use filestore_e2e::spawn::{repo_root, start_function};
use filestore_e2e::{StackEnv, ensure_bucket, put_object, s3_client, s3_event, samples};

const BUCKET: &str = "filestore-test-plain";

/// Restarts the stack's services when dropped, so a failed assertion does not leave clamd down.
struct RestartOnDrop;

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        let status = Command::new(repo_root().join("scripts/stack.sh"))
            .arg("up")
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "scripts/stack.sh up failed to restart clamd"
        );
    }
}

/// Stops one of the stack's services by the PID in its pid file; it is started again when the
/// returned guard is dropped.
fn stop_service(service: &str) -> RestartOnDrop {
    let state =
        std::env::var("FILESTORE_STATE_DIR").expect("FILESTORE_STATE_DIR is set by the stack");
    let pid_file = PathBuf::from(state).join(format!("run/{service}.pid"));
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("cannot read {pid_file:?}: {e}"));
    let pid = pid.trim().to_string();
    let killed = Command::new("kill").arg(&pid).status().expect("kill runs");
    assert!(killed.success(), "kill {pid} failed");
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        !PathBuf::from(format!("/proc/{pid}")).exists()
    });
    assert!(gone, "{service} (pid {pid}) did not exit");
    RestartOnDrop
}

/// Returns the object's `scan-status` tag, if it has one.
async fn status_tag(client: &aws_sdk_s3::Client, key: &str) -> Option<String> {
    let tags = client
        .get_object_tagging()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .ok()?;
    tags.tag_set
        .into_iter()
        .find(|t| t.key == "scan-status")
        .map(|t| t.value)
}

#[tokio::test]
async fn clamd_down_fails_scan_until_clamd_returns() {
    let uploader = Uploader::new(StackEnv::from_env().unwrap_or_else(|e| panic!("{e}")));
    let client = s3_client().await;
    ensure_bucket(&client, BUCKET, false).await;
    let key = &format!(
        "uploads/faults-{}/while clamd is down.txt",
        filestore::webhook::unix_now()
    );
    let bytes = samples::text();
    let size = bytes.len();
    let (etag, _) = put_object(&client, BUCKET, key, bytes, None).await;
    let event = s3_event(BUCKET, key, size, &etag, None);

    let restart = stop_service("clamd");
    let during = uploader.invoke("scan", &event).await;
    let tagged_during = status_tag(&client, key).await;
    let again_during = uploader.invoke("scan", &event).await;
    drop(restart);
    let after = uploader.invoke("scan", &event).await.unwrap();

    // The invocation fails, so that the event is delivered again, after the error verdict was
    // recorded, tagged and sent.
    let during = format!("{during:?}");
    assert!(during.contains("not scanned yet"), "{during}");
    assert!(during.contains("clamd"), "{during}");
    assert_eq!(tagged_during.as_deref(), Some("error"));
    assert!(format!("{again_during:?}").contains("not scanned yet"));
    let retried = &after["verdicts"][0];
    assert_eq!(retried["verdict"], "clean", "{after}");
    assert_eq!(retried["action"], "stored", "{after}");
    let gone = client.head_object().bucket(BUCKET).key(key).send().await;
    assert!(
        gone.is_err(),
        "the clean object is still in the incoming bucket"
    );
}

#[tokio::test]
async fn openbao_down_refuses_uploads_and_keeps_events_for_later() {
    let uploader = Uploader::new(StackEnv::from_env().unwrap_or_else(|e| panic!("{e}")));
    let client = s3_client().await;
    ensure_bucket(&client, BUCKET, false).await;
    // An upload function of this test's own, writing to an empty bucket of its own, shows
    // whether a refused upload leaves anything behind.
    let own_bucket = format!(
        "filestore-test-vault-down-{}",
        filestore::webhook::unix_now()
    );
    ensure_bucket(&client, &own_bucket, false).await;
    let upload = start_function("upload", &[("STORE_BUCKET", own_bucket.as_str())]).await;
    let token = filestore_e2e::client::mint_token(&uploader_secret(), "vault-down", 600);
    let key = format!(
        "uploads/vault-down-{}/report.txt",
        filestore::webhook::unix_now()
    );
    let bytes = samples::text();
    let (etag, _) = put_object(&client, BUCKET, &key, bytes.clone(), None).await;
    let event = s3_event(BUCKET, &key, bytes.len(), &etag, None);

    let restart = stop_service("openbao");
    let refused = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}/files?name=notes.txt", upload.url))
        .bearer_auth(&token)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    let refused_status = refused.status().as_u16();
    let refused_body: serde_json::Value = refused.json().await.unwrap();
    let during = uploader.invoke("scan", &event).await;
    let left_in_place = client.head_object().bucket(BUCKET).key(&key).send().await;
    drop(restart);
    let after = uploader.invoke("scan", &event).await.unwrap();

    assert_eq!(refused_status, 503, "{refused_body}");
    assert_eq!(refused_body["error"], "keys_unavailable", "{refused_body}");
    let objects = client
        .list_objects_v2()
        .bucket(&own_bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(objects.key_count(), Some(0), "{:?}", objects.contents());
    let during = format!("{during:?}");
    assert!(
        !during.contains("\"verdict\""),
        "scan decided without a data key: {during}"
    );
    assert!(during.contains("Vault"), "{during}");
    assert!(left_in_place.is_ok(), "the object left the incoming bucket");
    let stored = &after["verdicts"][0];
    assert_eq!(stored["verdict"], "clean", "{after}");
    assert_eq!(stored["action"], "stored", "{after}");
    let file_id = stored["file_id"].as_str().unwrap();
    let store = filestore::store::Store::from_env(true).await;
    let keys = filestore::keys::KeyService::new(
        filestore::keys::VaultSettings::from_env().unwrap().unwrap(),
    );
    let store_bucket = std::env::var("STORE_BUCKET").unwrap();
    let opened = filestore::store::encrypted::open(&store, &keys, &store_bucket, file_id)
        .await
        .unwrap()
        .expect("the encrypted copy exists");
    let plaintext = opened
        .read(&store)
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(plaintext, bytes);
}

fn uploader_secret() -> Vec<u8> {
    StackEnv::from_env()
        .unwrap_or_else(|e| panic!("{e}"))
        .jwt_secret
}
