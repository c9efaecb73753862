//! Tests of zip archives, Office Open XML, OpenDocument and Office 97-2003 files.

use super::*;

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const ODT: &str = "application/vnd.oasis.opendocument.text";
const ODS: &str = "application/vnd.oasis.opendocument.spreadsheet";

const ENCRYPTED: PolicyOptions = PolicyOptions {
    allow_executables: false,
    allow_active_content: false,
    allow_encrypted: true,
};

const ACTIVE: PolicyOptions = PolicyOptions {
    allow_executables: false,
    allow_active_content: true,
    allow_encrypted: false,
};

/// Rewrites a zip without comment so its end record points to a zip64 end record.
fn with_zip64_end(mut zip: Vec<u8>) -> Vec<u8> {
    let end = zip.split_off(zip.len() - 22);
    let field = |at: usize| u32::from_le_bytes(end[at..at + 4].try_into().unwrap());
    let entries = u64::from(u16::from_le_bytes([end[10], end[11]]));
    let (size, offset) = (u64::from(field(12)), u64::from(field(16)));
    let record_at = zip.len() as u64;
    zip.extend_from_slice(b"PK\x06\x06");
    zip.extend_from_slice(&44u64.to_le_bytes());
    zip.extend_from_slice(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    for value in [entries, entries, size, offset] {
        zip.extend_from_slice(&value.to_le_bytes());
    }
    zip.extend_from_slice(b"PK\x06\x07\0\0\0\0");
    zip.extend_from_slice(&record_at.to_le_bytes());
    zip.extend_from_slice(&1u32.to_le_bytes());
    zip.extend_from_slice(b"PK\x05\x06\0\0\0\0\xFF\xFF\xFF\xFF");
    zip.extend_from_slice(&[0xFF; 8]);
    zip.extend_from_slice(&[0, 0]);
    zip
}

#[test]
fn python_docx_entry_order_is_accepted() {
    let docx = build::office_open_xml("word/document.xml");
    assert_eq!(
        infer::get(&docx).map(|k| k.mime_type()),
        Some("application/zip")
    );
    let outcome = check("report.docx", &docx);
    assert_accepted(&outcome);
    assert_eq!(outcome.detected, DOCX);
}

#[test]
fn xlsx_and_pptx_with_main_parts_are_accepted() {
    assert_accepted(&check(
        "sheet.xlsx",
        &build::office_open_xml("xl/workbook.xml"),
    ));
    assert_accepted(&check(
        "deck.pptx",
        &build::office_open_xml("ppt/presentation.xml"),
    ));
}

#[test]
fn docx_without_word_document_is_spoofed() {
    let outcome = check("report.docx", &build::office_open_xml("xl/workbook.xml"));
    assert_rejected(&outcome, "zip has no word/document.xml");
    let random = build::zip(&[("a.txt", b"one"), ("b/c.bin", b"two")]);
    let outcome = check("report.docx", &random);
    assert_rejected(&outcome, "zip has no [Content_Types].xml");
    assert_eq!(outcome.detected, "application/zip");
}

#[test]
fn docx_with_vba_project_is_rejected() {
    let docx = build::zip(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("word/document.xml", b"<document/>"),
        ("word/vbaProject.bin", b"macro"),
    ]);
    let outcome = check("report.docx", &docx);
    assert_rejected(&outcome, "docx contains VBA macros (word/vbaProject.bin)");
    assert_accepted(&check_with("report.docx", &docx, ACTIVE));
}

#[test]
fn xlsx_with_activex_control_is_rejected() {
    let xlsx = build::zip(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("xl/workbook.xml", b"<workbook/>"),
        ("xl/activeX/activeX1.bin", b"control"),
    ]);
    let outcome = check("sheet.xlsx", &xlsx);
    assert_rejected(
        &outcome,
        "xlsx contains ActiveX controls (xl/activeX/activeX1.bin)",
    );
    assert_accepted(&check_with("sheet.xlsx", &xlsx, ACTIVE));
}

#[test]
fn plain_zip_and_jar_are_accepted() {
    let outcome = check("bundle.zip", &build::zip(&[("a.txt", b"one")]));
    assert_accepted(&outcome);
    assert_eq!(outcome.detected, "application/zip");
    let jar = build::zip(&[("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n")]);
    assert_eq!(check("lib.zip", &jar).detected, "application/java-archive");
}

#[test]
fn empty_zip_is_accepted() {
    let empty = build::zip(&[]);
    assert_eq!(empty.len(), 22);
    assert_accepted(&check("nothing.zip", &empty));
}

#[test]
fn encrypted_zip_is_rejected_unless_allowed() {
    let zip = build::set_encryption_flag(build::zip(&[("secret.txt", b"hidden")]));
    assert_rejected(&check("secret.zip", &zip), "zip is encrypted");
    assert_accepted(&check_with("secret.zip", &zip, ENCRYPTED));
    let docx = build::set_encryption_flag(build::office_open_xml("word/document.xml"));
    assert_rejected(&check("report.docx", &docx), "zip is encrypted");
}

#[test]
fn zip_after_other_data_is_rejected() {
    let zip = build::zip(&[("a.txt", b"one")]);
    let outcome = check("bundle.zip", &[b"header bytes\n".as_slice(), &zip].concat());
    let expected = "content is not a zip archive (detected application/octet-stream)";
    assert_rejected(&outcome, expected);
    let two = [zip.clone(), build::zip(&[("b.txt", b"two")])].concat();
    let outcome = check("bundle.zip", &two);
    assert_rejected(
        &outcome,
        &format!(
            "zip archive is preceded by {} bytes of other data",
            zip.len()
        ),
    );
}

#[test]
fn zip_followed_by_data_is_rejected() {
    let zip = [build::zip(&[("a.txt", b"one")]), b"extra".to_vec()].concat();
    assert_rejected(
        &check("bundle.zip", &zip),
        "zip archive is followed by 5 bytes of other data",
    );
}

#[test]
fn zip_without_end_record_is_rejected() {
    let mut zip = build::zip(&[("a.txt", b"one")]);
    zip.truncate(zip.len() - 22);
    assert_rejected(
        &check("bundle.zip", &zip),
        "zip has no end-of-central-directory record",
    );
}

#[test]
fn zip_directory_outside_tail_is_rejected() {
    let names: Vec<String> = (0..2500).map(|i| format!("{i:0>100}.txt")).collect();
    let entries: Vec<(&str, &[u8])> = names
        .iter()
        .map(|n| (n.as_str(), b"x".as_slice()))
        .collect();
    let zip = build::zip(&entries);
    let directory = 2500 * (46 + 104) + 22;
    let outcome = check("many.zip", &zip);
    let expected = format!(
        "zip central directory starts {directory} bytes before the end, outside the last \
         262144 bytes that the check keeps"
    );
    assert_rejected(&outcome, &expected);
}

#[test]
fn zip64_end_record_is_read() {
    let zip = with_zip64_end(build::office_open_xml("word/document.xml"));
    let outcome = check("report.docx", &zip);
    assert_accepted(&outcome);
    assert_eq!(outcome.detected, DOCX);
}

#[test]
fn odt_with_stored_mimetype_is_accepted() {
    let outcome = check("letter.odt", &build::open_document(ODT));
    assert_accepted(&outcome);
    assert_eq!(outcome.detected, ODT);
}

#[test]
fn ods_named_odt_is_rejected() {
    let outcome = check("letter.odt", &build::open_document(ODS));
    let expected = format!("mimetype entry names {ODS:?}, expected {ODT}");
    assert_rejected(&outcome, &expected);
}

#[test]
fn odt_with_bad_mimetype_entry_is_rejected() {
    let mut compressed = build::open_document(ODT);
    compressed[8] = 8;
    assert_rejected(
        &check("letter.odt", &compressed),
        "mimetype entry is compressed, but OpenDocument stores it uncompressed",
    );
    let late = build::zip(&[("content.xml", b"<x/>"), ("mimetype", ODT.as_bytes())]);
    assert_rejected(
        &check("letter.odt", &late),
        "zip's first entry is not mimetype",
    );
    let bare = build::zip(&[("mimetype", ODT.as_bytes()), ("content.xml", b"<x/>")]);
    assert_rejected(
        &check("letter.odt", &bare),
        "zip has no META-INF/manifest.xml",
    );
}

#[test]
fn odt_with_basic_macros_is_rejected() {
    let odt = build::zip(&[
        ("mimetype", ODT.as_bytes()),
        ("META-INF/manifest.xml", b"<manifest/>"),
        ("Basic/Standard/Module1.xml", b"<module/>"),
    ]);
    let outcome = check("letter.odt", &odt);
    assert_rejected(&outcome, "odt contains macros (Basic/Standard/Module1.xml)");
    assert_accepted(&check_with("letter.odt", &odt, ACTIVE));
}

#[test]
fn password_protected_docx_is_rejected() {
    let protected = build::compound_file(&["EncryptionInfo", "EncryptedPackage"]);
    let outcome = check("report.docx", &protected);
    assert_rejected(&outcome, "docx is password-protected");
    assert_eq!(outcome.detected, "application/x-ole-storage");
    assert_accepted(&check_with("report.docx", &protected, ENCRYPTED));
    assert_rejected(&check("sheet.xls", &protected), "xls is password-protected");
}

#[test]
fn word_97_file_named_docx_is_rejected() {
    let legacy = build::compound_file(&["WordDocument", "1Table"]);
    let outcome = check("report.docx", &legacy);
    assert_rejected(
        &outcome,
        "content is not a .docx package (detected application/msword)",
    );
}

#[test]
fn legacy_office_needs_its_main_stream() {
    let word = build::compound_file(&["WordDocument", "1Table"]);
    let outcome = check("letter.doc", &word);
    assert_accepted(&outcome);
    assert_eq!(outcome.detected, "application/msword");
    assert_rejected(
        &check_with("sheet.xls", &word, ALLOW_ALL),
        "compound file has no Workbook stream",
    );
    assert_accepted(&check("sheet.xls", &build::compound_file(&["Workbook"])));
    assert_accepted(&check("old.xls", &build::compound_file(&["Book"])));
    assert_accepted(&check(
        "deck.ppt",
        &build::compound_file(&["PowerPoint Document"]),
    ));
    let installer = build::compound_file(&["SummaryInformation"]);
    assert_rejected(
        &check("letter.doc", &installer),
        "compound file has no WordDocument stream",
    );
}

#[test]
fn legacy_office_with_macros_is_rejected() {
    let word = build::compound_file(&["WordDocument", "Macros/VBA/_VBA_PROJECT"]);
    assert_rejected(&check("letter.doc", &word), "doc contains VBA macros");
    assert_accepted(&check_with("letter.doc", &word, ACTIVE));
}

#[test]
fn legacy_office_with_zip_appended_is_polyglot() {
    let word = build::compound_file(&["WordDocument"]);
    let polyglot = [word, build::zip(&[("a.txt", b"one")])].concat();
    let outcome = check("letter.doc", &polyglot);
    assert_rejected(
        &outcome,
        "content also ends with a zip archive (a polyglot file)",
    );
}

#[test]
fn zip_named_doc_is_rejected() {
    let outcome = check("letter.doc", &build::office_open_xml("word/document.xml"));
    let expected = format!("content is not a Word 97-2003 document (detected {DOCX})");
    assert_rejected(&outcome, &expected);
}
