//! PDF facts gathered while streaming: whether any dictionary names an `/Encrypt` entry.
//!
//! The whole object is searched, not only the trailer near the end: a large cross-reference
//! stream can push the trailer dictionary of PDF 1.5 and later far from the end, and linearized
//! files repeat it near the start. A PDF that merely quotes `/Encrypt` in an uncompressed
//! content stream is rejected as encrypted too.
//!
//! NOTE: JavaScript and launch actions are not checked, because object streams usually
//! compress the dictionaries that contain them and a byte search cannot see inside.

use super::search::NeedleSearch;

/// Leading bytes of a PDF file. Viewers accept them anywhere in the first 1024 bytes, which
/// polyglots rely on, so the rule requires them at byte 0.
pub const PDF_MAGIC: &[u8] = b"%PDF-";

/// End-of-file marker that must appear in the last [`EOF_WINDOW`] bytes.
pub const EOF_MARKER: &[u8] = b"%%EOF";

/// Bytes at the end of a PDF searched for [`EOF_MARKER`], as PDF readers search them.
pub const EOF_WINDOW: usize = 1024;

const NEEDLES: &[&[u8]] = &[b"/Encrypt"];

/// Streaming search for `/Encrypt`, with `#xx` escapes in names decoded so `/Encr#79pt` counts.
#[derive(Debug, Clone)]
pub struct PdfScan {
    needles: NeedleSearch,
    escape: Escape,
}

#[derive(Debug, Clone, Copy)]
enum Escape {
    None,
    Hash,
    /// `#` and the first hex digit, as read.
    High(u8),
}

impl Default for PdfScan {
    fn default() -> Self {
        Self {
            needles: NeedleSearch::new(NEEDLES),
            escape: Escape::None,
        }
    }
}

impl PdfScan {
    /// Feeds the next chunk of the object.
    pub fn update(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        loop {
            if matches!(self.escape, Escape::None) {
                // Bytes up to the next `#` reach the search unchanged.
                let plain = memchr::memchr(b'#', rest).unwrap_or(rest.len());
                self.needles.update(&rest[..plain]);
                rest = &rest[plain..];
            }
            let Some((&byte, tail)) = rest.split_first() else {
                return;
            };
            rest = tail;
            self.escape = match self.escape {
                Escape::None => self.plain(byte),
                Escape::Hash if byte.is_ascii_hexdigit() => Escape::High(byte),
                Escape::High(high) if byte.is_ascii_hexdigit() => {
                    self.needles.push(hex_value(high) << 4 | hex_value(byte));
                    Escape::None
                }
                // A `#` without two hex digits is ordinary text.
                Escape::Hash => {
                    self.needles.push(b'#');
                    self.plain(byte)
                }
                Escape::High(high) => {
                    self.needles.push(b'#');
                    self.needles.push(high);
                    self.plain(byte)
                }
            };
        }
    }

    fn plain(&mut self, byte: u8) -> Escape {
        if byte == b'#' {
            return Escape::Hash;
        }
        self.needles.push(byte);
        Escape::None
    }

    /// Tells whether the object names an `/Encrypt` entry.
    pub fn is_encrypted(&self) -> bool {
        self.needles.found(0)
    }
}

fn hex_value(digit: u8) -> u8 {
    char::from(digit)
        .to_digit(16)
        .map_or(0, |value| value as u8)
}

/// Tells whether the end of the object carries the `%%EOF` marker.
pub fn has_eof_marker(tail: &[u8]) -> bool {
    let end = &tail[tail.len().saturating_sub(EOF_WINDOW)..];
    end.windows(EOF_MARKER.len()).any(|w| w == EOF_MARKER)
}

#[cfg(test)]
mod tests {
    use super::super::assert_same_at_every_split;
    use super::*;

    fn encrypted<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> bool {
        let mut scan = PdfScan::default();
        pieces.into_iter().for_each(|piece| scan.update(piece));
        scan.is_encrypted()
    }

    #[test]
    fn encrypt_is_found_at_every_split() {
        let cases: &[(&[u8], bool)] = &[
            (b"/Encrypt", true),
            (b"<< /Size 5 /Encrypt 4 0 R >>", true),
            (b"<< /Encr#79pt 4 0 R >>", true),
            (b"#2FEncrypt", true),
            (b"/#45#6e#63#72#79#70#74", true),
            (b"/Encrypt#", true),
            (b"/Encr#7ypt", false),
            (b"/Encr##79pt", false),
            (b"/encrypt", false),
            (b"/Encryp", false),
            (b"#", false),
        ];
        for &(bytes, expected) in cases {
            assert_same_at_every_split(bytes, &expected, |pieces| {
                encrypted(pieces.iter().copied())
            });
        }
    }
}
