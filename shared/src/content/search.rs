//! Search for fixed byte strings in a stream fed in pieces of any size, in constant memory.

use memchr::memmem::Finder;

/// Maximum needle length, in bytes.
const MAX_NEEDLE_LEN: usize = 32;

/// Capacity of the buffer of recent bytes, in bytes. Each fill costs one search per needle not
/// found yet, so the fixed cost of a search is spread over this many bytes.
const BUFFER_LEN: usize = 8 * 1024;

/// A set of up to 32 needles and which of them the stream has contained so far.
///
/// Bytes are copied into a buffer and every needle not yet found is searched in it with
/// `memchr::memmem` each time the buffer fills. The last `longest needle - 1` bytes stay in
/// the buffer for the next search, so a match that spans two fills is found too.
#[derive(Debug, Clone)]
pub struct NeedleSearch {
    finders: Vec<Finder<'static>>,
    /// The last bytes of the stream: the bytes not searched yet, after at most `overlap`
    /// bytes that were searched before them.
    recent: Vec<u8>,
    /// Length of the longest needle minus one.
    overlap: usize,
    /// Bit `i` is set once needle `i` has been found in a searched buffer.
    found: u32,
    /// The value of `found` once every needle has been found.
    all: u32,
}

impl NeedleSearch {
    /// Creates a search for these needles. Each must be 1 to 32 bytes long.
    pub fn new(needles: &'static [&'static [u8]]) -> Self {
        assert!(needles.len() <= 32, "at most 32 needles");
        for needle in needles {
            assert!(
                !needle.is_empty() && needle.len() <= MAX_NEEDLE_LEN,
                "needles are 1 to 32 bytes long"
            );
        }
        let longest = needles.iter().map(|needle| needle.len()).max().unwrap_or(1);
        Self {
            finders: needles.iter().map(|needle| Finder::new(*needle)).collect(),
            recent: Vec::with_capacity(BUFFER_LEN),
            overlap: longest - 1,
            found: 0,
            all: match needles.len() {
                32 => u32::MAX,
                count => (1 << count) - 1,
            },
        }
    }

    /// Feeds the next bytes of the stream. Does nothing once every needle has been found.
    pub fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && self.found != self.all {
            let room = BUFFER_LEN - self.recent.len();
            let (taken, rest) = bytes.split_at(room.min(bytes.len()));
            self.recent.extend_from_slice(taken);
            bytes = rest;
            if self.recent.len() == BUFFER_LEN {
                self.search_recent();
            }
        }
    }

    /// Feeds the next byte of the stream.
    pub fn push(&mut self, byte: u8) {
        if self.found == self.all {
            return;
        }
        self.recent.push(byte);
        if self.recent.len() == BUFFER_LEN {
            self.search_recent();
        }
    }

    /// Searches the buffer for the needles not found yet, then keeps only its last `overlap`
    /// bytes, where a match that ends in later bytes may start.
    fn search_recent(&mut self) {
        for (index, finder) in self.finders.iter().enumerate() {
            let bit = 1 << index;
            if self.found & bit == 0 && finder.find(&self.recent).is_some() {
                self.found |= bit;
            }
        }
        let start = self.recent.len().saturating_sub(self.overlap);
        self.recent.copy_within(start.., 0);
        self.recent.truncate(self.recent.len() - start);
    }

    /// Tells whether the needle at this index has occurred in the bytes fed so far.
    pub fn found(&self, index: usize) -> bool {
        // Bytes still in the buffer have not been searched, so they are searched here.
        self.found & (1 << index) != 0 || self.finders[index].find(&self.recent).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEEDLES: &[&[u8]] = &[b"abc", b"bcd", b"zz"];

    fn search(bytes: &[u8]) -> NeedleSearch {
        let mut search = NeedleSearch::new(NEEDLES);
        bytes.iter().for_each(|b| search.push(*b));
        search
    }

    #[test]
    fn overlapping_needles_are_all_found() {
        let found = search(b"xxabcdxx");
        assert!(found.found(0));
        assert!(found.found(1));
        assert!(!found.found(2));
    }

    #[test]
    fn needle_after_window_wraps_is_found() {
        let mut bytes = vec![b'.'; 100];
        bytes.extend_from_slice(b"zz");
        let found = search(&bytes);
        assert!(found.found(2));
        assert!(!found.found(0));
    }

    #[test]
    fn partial_needle_is_not_found() {
        assert!(!search(b"ab").found(0));
        assert!(!search(b"z").found(2));
    }

    /// Returns, for each needle, whether it occurs in the bytes, found by comparing every
    /// window.
    fn expected(needles: &[&[u8]], bytes: &[u8]) -> Vec<bool> {
        needles
            .iter()
            .map(|needle| bytes.windows(needle.len()).any(|window| window == *needle))
            .collect()
    }

    fn found_all(search: &NeedleSearch, count: usize) -> Vec<bool> {
        (0..count).map(|index| search.found(index)).collect()
    }

    fn search_pieces<'a>(
        needles: &'static [&'static [u8]],
        pieces: impl IntoIterator<Item = &'a [u8]>,
    ) -> Vec<bool> {
        let mut search = NeedleSearch::new(needles);
        pieces.into_iter().for_each(|piece| search.update(piece));
        found_all(&search, needles.len())
    }

    /// Asserts that feeding the bytes whole, byte by byte, in 1-byte pieces and split in two
    /// at every offset finds exactly the needles the bytes contain.
    fn assert_every_split_agrees(needles: &'static [&'static [u8]], bytes: &[u8]) {
        let printable = String::from_utf8_lossy(bytes);
        let expected = expected(needles, bytes);
        assert_eq!(
            search_pieces(needles, [bytes]),
            expected,
            "whole {printable:?}"
        );
        let mut pushed = NeedleSearch::new(needles);
        bytes.iter().for_each(|byte| pushed.push(*byte));
        let pushed = found_all(&pushed, needles.len());
        assert_eq!(pushed, expected, "pushed {printable:?}");
        let single_bytes = search_pieces(needles, bytes.chunks(1));
        assert_eq!(single_bytes, expected, "1-byte pieces {printable:?}");
        for split in 0..=bytes.len() {
            let (front, back) = bytes.split_at(split);
            let found = search_pieces(needles, [front, back]);
            assert_eq!(found, expected, "split at {split} {printable:?}");
        }
    }

    #[test]
    fn every_split_finds_same_needles() {
        let inputs: &[&[u8]] = &[
            b"",
            b"abc",
            b"zz",
            b"abcd",
            b"abczz",
            b"zzabc",
            b"xabcdx",
            b"ababcbcd",
            b"zzz",
            b"ab-cd-bc-z-z",
            b"xxxxbcdxxxxabxxxx",
        ];
        for bytes in inputs {
            assert_every_split_agrees(NEEDLES, bytes);
        }
    }

    #[test]
    fn needle_of_max_length_spans_pieces() {
        const LONG: &[&[u8]] = &[b"0123456789abcdefghijklmnopqrstuv", b"v"];
        assert_eq!(LONG[0].len(), MAX_NEEDLE_LEN);
        let bytes = [b"--".as_slice(), LONG[0], b"--"].concat();
        assert_every_split_agrees(LONG, &bytes);
        assert_every_split_agrees(LONG, LONG[0]);
        assert_every_split_agrees(LONG, &LONG[0][1..]);
    }

    #[test]
    fn needle_across_buffer_fill_is_found() {
        for start in BUFFER_LEN - 40..BUFFER_LEN + 4 {
            let mut bytes = vec![b'.'; 2 * BUFFER_LEN + 100];
            bytes[start..start + 3].copy_from_slice(b"abc");
            let end = bytes.len();
            bytes[end - 2..].copy_from_slice(b"zz");
            let expected = expected(NEEDLES, &bytes);
            assert_eq!(expected, [true, false, true], "needle at {start}");
            for size in [1, 3, 7, 1000, BUFFER_LEN - 1, BUFFER_LEN, BUFFER_LEN + 1] {
                let found = search_pieces(NEEDLES, bytes.chunks(size));
                assert_eq!(found, expected, "needle at {start}, pieces of {size}");
            }
        }
    }

    #[test]
    fn pushes_and_pieces_mix() {
        let mut bytes = vec![b'-'; 3 * BUFFER_LEN];
        bytes[BUFFER_LEN - 1..BUFFER_LEN + 2].copy_from_slice(b"bcd");
        let mut search = NeedleSearch::new(NEEDLES);
        for (index, piece) in bytes.chunks(97).enumerate() {
            if index % 2 == 0 {
                piece.iter().for_each(|byte| search.push(*byte));
            } else {
                search.update(piece);
            }
        }
        assert_eq!(found_all(&search, NEEDLES.len()), [false, true, false]);
    }

    #[test]
    fn search_stops_once_all_found() {
        let mut search = NeedleSearch::new(NEEDLES);
        search.update(b"abcd zz");
        search.update(&vec![b'.'; 3 * BUFFER_LEN]);
        search.push(b'.');
        assert_eq!(found_all(&search, NEEDLES.len()), [true, true, true]);
        assert!(search.recent.len() <= search.overlap);
    }

    #[test]
    fn thirty_two_needles_are_tracked() {
        const MANY: &[&[u8]] = &[
            b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h", b"i", b"j", b"k", b"l", b"m", b"n",
            b"o", b"p", b"q", b"r", b"s", b"t", b"u", b"v", b"w", b"x", b"y", b"z", b"0", b"1",
            b"2", b"3", b"4", b"5",
        ];
        assert_eq!(MANY.len(), 32);
        let mut search = NeedleSearch::new(MANY);
        search.update(b"abcdefghijklmnopqrstuvwxyz01234");
        assert!(!search.found(31));
        assert!(search.found(30));
        search.update(b"5");
        assert_eq!(found_all(&search, MANY.len()), [true; 32]);
    }
}
