//! Content check: does an object's real content match the type its extension claims?
//!
//! [`RULES`] is the table of extensions and the content each must have. A [`Policy`] picks
//! the extensions one deployment accepts and sets [`PolicyOptions`] for content rejected by
//! default. An [`Inspector`] reads the object once, chunk by chunk, in bounded memory, and
//! [`Inspector::check_with`] or [`Policy::check`] returns a [`ContentCheck`] with the reason
//! for any rejection.
//!
//! Outcomes that apply whatever the extension:
//! - Only the last extension counts: `invoice.pdf.exe` is checked as `.exe`, which the table
//!   lists only with `allow_executables`. Even then a non-executable extension before an
//!   executable one (`.pdf.exe`) gets no rule. A name without an extension (`README`,
//!   `.bashrc`) gets no rule either, so it is rejected.
//! - Programs (PE, ELF, Mach-O including universal binaries, Java classes and `#!` scripts) are
//!   rejected under every extension unless the policy allows executables.
//! - Polyglots are rejected. These are images, PDFs, audio, video and Office 97-2003 files
//!   that also end with a zip archive, such as a PDF with a zip appended or a GIF that is also
//!   a JAR, and zip-based files with other data before or after the archive. gzip, tar and 7z
//!   may contain a zip, because archives contain archives.
//! - Encrypted zips, PDFs with an `/Encrypt` dictionary and password-protected Office files are
//!   rejected unless the policy allows encryption, because the virus scanner cannot read them.
//! - Active content (scripts, event handlers, frames, `javascript:` URLs, VBA and Basic macros)
//!   is rejected in SVG, Markdown and Office files unless the policy allows it.

mod detect;
mod inspector;
mod json;
mod magic;
mod markup;
mod office;
mod ole;
mod pdf;
mod rules;
mod search;
mod text;
mod verify;
mod zip;

#[cfg(test)]
mod tests;

use serde::Serialize;

pub use inspector::Inspector;
pub use magic::{Executable, Signature};
pub use ole::OleDocument;
pub use rules::{Expected, Policy, PolicyError, PolicyOptions, RULES, Rule, extension_of};

/// Number of leading bytes kept for magic-byte detection.
pub const HEAD_LEN: usize = 8192;

/// Number of trailing bytes kept for the zip central directory and the PDF `%%EOF` marker:
/// room for a 65,557-byte end record with the longest comment plus a central directory of
/// about 190 KiB, some 2,000 entries with 50-byte names.
pub const TAIL_LEN: usize = 256 * 1024;

/// MIME type reported for zero-byte content.
pub const EMPTY: &str = "application/x-empty";
/// MIME type reported for valid UTF-8 text with no control bytes and no known magic bytes.
pub const TEXT: &str = "text/plain";
/// MIME type reported when nothing else matches.
pub const UNKNOWN: &str = "application/octet-stream";

/// Asserts that `run` returns `expected` for the bytes fed whole, in 1-byte pieces and split in
/// two at every offset.
#[cfg(test)]
fn assert_same_at_every_split<T: PartialEq + std::fmt::Debug>(
    bytes: &[u8],
    expected: &T,
    run: impl Fn(&[&[u8]]) -> T,
) {
    let printable = String::from_utf8_lossy(bytes);
    assert_eq!(&run(&[bytes]), expected, "{printable:?}");

    let pieces: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(&run(&pieces), expected, "{printable:?} in 1-byte pieces");

    for split in 0..=bytes.len() {
        let (front, back) = bytes.split_at(split);
        let found = run(&[front, back]);
        assert_eq!(&found, expected, "{printable:?} split at {split}");
    }
}

/// Result of comparing declared and detected content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContentCheck {
    /// MIME type the rule expects, or [`UNKNOWN`] when no rule applies.
    pub declared: &'static str,
    /// MIME type the content really has.
    pub detected: &'static str,
    /// Whether the content is accepted under the rule.
    pub matches: bool,
    /// Reason for the rejection in plain words, or `None` when the content matches.
    pub reason: Option<String>,
}
