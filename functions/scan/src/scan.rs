//! Scanning one object version: content check and virus scan from one read, then the action.

use std::time::{Duration, Instant};

use filestore::clamd::{ClamdError, ScanOutcome, ScanSession, Scanner};
use filestore::content::{Inspector, extension_of};
use filestore::event::ObjectRef;
use filestore::store::{Location, StoreError, TagOutcome};
use filestore::verdict::{Action, Verdict, VerdictRecord, now_rfc3339, upload_id_of};
use tracing::{info, warn};

use crate::handler::{App, ScanError};

/// Tag set on objects after a verdict that keeps them in place.
pub const STATUS_TAG: &str = "scan-status";

/// Verdict plus the content types behind it.
struct Decision {
    verdict: Verdict,
    declared: Option<String>,
    detected: Option<String>,
}

/// Why one scan attempt ended without a verdict.
enum AttemptError {
    Clamd(ClamdError),
    Store(StoreError),
}

/// Scans one object version and acts on the verdict. Returns `None` when the object is gone or
/// was replaced, because the event for the newer content decides instead.
pub async fn process<S: Scanner>(
    app: &App<S>,
    object: &ObjectRef,
) -> Result<Option<VerdictRecord>, ScanError> {
    let started = Instant::now();
    let requested = Location {
        bucket: &object.bucket,
        key: &object.key,
        version_id: object.version_id.as_deref(),
    };
    let Some(info) = app.store.head(requested).await? else {
        info!(bucket = %object.bucket, key = %object.key, "object gone before scan");
        return Ok(None);
    };
    if let (Some(expected), Some(actual)) = (&object.etag, &info.etag)
        && expected != actual
    {
        info!(bucket = %object.bucket, key = %object.key, "object replaced since the event");
        return Ok(None);
    }
    let version_id = object.version_id.clone().or(info.version_id.clone());
    let at = Location {
        version_id: version_id.as_deref(),
        ..requested
    };

    let Some(decision) = decide(app, at, info.etag.as_deref(), info.size).await? else {
        info!(bucket = %object.bucket, key = %object.key, "object gone during scan");
        return Ok(None);
    };

    let action = act(app, at, &decision.verdict).await?;

    let record = VerdictRecord {
        id: uuid::Uuid::new_v4().to_string(),
        upload_id: upload_id_of(&object.key).map(str::to_string),
        bucket: object.bucket.clone(),
        key: object.key.clone(),
        version_id,
        etag: info.etag,
        size: info.size,
        declared_type: decision.declared,
        detected_type: decision.detected,
        verdict: decision.verdict,
        action,
        scanned_at: now_rfc3339(),
        scan_ms: started.elapsed().as_millis() as u64,
    };
    app.notify.send(&record).await?;
    info!(
        bucket = %record.bucket,
        key = %record.key,
        verdict = record.verdict.name(),
        action = ?record.action,
        duration_ms = record.scan_ms,
        "scanned"
    );
    Ok(Some(record))
}

/// Decides the verdict, retrying clamd failures up to the configured number of attempts.
async fn decide<S: Scanner>(
    app: &App<S>,
    at: Location<'_>,
    etag: Option<&str>,
    size: u64,
) -> Result<Option<Decision>, ScanError> {
    let rule = app.config.policy.rule_for_name(at.key);
    let declared = rule.map(|r| r.content_type.to_string());
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
        match scan_once(app, at, etag).await {
            Ok(Some((outcome, inspector))) => {
                return Ok(Some(judge(app, at.key, outcome, &inspector)));
            }
            Ok(None) => return Ok(None),
            Err(AttemptError::Store(e)) => return Err(e.into()),
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

/// Reads the object once, feeding every chunk to both the inspector and clamd.
async fn scan_once<S: Scanner>(
    app: &App<S>,
    at: Location<'_>,
    etag: Option<&str>,
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
        session.send(&chunk).await.map_err(AttemptError::Clamd)?;
    }
    let outcome = session.finish().await.map_err(AttemptError::Clamd)?;
    Ok(Some((outcome, inspector)))
}

/// Combines the clamd outcome and the content check. A detection outranks a type mismatch.
fn judge<S: Scanner>(
    app: &App<S>,
    key: &str,
    outcome: ScanOutcome,
    inspector: &Inspector,
) -> Decision {
    let detected = Some(inspector.detected().to_string());
    let rule = app.config.policy.rule_for_name(key);
    let declared = rule.map(|r| r.content_type.to_string());
    let verdict = match (outcome, rule) {
        (ScanOutcome::Found(signature), _) => Verdict::Infected { signature },
        (ScanOutcome::Clean, None) => Verdict::Spoofed {
            declared: match extension_of(key) {
                Some(extension) => format!(".{extension} (extension not allowed)"),
                None => "no extension (not allowed)".to_string(),
            },
            detected: inspector.detected().to_string(),
        },
        (ScanOutcome::Clean, Some(rule)) => {
            let check = inspector.check(rule);
            if check.matches {
                Verdict::Clean
            } else {
                Verdict::Spoofed {
                    declared: check.declared.into(),
                    detected: check.detected.into(),
                }
            }
        }
    };
    Decision {
        verdict,
        declared,
        detected,
    }
}

/// Applies the action for a verdict: clean and error verdicts are tagged in place, every other
/// verdict deletes exactly the scanned version.
async fn act<S: Scanner>(
    app: &App<S>,
    at: Location<'_>,
    verdict: &Verdict,
) -> Result<Action, ScanError> {
    match verdict {
        Verdict::Clean | Verdict::Error { .. } => {
            match app.store.merge_tag(at, STATUS_TAG, verdict.name()).await? {
                TagOutcome::Tagged => Ok(Action::Tagged),
                TagOutcome::LimitReached => {
                    warn!(
                        key = at.key,
                        "object already has the maximum number of tags; verdict not tagged"
                    );
                    Ok(Action::Skipped)
                }
            }
        }
        Verdict::Infected { .. } | Verdict::Spoofed { .. } | Verdict::Unscannable { .. } => {
            app.store.delete(at).await?;
            Ok(Action::Deleted)
        }
    }
}
