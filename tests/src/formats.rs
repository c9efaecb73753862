//! Sample files for the content check's integration tests, built in code. Each function returns
//! a whole file, and [`content_set`] names them and states the verdict each must get.

use std::io::{Cursor, Write};

use filestore::content::Policy;
// zip 9.9 exposes ZipCrypto writing only through its `unstable` module.
use zip::unstable::write::FileOptionsExt;
use zip::write::SimpleFileOptions;

use crate::samples::{self, Sample};

const CONTENT_TYPES_NS: &str = "http://schemas.openxmlformats.org/package/2006/content-types";
const PACKAGE_RELATIONSHIPS_NS: &str =
    "http://schemas.openxmlformats.org/package/2006/relationships";
const RELATIONSHIPS_NS: &str =
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const WORD_NS: &str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
const SHEET_NS: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const SLIDE_NS: &str = "http://schemas.openxmlformats.org/presentationml/2006/main";
const OFFICE_TYPE: &str = "application/vnd.openxmlformats-officedocument";
const ODF_NS: &str = "urn:oasis:names:tc:opendocument:xmlns";
const ODT: &str = "application/vnd.oasis.opendocument.text";
const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";

/// Zip entries in order: name and content.
type Entries<'a> = [(&'a str, Vec<u8>)];

/// Builds a zip of stored entries, optionally encrypted with ZipCrypto and this password.
fn zip(entries: &Entries<'_>, password: Option<&[u8]>) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut options =
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    if let Some(password) = password {
        options = options
            .with_deprecated_encryption(password)
            .expect("password is not empty");
    }
    for (name, data) in entries {
        writer.start_file(*name, options).expect("zip entry starts");
        writer.write_all(data).expect("zip entry is written");
    }
    writer.finish().expect("zip finishes").into_inner()
}

/// Returns `[Content_Types].xml` with defaults for `.rels` and `.xml` and one override per part.
fn content_types(overrides: &[(&str, String)]) -> Vec<u8> {
    let rels_type = "application/vnd.openxmlformats-package.relationships+xml";
    let mut xml = format!("{XML_DECLARATION}<Types xmlns=\"{CONTENT_TYPES_NS}\">");
    xml += &format!("<Default Extension=\"rels\" ContentType=\"{rels_type}\"/>");
    xml += "<Default Extension=\"xml\" ContentType=\"application/xml\"/>";
    for (part, content_type) in overrides {
        xml += &format!("<Override PartName=\"/{part}\" ContentType=\"{content_type}\"/>");
    }
    (xml + "</Types>").into_bytes()
}

/// Returns a relationships part; each relationship is an id, a type under the officeDocument
/// namespace, and a target.
fn relationships(links: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut xml = format!("{XML_DECLARATION}<Relationships xmlns=\"{PACKAGE_RELATIONSHIPS_NS}\">");
    for (id, kind, target) in links {
        xml += &format!(
            "<Relationship Id=\"{id}\" Type=\"{RELATIONSHIPS_NS}/{kind}\" Target=\"{target}\"/>"
        );
    }
    (xml + "</Relationships>").into_bytes()
}

/// Returns the package relationship to the main part.
fn root_relationships(main_part: &str) -> Vec<u8> {
    relationships(&[("rId1", "officeDocument", main_part)])
}

/// Returns a Word document (.docx) with one paragraph.
pub fn docx() -> Vec<u8> {
    let body = "<w:body><w:p><w:r><w:t>Quarterly report</w:t></w:r></w:p></w:body>";
    let document =
        format!("{XML_DECLARATION}<w:document xmlns:w=\"{WORD_NS}\">{body}</w:document>");
    let main_type = format!("{OFFICE_TYPE}.wordprocessingml.document.main+xml");
    zip(
        &[
            (
                "[Content_Types].xml",
                content_types(&[("word/document.xml", main_type)]),
            ),
            ("_rels/.rels", root_relationships("word/document.xml")),
            ("word/document.xml", document.into_bytes()),
        ],
        None,
    )
}

/// Returns an Excel workbook (.xlsx) with one sheet containing one text cell.
pub fn xlsx() -> Vec<u8> {
    let sheets = "<sheets><sheet name=\"Sheet1\" sheetId=\"1\" r:id=\"rId1\"/></sheets>";
    let workbook = format!(
        "{XML_DECLARATION}<workbook xmlns=\"{SHEET_NS}\" xmlns:r=\"{RELATIONSHIPS_NS}\">\
         {sheets}</workbook>"
    );
    let cell = "<c r=\"A1\" t=\"inlineStr\"><is><t>Total</t></is></c>";
    let sheet = format!(
        "{XML_DECLARATION}<worksheet xmlns=\"{SHEET_NS}\"><sheetData><row r=\"1\">{cell}\
         </row></sheetData></worksheet>"
    );
    let types = content_types(&[
        (
            "xl/workbook.xml",
            format!("{OFFICE_TYPE}.spreadsheetml.sheet.main+xml"),
        ),
        (
            "xl/worksheets/sheet1.xml",
            format!("{OFFICE_TYPE}.spreadsheetml.worksheet+xml"),
        ),
    ]);
    let workbook_links = relationships(&[("rId1", "worksheet", "worksheets/sheet1.xml")]);
    zip(
        &[
            ("[Content_Types].xml", types),
            ("_rels/.rels", root_relationships("xl/workbook.xml")),
            ("xl/workbook.xml", workbook.into_bytes()),
            ("xl/_rels/workbook.xml.rels", workbook_links),
            ("xl/worksheets/sheet1.xml", sheet.into_bytes()),
        ],
        None,
    )
}

/// Returns a PowerPoint presentation (.pptx) with one empty slide.
///
/// NOTE: the package has no slide master or theme. python-pptx and the content check read it,
/// but PowerPoint expects both and may offer to repair the file.
pub fn pptx() -> Vec<u8> {
    let slides = "<p:sldIdLst><p:sldId id=\"256\" r:id=\"rId1\"/></p:sldIdLst>";
    let sizes =
        "<p:sldSz cx=\"9144000\" cy=\"6858000\"/><p:notesSz cx=\"6858000\" cy=\"9144000\"/>";
    let presentation = format!(
        "{XML_DECLARATION}<p:presentation xmlns:p=\"{SLIDE_NS}\" xmlns:r=\"{RELATIONSHIPS_NS}\">\
         {slides}{sizes}</p:presentation>"
    );
    let group = "<p:nvGrpSpPr><p:cNvPr id=\"1\" name=\"\"/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr>";
    let slide = format!(
        "{XML_DECLARATION}<p:sld xmlns:p=\"{SLIDE_NS}\"><p:cSld><p:spTree>{group}\
         <p:grpSpPr/></p:spTree></p:cSld></p:sld>"
    );
    let types = content_types(&[
        (
            "ppt/presentation.xml",
            format!("{OFFICE_TYPE}.presentationml.presentation.main+xml"),
        ),
        (
            "ppt/slides/slide1.xml",
            format!("{OFFICE_TYPE}.presentationml.slide+xml"),
        ),
    ]);
    let presentation_links = relationships(&[("rId1", "slide", "slides/slide1.xml")]);
    zip(
        &[
            ("[Content_Types].xml", types),
            ("_rels/.rels", root_relationships("ppt/presentation.xml")),
            ("ppt/presentation.xml", presentation.into_bytes()),
            ("ppt/_rels/presentation.xml.rels", presentation_links),
            ("ppt/slides/slide1.xml", slide.into_bytes()),
        ],
        None,
    )
}

/// Returns an OpenDocument text (.odt) with one paragraph, its `mimetype` entry stored first.
pub fn odt() -> Vec<u8> {
    let entry = |path: &str, kind: &str| {
        format!(
            "<manifest:file-entry manifest:full-path=\"{path}\" manifest:media-type=\"{kind}\"/>"
        )
    };
    let manifest = format!(
        "{XML_DECLARATION}<manifest:manifest xmlns:manifest=\"{ODF_NS}:manifest:1.0\" \
         manifest:version=\"1.2\">{}{}</manifest:manifest>",
        entry("/", ODT),
        entry("content.xml", "text/xml")
    );
    let content = format!(
        "{XML_DECLARATION}<office:document-content xmlns:office=\"{ODF_NS}:office:1.0\" \
         xmlns:text=\"{ODF_NS}:text:1.0\" office:version=\"1.2\"><office:body><office:text>\
         <text:p>Dear reader</text:p></office:text></office:body></office:document-content>"
    );
    zip(
        &[
            ("mimetype", ODT.as_bytes().to_vec()),
            ("META-INF/manifest.xml", manifest.into_bytes()),
            ("content.xml", content.into_bytes()),
        ],
        None,
    )
}

/// Returns a zip containing a text file and a PNG image.
pub fn zip_archive() -> Vec<u8> {
    zip(
        &[
            ("readme.txt", samples::text()),
            ("images/photo.png", samples::png(8, 8)),
        ],
        None,
    )
}

/// Returns a zip whose one entry is encrypted with ZipCrypto (general-purpose flag bit 0).
pub fn encrypted_zip() -> Vec<u8> {
    zip(&[("secret.txt", samples::text())], Some(b"correct horse"))
}

/// Returns a zip of unrelated entries, to be named `.docx`: it has no Office Open XML parts.
pub fn docx_of_random_entries() -> Vec<u8> {
    // A fixed linear congruential generator keeps the bytes the same on every run.
    let mut state = 0x2545_F491_u32;
    let noise: Vec<u8> = (0..512)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect();
    zip(
        &[("notes.txt", samples::text()), ("data/blob.bin", noise)],
        None,
    )
}

/// Returns an SVG image of a green square.
pub fn clean_svg() -> Vec<u8> {
    svg("<rect width=\"16\" height=\"16\" fill=\"#2a2\"/>")
}

/// Returns an SVG image with a script element.
pub fn svg_with_script() -> Vec<u8> {
    svg("<rect width=\"16\" height=\"16\"/><script>document.title = 'x'</script>")
}

fn svg(body: &str) -> Vec<u8> {
    let open = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"16\" height=\"16\">";
    format!("<?xml version=\"1.0\"?>\n{open}{body}</svg>\n").into_bytes()
}

/// Returns a 64-bit x86-64 Linux program that exits with status 0: an ELF header, one loadable
/// segment and 12 bytes of code.
pub fn elf_executable() -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    const HEADERS: u64 = 64 + 56;
    // mov eax, 60 (exit); xor edi, edi; syscall
    let code = [
        0xB8, 0x3C, 0, 0, 0, 0x31, 0xFF, 0x0F, 0x05, 0x90, 0x90, 0x90,
    ];
    let size = HEADERS + code.len() as u64;
    let mut out = b"\x7FELF\x02\x01\x01\0".to_vec();
    out.resize(16, 0);
    out.extend_from_slice(&2u16.to_le_bytes()); // e_type: executable
    out.extend_from_slice(&0x3Eu16.to_le_bytes()); // e_machine: x86-64
    out.extend_from_slice(&1u32.to_le_bytes()); // e_version
    out.extend_from_slice(&(BASE + HEADERS).to_le_bytes()); // e_entry
    out.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    for half in [64u16, 56, 1, 64, 0, 0] {
        // e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
        out.extend_from_slice(&half.to_le_bytes());
    }
    out.extend_from_slice(&1u32.to_le_bytes()); // p_type: PT_LOAD
    out.extend_from_slice(&5u32.to_le_bytes()); // p_flags: read and execute
    for word in [0, BASE, BASE, size, size, 0x1000] {
        // p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&code);
    out
}

/// Returns a shell script, to be named `.csv`.
pub fn shell_script() -> Vec<u8> {
    b"#!/bin/sh\necho 'name,total'\necho 'a,1'\n".to_vec()
}

/// Returns a PDF followed by a zip archive: PDF readers and zip readers both open it.
pub fn pdf_zip_polyglot() -> Vec<u8> {
    let payload = zip(&[("payload.txt", samples::text())], None);
    [samples::pdf("Nothing to see here."), payload].concat()
}

/// Returns the samples above, named as uploads, with the verdict and action the default
/// content policy gives them when clamd finds nothing.
pub fn content_set() -> Vec<Sample> {
    vec![
        named("report.docx", docx(), "clean"),
        named("totals.xlsx", xlsx(), "clean"),
        named("slides.pptx", pptx(), "clean"),
        named("letter.odt", odt(), "clean"),
        named("bundle.zip", zip_archive(), "clean"),
        named("logo.svg", clean_svg(), "clean"),
        named("secret.zip", encrypted_zip(), "spoofed"),
        named("report.docx", docx_of_random_entries(), "spoofed"),
        named("badge.svg", svg_with_script(), "spoofed"),
        named("notes.txt", elf_executable(), "spoofed"),
        named("export.csv", shell_script(), "spoofed"),
        named("invoice.pdf", pdf_zip_polyglot(), "spoofed"),
    ]
}

fn named(filename: &str, bytes: Vec<u8>, expected_verdict: &'static str) -> Sample {
    let policy = Policy::from_list("").expect("the full table is a valid policy");
    let rule = policy
        .rule_for_name(filename)
        .expect("every sample name has an allowed extension");
    Sample {
        filename: filename.to_string(),
        content_type: rule.content_type,
        bytes,
        expected_verdict,
        expected_action: if expected_verdict == "clean" {
            "stored"
        } else {
            "deleted"
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use filestore::content::Inspector;

    #[test]
    fn content_set_gets_expected_checks() {
        let policy = Policy::from_list("").unwrap();
        for sample in content_set() {
            let mut inspector = Inspector::new();
            sample
                .bytes
                .chunks(1000)
                .for_each(|chunk| inspector.update(chunk));
            let check = policy.check(&sample.filename, &inspector);
            let expected = sample.expected_verdict == "clean";
            assert_eq!(check.matches, expected, "{}: {check:?}", sample.filename);
        }
    }

    #[test]
    fn zip_samples_open_in_zip_reader() {
        let samples = [
            docx(),
            xlsx(),
            pptx(),
            odt(),
            zip_archive(),
            docx_of_random_entries(),
        ];
        for bytes in samples {
            let archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip opens");
            assert!(!archive.is_empty());
        }
        let encrypted = zip::ZipArchive::new(Cursor::new(encrypted_zip())).unwrap();
        assert_eq!(encrypted.len(), 1);
        assert_eq!(
            encrypted_zip()[6] & 1,
            1,
            "local header flags the entry as encrypted"
        );
    }

    #[test]
    fn polyglot_is_pdf_and_zip() {
        let polyglot = pdf_zip_polyglot();
        assert!(polyglot.starts_with(b"%PDF-1.4"));
        let archive = zip::ZipArchive::new(Cursor::new(polyglot)).expect("zip opens");
        assert_eq!(archive.len(), 1);
    }
}
