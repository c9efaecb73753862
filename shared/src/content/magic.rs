//! Recognition of formats by their leading bytes.

use super::HEAD_LEN;

/// Binary formats recognised by their leading bytes alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// JPEG image: `FF D8 FF`.
    Jpeg,
    /// PNG image: the 8-byte PNG signature.
    Png,
    /// GIF image: `GIF87a` or `GIF89a`.
    Gif,
    /// WebP image: a RIFF file of form type `WEBP`.
    Webp,
    /// TIFF or BigTIFF image in either byte order.
    Tiff,
    /// Windows bitmap: `BM` and a known DIB header size.
    Bmp,
    /// HEIC image: an ISO media file with a HEVC image brand.
    Heic,
    /// MP3 audio: an ID3v2 tag or an MPEG Layer III frame header.
    Mp3,
    /// MP4 video or audio: an ISO media file with an MP4 brand.
    Mp4,
    /// QuickTime movie: brand `qt  ` or a classic QuickTime top-level atom.
    QuickTime,
    /// WAV audio: a RIFF file of form type `WAVE`.
    Wav,
    /// Gzip stream using deflate.
    Gzip,
    /// POSIX or GNU tar archive whose first header checksum is right.
    Tar,
    /// 7-Zip archive.
    ///
    /// NOTE: 7-Zip encryption is declared inside the compressed headers, so an encrypted 7z
    /// archive is not rejected as encrypted.
    SevenZip,
}

impl Signature {
    /// Tells whether the leading bytes have this format's signature.
    pub fn matches(self, head: &[u8]) -> bool {
        match self {
            Self::Jpeg => head.starts_with(b"\xFF\xD8\xFF"),
            Self::Png => head.starts_with(b"\x89PNG\r\n\x1A\n"),
            Self::Gif => head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a"),
            Self::Webp => is_riff(head, b"WEBP"),
            Self::Tiff => [b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"]
                .iter()
                .any(|magic| head.starts_with(*magic)),
            Self::Bmp => is_bmp(head),
            Self::Heic => has_brand(head, HEIC_BRANDS),
            Self::Mp3 => is_mp3(head),
            Self::Mp4 => has_brand(head, MP4_BRANDS),
            Self::QuickTime => is_quicktime(head),
            Self::Wav => is_riff(head, b"WAVE"),
            Self::Gzip => head.starts_with(b"\x1F\x8B\x08"),
            Self::Tar => is_tar(head),
            Self::SevenZip => head.starts_with(b"7z\xBC\xAF\x27\x1C"),
        }
    }

    /// Returns the format's name with an article, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Jpeg => "a JPEG image",
            Self::Png => "a PNG image",
            Self::Gif => "a GIF image",
            Self::Webp => "a WebP image",
            Self::Tiff => "a TIFF image",
            Self::Bmp => "a BMP image",
            Self::Heic => "a HEIC image",
            Self::Mp3 => "an MP3 audio file",
            Self::Mp4 => "an MP4 file",
            Self::QuickTime => "a QuickTime movie",
            Self::Wav => "a WAV audio file",
            Self::Gzip => "a gzip file",
            Self::Tar => "a tar archive",
            Self::SevenZip => "a 7z archive",
        }
    }

    /// Tells whether the format is an archive, which may legitimately contain a zip.
    pub fn is_archive(self) -> bool {
        matches!(self, Self::Gzip | Self::Tar | Self::SevenZip)
    }
}

/// Kinds of program recognised by their leading bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Executable {
    /// Windows PE executable or library: `MZ` and `PE\0\0` where `e_lfanew` points.
    Windows,
    /// ELF executable, shared object or object file.
    Elf,
    /// Mach-O program, library or universal (fat) binary.
    MachO,
    /// Java class file.
    JavaClass,
    /// Script for an interpreter, starting with `#!`.
    Script,
}

impl Executable {
    /// Returns the kind's name with an article, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Windows => "a Windows executable",
            Self::Elf => "an ELF executable",
            Self::MachO => "a Mach-O executable",
            Self::JavaClass => "a Java class file",
            Self::Script => "a script starting with #!",
        }
    }

    /// Returns the MIME type reported as detected, as `infer` 0.22 names it.
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Windows => "application/vnd.microsoft.portable-executable",
            Self::Elf => "application/x-executable",
            Self::MachO => "application/x-mach-binary",
            Self::JavaClass => "application/java",
            Self::Script => "text/x-shellscript",
        }
    }
}

/// Returns the kind of program the leading bytes start, if any. Set `text` when the whole
/// object is text, which rules out a Windows program whose header lies past the head.
pub fn executable(head: &[u8], text: bool) -> Option<Executable> {
    if is_pe(head, text) {
        return Some(Executable::Windows);
    }
    if head.len() >= 7 && head.starts_with(b"\x7FELF") && matches!(head[4], 1 | 2) {
        return Some(Executable::Elf);
    }
    let magic: [u8; 4] = head.get(..4)?.try_into().ok()?;
    match magic {
        [0xFE, 0xED, 0xFA, 0xCE | 0xCF] | [0xCE | 0xCF, 0xFA, 0xED, 0xFE] => {
            Some(Executable::MachO)
        }
        // A universal binary and a Java class share this magic. The next word is the number of
        // architectures in the first and the class file version (45 or more) in the second.
        [0xCA, 0xFE, 0xBA, 0xBE | 0xBF] => {
            let next = u32::from_be_bytes(head.get(4..8)?.try_into().ok()?);
            Some(if next < 45 || magic[3] == 0xBF {
                Executable::MachO
            } else {
                Executable::JavaClass
            })
        }
        [b'#', b'!', ..] => Some(Executable::Script),
        _ => None,
    }
}

fn is_pe(head: &[u8], text: bool) -> bool {
    if !head.starts_with(b"MZ") {
        return false;
    }
    let Some(offset) = head.get(0x3C..0x40) else {
        return false;
    };
    let offset = u32::from_le_bytes([offset[0], offset[1], offset[2], offset[3]]) as usize;
    // The loader accepts an `e_lfanew` far into the file. A binary object whose PE header lies
    // past a full head cannot be confirmed, so it counts as a program. When the head is the
    // whole object, the header is missing and the object is no program.
    if offset.saturating_add(4) > head.len() {
        return !text && head.len() >= HEAD_LEN;
    }
    head[offset..offset + 4] == *b"PE\0\0"
}

fn is_riff(head: &[u8], form: &[u8; 4]) -> bool {
    head.starts_with(b"RIFF") && head.get(8..12) == Some(form.as_slice())
}

fn is_bmp(head: &[u8]) -> bool {
    let Some(size) = head.get(14..18) else {
        return false;
    };
    let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]);
    head.starts_with(b"BM") && matches!(size, 12 | 40 | 52 | 56 | 64 | 108 | 124)
}

fn is_mp3(head: &[u8]) -> bool {
    if head.len() >= 4 && head.starts_with(b"ID3") && matches!(head[3], 2..=4) {
        return true;
    }
    let [sync, flags, rates, ..] = head else {
        return false;
    };
    // Frame sync is 11 set bits, the layer bits 01 mean Layer III, and bitrate index 15 and
    // sample-rate index 3 are reserved.
    *sync == 0xFF
        && flags & 0xE0 == 0xE0
        && (flags >> 1) & 0b11 == 0b01
        && rates >> 4 != 0x0F
        && (rates >> 2) & 0b11 != 0b11
}

const HEIC_BRANDS: &[&[u8; 4]] = &[
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
];

const MP4_BRANDS: &[&[u8; 4]] = &[
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9", b"mp41",
    b"mp42", b"mp71", b"avc1", b"dash", b"M4V ", b"M4A ", b"f4v ", b"MSNV", b"NDAS",
];

/// Returns the major and compatible brands of a leading ISO media `ftyp` box.
fn brands(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    let size = head
        .get(..4)
        .map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize);
    let valid = head.get(4..8) == Some(b"ftyp".as_slice()) && size >= 16 && size <= head.len();
    let (major, compatible) = if valid {
        (&head[8..12], &head[16..size])
    } else {
        (&head[..0], &head[..0])
    };
    std::iter::once(major)
        .filter(|brand| !brand.is_empty())
        .chain(compatible.chunks_exact(4))
}

fn has_brand(head: &[u8], accepted: &[&[u8; 4]]) -> bool {
    brands(head).any(|brand| accepted.iter().any(|a| a.as_slice() == brand))
}

fn is_quicktime(head: &[u8]) -> bool {
    if has_brand(head, &[b"qt  "]) {
        return true;
    }
    // Files written before the ftyp box existed start with one of these atoms.
    let atom = head.get(4..8).unwrap_or_default();
    head.get(4..8) != Some(b"ftyp".as_slice())
        && [b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"]
            .iter()
            .any(|name| name.as_slice() == atom)
}

fn is_tar(head: &[u8]) -> bool {
    let Some(header) = head.get(..512) else {
        return false;
    };
    if &header[257..262] != b"ustar" {
        return false;
    }
    let field = &header[148..156];
    let digits = field
        .iter()
        .skip_while(|b| **b == b' ')
        .take_while(|b| (b'0'..=b'7').contains(*b));
    let stored = digits.fold(0u32, |sum, digit| sum * 8 + u32::from(digit - b'0'));
    // The checksum sums the header with its own field read as eight spaces. Old writers
    // summed signed bytes, so either sum is accepted.
    let outside = header[..148].iter().chain(&header[156..]);
    let unsigned: u32 = outside.clone().map(|b| u32::from(*b)).sum::<u32>() + 8 * 32;
    let signed: i64 = outside.map(|b| i64::from(*b as i8)).sum::<i64>() + 8 * 32;
    stored == unsigned || i64::from(stored) == signed
}

/// Tells whether text starts with markup whose root element is `<svg`, after an optional XML
/// declaration, comments and doctype.
pub fn has_svg_root(head: &[u8]) -> bool {
    let trimmed = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = trimmed.iter().position(|b| !b.is_ascii_whitespace());
    if start.is_none_or(|i| trimmed[i] != b'<') {
        return false;
    }
    trimmed.windows(5).any(|window| {
        window.starts_with(b"<svg")
            && matches!(window[4], b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/')
    })
}

/// MIME types that `infer` 0.22 reports for formats that can be plain text, and that are
/// trusted for text content. Other matches on text, such as `BM` for a bitmap, are chance.
pub const TEXT_SIGNATURES: &[&str] = &[
    "application/pdf",
    "application/rtf",
    "application/postscript",
    "text/html",
    "text/xml",
];
