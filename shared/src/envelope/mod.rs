//! Streaming authenticated encryption of stored objects, format version 1.
//!
//! An object is encrypted with its own 32-byte [`DataKey`] in chunks, so that [`Encryptor`] and
//! [`Decryptor`] work in bounded memory and [`plan_range`] with [`RangeDecryptor`] can serve an
//! HTTP range by fetching and opening only the chunks that contain it.
//!
//! # Format
//!
//! An encrypted object is a header followed by a body of sealed chunks. All integers are
//! big-endian.
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `FSE1` |
//! | 4 | 1 | format version, 1 |
//! | 5 | 1 | algorithm, 1: AES-256-GCM in the STREAM construction with a 32-bit big-endian counter and a last-chunk flag |
//! | 6 | 1 | base-2 logarithm of the plaintext chunk size: 16 (64 KiB) when writing, 12 to 24 accepted when reading |
//! | 7 | 1 | reserved, 0 |
//! | 8 | 7 | nonce prefix, random for each object |
//! | 15 | 2 | length of the file id in bytes, 1 to 256 |
//! | 17 | n | file id, UTF-8 |
//!
//! The body is the plaintext split into chunks of `chunk_size` bytes. The final chunk is always
//! shorter than `chunk_size`, so when the plaintext length is a multiple of `chunk_size`,
//! including 0, an empty final chunk follows. Chunk `i` is sealed as `ciphertext || 16-byte tag`
//! with the 12-byte GCM nonce `nonce prefix || i as u32 || last`, where `last` is 1 for the final
//! chunk and 0 for every other. The associated data of every chunk is the whole encoded header.
//! The body of a plaintext of `n` bytes is therefore `n + 16 * (n / chunk_size + 1)` bytes long
//! (see [`sealed_len`] and [`plain_len`]).
//!
//! # What the format protects
//!
//! - A changed byte anywhere in the header or the body fails authentication, because the header
//!   is the associated data of every chunk. A few header fields are also checked by
//!   [`Header::parse`] before any chunk is opened.
//! - Dropped, reordered or duplicated chunks fail, because the chunk index is in the nonce.
//! - Truncation at a chunk boundary fails, because the final chunk is the only one sealed with
//!   the last flag and it is always shorter than a full chunk.
//! - The file id is authenticated but not encrypted. Anyone who can read the object can read it.
//!
//! Decryptors release a chunk's plaintext only after its tag checks. A streaming reader may still
//! have released the earlier chunks of an object when a later chunk fails, so callers must
//! discard the output on any error.
//!
//! NOTE: the nonce prefix is 56 random bits, so a [`DataKey`] must encrypt only one object (or a
//! few). Two objects under the same key collide on the prefix with probability about
//! `objects² / 2^57`, and a collision reuses GCM nonces.

mod chunk;
mod header;
mod range;
mod stream;

#[cfg(test)]
mod tests;

use aes_gcm::{Aes256Gcm, Key, KeyInit};
use zeroize::Zeroizing;

pub use header::{
    DEFAULT_CHUNK_LOG2, Header, MAX_CHUNK_LOG2, MAX_FILE_ID_LEN, MAX_HEADER_LEN, MIN_CHUNK_LOG2,
    NONCE_PREFIX_LEN,
};
pub use range::{RangeDecryptor, RangePlan, plan_range};
pub use stream::{Decryptor, Encryptor};

/// Length of the GCM tag at the end of every sealed chunk, in bytes.
pub const TAG_LEN: usize = 16;

/// Length of a [`DataKey`] in bytes.
pub const KEY_LEN: usize = 32;

/// AES-256 data key of one object. The bytes are wiped from memory on drop and never printed.
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl DataKey {
    /// Copies a key from `bytes`, which must be exactly [`KEY_LEN`] bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let array: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| EnvelopeError::InvalidKey { len: bytes.len() })?;
        Ok(Self(Zeroizing::new(array)))
    }

    /// Builds the AES-256-GCM cipher for this key.
    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.0.as_slice()))
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// Error from encrypting, decrypting or planning a range of an encrypted object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The object does not start with the magic bytes `FSE1`.
    #[error(
        "the object is not encrypted in the Filestore envelope format: it does not start with \"FSE1\""
    )]
    NotEncrypted,
    /// The header has a format version other than 1.
    #[error("unsupported envelope format version {0}: this build reads version 1 only")]
    UnsupportedVersion(u8),
    /// The header names an algorithm other than 1.
    #[error(
        "unsupported envelope algorithm {0}: this build reads algorithm 1 (AES-256-GCM STREAM) only"
    )]
    UnsupportedAlgorithm(u8),
    /// A header field is out of range, or a file id given to the encryptor is invalid.
    #[error("invalid envelope header: {0}")]
    BadHeader(&'static str),
    /// The header belongs to another file than the caller expected.
    #[error("the encrypted object belongs to file id {found:?}, not to the expected {expected:?}")]
    WrongFile { expected: String, found: String },
    /// The object ends before its final chunk or in the middle of its header.
    #[error("the encrypted object is truncated: it ends before its final chunk")]
    Truncated,
    /// A chunk's tag did not match its content, position, header or key.
    #[error(
        "chunk {chunk} failed authentication: the object was altered or damaged, or the data key is wrong"
    )]
    Tampered { chunk: u32 },
    /// More bytes arrived after the last byte of the requested range.
    #[error("unexpected bytes after the final chunk of the requested range")]
    TrailingData,
    /// The data key does not have [`KEY_LEN`] bytes.
    #[error("invalid data key: AES-256 needs 32 bytes, got {len}")]
    InvalidKey { len: usize },
    /// The object needs more chunks than the 32-bit chunk counter allows.
    #[error("the object is too large: the envelope format allows at most 2^32 chunks")]
    TooLarge,
    /// The requested plaintext range is empty or lies past the end of the plaintext.
    #[error("range {start}-{end_inclusive} is not satisfiable for a plaintext of {len} bytes")]
    InvalidRange {
        start: u64,
        end_inclusive: u64,
        len: u64,
    },
    /// The operating system's random number generator failed to produce a nonce prefix.
    #[error("failed to read a random nonce prefix from the operating system: {0}")]
    Random(String),
}

/// Returns the length of the sealed body for `plain_len` plaintext bytes, without the header.
///
/// Saturates at `u64::MAX`. Panics if `chunk_size` is 0.
pub fn sealed_len(plain_len: u64, chunk_size: usize) -> u64 {
    let chunks = plain_len / chunk_size as u64 + 1;
    plain_len.saturating_add(chunks.saturating_mul(TAG_LEN as u64))
}

/// Returns the plaintext length of a sealed body of `body_len` bytes, without the header.
///
/// Fails with [`EnvelopeError::Truncated`] when `body_len` cannot be the length of a body, and
/// with [`EnvelopeError::TooLarge`] when the body would need more than 2^32 chunks. Panics if
/// `chunk_size` is 0.
pub fn plain_len(body_len: u64, chunk_size: usize) -> Result<u64, EnvelopeError> {
    let sealed_chunk = chunk_size as u64 + TAG_LEN as u64;
    let final_chunk_index = body_len / sealed_chunk;
    if body_len % sealed_chunk < TAG_LEN as u64 {
        return Err(EnvelopeError::Truncated);
    }
    if final_chunk_index > u64::from(u32::MAX) {
        return Err(EnvelopeError::TooLarge);
    }
    Ok(body_len - (final_chunk_index + 1) * TAG_LEN as u64)
}
