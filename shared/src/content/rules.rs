//! The table of allowed extensions and the policy a deployment builds from it.

use super::inspector::Inspector;
use super::magic::{Executable, Signature};
use super::ole::OleDocument;
use super::{ContentCheck, UNKNOWN};

/// Content that an extension must really have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Binary format recognised by its leading bytes.
    Signature(Signature),
    /// PDF document: `%PDF-` at byte 0 and `%%EOF` in the last 1024 bytes.
    Pdf,
    /// Zip archive that starts at byte 0 and ends with its end-of-central-directory record.
    Zip,
    /// Office Open XML package: a zip containing `[Content_Types].xml` and this main part.
    OfficeOpenXml(&'static str),
    /// OpenDocument package: a zip whose first entry, `mimetype`, is stored uncompressed and
    /// contains this MIME type.
    OpenDocument(&'static str),
    /// Word, Excel or PowerPoint 97-2003 document: an OLE compound file with the main stream.
    LegacyOffice(OleDocument),
    /// UTF-8 text without NUL or other control bytes (tab, newline, carriage return and form
    /// feed are allowed) and without the signature of another format.
    Text,
    /// Text that is one valid JSON document.
    Json,
    /// Text without active content, because Markdown renderers pass raw HTML through.
    Markdown,
    /// Text with an `<svg` root element and without active content.
    Svg,
    /// Text served as HTML. Only a policy with `allow_active_content` lists this rule.
    Html,
    /// Program of this kind. Only a policy with `allow_executables` lists this rule.
    Executable(Executable),
}

/// One allowed extension: the content type browsers should send and the content it must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Lowercase extension without the dot.
    pub extension: &'static str,
    /// MIME type the upload must declare.
    pub content_type: &'static str,
    /// Content the bytes must have.
    pub expected: Expected,
}

impl Rule {
    /// Returns the policy option this rule needs, if any.
    fn required_option(&self) -> Option<&'static str> {
        match self.expected {
            Expected::Executable(_) => Some("allow_executables"),
            Expected::Html => Some("allow_active_content"),
            _ => None,
        }
    }
}

const fn rule(extension: &'static str, content_type: &'static str, expected: Expected) -> Rule {
    Rule {
        extension,
        content_type,
        expected,
    }
}

const fn signature(extension: &'static str, content_type: &'static str, kind: Signature) -> Rule {
    rule(extension, content_type, Expected::Signature(kind))
}

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const PPTX: &str = "application/vnd.openxmlformats-officedocument.presentationml.presentation";
const ODT: &str = "application/vnd.oasis.opendocument.text";
const ODS: &str = "application/vnd.oasis.opendocument.spreadsheet";
const ODP: &str = "application/vnd.oasis.opendocument.presentation";
const PE: &str = "application/vnd.microsoft.portable-executable";

/// Built-in rules; a deployment chooses a subset of them by extension.
///
/// `.html` and `.htm` are listed only when a policy sets `allow_active_content`. An HTML file
/// served from the storage origin runs in that origin. Even without scripts it can post forms,
/// redirect or load remote content, so no byte check makes it safe. Executable extensions are
/// listed only when a policy sets `allow_executables`.
pub const RULES: &[Rule] = &[
    signature("jpg", "image/jpeg", Signature::Jpeg),
    signature("jpeg", "image/jpeg", Signature::Jpeg),
    signature("png", "image/png", Signature::Png),
    signature("gif", "image/gif", Signature::Gif),
    signature("webp", "image/webp", Signature::Webp),
    signature("tiff", "image/tiff", Signature::Tiff),
    signature("tif", "image/tiff", Signature::Tiff),
    signature("bmp", "image/bmp", Signature::Bmp),
    signature("heic", "image/heic", Signature::Heic),
    rule("svg", "image/svg+xml", Expected::Svg),
    rule("pdf", "application/pdf", Expected::Pdf),
    rule("docx", DOCX, Expected::OfficeOpenXml("word/document.xml")),
    rule("xlsx", XLSX, Expected::OfficeOpenXml("xl/workbook.xml")),
    rule(
        "pptx",
        PPTX,
        Expected::OfficeOpenXml("ppt/presentation.xml"),
    ),
    rule("odt", ODT, Expected::OpenDocument(ODT)),
    rule("ods", ODS, Expected::OpenDocument(ODS)),
    rule("odp", ODP, Expected::OpenDocument(ODP)),
    rule(
        "doc",
        "application/msword",
        Expected::LegacyOffice(OleDocument::Word),
    ),
    rule(
        "xls",
        "application/vnd.ms-excel",
        Expected::LegacyOffice(OleDocument::Excel),
    ),
    rule(
        "ppt",
        "application/vnd.ms-powerpoint",
        Expected::LegacyOffice(OleDocument::PowerPoint),
    ),
    rule("zip", "application/zip", Expected::Zip),
    signature("gz", "application/gzip", Signature::Gzip),
    signature("tar", "application/x-tar", Signature::Tar),
    signature("7z", "application/x-7z-compressed", Signature::SevenZip),
    signature("mp3", "audio/mpeg", Signature::Mp3),
    signature("mp4", "video/mp4", Signature::Mp4),
    signature("mov", "video/quicktime", Signature::QuickTime),
    signature("wav", "audio/wav", Signature::Wav),
    rule("txt", "text/plain", Expected::Text),
    rule("csv", "text/csv", Expected::Text),
    rule("json", "application/json", Expected::Json),
    rule("md", "text/markdown", Expected::Markdown),
    rule("html", "text/html", Expected::Html),
    rule("htm", "text/html", Expected::Html),
    rule("exe", PE, Expected::Executable(Executable::Windows)),
    rule("dll", PE, Expected::Executable(Executable::Windows)),
    rule(
        "so",
        "application/x-sharedlib",
        Expected::Executable(Executable::Elf),
    ),
    rule(
        "dylib",
        "application/x-mach-binary",
        Expected::Executable(Executable::MachO),
    ),
    rule(
        "sh",
        "application/x-sh",
        Expected::Executable(Executable::Script),
    ),
];

/// Kinds of content a policy rejects unless it allows them explicitly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyOptions {
    /// Accept programs: lists the executable extensions and lets text start with `#!`.
    pub allow_executables: bool,
    /// Accept scripts, event handlers, embedded frames and macros, and list `.html` and `.htm`.
    pub allow_active_content: bool,
    /// Accept encrypted zips, encrypted PDFs and password-protected Office files, which the
    /// virus scanner cannot read.
    pub allow_encrypted: bool,
}

impl PolicyOptions {
    fn permits(&self, rule: &Rule) -> bool {
        match rule.expected {
            Expected::Executable(_) => self.allow_executables,
            Expected::Html => self.allow_active_content,
            _ => true,
        }
    }
}

/// Error raised when an extension list names an extension the policy cannot allow.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The table has no rule for the extension.
    #[error("no content rule for extension {0:?}; known extensions: {known}", known = known_extensions())]
    UnknownExtension(String),
    /// The rule exists but needs an option that is not set.
    #[error("extension {extension:?} is allowed only when the policy option {option} is set")]
    NeedsOption {
        /// Extension as listed.
        extension: String,
        /// Name of the `PolicyOptions` field to set.
        option: &'static str,
    },
}

fn known_extensions() -> String {
    RULES
        .iter()
        .map(|r| r.extension)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The extensions one deployment accepts, each with its rule, and the options for the content
/// that is rejected by default.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
    options: PolicyOptions,
}

impl Policy {
    /// Builds a policy with default options from a comma-separated extension list. An empty
    /// list allows every rule that needs no option.
    pub fn from_list(list: &str) -> Result<Self, PolicyError> {
        Self::with_options(list, PolicyOptions::default())
    }

    /// Builds a policy from a comma-separated extension list and options. An empty list allows
    /// every rule the options permit.
    pub fn with_options(list: &str, options: PolicyOptions) -> Result<Self, PolicyError> {
        let names: Vec<String> = list
            .split(',')
            .map(|s| s.trim().trim_start_matches('.').to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        if names.is_empty() {
            let rules = RULES.iter().filter(|r| options.permits(r)).copied();
            return Ok(Self {
                rules: rules.collect(),
                options,
            });
        }
        let rules = names
            .into_iter()
            .map(|name| {
                let rule = rule_for(&name).ok_or(PolicyError::UnknownExtension(name.clone()))?;
                match rule.required_option() {
                    Some(option) if !options.permits(rule) => Err(PolicyError::NeedsOption {
                        extension: name,
                        option,
                    }),
                    _ => Ok(*rule),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { rules, options })
    }

    /// Returns the options for content rejected by default.
    pub fn options(&self) -> PolicyOptions {
        self.options
    }

    /// Returns the rule for a file name's last extension, if the policy allows it.
    ///
    /// A name whose last extension is executable and whose previous one is a non-executable
    /// extension from the table, such as `invoice.pdf.exe`, gets no rule even when executables
    /// are allowed, because the name is built to look like a harmless type.
    pub fn rule_for_name(&self, file_name: &str) -> Option<&Rule> {
        if disguised_extension(file_name).is_some() {
            return None;
        }
        let extension = extension_of(file_name)?;
        self.rules.iter().find(|r| r.extension == extension)
    }

    /// Lists the allowed extensions.
    pub fn extensions(&self) -> Vec<&'static str> {
        self.rules.iter().map(|r| r.extension).collect()
    }

    /// Checks content against the rule for a file name with this policy's options. A name with
    /// no extension, or with one the policy does not allow, does not match and has declared
    /// type [`UNKNOWN`].
    pub fn check(&self, file_name: &str, inspector: &Inspector) -> ContentCheck {
        if let Some(rule) = self.rule_for_name(file_name) {
            return inspector.check_with(rule, self.options);
        }
        let reason = match extension_of(file_name) {
            None => "file name has no extension".to_string(),
            Some(last) if !self.rules.iter().any(|r| r.extension == last) => {
                format!("extension .{last} is not allowed")
            }
            Some(last) => {
                let previous = disguised_extension(file_name).unwrap_or_default();
                format!("file name hides a .{last} program behind .{previous}")
            }
        };
        ContentCheck {
            declared: UNKNOWN,
            detected: inspector.detected(),
            matches: false,
            reason: Some(reason),
        }
    }
}

fn rule_for(extension: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.extension == extension)
}

/// Returns the previous extension when it disguises an executable last extension.
fn disguised_extension(file_name: &str) -> Option<String> {
    let last = extension_of(file_name)?;
    if !matches!(rule_for(&last)?.expected, Expected::Executable(_)) {
        return None;
    }
    let stem = &file_name[..file_name.len() - last.len() - 1];
    let previous = extension_of(stem)?;
    let rule = rule_for(&previous)?;
    (!matches!(rule.expected, Expected::Executable(_))).then_some(previous)
}

/// Returns the lowercase last extension of a file name or key, without the dot.
pub fn extension_of(name: &str) -> Option<String> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let (stem, extension) = base.rsplit_once('.')?;
    if stem.is_empty() || extension.is_empty() {
        return None;
    }
    Some(extension.to_ascii_lowercase())
}
