//! Search for active content in markup (SVG, HTML, Markdown) over the whole stream.
//!
//! The search is a byte scan, not a parser, so it errs towards rejection: it also matches inside
//! comments, CDATA and text, so an SVG whose text reads `onion = 3` is rejected too.

use super::search::NeedleSearch;

/// Active content found in markup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveContent {
    /// A `<script` element, with or without a namespace prefix.
    Script,
    /// An event-handler attribute such as `onload=`.
    EventHandler,
    /// A `<foreignObject` element, which embeds HTML in SVG.
    ForeignObject,
    /// A `javascript:` or `vbscript:` URL.
    ScriptUrl,
    /// An `<iframe` element.
    Iframe,
    /// An `<embed` element.
    Embed,
    /// An `<object` element.
    Object,
    /// An `<!ENTITY` declaration, which XML parsers expand (entity expansion and external
    /// entities).
    Entity,
    /// An `<?xml-stylesheet` instruction, which can apply XSLT that writes scripts.
    Stylesheet,
}

impl ActiveContent {
    /// Returns what was found, with an article, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Script => "a script element",
            Self::EventHandler => "an event-handler attribute",
            Self::ForeignObject => "a foreignObject element",
            Self::ScriptUrl => "a javascript: URL",
            Self::Iframe => "an iframe element",
            Self::Embed => "an embed element",
            Self::Object => "an object element",
            Self::Entity => "an XML entity declaration",
            Self::Stylesheet => "an xml-stylesheet instruction",
        }
    }

    /// Tells whether the finding only matters where the text is parsed as XML.
    pub fn is_xml_only(self) -> bool {
        matches!(self, Self::Entity | Self::Stylesheet)
    }
}

/// Lowercase needles, searched in the stream after character references are decoded and tab,
/// line feed and carriage return are dropped, as browsers drop them inside URL schemes.
const NEEDLES: &[(&[u8], ActiveContent)] = &[
    (b"<script", ActiveContent::Script),
    (b":script", ActiveContent::Script),
    (b"<foreignobject", ActiveContent::ForeignObject),
    (b":foreignobject", ActiveContent::ForeignObject),
    (b"javascript:", ActiveContent::ScriptUrl),
    (b"vbscript:", ActiveContent::ScriptUrl),
    (b"<iframe", ActiveContent::Iframe),
    (b"<embed", ActiveContent::Embed),
    (b"<object", ActiveContent::Object),
    (b"<!entity", ActiveContent::Entity),
    (b"<?xml-stylesheet", ActiveContent::Stylesheet),
];

const NEEDLE_BYTES: &[&[u8]] = &{
    let mut bytes: [&[u8]; NEEDLES.len()] = [b""; NEEDLES.len()];
    let mut i = 0;
    while i < NEEDLES.len() {
        bytes[i] = NEEDLES[i].0;
        i += 1;
    }
    bytes
};

/// Streaming search for active content, in constant memory.
#[derive(Debug, Clone)]
pub struct MarkupScan {
    needles: NeedleSearch,
    reference: Option<Reference>,
    handler: Handler,
    handler_found: bool,
}

impl Default for MarkupScan {
    fn default() -> Self {
        Self {
            needles: NeedleSearch::new(NEEDLE_BYTES),
            reference: None,
            handler: Handler::Separator,
            handler_found: false,
        }
    }
}

impl MarkupScan {
    /// Feeds the next chunk of the stream.
    pub fn update(&mut self, chunk: &[u8]) {
        for &byte in chunk {
            let byte = byte.to_ascii_lowercase();
            self.handler = self.handler.next(byte);
            self.handler_found |= self.handler == Handler::Found;
            self.decode(byte);
        }
    }

    /// Returns the active content found, the first in declaration order when there are
    /// several, skipping XML-only findings unless `xml` is set.
    pub fn found(&self, xml: bool) -> Option<ActiveContent> {
        let needles = NEEDLES
            .iter()
            .enumerate()
            .filter(|(index, _)| self.needles.found(*index))
            .map(|(_, (_, found))| *found);
        let handler = self.handler_found.then_some(ActiveContent::EventHandler);
        needles
            .chain(handler)
            .filter(|found| xml || !found.is_xml_only())
            .min_by_key(|found| *found as u8)
    }

    /// Decodes numeric character references and `&colon;`, `&tab;` and `&newline;`, which
    /// attribute values may use to hide `javascript:`.
    fn decode(&mut self, byte: u8) {
        if let Some(reference) = &mut self.reference {
            if reference.accept(byte) {
                return;
            }
            let reference = self.reference.take().expect("reference is open");
            reference.flush(|b| self.emit(b));
            if byte == b';' && reference.decodes() {
                return;
            }
        }
        if byte == b'&' {
            self.reference = Some(Reference::default());
        } else {
            self.emit(byte);
        }
    }

    fn emit(&mut self, byte: u8) {
        if !matches!(byte, b'\t' | b'\n' | b'\r') {
            self.needles.push(byte.to_ascii_lowercase());
        }
    }
}

/// A character reference being read: `&` and what follows it.
#[derive(Debug, Clone, Default)]
struct Reference {
    name: [u8; 8],
    len: usize,
    numeric: bool,
    hex: bool,
    digits: usize,
    value: u32,
}

impl Reference {
    /// Takes the next byte if it continues the reference.
    fn accept(&mut self, byte: u8) -> bool {
        let radix = if self.hex { 16 } else { 10 };
        match byte {
            b'#' if self.len == 0 && !self.numeric => self.numeric = true,
            b'x' if self.numeric && !self.hex && self.digits == 0 => self.hex = true,
            _ if self.numeric => match char::from(byte).to_digit(radix) {
                Some(digit) => {
                    self.digits += 1;
                    self.value = self.value.saturating_mul(radix).saturating_add(digit);
                }
                None => return false,
            },
            b'a'..=b'z' if self.len < self.name.len() => {
                self.name[self.len] = byte;
                self.len += 1;
            }
            _ => return false,
        }
        true
    }

    /// Tells whether the reference stands for a character.
    fn decodes(&self) -> bool {
        self.character().is_some()
    }

    fn character(&self) -> Option<u8> {
        if self.numeric {
            // Characters outside ASCII cannot complete a needle, so any of them will do.
            return (self.digits > 0).then(|| u8::try_from(self.value).unwrap_or(0x80).min(0x80));
        }
        match &self.name[..self.len] {
            b"colon" => Some(b':'),
            b"tab" => Some(b'\t'),
            b"newline" => Some(b'\n'),
            _ => None,
        }
    }

    /// Emits the decoded character, or the bytes read when the reference stands for none.
    fn flush(&self, mut emit: impl FnMut(u8)) {
        if let Some(character) = self.character() {
            return emit(character);
        }
        emit(b'&');
        if self.numeric {
            emit(b'#');
        }
        if self.hex {
            emit(b'x');
        }
        self.name[..self.len].iter().for_each(|b| emit(*b));
    }
}

/// Position in an event-handler attribute, `on` plus letters plus optional whitespace plus `=`,
/// that does not continue a longer name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handler {
    /// The previous byte cannot be part of an attribute name.
    Separator,
    /// The previous byte is part of a name that does not start with `on`.
    Name,
    O,
    On,
    /// `on` and at least one letter.
    Letters,
    /// The letters and whitespace after them.
    Space,
    Found,
}

impl Handler {
    fn next(self, byte: u8) -> Self {
        let letter = byte.is_ascii_lowercase();
        match (self, byte) {
            (Self::Separator | Self::Found, b'o') => Self::O,
            (Self::O, b'n') => Self::On,
            (Self::On | Self::Letters, _) if letter => Self::Letters,
            (Self::Letters | Self::Space, b'=') => Self::Found,
            (Self::Letters | Self::Space, _) if byte.is_ascii_whitespace() => Self::Space,
            _ if byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.') => Self::Name,
            _ => Self::Separator,
        }
    }
}
