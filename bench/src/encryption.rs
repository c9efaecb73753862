//! Encryption throughput against a plain copy of the same bytes, in memory and into MinIO.
//!
//! Usage: `encryption [size-in-MiB]` (default 256) with the local stack's environment. Prints a
//! markdown table. The object is random bytes made once. Every variant handles the same bytes
//! in 1 MiB pieces.
//!
//! - memory, plain: copying the pieces into one buffer (what a pass-through costs at least);
//! - memory, encrypted: the envelope format's encryptor over the pieces;
//! - MinIO, plain: a multipart upload of the bytes in parts of the store's `PART_SIZE`, one part
//!   in flight;
//! - MinIO, encrypted: the file store's writer (data key from OpenBao, encryption, same parts).

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use filestore::envelope::{DataKey, Encryptor};
use filestore::keys::{KeyService, VaultSettings};
use filestore::store::Store;
use filestore::store::encrypted::{EncryptedWriter, FileInfo, PART_SIZE};

const PIECE: usize = 1 << 20;

fn random_bytes(len: usize) -> Vec<u8> {
    // xorshift64*: fast, deterministic, and not compressible, which is all a benchmark needs.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn mib_per_s(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / took.as_secs_f64()
}

fn memory_plain(data: &[u8]) -> Duration {
    let started = Instant::now();
    let mut out = Vec::with_capacity(data.len());
    for piece in data.chunks(PIECE) {
        out.extend_from_slice(piece);
    }
    std::hint::black_box(&out);
    started.elapsed()
}

fn memory_encrypted(data: &[u8]) -> Duration {
    let key = DataKey::from_slice(&[7u8; 32]).expect("32 bytes");
    let started = Instant::now();
    let mut encryptor = Encryptor::new(&key, "bench").expect("encryptor");
    let mut out = Vec::with_capacity(data.len() + data.len() / 4096 + 1024);
    for piece in data.chunks(PIECE) {
        encryptor.update(piece, &mut out).expect("encrypts");
    }
    encryptor.finish(&mut out).expect("finishes");
    std::hint::black_box(&out);
    started.elapsed()
}

async fn minio_plain(store: &Store, bucket: &str, data: &[u8]) -> Duration {
    let client = store.client();
    let key = "bench/plain";
    let started = Instant::now();
    let upload_id = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("create")
        .upload_id
        .expect("upload id");
    let mut parts = Vec::new();
    let mut buffer = Vec::with_capacity(PART_SIZE);
    let mut in_flight: Option<tokio::task::JoinHandle<CompletedPart>> = None;
    let chunks: Vec<&[u8]> = data.chunks(PIECE).collect();
    for (index, piece) in chunks.iter().enumerate() {
        buffer.extend_from_slice(piece);
        let last = index + 1 == chunks.len();
        if buffer.len() >= PART_SIZE || last {
            if let Some(task) = in_flight.take() {
                parts.push(task.await.expect("part"));
            }
            let number = i32::try_from(parts.len() + 1).expect("few parts");
            let body = std::mem::replace(&mut buffer, Vec::with_capacity(PART_SIZE));
            let request = client
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .part_number(number)
                .body(ByteStream::from(body));
            in_flight = Some(tokio::spawn(async move {
                let output = request.send().await.expect("upload part");
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(output.e_tag)
                    .build()
            }));
        }
    }
    if let Some(task) = in_flight.take() {
        parts.push(task.await.expect("part"));
    }
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .expect("complete");
    started.elapsed()
}

async fn minio_encrypted(store: &Store, keys: &KeyService, bucket: &str, data: &[u8]) -> Duration {
    let started = Instant::now();
    let key = keys.data_key().await.expect("data key from OpenBao");
    let info = FileInfo {
        file_id: "bench-encrypted".into(),
        file_name: "bench.bin".into(),
        content_type: "application/octet-stream".into(),
    };
    let mut writer = EncryptedWriter::new(store, bucket, info, key).expect("writer");
    for piece in data.chunks(PIECE) {
        writer.write(piece).await.expect("write");
    }
    writer
        .finish()
        .await
        .expect("finish")
        .commit()
        .await
        .expect("commit");
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let size_mib: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("size in MiB"))
        .unwrap_or(256);
    let bucket = std::env::var("STORE_BUCKET").expect("STORE_BUCKET (source .stack/env)");
    let store = Store::from_env(true).await;
    let keys = KeyService::new(
        VaultSettings::from_env()
            .expect("valid Vault settings")
            .expect("VAULT_ADDR (source .stack/env)"),
    );
    let data = random_bytes(size_mib << 20);
    let bytes = data.len();

    // Each variant runs three times; the best run counts, as the least disturbed by the rest
    // of the machine.
    let best = |runs: Vec<Duration>| runs.into_iter().min().expect("three runs");
    let plain_memory = best((0..3).map(|_| memory_plain(&data)).collect());
    let encrypted_memory = best((0..3).map(|_| memory_encrypted(&data)).collect());
    let mut plain_minio = Vec::new();
    let mut encrypted_minio = Vec::new();
    for _ in 0..3 {
        plain_minio.push(minio_plain(&store, &bucket, &data).await);
        encrypted_minio.push(minio_encrypted(&store, &keys, &bucket, &data).await);
    }
    let plain_minio = best(plain_minio);
    let encrypted_minio = best(encrypted_minio);

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("| Path | Plain MiB/s | Encrypted MiB/s | Encrypted / plain |");
    println!("|---|---:|---:|---:|");
    for (name, plain, encrypted) in [
        ("memory (one core)", plain_memory, encrypted_memory),
        ("into MinIO, multipart", plain_minio, encrypted_minio),
    ] {
        let (p, e) = (mib_per_s(bytes, plain), mib_per_s(bytes, encrypted));
        println!("| {name} | {p:.0} | {e:.0} | {:.2} |", e / p);
    }
    println!();
    println!("{size_mib} MiB of random bytes in 1 MiB pieces, best of 3 runs, {cores} cores.");
}
