//! Sending one verdict to every sink at once, and storing a dead letter for each that fails.

use filestore::store::{Store, StoreError};
use filestore::verdict::VerdictRecord;
use filestore::webhook::{Delivery, RetryPolicy, Sender};
use tracing::{error, warn};

use crate::config::DeliveryConfig;
use crate::dead_letter::{self, DeadLetter};
use crate::eventbridge::EventBridge;
use crate::sink::{Sink, SinkKind, SinkReport};

/// Error that stops the function or the redeliver command before it starts.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("building the webhook HTTP client failed: {0}")]
    HttpClient(#[from] reqwest::Error),
}

/// Sends bodies to sinks of any kind under one retry policy.
#[derive(Debug, Clone)]
pub struct Deliverer {
    webhooks: Sender,
    eventbridge: Option<EventBridge>,
    policy: RetryPolicy,
}

impl Deliverer {
    /// Builds the clients. The EventBridge client is built only when `eventbridge` is true,
    /// because loading the AWS configuration is wasted work for webhook-only set-ups.
    pub async fn new(config: &DeliveryConfig, eventbridge: bool) -> Result<Self, StartError> {
        let webhooks = Sender::new(
            config.webhook_secret.clone(),
            config.webhook_timeout,
            config.retry,
        )?;
        let eventbridge = if eventbridge {
            Some(EventBridge::from_env(config.webhook_timeout).await)
        } else {
            None
        };
        Ok(Self {
            webhooks,
            eventbridge,
            policy: config.retry,
        })
    }

    /// Delivers one body to one sink with every attempt the policy allows.
    pub async fn deliver(&self, sink: &Sink, delivery_id: &str, body: &[u8]) -> Delivery {
        match (sink.kind, &self.eventbridge) {
            (SinkKind::Webhook, _) => {
                self.webhooks
                    .deliver(&sink.address, delivery_id, body)
                    .await
            }
            (SinkKind::Eventbridge, Some(client)) => {
                client.deliver(&sink.address, body, &self.policy).await
            }
            (SinkKind::Eventbridge, None) => Delivery {
                error: Some("no EventBridge client: set NOTIFY_EVENTBRIDGE_BUS".into()),
                ..Delivery::default()
            },
        }
    }
}

/// Sinks, clients and storage of one fan-out.
pub struct Fanout<'a> {
    pub sinks: &'a [Sink],
    pub deliverer: &'a Deliverer,
    pub store: &'a Store,
    pub bucket: &'a str,
}

impl Fanout<'_> {
    /// Delivers the record to every sink concurrently, so a slow sink delays no other, and each
    /// delivery ends by its deadline. Fails only when a dead letter could not be stored, because
    /// the verdict would then be lost for that sink.
    pub async fn send(&self, record: &VerdictRecord) -> Result<Vec<SinkReport>, StoreError> {
        let body = serde_json::to_vec(record).expect("a verdict record always serialises");
        let sends = self
            .sinks
            .iter()
            .map(|sink| self.send_one(sink, record, &body));
        futures::future::join_all(sends).await.into_iter().collect()
    }

    async fn send_one(
        &self,
        sink: &Sink,
        record: &VerdictRecord,
        body: &[u8],
    ) -> Result<SinkReport, StoreError> {
        let delivery_id = sink.delivery_id(&record.id);
        let outcome = self.deliverer.deliver(sink, &delivery_id, body).await;
        let mut report = report(sink, delivery_id, &outcome);
        if outcome.delivered {
            return Ok(report);
        }
        warn!(verdict_id = %record.id, delivery_id = %report.delivery_id, sink = sink.kind.name(),
            sink_id = %report.sink_id, target = %report.target, attempts = outcome.attempts,
            status = outcome.status, error = outcome.error.as_deref().unwrap_or_default(),
            "delivery failed");
        let body = serde_json::to_value(record).expect("a verdict record always serialises");
        let letter = DeadLetter::new(sink, &record.id, body, &outcome);
        match dead_letter::store(self.store, self.bucket, &letter).await {
            Ok(key) => {
                warn!(verdict_id = %record.id, sink_id = %report.sink_id, dead_letter = %key,
                    "delivery dead-lettered; the redeliver command sends it again");
                report.dead_letter = Some(key);
                Ok(report)
            }
            Err(e) => {
                error!(verdict_id = %record.id, sink_id = %report.sink_id, error = %e,
                    "storing the dead letter failed");
                Err(e)
            }
        }
    }
}

/// Builds the report of one delivery.
pub fn report(sink: &Sink, delivery_id: String, outcome: &Delivery) -> SinkReport {
    SinkReport {
        sink: sink.kind,
        sink_id: sink.id(),
        target: sink.target(),
        delivery_id,
        delivered: outcome.delivered,
        attempts: outcome.attempts,
        status: outcome.status,
        error: outcome.error.clone(),
        dead_letter: None,
    }
}
