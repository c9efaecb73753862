//! Encoding and parsing of the envelope header.

use super::EnvelopeError;

const MAGIC: [u8; 4] = *b"FSE1";
const FORMAT_VERSION: u8 = 1;
/// AES-256-GCM in the STREAM construction with a 32-bit big-endian counter and last-chunk flag.
const ALGORITHM_AES256GCM_STREAM_BE32: u8 = 1;

/// Base-2 logarithm of the plaintext chunk size that [`super::Encryptor::new`] writes (64 KiB).
pub const DEFAULT_CHUNK_LOG2: u8 = 16;
/// Smallest base-2 logarithm of the chunk size accepted in a header (4 KiB).
pub const MIN_CHUNK_LOG2: u8 = 12;
/// Largest base-2 logarithm of the chunk size accepted in a header (16 MiB).
pub const MAX_CHUNK_LOG2: u8 = 24;
/// Length of the random nonce prefix in bytes. The STREAM counter and flag fill the other 5
/// bytes of the 12-byte GCM nonce.
pub const NONCE_PREFIX_LEN: usize = 7;
/// Maximum length of a file id in bytes.
pub const MAX_FILE_ID_LEN: usize = 256;

/// Length of the header fields before the file id: magic, version, algorithm, chunk size,
/// reserved byte, nonce prefix and file id length.
const FIXED_LEN: usize = 4 + 1 + 1 + 1 + 1 + NONCE_PREFIX_LEN + 2;
const FILE_ID_LEN_OFFSET: usize = FIXED_LEN - 2;

/// Maximum length of an encoded header in bytes. Fetching this many bytes from the start of an
/// object is always enough for [`Header::parse`].
pub const MAX_HEADER_LEN: usize = FIXED_LEN + MAX_FILE_ID_LEN;

/// Header of an encrypted object.
///
/// The fields are private because the encoded header is the associated data of every chunk and
/// must stay equal to the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    file_id: String,
    chunk_log2: u8,
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
    encoded: Vec<u8>,
}

impl Header {
    /// Builds and encodes a version 1 header.
    ///
    /// Fails with [`EnvelopeError::BadHeader`] when the file id is empty or longer than
    /// [`MAX_FILE_ID_LEN`] bytes, or `chunk_log2` is outside
    /// [`MIN_CHUNK_LOG2`]`..=`[`MAX_CHUNK_LOG2`].
    pub(super) fn new(
        file_id: &str,
        chunk_log2: u8,
        nonce_prefix: [u8; NONCE_PREFIX_LEN],
    ) -> Result<Self, EnvelopeError> {
        check_chunk_log2(chunk_log2)?;
        let id_len = check_file_id_len(file_id.len())?;

        let mut encoded = Vec::with_capacity(FIXED_LEN + file_id.len());
        encoded.extend_from_slice(&MAGIC);
        encoded.push(FORMAT_VERSION);
        encoded.push(ALGORITHM_AES256GCM_STREAM_BE32);
        encoded.push(chunk_log2);
        encoded.push(0);
        encoded.extend_from_slice(&nonce_prefix);
        encoded.extend_from_slice(&id_len.to_be_bytes());
        encoded.extend_from_slice(file_id.as_bytes());

        Ok(Self {
            file_id: file_id.to_owned(),
            chunk_log2,
            nonce_prefix,
            encoded,
        })
    }

    /// Parses a header from the start of `bytes`.
    ///
    /// Returns the header and its encoded length, or `Ok(None)` when `bytes` ends before the
    /// header does. Each field is checked as soon as its bytes are present, so a non-envelope
    /// object fails with [`EnvelopeError::NotEncrypted`] after its first byte.
    pub fn parse(bytes: &[u8]) -> Result<Option<(Header, usize)>, EnvelopeError> {
        let magic_present = bytes.len().min(MAGIC.len());
        if bytes[..magic_present] != MAGIC[..magic_present] {
            return Err(EnvelopeError::NotEncrypted);
        }
        if let Some(&version) = bytes.get(4)
            && version != FORMAT_VERSION
        {
            return Err(EnvelopeError::UnsupportedVersion(version));
        }
        if let Some(&algorithm) = bytes.get(5)
            && algorithm != ALGORITHM_AES256GCM_STREAM_BE32
        {
            return Err(EnvelopeError::UnsupportedAlgorithm(algorithm));
        }
        if let Some(&chunk_log2) = bytes.get(6) {
            check_chunk_log2(chunk_log2)?;
        }
        if let Some(&reserved) = bytes.get(7)
            && reserved != 0
        {
            return Err(EnvelopeError::BadHeader("the reserved byte is not 0"));
        }
        if bytes.len() < FIXED_LEN {
            return Ok(None);
        }

        let id_len_bytes = [bytes[FILE_ID_LEN_OFFSET], bytes[FILE_ID_LEN_OFFSET + 1]];
        let id_len = usize::from(u16::from_be_bytes(id_len_bytes));
        check_file_id_len(id_len)?;
        let header_len = FIXED_LEN + id_len;
        let Some(id_bytes) = bytes.get(FIXED_LEN..header_len) else {
            return Ok(None);
        };
        let file_id = std::str::from_utf8(id_bytes)
            .map_err(|_| EnvelopeError::BadHeader("the file id is not valid UTF-8"))?;

        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        nonce_prefix.copy_from_slice(&bytes[8..8 + NONCE_PREFIX_LEN]);
        let header = Header::new(file_id, bytes[6], nonce_prefix)?;
        debug_assert_eq!(header.encoded, bytes[..header_len]);
        Ok(Some((header, header_len)))
    }

    /// File id that the object was encrypted for.
    pub fn file_id(&self) -> &str {
        &self.file_id
    }

    /// Plaintext chunk size in bytes.
    pub fn chunk_size(&self) -> usize {
        1 << self.chunk_log2
    }

    /// Base-2 logarithm of the plaintext chunk size.
    pub fn chunk_log2(&self) -> u8 {
        self.chunk_log2
    }

    /// Random nonce prefix of the object.
    pub fn nonce_prefix(&self) -> &[u8; NONCE_PREFIX_LEN] {
        &self.nonce_prefix
    }

    /// Encoded header, which starts the object and is the associated data of every chunk.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }

    /// Length of the encoded header in bytes, which is the offset of the first chunk.
    #[allow(clippy::len_without_is_empty)] // An encoded header is never empty.
    pub fn len(&self) -> usize {
        self.encoded.len()
    }
}

fn check_chunk_log2(chunk_log2: u8) -> Result<(), EnvelopeError> {
    if (MIN_CHUNK_LOG2..=MAX_CHUNK_LOG2).contains(&chunk_log2) {
        Ok(())
    } else {
        Err(EnvelopeError::BadHeader(
            "the chunk size is outside 2^12 to 2^24 bytes",
        ))
    }
}

/// Checks a file id length and returns it as the encoded `u16`.
fn check_file_id_len(len: usize) -> Result<u16, EnvelopeError> {
    if len == 0 {
        return Err(EnvelopeError::BadHeader("the file id is empty"));
    }
    if len > MAX_FILE_ID_LEN {
        return Err(EnvelopeError::BadHeader(
            "the file id is longer than 256 bytes",
        ));
    }
    Ok(len as u16)
}
