//! Zip structure read from the kept head and tail of an object.
//!
//! The end-of-central-directory record sits in the last 65,557 bytes (22 bytes plus a comment
//! of at most 65,535 bytes), and the central directory right before it. Both must fall inside
//! the tail window; otherwise the archive is reported unreadable, never passed.

/// Leading bytes of a zip local file header.
pub const LOCAL_MAGIC: &[u8] = b"PK\x03\x04";
/// Leading bytes of an end-of-central-directory record, which is also a whole empty zip.
pub const END_MAGIC: &[u8] = b"PK\x05\x06";

const END_LEN: usize = 22;
const MAX_COMMENT: usize = 65_535;
const ENTRY_MAGIC: &[u8] = b"PK\x01\x02";
const ENTRY_LEN: usize = 46;
const ZIP64_LOCATOR_MAGIC: &[u8] = b"PK\x06\x07";
const ZIP64_LOCATOR_LEN: usize = 20;
const ZIP64_END_MAGIC: &[u8] = b"PK\x06\x06";
const ZIP64_END_LEN: usize = 56;

/// One central directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Name as stored, usually UTF-8.
    pub name: &'a [u8],
    /// General-purpose bit flags.
    pub flags: u16,
    /// Compression method.
    pub method: u16,
}

impl Entry<'_> {
    /// Tells whether the entry's data is encrypted: flag bit 0, strong encryption (bit 6) or
    /// WinZip AES (method 99).
    pub fn is_encrypted(&self) -> bool {
        self.flags & 0x0001 != 0 || self.flags & 0x0040 != 0 || self.method == 99
    }
}

/// A zip archive's central directory and where the archive sits in the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<'a> {
    /// Entries in central directory order.
    pub entries: Vec<Entry<'a>>,
    /// Bytes of other data before the archive's first byte.
    pub prefix: u64,
    /// Bytes of other data after the end record and its comment.
    pub trailing: u64,
}

impl Listing<'_> {
    /// Tells whether an entry has exactly this name.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|e| e.name == name.as_bytes())
    }

    /// Returns the first entry whose name ends with this suffix, compared without case.
    pub fn find_suffix(&self, suffix: &str) -> Option<&str> {
        self.entries.iter().find_map(|e| {
            let name = std::str::from_utf8(e.name).ok()?;
            let cut = name.len().checked_sub(suffix.len())?;
            let tail = name.get(cut..)?;
            tail.eq_ignore_ascii_case(suffix).then_some(name)
        })
    }

    /// Returns the first entry whose name starts with one of these directory prefixes.
    pub fn find_prefix(&self, prefixes: &[&str]) -> Option<&str> {
        self.entries.iter().find_map(|e| {
            let name = std::str::from_utf8(e.name).ok()?;
            prefixes.iter().any(|p| name.starts_with(p)).then_some(name)
        })
    }

    /// Tells whether any entry is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.entries.iter().any(Entry::is_encrypted)
    }
}

/// Zip archive seen in the tail window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe<'a> {
    /// No end-of-central-directory record near the end.
    Absent,
    /// An end record exists, but the central directory cannot be read, for the reason given.
    Unreadable(String),
    /// The central directory was read.
    Listed(Listing<'a>),
}

/// Reads the zip archive that ends in `tail`, the last bytes of an object of `total` bytes.
pub fn probe(tail: &[u8], total: u64) -> Probe<'_> {
    let Some(end) = find_end(tail) else {
        return Probe::Absent;
    };
    match read_directory(tail, total, &end) {
        Ok(listing) => Probe::Listed(listing),
        Err(reason) => Probe::Unreadable(reason),
    }
}

/// Fields of the end record, widened from the zip64 end record where that is used.
struct End {
    /// Offset in the window where the central directory ends.
    directory_end: usize,
    entries: u64,
    directory_size: u64,
    directory_offset: u64,
    trailing: u64,
}

fn find_end(tail: &[u8]) -> Option<End> {
    let last = tail.len().checked_sub(END_LEN)?;
    let first = last.saturating_sub(MAX_COMMENT);
    (first..=last).rev().find_map(|at| parse_end(tail, at))
}

fn parse_end(tail: &[u8], at: usize) -> Option<End> {
    let record = &tail[at..at + END_LEN];
    if !record.starts_with(END_MAGIC) {
        return None;
    }
    let comment_end = at + END_LEN + usize::from(le16(record, 20));
    // Single-disk archives only: the disk numbers are 0 and both entry counts agree. These
    // checks also keep chance matches in compressed data from counting as a zip.
    let single_disk = le16(record, 4) == 0 && le16(record, 6) == 0;
    if comment_end > tail.len() || !single_disk || le16(record, 8) != le16(record, 10) {
        return None;
    }
    let mut end = End {
        directory_end: at,
        entries: u64::from(le16(record, 10)),
        directory_size: u64::from(le32(record, 12)),
        directory_offset: u64::from(le32(record, 16)),
        trailing: (tail.len() - comment_end) as u64,
    };
    let zip64 = end.entries == 0xFFFF
        || end.directory_size == 0xFFFF_FFFF
        || end.directory_offset == 0xFFFF_FFFF;
    if zip64 && let Some(wide) = zip64_end(tail, at) {
        end.directory_end = wide.0;
        (end.entries, end.directory_size, end.directory_offset) = (wide.1, wide.2, wide.3);
    }
    Some(end)
}

/// Returns the zip64 end record's position, entry count, directory size and offset, when the
/// record directly precedes its locator, as every writer puts it.
fn zip64_end(tail: &[u8], end_at: usize) -> Option<(usize, u64, u64, u64)> {
    let locator = end_at.checked_sub(ZIP64_LOCATOR_LEN)?;
    if !tail[locator..].starts_with(ZIP64_LOCATOR_MAGIC) {
        return None;
    }
    let record_at = locator.checked_sub(ZIP64_END_LEN)?;
    let record = &tail[record_at..locator];
    if !record.starts_with(ZIP64_END_MAGIC) {
        return None;
    }
    Some((
        record_at,
        le64(record, 32),
        le64(record, 40),
        le64(record, 48),
    ))
}

fn read_directory<'a>(tail: &'a [u8], total: u64, end: &End) -> Result<Listing<'a>, String> {
    let window_start = total - tail.len() as u64;
    let end_offset = window_start + end.directory_end as u64;
    let start_offset = end_offset.checked_sub(end.directory_size).ok_or_else(|| {
        format!(
            "zip central directory size {} is larger than the data before it",
            end.directory_size
        )
    })?;
    let prefix = start_offset
        .checked_sub(end.directory_offset)
        .ok_or_else(|| {
            format!(
                "zip central directory offset {} points past its real position {start_offset}",
                end.directory_offset
            )
        })?;
    if start_offset < window_start {
        return Err(format!(
            "zip central directory starts {} bytes before the end, outside the last {} bytes \
             that the check keeps",
            total - start_offset,
            tail.len()
        ));
    }
    let start = (start_offset - window_start) as usize;
    let entries = read_entries(&tail[start..end.directory_end])?;
    if entries.len() as u64 != end.entries {
        return Err(format!(
            "zip central directory has {} entries but its end record lists {}",
            entries.len(),
            end.entries
        ));
    }
    Ok(Listing {
        entries,
        prefix,
        trailing: end.trailing,
    })
}

fn read_entries(mut directory: &[u8]) -> Result<Vec<Entry<'_>>, String> {
    let mut entries = Vec::new();
    while !directory.is_empty() {
        let index = entries.len();
        let damaged = || format!("zip central directory entry {index} is damaged");
        if directory.len() < ENTRY_LEN || !directory.starts_with(ENTRY_MAGIC) {
            return Err(damaged());
        }
        let name_len = usize::from(le16(directory, 28));
        let extra_len = usize::from(le16(directory, 30));
        let comment_len = usize::from(le16(directory, 32));
        let next = ENTRY_LEN + name_len + extra_len + comment_len;
        if next > directory.len() {
            return Err(damaged());
        }
        entries.push(Entry {
            name: &directory[ENTRY_LEN..ENTRY_LEN + name_len],
            flags: le16(directory, 8),
            method: le16(directory, 10),
        });
        directory = &directory[next..];
    }
    Ok(entries)
}

/// The first local file header, read from the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstEntry<'a> {
    /// Name as stored.
    pub name: &'a [u8],
    /// Compression method.
    pub method: u16,
    /// Stored data, when it lies inside the head and its size is in the header.
    pub data: Option<&'a [u8]>,
}

/// Reads the local file header at byte 0.
pub fn first_entry(head: &[u8]) -> Option<FirstEntry<'_>> {
    if head.len() < 30 || !head.starts_with(LOCAL_MAGIC) {
        return None;
    }
    let flags = le16(head, 6);
    let size = le32(head, 18) as usize;
    let name_end = 30 + usize::from(le16(head, 26));
    let data_start = name_end + usize::from(le16(head, 28));
    // Bit 3 means the sizes follow the data, so the header's size field is not usable.
    let data = (flags & 0x0008 == 0)
        .then(|| head.get(data_start..data_start.checked_add(size)?))
        .flatten();
    Some(FirstEntry {
        name: head.get(30..name_end)?,
        method: le16(head, 8),
        data,
    })
}

fn le16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn le64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}
