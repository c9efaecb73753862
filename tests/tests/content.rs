//! Content check and archive limits end to end: real files through the scan function and clamd
//! of the local stack, each with the verdict it must get.

use std::io::Write;

use filestore_e2e::client::Uploader;
use filestore_e2e::{StackEnv, ensure_bucket, formats, put_object, s3_client, s3_event};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;

const BUCKET: &str = "filestore-test-plain";

async fn scan(name: &str, bytes: Vec<u8>) -> Value {
    let uploader = Uploader::new(StackEnv::from_env().unwrap_or_else(|e| panic!("{e}")));
    let client = s3_client().await;
    ensure_bucket(&client, BUCKET, false).await;
    let key = format!("uploads/content/{name}");
    let size = bytes.len();
    let (etag, _) = put_object(&client, BUCKET, &key, bytes, None).await;
    let summary = uploader
        .invoke("scan", &s3_event(BUCKET, &key, size, &etag, None))
        .await
        .unwrap();
    summary["verdicts"][0].clone()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn content_samples_get_expected_verdicts() {
    for sample in formats::content_set() {
        // clamd's `AlertEncrypted yes` flags the encrypted zip before the content check, and an
        // alert means the content could not be scanned.
        let expected = if sample.filename == "secret.zip" {
            "unscannable"
        } else {
            sample.expected_verdict
        };

        let verdict = scan(&sample.filename, sample.bytes.clone()).await;

        assert_eq!(
            verdict["verdict"], expected,
            "{}: {verdict}",
            sample.filename
        );
        if expected == "spoofed" {
            assert!(
                verdict["reason"].as_str().is_some_and(|r| !r.is_empty()),
                "{}: {verdict}",
                sample.filename
            );
        }
    }
}

#[tokio::test]
async fn compression_bomb_is_unscannable() {
    let bomb = gzip(&vec![0u8; 200 << 20]);
    assert!(bomb.len() < 1 << 20, "the bomb must be small on the wire");

    let verdict = scan("bomb.gz", bomb).await;

    assert_eq!(verdict["verdict"], "unscannable", "{verdict}");
    assert!(
        verdict["reason"]
            .as_str()
            .unwrap()
            .contains("Heuristics.Limits.Exceeded"),
        "{verdict}"
    );
    assert_eq!(verdict["action"], "deleted");
}

#[tokio::test]
async fn deeply_nested_archive_is_unscannable() {
    let mut nested = b"innermost".to_vec();
    for _ in 0..24 {
        nested = gzip(&nested);
    }

    let verdict = scan("nested.gz", nested).await;

    assert_eq!(verdict["verdict"], "unscannable", "{verdict}");
    assert!(
        verdict["reason"]
            .as_str()
            .unwrap()
            .contains("Heuristics.Limits.Exceeded"),
        "{verdict}"
    );
}

#[tokio::test]
async fn windows_executable_named_pdf_is_spoofed() {
    let executable = std::fs::read(filestore_e2e::samples::WINDOWS_EXECUTABLE).unwrap();

    let verdict = scan("invoice.pdf", executable).await;

    assert_eq!(verdict["verdict"], "spoofed", "{verdict}");
    assert_eq!(verdict["declared"], "application/pdf");
    assert!(
        verdict["reason"].as_str().unwrap().contains("executable"),
        "{verdict}"
    );
}

#[tokio::test]
async fn double_extension_is_judged_by_last() {
    let verdict = scan("invoice.pdf.exe", filestore_e2e::samples::pdf("double")).await;

    assert_eq!(verdict["verdict"], "spoofed", "{verdict}");
    assert!(
        verdict["declared"].as_str().unwrap().contains(".exe"),
        "{verdict}"
    );
}
