//! Creating, completing and aborting uploads.

use filestore::post_policy::{PostRequest, PresignedPost};
use filestore::store::{CompletedPartRef, PresignedPart};
use filestore::verdict::{UploadStatus, now_rfc3339, status_key, upload_key};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::config::Config;
use crate::handler::{App, PresignError, owned_status};
use filestore::auth::Principal;
use filestore::names::sanitise_file_name;

/// Body of `POST /uploads`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    pub filename: String,
    #[serde(default)]
    pub content_type: Option<String>,
    pub size: u64,
}

/// Response body of `POST /uploads`: a form upload, or presigned parts for a multipart upload.
#[derive(Debug, Serialize)]
pub struct UploadTicket {
    pub id: String,
    pub key: String,
    pub expires_at: String,
    pub status_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<PresignedPost>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multipart: Option<MultipartTicket>,
}

/// Parts of a multipart upload: PUT each part to its URL, then POST the ETags to `complete_url`.
#[derive(Debug, Serialize)]
pub struct MultipartTicket {
    pub part_size: u64,
    pub parts: Vec<PresignedPart>,
    pub complete_url: String,
    pub abort_url: String,
}

/// Body of `POST /uploads/{id}/complete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    pub parts: Vec<CompletedPartRef>,
}

/// Validates a request, records the pending upload and presigns it.
pub async fn create(
    app: &App,
    principal: &Principal,
    request: &UploadRequest,
) -> Result<UploadTicket, PresignError> {
    let (name, content_type) = validate(&app.config, request)?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let key = upload_key(&id, &name);
    let config = &app.config;

    let (upload, multipart, multipart_upload_id) = if request.size > config.multipart_threshold {
        let upload_id = app
            .store
            .create_multipart(&config.incoming_bucket, &key, content_type)
            .await?;
        let part_size = config.part_size_for(request.size);
        let parts = app
            .store
            .presign_parts(
                &config.incoming_bucket,
                &key,
                &upload_id,
                request.size,
                part_size,
                config.expiry,
            )
            .await?;
        let urls = MultipartTicket {
            part_size,
            parts,
            complete_url: format!("uploads/{id}/complete"),
            abort_url: format!("uploads/{id}"),
        };
        (None, Some(urls), Some(upload_id))
    } else {
        let post = PostRequest {
            bucket: &config.incoming_bucket,
            key: &key,
            content_type,
            length_range: (request.size, request.size),
            expires_in: config.expiry,
            region: app.store.region(),
            bucket_url: config.bucket_url.clone(),
        };
        (Some(app.store.presign_post(&post).await?), None, None)
    };

    let status = UploadStatus {
        upload_id: id.clone(),
        filename: name,
        key: key.clone(),
        content_type: content_type.to_string(),
        size: request.size,
        status: "pending".to_string(),
        created_at: now_rfc3339(),
        verdict: None,
        owner: Some(principal.subject.clone()),
        multipart_upload_id,
    };
    app.store
        .put_json(&config.status_bucket, &status_key(&id), &status)
        .await?;

    info!(upload_id = %id, key = %key, size = request.size, multipart = multipart.is_some(), "upload presigned");
    let expires_at = upload
        .as_ref()
        .map(|u| u.expires_at.clone())
        .unwrap_or_else(|| expiry_time(config));
    Ok(UploadTicket {
        status_url: format!("uploads/{id}"),
        id,
        key,
        expires_at,
        upload,
        multipart,
    })
}

fn expiry_time(config: &Config) -> String {
    let expires = std::time::SystemTime::now() + config.expiry;
    aws_sdk_s3::primitives::DateTime::from(expires)
        .fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime)
        .unwrap_or_default()
}

/// Checks name, extension, content type and size, returning the safe name and the content type
/// the upload must carry.
fn validate(
    config: &Config,
    request: &UploadRequest,
) -> Result<(String, &'static str), PresignError> {
    let name = sanitise_file_name(&request.filename).ok_or(PresignError::EmptyName)?;
    let rule =
        config
            .policy
            .rule_for_name(&name)
            .ok_or_else(|| PresignError::ExtensionNotAllowed {
                name: name.clone(),
                allowed: config.policy.extensions().join(", "),
            })?;
    if let Some(given) = request.content_type.as_deref().filter(|t| !t.is_empty()) {
        let essence = given.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case(rule.content_type) {
            return Err(PresignError::ContentTypeMismatch {
                given: given.into(),
                expected: rule.content_type,
            });
        }
    }
    if request.size > config.max_bytes {
        return Err(PresignError::TooLarge {
            size: request.size,
            max: config.max_bytes,
        });
    }
    Ok((name, rule.content_type))
}

/// Completes a multipart upload the caller owns.
pub async fn complete(
    app: &App,
    principal: &Principal,
    id: &str,
    request: &CompleteRequest,
) -> Result<(), PresignError> {
    let status = owned_status(app, principal, id).await?;
    let upload_id = status
        .multipart_upload_id
        .ok_or_else(|| PresignError::NotMultipart(id.to_string()))?;
    app.store
        .complete_multipart(
            &app.config.incoming_bucket,
            &status.key,
            &upload_id,
            &request.parts,
        )
        .await?;
    info!(upload_id = %id, parts = request.parts.len(), "multipart upload completed");
    Ok(())
}

/// Aborts a multipart upload the caller owns, discarding its parts.
pub async fn abort(app: &App, principal: &Principal, id: &str) -> Result<(), PresignError> {
    let status = owned_status(app, principal, id).await?;
    let upload_id = status
        .multipart_upload_id
        .ok_or_else(|| PresignError::NotMultipart(id.to_string()))?;
    app.store
        .abort_multipart(&app.config.incoming_bucket, &status.key, &upload_id)
        .await?;
    info!(upload_id = %id, "multipart upload aborted");
    Ok(())
}
