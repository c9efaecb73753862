//! Tests of images, audio, video, archives and PDF.

use super::*;

fn jpeg() -> Vec<u8> {
    b"\xFF\xD8\xFF\xE0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xFF\xD9".to_vec()
}

fn mp3_frame() -> Vec<u8> {
    // MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, with CRC protection (FF FA).
    let mut out = vec![0xFF, 0xFA, 0x90, 0x64];
    out.resize(417, 0);
    out
}

/// Returns one valid sample for each signature rule.
fn signed_samples() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("photo.jpg", jpeg()),
        ("photo.jpeg", jpeg()),
        ("image.png", build::png()),
        ("anim.gif", build::gif()),
        ("image.webp", build::riff(b"WEBP")),
        ("scan.tiff", b"II*\0\x08\0\0\0\0\0".to_vec()),
        ("scan.tif", b"MM\0*\0\0\0\x08\0\0".to_vec()),
        ("icon.bmp", build::bmp()),
        ("phone.heic", build::ftyp(b"mif1", &[b"mif1", b"heic"])),
        ("song.mp3", b"ID3\x04\0\0\0\0\0\0".to_vec()),
        ("frame.mp3", mp3_frame()),
        ("clip.mp4", build::ftyp(b"isom", &[b"isom", b"avc1"])),
        ("clip.mov", build::ftyp(b"qt  ", &[b"qt  "])),
        ("old.mov", b"\0\0\0\x08wide\0\0\0\x10mdat".to_vec()),
        ("voice.wav", build::riff(b"WAVE")),
        (
            "logs.gz",
            b"\x1F\x8B\x08\0\0\0\0\0\0\x03\x03\0\0\0\0\0\0\0\0\0".to_vec(),
        ),
        ("backup.tar", build::tar("notes.txt", b"hello\n")),
        ("bundle.7z", b"7z\xBC\xAF\x27\x1C\0\x04".to_vec()),
    ]
}

#[test]
fn each_signature_rule_accepts_its_format() {
    for (name, bytes) in signed_samples() {
        let outcome = check(name, &bytes);
        assert_eq!(outcome.reason, None, "{name}");
        assert!(outcome.matches, "{name}");
    }
}

#[test]
fn png_named_jpg_is_rejected() {
    let outcome = check("photo.jpg", &build::png());
    assert_rejected(&outcome, "content is not a JPEG image (detected image/png)");
    assert_eq!(outcome.declared, "image/jpeg");
}

#[test]
fn empty_object_is_not_an_image() {
    let outcome = check("photo.png", b"");
    assert_rejected(&outcome, "content is empty, expected a PNG image");
    assert_eq!(outcome.detected, "application/x-empty");
}

#[test]
fn text_starting_with_bm_is_not_bmp() {
    let outcome = check("car.bmp", b"BMW service history, 2019 to 2024\n");
    assert_rejected(&outcome, "content is not a BMP image (detected text/plain)");
}

#[test]
fn iso_media_brands_pick_the_format() {
    let movie = build::ftyp(b"qt  ", &[b"qt  "]);
    let outcome = check("clip.mp4", &movie);
    assert_rejected(
        &outcome,
        "content is not an MP4 file (detected video/quicktime)",
    );
    let video = build::ftyp(b"isom", &[b"isom"]);
    assert!(!check("phone.heic", &video).matches);
    assert!(!check("clip.mov", &video).matches);
}

#[test]
fn tar_with_bad_checksum_is_rejected() {
    let mut archive = build::tar("notes.txt", b"hello\n");
    archive[0] = b'N';
    let outcome = check("backup.tar", &archive);
    assert_eq!(
        outcome
            .reason
            .as_deref()
            .map(|r| r.starts_with("content is not a tar archive")),
        Some(true)
    );
}

#[test]
fn pdf_with_trailer_is_accepted() {
    let outcome = check("report.pdf", &build::pdf(None));
    assert_accepted(&outcome);
    assert_eq!(outcome.detected, "application/pdf");
}

#[test]
fn pdf_header_after_byte_zero_is_rejected() {
    let shifted = [b"junk\n".as_slice(), &build::pdf(None)].concat();
    assert_rejected(
        &check("report.pdf", &shifted),
        "PDF header %PDF- is not at byte 0",
    );
}

#[test]
fn pdf_without_eof_marker_is_rejected() {
    let mut truncated = build::pdf(None);
    truncated.truncate(truncated.len() - 7);
    let outcome = check("report.pdf", &truncated);
    assert_rejected(&outcome, "PDF has no %%EOF marker in its last 1024 bytes");
}

#[test]
fn encrypted_pdf_is_rejected_unless_allowed() {
    let encrypted = build::pdf(Some("/Encrypt 5 0 R /ID [<01><02>] "));
    assert_rejected(&check("secret.pdf", &encrypted), "PDF is encrypted");
    let options = PolicyOptions {
        allow_encrypted: true,
        ..PolicyOptions::default()
    };
    assert_accepted(&check_with("secret.pdf", &encrypted, options));
}

#[test]
fn encrypt_name_with_hex_escape_is_found() {
    let encrypted = build::pdf(Some("/Encr#79pt 5 0 R "));
    assert_rejected(&check("secret.pdf", &encrypted), "PDF is encrypted");
}

#[test]
fn pdf_with_zip_appended_is_polyglot() {
    let zip = build::zip(&[("payload.js", b"alert(1)")]);
    let polyglot = [build::pdf(None), zip].concat();
    let outcome = check("report.pdf", &polyglot);
    assert_rejected(
        &outcome,
        "content also ends with a zip archive (a polyglot file)",
    );
    assert_eq!(outcome.detected, "application/pdf");
}

#[test]
fn gif_that_is_also_a_jar_is_polyglot() {
    let jar = build::zip(&[
        ("META-INF/MANIFEST.MF", b"Main-Class: A\n"),
        ("A.class", b".."),
    ]);
    let gifar = [build::gif(), jar].concat();
    let outcome = check("avatar.gif", &gifar);
    assert_rejected(
        &outcome,
        "content also ends with a zip archive (a polyglot file)",
    );
    assert_eq!(outcome.detected, "image/gif");
}

#[test]
fn tar_containing_zip_is_not_polyglot() {
    let zip = build::zip(&[("a.txt", b"inside")]);
    let archive = build::tar("inner.zip", &zip);
    assert_accepted(&check("backup.tar", &archive));
}
