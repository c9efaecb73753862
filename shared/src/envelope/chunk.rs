//! Sealing and opening of single chunks with the STREAM primitive.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::stream::{NewStream, StreamBE32, StreamPrimitive};

use super::{EnvelopeError, Header};

/// STREAM cipher of one object, bound to its header as associated data.
pub(super) struct ChunkCipher {
    stream: StreamBE32<Aes256Gcm>,
    associated_data: Vec<u8>,
}

impl ChunkCipher {
    pub(super) fn new(aead: Aes256Gcm, header: &Header) -> Self {
        let nonce_prefix = GenericArray::clone_from_slice(header.nonce_prefix());
        Self {
            stream: StreamBE32::from_aead(aead, &nonce_prefix),
            associated_data: header.encoded().to_vec(),
        }
    }

    /// Encrypts `out[start..]` in place as chunk `index` and appends its tag.
    ///
    /// Fails with [`EnvelopeError::TooLarge`] when `index` does not fit the 32-bit counter, and
    /// then leaves `out` truncated to `start`.
    pub(super) fn seal(
        &self,
        index: u64,
        last: bool,
        out: &mut Vec<u8>,
        start: usize,
    ) -> Result<(), EnvelopeError> {
        let Ok(position) = u32::try_from(index) else {
            out.truncate(start);
            return Err(EnvelopeError::TooLarge);
        };
        let mut buffer = TailBuffer { vec: out, start };
        let sealed =
            self.stream
                .encrypt_in_place(position, last, &self.associated_data, &mut buffer);
        if sealed.is_err() {
            // aes-gcm 0.10.3 fails only on a plaintext over 2^36 bytes (its P_MAX), far above the
            // largest chunk.
            out.truncate(start);
            return Err(EnvelopeError::TooLarge);
        }
        Ok(())
    }

    /// Decrypts the sealed chunk `out[start..]` in place as chunk `index`, leaving its plaintext.
    ///
    /// On failure `out` is truncated to `start`, so no unauthenticated byte stays in it.
    pub(super) fn open(
        &self,
        index: u64,
        last: bool,
        out: &mut Vec<u8>,
        start: usize,
    ) -> Result<(), EnvelopeError> {
        let Ok(position) = u32::try_from(index) else {
            out.truncate(start);
            return Err(EnvelopeError::TooLarge);
        };
        let mut buffer = TailBuffer { vec: out, start };
        let opened =
            self.stream
                .decrypt_in_place(position, last, &self.associated_data, &mut buffer);
        if opened.is_err() {
            out.truncate(start);
            return Err(EnvelopeError::Tampered { chunk: position });
        }
        Ok(())
    }
}

/// The bytes of `vec` from `start` on, as an AEAD buffer. Sealing and opening in place at the
/// end of the caller's output saves a copy of every chunk.
struct TailBuffer<'a> {
    vec: &'a mut Vec<u8>,
    start: usize,
}

impl AsRef<[u8]> for TailBuffer<'_> {
    fn as_ref(&self) -> &[u8] {
        &self.vec[self.start..]
    }
}

impl AsMut<[u8]> for TailBuffer<'_> {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.vec[self.start..]
    }
}

impl aes_gcm::aead::Buffer for TailBuffer<'_> {
    fn extend_from_slice(&mut self, other: &[u8]) -> aes_gcm::aead::Result<()> {
        self.vec.extend_from_slice(other);
        Ok(())
    }

    fn truncate(&mut self, len: usize) {
        self.vec.truncate(self.start + len);
    }
}
