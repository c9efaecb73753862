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
        for &byte in chunk {
            let Some(low) = self.low.take() else {
                self.low = Some(byte);
                continue;
            };
            // Directory entries start at multiples of 128 bytes, so names are aligned code
            // units. Units outside ASCII cannot be part of a needle.
            self.names.push(if byte == 0 { low } else { 0x80 });
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
