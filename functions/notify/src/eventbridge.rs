//! The EventBridge sink: one `PutEvents` entry per verdict, with source `filestore`, detail-type
//! `Filestore Verdict` and the verdict record as the detail.
//!
//! NOTE: this sink is tested against a local HTTP server that responds like the EventBridge
//! API, never against AWS. `sigv4a` is not enabled, so global endpoints (`EndpointId`) are not
//! supported.

use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::config::http::HttpResponse;
use aws_sdk_eventbridge::config::retry::RetryConfig;
use aws_sdk_eventbridge::config::timeout::TimeoutConfig;
use aws_sdk_eventbridge::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::operation::put_events::{PutEventsError, PutEventsOutput};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use filestore::webhook::{Attempt, Delivery, RetryPolicy, retry};

/// `Source` of every entry.
pub const SOURCE: &str = "filestore";
/// `DetailType` of every entry.
pub const DETAIL_TYPE: &str = "Filestore Verdict";

/// Error codes, of the response or of a failed entry, that another attempt may fix.
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "InternalException",
    "InternalFailure",
    "ServiceUnavailable",
];

/// Puts verdicts on EventBridge buses.
#[derive(Debug, Clone)]
pub struct EventBridge {
    client: Client,
}

impl EventBridge {
    /// Builds a client from the standard AWS environment, with each request limited to
    /// `timeout`. The SDK's own retries are off, because [`EventBridge::deliver`] applies the
    /// same [`RetryPolicy`] as webhooks get.
    pub async fn from_env(timeout: Duration) -> Self {
        let shared = aws_config::load_from_env().await;
        let config = aws_sdk_eventbridge::config::Builder::from(&shared)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(timeout)
                    .build(),
            )
            .build();
        Self::new(Client::from_conf(config))
    }

    /// Wraps an existing client.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Puts one verdict record (`body`, JSON) on `bus`, a bus name or ARN.
    pub async fn deliver(&self, bus: &str, body: &[u8], policy: &RetryPolicy) -> Delivery {
        let Ok(detail) = std::str::from_utf8(body) else {
            return Delivery {
                attempts: 0,
                error: Some("verdict record is not UTF-8 JSON".into()),
                ..Delivery::default()
            };
        };
        retry(policy, |_, _| async {
            let result = self
                .client
                .put_events()
                .entries(entry(bus, detail))
                .send()
                .await;
            classify(result)
        })
        .await
    }
}

/// Builds the entry for one verdict record.
pub fn entry(bus: &str, detail: &str) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(SOURCE)
        .detail_type(DETAIL_TYPE)
        .detail(detail)
        .build()
}

fn classify(result: Result<PutEventsOutput, SdkError<PutEventsError, HttpResponse>>) -> Attempt {
    match result {
        Ok(output) => classify_output(&output),
        Err(error) => classify_error(&error),
    }
}

/// A 200 response can still contain a failed entry, with its own error code.
fn classify_output(output: &PutEventsOutput) -> Attempt {
    let status = Some(200);
    if output.failed_entry_count() == 0 {
        return Attempt::Delivered { status };
    }
    let failed = output.entries().iter().find(|e| e.error_code().is_some());
    let code = failed.and_then(|e| e.error_code()).unwrap_or("unknown");
    let message = failed
        .and_then(|e| e.error_message())
        .unwrap_or("no message");
    let error = format!("EventBridge rejected the entry: {code}: {message}");
    if RETRYABLE_CODES.contains(&code) {
        Attempt::Retryable {
            status,
            error,
            retry_after: None,
        }
    } else {
        Attempt::Permanent { status, error }
    }
}

fn classify_error(error: &SdkError<PutEventsError, HttpResponse>) -> Attempt {
    let status = error.raw_response().map(|r| r.status().as_u16());
    let message = format!("PutEvents failed: {}", DisplayErrorContext(error));
    let retryable = match error {
        SdkError::ConstructionFailure(_) => false,
        SdkError::ServiceError(_) => {
            status.is_some_and(|s| s >= 500 || s == 429)
                || error.code().is_some_and(|c| RETRYABLE_CODES.contains(&c))
        }
        // Timeouts, connection failures and unreadable responses.
        _ => true,
    };
    if retryable {
        Attempt::Retryable {
            status,
            error: message,
            retry_after: None,
        }
    } else {
        Attempt::Permanent {
            status,
            error: message,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_eventbridge::config::{BehaviorVersion, Credentials, Region};
    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    use serde_json::{Value, json};

    use super::*;

    /// Requests the stand-in EventBridge API received: the `X-Amz-Target` header and the body.
    type Captured = Arc<Mutex<Vec<(String, Value)>>>;

    /// State of the stand-in: what it received and the status and body it returns.
    #[derive(Clone)]
    struct StandIn {
        captured: Captured,
        status: StatusCode,
        reply: String,
    }

    async fn put_events(
        State(stand_in): State<StandIn>,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, [(&'static str, &'static str); 1], String) {
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        stand_in.captured.lock().unwrap().push((target, json));
        let headers = [("content-type", "application/x-amz-json-1.1")];
        (stand_in.status, headers, stand_in.reply)
    }

    /// Starts a stand-in for the EventBridge API on 127.0.0.1 that responds to every request
    /// with `status` and `reply`, and returns a client pointed at it.
    async fn stand_in(status: u16, reply: Value) -> (EventBridge, Captured) {
        let captured = Captured::default();
        let state = StandIn {
            captured: captured.clone(),
            status: StatusCode::from_u16(status).unwrap(),
            reply: reply.to_string(),
        };
        let app = Router::new().route("/", post(put_events)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new(
                "AKIDTEST",
                "test-secret",
                None,
                None,
                "test",
            ))
            .endpoint_url(format!("http://{address}"))
            .retry_config(RetryConfig::disabled())
            .build();
        (EventBridge::new(Client::from_conf(config)), captured)
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(10),
            deadline: Duration::from_secs(10),
        }
    }

    const RECORD: &str = r#"{"id":"9b2f0c1e","verdict":"clean","key":"uploads/a/b.pdf"}"#;

    #[tokio::test]
    async fn put_events_request_carries_verdict() {
        let accepted = json!({"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]});
        let (sink, captured) = stand_in(200, accepted).await;

        let outcome = sink
            .deliver("filestore-verdicts", RECORD.as_bytes(), &policy())
            .await;

        assert!(outcome.delivered, "{outcome:?}");
        assert_eq!(outcome.attempts, 1);
        let requests = captured.lock().unwrap().clone();
        assert_eq!(requests.len(), 1);
        let (target, body) = &requests[0];
        assert_eq!(target, "AWSEvents.PutEvents");
        let entries = body["Entries"].as_array().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["EventBusName"], "filestore-verdicts");
        assert_eq!(entries[0]["Source"], "filestore");
        assert_eq!(entries[0]["DetailType"], "Filestore Verdict");
        let detail: Value = serde_json::from_str(entries[0]["Detail"].as_str().unwrap()).unwrap();
        assert_eq!(detail, serde_json::from_str::<Value>(RECORD).unwrap());
    }

    #[tokio::test]
    async fn throttled_entry_is_retried() {
        let throttled = json!({"FailedEntryCount": 1, "Entries": [
            {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}]});
        let (sink, captured) = stand_in(200, throttled).await;

        let outcome = sink.deliver("bus", RECORD.as_bytes(), &policy()).await;

        assert!(!outcome.delivered);
        assert_eq!(outcome.attempts, 3);
        assert_eq!(captured.lock().unwrap().len(), 3);
        assert_eq!(
            outcome.error.as_deref(),
            Some("EventBridge rejected the entry: ThrottlingException: Rate exceeded")
        );
    }

    #[tokio::test]
    async fn rejected_entry_is_not_retried() {
        let rejected = json!({"FailedEntryCount": 1, "Entries": [
            {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}]});
        let (sink, _) = stand_in(200, rejected).await;

        let outcome = sink.deliver("bus", RECORD.as_bytes(), &policy()).await;

        assert!(!outcome.delivered);
        assert_eq!(outcome.attempts, 1);
    }

    #[tokio::test]
    async fn server_error_is_retried() {
        let failure = json!({"__type": "InternalException", "message": "try again"});
        let (sink, captured) = stand_in(500, failure).await;

        let outcome = sink.deliver("bus", RECORD.as_bytes(), &policy()).await;

        assert_eq!(outcome.attempts, 3);
        assert_eq!(outcome.status, Some(500));
        assert_eq!(captured.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn access_denied_is_not_retried() {
        let denied = json!({"__type": "AccessDeniedException", "message": "not allowed"});
        let (sink, _) = stand_in(400, denied).await;

        let outcome = sink.deliver("bus", RECORD.as_bytes(), &policy()).await;

        assert_eq!(outcome.attempts, 1);
        assert_eq!(outcome.status, Some(400));
        let error = outcome.error.unwrap();
        assert!(error.contains("AccessDeniedException"), "{error}");
    }
}
