//! A client that uses Filestore the way a browser does: ask presign, send the bytes straight to
//! storage with the presigned form or part URLs, then poll the status.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use filestore::verdict::UploadStatus;
use serde::Deserialize;
use serde_json::json;

use crate::StackEnv;

/// Presigned form upload from `POST /uploads`.
#[derive(Debug, Clone, Deserialize)]
pub struct FormUpload {
    pub method: String,
    pub url: String,
    pub fields: BTreeMap<String, String>,
    pub expires_at: String,
}

/// One presigned part of a multipart upload.
#[derive(Debug, Clone, Deserialize)]
pub struct Part {
    pub number: i32,
    pub url: String,
    pub size: u64,
}

/// Presigned multipart upload from `POST /uploads`.
#[derive(Debug, Clone, Deserialize)]
pub struct MultipartUpload {
    pub part_size: u64,
    pub parts: Vec<Part>,
    pub complete_url: String,
    pub abort_url: String,
}

/// Response body of `POST /uploads`.
#[derive(Debug, Clone, Deserialize)]
pub struct Ticket {
    pub id: String,
    pub key: String,
    pub expires_at: String,
    pub status_url: String,
    pub upload: Option<FormUpload>,
    pub multipart: Option<MultipartUpload>,
}

/// An HTTP response kept whole, for tests that check rejections.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
}

/// Browser-like client of the presign function and of storage, acting for one user.
#[derive(Debug, Clone)]
pub struct Uploader {
    http: reqwest::Client,
    env: StackEnv,
    token: Option<String>,
}

/// Signs an HS256 JWT for `subject` that expires `lifetime_secs` from now (negative: already
/// expired), with the given secret.
pub fn mint_token(secret: &[u8], subject: &str, lifetime_secs: i64) -> String {
    let exp = filestore::webhook::unix_now() as i64 + lifetime_secs;
    let claims = json!({ "sub": subject, "exp": exp });
    let key =
        jsonwebtoken::EncodingKey::from_secret(secret).expect("any byte string is an HS256 key");
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key)
        .expect("HS256 signing works")
}

impl Uploader {
    /// Creates a client acting for the user `e2e-user`.
    pub fn new(env: StackEnv) -> Self {
        let token = mint_token(&env.jwt_secret, "e2e-user", 600);
        Self::with_token(env, Some(token))
    }

    /// Creates a client that sends `token` as its bearer credential, or none.
    pub fn with_token(env: StackEnv, token: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(300))
            .build()
            .expect("HTTP client settings are valid");
        Self { http, env, token }
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        Answer { status, body }
    }

    /// Sends `POST /uploads` with any JSON body and returns the response as is.
    pub async fn request_upload(&self, body: &serde_json::Value) -> Result<Answer, reqwest::Error> {
        let request = self
            .http
            .post(self.env.url("presign", "/uploads"))
            .json(body);
        Ok(Self::answer(self.authorized(request).send().await?).await)
    }

    /// Requests an upload of `size` bytes from presign, failing unless it returns 201.
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

    /// Uploads bytes as the ticket describes: one form POST, or every part then completion. Returns
    /// the first status storage or presign gave that was not a success, or the last success.
    pub async fn upload(&self, ticket: &Ticket, bytes: Vec<u8>) -> Result<u16, reqwest::Error> {
        match (&ticket.upload, &ticket.multipart) {
            (Some(form), _) => self.post_form(form, &form.fields, bytes).await,
            (None, Some(multipart)) => self.upload_parts(multipart, bytes).await,
            (None, None) => panic!("ticket {} has neither a form nor parts", ticket.id),
        }
    }

    /// Posts a form upload with the given fields (tests change them to check rejections).
    pub async fn post_form(
        &self,
        form: &FormUpload,
        fields: &BTreeMap<String, String>,
        bytes: Vec<u8>,
    ) -> Result<u16, reqwest::Error> {
        let mut multipart = reqwest::multipart::Form::new();
        for (name, value) in fields {
            multipart = multipart.text(name.clone(), value.clone());
        }
        multipart = multipart.part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("upload"),
        );
        let response = self
            .http
            .post(&form.url)
            .multipart(multipart)
            .send()
            .await?;
        Ok(response.status().as_u16())
    }

    async fn upload_parts(
        &self,
        multipart: &MultipartUpload,
        bytes: Vec<u8>,
    ) -> Result<u16, reqwest::Error> {
        let mut completed = Vec::new();
        let mut offset = 0usize;
        for part in &multipart.parts {
            let end = (offset + part.size as usize).min(bytes.len());
            let response = self
                .http
                .put(&part.url)
                .body(bytes[offset..end].to_vec())
                .send()
                .await?;
            if !response.status().is_success() {
                return Ok(response.status().as_u16());
            }
            let etag = response
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            completed.push(json!({ "number": part.number, "etag": etag }));
            offset = end;
        }
        let url = self
            .env
            .url("presign", &format!("/{}", multipart.complete_url));
        let request = self.http.post(url).json(&json!({ "parts": completed }));
        Ok(self.authorized(request).send().await?.status().as_u16())
    }

    /// Reads `GET /uploads/{id}`.
    pub async fn status(&self, id: &str) -> Result<Answer, reqwest::Error> {
        let request = self
            .http
            .get(self.env.url("presign", &format!("/uploads/{id}")));
        Ok(Self::answer(self.authorized(request).send().await?).await)
    }

    /// Sends `POST /files?name=...` to the upload function with `bytes` as the body, as a browser
    /// sends a `File`.
    pub async fn upload_sync(&self, name: &str, bytes: Vec<u8>) -> Result<Answer, reqwest::Error> {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("name", name)
            .finish();
        let request = self
            .http
            .post(self.env.url("upload", &format!("/files?{query}")))
            // cargo lambda watch returns 500 for a binary body that has no Content-Type.
            .header("content-type", "application/octet-stream")
            .body(bytes);
        Ok(Self::answer(self.authorized(request).send().await?).await)
    }

    /// Sends `GET /files/{id}` to the upload function, with a `Range` header when given.
    pub async fn download(
        &self,
        file_id: &str,
        range: Option<&str>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut request = self
            .http
            .get(self.env.url("upload", &format!("/files/{file_id}")));
        if let Some(range) = range {
            request = request.header("range", range);
        }
        self.authorized(request).send().await
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
        Ok(Self::answer(response).await)
    }
}
