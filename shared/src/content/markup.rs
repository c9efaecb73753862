//! Search for active content in markup (SVG, HTML, Markdown) over the whole stream.
//!
//! The search is a byte scan, not a parser, so it errs towards rejection: it also matches inside
//! comments, CDATA and text, so an SVG whose text reads `onion = 3` is rejected too.

use memchr::memmem::Finder;

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
    /// Search for `on`, the start of every event-handler name.
    name_start: Finder<'static>,
}

impl Default for MarkupScan {
    fn default() -> Self {
        Self {
            needles: NeedleSearch::new(NEEDLE_BYTES),
            reference: None,
            handler: Handler::Separator,
            handler_found: false,
            name_start: Finder::new(b"on"),
        }
    }
}

/// Number of bytes of a chunk lowercased at a time, in a buffer on the stack.
const BLOCK_LEN: usize = 4096;

impl MarkupScan {
    /// Feeds the next chunk of the stream.
    pub fn update(&mut self, chunk: &[u8]) {
        let mut buffer = [0; BLOCK_LEN];
        for block in chunk.chunks(BLOCK_LEN) {
            let lower = &mut buffer[..block.len()];
            lower.copy_from_slice(block);
            lower.make_ascii_lowercase();
            // The handler search and the decoder share no state, so each runs over the whole
            // block in turn.
            self.find_handler(lower);
            self.decode_all(lower);
        }
    }

    /// Runs the event-handler state machine over lowercased bytes until it finds a handler.
    fn find_handler(&mut self, lower: &[u8]) {
        let mut rest = lower;
        while !self.handler_found {
            if matches!(self.handler, Handler::Separator | Handler::Name) {
                rest = self.skip_to_name_start(rest);
            }
            let Some((&byte, tail)) = rest.split_first() else {
                return;
            };
            self.handler = self.handler.next(byte);
            self.handler_found |= self.handler == Handler::Found;
            rest = tail;
        }
    }

    /// Skips, from the `Separator` or `Name` state, to the next `on` that follows a separator,
    /// and returns the bytes from there on. Sets the state to the one after the skipped bytes.
    ///
    /// In these two states, and in `O`, which an `o` after a separator leads to, the state
    /// after each byte depends only on that byte and the one before it. The machine leaves
    /// these three states only at an `on` that follows a separator, so the bytes before such an
    /// `on` need not be fed one at a time.
    fn skip_to_name_start<'a>(&mut self, lower: &'a [u8]) -> &'a [u8] {
        let follows_separator = |at: usize| match at.checked_sub(1) {
            Some(before) => !is_name_byte(lower[before]),
            None => self.handler == Handler::Separator,
        };
        let mut from = 0;
        while let Some(found) = self.name_start.find(&lower[from..]) {
            let at = from + found;
            if follows_separator(at) {
                self.handler = Handler::Separator;
                return &lower[at..];
            }
            from = at + 1;
        }
        if let Some(&last) = lower.last() {
            self.handler = if last == b'o' && follows_separator(lower.len() - 1) {
                Handler::O
            } else if is_name_byte(last) {
                Handler::Name
            } else {
                Handler::Separator
            };
        }
        &lower[lower.len()..]
    }

    /// Decodes lowercased bytes and feeds the result to the needle search. Runs without `&`
    /// go to the search in slices, and the bytes of a character reference one at a time.
    fn decode_all(&mut self, lower: &[u8]) {
        let mut rest = lower;
        loop {
            if self.reference.is_none() {
                let plain = memchr::memchr(b'&', rest).unwrap_or(rest.len());
                self.emit_plain(&rest[..plain]);
                rest = &rest[plain..];
            }
            let Some((&byte, tail)) = rest.split_first() else {
                return;
            };
            self.decode(byte);
            rest = tail;
        }
    }

    /// Feeds lowercased bytes outside any character reference to the needle search, without
    /// the tab, line feed and carriage return bytes that [`Self::emit`] drops.
    fn emit_plain(&mut self, lower: &[u8]) {
        let mut rest = lower;
        while let Some(at) = memchr::memchr3(b'\t', b'\n', b'\r', rest) {
            self.needles.update(&rest[..at]);
            rest = &rest[at + 1..];
        }
        self.needles.update(rest);
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
/// that does not continue a longer name. Whitespace after a name that is not followed by `=`
/// ends that name, so an `o` there can start the next one (`<svg onx onload=...>`).
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
            (Self::Separator | Self::Found | Self::Space, b'o') => Self::O,
            (Self::O, b'n') => Self::On,
            (Self::On | Self::Letters, _) if letter => Self::Letters,
            (Self::Letters | Self::Space, b'=') => Self::Found,
            (Self::Letters | Self::Space, _) if byte.is_ascii_whitespace() => Self::Space,
            _ if is_name_byte(byte) => Self::Name,
            _ => Self::Separator,
        }
    }
}

/// Tells whether a byte can be part of an attribute name.
fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.')
}

#[cfg(test)]
mod tests {
    use super::super::assert_same_at_every_split;
    use super::ActiveContent::*;
    use super::*;

    /// Returns what the scan finds in the pieces, first with XML-only findings, then without.
    fn scan<'a>(
        pieces: impl IntoIterator<Item = &'a [u8]>,
    ) -> (Option<ActiveContent>, Option<ActiveContent>) {
        let mut scan = MarkupScan::default();
        pieces.into_iter().for_each(|piece| scan.update(piece));
        (scan.found(true), scan.found(false))
    }

    /// Asserts that the bytes give `expected`, and the same findings whether fed whole, in
    /// 1-byte pieces or split in two at any offset.
    fn assert_found_at_every_split(bytes: &[u8], expected: Option<ActiveContent>) {
        let whole = scan([bytes]);
        assert_eq!(whole.0, expected, "{:?}", String::from_utf8_lossy(bytes));
        assert_same_at_every_split(bytes, &whole, |pieces| scan(pieces.iter().copied()));
    }

    #[test]
    fn findings_do_not_depend_on_splits() {
        let cases: &[(&[u8], Option<ActiveContent>)] = &[
            (b"<script", Some(Script)),
            (b"<svg><SCRIPT>x()</script></svg>", Some(Script)),
            (b"<svg:script>", Some(Script)),
            (b"<foreignObject>", Some(ForeignObject)),
            (b"<a href=\"jav&#x61;script:x()\">", Some(ScriptUrl)),
            (b"<a href=\"java\tscr\nipt&colon;x()\">", Some(ScriptUrl)),
            (b"<a href=\"javascript&#58\">", Some(ScriptUrl)),
            (b"<a href=\"&#0000106;avascript&COLON;\">", Some(ScriptUrl)),
            (b"x vbscript:", Some(ScriptUrl)),
            (b"&amp;&#x3c;iframe", Some(Iframe)),
            (b"&&#60;iframe", Some(Iframe)),
            (b"<embed src=x>", Some(Embed)),
            (b"<object data=x>", Some(Object)),
            (b"<!ENTITY x \"y\">", Some(Entity)),
            (b"<?xml-stylesheet href=\"x\"?>", Some(Stylesheet)),
            (b"onclick =x", Some(EventHandler)),
            (b"<rect onload=\"x()\"/>", Some(EventHandler)),
            (b"<svg/ONLOAD\t=x>", Some(EventHandler)),
            (b"<svg onx onload=alert(1)>", Some(EventHandler)),
            (b"<svg onx\n\tonclick = y>", Some(EventHandler)),
            (b"<svg onx one two>", None),
            (b"<rect data-onload=x/>", None),
            (b"<rect x=\"on\" y=\"one\"/>", None),
            (b"<p>options on show, on=</p>", None),
            (b"<p>plain text &amp; &#x3b; &unknown; o</p>", None),
            (b"", None),
        ];
        for &(bytes, expected) in cases {
            assert_found_at_every_split(bytes, expected);
        }
    }

    #[test]
    fn xml_only_findings_are_skipped_without_xml() {
        let (with_xml, without_xml) = scan([b"<!entity a 'b'><?xml-stylesheet".as_slice()]);
        assert_eq!(with_xml, Some(Entity));
        assert_eq!(without_xml, None);
    }

    #[test]
    fn handler_across_lowercase_blocks_is_found() {
        for start in BLOCK_LEN - 8..BLOCK_LEN + 2 {
            let mut bytes = vec![b' '; 2 * BLOCK_LEN];
            bytes[start..start + 7].copy_from_slice(b"onload=");
            assert_eq!(scan([bytes.as_slice()]).0, Some(EventHandler), "at {start}");
            let mut hidden = bytes.clone();
            hidden[start - 1] = b'x';
            assert_eq!(scan([hidden.as_slice()]).0, None, "after a name at {start}");
        }
    }
}
