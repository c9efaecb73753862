//! The places a verdict goes besides the status record, and the ids that name them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use filestore::webhook::url_target;

use crate::config::DeliveryConfig;

/// Kind of a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    /// An HTTPS endpoint that gets a signed POST.
    Webhook,
    /// An Amazon EventBridge bus that gets a `PutEvents` entry.
    Eventbridge,
}

impl SinkKind {
    /// Returns the lowercase name used in ids, logs and stored records.
    pub fn name(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Eventbridge => "eventbridge",
        }
    }
}

/// One configured destination of verdicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sink {
    pub kind: SinkKind,
    /// Webhook URL, or EventBridge bus name or ARN. A URL may carry credentials: never log it.
    pub address: String,
}

impl Sink {
    /// Returns every sink the configuration names: each webhook, then the EventBridge bus.
    pub fn all(config: &DeliveryConfig) -> Vec<Sink> {
        let webhooks = config.webhook_urls.iter().map(|url| Sink {
            kind: SinkKind::Webhook,
            address: url.clone(),
        });
        let bus = config.eventbridge_bus.iter().map(|bus| Sink {
            kind: SinkKind::Eventbridge,
            address: bus.clone(),
        });
        webhooks.chain(bus).collect()
    }

    /// Returns a short id that stays the same while the sink's kind and address do, such as
    /// `webhook-3fa9c2d41b7e0a15`. It is a hash, so it reveals nothing of a URL's credentials.
    pub fn id(&self) -> String {
        let digest = Sha256::new()
            .chain_update(self.kind.name())
            .chain_update(b"\n")
            .chain_update(&self.address)
            .finalize();
        format!("{}-{}", self.kind.name(), hex::encode(&digest[..8]))
    }

    /// Returns the id of delivering one verdict to this sink, the same for every attempt and
    /// redelivery: `<verdict id>.<sink id>`.
    pub fn delivery_id(&self, verdict_id: &str) -> String {
        format!("{verdict_id}.{}", self.id())
    }

    /// Returns a description safe to log: `host:port` of a webhook, or the EventBridge bus.
    pub fn target(&self) -> String {
        match self.kind {
            SinkKind::Webhook => url_target(&self.address),
            SinkKind::Eventbridge => self.address.clone(),
        }
    }
}

/// Result of sending one verdict to one sink, as the notify response reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkReport {
    pub sink: SinkKind,
    pub sink_id: String,
    /// `host:port` of a webhook or the EventBridge bus, never a full URL.
    pub target: String,
    pub delivery_id: String,
    pub delivered: bool,
    pub attempts: u32,
    /// HTTP status of the last attempt, if it got a response.
    pub status: Option<u16>,
    pub error: Option<String>,
    /// Key of the dead letter in the status bucket, when the delivery failed and was stored.
    pub dead_letter: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(url: &str) -> Sink {
        Sink {
            kind: SinkKind::Webhook,
            address: url.into(),
        }
    }

    #[test]
    fn sink_id_is_stable_and_distinct() {
        let first = webhook("https://hooks.example.com/a?token=s3cret");
        let id = first.id();
        assert!(id.starts_with("webhook-"), "{id}");
        assert_eq!(id.len(), "webhook-".len() + 16);
        assert_eq!(id, first.clone().id());
        assert_ne!(id, webhook("https://hooks.example.com/b").id());
        let bus = Sink {
            kind: SinkKind::Eventbridge,
            address: first.address.clone(),
        };
        assert!(bus.id().starts_with("eventbridge-"));
        assert!(!id.contains("s3cret"));
    }

    #[test]
    fn delivery_id_joins_verdict_and_sink() {
        let sink = webhook("http://127.0.0.1:9400/webhook");
        let id = sink.delivery_id("9b2f0c1e-7a4d-4c1b-8f7e-2d5a6b3c4d5e");
        assert_eq!(
            id,
            format!("9b2f0c1e-7a4d-4c1b-8f7e-2d5a6b3c4d5e.{}", sink.id())
        );
    }

    #[test]
    fn target_hides_url_credentials() {
        let sink = webhook("https://user:pw@hooks.example.com/in?token=s3cret");
        assert_eq!(sink.target(), "hooks.example.com:443");
    }
}
