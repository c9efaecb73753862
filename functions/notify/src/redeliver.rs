//! Redelivery of dead letters, the work of the `redeliver` command.

use filestore::store::{Store, StoreError};
use futures::StreamExt;
use serde::Serialize;
use tracing::{info, warn};

use crate::config::DeliveryConfig;
use crate::dead_letter::{self, DeadLetter, is_valid_verdict_id};
use crate::fanout::Deliverer;
use crate::sink::SinkKind;

/// Dead letters redelivered at the same time.
const CONCURRENCY: usize = 4;

/// Command-line usage of the redeliver command.
pub const USAGE: &str = "usage: redeliver --all | <verdict-id>";

/// Selection of the dead letters to redeliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    Verdict(String),
}

/// Error in the command-line arguments.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("expected exactly one argument\n{USAGE}")]
    ArgumentCount,
    #[error("invalid verdict id {0:?}: expected ASCII letters, digits, '-' or '_'\n{USAGE}")]
    VerdictId(String),
    #[error("unknown option {0}\n{USAGE}")]
    Option(String),
}

/// Parses the arguments after the program name.
pub fn parse_args(args: &[String]) -> Result<Selection, UsageError> {
    let [argument] = args else {
        return Err(UsageError::ArgumentCount);
    };
    if argument == "--all" {
        return Ok(Selection::All);
    }
    if argument.starts_with('-') {
        return Err(UsageError::Option(argument.clone()));
    }
    if !is_valid_verdict_id(argument) {
        return Err(UsageError::VerdictId(argument.clone()));
    }
    Ok(Selection::Verdict(argument.clone()))
}

/// Result of redelivering one dead letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redelivery {
    pub key: String,
    /// `host:port` of a webhook or the EventBridge bus.
    pub target: String,
    pub delivered: bool,
    pub attempts: u32,
    pub error: Option<String>,
}

/// Storage and clients of one redelivery run.
pub struct Redeliverer<'a> {
    pub config: &'a DeliveryConfig,
    pub store: &'a Store,
    pub deliverer: &'a Deliverer,
}

impl Redeliverer<'_> {
    /// Redelivers the selected dead letters, a few at a time. Each one is removed after its sink
    /// accepts it. A failed one is kept with its attempts and last error updated.
    pub async fn run(&self, selection: &Selection) -> Result<Vec<Redelivery>, StoreError> {
        let verdict = match selection {
            Selection::All => None,
            Selection::Verdict(id) => Some(id.as_str()),
        };
        let bucket = &self.config.status_bucket;
        let keys = dead_letter::list(self.store, bucket, verdict).await?;
        let results: Vec<_> = futures::stream::iter(keys)
            .map(|key| async move { self.redeliver(key).await })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut done: Vec<Redelivery> = results
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        done.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(done)
    }

    /// Redelivers one dead letter. Returns `None` when it is already gone.
    async fn redeliver(&self, key: String) -> Result<Option<Redelivery>, StoreError> {
        let bucket = &self.config.status_bucket;
        let Some(mut letter) = dead_letter::read(self.store, bucket, &key).await? else {
            return Ok(None);
        };
        let sink = letter.sink();
        let target = sink.target();
        if sink.kind == SinkKind::Webhook && self.config.webhook_secret.is_empty() {
            return Ok(Some(Redelivery {
                key,
                target,
                delivered: false,
                attempts: 0,
                error: Some("NOTIFY_WEBHOOK_SECRET is not set, so nothing can be signed".into()),
            }));
        }
        let body = serde_json::to_vec(&letter.body).expect("a JSON value always serialises");
        let outcome = self
            .deliverer
            .deliver(&sink, &letter.delivery_id, &body)
            .await;
        if outcome.delivered {
            dead_letter::remove(self.store, bucket, &key).await?;
            info!(verdict_id = %letter.verdict_id, sink_id = %letter.sink_id, %target,
                attempts = outcome.attempts, "dead letter redelivered and removed");
        } else {
            record_failure(self.store, bucket, &mut letter, &outcome).await?;
        }
        Ok(Some(Redelivery {
            key,
            target,
            delivered: outcome.delivered,
            attempts: outcome.attempts,
            error: outcome.error,
        }))
    }
}

async fn record_failure(
    store: &Store,
    bucket: &str,
    letter: &mut DeadLetter,
    outcome: &filestore::webhook::Delivery,
) -> Result<(), StoreError> {
    letter.record_failure(outcome);
    warn!(verdict_id = %letter.verdict_id, sink_id = %letter.sink_id,
        target = %letter.sink().target(), attempts = outcome.attempts, status = outcome.status,
        error = outcome.error.as_deref().unwrap_or_default(),
        "redelivery failed; dead letter kept");
    dead_letter::store(store, bucket, letter).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments_select_dead_letters() {
        assert_eq!(parse_args(&args(&["--all"])), Ok(Selection::All));
        assert_eq!(
            parse_args(&args(&["9b2f0c1e-7a4d"])),
            Ok(Selection::Verdict("9b2f0c1e-7a4d".into()))
        );
    }

    #[test]
    fn bad_arguments_are_rejected() {
        assert_eq!(parse_args(&[]), Err(UsageError::ArgumentCount));
        assert_eq!(
            parse_args(&args(&["--all", "x"])),
            Err(UsageError::ArgumentCount)
        );
        assert_eq!(
            parse_args(&args(&["--every"])),
            Err(UsageError::Option("--every".into()))
        );
        assert_eq!(
            parse_args(&args(&["a/b"])),
            Err(UsageError::VerdictId("a/b".into()))
        );
    }
}
