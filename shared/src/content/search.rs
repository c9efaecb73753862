//! Search for fixed byte strings in a stream fed one byte at a time, in constant memory.

/// Maximum needle length, in bytes.
const WINDOW: usize = 32;

/// A set of up to 32 needles and which of them the stream has contained so far. Matches across
/// chunk boundaries are found because the last bytes stay in a ring buffer.
#[derive(Debug, Clone)]
pub struct NeedleSearch {
    needles: &'static [&'static [u8]],
    /// For each byte value, the needles that end with it, as a bit set.
    ending_with: [u32; 256],
    window: [u8; WINDOW],
    next: usize,
    filled: usize,
    found: u32,
}

impl NeedleSearch {
    /// Creates a search for these needles; each must be 1 to 32 bytes long.
    pub const fn new(needles: &'static [&'static [u8]]) -> Self {
        assert!(needles.len() <= 32, "at most 32 needles");
        let mut ending_with = [0u32; 256];
        let mut i = 0;
        while i < needles.len() {
            let needle = needles[i];
            assert!(
                !needle.is_empty() && needle.len() <= WINDOW,
                "needles are 1 to 32 bytes long"
            );
            ending_with[needle[needle.len() - 1] as usize] |= 1 << i;
            i += 1;
        }
        Self {
            needles,
            ending_with,
            window: [0; WINDOW],
            next: 0,
            filled: 0,
            found: 0,
        }
    }

    /// Feeds the next byte of the stream.
    pub fn push(&mut self, byte: u8) {
        self.window[self.next] = byte;
        self.next = (self.next + 1) % WINDOW;
        self.filled = (self.filled + 1).min(WINDOW);
        // Only needles ending with this byte can match here, and usually there are none.
        let mut candidates = self.ending_with[usize::from(byte)] & !self.found;
        while candidates != 0 {
            let index = candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            if self.ends_with(self.needles[index]) {
                self.found |= 1 << index;
            }
        }
    }

    fn ends_with(&self, needle: &[u8]) -> bool {
        if needle.len() > self.filled {
            return false;
        }
        needle.iter().rev().enumerate().all(|(back, &expected)| {
            self.window[(self.next + WINDOW - 1 - back) % WINDOW] == expected
        })
    }

    /// Tells whether the needle at this index has occurred.
    pub fn found(&self, index: usize) -> bool {
        self.found & (1 << index) != 0
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
}
