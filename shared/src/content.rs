//! Content check: does an object's real content match the type its extension claims?

use serde::Serialize;

/// Number of leading bytes kept for magic-byte detection.
pub const HEAD_LEN: usize = 8192;

/// MIME type reported for zero-byte content.
pub const EMPTY: &str = "application/x-empty";
/// MIME type reported for valid UTF-8 text with no control bytes and no known magic bytes.
pub const TEXT: &str = "text/plain";
/// MIME type reported when nothing else matches.
pub const UNKNOWN: &str = "application/octet-stream";

/// Content that an extension must really have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Magic bytes that `infer` must recognise as one of these MIME types.
    Magic(&'static [&'static str]),
    /// UTF-8 text without NUL or other control bytes (tab, newline, carriage return and form feed
    /// are allowed).
    Text,
}

/// One allowed extension: the content type browsers should send and the content it must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub extension: &'static str,
    pub content_type: &'static str,
    pub expected: Expected,
}

const fn magic(extension: &'static str, types: &'static [&'static str]) -> Rule {
    Rule {
        extension,
        content_type: types[0],
        expected: Expected::Magic(types),
    }
}

const fn text(extension: &'static str, content_type: &'static str) -> Rule {
    Rule {
        extension,
        content_type,
        expected: Expected::Text,
    }
}

/// Built-in rules; a deployment chooses a subset of them by extension.
pub const RULES: &[Rule] = &[
    magic("pdf", &["application/pdf"]),
    magic("png", &["image/png"]),
    magic("jpg", &["image/jpeg"]),
    magic("jpeg", &["image/jpeg"]),
    magic("gif", &["image/gif"]),
    magic("webp", &["image/webp"]),
    text("txt", "text/plain"),
    text("csv", "text/csv"),
    text("json", "application/json"),
    text("md", "text/markdown"),
];

/// MIME types refused as text even when the bytes are valid UTF-8.
const EXECUTABLE_TEXT: &[&str] = &["text/x-shellscript", "application/x-sh"];

/// Error raised when a configured extension has no rule.
#[derive(Debug, thiserror::Error)]
#[error("no content rule for extension {0:?}; known extensions: {known}", known = known_extensions())]
pub struct UnknownExtension(pub String);

fn known_extensions() -> String {
    RULES
        .iter()
        .map(|r| r.extension)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The extensions one deployment accepts, each with its rule.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
}

impl Policy {
    /// Builds a policy from a comma-separated extension list; an empty list allows every rule.
    pub fn from_list(list: &str) -> Result<Self, UnknownExtension> {
        let names: Vec<String> = list
            .split(',')
            .map(|s| s.trim().trim_start_matches('.').to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        if names.is_empty() {
            return Ok(Self {
                rules: RULES.to_vec(),
            });
        }
        let rules = names
            .into_iter()
            .map(|name| rule_for(&name).copied().ok_or(UnknownExtension(name)))
            .collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }

    /// Returns the rule for a file name's last extension, if the policy allows it.
    pub fn rule_for_name(&self, file_name: &str) -> Option<&Rule> {
        let extension = extension_of(file_name)?;
        self.rules.iter().find(|r| r.extension == extension)
    }

    /// Lists the allowed extensions.
    pub fn extensions(&self) -> Vec<&'static str> {
        self.rules.iter().map(|r| r.extension).collect()
    }
}

fn rule_for(extension: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.extension == extension)
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

/// Watches a byte stream chunk by chunk and keeps what the content check needs: the leading bytes
/// and whether everything so far is plain text.
#[derive(Debug, Default)]
pub struct Inspector {
    head: Vec<u8>,
    total: u64,
    /// Bytes of a UTF-8 sequence cut by a chunk boundary, carried into the next chunk.
    pending: Vec<u8>,
    text: bool,
    started: bool,
}

impl Inspector {
    /// Creates an inspector that has seen no bytes.
    pub fn new() -> Self {
        Self {
            text: true,
            ..Self::default()
        }
    }

    /// Feeds the next chunk of the object.
    pub fn update(&mut self, chunk: &[u8]) {
        self.started = true;
        self.total += chunk.len() as u64;
        let room = HEAD_LEN.saturating_sub(self.head.len());
        self.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        if self.text {
            self.update_text(chunk);
        }
    }

    fn update_text(&mut self, chunk: &[u8]) {
        let mut buffer = std::mem::take(&mut self.pending);
        buffer.extend_from_slice(chunk);
        if buffer.iter().any(|&b| is_binary_byte(b)) {
            self.text = false;
            return;
        }
        match std::str::from_utf8(&buffer) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => self.pending = buffer[e.valid_up_to()..].to_vec(),
            Err(_) => self.text = false,
        }
    }

    /// Number of bytes seen.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Returns the detected MIME type once the whole object has been fed.
    pub fn detected(&self) -> &'static str {
        if self.total == 0 {
            return EMPTY;
        }
        if let Some(kind) = infer::get(&self.head) {
            return kind.mime_type();
        }
        if self.is_text() { TEXT } else { UNKNOWN }
    }

    fn is_text(&self) -> bool {
        self.text && self.pending.is_empty()
    }

    /// Checks the content seen against a rule.
    pub fn check(&self, rule: &Rule) -> ContentCheck {
        let detected = self.detected();
        let matches = match rule.expected {
            Expected::Magic(types) => types.contains(&detected),
            Expected::Text => {
                self.is_text() && (self.total == 0 || !EXECUTABLE_TEXT.contains(&detected))
            }
        };
        ContentCheck {
            declared: rule.content_type,
            detected,
            matches,
        }
    }
}

fn is_binary_byte(byte: u8) -> bool {
    byte < 0x20 && !matches!(byte, b'\t' | b'\n' | b'\r' | 0x0c)
}

/// Result of comparing declared and detected content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContentCheck {
    pub declared: &'static str,
    pub detected: &'static str,
    pub matches: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect(chunks: &[&[u8]]) -> Inspector {
        let mut inspector = Inspector::new();
        for chunk in chunks {
            inspector.update(chunk);
        }
        inspector
    }

    fn policy() -> Policy {
        Policy::from_list("").unwrap()
    }

    #[test]
    fn extension_is_last_and_lowercase() {
        assert_eq!(extension_of("a/b/Report.PDF").as_deref(), Some("pdf"));
        assert_eq!(extension_of("invoice.pdf.exe").as_deref(), Some("exe"));
        assert_eq!(extension_of("README"), None);
        assert_eq!(extension_of(".bashrc"), None);
        assert_eq!(extension_of("dir.d/file"), None);
    }

    #[test]
    fn policy_rejects_unknown_extension() {
        let err = Policy::from_list("pdf, exe").unwrap_err();
        assert_eq!(err.0, "exe");
        let policy = Policy::from_list(" .PDF ,png").unwrap();
        assert_eq!(policy.extensions(), vec!["pdf", "png"]);
        assert!(policy.rule_for_name("x.txt").is_none());
    }

    #[test]
    fn pdf_header_matches_pdf_rule() {
        let inspector = inspect(&[b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj"]);
        let check = inspector.check(policy().rule_for_name("a.pdf").unwrap());
        assert_eq!(check.detected, "application/pdf");
        assert!(check.matches);
    }

    #[test]
    fn windows_executable_named_pdf_is_detected() {
        let inspector = inspect(&[b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"]);
        let check = inspector.check(policy().rule_for_name("invoice.pdf").unwrap());
        assert_eq!(check.declared, "application/pdf");
        assert_eq!(
            check.detected,
            "application/vnd.microsoft.portable-executable"
        );
        assert!(!check.matches);
    }

    #[test]
    fn utf8_split_across_chunks_is_still_text() {
        let text = "naïve café ✓\n".as_bytes();
        let (first, second) = text.split_at(3);
        let inspector = inspect(&[first, second]);
        assert_eq!(inspector.detected(), TEXT);
        assert!(
            inspector
                .check(policy().rule_for_name("notes.txt").unwrap())
                .matches
        );
    }

    #[test]
    fn text_with_nul_or_bad_utf8_is_not_text() {
        let rule = *policy().rule_for_name("a.csv").unwrap();
        assert!(!inspect(&[b"a,b\n", b"\0\0"]).check(&rule).matches);
        assert!(!inspect(&[b"a,b\xff\n"]).check(&rule).matches);
        assert!(!inspect(&[b"cut \xc3"]).check(&rule).matches);
    }

    #[test]
    fn empty_object_is_text_but_not_pdf() {
        let inspector = inspect(&[]);
        assert_eq!(inspector.detected(), EMPTY);
        assert!(
            inspector
                .check(policy().rule_for_name("a.txt").unwrap())
                .matches
        );
        assert!(
            !inspector
                .check(policy().rule_for_name("a.pdf").unwrap())
                .matches
        );
    }

    #[test]
    fn head_keeps_only_leading_bytes() {
        let big = vec![b'a'; HEAD_LEN * 3];
        let inspector = inspect(&[&big[..100], &big[100..]]);
        assert_eq!(inspector.head.len(), HEAD_LEN);
        assert_eq!(inspector.total(), (HEAD_LEN * 3) as u64);
    }
}
