//! Actions taken on an object after its verdict.

use filestore::store::{Location, StoreError, TagOutcome};
use filestore::verdict::{Action, Verdict};
use tracing::warn;

use crate::config::Disposition;
use crate::handler::App;

/// Tag set on objects whose verdict leaves them in place.
pub const STATUS_TAG: &str = "scan-status";

/// Returns the configured disposition for a verdict.
pub fn disposition_for<S>(app: &App<S>, verdict: &Verdict) -> Disposition {
    let dispositions = &app.config.dispositions;
    match verdict {
        Verdict::Clean => dispositions.clean,
        Verdict::Infected { .. } => dispositions.infected,
        Verdict::Spoofed { .. } => dispositions.spoofed,
        Verdict::Unscannable { .. } => dispositions.unscannable,
        Verdict::Error { .. } => dispositions.error,
    }
}

/// Applies the verdict's disposition to exactly the scanned version. Every step is safe to
/// repeat, because a redelivered event replays it.
///
/// `checked` is the outcome of [`replaced`] when the caller has already asked; otherwise it is
/// asked here.
pub async fn act<S>(
    app: &App<S>,
    at: Location<'_>,
    etag: Option<&str>,
    verdict: &Verdict,
    checked: Option<Option<String>>,
) -> Result<(Action, Option<String>), StoreError> {
    let replaced = match checked {
        Some(outcome) => outcome,
        None => replaced(app, at, etag).await?,
    };
    if let Some(note) = replaced {
        warn!(
            key = at.key,
            note, "object changed after the scan; not acting on it"
        );
        return Ok((Action::Skipped, Some(note)));
    }
    match disposition_for(app, verdict) {
        Disposition::Tag => tag(app, at, verdict).await,
        Disposition::Delete => {
            app.store.delete(at).await?;
            Ok((Action::Deleted, None))
        }
        // The encrypted copy was committed before the verdict was recorded.
        Disposition::Store => {
            app.store.delete(at).await?;
            Ok((Action::Stored, None))
        }
        Disposition::Quarantine => {
            let bucket = app
                .config
                .quarantine_bucket
                .as_deref()
                .expect("checked at start-up");
            app.store.copy_to(at, bucket).await?;
            app.store.delete(at).await?;
            Ok((Action::Quarantined, None))
        }
    }
}

async fn tag<S>(
    app: &App<S>,
    at: Location<'_>,
    verdict: &Verdict,
) -> Result<(Action, Option<String>), StoreError> {
    match app.store.merge_tag(at, STATUS_TAG, verdict.name()).await? {
        TagOutcome::Tagged => Ok((Action::Tagged, None)),
        TagOutcome::LimitReached => {
            warn!(
                key = at.key,
                "object already has the maximum number of tags; verdict not tagged"
            );
            Ok((
                Action::Skipped,
                Some("object already has 10 tags".to_string()),
            ))
        }
    }
}

/// Tells whether the object at `at` is no longer the scanned content. With a version id the
/// version is pinned and cannot change; without one, the current ETag must still match.
///
/// NOTE: on an unversioned bucket a write between this check and the action can still slip
/// through; enable versioning to close that window.
pub async fn replaced<S>(
    app: &App<S>,
    at: Location<'_>,
    etag: Option<&str>,
) -> Result<Option<String>, StoreError> {
    if at.version_id.is_some() {
        return Ok(None);
    }
    let current = app.store.head(at).await?;
    Ok(match current {
        None => Some("object was deleted after the scan".to_string()),
        Some(info) if etag.is_some() && info.etag.as_deref() != etag => {
            Some("object was overwritten after the scan".to_string())
        }
        Some(_) => None,
    })
}
