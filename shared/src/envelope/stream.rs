//! Push-style encryption and decryption of whole objects.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::OsRng;
use aes_gcm::aead::rand_core::RngCore;
use zeroize::Zeroizing;

use super::chunk::ChunkCipher;
use super::header::{DEFAULT_CHUNK_LOG2, MAX_HEADER_LEN, NONCE_PREFIX_LEN};
use super::{DataKey, EnvelopeError, Header, TAG_LEN};

/// Push-style encryptor of one object.
///
/// Memory stays bounded: it keeps at most one partial plaintext chunk, and the output of each
/// call contains only the header and the chunks completed by that call.
pub struct Encryptor {
    cipher: ChunkCipher,
    header: Header,
    header_written: bool,
    /// Plaintext of the chunk being filled, always shorter than the chunk size between calls.
    pending: Zeroizing<Vec<u8>>,
    next_chunk: u64,
}

impl Encryptor {
    /// Starts encrypting an object for `file_id` with a random nonce prefix and 64 KiB chunks.
    pub fn new(key: &DataKey, file_id: &str) -> Result<Self, EnvelopeError> {
        Self::with_chunk_log2(key, file_id, DEFAULT_CHUNK_LOG2)
    }

    /// Starts encrypting an object with chunks of `2^chunk_log2` bytes, which must be within
    /// [`super::MIN_CHUNK_LOG2`]`..=`[`super::MAX_CHUNK_LOG2`].
    pub fn with_chunk_log2(
        key: &DataKey,
        file_id: &str,
        chunk_log2: u8,
    ) -> Result<Self, EnvelopeError> {
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        OsRng
            .try_fill_bytes(&mut nonce_prefix)
            .map_err(|error| EnvelopeError::Random(error.to_string()))?;
        let header = Header::new(file_id, chunk_log2, nonce_prefix)?;
        Ok(Self {
            cipher: ChunkCipher::new(key.cipher(), &header),
            pending: Zeroizing::new(Vec::with_capacity(header.chunk_size())),
            header,
            header_written: false,
            next_chunk: 0,
        })
    }

    /// Header that this encryptor writes at the start of the object.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Encrypts `data`, appending to `out` the header (on the first call) and every chunk that
    /// became complete.
    ///
    /// Fails with [`EnvelopeError::TooLarge`] once the plaintext needs more than 2^32 chunks.
    pub fn update(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        self.write_header(out);
        let chunk_size = self.header.chunk_size();

        while !data.is_empty() {
            if self.pending.is_empty() && data.len() >= chunk_size {
                // A whole chunk is available in `data`, so it is sealed without buffering.
                let (chunk, rest) = data.split_at(chunk_size);
                seal_chunk(&self.cipher, &mut self.next_chunk, chunk, false, out)?;
                data = rest;
                continue;
            }

            let copied_len = (chunk_size - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..copied_len]);
            data = &data[copied_len..];
            // A full chunk is never the final one, because the final chunk is always shorter.
            if self.pending.len() == chunk_size {
                seal_chunk(
                    &self.cipher,
                    &mut self.next_chunk,
                    &self.pending,
                    false,
                    out,
                )?;
                self.pending.clear();
            }
        }
        Ok(())
    }

    /// Seals the final chunk, which contains the buffered plaintext and may be empty, and appends
    /// it to `out`, after the header if [`Encryptor::update`] was never called.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        self.write_header(out);
        seal_chunk(&self.cipher, &mut self.next_chunk, &self.pending, true, out)
    }

    fn write_header(&mut self, out: &mut Vec<u8>) {
        if !self.header_written {
            out.extend_from_slice(self.header.encoded());
            self.header_written = true;
        }
    }
}

fn seal_chunk(
    cipher: &ChunkCipher,
    next_chunk: &mut u64,
    plaintext: &[u8],
    last: bool,
    out: &mut Vec<u8>,
) -> Result<(), EnvelopeError> {
    let start = out.len();
    out.reserve(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    cipher.seal(*next_chunk, last, out, start)?;
    *next_chunk += 1;
    Ok(())
}

/// Push-style decryptor of a whole object, header first.
///
/// Memory stays bounded: it keeps at most a partial header or one partial sealed chunk. After
/// an error every later call returns the same error, so no chunk after a failed one is released.
pub struct Decryptor {
    expected_file_id: String,
    stage: Stage,
}

enum Stage {
    /// Collecting the header. The cipher waits for the nonce prefix in it.
    Header {
        aead: Aes256Gcm,
        buf: Vec<u8>,
    },
    Body(BodyState),
    Failed(EnvelopeError),
}

struct BodyState {
    header: Header,
    cipher: ChunkCipher,
    sealed_chunk_len: usize,
    /// Bytes of the sealed chunk being filled, always shorter than a full sealed chunk between
    /// calls.
    pending: Vec<u8>,
    next_chunk: u64,
}

impl Decryptor {
    /// Starts decrypting an object whose header must name `expected_file_id`.
    pub fn new(key: &DataKey, expected_file_id: &str) -> Self {
        Self {
            expected_file_id: expected_file_id.to_owned(),
            stage: Stage::Header {
                aead: key.cipher(),
                buf: Vec::new(),
            },
        }
    }

    /// Header of the object, once [`Decryptor::update`] has received all of it.
    pub fn header(&self) -> Option<&Header> {
        match &self.stage {
            Stage::Body(body) => Some(&body.header),
            Stage::Header { .. } | Stage::Failed(_) => None,
        }
    }

    /// Decrypts the next bytes of the object, appending to `out` the plaintext of every chunk
    /// that is complete and authenticated.
    ///
    /// A full sealed chunk is opened as soon as it arrives, because only the final chunk is
    /// sealed with the last flag and it is always shorter. Truncation after a full chunk is
    /// therefore only detected by [`Decryptor::finish`].
    pub fn update(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        let result = self.try_update(data, out);
        if let Err(error) = &result {
            self.stage = Stage::Failed(error.clone());
        }
        result
    }

    /// Opens the final chunk and appends its plaintext to `out`.
    ///
    /// Fails with [`EnvelopeError::Truncated`] when the object ended within the header, at a
    /// chunk boundary or less than a tag after one, and with [`EnvelopeError::Tampered`] when
    /// the remaining bytes are not the authentic final chunk. Trailing bytes after the final
    /// chunk also fail as [`EnvelopeError::Tampered`], because the decryptor cannot tell them
    /// from part of the final chunk.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        match self.stage {
            Stage::Header { .. } => Err(EnvelopeError::Truncated),
            Stage::Failed(error) => Err(error),
            Stage::Body(body) => {
                if body.pending.len() < TAG_LEN {
                    return Err(EnvelopeError::Truncated);
                }
                let start = out.len();
                out.extend_from_slice(&body.pending);
                body.cipher.open(body.next_chunk, true, out, start)
            }
        }
    }

    fn try_update(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        if let Stage::Header { aead, buf } = &mut self.stage {
            // Copy no more than a maximum-size header, so a large first call is not buffered.
            let copied = (MAX_HEADER_LEN - buf.len()).min(data.len());
            buf.extend_from_slice(&data[..copied]);
            data = &data[copied..];
            let Some((header, header_len)) = Header::parse(buf)? else {
                return Ok(());
            };
            if header.file_id() != self.expected_file_id {
                return Err(EnvelopeError::WrongFile {
                    expected: self.expected_file_id.clone(),
                    found: header.file_id().to_owned(),
                });
            }

            let mut body = BodyState {
                cipher: ChunkCipher::new(aead.clone(), &header),
                sealed_chunk_len: header.chunk_size() + TAG_LEN,
                pending: Vec::with_capacity(header.chunk_size() + TAG_LEN),
                next_chunk: 0,
                header,
            };
            let body_start = buf.split_off(header_len);
            body.push(&body_start, out)?;
            self.stage = Stage::Body(body);
        }

        match &mut self.stage {
            Stage::Body(body) => body.push(data, out),
            Stage::Failed(error) => Err(error.clone()),
            Stage::Header { .. } => unreachable!("the header stage ends above"),
        }
    }
}

impl BodyState {
    /// Buffers sealed bytes and opens every full sealed chunk as a non-final chunk.
    fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        while !data.is_empty() {
            if self.pending.is_empty() && data.len() >= self.sealed_chunk_len {
                let (sealed, rest) = data.split_at(self.sealed_chunk_len);
                self.open_full(sealed, out)?;
                data = rest;
                continue;
            }

            let copied_len = (self.sealed_chunk_len - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..copied_len]);
            data = &data[copied_len..];
            if self.pending.len() == self.sealed_chunk_len {
                let sealed = std::mem::take(&mut self.pending);
                self.open_full(&sealed, out)?;
                self.pending = sealed;
                self.pending.clear();
            }
        }
        Ok(())
    }

    fn open_full(&mut self, sealed: &[u8], out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        let start = out.len();
        out.extend_from_slice(sealed);
        self.cipher.open(self.next_chunk, false, out, start)?;
        self.next_chunk += 1;
        Ok(())
    }
}
