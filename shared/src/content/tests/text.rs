//! Tests of text, JSON, Markdown and SVG.

use super::*;

const ACTIVE: PolicyOptions = PolicyOptions {
    allow_executables: false,
    allow_active_content: true,
    allow_encrypted: false,
};

fn svg(body: &str) -> Vec<u8> {
    let open = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">";
    format!("<?xml version=\"1.0\"?>\n{open}{body}</svg>\n").into_bytes()
}

#[test]
fn utf8_text_is_accepted() {
    let outcome = check("notes.txt", "naïve café ✓\n".as_bytes());
    assert_accepted(&outcome);
    assert_eq!(outcome.detected, "text/plain");
    assert_accepted(&check("table.csv", b"a,b\n1,2\n"));
}

#[test]
fn text_with_nul_or_bad_utf8_is_rejected() {
    let nul = check("a.csv", b"a,b\n\0\0");
    assert_rejected(&nul, "content is not text: control byte 0x00 at byte 4");
    let invalid = check("a.csv", b"a,b\xff\n");
    assert_rejected(&invalid, "content is not text: invalid UTF-8 at byte 3");
    let cut = check("a.csv", b"cut \xc3");
    assert_rejected(&cut, "content is not text: it ends inside a UTF-8 sequence");
}

#[test]
fn utf8_error_after_boundary_has_offset() {
    let text = [b"ok \xc3\xa9 ".as_slice(), b"\xe2\x82", b"x"].concat();
    let outcome = check("a.txt", &text);
    assert_rejected(&outcome, "content is not text: invalid UTF-8 at byte 6");
}

#[test]
fn empty_object_is_text_but_not_json() {
    let outcome = check("empty.txt", b"");
    assert_accepted(&outcome);
    assert_eq!(outcome.detected, "application/x-empty");
    assert_rejected(&check("empty.json", b""), "JSON document is empty");
}

#[test]
fn html_document_named_txt_is_rejected() {
    let page = b"<!DOCTYPE html>\n<html><body>hi</body></html>\n";
    let outcome = check("notes.txt", page);
    assert_rejected(&outcome, "text content is text/html, not plain text");
}

#[test]
fn valid_json_is_accepted() {
    let document = b"{\"name\": \"caf\\u00e9\", \"tags\": [1, 2.5, true, null]}\n";
    assert_accepted(&check("data.json", document));
}

#[test]
fn invalid_json_is_rejected() {
    let outcome = check("data.json", b"{\"a\": 1,}");
    assert_rejected(&outcome, "JSON is invalid: unexpected '}' at byte 8");
    let truncated = check("data.json", b"[1, 2");
    assert_rejected(&truncated, "JSON document ends before it is complete");
}

#[test]
fn json_nested_too_deep_is_rejected() {
    let deep = [vec![b'['; 200], vec![b']'; 200]].concat();
    let outcome = check("deep.json", &deep);
    assert_rejected(&outcome, "JSON nests deeper than 128 levels at byte 128");
}

#[test]
fn markdown_with_html_start_is_accepted() {
    let readme = b"<p align=\"center\"><img src=\"logo.png\"></p>\n\n# Title\n";
    assert_accepted(&check("README.md", readme));
}

#[test]
fn markdown_with_script_is_rejected() {
    let readme = b"# Title\n\n<script>steal()</script>\n";
    assert_rejected(
        &check("README.md", readme),
        "Markdown contains a script element",
    );
    let link = b"[click](javascript:alert(1))\n";
    assert_rejected(
        &check("README.md", link),
        "Markdown contains a javascript: URL",
    );
    assert_accepted(&check_with("README.md", readme, ACTIVE));
}

#[test]
fn markdown_ignores_entity_declarations() {
    assert_accepted(&check("notes.md", b"Write `<!ENTITY x \"y\">` in a DTD.\n"));
}

#[test]
fn clean_svg_is_accepted() {
    let image = svg("<rect width=\"10\" height=\"10\" fill=\"#0a0\"/><text>on top</text>");
    let outcome = check("logo.svg", &image);
    assert_accepted(&outcome);
    assert_eq!(outcome.detected, "image/svg+xml");
}

#[test]
fn svg_with_script_is_rejected() {
    let outcome = check("logo.svg", &svg("<script>alert(1)</script>"));
    assert_rejected(&outcome, "SVG contains a script element");
}

#[test]
fn svg_active_content_is_rejected() {
    let cases = [
        ("<svg:script>x()</svg:script>", "a script element"),
        ("<rect onload=\"x()\"/>", "an event-handler attribute"),
        ("<rect/onclick = x()/>", "an event-handler attribute"),
        ("<rect ONMOUSEOVER\n=x()/>", "an event-handler attribute"),
        (
            "<foreignObject><p>x</p></foreignObject>",
            "a foreignObject element",
        ),
        ("<a href=\"javascript:alert(1)\">x</a>", "a javascript: URL"),
        (
            "<a href=\"java\tscript:alert(1)\">x</a>",
            "a javascript: URL",
        ),
        (
            "<a href=\"&#106;avascript&#x3A;x()\">x</a>",
            "a javascript: URL",
        ),
        (
            "<a href=\"javascript&colon;x()\">x</a>",
            "a javascript: URL",
        ),
        (
            "<a href=\"&#0000106;avascript:x()\">x</a>",
            "a javascript: URL",
        ),
        ("<iframe src=\"x\"/>", "an iframe element"),
        ("<embed src=\"x\"/>", "an embed element"),
        ("<object data=\"x\"/>", "an object element"),
    ];
    for (body, found) in cases {
        let outcome = check("logo.svg", &svg(body));
        assert_eq!(
            outcome.reason,
            Some(format!("SVG contains {found}")),
            "{body}"
        );
        assert!(!outcome.matches, "{body}");
    }
}

#[test]
fn svg_entity_declaration_is_rejected() {
    let image = b"<?xml version=\"1.0\"?><!DOCTYPE svg [<!ENTITY a \"aaaa\">]><svg>&a;</svg>";
    assert_rejected(
        &check("bomb.svg", image),
        "SVG contains an XML entity declaration",
    );
}

#[test]
fn svg_stylesheet_instruction_is_rejected() {
    let image = b"<?xml-stylesheet type=\"text/xsl\" href=\"x.xsl\"?><svg></svg>";
    let outcome = check("styled.svg", image);
    assert_rejected(&outcome, "SVG contains an xml-stylesheet instruction");
}

#[test]
fn attribute_names_containing_on_are_not_handlers() {
    let image = svg("<g font-family=\"x\" xonload=\"1\" on=\"2\" data-onclick=\"3\"/>");
    assert_accepted(&check("logo.svg", &image));
}

#[test]
fn svg_active_content_allowed_by_option() {
    assert_accepted(&check_with(
        "logo.svg",
        &svg("<script>x()</script>"),
        ACTIVE,
    ));
}

#[test]
fn text_without_svg_root_is_not_svg() {
    let outcome = check("logo.svg", b"just words\n");
    assert_rejected(
        &outcome,
        "content is not an SVG image (detected text/plain)",
    );
}
