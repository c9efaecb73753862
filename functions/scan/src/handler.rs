//! Entry point of the scan function: bucket events from the Lambda runtime, or MinIO webhook
//! requests arriving through a function URL.

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use base64::Engine;
use filestore::clamd::Scanner;
use filestore::event::{Envelope, RecordKind, SqsMessage, parse_envelope, parse_notification};
use filestore::http::constant_time_eq;
use filestore::keys::{KeyError, KeyService};
use filestore::store::encrypted::SealError;
use filestore::store::{Store, StoreError};
use filestore::verdict::VerdictRecord;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::{Value, json};
use tracing::{debug, error, warn};

use crate::config::Config;
use crate::notify::{NotifyClient, NotifyError};
use crate::process::process;

/// Everything the handler needs, built once at start-up.
pub struct App<S> {
    pub config: Config,
    pub store: Store,
    pub scanner: S,
    pub notify: NotifyClient,
    /// Vault's transit engine, present when clean objects go to the encrypted file store.
    pub keys: Option<KeyService>,
}

/// Error that fails the invocation so the event is delivered again.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    #[error(transparent)]
    Seal(#[from] SealError),
    /// clamd failed on every attempt; the object keeps its `error` verdict until a later
    /// delivery of the event scans it.
    #[error("{key} is not scanned yet ({reason}); the event must be delivered again")]
    Unfinished { key: String, reason: String },
}

impl From<KeyError> for ScanError {
    fn from(error: KeyError) -> Self {
        Self::Seal(SealError::Keys(error))
    }
}

impl From<ScanError> for lambda_runtime::Diagnostic {
    fn from(error: ScanError) -> Self {
        let error_type = match &error {
            ScanError::Store(_) => "StoreError",
            ScanError::Notify(_) => "NotifyError",
            ScanError::Seal(_) => "FileStoreError",
            ScanError::Unfinished { .. } => "ScannerUnavailable",
        };
        Self {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

/// Summary returned for one notification.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub verdicts: Vec<VerdictRecord>,
    /// Records with no work, such as deletes, tagging changes and objects already gone.
    pub skipped: usize,
}

/// Handles one invocation, telling function URL requests from direct bucket events.
pub async fn handle<S: Scanner>(
    app: &App<S>,
    event: LambdaEvent<Value>,
) -> Result<Value, ScanError> {
    let payload = event.payload;
    if payload.pointer("/requestContext/http").is_some() {
        return Ok(handle_http(app, payload).await);
    }

    match parse_envelope(payload) {
        Ok(Envelope::Records(records)) => Ok(json!(scan_records(app, records).await?)),
        Ok(Envelope::Sqs(messages)) => Ok(json!(scan_sqs_batch(app, messages).await)),
        Err(e) => {
            // A malformed event does not improve on redelivery, so it is reported, not retried.
            warn!(error = %e, "invalid bucket event");
            Ok(json!({ "error": "invalid_event", "message": e.to_string() }))
        }
    }
}

/// Scans an SQS batch message by message and reports the failed ones, so SQS redelivers only
/// those (`ReportBatchItemFailures`). A message that cannot be parsed fails too, so that after
/// the queue's receive limit it lands in the dead-letter queue instead of vanishing.
pub async fn scan_sqs_batch<S: Scanner>(
    app: &App<S>,
    messages: Vec<SqsMessage>,
) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for message in messages {
        let result = match message.records {
            Ok(records) => scan_records(app, records)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(error) = result {
            warn!(message_id = %message.message_id, error, "SQS message failed");
            failures.push(BatchItemFailure {
                item_identifier: message.message_id,
            });
        }
    }
    SqsBatchResponse {
        batch_item_failures: failures,
    }
}

/// Response to an SQS batch, in the shape of Lambda's partial batch response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsBatchResponse {
    pub batch_item_failures: Vec<BatchItemFailure>,
}

/// One failed message of an SQS batch.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    pub item_identifier: String,
}

/// Scans every record of one notification in order.
pub async fn scan_records<S: Scanner>(
    app: &App<S>,
    records: Vec<RecordKind>,
) -> Result<Summary, ScanError> {
    let mut summary = Summary {
        verdicts: Vec::new(),
        skipped: 0,
    };
    for record in records {
        match record {
            RecordKind::Ignored { event_name, key } => {
                debug!(event_name, key, "record ignored");
                summary.skipped += 1;
            }
            RecordKind::Created(object) => match process(app, &object).await? {
                Some(verdict) => summary.verdicts.push(verdict),
                None => summary.skipped += 1,
            },
        }
    }
    Ok(summary)
}

/// Adapts a function URL request to [`webhook`] and its result to a function URL response.
async fn handle_http<S: Scanner>(app: &App<S>, payload: Value) -> Value {
    let request: LambdaFunctionUrlRequest = match serde_json::from_value(payload) {
        Ok(request) => request,
        Err(e) => return http_json(400, &error_body("invalid_request", &e.to_string())),
    };
    let body = match request_body(&request) {
        Ok(body) => body,
        Err(e) => return http_json(400, &error_body("invalid_body", &e.to_string())),
    };
    let authorization = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let (status, body) = webhook(app, authorization, &body).await;
    http_json(status, &body)
}

/// Handles a MinIO webhook delivery from any front door: checks the bearer token, scans, and
/// returns 200, or 503 so MinIO keeps the event queued and sends it again. An empty body
/// (MinIO's probe) gets 200.
pub async fn webhook<S: Scanner>(
    app: &App<S>,
    authorization: Option<&str>,
    body: &[u8],
) -> (u16, Value) {
    if !authorized(app, authorization) {
        warn!("webhook request without a valid bearer token");
        return (
            401,
            error_body("unauthorized", "missing or invalid bearer token"),
        );
    }
    let records = match parse_notification(body) {
        Ok(records) => records,
        Err(e) => {
            warn!(error = %e, "invalid webhook body");
            return (400, error_body("invalid_event", &e.to_string()));
        }
    };
    match scan_records(app, records).await {
        Ok(summary) => (200, json!(summary)),
        Err(e) => {
            error!(error = %e, "scan failed; the event will be delivered again");
            (503, error_body("scan_failed", "scan failed; retry later"))
        }
    }
}

fn authorized<S>(app: &App<S>, authorization: Option<&str>) -> bool {
    let Some(expected) = app.config.webhook_token.as_deref() else {
        return false;
    };
    let header = authorization.unwrap_or_default();
    let token = header.strip_prefix("Bearer ").unwrap_or(header).trim();
    constant_time_eq(token.as_bytes(), expected.as_bytes())
}

fn request_body(request: &LambdaFunctionUrlRequest) -> Result<Vec<u8>, base64::DecodeError> {
    let body = request.body.as_deref().unwrap_or_default();
    if request.is_base64_encoded {
        base64::engine::general_purpose::STANDARD.decode(body)
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

fn error_body(code: &str, message: &str) -> Value {
    json!({ "error": code, "message": message })
}

/// Builds a function URL response. `cookies` must be present: `cargo lambda watch` rejects a
/// response without it with a 500.
fn http_json(status: u16, body: &Value) -> Value {
    json!({
        "statusCode": status,
        "headers": { "content-type": "application/json" },
        "body": body.to_string(),
        "isBase64Encoded": false,
        "cookies": [],
    })
}
