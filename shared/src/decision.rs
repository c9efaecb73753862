//! Verdicts from a clamd result and a content check, decided the same way in the scan and
//! upload functions.

use crate::clamd::ScanOutcome;
use crate::config::{self, ConfigError};
use crate::content::{Inspector, Policy, PolicyOptions, extension_of};
use crate::verdict::Verdict;

/// Prefix of the names clamd reports when `AlertExceedsMax` stops a scan at one of its limits.
const LIMIT_ALERT: &str = "Heuristics.Limits.Exceeded";
/// Prefix of the names clamd reports for encrypted archives and documents (`AlertEncrypted`).
const ENCRYPTED_ALERT: &str = "Heuristics.Encrypted";

/// ClamAV scans at most 2 GiB minus one byte of any stream, whatever its settings.
pub const CLAMAV_HARD_LIMIT: u64 = (2 << 30) - 1;

/// A verdict with the content types behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Verdict,
    pub declared: Option<String>,
    pub detected: Option<String>,
}

/// Combines the clamd outcome and the content check for a file called `name`. A detection
/// outranks a type mismatch, and clamd's limit and encryption alerts mean the content was not
/// fully scanned.
pub fn judge(
    policy: &Policy,
    name: &str,
    outcome: ScanOutcome,
    inspector: &Inspector,
) -> Judgement {
    let check = policy.check(name, inspector);
    let declared = policy
        .rule_for_name(name)
        .map(|r| r.content_type.to_string());
    let verdict = match outcome {
        ScanOutcome::Found(found) if found.starts_with(LIMIT_ALERT) => Verdict::Unscannable {
            reason: format!("clamd stopped at one of its limits ({found})"),
        },
        ScanOutcome::Found(found) if found.starts_with(ENCRYPTED_ALERT) => Verdict::Unscannable {
            reason: format!("content is encrypted ({found})"),
        },
        ScanOutcome::Found(signature) => Verdict::Infected { signature },
        ScanOutcome::Clean if check.matches => Verdict::Clean,
        ScanOutcome::Clean => Verdict::Spoofed {
            declared: declared.clone().unwrap_or_else(|| declared_from_name(name)),
            detected: check.detected.to_string(),
            reason: check.reason,
        },
    };
    Judgement {
        verdict,
        declared,
        detected: Some(check.detected.to_string()),
    }
}

/// Tells whether clamd refused a stream for being over `StreamMaxLength`.
pub fn is_size_limit(message: &str) -> bool {
    message.contains("size limit exceeded")
}

/// Describes what a name claims when no rule allows it.
fn declared_from_name(name: &str) -> String {
    match extension_of(name) {
        Some(extension) => format!(".{extension} (not allowed)"),
        None => "no extension (not allowed)".to_string(),
    }
}

/// Returns the largest object that can be scanned: the smallest of `SCAN_MAX_BYTES` and
/// clamd's `StreamMaxLength`, `MaxFileSize` and `MaxScanSize` (read from `CLAMD_*`, defaulting
/// to ClamAV 1.4's own defaults), because clamd reports content past its own limits as clean
/// without scanning it.
pub fn scan_limit_from_env() -> Result<u64, ConfigError> {
    let limits = [
        config::bytes("SCAN_MAX_BYTES", CLAMAV_HARD_LIMIT)?,
        config::bytes("CLAMD_STREAM_MAX_LENGTH", 100 << 20)?,
        config::bytes("CLAMD_MAX_FILE_SIZE", 100 << 20)?,
        config::bytes("CLAMD_MAX_SCAN_SIZE", 400 << 20)?,
        CLAMAV_HARD_LIMIT,
    ];
    Ok(limits.into_iter().min().unwrap_or(CLAMAV_HARD_LIMIT))
}

/// Reads the content policy: `SCAN_ALLOWED_EXTENSIONS` (every built-in rule when empty) and
/// `SCAN_ALLOW_EXECUTABLES`, `SCAN_ALLOW_ACTIVE_CONTENT`, `SCAN_ALLOW_ENCRYPTED` (all false).
pub fn policy_from_env() -> Result<Policy, ConfigError> {
    let extensions = config::or("SCAN_ALLOWED_EXTENSIONS", "");
    let options = PolicyOptions {
        allow_executables: config::parsed("SCAN_ALLOW_EXECUTABLES", false)?,
        allow_active_content: config::parsed("SCAN_ALLOW_ACTIVE_CONTENT", false)?,
        allow_encrypted: config::parsed("SCAN_ALLOW_ENCRYPTED", false)?,
    };
    Policy::with_options(&extensions, options).map_err(|e| ConfigError::Invalid {
        name: "SCAN_ALLOWED_EXTENSIONS",
        value: extensions.clone(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspected(bytes: &[u8]) -> Inspector {
        let mut inspector = Inspector::new();
        inspector.update(bytes);
        inspector
    }

    #[test]
    fn clamd_alerts_become_unscannable_and_detections_infected() {
        let policy = Policy::with_options("", PolicyOptions::default()).unwrap();
        let text = inspected(b"plain words\n");
        let limit = judge(
            &policy,
            "a.txt",
            ScanOutcome::Found("Heuristics.Limits.Exceeded.MaxFileSize".into()),
            &text,
        );
        assert!(matches!(limit.verdict, Verdict::Unscannable { .. }));
        let found = judge(
            &policy,
            "a.txt",
            ScanOutcome::Found("Eicar-Test-Signature".into()),
            &text,
        );
        assert_eq!(
            found.verdict,
            Verdict::Infected {
                signature: "Eicar-Test-Signature".into()
            }
        );
        assert_eq!(
            judge(&policy, "a.txt", ScanOutcome::Clean, &text).verdict,
            Verdict::Clean
        );
    }

    #[test]
    fn mismatched_content_is_spoofed_with_both_types() {
        let policy = Policy::with_options("", PolicyOptions::default()).unwrap();
        let png = inspected(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        let judgement = judge(&policy, "report.pdf", ScanOutcome::Clean, &png);
        match judgement.verdict {
            Verdict::Spoofed {
                declared, detected, ..
            } => {
                assert_eq!(declared, "application/pdf");
                assert_eq!(detected, "image/png");
            }
            other => panic!("expected spoofed, got {other:?}"),
        }
    }
}
