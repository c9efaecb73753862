//! Tests of the table, the policy and file names.

use super::*;
use crate::content::{Expected, PolicyError, RULES, UNKNOWN, extension_of};

#[test]
fn extension_is_last_and_lowercase() {
    assert_eq!(extension_of("a/b/Report.PDF").as_deref(), Some("pdf"));
    assert_eq!(extension_of("invoice.pdf.exe").as_deref(), Some("exe"));
    assert_eq!(extension_of("archive.tar.gz").as_deref(), Some("gz"));
    assert_eq!(extension_of("README"), None);
    assert_eq!(extension_of(".bashrc"), None);
    assert_eq!(extension_of("dir.d/file"), None);
    assert_eq!(extension_of("trailing.pdf."), None);
}

#[test]
fn table_covers_required_extensions() {
    let required = [
        "jpg", "jpeg", "png", "gif", "webp", "tiff", "tif", "bmp", "heic", "svg", "pdf", "docx",
        "xlsx", "pptx", "odt", "ods", "odp", "doc", "xls", "ppt", "zip", "gz", "tar", "7z", "mp3",
        "mp4", "mov", "wav", "txt", "csv", "json", "md",
    ];
    let policy = Policy::from_list("").unwrap();
    for extension in required {
        let name = format!("sample.{extension}");
        assert!(
            policy.rule_for_name(&name).is_some(),
            "{extension} has no rule"
        );
    }
    let mut extensions: Vec<_> = RULES.iter().map(|r| r.extension).collect();
    extensions.sort_unstable();
    extensions.dedup();
    assert_eq!(
        extensions.len(),
        RULES.len(),
        "an extension is listed twice"
    );
}

#[test]
fn policy_rejects_unknown_extension() {
    let err = Policy::from_list("pdf, bat").unwrap_err();
    assert!(matches!(&err, PolicyError::UnknownExtension(name) if name == "bat"));
    let policy = Policy::from_list(" .PDF ,png").unwrap();
    assert_eq!(policy.extensions(), vec!["pdf", "png"]);
    assert!(policy.rule_for_name("x.txt").is_none());
}

#[test]
fn default_policy_leaves_out_gated_rules() {
    let extensions = Policy::from_list("").unwrap().extensions();
    for gated in ["exe", "dll", "so", "dylib", "sh", "html", "htm"] {
        assert!(!extensions.contains(&gated), "{gated} is listed by default");
    }
    let all = Policy::with_options("", ALLOW_ALL).unwrap().extensions();
    assert_eq!(all.len(), RULES.len());
}

#[test]
fn gated_extension_needs_its_option() {
    let err = Policy::from_list("pdf,exe").unwrap_err();
    assert!(matches!(
        err,
        PolicyError::NeedsOption { ref extension, option: "allow_executables" } if extension == "exe"
    ));
    let err = Policy::from_list("html").unwrap_err();
    assert!(matches!(
        err,
        PolicyError::NeedsOption {
            option: "allow_active_content",
            ..
        }
    ));
    let executables = PolicyOptions {
        allow_executables: true,
        ..PolicyOptions::default()
    };
    let policy = Policy::with_options("exe", executables).unwrap();
    assert_eq!(policy.extensions(), vec!["exe"]);
    assert_eq!(policy.options(), executables);
}

#[test]
fn html_is_listed_only_with_active_content() {
    let active = PolicyOptions {
        allow_active_content: true,
        ..PolicyOptions::default()
    };
    let policy = Policy::with_options("html", active).unwrap();
    let rule = policy.rule_for_name("page.html").unwrap();
    assert_eq!(rule.expected, Expected::Html);
    let page = b"<!DOCTYPE html><p onclick=\"go()\">hi</p>";
    assert_accepted(&policy.check("page.html", &inspect_in_chunks(page, 5)));
}

#[test]
fn name_without_extension_is_rejected() {
    let outcome = check("README", b"plain words\n");
    assert_rejected(&outcome, "file name has no extension");
    assert_eq!(outcome.declared, UNKNOWN);
    assert_eq!(outcome.detected, "text/plain");
}

#[test]
fn unlisted_extension_is_rejected() {
    let policy = Policy::from_list("pdf").unwrap();
    let outcome = policy.check("notes.txt", &inspect_in_chunks(b"words", 5));
    assert_rejected(&outcome, "extension .txt is not allowed");
}

#[test]
fn double_extension_uses_last() {
    let outcome = check("report.pdf.txt", b"only text\n");
    assert_accepted(&outcome);
    assert_eq!(outcome.declared, "text/plain");
    let outcome = check("invoice.pdf.exe", &build::windows_executable());
    assert_rejected(&outcome, "extension .exe is not allowed");
}

#[test]
fn disguised_executable_name_has_no_rule() {
    let policy = Policy::with_options("", ALLOW_ALL).unwrap();
    assert!(policy.rule_for_name("invoice.pdf.exe").is_none());
    assert!(policy.rule_for_name("setup.v2.exe").is_some());
    assert!(policy.rule_for_name("setup.exe").is_some());
    let program = build::windows_executable();
    let outcome = check_with("invoice.pdf.exe", &program, ALLOW_ALL);
    assert_rejected(&outcome, "file name hides a .exe program behind .pdf");
    assert_accepted(&check_with("setup.exe", &program, ALLOW_ALL));
}

#[test]
fn inspector_check_uses_default_options() {
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>x()</script></svg>";
    let inspector = inspect_in_chunks(svg, svg.len());
    let rule = *Policy::from_list("svg")
        .unwrap()
        .rule_for_name("a.svg")
        .unwrap();
    assert_rejected(&inspector.check(&rule), "SVG contains a script element");
    assert_accepted(&inspector.check_with(&rule, ALLOW_ALL));
}
