//! Streaming check that an object is UTF-8 text without control bytes.

use std::fmt;

/// Reason the content is not text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    /// A control byte other than tab, line feed, carriage return or form feed.
    ControlByte { offset: u64, byte: u8 },
    /// Bytes that are not UTF-8, starting at this offset.
    InvalidUtf8 { offset: u64 },
    /// The content ends inside a multi-byte UTF-8 sequence.
    Truncated,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ControlByte { offset, byte } => {
                write!(
                    f,
                    "content is not text: control byte 0x{byte:02x} at byte {offset}"
                )
            }
            Self::InvalidUtf8 { offset } => {
                write!(f, "content is not text: invalid UTF-8 at byte {offset}")
            }
            Self::Truncated => write!(f, "content is not text: it ends inside a UTF-8 sequence"),
        }
    }
}

/// Text state carried between chunks.
#[derive(Debug, Clone, Default)]
pub struct TextScan {
    /// Bytes of a UTF-8 sequence cut by a chunk boundary, carried into the next chunk.
    pending: Vec<u8>,
    error: Option<TextError>,
}

impl TextScan {
    /// Feeds the chunk that starts at byte `offset` of the object.
    pub fn update(&mut self, offset: u64, chunk: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if let Some(at) = first_control_byte(chunk) {
            let offset = offset + at as u64;
            self.error = Some(TextError::ControlByte {
                offset,
                byte: chunk[at],
            });
            return;
        }
        let used = match self.finish_pending(offset, chunk) {
            Some(used) => used,
            None => return,
        };
        let rest = &chunk[used..];
        match std::str::from_utf8(rest) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => self.pending = rest[e.valid_up_to()..].to_vec(),
            Err(e) => {
                let offset = offset + (used + e.valid_up_to()) as u64;
                self.error = Some(TextError::InvalidUtf8 { offset });
            }
        }
    }

    /// Completes a sequence carried from the previous chunk with at most three bytes of this
    /// one. Returns how many bytes of the chunk it checked, or `None` when nothing is left to
    /// check because the chunk ended again or the sequence is invalid.
    fn finish_pending(&mut self, offset: u64, chunk: &[u8]) -> Option<usize> {
        let carried = self.pending.len();
        if carried == 0 {
            return Some(0);
        }
        let take = chunk.len().min(4 - carried);
        let mut joined = std::mem::take(&mut self.pending);
        joined.extend_from_slice(&chunk[..take]);
        let error = match std::str::from_utf8(&joined) {
            Ok(_) => return Some(take),
            Err(e) if e.valid_up_to() >= carried => return Some(e.valid_up_to() - carried),
            Err(e) => e,
        };
        if error.error_len().is_none() {
            self.pending = joined;
        } else {
            let offset = offset.saturating_sub(carried as u64);
            self.error = Some(TextError::InvalidUtf8 { offset });
        }
        None
    }

    /// Tells whether a byte fed so far rules out text, whatever follows.
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Returns whether everything fed so far, taken as the whole object, is text.
    pub fn result(&self) -> Result<(), TextError> {
        match self.error {
            Some(error) => Err(error),
            None if !self.pending.is_empty() => Err(TextError::Truncated),
            None => Ok(()),
        }
    }
}

/// Tells whether a byte is a control byte other than tab, line feed, carriage return and form
/// feed. The comparisons are joined with `&`, not `&&` or `matches!`, so the compiler can test a
/// whole block of bytes with vector instructions.
fn is_control_byte(byte: u8) -> bool {
    (byte < 0x20) & (byte != b'\t') & (byte != b'\n') & (byte != b'\r') & (byte != 0x0c)
}

/// Number of bytes tested at a time for a control byte.
const BLOCK_LEN: usize = 32;

/// Returns the index of the first control byte. Whole blocks are tested without an early
/// exit, and only the first block that contains a control byte is searched byte by byte.
fn first_control_byte(bytes: &[u8]) -> Option<usize> {
    let (blocks, _) = bytes.as_chunks::<BLOCK_LEN>();
    let clean = blocks
        .iter()
        .position(|block| {
            block
                .iter()
                .fold(false, |any, &byte| any | is_control_byte(byte))
        })
        .unwrap_or(blocks.len());
    let start = clean * BLOCK_LEN;
    let at = bytes[start..]
        .iter()
        .position(|&byte| is_control_byte(byte))?;
    Some(start + at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_control_byte_is_found_in_every_position() {
        for at in 0..3 * BLOCK_LEN {
            let mut text = vec![b'a'; 3 * BLOCK_LEN + 5];
            text[at] = 0x01;
            text[3 * BLOCK_LEN + 2] = 0x1f;
            assert_eq!(first_control_byte(&text), Some(at), "control byte at {at}");
        }
        let mut tail_only = vec![b'a'; BLOCK_LEN + 3];
        tail_only[BLOCK_LEN + 1] = 0x0b;
        assert_eq!(first_control_byte(&tail_only), Some(BLOCK_LEN + 1));
    }

    #[test]
    fn allowed_whitespace_is_no_control_byte() {
        let text = b"tab\tnewline\ncarriage return\rform feed\x0c and more text to fill a block";
        assert_eq!(first_control_byte(text), None);
        assert_eq!(first_control_byte(b""), None);
        for byte in 0..=u8::MAX {
            let expected = byte < 0x20 && !matches!(byte, b'\t' | b'\n' | b'\r' | 0x0c);
            assert_eq!(is_control_byte(byte), expected, "byte 0x{byte:02x}");
        }
    }

    #[test]
    fn control_byte_offset_adds_chunk_offset() {
        let mut scan = TextScan::default();
        scan.update(0, &[b'a'; 100]);
        let mut chunk = vec![b'b'; 100];
        chunk[70] = 0x7f;
        chunk[71] = 0x00;
        scan.update(100, &chunk);
        let expected = TextError::ControlByte {
            offset: 171,
            byte: 0x00,
        };
        assert_eq!(scan.result(), Err(expected));
    }
}
