//! Streaming JSON syntax check (RFC 8259) in constant memory.
//!
//! Nesting is limited to [`MAX_DEPTH`] levels, the default recursion limit of `serde_json`, so
//! the stack of open containers fits in one `u128`. Strings are checked for escapes and control
//! characters; UTF-8 validity is checked by the text check. A leading UTF-8 byte order mark is
//! ignored, as RFC 8259 section 8.1 permits.
//!
//! NOTE: `\u` escapes of unpaired surrogates are accepted, although `serde_json` rejects them.

use std::fmt;

/// Maximum nesting of arrays and objects.
pub const MAX_DEPTH: u32 = 128;

/// Reason the content is not one valid JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// The content is empty or only whitespace.
    Empty,
    /// The document stops before its end.
    Truncated,
    /// This byte cannot appear at this offset.
    Unexpected { offset: u64, byte: u8 },
    /// Arrays and objects nest deeper than [`MAX_DEPTH`] at this offset.
    TooDeep { offset: u64 },
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "JSON document is empty"),
            Self::Truncated => write!(f, "JSON document ends before it is complete"),
            Self::Unexpected { offset, byte } if byte.is_ascii_graphic() => write!(
                f,
                "JSON is invalid: unexpected {:?} at byte {offset}",
                char::from(*byte)
            ),
            Self::Unexpected { offset, byte } => write!(
                f,
                "JSON is invalid: unexpected byte 0x{byte:02x} at byte {offset}"
            ),
            Self::TooDeep { offset } => write!(
                f,
                "JSON nests deeper than {MAX_DEPTH} levels at byte {offset}"
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A value must follow: at the start, after `:` or after `,` in an array.
    Value,
    /// After `[`: a value or `]`.
    ArrayStart,
    /// After `{`: a key or `}`.
    ObjectStart,
    /// After `,` in an object: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After a value inside a container: `,` or the closing bracket.
    Next,
    /// After the top-level value: only whitespace.
    End,
    String {
        key: bool,
        escape: Escape,
    },
    Number(Number),
    /// A literal with these bytes still to come.
    Literal(&'static [u8]),
    Failed(JsonError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    Backslash,
    /// Hex digits of a `\u` escape still to come.
    Hex(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Number {
    Minus,
    Zero,
    Integer,
    Point,
    Fraction,
    Exponent,
    ExponentSign,
    ExponentDigits,
}

impl Number {
    fn next(self, byte: u8) -> Option<Self> {
        let digit = byte.is_ascii_digit();
        match (self, byte) {
            (Self::Minus, b'0') => Some(Self::Zero),
            (Self::Minus | Self::Integer, _) if digit => Some(Self::Integer),
            (Self::Zero | Self::Integer, b'.') => Some(Self::Point),
            (Self::Point | Self::Fraction, _) if digit => Some(Self::Fraction),
            (Self::Zero | Self::Integer | Self::Fraction, b'e' | b'E') => Some(Self::Exponent),
            (Self::Exponent, b'+' | b'-') => Some(Self::ExponentSign),
            (Self::Exponent | Self::ExponentSign | Self::ExponentDigits, _) if digit => {
                Some(Self::ExponentDigits)
            }
            _ => None,
        }
    }

    fn is_complete(self) -> bool {
        matches!(
            self,
            Self::Zero | Self::Integer | Self::Fraction | Self::ExponentDigits
        )
    }
}

/// Streaming JSON validator.
#[derive(Debug, Clone)]
pub struct JsonCheck {
    state: State,
    /// Bit `i` is set when the container at depth `i` is an object.
    objects: u128,
    depth: u32,
    offset: u64,
    /// Bytes of a leading byte order mark seen so far.
    bom: u64,
}

impl Default for JsonCheck {
    fn default() -> Self {
        Self {
            state: State::Value,
            objects: 0,
            depth: 0,
            offset: 0,
            bom: 0,
        }
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl JsonCheck {
    /// Feeds the next chunk of the document.
    pub fn update(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while let Some((&byte, tail)) = rest.split_first() {
            if matches!(self.state, State::Failed(_)) {
                return;
            }
            let unchanged = self.unchanged_run(rest);
            if unchanged > 0 {
                self.offset += unchanged as u64;
                rest = &rest[unchanged..];
                continue;
            }
            if self.bom == self.offset && self.offset < 3 && BOM[self.offset as usize] == byte {
                self.bom += 1;
            } else {
                self.push(byte);
            }
            self.offset += 1;
            rest = tail;
        }
    }

    /// Returns the number of leading bytes that leave the state as it is: string content
    /// other than a quote, a backslash or a control character, more digits of a number, or
    /// whitespace between tokens. A byte order mark is read only in the `Value` state before
    /// any other byte, where only whitespace is skipped, and whitespace is no part of the mark.
    fn unchanged_run(&self, bytes: &[u8]) -> usize {
        match self.state {
            State::String {
                escape: Escape::None,
                ..
            } => leading_run(bytes, |byte| byte >= 0x20 && byte != b'"' && byte != b'\\'),
            State::Number(Number::Integer | Number::Fraction | Number::ExponentDigits) => {
                leading_run(bytes, |byte| byte.is_ascii_digit())
            }
            State::String { .. } | State::Number(_) | State::Literal(_) | State::Failed(_) => 0,
            _ => leading_run(bytes, |byte| matches!(byte, b' ' | b'\t' | b'\n' | b'\r')),
        }
    }

    /// Returns the result for the bytes fed so far, taken as the whole document.
    pub fn finish(&self) -> Result<(), JsonError> {
        match self.state {
            State::End => Ok(()),
            State::Number(number) if number.is_complete() && self.depth == 0 => Ok(()),
            State::Failed(error) => Err(error),
            State::Value if self.depth == 0 => Err(JsonError::Empty),
            _ => Err(JsonError::Truncated),
        }
    }

    fn push(&mut self, byte: u8) {
        match self.state {
            State::String { key, escape } => self.string(key, escape, byte),
            State::Number(number) => match number.next(byte) {
                Some(next) => self.state = State::Number(next),
                None if number.is_complete() => {
                    self.end_value();
                    self.structural(byte);
                }
                None => self.fail(byte),
            },
            State::Literal(rest) if rest.first() == Some(&byte) => {
                self.state = State::Literal(&rest[1..]);
                if rest.len() == 1 {
                    self.end_value();
                }
            }
            State::Literal(_) => self.fail(byte),
            _ => self.structural(byte),
        }
    }

    fn structural(&mut self, byte: u8) {
        if matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            return;
        }
        let in_object = self.depth > 0 && self.objects & (1 << (self.depth - 1)) != 0;
        match (self.state, byte) {
            (State::ArrayStart, b']') | (State::ObjectStart, b'}') => self.close(),
            (State::Value | State::ArrayStart, _) => self.start_value(byte),
            (State::ObjectStart | State::Key, b'"') => {
                self.state = State::String {
                    key: true,
                    escape: Escape::None,
                }
            }
            (State::Colon, b':') => self.state = State::Value,
            (State::Next, b',') if in_object => self.state = State::Key,
            (State::Next, b',') => self.state = State::Value,
            (State::Next, b'}') if in_object => self.close(),
            (State::Next, b']') if !in_object => self.close(),
            _ => self.fail(byte),
        }
    }

    fn start_value(&mut self, byte: u8) {
        self.state = match byte {
            b'{' | b'[' => return self.open(byte == b'{'),
            b'"' => State::String {
                key: false,
                escape: Escape::None,
            },
            b'-' => State::Number(Number::Minus),
            b'0' => State::Number(Number::Zero),
            b'1'..=b'9' => State::Number(Number::Integer),
            b't' => State::Literal(b"rue"),
            b'f' => State::Literal(b"alse"),
            b'n' => State::Literal(b"ull"),
            _ => return self.fail(byte),
        };
    }

    fn string(&mut self, key: bool, escape: Escape, byte: u8) {
        let escape = match (escape, byte) {
            (Escape::None, b'"') => {
                return if key {
                    self.state = State::Colon;
                } else {
                    self.end_value();
                };
            }
            (Escape::None, b'\\') => Escape::Backslash,
            (Escape::None, 0x20..) => Escape::None,
            (Escape::Backslash, b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                Escape::None
            }
            (Escape::Backslash, b'u') => Escape::Hex(4),
            (Escape::Hex(left), _) if byte.is_ascii_hexdigit() => match left {
                1 => Escape::None,
                _ => Escape::Hex(left - 1),
            },
            _ => return self.fail(byte),
        };
        self.state = State::String { key, escape };
    }

    fn open(&mut self, object: bool) {
        if self.depth == MAX_DEPTH {
            let offset = self.offset;
            self.state = State::Failed(JsonError::TooDeep { offset });
            return;
        }
        if object {
            self.objects |= 1 << self.depth;
        } else {
            self.objects &= !(1 << self.depth);
        }
        self.depth += 1;
        self.state = if object {
            State::ObjectStart
        } else {
            State::ArrayStart
        };
    }

    fn close(&mut self) {
        self.depth -= 1;
        self.end_value();
    }

    fn end_value(&mut self) {
        self.state = if self.depth == 0 {
            State::End
        } else {
            State::Next
        };
    }

    fn fail(&mut self, byte: u8) {
        let offset = self.offset;
        self.state = State::Failed(JsonError::Unexpected { offset, byte });
    }
}

/// Returns the number of leading bytes for which `stays` returns true.
fn leading_run(bytes: &[u8], stays: impl Fn(u8) -> bool) -> usize {
    bytes
        .iter()
        .position(|&byte| !stays(byte))
        .unwrap_or(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::super::assert_same_at_every_split;
    use super::*;

    fn check(text: &[u8]) -> Result<(), JsonError> {
        let mut json = JsonCheck::default();
        json.update(text);
        json.finish()
    }

    #[test]
    fn valid_documents_pass() {
        let documents: &[&[u8]] = &[
            b"{}",
            b" [ ] ",
            b"0",
            b"-0.5e+10",
            b"\"caf\\u00e9 \\n\"",
            b"{\"a\": [1, true, false, null, {\"b\": \"c\"}], \"d\": -12.5E3}",
            b"\xEF\xBB\xBF{\"bom\": 1}",
        ];
        for document in documents {
            let printable = String::from_utf8_lossy(document);
            assert_eq!(check(document), Ok(()), "{printable}");
        }
    }

    /// Asserts that each document is rejected at the given offset and byte.
    fn assert_unexpected_at(cases: &[(&[u8], u64, u8)]) {
        for &(document, offset, byte) in cases {
            let printable = String::from_utf8_lossy(document);
            let expected = JsonError::Unexpected { offset, byte };
            assert_eq!(check(document), Err(expected), "{printable}");
        }
    }

    #[test]
    fn invalid_documents_name_the_offset() {
        let cases: &[(&[u8], u64, u8)] = &[
            (b"{\"a\" 1}", 5, b'1'),
            (b"[1,]", 3, b']'),
            (b"{} {}", 3, b'{'),
            (b"01", 1, b'1'),
            (b"[tru]", 4, b']'),
            (b"\"tab\there\"", 4, b'\t'),
            (b"\"\\x\"", 2, b'x'),
            (b"[1}", 2, b'}'),
            (b"{1: 2}", 1, b'1'),
        ];
        assert_unexpected_at(cases);
    }

    #[test]
    fn empty_and_truncated_documents_fail() {
        assert_eq!(check(b""), Err(JsonError::Empty));
        assert_eq!(check(b"  \n"), Err(JsonError::Empty));
        assert_eq!(check(b"{\"a\": [1"), Err(JsonError::Truncated));
        assert_eq!(check(b"1."), Err(JsonError::Truncated));
        assert_eq!(check(b"\"open"), Err(JsonError::Truncated));
    }

    #[test]
    fn nesting_past_limit_fails() {
        let depth = MAX_DEPTH as usize;
        let deepest = [vec![b'['; depth], vec![b']'; depth]].concat();
        assert_eq!(check(&deepest), Ok(()));
        let too_deep = [vec![b'['; depth + 1], vec![b']'; depth + 1]].concat();
        assert_eq!(
            check(&too_deep),
            Err(JsonError::TooDeep {
                offset: MAX_DEPTH as u64
            })
        );
    }

    #[test]
    fn every_split_matches_whole_document() {
        let documents: &[&[u8]] = &[
            b"{\"k\": [1.5e-3, \"\\u0041 text\", {\"x\": null}], \"n\": -120}",
            b"\xEF\xBB\xBF  [true, false]  ",
            b"\xEF\xBB{}",
            b"  \xEF\xBB\xBF{}",
            b"[\"tab\there\"]",
            b"[12345 678]",
            b"[0123]",
            b"{\"a\"  :  \"long string without escapes\"  ,  \"b\" :[ ] }\n\n",
            b"12.50e+10",
            b"\"unterminated",
            b"[1, 2",
        ];
        for document in documents {
            assert_same_at_every_split(document, &check(document), |pieces| {
                let mut json = JsonCheck::default();
                pieces.iter().for_each(|piece| json.update(piece));
                json.finish()
            });
        }
    }

    #[test]
    fn errors_after_skipped_runs_name_the_offset() {
        let cases: &[(&[u8], u64, u8)] = &[
            (b"[\"tab\there\"]", 5, b'\t'),
            (b"[12345 678]", 7, b'6'),
            (b"[0123]", 2, b'1'),
            (b"  \xEF\xBB\xBF{}", 2, b'\xEF'),
            (b"{\"a\"    x", 8, b'x'),
        ];
        assert_unexpected_at(cases);
    }

    #[test]
    fn byte_at_a_time_matches_whole_document() {
        let document = b"{\"k\": [1.5e-3, \"\\u0041\", {\"x\": null}]}";
        let mut json = JsonCheck::default();
        document.chunks(1).for_each(|chunk| json.update(chunk));
        assert_eq!(json.finish(), check(document));
        assert_eq!(json.finish(), Ok(()));
    }
}
