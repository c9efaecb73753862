//! A client that uses Filestore the way a browser does: ask presign, PUT the bytes to the
//! presigned URL, then poll the status.

use std::time::{Duration, Instant};

use filestore::verdict::UploadStatus;
use serde::Deserialize;
use serde_json::json;

use crate::StackEnv;

/// Response body of `POST /uploads`.
#[derive(Debug, Clone, Deserialize)]
pub struct Ticket {
    pub id: String,
    pub key: String,
    pub method: String,
    pub url: String,
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: String,
}

/// An HTTP response kept whole, for tests that check rejections.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
}

/// Browser-like client of the presign function and of storage.
#[derive(Debug, Clone)]
pub struct Uploader {
    http: reqwest::Client,
    env: StackEnv,
}

impl Uploader {
    /// Creates a client for the stack.
    pub fn new(env: StackEnv) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("HTTP client settings are valid");
        Self { http, env }
    }

    /// Sends `POST /uploads` with any JSON body and returns the response as is.
    pub async fn request_upload(&self, body: &serde_json::Value) -> Result<Answer, reqwest::Error> {
        let response = self
            .http
            .post(self.env.url("presign", "/uploads"))
            .json(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        Ok(Answer { status, body })
    }

    /// Asks presign for an upload of `size` bytes, failing unless it answers 201.
    pub async fn presign(
        &self,
        filename: &str,
        content_type: &str,
        size: u64,
    ) -> Result<Ticket, String> {
        let body = json!({ "filename": filename, "content_type": content_type, "size": size });
        let answer = self
            .request_upload(&body)
            .await
            .map_err(|e| format!("presign request failed: {e}"))?;
        if answer.status != 201 {
            return Err(format!(
                "presign answered {}: {}",
                answer.status, answer.body
            ));
        }
        serde_json::from_value(answer.body).map_err(|e| format!("presign answer is invalid: {e}"))
    }

    /// Uploads bytes with the presigned request, sending exactly the signed headers.
    pub async fn upload(&self, ticket: &Ticket, bytes: Vec<u8>) -> Result<u16, reqwest::Error> {
        let method =
            reqwest::Method::from_bytes(ticket.method.as_bytes()).unwrap_or(reqwest::Method::PUT);
        let mut request = self.http.request(method, &ticket.url).body(bytes);
        for (name, value) in &ticket.headers {
            request = request.header(name, value);
        }
        Ok(request.send().await?.status().as_u16())
    }

    /// Reads `GET /uploads/{id}`.
    pub async fn status(&self, id: &str) -> Result<Answer, reqwest::Error> {
        let response = self
            .http
            .get(self.env.url("presign", &format!("/uploads/{id}")))
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        Ok(Answer { status, body })
    }

    /// Polls the status until it is no longer `pending` or `limit` passes.
    pub async fn wait_for_verdict(
        &self,
        id: &str,
        limit: Duration,
    ) -> Result<UploadStatus, String> {
        let deadline = Instant::now() + limit;
        loop {
            let answer = self
                .status(id)
                .await
                .map_err(|e| format!("status request failed: {e}"))?;
            if answer.status != 200 {
                return Err(format!(
                    "status answered {}: {}",
                    answer.status, answer.body
                ));
            }
            let status: UploadStatus = serde_json::from_value(answer.body)
                .map_err(|e| format!("status is invalid: {e}"))?;
            if status.status != "pending" {
                return Ok(status);
            }
            if Instant::now() > deadline {
                return Err(format!("upload {id} still pending after {limit:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Invokes a function through the Lambda invoke API of `cargo lambda watch`, as the Lambda
    /// service does for S3, SQS, SNS and EventBridge triggers, and returns its JSON result.
    pub async fn invoke(
        &self,
        function: &str,
        payload: &serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let base = self.env.functions_url.trim_end_matches("/lambda-url");
        let url = format!("{base}/2015-03-31/functions/{function}/invocations");
        let response = self
            .http
            .post(url)
            .json(payload)
            .send()
            .await
            .map_err(|e| format!("invoke failed: {e}"))?;
        let status = response.status();
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| format!("invoke answer is not JSON: {e}"))?;
        if !status.is_success() {
            return Err(format!("invoke answered {status}: {body}"));
        }
        Ok(body)
    }

    /// Sends a raw request to the scan function's webhook endpoint.
    pub async fn post_scan(
        &self,
        token: Option<&str>,
        body: &str,
    ) -> Result<Answer, reqwest::Error> {
        let mut request = self
            .http
            .post(self.env.url("scan", ""))
            .body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .header("content-type", "application/json")
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        Ok(Answer { status, body })
    }
}
