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
