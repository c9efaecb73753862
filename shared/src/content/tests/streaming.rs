//! Tests of chunk boundaries and of the memory bound.

use super::*;
use crate::content::{HEAD_LEN, TAIL_LEN};

fn svg_with_filler(filler_bytes: usize, end: &str) -> Vec<u8> {
    let mut image = b"<svg xmlns=\"http://www.w3.org/2000/svg\">\n".to_vec();
    let rect = b"<rect width=\"1\" height=\"1\"/>\n";
    while image.len() < filler_bytes {
        image.extend_from_slice(rect);
    }
    image.extend_from_slice(end.as_bytes());
    image.extend_from_slice(b"</svg>\n");
    image
}

#[test]
fn one_byte_chunks_match_one_chunk() {
    let samples: Vec<(&str, Vec<u8>)> = vec![
        ("report.docx", build::office_open_xml("word/document.xml")),
        ("secret.pdf", build::pdf(Some("/Encrypt 5 0 R "))),
        ("report.docx", build::compound_file(&["EncryptedPackage"])),
        (
            "logo.svg",
            svg_with_filler(100, "<a href=\"jav&#97;script:x()\"/>"),
        ),
        ("data.json", b"{\"a\": [1, 2, {\"b\": null}]}".to_vec()),
        ("notes.txt", "ünïcödé ✓ text\n".as_bytes().to_vec()),
    ];
    let policy = Policy::from_list("").unwrap();
    for (name, bytes) in samples {
        let whole = policy.check(name, &inspect_in_chunks(&bytes, bytes.len()));
        let bytewise = policy.check(name, &inspect_in_chunks(&bytes, 1));
        assert_eq!(bytewise, whole, "{name}");
        assert_eq!(
            inspect_in_chunks(&bytes, 1).detected(),
            inspect_in_chunks(&bytes, bytes.len()).detected(),
            "{name}"
        );
    }
}

#[test]
fn script_split_across_chunks_is_found() {
    let parts: [&[u8]; 3] = [b"<svg><scr", b"ipt>x()</scr", b"ipt></svg>"];
    let mut inspector = Inspector::new();
    parts.iter().for_each(|part| inspector.update(part));
    let policy = Policy::from_list("svg").unwrap();
    assert_rejected(
        &policy.check("a.svg", &inspector),
        "SVG contains a script element",
    );
}

#[test]
fn handler_split_across_chunks_is_found() {
    let parts: [&[u8]; 4] = [b"<svg><rect o", b"nlo", b"ad ", b"=x()/></svg>"];
    let mut inspector = Inspector::new();
    parts.iter().for_each(|part| inspector.update(part));
    let policy = Policy::from_list("svg").unwrap();
    let outcome = policy.check("a.svg", &inspector);
    assert_rejected(&outcome, "SVG contains an event-handler attribute");
}

#[test]
fn script_far_past_head_is_found() {
    let image = svg_with_filler(3 * TAIL_LEN, "<script>late()</script>");
    assert!(image.len() > 3 * TAIL_LEN);
    let outcome = check("big.svg", &image);
    assert_rejected(&outcome, "SVG contains a script element");
    let clean = svg_with_filler(3 * TAIL_LEN, "");
    assert_accepted(&check("big.svg", &clean));
}

#[test]
fn kept_bytes_stay_bounded() {
    let object: Vec<u8> = (0..5 * TAIL_LEN).map(|i| (i % 251) as u8).collect();
    for size in [1000, 64 * 1024, 3 * TAIL_LEN] {
        let inspector = inspect_in_chunks(&object, size);
        let (head, tail) = inspector.kept_lengths();
        assert_eq!(head, HEAD_LEN, "chunks of {size}");
        assert!(tail >= TAIL_LEN, "chunks of {size}: tail {tail}");
        assert!(tail <= 2 * TAIL_LEN, "chunks of {size}: tail {tail}");
        assert_eq!(inspector.total(), object.len() as u64);
    }
}

#[test]
fn tail_keeps_last_bytes_across_chunks() {
    let mut object = vec![b'a'; 3 * TAIL_LEN];
    let zip = build::zip(&[("a.txt", b"one")]);
    object.extend_from_slice(&zip);
    let outcome = check("photo.gif", &[build::gif(), object].concat());
    assert_rejected(
        &outcome,
        "content also ends with a zip archive (a polyglot file)",
    );
}

/// Returns every offset within 40 bytes of a marker and every 53rd offset elsewhere, at which
/// to split a large sample in two without making the test slow in debug builds.
fn offsets_near(bytes: &[u8], markers: &[Vec<u8>]) -> Vec<usize> {
    let mut near_marker = vec![false; bytes.len() + 1];
    for marker in markers {
        let starts: Vec<usize> = (0..=bytes.len().saturating_sub(marker.len()))
            .filter(|&start| bytes[start..].starts_with(marker))
            .collect();
        assert!(
            !starts.is_empty(),
            "marker {marker:x?} is not in the sample"
        );
        for start in starts {
            let from = start.saturating_sub(40);
            let to = (start + marker.len() + 40).min(bytes.len());
            near_marker[from..=to].fill(true);
        }
    }
    (0..=bytes.len())
        .filter(|&offset| near_marker[offset] || offset % 53 == 0 || offset == bytes.len())
        .collect()
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Asserts that a sample fed in two chunks, split at each of these offsets, gets the same
/// check and detected type as fed in one chunk.
fn assert_splits_match_one_chunk(
    name: &str,
    bytes: &[u8],
    splits: impl IntoIterator<Item = usize>,
) {
    let policy = Policy::from_list("").unwrap();
    let whole_inspector = inspect_in_chunks(bytes, bytes.len());
    let whole = policy.check(name, &whole_inspector);
    for split in splits {
        let (front, back) = bytes.split_at(split);
        let mut inspector = Inspector::new();
        inspector.update(front);
        inspector.update(back);
        let outcome = policy.check(name, &inspector);
        assert_eq!(outcome, whole, "{name} split at {split}");
        let detected = inspector.detected();
        assert_eq!(
            detected,
            whole_inspector.detected(),
            "{name} split at {split}"
        );
    }
}

#[test]
fn every_two_chunk_split_matches_one_chunk() {
    let samples: Vec<(&str, Vec<u8>)> = vec![
        ("secret.pdf", build::pdf(Some("/Encr#79pt 5 0 R "))),
        (
            "logo.svg",
            svg_with_filler(
                200,
                "<a href=\"jav&#x61;scr\nipt&colon;x()\"/><rect onload =x/>",
            ),
        ),
        (
            "notes.md",
            b"Some *text* with an option on\n<embed src=x>\n".to_vec(),
        ),
        (
            "data.json",
            b"{\"a\": [1, 2.5e3, {\"b\": \"caf\\u00e9\"}], \"c\": null}".to_vec(),
        ),
        (
            "notes.txt",
            "\u{fc}n\u{ef}c\u{f6}d\u{e9} \u{2713} text\twith\r\nlines\n"
                .as_bytes()
                .to_vec(),
        ),
    ];
    for (name, bytes) in samples {
        assert_splits_match_one_chunk(name, &bytes, 0..=bytes.len());
    }
}

#[test]
fn compound_file_splits_match_one_chunk() {
    let file = build::compound_file(&["WordDocument", "Macros/VBA/_VBA_PROJECT"]);
    let offsets = offsets_near(&file, &[utf16("WordDocument"), utf16("_VBA_PROJECT")]);
    assert_splits_match_one_chunk("report.doc", &file, offsets);
}
