//! Client that hands each verdict to the notify function.

use std::time::Duration;

use filestore::verdict::VerdictRecord;

/// Error raised when notify did not accept a verdict after every attempt.
#[derive(Debug, thiserror::Error)]
#[error("notify did not accept verdict {verdict_id} after {attempts} attempts: {last_error}")]
pub struct NotifyError {
    pub verdict_id: String,
    pub attempts: u32,
    pub last_error: String,
}

/// Sends verdicts to notify over HTTP with a bearer token, retrying 5xx, 429 and network errors.
#[derive(Debug, Clone)]
pub struct NotifyClient {
    client: reqwest::Client,
    url: String,
    token: String,
    attempts: u32,
}

impl NotifyClient {
    /// Creates a client for the notify endpoint at `url`.
    pub fn new(url: String, token: String, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .no_proxy()
            .build()?;
        Ok(Self {
            client,
            url,
            token,
            attempts: 4,
        })
    }

    /// Delivers one verdict.
    pub async fn send(&self, record: &VerdictRecord) -> Result<(), NotifyError> {
        let mut last_error = String::new();
        for attempt in 1..=self.attempts {
            if attempt > 1 {
                tokio::time::sleep(Duration::from_millis(250) * 2u32.pow(attempt - 2)).await;
            }
            match self
                .client
                .post(&self.url)
                .bearer_auth(&self.token)
                .json(record)
                .send()
                .await
            {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status();
                    last_error = format!("notify returned {status}");
                    if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS
                    {
                        break;
                    }
                }
                Err(e) => last_error = format!("request failed: {e}"),
            }
            tracing::warn!(verdict_id = %record.id, attempt, error = %last_error, "notify attempt failed");
        }
        Err(NotifyError {
            verdict_id: record.id.clone(),
            attempts: self.attempts,
            last_error,
        })
    }
}
