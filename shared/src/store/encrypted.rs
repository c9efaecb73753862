//! The encrypted file store: clean files, each encrypted with its own data key.
//!
//! A stored file is one object at `files/<file id>` whose body is the [`crate::envelope`] format
//! and whose metadata carries the wrapped data key. Writing streams: the body is encrypted as it
//! arrives and sent as multipart parts once it outgrows one part, so memory stays at about two
//! parts whatever the size. Nothing becomes visible until [`Pending::commit`]: the caller commits
//! only after a clean verdict and aborts otherwise.
//!
//! Reading checks every chunk before releasing its plaintext, and can start at any chunk, which
//! serves HTTP range requests without reading the whole object.

use std::collections::HashMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use tokio::task::JoinHandle;

use super::{Location, Store, StoreError, request_error};
use crate::envelope::{
    DataKey, Decryptor, Encryptor, EnvelopeError, Header, RangeDecryptor, plan_range,
};
use crate::keys::{KeyError, KeyService, NewKey};

/// Metadata key (`x-amz-meta-…`) holding the wrapped data key.
pub const META_WRAPPED_KEY: &str = "filestore-wrapped-key";
/// Metadata key holding the original file name.
pub const META_FILE_NAME: &str = "filestore-file-name";
/// Metadata key holding the verdict that let the file in; always `clean`.
pub const META_VERDICT: &str = "filestore-verdict";
/// Size of the multipart parts, in encrypted bytes: the smallest S3 allows, since two parts
/// per file are held in memory (one filling, one on the wire).
pub const PART_SIZE: usize = 5 << 20;
/// Plaintext bytes encrypted at a time, so that a part buffer passes `PART_SIZE` by at most
/// one piece and its overhead.
const PIECE: usize = 64 << 10;
/// Room a part buffer has beyond `PART_SIZE`: one piece, its tag and the header, rounded up.
const PART_SLACK: usize = 2 * PIECE;
/// Files of at least this many encrypted bytes are uploaded as multipart uploads, which can be
/// sent before the verdict is known, so that only the completion waits for it. Smaller files
/// are kept in memory and sent in one request on commit.
const MULTIPART_FROM: usize = 1 << 20;
/// Largest header the format allows: fixed fields plus a 256-byte file id.
const MAX_HEADER_LEN: u64 = 4 + 4 + 7 + 2 + 256;

/// Returns the key of a stored file.
pub fn file_key(file_id: &str) -> String {
    format!("files/{file_id}")
}

/// Failure to store or read an encrypted file.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("{0}")]
    Envelope(#[from] EnvelopeError),
    #[error("stored file {0} has no wrapped data key")]
    NoKey(String),
    #[error("stored file {0} was not marked clean")]
    NotClean(String),
}

/// Description of a file as it is written.
#[derive(Debug, Clone)]
pub struct FileInfo {
    pub file_id: String,
    pub file_name: String,
    pub content_type: String,
}

struct Multipart {
    upload_id: String,
    parts: Vec<CompletedPart>,
    in_flight: Option<JoinHandle<Result<CompletedPart, StoreError>>>,
}

/// Encrypts a file as it streams in and uploads it to the store bucket.
pub struct EncryptedWriter {
    client: Client,
    bucket: String,
    key: String,
    info: FileInfo,
    wrapped_key: String,
    encryptor: Encryptor,
    buffer: Vec<u8>,
    multipart: Option<Multipart>,
    plain_bytes: u64,
}

impl EncryptedWriter {
    /// Starts writing `info.file_id` into `bucket` with a fresh data key.
    pub fn new(
        store: &Store,
        bucket: &str,
        info: FileInfo,
        key: NewKey,
    ) -> Result<Self, SealError> {
        let encryptor = Encryptor::new(&key.key, &info.file_id)?;
        Ok(Self {
            client: store.client().clone(),
            bucket: bucket.to_string(),
            key: file_key(&info.file_id),
            wrapped_key: key.wrapped,
            info,
            encryptor,
            buffer: Vec::with_capacity(64 << 10),
            multipart: None,
            plain_bytes: 0,
        })
    }

    /// Sizes the first buffer for a file of about `plain_bytes` bytes, so it is allocated once
    /// instead of grown step by step.
    pub fn expect_size(&mut self, plain_bytes: u64) {
        let capacity = usize::try_from(plain_bytes)
            .unwrap_or(usize::MAX)
            .saturating_add(plain_bytes as usize / 1024 + 1024)
            .min(PART_SIZE + PART_SLACK);
        self.buffer
            .reserve(capacity.saturating_sub(self.buffer.len()));
    }

    /// Plaintext bytes received so far.
    pub fn plain_bytes(&self) -> u64 {
        self.plain_bytes
    }

    /// Encrypts `data` and uploads every part that filled up.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), SealError> {
        self.plain_bytes += data.len() as u64;
        for piece in data.chunks(PIECE) {
            self.encryptor.update(piece, &mut self.buffer)?;
            if self.buffer.len() >= PART_SIZE {
                // Each part buffer is allocated once at its full size. The bytes past the part
                // move to a new buffer, so no buffer is split and grown again.
                let mut next = Vec::with_capacity(PART_SIZE + PART_SLACK);
                next.extend_from_slice(&self.buffer[PART_SIZE..]);
                self.buffer.truncate(PART_SIZE);
                let part = std::mem::replace(&mut self.buffer, next);
                self.send_part(part).await?;
            }
        }
        Ok(())
    }

    /// Seals the last chunk and uploads every byte except what a single-object write keeps
    /// for [`Pending::commit`]. The file is still invisible. On failure the upload is
    /// discarded.
    pub async fn finish(mut self) -> Result<Pending, SealError> {
        match self.send_rest().await {
            Ok(()) => Ok(Pending { writer: self }),
            Err(e) => {
                self.abort_upload().await;
                Err(e)
            }
        }
    }

    async fn send_rest(&mut self) -> Result<(), SealError> {
        let encryptor = std::mem::replace(&mut self.encryptor, placeholder_encryptor()?);
        encryptor.finish(&mut self.buffer)?;
        let multipart = self.multipart.is_some() || self.buffer.len() >= MULTIPART_FROM;
        if multipart && !self.buffer.is_empty() {
            let last = std::mem::take(&mut self.buffer);
            self.send_part(last).await?;
        }
        if let Some(multipart) = self.multipart.as_mut()
            && let Some(task) = multipart.in_flight.take()
        {
            multipart.parts.push(join(task).await?);
        }
        Ok(())
    }

    /// Discards everything uploaded so far.
    pub async fn abort(mut self) {
        self.abort_upload().await;
    }

    async fn abort_upload(&mut self) {
        let Some(mut multipart) = self.multipart.take() else {
            return;
        };
        if let Some(task) = multipart.in_flight.take() {
            let _ = join(task).await;
        }
        let result = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&multipart.upload_id)
            .send()
            .await;
        if let Err(e) = result {
            tracing::warn!(key = %self.key, error = %e, "abandoned multipart upload was not aborted; a lifecycle rule removes it");
        }
    }

    fn location(&self) -> Location<'_> {
        Location {
            bucket: &self.bucket,
            key: &self.key,
            version_id: None,
        }
    }

    fn metadata(&self) -> HashMap<String, String> {
        HashMap::from([
            (META_WRAPPED_KEY.to_string(), self.wrapped_key.clone()),
            (META_FILE_NAME.to_string(), ascii_only(&self.info.file_name)),
            (META_VERDICT.to_string(), "clean".to_string()),
        ])
    }

    /// Uploads one part in the background after the previous one has finished, so reading and
    /// encrypting go on while a part is on the wire.
    async fn send_part(&mut self, part: Vec<u8>) -> Result<(), SealError> {
        if self.multipart.is_none() {
            let output = self
                .client
                .create_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .content_type(&self.info.content_type)
                .set_metadata(Some(self.metadata()))
                .send()
                .await
                .map_err(|e| request_error("CreateMultipartUpload", self.location(), e))?;
            let upload_id = output.upload_id.ok_or_else(|| StoreError::Request {
                operation: "CreateMultipartUpload",
                bucket: self.bucket.clone(),
                key: self.key.clone(),
                message: "response has no upload id".into(),
            })?;
            self.multipart = Some(Multipart {
                upload_id,
                parts: Vec::new(),
                in_flight: None,
            });
        }
        let multipart = self.multipart.as_mut().expect("created above");
        if let Some(task) = multipart.in_flight.take() {
            multipart.parts.push(join(task).await?);
        }
        let number = i32::try_from(multipart.parts.len() + 1).unwrap_or(i32::MAX);
        let request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&multipart.upload_id)
            .part_number(number)
            .content_length(part.len() as i64)
            .body(ByteStream::from(part));
        let (bucket, key) = (self.bucket.clone(), self.key.clone());
        multipart.in_flight = Some(tokio::spawn(async move {
            let at = Location {
                bucket: &bucket,
                key: &key,
                version_id: None,
            };
            let output = request
                .send()
                .await
                .map_err(|e| request_error("UploadPart", at, e))?;
            Ok(CompletedPart::builder()
                .part_number(number)
                .set_e_tag(output.e_tag)
                .build())
        }));
        Ok(())
    }
}

/// A fully uploaded file that is not visible yet.
pub struct Pending {
    writer: EncryptedWriter,
}

/// Location of a committed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub bucket: String,
    pub key: String,
    pub file_id: String,
    pub plain_bytes: u64,
}

impl Pending {
    /// Id of the file this upload makes visible.
    pub fn file_id(&self) -> &str {
        &self.writer.info.file_id
    }

    /// Makes the file visible under its key.
    pub async fn commit(mut self) -> Result<StoredFile, SealError> {
        let writer = &mut self.writer;
        if let Some(multipart) = writer.multipart.take() {
            let upload = CompletedMultipartUpload::builder()
                .set_parts(Some(multipart.parts))
                .build();
            let result = writer
                .client
                .complete_multipart_upload()
                .bucket(&writer.bucket)
                .key(&writer.key)
                .upload_id(&multipart.upload_id)
                .multipart_upload(upload)
                .send()
                .await;
            if let Err(e) = result {
                let error = request_error("CompleteMultipartUpload", writer.location(), e);
                writer.multipart = Some(Multipart {
                    upload_id: multipart.upload_id,
                    parts: Vec::new(),
                    in_flight: None,
                });
                writer.abort_upload().await;
                return Err(error.into());
            }
        } else {
            let body = std::mem::take(&mut writer.buffer);
            writer
                .client
                .put_object()
                .bucket(&writer.bucket)
                .key(&writer.key)
                .content_type(&writer.info.content_type)
                .set_metadata(Some(writer.metadata()))
                .content_length(body.len() as i64)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| request_error("PutObject", writer.location(), e))?;
        }
        Ok(StoredFile {
            bucket: writer.bucket.clone(),
            key: writer.key.clone(),
            file_id: writer.info.file_id.clone(),
            plain_bytes: writer.plain_bytes,
        })
    }

    /// Discards the file.
    pub async fn abort(self) {
        self.writer.abort().await;
    }
}

async fn join(
    task: JoinHandle<Result<CompletedPart, StoreError>>,
) -> Result<CompletedPart, StoreError> {
    task.await.unwrap_or_else(|e| {
        Err(StoreError::Request {
            operation: "UploadPart",
            bucket: String::new(),
            key: String::new(),
            message: format!("upload task failed: {e}"),
        })
    })
}

/// Returns an unused encryptor that takes the place of the real one after `finish`.
fn placeholder_encryptor() -> Result<Encryptor, EnvelopeError> {
    let key = DataKey::from_slice(&[0u8; 32])?;
    Encryptor::new(&key, "-")
}

/// S3 metadata values must be ASCII; other characters become `_`.
fn ascii_only(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A stored file opened for reading.
pub struct OpenedFile {
    pub file_id: String,
    pub file_name: Option<String>,
    pub content_type: String,
    /// Plaintext length of the whole file.
    pub size: u64,
    /// Wrapped data key as stored.
    pub wrapped_key: String,
    header: Header,
    object_len: u64,
    key: DataKey,
    bucket: String,
}

/// Opens a stored file: reads its metadata and header, and unwraps its data key with Vault.
/// Returns `None` when no such file exists.
pub async fn open(
    store: &Store,
    keys: &KeyService,
    bucket: &str,
    file_id: &str,
) -> Result<Option<OpenedFile>, SealError> {
    let key = file_key(file_id);
    let at = Location {
        bucket,
        key: &key,
        version_id: None,
    };
    let head = match store
        .client()
        .head_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await
    {
        Ok(head) => head,
        Err(e) if super::is_not_found(&e) => return Ok(None),
        Err(e) => return Err(request_error("HeadObject", at, e).into()),
    };
    let metadata = head.metadata.clone().unwrap_or_default();
    if metadata.get(META_VERDICT).map(String::as_str) != Some("clean") {
        return Err(SealError::NotClean(file_id.to_string()));
    }
    let wrapped_key = metadata
        .get(META_WRAPPED_KEY)
        .cloned()
        .ok_or_else(|| SealError::NoKey(file_id.to_string()))?;
    let object_len = head.content_length.unwrap_or_default().max(0) as u64;
    let first = get_range(store, at, 0, MAX_HEADER_LEN.min(object_len.max(1)) - 1).await?;
    let (header, header_len) = Header::parse(&first)?.ok_or(EnvelopeError::Truncated)?;
    if header.file_id() != file_id {
        return Err(EnvelopeError::WrongFile {
            expected: file_id.to_string(),
            found: header.file_id().to_string(),
        }
        .into());
    }
    let size = crate::envelope::plain_len(object_len - header_len as u64, header.chunk_size())?;
    let data_key = keys.unwrap(&wrapped_key).await?;
    Ok(Some(OpenedFile {
        file_id: file_id.to_string(),
        file_name: metadata.get(META_FILE_NAME).cloned(),
        content_type: head
            .content_type
            .unwrap_or_else(|| "application/octet-stream".into()),
        size,
        wrapped_key,
        header,
        object_len,
        key: data_key,
        bucket: bucket.to_string(),
    }))
}

async fn get_range(
    store: &Store,
    at: Location<'_>,
    start: u64,
    end_inclusive: u64,
) -> Result<Bytes, SealError> {
    let output = store
        .client()
        .get_object()
        .bucket(at.bucket)
        .key(at.key)
        .range(format!("bytes={start}-{end_inclusive}"))
        .send()
        .await
        .map_err(|e| request_error("GetObject", at, e))?;
    let body = output
        .body
        .collect()
        .await
        .map_err(|source| StoreError::Body {
            bucket: at.bucket.to_string(),
            key: at.key.to_string(),
            source,
        })?;
    Ok(body.into_bytes())
}

/// Plaintext of a stored file, chunk by chunk. Every chunk is authenticated before it is
/// released, so a damaged object ends the stream with an error instead of wrong bytes.
pub struct PlainStream {
    body: ByteStream,
    state: Option<Decoding>,
    bucket: String,
    key: String,
}

enum Decoding {
    Whole(Decryptor),
    Range(RangeDecryptor),
}

impl PlainStream {
    /// Returns the next plaintext piece, or `None` at the end.
    pub async fn next(&mut self) -> Option<Result<Bytes, SealError>> {
        loop {
            let state = self.state.as_mut()?;
            let mut out = Vec::new();
            match self.body.next().await {
                Some(Ok(data)) => {
                    let result = match state {
                        Decoding::Whole(d) => d.update(&data, &mut out),
                        Decoding::Range(d) => d.update(&data, &mut out),
                    };
                    if let Err(e) = result {
                        self.state = None;
                        return Some(Err(e.into()));
                    }
                }
                Some(Err(source)) => {
                    self.state = None;
                    return Some(Err(StoreError::Body {
                        bucket: self.bucket.clone(),
                        key: self.key.clone(),
                        source,
                    }
                    .into()));
                }
                None => {
                    let result = match self.state.take()? {
                        Decoding::Whole(d) => d.finish(&mut out),
                        Decoding::Range(d) => d.finish(&mut out),
                    };
                    if let Err(e) = result {
                        return Some(Err(e.into()));
                    }
                }
            }
            if !out.is_empty() {
                return Some(Ok(Bytes::from(out)));
            }
        }
    }

    /// Reads everything into memory; for tests and small files.
    pub async fn read_to_end(mut self) -> Result<Vec<u8>, SealError> {
        let mut all = Vec::new();
        while let Some(piece) = self.next().await {
            all.extend_from_slice(&piece?);
        }
        Ok(all)
    }
}

impl OpenedFile {
    /// Streams the whole plaintext.
    pub async fn read(&self, store: &Store) -> Result<PlainStream, SealError> {
        let decoding = Decoding::Whole(Decryptor::new(&self.key, &self.file_id));
        self.stream(store, None, decoding).await
    }

    /// Streams plaintext bytes `start..=end_inclusive`, fetching only the chunks that hold them.
    pub async fn read_range(
        &self,
        store: &Store,
        start: u64,
        end_inclusive: u64,
    ) -> Result<PlainStream, SealError> {
        let plan = plan_range(&self.header, self.object_len, start, end_inclusive)?;
        let range = format!("bytes={}-{}", plan.fetch_start, plan.fetch_end_inclusive);
        let decoding = Decoding::Range(RangeDecryptor::new(&self.key, &self.header, &plan));
        self.stream(store, Some(range), decoding).await
    }

    async fn stream(
        &self,
        store: &Store,
        range: Option<String>,
        decoding: Decoding,
    ) -> Result<PlainStream, SealError> {
        let key = file_key(&self.file_id);
        let at = Location {
            bucket: &self.bucket,
            key: &key,
            version_id: None,
        };
        let output = store
            .client()
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .set_range(range)
            .send()
            .await
            .map_err(|e| request_error("GetObject", at, e))?;
        Ok(PlainStream {
            body: output.body,
            state: Some(decoding),
            bucket: self.bucket.clone(),
            key,
        })
    }
}

/// Outcome of rewrapping one stored file's data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rewrapped {
    /// Already wrapped by the newest key version.
    Current,
    /// Wrapped again; the body was not read or written.
    Updated { from: Option<u64>, to: Option<u64> },
}

/// Wraps one stored file's data key under the newest transit key version. Only the metadata
/// changes: storage copies the object onto itself server-side, on the condition that it is
/// still the object whose key was read.
pub async fn rewrap(
    store: &Store,
    keys: &KeyService,
    bucket: &str,
    key: &str,
    latest: u64,
) -> Result<Rewrapped, SealError> {
    let at = Location {
        bucket,
        key,
        version_id: None,
    };
    let head = store
        .client()
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| request_error("HeadObject", at, e))?;
    let mut metadata = head.metadata.unwrap_or_default();
    let wrapped = metadata
        .get(META_WRAPPED_KEY)
        .cloned()
        .ok_or_else(|| SealError::NoKey(key.to_string()))?;
    let from = crate::keys::wrapped_version(&wrapped);
    if from == Some(latest) {
        return Ok(Rewrapped::Current);
    }
    let rewrapped = keys.rewrap(&wrapped).await?;
    let to = crate::keys::wrapped_version(&rewrapped);
    metadata.insert(META_WRAPPED_KEY.to_string(), rewrapped);
    let source = format!("{bucket}/{}", encode_copy_source(key));
    let mut copy = store
        .client()
        .copy_object()
        .bucket(bucket)
        .key(key)
        .copy_source(source)
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .set_metadata(Some(metadata))
        .set_content_type(head.content_type);
    if let Some(etag) = head.e_tag {
        copy = copy.copy_source_if_match(etag);
    }
    copy.send()
        .await
        .map_err(|e| request_error("CopyObject", at, e))?;
    Ok(Rewrapped::Updated { from, to })
}

/// Percent-encodes a key for `x-amz-copy-source`, keeping `/`.
fn encode_copy_source(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_values_are_ascii() {
        assert_eq!(ascii_only("résumé 2024.pdf"), "r_sum_ 2024.pdf");
        assert_eq!(ascii_only("a\nb"), "a_b");
    }

    #[test]
    fn copy_source_keeps_slashes_and_encodes_the_rest() {
        assert_eq!(encode_copy_source("files/a b+c"), "files/a%20b%2Bc");
    }

    #[test]
    fn file_keys_live_under_files() {
        assert_eq!(file_key("7f1c"), "files/7f1c");
    }
}
