//! The MIME type reported as detected, for verdicts and logs.
//!
//! Programs, zips and compound files are named by this module's own checks, because `infer`
//! 0.22 looks only at the head: it reports a python-docx `.docx`, whose parts come in another
//! order, as plain `application/zip`. Everything else falls back to `infer`.

use super::inspector::Facts;
use super::magic::{self, TEXT_SIGNATURES};
use super::ole::OLE_MAGIC;
use super::pdf::PDF_MAGIC;
use super::zip::{self, Listing, Probe};
use super::{EMPTY, TEXT, UNKNOWN};

/// Office Open XML types by main part.
pub const OFFICE_OPEN_XML: &[(&str, &str)] = &[
    (
        "word/document.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    (
        "xl/workbook.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    (
        "ppt/presentation.xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
];

/// Types named by the `mimetype` entry of OpenDocument and EPUB packages.
const PACKAGE_TYPES: &[&str] = &[
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/vnd.oasis.opendocument.graphics",
    "application/epub+zip",
];

/// Part every Office Open XML package has.
pub const CONTENT_TYPES: &str = "[Content_Types].xml";

const ZIP: &str = "application/zip";
const SVG: &str = "image/svg+xml";

/// Returns the MIME type the content really has.
pub fn detected(facts: &Facts<'_>) -> &'static str {
    if facts.total == 0 {
        return EMPTY;
    }
    if let Some(program) = facts.program() {
        return program.mime_type();
    }
    if facts.head.starts_with(zip::LOCAL_MAGIC) || facts.head.starts_with(zip::END_MAGIC) {
        return match &facts.zip {
            Probe::Listed(listing) => zip_type(facts.head, listing),
            _ => infer_type(facts.head).unwrap_or(ZIP),
        };
    }
    if facts.head.starts_with(OLE_MAGIC) {
        return facts
            .ole
            .map_or(super::ole::OLE_STORAGE, |ole| ole.mime_type());
    }
    if facts.text.is_ok() {
        return text_type(facts.head);
    }
    infer_type(facts.head).unwrap_or(UNKNOWN)
}

fn text_type(head: &[u8]) -> &'static str {
    if head.starts_with(PDF_MAGIC) {
        return "application/pdf";
    }
    if magic::has_svg_root(head) {
        return SVG;
    }
    infer_type(head)
        .filter(|found| TEXT_SIGNATURES.contains(found))
        .unwrap_or(TEXT)
}

/// Returns the package type of a zip from its entries.
pub fn zip_type(head: &[u8], listing: &Listing<'_>) -> &'static str {
    if listing.contains(CONTENT_TYPES)
        && let Some((_, mime)) = OFFICE_OPEN_XML.iter().find(|(p, _)| listing.contains(p))
    {
        return mime;
    }
    let named = zip::first_entry(head)
        .filter(|entry| entry.name == b"mimetype")
        .and_then(|entry| entry.data);
    if let Some(found) = named.and_then(|data| PACKAGE_TYPES.iter().find(|t| t.as_bytes() == data))
    {
        return found;
    }
    if listing.contains("META-INF/MANIFEST.MF") {
        return "application/java-archive";
    }
    ZIP
}

fn infer_type(head: &[u8]) -> Option<&'static str> {
    infer::get(head).map(|kind| kind.mime_type())
}
