//! Deciding the verdict for one object version: content check and virus scan from one read.

use std::time::Duration;

use filestore::clamd::{ClamdError, ScanOutcome, ScanSession, Scanner};
use filestore::content::Inspector;
use filestore::keys::{KeyError, NewKey};
use filestore::store::encrypted::{EncryptedWriter, FileInfo, Pending, SealError};
use filestore::store::{Location, StoreError};
use filestore::verdict::Verdict;
use tracing::warn;

use crate::handler::{App, ScanError};

/// Verdict plus the content types behind it.
pub struct Decision {
    pub verdict: Verdict,
    pub declared: Option<String>,
    pub detected: Option<String>,
    /// Encrypted copy written during the scan, not yet visible; only for clean verdicts.
    pub pending: Option<Pending>,
}

/// Failure that ended one scan attempt without a verdict.
enum AttemptError {
    Clamd(ClamdError),
    Store(StoreError),
    Seal(SealError),
    /// More bytes arrived than HEAD reported, so the object changed under the scan.
    Grew(u64),
}

/// Decides the verdict, retrying clamd failures up to the configured number of attempts.
/// Returns `None` when the object disappeared or changed during the scan.
///
/// With `file` given (the file's description and the outcome of the data-key request made for
/// it), the same read also writes the encrypted copy for the file store. The copy is kept,
/// uncommitted, only when the verdict is clean.
pub async fn decide<S: Scanner>(
    app: &App<S>,
    at: Location<'_>,
    etag: Option<&str>,
    size: u64,
    file: Option<(FileInfo, Result<NewKey, KeyError>)>,
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
            pending: None,
        }));
    }
    // One data key per object, asked for before reading: with Vault down nothing is read and
    // the event fails, to be delivered again.
    let (file, mut new_key) = match file {
        Some((info, key)) => (Some(info), Some(key?)),
        None => (None, None),
    };

    let mut last_error = None;
    for attempt in 1..=app.config.attempts.max(1) {
        let writer = match (&file, new_key.take()) {
            (Some(info), Some(key)) => {
                let mut writer =
                    EncryptedWriter::new(&app.store, store_bucket(app), info.clone(), key)
                        .map_err(ScanError::Seal)?;
                writer.expect_size(size);
                Some(writer)
            }
            _ => None,
        };
        match scan_once(app, at, etag, size, writer).await {
            Ok(Some((outcome, inspector, pending))) => {
                let mut decision = judge(app, at.key, outcome, &inspector);
                match pending {
                    Some(pending) if decision.verdict == Verdict::Clean => {
                        decision.pending = Some(pending);
                    }
                    Some(pending) => pending.abort().await,
                    None => {}
                }
                return Ok(Some(decision));
            }
            Ok(None) => return Ok(None),
            Err(AttemptError::Store(e)) => return Err(e.into()),
            Err(AttemptError::Seal(e)) => return Err(e.into()),
            Err(AttemptError::Grew(seen)) => {
                warn!(key = at.key, size, seen, "object grew during the scan");
                return Ok(None);
            }
            Err(AttemptError::Clamd(ClamdError::Reported(message)))
                if filestore::decision::is_size_limit(&message) =>
            {
                let reason = format!("clamd refused the stream: {message}");
                return Ok(Some(Decision {
                    verdict: Verdict::Unscannable { reason },
                    declared,
                    detected: None,
                    pending: None,
                }));
            }
            Err(AttemptError::Clamd(e)) => {
                warn!(key = at.key, attempt, error = %e, "clamd scan failed");
                last_error = Some(e);
            }
        }
        tokio::time::sleep(Duration::from_millis(500) * attempt).await;
        if file.is_some() {
            new_key = Some(
                app.keys
                    .as_ref()
                    .expect("checked at start-up")
                    .data_key()
                    .await?,
            );
        }
    }
    let reason = last_error.map(|e| e.to_string()).unwrap_or_default();
    Ok(Some(Decision {
        verdict: Verdict::Error { reason },
        declared,
        detected: None,
        pending: None,
    }))
}

fn store_bucket<S>(app: &App<S>) -> &str {
    app.config
        .store_bucket
        .as_deref()
        .expect("checked at start-up")
}

type Scanned = (ScanOutcome, Inspector, Option<Pending>);

/// Reads the object once, feeding every chunk to the inspector, clamd and, when given, the
/// encrypting writer. The writer's upload is aborted if the attempt fails.
async fn scan_once<S: Scanner>(
    app: &App<S>,
    at: Location<'_>,
    etag: Option<&str>,
    size: u64,
    mut writer: Option<EncryptedWriter>,
) -> Result<Option<Scanned>, AttemptError> {
    let read = read_once(app, at, etag, size, writer.as_mut()).await;
    let (session, inspector) = match read {
        Ok(Some(read)) => read,
        other => {
            if let Some(writer) = writer {
                writer.abort().await;
            }
            return other.map(|_| None);
        }
    };
    // clamd scans a stream only once its last byte has arrived. The rest of the encrypted
    // copy is uploaded meanwhile, so only the commit waits for the verdict.
    let Some(writer) = writer else {
        let outcome = session.finish().await.map_err(AttemptError::Clamd)?;
        return Ok(Some((outcome, inspector, None)));
    };
    match tokio::join!(session.finish(), writer.finish()) {
        (Ok(outcome), Ok(pending)) => Ok(Some((outcome, inspector, Some(pending)))),
        (Err(e), Ok(pending)) => {
            pending.abort().await;
            Err(AttemptError::Clamd(e))
        }
        // A failed finish has already discarded the upload.
        (_, Err(e)) => Err(AttemptError::Seal(e)),
    }
}

/// Streams the object to clamd, the inspector and the writer, and returns the clamd session
/// with every byte sent but the stream not yet ended.
async fn read_once<S: Scanner>(
    app: &App<S>,
    at: Location<'_>,
    etag: Option<&str>,
    size: u64,
    mut writer: Option<&mut EncryptedWriter>,
) -> Result<Option<(S::Session, Inspector)>, AttemptError> {
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
        match writer.as_deref_mut() {
            // clamd and the store upload proceed together; neither waits for the other.
            Some(writer) => {
                let (scanned, written) = tokio::join!(session.send(&chunk), writer.write(&chunk));
                scanned.map_err(AttemptError::Clamd)?;
                written.map_err(AttemptError::Seal)?;
            }
            None => session.send(&chunk).await.map_err(AttemptError::Clamd)?,
        }
    }
    Ok(Some((session, inspector)))
}

/// Combines the clamd outcome and the content check into a decision.
fn judge<S>(app: &App<S>, key: &str, outcome: ScanOutcome, inspector: &Inspector) -> Decision {
    let judgement = filestore::decision::judge(&app.config.policy, key, outcome, inspector);
    Decision {
        verdict: judgement.verdict,
        declared: judgement.declared,
        detected: judgement.detected,
        pending: None,
    }
}
