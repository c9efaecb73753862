//! Scanner faults against the real stack: clamd is stopped by the PID in the stack's PID file,
//! and started again with `scripts/stack.sh up` when the test ends.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use filestore_e2e::client::Uploader;
use filestore_e2e::{StackEnv, ensure_bucket, put_object, s3_client, s3_event, samples};

const BUCKET: &str = "filestore-test-plain";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

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

fn stop_clamd() -> RestartOnDrop {
    let state =
        std::env::var("FILESTORE_STATE_DIR").expect("FILESTORE_STATE_DIR is set by the stack");
    let pid_file = PathBuf::from(state).join("run/clamd.pid");
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("cannot read {pid_file:?}: {e}"));
    let pid = pid.trim().to_string();
    let killed = Command::new("kill").arg(&pid).status().expect("kill runs");
    assert!(killed.success(), "kill {pid} failed");
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        !PathBuf::from(format!("/proc/{pid}")).exists()
    });
    assert!(gone, "clamd (pid {pid}) did not exit");
    RestartOnDrop
}

#[tokio::test]
async fn clamd_down_gives_error_verdict_then_rescan_succeeds() {
    let uploader = Uploader::new(StackEnv::from_env().unwrap_or_else(|e| panic!("{e}")));
    let client = s3_client().await;
    ensure_bucket(&client, BUCKET, false).await;
    let key = "uploads/faults/while clamd is down.txt";
    let bytes = samples::text();
    let size = bytes.len();
    let (etag, _) = put_object(&client, BUCKET, key, bytes, None).await;
    let event = s3_event(BUCKET, key, size, &etag, None);

    let restart = stop_clamd();
    let during = uploader.invoke("scan", &event).await.unwrap();
    drop(restart);
    let after = uploader.invoke("scan", &event).await.unwrap();

    let failed = &during["verdicts"][0];
    assert_eq!(failed["verdict"], "error", "{during}");
    assert!(
        failed["reason"].as_str().unwrap().contains("clamd"),
        "{failed}"
    );
    assert_eq!(failed["action"], "tagged");
    let retried = &after["verdicts"][0];
    assert_eq!(retried["verdict"], "clean", "{after}");
    assert_ne!(
        retried["id"], failed["id"],
        "the error verdict must be replaced, not replayed"
    );
    let tags = client
        .get_object_tagging()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    let status: Vec<_> = tags
        .tag_set
        .iter()
        .filter(|t| t.key == "scan-status")
        .map(|t| t.value.as_str())
        .collect();
    assert_eq!(status, ["clean"]);
}
