//! Deciding the verdict for one object version: content check and virus scan from one read.

use std::time::Duration;

use filestore::clamd::{ClamdError, ScanOutcome, ScanSession, Scanner};
use filestore::content::{Inspector, extension_of};
use filestore::store::{Location, StoreError};
use filestore::verdict::Verdict;
use tracing::warn;

use crate::handler::{App, ScanError};

/// Verdict plus the content types behind it.
pub struct Decision {
    pub verdict: Verdict,
    pub declared: Option<String>,
    pub detected: Option<String>,
}

/// Failure that ended one scan attempt without a verdict.
enum AttemptError {
    Clamd(ClamdError),
    Store(StoreError),
    /// More bytes arrived than HEAD reported, so the object changed under the scan.
    Grew(u64),
}

/// Prefix of the names clamd reports when `AlertExceedsMax` stops a scan at one of its limits.
const LIMIT_ALERT: &str = "Heuristics.Limits.Exceeded";
/// Prefix of the names clamd reports for encrypted archives and documents (`AlertEncrypted`).
const ENCRYPTED_ALERT: &str = "Heuristics.Encrypted";

/// Decides the verdict, retrying clamd failures up to the configured number of attempts.
/// Returns `None` when the object disappeared or changed during the scan.
pub async fn decide<S: Scanner>(
    app: &App<S>,
    at: Location<'_>,
    etag: Option<&str>,
    size: u64,
) -> Result<Option<Decision>, ScanError> {
    let declared = app
        .config
        .policy
        .rule_for_name(at.key)
        .map(|r| r.content_type.to_string());
    if size > app.config.max_bytes {
        let reason = format!(
            "{size} bytes is over the scan limit of {} bytes",
            app.config.max_bytes
        );
        return Ok(Some(Decision {
            verdict: Verdict::Unscannable { reason },
            declared,
            detected: None,
        }));
    }

    let mut last_error = None;
    for attempt in 1..=app.config.attempts.max(1) {
        match scan_once(app, at, etag, size).await {
            Ok(Some((outcome, inspector))) => {
                return Ok(Some(judge(app, at.key, outcome, &inspector)));
            }
            Ok(None) => return Ok(None),
            Err(AttemptError::Store(e)) => return Err(e.into()),
            Err(AttemptError::Grew(seen)) => {
                warn!(key = at.key, size, seen, "object grew during the scan");
                return Ok(None);
            }
            Err(AttemptError::Clamd(ClamdError::Reported(message))) if is_size_limit(&message) => {
                let reason = format!("clamd refused the stream: {message}");
                return Ok(Some(Decision {
                    verdict: Verdict::Unscannable { reason },
                    declared,
                    detected: None,
                }));
            }
            Err(AttemptError::Clamd(e)) => {
                warn!(key = at.key, attempt, error = %e, "clamd scan failed");
                last_error = Some(e);
            }
        }
        tokio::time::sleep(Duration::from_millis(500) * attempt).await;
    }
    let reason = last_error.map(|e| e.to_string()).unwrap_or_default();
    Ok(Some(Decision {
        verdict: Verdict::Error { reason },
        declared,
        detected: None,
    }))
}

fn is_size_limit(message: &str) -> bool {
    message.contains("size limit exceeded")
}

/// Reads the object once, feeding every chunk to both the inspector and clamd.
async fn scan_once<S: Scanner>(
    app: &App<S>,
    at: Location<'_>,
    etag: Option<&str>,
    size: u64,
) -> Result<Option<(ScanOutcome, Inspector)>, AttemptError> {
    let Some(mut body) = app
        .store
        .open(at, etag)
        .await
        .map_err(AttemptError::Store)?
    else {
        return Ok(None);
    };
    let mut session = app.scanner.start().await.map_err(AttemptError::Clamd)?;
    let mut inspector = Inspector::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|source| {
            AttemptError::Store(StoreError::Body {
                bucket: at.bucket.into(),
                key: at.key.into(),
                source,
            })
        })?;
        inspector.update(&chunk);
        if inspector.total() > size {
            return Err(AttemptError::Grew(inspector.total()));
        }
        session.send(&chunk).await.map_err(AttemptError::Clamd)?;
    }
    let outcome = session.finish().await.map_err(AttemptError::Clamd)?;
    Ok(Some((outcome, inspector)))
}

/// Combines the clamd outcome and the content check. A detection outranks a type mismatch, and
/// clamd's limit and encryption alerts mean the content was not fully scanned.
fn judge<S>(app: &App<S>, key: &str, outcome: ScanOutcome, inspector: &Inspector) -> Decision {
    let check = app.config.policy.check(key, inspector);
    let declared = app
        .config
        .policy
        .rule_for_name(key)
        .map(|r| r.content_type.to_string());
    let verdict = match outcome {
        ScanOutcome::Found(name) if name.starts_with(LIMIT_ALERT) => Verdict::Unscannable {
            reason: format!("clamd stopped at one of its limits ({name})"),
        },
        ScanOutcome::Found(name) if name.starts_with(ENCRYPTED_ALERT) => Verdict::Unscannable {
            reason: format!("content is encrypted ({name})"),
        },
        ScanOutcome::Found(signature) => Verdict::Infected { signature },
        ScanOutcome::Clean if check.matches => Verdict::Clean,
        ScanOutcome::Clean => Verdict::Spoofed {
            declared: declared.clone().unwrap_or_else(|| declared_from_name(key)),
            detected: check.detected.to_string(),
            reason: check.reason,
        },
    };
    Decision {
        verdict,
        declared,
        detected: Some(check.detected.to_string()),
    }
}

/// Describes what a name claims when no rule allows it.
fn declared_from_name(key: &str) -> String {
    match extension_of(key) {
        Some(extension) => format!(".{extension} (not allowed)"),
        None => "no extension (not allowed)".to_string(),
    }
}
