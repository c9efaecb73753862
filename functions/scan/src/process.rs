//! Handling one object: find or decide its verdict, act on it, and hand it to notify.

use std::time::Instant;

use filestore::clamd::Scanner;
use filestore::event::{ObjectRef, comparable_etag};
use filestore::store::{Location, StoreError};
use filestore::verdict::{Action, Verdict, VerdictRecord, now_rfc3339, upload_id_of};
use tracing::info;

use filestore::store::encrypted::{FileInfo, file_key};

use crate::act::{self, act, disposition_for};
use crate::config::Disposition;
use crate::handler::{App, ScanError};
use crate::ledger::{self, Entry};
use crate::scan::decide;

/// Handles one new object. Returns `None` when the object is gone or was replaced and no verdict
/// exists for the version the event named, because the event for the newer content decides.
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
    // The first requests do not depend on each other, so they go out together: the object's
    // metadata, the ledger entry under the identity the event gives, and the data key for the
    // encrypted copy. The key is wasted when the ledger already has a verdict, which happens
    // only on redeliveries.
    let stores = disposition_for(app, &Verdict::Clean) == Disposition::Store;
    let event_identity = object.version_id.as_ref().or(object.etag.as_ref());
    let early_ledger_key =
        event_identity.map(|identity| ledger::ledger_key(&object.bucket, &object.key, identity));
    let (info, early_entry, new_key) = tokio::join!(
        app.store.head(requested),
        async {
            match &early_ledger_key {
                Some(key) => Some(ledger::find(app, key).await),
                None => None,
            }
        },
        async {
            match &app.keys {
                Some(keys) if stores => Some(keys.data_key().await),
                _ => None,
            }
        },
    );
    let info = info?;
    let mut early = early_ledger_key.zip(early_entry);
    let comparable = comparable_etag(object.etag.as_deref());
    let replaced = matches!((&comparable, &info), (Some(expected), Some(found)) if found.etag.as_ref() != Some(expected));
    if replaced {
        info!(
            key = %object.key,
            event_etag = ?object.etag,
            stored_etag = ?info.as_ref().and_then(|i| i.etag.as_deref()),
            "the event names other content than the bucket holds"
        );
    }

    let Some(info) = info.filter(|_| !replaced) else {
        return replay_event_version(app, object, early).await;
    };
    let version_id = object.version_id.clone().or(info.version_id.clone());
    // The event's own ETag, whatever its form, comes before HEAD's, so that a redelivery after
    // the object is gone finds the same ledger entry (see `replay_event_version`).
    let identity = version_id
        .clone()
        .or(object.etag.clone())
        .or(info.etag.clone())
        .unwrap_or_default();
    let ledger_key = ledger::ledger_key(&object.bucket, &object.key, &identity);
    let previous = match early.take() {
        Some((key, found)) if key == ledger_key => found?,
        _ => ledger::find(app, &ledger_key).await?,
    };
    // An `error` verdict is not final, and neither is a clean one whose encrypted copy went
    // missing before the incoming object was removed: both are decided again.
    let retrying_error = match &previous {
        Some(entry) if matches!(entry.record.verdict, Verdict::Error { .. }) => true,
        Some(entry) if stores && !entry.acted && entry.record.verdict == Verdict::Clean => {
            !stored_copy_exists(app, &entry.record).await?
        }
        _ => false,
    };
    if let Some(entry) = previous.filter(|_| !retrying_error) {
        info!(key = %object.key, verdict = entry.record.verdict.name(), "verdict already decided; replaying");
        return finish(app, &ledger_key, entry, None).await.map(Some);
    }

    let at = Location {
        version_id: version_id.as_deref(),
        ..requested
    };
    let file = stores.then(|| file_info(app, &object.key, &ledger_key));
    let file = file.zip(new_key);
    let Some(mut decision) = decide(app, at, info.etag.as_deref(), info.size, file).await? else {
        info!(bucket = %object.bucket, key = %object.key, "object changed during the scan");
        return Ok(None);
    };
    // The encrypted copy becomes visible before the verdict is recorded, so a recorded clean
    // verdict always has its copy. The incoming object is removed after that, in `finish`.
    if let Verdict::Error { reason } = &decision.verdict
        && retrying_error
    {
        // Still failing: the first error verdict was already acted on and sent, so this
        // attempt only fails the invocation to get the event again.
        return Err(ScanError::Unfinished {
            key: object.key.clone(),
            reason: reason.clone(),
        });
    }
    let pending = decision.pending.take();
    let record = VerdictRecord {
        id: uuid::Uuid::new_v4().to_string(),
        upload_id: upload_id_of(&object.key).map(str::to_string),
        bucket: object.bucket.clone(),
        key: object.key.clone(),
        version_id: version_id.clone(),
        etag: info.etag.clone(),
        size: info.size,
        declared_type: decision.declared,
        detected_type: decision.detected,
        verdict: decision.verdict,
        action: Action::Skipped,
        action_note: None,
        file_id: pending.as_ref().map(|p| p.file_id().to_string()),
        scanned_at: now_rfc3339(),
        scan_ms: started.elapsed().as_millis() as u64,
    };
    let entry = Entry {
        record,
        acted: false,
        notified: false,
    };
    // The encrypted copy is committed while the verdict is recorded. Should the commit fail
    // after the record landed, the incoming object is still there (it is removed in `finish`),
    // and the next delivery finds a clean verdict without its copy and decides again.
    let commit = async {
        match pending {
            Some(pending) => pending.commit().await.map(|_| ()),
            None => Ok(()),
        }
    };
    let record_verdict = async {
        if retrying_error {
            ledger::update(app, &ledger_key, &entry).await?;
            Ok::<_, ScanError>(entry)
        } else {
            Ok(ledger::claim(app, &ledger_key, entry).await?)
        }
    };
    // The check that the object is still the scanned content runs at the same time. On an
    // unversioned bucket this leaves a little more time for an overwrite before the delete. A
    // versioned bucket pins the version and needs no check.
    let (committed, recorded, unchanged) = tokio::join!(
        commit,
        record_verdict,
        act::replaced(app, at, info.etag.as_deref())
    );
    committed?;
    let entry = recorded?;
    let record = finish(app, &ledger_key, entry, Some(unchanged?)).await?;
    // The `error` verdict is sent to show the uploader the delay. The invocation then fails,
    // so SQS or MinIO's queue delivers the event again until clamd scans the object.
    if let Verdict::Error { reason } = &record.verdict {
        return Err(ScanError::Unfinished {
            key: record.key,
            reason: reason.clone(),
        });
    }
    Ok(Some(record))
}

/// Finishes a verdict whose object is gone or replaced, if the ledger has one for the exact
/// version the event named: a redelivered event after the object was already deleted.
/// `early` is the ledger lookup already made under the event's identity.
async fn replay_event_version<S: Scanner>(
    app: &App<S>,
    object: &ObjectRef,
    early: Option<(String, Result<Option<Entry>, StoreError>)>,
) -> Result<Option<VerdictRecord>, ScanError> {
    let Some((ledger_key, found)) = early else {
        info!(bucket = %object.bucket, key = %object.key, "object gone before scan");
        return Ok(None);
    };
    match found? {
        Some(entry) => finish(app, &ledger_key, entry, None).await.map(Some),
        None => {
            info!(bucket = %object.bucket, key = %object.key, "object gone or replaced before scan");
            Ok(None)
        }
    }
}

/// Applies the action and sends the verdict, skipping the steps the ledger shows as done.
/// `unchanged` is the outcome of the check that the object is still the scanned content, when
/// it was already made.
async fn finish<S: Scanner>(
    app: &App<S>,
    ledger_key: &str,
    mut entry: Entry,
    unchanged: Option<Option<String>>,
) -> Result<VerdictRecord, ScanError> {
    if !entry.acted {
        let record = &entry.record;
        let at = Location {
            bucket: &record.bucket,
            key: &record.key,
            version_id: record.version_id.as_deref(),
        };
        let (action, note) =
            act(app, at, record.etag.as_deref(), &record.verdict, unchanged).await?;
        entry.record.action = action;
        entry.record.action_note = note;
        entry.acted = true;
        if entry.notified {
            ledger::update(app, ledger_key, &entry).await?;
        } else {
            // The action is recorded while notify takes the verdict. If the record fails after
            // the hand-off, the next delivery acts again (every action is safe to repeat) and
            // sends the same verdict id, which receivers drop as a duplicate.
            let (recorded, sent) = tokio::join!(
                ledger::update(app, ledger_key, &entry),
                app.notify.send(&entry.record)
            );
            recorded?;
            sent?;
            entry.notified = true;
            ledger::update(app, ledger_key, &entry).await?;
        }
    }
    if !entry.notified {
        app.notify.send(&entry.record).await?;
        entry.notified = true;
        ledger::update(app, ledger_key, &entry).await?;
    }
    let record = entry.record;
    info!(
        bucket = %record.bucket,
        key = %record.key,
        verdict = record.verdict.name(),
        action = ?record.action,
        duration_ms = record.scan_ms,
        "scanned"
    );
    Ok(record)
}

/// Names the encrypted copy of an incoming object. An upload made through presign keeps its
/// upload id, so its uploader can fetch it. Any other object gets an id derived from its ledger
/// key, which is the same on every delivery.
fn file_info<S>(app: &App<S>, key: &str, ledger_key: &str) -> FileInfo {
    let file_id = match upload_id_of(key) {
        Some(id) => id.to_string(),
        None => ledger_key
            .trim_start_matches("verdicts/")
            .chars()
            .take(32)
            .collect(),
    };
    let file_name = key.rsplit('/').next().unwrap_or(key).to_string();
    let content_type = app
        .config
        .policy
        .rule_for_name(key)
        .map_or("application/octet-stream", |r| r.content_type)
        .to_string();
    FileInfo {
        file_id,
        file_name,
        content_type,
    }
}

async fn stored_copy_exists<S>(app: &App<S>, record: &VerdictRecord) -> Result<bool, ScanError> {
    let (Some(bucket), Some(file_id)) = (&app.config.store_bucket, &record.file_id) else {
        return Ok(false);
    };
    let key = file_key(file_id);
    let at = Location {
        bucket,
        key: &key,
        version_id: None,
    };
    Ok(app.store.head(at).await?.is_some())
}
