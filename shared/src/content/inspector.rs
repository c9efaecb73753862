//! The streaming side of the content check: what is kept of an object as its chunks go by.

use super::json::{JsonCheck, JsonError};
use super::magic::{self, Executable};
use super::markup::MarkupScan;
use super::ole::{OLE_MAGIC, OleScan};
use super::pdf::{PDF_MAGIC, PdfScan};
use super::rules::{PolicyOptions, Rule};
use super::text::{TextError, TextScan};
use super::{ContentCheck, HEAD_LEN, TAIL_LEN, detect, verify, zip};

/// Watches a byte stream chunk by chunk and keeps what the content check needs, in memory that
/// does not grow with the object. It keeps the first [`HEAD_LEN`] bytes and the last
/// [`TAIL_LEN`] bytes, in a buffer of at most twice that. The text, JSON, markup, PDF and
/// compound-file searches cover the whole stream with fixed-size state.
#[derive(Debug)]
pub struct Inspector {
    head: Vec<u8>,
    tail: Vec<u8>,
    total: u64,
    text: TextScan,
    markup: MarkupScan,
    json: JsonCheck,
    family: Family,
    pdf: PdfScan,
    ole: OleScan,
}

/// Format-specific search the stream needs, chosen by its first 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Undecided,
    Pdf,
    Ole,
    Other,
}

impl Default for Inspector {
    fn default() -> Self {
        Self::new()
    }
}

impl Inspector {
    /// Creates an inspector that has seen no bytes.
    pub fn new() -> Self {
        Self {
            head: Vec::new(),
            tail: Vec::new(),
            total: 0,
            text: TextScan::default(),
            markup: MarkupScan::default(),
            json: JsonCheck::default(),
            family: Family::Undecided,
            pdf: PdfScan::default(),
            ole: OleScan::default(),
        }
    }

    /// Feeds the next chunk of the object.
    pub fn update(&mut self, chunk: &[u8]) {
        let room = HEAD_LEN.saturating_sub(self.head.len());
        self.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        self.keep_tail(chunk);
        self.text.update(self.total, chunk);
        self.total += chunk.len() as u64;
        // Markup and JSON only matter for text, so binary content stops paying for them.
        if !self.text.failed() {
            self.markup.update(chunk);
            self.json.update(chunk);
        }
        // Until the first 8 bytes decide the family, both searches see every byte.
        if matches!(self.family, Family::Undecided | Family::Pdf) {
            self.pdf.update(chunk);
        }
        if matches!(self.family, Family::Undecided | Family::Ole) {
            self.ole.update(chunk);
        }
        if self.family == Family::Undecided && self.head.len() >= OLE_MAGIC.len() {
            self.family = family(&self.head);
        }
    }

    /// Appends to the tail buffer, dropping its front only when it doubles the window, so each
    /// byte is moved a bounded number of times.
    fn keep_tail(&mut self, chunk: &[u8]) {
        let chunk = &chunk[chunk.len().saturating_sub(TAIL_LEN)..];
        if self.tail.len() + chunk.len() > 2 * TAIL_LEN {
            let excess = (self.tail.len() + chunk.len()).saturating_sub(TAIL_LEN);
            self.tail.drain(..excess.min(self.tail.len()));
        }
        self.tail.extend_from_slice(chunk);
    }

    /// Number of bytes seen.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Returns the lengths of the head and tail buffers, to test the memory bound.
    #[cfg(test)]
    pub(super) fn kept_lengths(&self) -> (usize, usize) {
        (self.head.len(), self.tail.len())
    }

    /// Returns the detected MIME type once the whole object has been fed.
    pub fn detected(&self) -> &'static str {
        detect::detected(&self.facts())
    }

    /// Checks the content seen against a rule with default options, which reject executables,
    /// active content and encryption.
    pub fn check(&self, rule: &Rule) -> ContentCheck {
        self.check_with(rule, PolicyOptions::default())
    }

    /// Checks the content seen against a rule with these options.
    pub fn check_with(&self, rule: &Rule, options: PolicyOptions) -> ContentCheck {
        let facts = self.facts();
        let reason = verify::reason(rule, options, &facts);
        ContentCheck {
            declared: rule.content_type,
            detected: detect::detected(&facts),
            matches: reason.is_none(),
            reason,
        }
    }

    fn facts(&self) -> Facts<'_> {
        let tail = &self.tail[self.tail.len().saturating_sub(TAIL_LEN)..];
        let family = match self.family {
            Family::Undecided => family(&self.head),
            decided => decided,
        };
        Facts {
            head: &self.head,
            tail,
            total: self.total,
            text: self.text.result(),
            markup: &self.markup,
            json: self.json.finish(),
            pdf_encrypted: family == Family::Pdf && self.pdf.is_encrypted(),
            ole: (family == Family::Ole).then_some(&self.ole),
            zip: zip::probe(tail, self.total),
        }
    }
}

fn family(head: &[u8]) -> Family {
    if head.starts_with(PDF_MAGIC) {
        Family::Pdf
    } else if head.starts_with(OLE_MAGIC) {
        Family::Ole
    } else {
        Family::Other
    }
}

impl Facts<'_> {
    /// Returns the kind of program the content is, if any.
    pub fn program(&self) -> Option<Executable> {
        magic::executable(self.head, self.text.is_ok())
    }
}

/// Everything the rules look at, gathered from an inspector after the last chunk.
#[derive(Debug)]
pub struct Facts<'a> {
    /// First bytes of the object.
    pub head: &'a [u8],
    /// Last bytes of the object.
    pub tail: &'a [u8],
    /// Object size in bytes.
    pub total: u64,
    /// Whether the whole object is UTF-8 text without control bytes.
    pub text: Result<(), TextError>,
    /// Active content found anywhere in the text.
    pub markup: &'a MarkupScan,
    /// Whether the whole object is one JSON document.
    pub json: Result<(), JsonError>,
    /// Whether a PDF names an `/Encrypt` dictionary.
    pub pdf_encrypted: bool,
    /// Stream names found in an OLE compound file.
    pub ole: Option<&'a OleScan>,
    /// The zip archive that ends the object, if any.
    pub zip: zip::Probe<'a>,
}
