//! Rules for Office Open XML, OpenDocument and Office 97-2003 documents.

use super::detect::CONTENT_TYPES;
use super::inspector::Facts;
use super::ole::{OLE_MAGIC, OleDocument};
use super::rules::{PolicyOptions, Rule};
use super::verify::{Outcome, no_hidden_zip, not_a, zip_archive};
use super::zip;

/// Entry every OpenDocument package has, listing its parts.
const MANIFEST: &str = "META-INF/manifest.xml";

/// Directories where Office Open XML packages keep ActiveX controls.
const ACTIVEX_DIRECTORIES: &[&str] = &["word/activeX/", "xl/activeX/", "ppt/activeX/"];

/// Directories where OpenDocument packages keep Basic and other macros.
const ODF_MACRO_DIRECTORIES: &[&str] = &["Basic/", "Scripts/"];

/// Checks an Office Open XML package: a zip with `[Content_Types].xml` and the main part, or a
/// password-protected package, which Office stores as an OLE compound file.
pub fn open_xml(rule: &Rule, part: &str, options: PolicyOptions, facts: &Facts<'_>) -> Outcome {
    if facts.head.starts_with(OLE_MAGIC) {
        return encrypted_package(rule, options, facts);
    }
    let listing = zip_archive(options, facts)?;
    for name in [CONTENT_TYPES, part] {
        if !listing.contains(name) {
            return Err(format!("zip has no {name}"));
        }
    }
    if options.allow_active_content {
        return Ok(());
    }
    if let Some(name) = listing.find_suffix("vbaProject.bin") {
        return Err(format!("{} contains VBA macros ({name})", rule.extension));
    }
    if let Some(name) = listing.find_prefix(ACTIVEX_DIRECTORIES) {
        return Err(format!(
            "{} contains ActiveX controls ({name})",
            rule.extension
        ));
    }
    Ok(())
}

/// Accepts a compound file named as Office Open XML only when it contains an encrypted package
/// and the policy allows encryption. Its real parts cannot be checked without the password.
fn encrypted_package(rule: &Rule, options: PolicyOptions, facts: &Facts<'_>) -> Outcome {
    let encrypted = facts.ole.is_some_and(|ole| ole.is_encrypted_package());
    if !encrypted {
        return Err(not_a(&format!("a .{} package", rule.extension), facts));
    }
    if !options.allow_encrypted {
        return Err(format!("{} is password-protected", rule.extension));
    }
    no_hidden_zip(facts)
}

/// Checks an OpenDocument package: its first entry is the uncompressed `mimetype` file naming
/// the expected type, and it has a manifest.
///
/// NOTE: encryption of OpenDocument parts is declared in the compressed manifest, which this
/// check does not inflate, so a password-protected OpenDocument file is not detected.
pub fn open_document(
    rule: &Rule,
    mime: &str,
    options: PolicyOptions,
    facts: &Facts<'_>,
) -> Outcome {
    let listing = zip_archive(options, facts)?;
    let first = zip::first_entry(facts.head)
        .filter(|entry| entry.name == b"mimetype")
        .ok_or("zip's first entry is not mimetype")?;
    if first.method != 0 {
        return Err("mimetype entry is compressed, but OpenDocument stores it uncompressed".into());
    }
    let data = first
        .data
        .ok_or("mimetype entry has no readable size or content")?;
    if data != mime.as_bytes() {
        let found = String::from_utf8_lossy(&data[..data.len().min(100)]);
        return Err(format!("mimetype entry names {found:?}, expected {mime}"));
    }
    if !listing.contains(MANIFEST) {
        return Err(format!("zip has no {MANIFEST}"));
    }
    match listing.find_prefix(ODF_MACRO_DIRECTORIES) {
        Some(name) if !options.allow_active_content => {
            Err(format!("{} contains macros ({name})", rule.extension))
        }
        _ => Ok(()),
    }
}

/// Checks an Office 97-2003 document: an OLE compound file with the main stream of its kind.
///
/// NOTE: password protection of these formats (RC4 encryption flagged inside the main stream)
/// is not detected.
pub fn legacy(
    rule: &Rule,
    document: OleDocument,
    options: PolicyOptions,
    facts: &Facts<'_>,
) -> Outcome {
    let Some(ole) = facts.ole else {
        return Err(not_a(document.label(), facts));
    };
    if ole.is_encrypted_package() && !options.allow_encrypted {
        return Err(format!("{} is password-protected", rule.extension));
    }
    if !ole.has_stream(document) {
        return Err(format!("compound file has no {} stream", document.stream()));
    }
    no_hidden_zip(facts)?;
    if ole.has_macros() && !options.allow_active_content {
        return Err(format!("{} contains VBA macros", rule.extension));
    }
    Ok(())
}
