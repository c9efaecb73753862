//! OLE compound files (legacy Office documents and password-protected Office files).
//!
//! Stream names are found by searching the whole object for them as UTF-16LE directory entry
//! names, because the directory may sit anywhere in the file and is only reachable by seeking.

use super::search::NeedleSearch;

/// Leading bytes of every OLE compound file.
pub const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// MIME type `infer` 0.22 reports for compound files it cannot name.
pub const OLE_STORAGE: &str = "application/x-ole-storage";

/// Office 97-2003 document kinds, each stored in an OLE compound file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OleDocument {
    /// Word document, main stream `WordDocument`.
    Word,
    /// Excel workbook, main stream `Workbook` (or `Book` before Excel 97).
    Excel,
    /// PowerPoint presentation, main stream `PowerPoint Document`.
    PowerPoint,
}

impl OleDocument {
    /// Returns the document kind's name with an article, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Word => "a Word 97-2003 document",
            Self::Excel => "an Excel 97-2003 workbook",
            Self::PowerPoint => "a PowerPoint 97-2003 presentation",
        }
    }

    /// Returns the name of the stream the document kind needs.
    pub fn stream(self) -> &'static str {
        match self {
            Self::Word => "WordDocument",
            Self::Excel => "Workbook",
            Self::PowerPoint => "PowerPoint Document",
        }
    }

    fn mime_type(self) -> &'static str {
        match self {
            Self::Word => "application/msword",
            Self::Excel => "application/vnd.ms-excel",
            Self::PowerPoint => "application/vnd.ms-powerpoint",
        }
    }
}

// Names end in a UTF-16 NUL, which the search reads as a 0 byte, so `Book` does not match a
// longer name. `_VBA_PROJECT` is a prefix on purpose, to match `_VBA_PROJECT_CUR` too.
const NEEDLES: &[&[u8]] = &[
    b"WordDocument\0",
    b"Workbook\0",
    b"Book\0",
    b"PowerPoint Document\0",
    b"EncryptedPackage\0",
    b"_VBA_PROJECT",
];
const WORD: usize = 0;
const WORKBOOK: usize = 1;
const BOOK: usize = 2;
const POWERPOINT: usize = 3;
const ENCRYPTED_PACKAGE: usize = 4;
const VBA_PROJECT: usize = 5;

/// Number of UTF-16 code units decoded at a time, into a buffer on the stack.
const BLOCK_LEN: usize = 4096;

/// Returns the byte that the name search reads for a UTF-16LE code unit. Directory entries start at
/// multiples of 128 bytes, so names are aligned code units. A unit with a nonzero high byte
/// cannot be part of a needle, so it becomes 0x80.
fn name_byte(low: u8, high: u8) -> u8 {
    if high == 0 { low } else { 0x80 }
}

/// Streaming search for the stream names that identify a compound file's content.
#[derive(Debug, Clone)]
pub struct OleScan {
    names: NeedleSearch,
    /// Low byte of a UTF-16 code unit cut by a chunk boundary.
    low: Option<u8>,
}

impl Default for OleScan {
    fn default() -> Self {
        Self {
            names: NeedleSearch::new(NEEDLES),
            low: None,
        }
    }
}

impl OleScan {
    /// Feeds the next chunk, which continues the stream at an even or odd offset as before.
    pub fn update(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        if let Some(low) = self.low.take() {
            let Some((&high, tail)) = rest.split_first() else {
                self.low = Some(low);
                return;
            };
            self.names.push(name_byte(low, high));
            rest = tail;
        }
        let (units, odd) = rest.split_at(rest.len() & !1);
        self.low = odd.first().copied();
        let mut decoded = [0; BLOCK_LEN];
        for block in units.chunks(2 * BLOCK_LEN) {
            let decoded = &mut decoded[..block.len() / 2];
            for (byte, unit) in decoded.iter_mut().zip(block.chunks_exact(2)) {
                *byte = name_byte(unit[0], unit[1]);
            }
            self.names.update(decoded);
        }
    }

    /// Tells whether the file contains the main stream of this document kind.
    pub fn has_stream(&self, document: OleDocument) -> bool {
        match document {
            OleDocument::Word => self.names.found(WORD),
            OleDocument::Excel => self.names.found(WORKBOOK) || self.names.found(BOOK),
            OleDocument::PowerPoint => self.names.found(POWERPOINT),
        }
    }

    /// Tells whether the file is a password-protected Office Open XML package, which Office
    /// stores as an `EncryptedPackage` stream in a compound file.
    pub fn is_encrypted_package(&self) -> bool {
        self.names.found(ENCRYPTED_PACKAGE)
    }

    /// Tells whether the file contains a VBA project (macros) in Word or Excel form.
    ///
    /// NOTE: PowerPoint 97-2003 keeps its VBA project compressed inside the `PowerPoint
    /// Document` stream, where this search cannot see it.
    pub fn has_macros(&self) -> bool {
        self.names.found(VBA_PROJECT)
    }

    /// Returns the MIME type of the document kind found, or [`OLE_STORAGE`].
    pub fn mime_type(&self) -> &'static str {
        [
            OleDocument::Word,
            OleDocument::Excel,
            OleDocument::PowerPoint,
        ]
        .into_iter()
        .find(|document| self.has_stream(*document))
        .map_or(OLE_STORAGE, OleDocument::mime_type)
    }
}

#[cfg(test)]
mod tests {
    use super::super::assert_same_at_every_split;
    use super::*;

    fn utf16(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    /// Returns the streams and features the scan finds in the pieces.
    fn scan<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> [bool; 5] {
        let mut scan = OleScan::default();
        pieces.into_iter().for_each(|piece| scan.update(piece));
        [
            scan.has_stream(OleDocument::Word),
            scan.has_stream(OleDocument::Excel),
            scan.has_stream(OleDocument::PowerPoint),
            scan.is_encrypted_package(),
            scan.has_macros(),
        ]
    }

    #[test]
    fn stream_names_are_found_at_every_split() {
        let cases: &[(Vec<u8>, [bool; 5])] = &[
            (utf16("WordDocument\0"), [true, false, false, false, false]),
            (utf16("\u{feff}Book\0"), [false, true, false, false, false]),
            (utf16("Bookmarks\0"), [false; 5]),
            (utf16("Workbook\0"), [false, true, false, false, false]),
            (
                utf16("PowerPoint Document\0"),
                [false, false, true, false, false],
            ),
            (
                utf16("EncryptedPackage\0"),
                [false, false, false, true, false],
            ),
            (
                utf16("_VBA_PROJECT_CUR\0"),
                [false, false, false, false, true],
            ),
            (utf16("Word\u{0100}Document\0"), [false; 5]),
            (
                [b"x".as_slice(), &utf16("WordDocument\0"), b"\0"].concat(),
                [false; 5],
            ),
            (
                [utf16("Book\0"), vec![0xAA; 7], utf16("WordDocument\0")].concat(),
                [false, true, false, false, false],
            ),
        ];
        for (bytes, expected) in cases {
            assert_same_at_every_split(bytes, expected, |pieces| scan(pieces.iter().copied()));
        }
    }

    #[test]
    fn name_across_decode_blocks_is_found() {
        let name = utf16("EncryptedPackage\0");
        for start in (2 * BLOCK_LEN - 40..2 * BLOCK_LEN + 4).step_by(2) {
            let mut bytes = vec![0x41; 4 * BLOCK_LEN];
            bytes[start..start + name.len()].copy_from_slice(&name);
            for size in [1, 3, 2 * BLOCK_LEN - 1, 2 * BLOCK_LEN, bytes.len()] {
                let found = scan(bytes.chunks(size))[3];
                assert!(found, "name at {start}, pieces of {size}");
            }
        }
    }
}
