//! Planning and decryption of plaintext byte ranges, for HTTP range reads.

use super::chunk::ChunkCipher;
use super::{DataKey, EnvelopeError, Header, TAG_LEN, plain_len};

/// Sealed bytes to fetch for a plaintext range, and how to cut the plaintext out of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangePlan {
    /// Offset of the first sealed byte to fetch, from the start of the object (header included).
    pub fetch_start: u64,
    /// Offset of the last sealed byte to fetch, inclusive, as in an HTTP `Range` header.
    pub fetch_end_inclusive: u64,
    /// Index of the first fetched chunk.
    pub first_chunk: u32,
    /// Number of plaintext bytes to drop from the start of the first fetched chunk.
    pub skip: usize,
    /// Number of plaintext bytes in the range.
    pub take: u64,
    /// Index of the object's final chunk, the only one sealed with the last flag.
    pub last_chunk_index: u32,
}

impl RangePlan {
    /// Number of sealed bytes to fetch.
    pub fn fetch_len(&self) -> u64 {
        (self.fetch_end_inclusive + 1).saturating_sub(self.fetch_start)
    }
}

/// Plans the fetch of plaintext bytes `start..=end_inclusive` from an object of `object_len`
/// bytes with this header.
///
/// Fails with [`EnvelopeError::InvalidRange`] when `start > end_inclusive` or `end_inclusive` is
/// at or past the end of the plaintext, and with [`EnvelopeError::Truncated`] when
/// `object_len` cannot be the length of an object with this header.
pub fn plan_range(
    header: &Header,
    object_len: u64,
    start: u64,
    end_inclusive: u64,
) -> Result<RangePlan, EnvelopeError> {
    let header_len = header.len() as u64;
    let body_len = object_len
        .checked_sub(header_len)
        .ok_or(EnvelopeError::Truncated)?;
    let plaintext_len = plain_len(body_len, header.chunk_size())?;
    if start > end_inclusive || end_inclusive >= plaintext_len {
        return Err(EnvelopeError::InvalidRange {
            start,
            end_inclusive,
            len: plaintext_len,
        });
    }

    // plain_len has checked that every chunk index, including the final one, fits in a u32.
    let chunk_size = header.chunk_size() as u64;
    let sealed_chunk_len = chunk_size + TAG_LEN as u64;
    let first_chunk = start / chunk_size;
    let last_fetched_chunk = end_inclusive / chunk_size;
    let fetch_end_exclusive =
        (header_len + (last_fetched_chunk + 1) * sealed_chunk_len).min(object_len);

    Ok(RangePlan {
        fetch_start: header_len + first_chunk * sealed_chunk_len,
        fetch_end_inclusive: fetch_end_exclusive - 1,
        first_chunk: first_chunk as u32,
        skip: (start - first_chunk * chunk_size) as usize,
        take: end_inclusive - start + 1,
        last_chunk_index: (plaintext_len / chunk_size) as u32,
    })
}

/// Push-style decryptor of the sealed bytes that a [`RangePlan`] fetches.
///
/// It appends only the planned plaintext range to its output, and only from authenticated
/// chunks. After an error every later call returns the same error.
pub struct RangeDecryptor {
    cipher: ChunkCipher,
    sealed_chunk_len: usize,
    last_chunk_index: u64,
    next_chunk: u64,
    /// Planned sealed bytes that are not part of an opened chunk yet, including `pending`.
    unopened: u64,
    /// Bytes of the sealed chunk being filled.
    pending: Vec<u8>,
    skip: usize,
    remaining_take: u64,
    failed: Option<EnvelopeError>,
}

impl RangeDecryptor {
    /// Starts decrypting the bytes fetched for `plan`, which must come from [`plan_range`] with
    /// the same header.
    pub fn new(key: &DataKey, header: &Header, plan: &RangePlan) -> Self {
        let sealed_chunk_len = header.chunk_size() + TAG_LEN;
        Self {
            cipher: ChunkCipher::new(key.cipher(), header),
            sealed_chunk_len,
            last_chunk_index: u64::from(plan.last_chunk_index),
            next_chunk: u64::from(plan.first_chunk),
            unopened: plan.fetch_len(),
            pending: Vec::with_capacity(sealed_chunk_len),
            skip: plan.skip,
            remaining_take: plan.take,
            failed: None,
        }
    }

    /// Decrypts the next fetched bytes, appending to `out` the part of the range in every chunk
    /// that is complete and authenticated.
    ///
    /// Fails with [`EnvelopeError::TrailingData`] when the bytes run past the planned fetch.
    pub fn update(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = self.try_update(data, out);
        if let Err(error) = &result {
            self.failed = Some(error.clone());
        }
        result
    }

    /// Checks that all planned bytes arrived and the whole range was written. `out` stays
    /// unchanged, because [`RangeDecryptor::update`] opens every chunk once its bytes arrive.
    pub fn finish(self, _out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        if self.unopened > 0 || self.remaining_take > 0 {
            return Err(EnvelopeError::Truncated);
        }
        Ok(())
    }

    fn try_update(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        let expected = self.unopened - self.pending.len() as u64;
        if data.len() as u64 > expected {
            return Err(EnvelopeError::TrailingData);
        }

        while !data.is_empty() {
            let chunk_len = self.current_chunk_len();
            if self.pending.is_empty() && data.len() >= chunk_len {
                let (sealed, rest) = data.split_at(chunk_len);
                self.open_chunk(sealed, out)?;
                data = rest;
                continue;
            }

            let copied_len = (chunk_len - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..copied_len]);
            data = &data[copied_len..];
            if self.pending.len() == chunk_len {
                let sealed = std::mem::take(&mut self.pending);
                self.open_chunk(&sealed, out)?;
                self.pending = sealed;
                self.pending.clear();
            }
        }
        Ok(())
    }

    /// Sealed length of the next chunk: a full sealed chunk, or what is left of the fetch when
    /// that is shorter, which is the case for the object's final chunk.
    fn current_chunk_len(&self) -> usize {
        self.unopened.min(self.sealed_chunk_len as u64) as usize
    }

    fn open_chunk(&mut self, sealed: &[u8], out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        let start = out.len();
        out.extend_from_slice(sealed);
        let last = self.next_chunk == self.last_chunk_index;
        self.cipher.open(self.next_chunk, last, out, start)?;
        self.next_chunk += 1;
        self.unopened -= sealed.len() as u64;

        let skipped = self.skip.min(out.len() - start);
        out.drain(start..start + skipped);
        self.skip -= skipped;

        let range_len = (out.len() - start) as u64;
        if range_len > self.remaining_take {
            out.truncate(start + self.remaining_take as usize);
            self.remaining_take = 0;
        } else {
            self.remaining_take -= range_len;
        }
        Ok(())
    }
}
