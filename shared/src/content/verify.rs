//! The rules applied to what an inspector gathered: why content does not match, in plain words.

use super::detect;
use super::inspector::Facts;
use super::magic::{self, Executable, Signature};
use super::office;
use super::pdf::{self, PDF_MAGIC};
use super::rules::{Expected, PolicyOptions, Rule};
use super::zip::{self, Listing, Probe};
use super::{EMPTY, TEXT};

/// Outcome of one rule: `Err` carries the reason for rejection.
pub type Outcome = Result<(), String>;

/// Returns why the content does not match the rule, or `None` when it does.
pub fn reason(rule: &Rule, options: PolicyOptions, facts: &Facts<'_>) -> Option<String> {
    let outcome = match rule.expected {
        Expected::Executable(kind) => program(kind, options, facts),
        expected => {
            reject_program(options, facts).and_then(|()| content(rule, expected, options, facts))
        }
    };
    outcome.err()
}

fn content(rule: &Rule, expected: Expected, options: PolicyOptions, facts: &Facts<'_>) -> Outcome {
    match expected {
        Expected::Signature(signature) => signed(signature, facts),
        Expected::Pdf => pdf_document(options, facts),
        Expected::Zip => zip_archive(options, facts).map(|_| ()),
        Expected::OfficeOpenXml(part) => office::open_xml(rule, part, options, facts),
        Expected::OpenDocument(mime) => office::open_document(rule, mime, options, facts),
        Expected::LegacyOffice(document) => office::legacy(rule, document, options, facts),
        Expected::Text => plain_text(facts),
        Expected::Json => text(facts).and_then(|()| facts.json.map_err(|e| e.to_string())),
        Expected::Markdown => text(facts).and_then(|()| active("Markdown", false, options, facts)),
        Expected::Svg => svg(options, facts),
        Expected::Html => text(facts),
        Expected::Executable(kind) => program(kind, options, facts),
    }
}

/// Rejects a program under any name unless the policy allows executables.
fn reject_program(options: PolicyOptions, facts: &Facts<'_>) -> Outcome {
    match facts.program() {
        Some(found) if !options.allow_executables => Err(format!("content is {}", found.label())),
        _ => Ok(()),
    }
}

fn program(kind: Executable, options: PolicyOptions, facts: &Facts<'_>) -> Outcome {
    if !options.allow_executables {
        return Err("executables are not allowed by this policy".to_string());
    }
    match facts.program() {
        Some(found) if found == kind => Ok(()),
        _ => Err(not_a(kind.label(), facts)),
    }
}

/// Returns the reason for content of the wrong type.
pub fn not_a(label: &str, facts: &Facts<'_>) -> String {
    if facts.total == 0 {
        return format!("content is empty, expected {label}");
    }
    format!(
        "content is not {label} (detected {})",
        detect::detected(facts)
    )
}

fn signed(signature: Signature, facts: &Facts<'_>) -> Outcome {
    if !signature.matches(facts.head) {
        return Err(not_a(signature.label(), facts));
    }
    // Archives may contain a zip as a member. Any other format with a zip at its end is a
    // polyglot, because a zip reader would open it.
    if signature.is_archive() {
        Ok(())
    } else {
        no_hidden_zip(facts)
    }
}

/// Rejects content that ends with a zip archive (a polyglot), whatever comes before it.
pub fn no_hidden_zip(facts: &Facts<'_>) -> Outcome {
    match facts.zip {
        Probe::Absent => Ok(()),
        _ => Err("content also ends with a zip archive (a polyglot file)".to_string()),
    }
}

fn pdf_document(options: PolicyOptions, facts: &Facts<'_>) -> Outcome {
    if !facts.head.starts_with(PDF_MAGIC) {
        let late = facts.head[..facts.head.len().min(1024)]
            .windows(PDF_MAGIC.len())
            .any(|w| w == PDF_MAGIC);
        if late {
            return Err("PDF header %PDF- is not at byte 0".to_string());
        }
        return Err(not_a("a PDF document", facts));
    }
    if !pdf::has_eof_marker(facts.tail) {
        return Err(format!(
            "PDF has no %%EOF marker in its last {} bytes",
            pdf::EOF_WINDOW
        ));
    }
    no_hidden_zip(facts)?;
    if facts.pdf_encrypted && !options.allow_encrypted {
        return Err("PDF is encrypted".to_string());
    }
    Ok(())
}

/// Returns the listing of a zip that fills the whole object, or why it is rejected.
pub fn zip_archive<'a>(
    options: PolicyOptions,
    facts: &'a Facts<'_>,
) -> Result<&'a Listing<'a>, String> {
    let head = facts.head;
    if !head.starts_with(zip::LOCAL_MAGIC) && !head.starts_with(zip::END_MAGIC) {
        return Err(not_a("a zip archive", facts));
    }
    let listing = match &facts.zip {
        Probe::Absent => return Err("zip has no end-of-central-directory record".to_string()),
        Probe::Unreadable(reason) => return Err(reason.clone()),
        Probe::Listed(listing) => listing,
    };
    if listing.prefix > 0 {
        return Err(format!(
            "zip archive is preceded by {} bytes of other data",
            listing.prefix
        ));
    }
    if listing.trailing > 0 {
        return Err(format!(
            "zip archive is followed by {} bytes of other data",
            listing.trailing
        ));
    }
    if listing.is_encrypted() && !options.allow_encrypted {
        return Err("zip is encrypted".to_string());
    }
    Ok(listing)
}

fn text(facts: &Facts<'_>) -> Outcome {
    facts.text.map_err(|e| e.to_string())
}

fn plain_text(facts: &Facts<'_>) -> Outcome {
    text(facts)?;
    let detected = detect::detected(facts);
    // A script only gets here when the policy allows executables, and it is plain text.
    if [TEXT, EMPTY, Executable::Script.mime_type()].contains(&detected) {
        Ok(())
    } else {
        Err(format!("text content is {detected}, not plain text"))
    }
}

fn svg(options: PolicyOptions, facts: &Facts<'_>) -> Outcome {
    text(facts)?;
    if !magic::has_svg_root(facts.head) {
        return Err(not_a("an SVG image", facts));
    }
    active("SVG", true, options, facts)
}

/// Rejects active content unless the policy allows it. Set `xml` for XML formats, where entity
/// declarations and stylesheet instructions count too.
fn active(format: &str, xml: bool, options: PolicyOptions, facts: &Facts<'_>) -> Outcome {
    match facts.markup.found(xml) {
        Some(found) if !options.allow_active_content => {
            Err(format!("{format} contains {}", found.label()))
        }
        _ => Ok(()),
    }
}
