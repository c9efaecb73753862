//! Sample files built in code: zips with the `zip` crate, compound files with the `cfb` crate,
//! and the leading bytes of other formats by hand.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;

/// Builds a zip of stored entries, in the order given.
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in entries {
        writer.start_file(*name, options).expect("entry starts");
        writer.write_all(data).expect("entry is written");
    }
    writer.finish().expect("zip finishes").into_inner()
}

/// Sets general-purpose flag bit 0 (encrypted) in every local header and central directory
/// entry. Sample data must not contain the header signatures.
pub fn set_encryption_flag(mut zip: Vec<u8>) -> Vec<u8> {
    for at in 0..zip.len().saturating_sub(4) {
        match &zip[at..at + 4] {
            b"PK\x03\x04" => zip[at + 6] |= 1,
            b"PK\x01\x02" => zip[at + 8] |= 1,
            _ => {}
        }
    }
    zip
}

/// Builds an Office Open XML package with `[Content_Types].xml` and a main part, in the entry
/// order python-docx writes, which hides the type from `infer`.
pub fn office_open_xml(main_part: &str) -> Vec<u8> {
    let types = xml("Types", "content-types");
    let relationships = xml("Relationships", "relationships");
    let main = xml("document", "main");
    zip(&[
        ("[Content_Types].xml", types.as_bytes()),
        ("_rels/.rels", relationships.as_bytes()),
        (
            "docProps/core.xml",
            xml("coreProperties", "core").as_bytes(),
        ),
        ("docProps/app.xml", xml("Properties", "app").as_bytes()),
        (main_part, main.as_bytes()),
    ])
}

fn xml(root: &str, namespace: &str) -> String {
    format!("<?xml version=\"1.0\"?><{root} xmlns=\"urn:sample:{namespace}\"/>")
}

/// Builds an OpenDocument package whose first entry is the stored `mimetype`.
pub fn open_document(mime: &str) -> Vec<u8> {
    zip(&[
        ("mimetype", mime.as_bytes()),
        ("content.xml", xml("document-content", "office").as_bytes()),
        (
            "META-INF/manifest.xml",
            xml("manifest", "manifest").as_bytes(),
        ),
    ])
}

/// Builds an OLE compound file with these streams, each containing a few bytes.
pub fn compound_file(streams: &[&str]) -> Vec<u8> {
    let mut file = cfb::CompoundFile::create(Cursor::new(Vec::new())).expect("file is created");
    for name in streams {
        let path = format!("/{name}");
        if let Some((storage, _)) = path[1..].rsplit_once('/') {
            file.create_storage_all(format!("/{storage}"))
                .expect("storage is created");
        }
        let mut stream = file.create_stream(&path).expect("stream is created");
        stream
            .write_all(b"sample stream data")
            .expect("stream is written");
    }
    file.flush().expect("file is flushed");
    file.into_inner().into_inner()
}

/// Builds a PDF with a cross-reference table, optionally naming an encryption dictionary.
pub fn pdf(encrypt_entry: Option<&str>) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [] /Count 0 >>",
    ];
    let mut offsets = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        write!(out, "{} 0 obj\n{object}\nendobj\n", index + 1).expect("writes to a Vec");
    }
    let xref = out.len();
    write!(out, "xref\n0 3\n0000000000 65535 f \n").expect("writes to a Vec");
    for offset in offsets {
        writeln!(out, "{offset:010} 00000 n ").expect("writes to a Vec");
    }
    let encrypt = encrypt_entry.unwrap_or_default();
    write!(
        out,
        "trailer\n<< /Size 3 /Root 1 0 R {encrypt}>>\nstartxref\n{xref}\n%%EOF\n"
    )
    .expect("writes to a Vec");
    out
}

/// Returns a PNG signature and an IHDR chunk for a 1x1 image.
pub fn png() -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1A\n\0\0\0\x0DIHDR".to_vec();
    out.extend_from_slice(&[
        0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0x90, 0x77, 0x53, 0xDE,
    ]);
    out
}

/// Returns the leading bytes of a GIF image.
pub fn gif() -> Vec<u8> {
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xFF\xFF\xFF\x00\x00\x00!\xF9\x04\x01;".to_vec()
}

/// Returns a 54-byte BMP header with a 40-byte DIB header.
pub fn bmp() -> Vec<u8> {
    let mut out = b"BM".to_vec();
    out.extend_from_slice(&58u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&54u32.to_le_bytes());
    out.extend_from_slice(&40u32.to_le_bytes());
    out.extend_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 24, 0]);
    out.resize(58, 0);
    out
}

/// Returns a RIFF header of this form type with a little data.
pub fn riff(form: &[u8; 4]) -> Vec<u8> {
    let mut out = b"RIFF\x24\0\0\0".to_vec();
    out.extend_from_slice(form);
    out.extend_from_slice(b"fmt \x10\0\0\0\x01\0\x01\0\x44\xAC\0\0");
    out
}

/// Returns an ISO media `ftyp` box with a major brand and compatible brands, then a `free` box.
pub fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
    let size = 16 + 4 * compatible.len() as u32;
    let mut out = size.to_be_bytes().to_vec();
    out.extend_from_slice(b"ftyp");
    out.extend_from_slice(major);
    out.extend_from_slice(&[0, 0, 2, 0]);
    compatible
        .iter()
        .for_each(|brand| out.extend_from_slice(*brand));
    out.extend_from_slice(b"\0\0\0\x08free");
    out
}

/// Returns a tar archive containing one file.
pub fn tar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..108].copy_from_slice(b"0000644\0");
    header[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[156] = b'0';
    header[257..265].copy_from_slice(b"ustar\x0000");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

/// Returns a minimal 64-bit Windows PE header: `MZ`, `e_lfanew` and the `PE\0\0` signature.
pub fn windows_executable() -> Vec<u8> {
    let mut out = vec![0u8; 0x80];
    out[..2].copy_from_slice(b"MZ");
    out[0x3C..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    out[0x40..0x46].copy_from_slice(b"PE\0\0\x64\x86");
    out
}

/// Returns a minimal 64-bit little-endian ELF header for x86-64.
pub fn elf() -> Vec<u8> {
    let mut out = vec![0u8; 64];
    out[..7].copy_from_slice(b"\x7FELF\x02\x01\x01");
    out[16..20].copy_from_slice(&[2, 0, 0x3E, 0]);
    out
}
