//! The encrypted file store against the real stack: the upload function's responses, what lies on
//! MinIO's disk, damaged objects, and key rotation with rewrapping in OpenBao.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use filestore::envelope::EnvelopeError;
use filestore::keys::{KeyService, VaultSettings};
use filestore::store::Store;
use filestore::store::encrypted::{self, META_WRAPPED_KEY, SealError, file_key};
use filestore::verdict::UploadStatus;
use filestore_e2e::client::Uploader;
use filestore_e2e::spawn::{repo_root, start_function};
use filestore_e2e::{StackEnv, ensure_bucket, s3_client, samples};

/// Held by the tests that rewrite stored objects and by the one that rewraps every stored
/// file, so that a rewrap never races an overwrite.
static REWRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn stack() -> StackEnv {
    StackEnv::from_env().unwrap_or_else(|e| panic!("{e}"))
}

fn store_bucket() -> String {
    std::env::var("STORE_BUCKET").expect("the stack sets STORE_BUCKET")
}

/// Text that is easy to find in any byte dump: 200 KiB, four chunks of the format and a bit.
fn marked_text() -> Vec<u8> {
    b"FILESTORE-PLAINTEXT-MARKER the quick brown fox\n"
        .iter()
        .copied()
        .cycle()
        .take(200 * 1024)
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn upload_clean(uploader: &Uploader, name: &str, bytes: Vec<u8>) -> String {
    let answer = uploader.upload_sync(name, bytes).await.unwrap();
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.body["file_id"].as_str().unwrap().to_string()
}

async fn raw_object(key: &str) -> Vec<u8> {
    let client = s3_client().await;
    let object = client
        .get_object()
        .bucket(store_bucket())
        .key(key)
        .send()
        .await
        .unwrap();
    object.body.collect().await.unwrap().into_bytes().to_vec()
}

/// Writes `body` over a stored object, keeping its metadata (the wrapped key) and type.
async fn overwrite_body(key: &str, body: Vec<u8>) {
    let client = s3_client().await;
    let head = client
        .head_object()
        .bucket(store_bucket())
        .key(key)
        .send()
        .await
        .unwrap();
    client
        .put_object()
        .bucket(store_bucket())
        .key(key)
        .set_metadata(head.metadata)
        .set_content_type(head.content_type)
        .body(body.into())
        .send()
        .await
        .unwrap();
}

async fn read_back(file_id: &str) -> Result<Vec<u8>, SealError> {
    let store = Store::from_env(true).await;
    let keys = key_service();
    let opened = encrypted::open(&store, &keys, &store_bucket(), file_id)
        .await?
        .expect("the file exists");
    opened.read(&store).await?.read_to_end().await
}

fn key_service() -> KeyService {
    KeyService::new(
        VaultSettings::from_env()
            .expect("Vault settings are valid")
            .expect("the stack sets VAULT_ADDR"),
    )
}

#[tokio::test]
async fn synchronous_upload_answers_each_outcome() {
    let uploader = Uploader::new(stack());

    let clean = uploader
        .upload_sync("notes.txt", samples::text())
        .await
        .unwrap();
    let infected = uploader
        .upload_sync("eicar.txt", samples::eicar())
        .await
        .unwrap();
    let spoofed = uploader
        .upload_sync("invoice.pdf", samples::png(8, 8))
        .await
        .unwrap();
    let anonymous = Uploader::with_token(stack(), None)
        .upload_sync("notes.txt", samples::text())
        .await
        .unwrap();

    assert_eq!(clean.status, 201, "{}", clean.body);
    assert_eq!(clean.body["verdict"], "clean");
    assert_eq!(clean.body["size"], samples::text().len());
    assert_eq!(infected.status, 422, "{}", infected.body);
    assert_eq!(infected.body["error"], "infected");
    assert!(
        infected.body["signature"]
            .as_str()
            .is_some_and(|s| s.contains("EICAR")),
        "{}",
        infected.body
    );
    assert_eq!(spoofed.status, 415, "{}", spoofed.body);
    assert_eq!(spoofed.body["declared"], "application/pdf");
    assert_eq!(spoofed.body["detected"], "image/png");
    assert_eq!(anonymous.status, 401);

    let file_id = clean.body["file_id"].as_str().unwrap();
    let download = uploader.download(file_id, None).await.unwrap();
    assert_eq!(download.status().as_u16(), 200);
    assert_eq!(
        download.headers()["content-type"].to_str().unwrap(),
        "text/plain"
    );
    assert_eq!(download.bytes().await.unwrap().to_vec(), samples::text());
}

#[tokio::test]
async fn refused_uploads_store_nothing() {
    // An upload function of this test's own, with a small limit and an empty store bucket of
    // its own, so that anything a refused upload left behind would show.
    let bucket = format!("filestore-test-refused-{}", filestore::webhook::unix_now());
    let client = s3_client().await;
    ensure_bucket(&client, &bucket, false).await;
    let upload = start_function(
        "upload",
        &[
            ("STORE_BUCKET", bucket.as_str()),
            ("UPLOAD_MAX_BYTES", "4096"),
        ],
    )
    .await;
    let token = filestore_e2e::client::mint_token(&stack().jwt_secret, "refusals", 600);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let post = |name: &str, body: Vec<u8>| {
        http.post(format!("{}/files?name={name}", upload.url))
            .bearer_auth(&token)
            .body(body)
            .send()
    };

    let too_large = post("big.txt", vec![b'a'; 10_000]).await.unwrap();
    let infected = post("eicar.txt", samples::eicar()).await.unwrap();
    let spoofed = post("photo.png", samples::pdf("not a picture"))
        .await
        .unwrap();
    let not_allowed = post("tool.exe", vec![b'M', b'Z', 0, 0]).await.unwrap();

    assert_eq!(too_large.status().as_u16(), 413);
    assert_eq!(infected.status().as_u16(), 422);
    assert_eq!(spoofed.status().as_u16(), 415);
    assert_eq!(not_allowed.status().as_u16(), 415);
    let objects = client
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(objects.key_count(), Some(0), "{:?}", objects.contents());
    let uploads = client
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty(), "{:?}", uploads.uploads());
}

#[tokio::test]
async fn stored_bytes_do_not_contain_the_plaintext() {
    let uploader = Uploader::new(stack());
    let plaintext = marked_text();
    let marker = b"FILESTORE-PLAINTEXT-MARKER";
    let file_id = upload_clean(&uploader, "marked.txt", plaintext.clone()).await;

    let raw = raw_object(&file_key(&file_id)).await;
    assert!(raw.starts_with(b"FSE1"), "no envelope header");
    assert!(
        !contains(&raw, marker),
        "plaintext visible through the S3 API"
    );

    // MinIO keeps each object as files under <data>/<bucket>/<key>/.
    let state = std::env::var("FILESTORE_STATE_DIR").expect("the stack sets FILESTORE_STATE_DIR");
    let dir = PathBuf::from(state)
        .join("minio/data")
        .join(store_bucket())
        .join(file_key(&file_id));
    let mut on_disk = Vec::new();
    let mut pending = vec![dir.clone()];
    while let Some(path) = pending.pop() {
        for entry in std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{path:?}: {e}")) {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                on_disk.extend(std::fs::read(entry.path()).unwrap());
            }
        }
    }
    assert!(
        on_disk.len() >= plaintext.len(),
        "read only {} bytes under {dir:?}",
        on_disk.len()
    );
    assert!(!contains(&on_disk, marker), "plaintext on MinIO's disk");

    let download = uploader.download(&file_id, None).await.unwrap();
    assert_eq!(download.bytes().await.unwrap().to_vec(), plaintext);
}

#[tokio::test]
async fn range_requests_return_the_requested_bytes() {
    let uploader = Uploader::new(stack());
    let plaintext = marked_text();
    let file_id = upload_clean(&uploader, "ranges.txt", plaintext.clone()).await;

    for (header, start, end) in [
        ("bytes=0-99", 0, 99),
        ("bytes=65530-65545", 65530, 65545),
        ("bytes=150000-", 150000, plaintext.len() - 1),
        ("bytes=-10", plaintext.len() - 10, plaintext.len() - 1),
    ] {
        let response = uploader.download(&file_id, Some(header)).await.unwrap();
        assert_eq!(response.status().as_u16(), 206, "{header}");
        let range = response.headers()["content-range"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(range, format!("bytes {start}-{end}/{}", plaintext.len()));
        let body = response.bytes().await.unwrap();
        assert!(body[..] == plaintext[start..=end], "{header}");
    }
    let past_end = uploader
        .download(&file_id, Some("bytes=999999-"))
        .await
        .unwrap();
    assert_eq!(past_end.status().as_u16(), 416);
}

#[tokio::test]
async fn damaged_objects_fail_to_decrypt() {
    let _serial = REWRITES.lock().await;
    let uploader = Uploader::new(stack());
    let plaintext = marked_text();
    let sealed_chunk = 64 * 1024 + 16;

    // A flipped byte inside the second chunk.
    let flipped = upload_clean(&uploader, "flipped.txt", plaintext.clone()).await;
    let mut raw = raw_object(&file_key(&flipped)).await;
    let header_len =
        raw.len() - filestore::envelope::sealed_len(plaintext.len() as u64, 64 * 1024) as usize;
    raw[header_len + sealed_chunk + 100] ^= 0x01;
    overwrite_body(&file_key(&flipped), raw).await;
    let error = read_back(&flipped).await.unwrap_err();
    assert!(
        matches!(
            error,
            SealError::Envelope(EnvelopeError::Tampered { chunk: 1 })
        ),
        "{error}"
    );

    // The second chunk dropped: the third then sits at position 1.
    let dropped = upload_clean(&uploader, "dropped.txt", plaintext.clone()).await;
    let mut raw = raw_object(&file_key(&dropped)).await;
    raw.drain(header_len + sealed_chunk..header_len + 2 * sealed_chunk);
    overwrite_body(&file_key(&dropped), raw).await;
    let error = read_back(&dropped).await.unwrap_err();
    assert!(
        matches!(error, SealError::Envelope(EnvelopeError::Tampered { .. })),
        "{error}"
    );

    // Cut after the third chunk: the final chunk is missing.
    let truncated = upload_clean(&uploader, "truncated.txt", plaintext.clone()).await;
    let mut raw = raw_object(&file_key(&truncated)).await;
    raw.truncate(header_len + 3 * sealed_chunk);
    overwrite_body(&file_key(&truncated), raw).await;
    let error = read_back(&truncated).await.unwrap_err();
    assert!(
        matches!(error, SealError::Envelope(EnvelopeError::Truncated)),
        "{error}"
    );

    // Damage in the first chunk is found before the download response starts.
    let first = upload_clean(&uploader, "first.txt", plaintext.clone()).await;
    let mut raw = raw_object(&file_key(&first)).await;
    raw[header_len + 10] ^= 0x80;
    overwrite_body(&file_key(&first), raw).await;
    let response = uploader.download(&first, None).await.unwrap();
    assert_eq!(response.status().as_u16(), 500);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "file_damaged", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("chunk 0"),
        "{body}"
    );
}

/// Rotates the transit key with the stack's root token and returns the new version.
fn rotate_key() -> u64 {
    let addr = std::env::var("BAO_ADDR").expect("the stack sets BAO_ADDR");
    let token = std::env::var("BAO_TOKEN").expect("the stack sets BAO_TOKEN");
    let rotated = Command::new("bao")
        .args([
            "write",
            "-f",
            "-format=json",
            "transit/keys/filestore/rotate",
        ])
        .env("BAO_ADDR", &addr)
        .env("BAO_TOKEN", &token)
        .output()
        .expect("bao runs");
    assert!(
        rotated.status.success(),
        "rotation failed: {}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let key: serde_json::Value = serde_json::from_slice(&rotated.stdout).unwrap();
    key["data"]["latest_version"].as_u64().unwrap()
}

async fn wrapped_key_of(file_id: &str) -> String {
    let head = s3_client()
        .await
        .head_object()
        .bucket(store_bucket())
        .key(file_key(file_id))
        .send()
        .await
        .unwrap();
    head.metadata().unwrap()[META_WRAPPED_KEY].clone()
}

#[tokio::test]
async fn rotation_keeps_files_readable_and_rewrap_moves_keys_forward() {
    let _serial = REWRITES.lock().await;
    let uploader = Uploader::new(stack());
    let before = upload_clean(&uploader, "before-rotation.txt", samples::text()).await;
    let old_wrapped = wrapped_key_of(&before).await;
    let body_before = raw_object(&file_key(&before)).await;

    let latest = rotate_key();
    let after = upload_clean(&uploader, "after-rotation.txt", samples::text()).await;

    assert!(
        filestore::keys::wrapped_version(&old_wrapped).unwrap() < latest,
        "{old_wrapped}"
    );
    assert_eq!(
        filestore::keys::wrapped_version(&wrapped_key_of(&after).await),
        Some(latest)
    );
    for file_id in [&before, &after] {
        let response = uploader.download(file_id, None).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.bytes().await.unwrap().to_vec(), samples::text());
    }

    let rewrap = Command::new(repo_root().join("target/debug/rewrap"))
        .output()
        .expect("target/debug/rewrap runs");
    let report = String::from_utf8_lossy(&rewrap.stdout);
    assert!(
        rewrap.status.success(),
        "rewrap failed: {report}{}",
        String::from_utf8_lossy(&rewrap.stderr)
    );
    assert!(
        report.contains(&format!("{}: v", file_key(&before))),
        "{report}"
    );

    let new_wrapped = wrapped_key_of(&before).await;
    assert_ne!(new_wrapped, old_wrapped);
    assert!(filestore::keys::wrapped_version(&new_wrapped).unwrap() >= latest);
    assert_eq!(
        raw_object(&file_key(&before)).await,
        body_before,
        "body changed"
    );
    assert_eq!(read_back(&before).await.unwrap(), samples::text());
    let response = uploader.download(&before, None).await.unwrap();
    assert_eq!(response.bytes().await.unwrap().to_vec(), samples::text());
}

#[tokio::test]
async fn files_are_served_only_to_their_owner() {
    let owner = Uploader::new(stack());
    let file_id = upload_clean(&owner, "mine.txt", samples::text()).await;
    let token = filestore_e2e::client::mint_token(&stack().jwt_secret, "someone-else", 600);
    let stranger = Uploader::with_token(stack(), Some(token));

    let theirs = stranger.download(&file_id, None).await.unwrap();
    let unknown = owner
        .download("00000000-0000-0000-0000-000000000000", None)
        .await
        .unwrap();

    assert_eq!(theirs.status().as_u16(), 404);
    assert_eq!(unknown.status().as_u16(), 404);
}

/// Text of exactly `size` bytes whose every line is numbered, so a misplaced part shows.
fn numbered_text(size: usize) -> Vec<u8> {
    let mut text = Vec::with_capacity(size + 32);
    let mut line = 0u64;
    while text.len() < size {
        text.extend_from_slice(format!("line {line:09}\n").as_bytes());
        line += 1;
    }
    text.truncate(size);
    text
}

/// Uploads through presign and waits for scan's verdict, returning the status.
async fn upload_async(
    uploader: &Uploader,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> UploadStatus {
    let ticket = uploader
        .presign(name, content_type, bytes.len() as u64)
        .await
        .unwrap();
    let code = uploader.upload(&ticket, bytes).await.unwrap();
    assert!((200..300).contains(&code), "upload answered {code}");
    uploader
        .wait_for_verdict(&ticket.id, Duration::from_secs(120))
        .await
        .unwrap()
}

#[tokio::test]
async fn part_layouts_read_back_whole() {
    let uploader = Uploader::new(stack());
    // Around the size from which the copy is a multipart upload (1 MiB encrypted), and around
    // the part size (5 MiB encrypted): one request, one part, several parts with a short last.
    for size in [
        (1 << 20) - 70_000,
        (1 << 20) + 1,
        (5 << 20) - 2_000,
        (5 << 20) + 65_536,
        (11 << 20) + 3,
    ] {
        let bytes = numbered_text(size);
        let status = upload_async(&uploader, "layout.txt", "text/plain", bytes.clone()).await;
        assert_eq!(status.status, "clean", "size {size}: {status:?}");
        let verdict = status.verdict.expect("a verdict");
        let file_id = verdict.file_id.expect("a stored copy");
        let back = read_back(&file_id).await.unwrap();
        assert_eq!(back.len(), size, "size {size}");
        assert!(back == bytes, "size {size}: the stored copy differs");
    }
}

#[tokio::test]
async fn refused_large_files_leave_no_upload_behind() {
    let uploader = Uploader::new(stack());
    let mut infected = samples::eicar();
    infected.extend(numbered_text(3 << 20));
    let mut spoofed = samples::pdf("not text");
    spoofed.extend(numbered_text(2 << 20));
    for (name, content_type, bytes, expected) in [
        ("big-eicar.txt", "text/plain", infected, "infected"),
        ("big-spoofed.png", "image/png", spoofed, "spoofed"),
    ] {
        let status = upload_async(&uploader, name, content_type, bytes).await;
        assert_eq!(status.status, expected, "{name}: {status:?}");
        let verdict = status.verdict.expect("a verdict");
        assert_eq!(verdict.file_id, None, "{name} was stored");
    }
    let client = s3_client().await;
    let uploads = client
        .list_multipart_uploads()
        .bucket(store_bucket())
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty(), "{:?}", uploads.uploads());
}
