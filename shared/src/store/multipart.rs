//! Multipart uploads driven by a browser: the service creates the upload and presigns one URL
//! per part, the browser sends the parts, and the service completes or aborts it.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use serde::{Deserialize, Serialize};

use super::{Location, Store, StoreError, request_error};
use crate::post_policy::{PostRequest, PresignedPost, presign_post};

/// One presigned part URL; its signed `content-length` pins the part's exact size.
#[derive(Debug, Clone, Serialize)]
pub struct PresignedPart {
    pub number: i32,
    pub url: String,
    pub size: u64,
}

/// A part the client uploaded, as it reports it for completion.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CompletedPartRef {
    pub number: i32,
    pub etag: String,
}

impl Store {
    /// Returns the region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Resolves the client's current credentials.
    pub async fn credentials(&self) -> Result<Credentials, StoreError> {
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| StoreError::Credentials("no credentials provider".into()))?;
        provider
            .provide_credentials()
            .await
            .map_err(|e| StoreError::Credentials(e.to_string()))
    }

    /// Signs a browser form upload with the client's credentials.
    pub async fn presign_post(
        &self,
        request: &PostRequest<'_>,
    ) -> Result<PresignedPost, StoreError> {
        let credentials = self.credentials().await?;
        Ok(presign_post(request, &credentials, SystemTime::now()))
    }

    /// Starts a multipart upload and returns its id.
    pub async fn create_multipart(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
    ) -> Result<String, StoreError> {
        let at = Location {
            bucket,
            key,
            version_id: None,
        };
        let output = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| request_error("CreateMultipartUpload", at, e))?;
        output.upload_id.ok_or_else(|| StoreError::Request {
            operation: "CreateMultipartUpload",
            bucket: bucket.into(),
            key: key.into(),
            message: "response has no upload id".into(),
        })
    }

    /// Presigns the upload of every part of `size` bytes split into `part_size` pieces.
    pub async fn presign_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        size: u64,
        part_size: u64,
        expires_in: Duration,
    ) -> Result<Vec<PresignedPart>, StoreError> {
        let at = Location {
            bucket,
            key,
            version_id: None,
        };
        let count = size.div_ceil(part_size).max(1);
        let mut parts = Vec::with_capacity(count as usize);
        for index in 0..count {
            let number = i32::try_from(index + 1).expect("part numbers are at most 10,000");
            let part_bytes = part_size.min(size - index * part_size);
            let config = PresigningConfig::expires_in(expires_in)
                .map_err(|e| StoreError::Expiry(e.to_string()))?;
            let presigned = self
                .client
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .content_length(part_bytes as i64)
                .presigned(config)
                .await
                .map_err(|e| request_error("PresignUploadPart", at, e))?;
            parts.push(PresignedPart {
                number,
                url: presigned.uri().to_string(),
                size: part_bytes,
            });
        }
        Ok(parts)
    }

    /// Completes a multipart upload from the parts the client reports.
    pub async fn complete_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPartRef],
    ) -> Result<(), StoreError> {
        let at = Location {
            bucket,
            key,
            version_id: None,
        };
        let completed: Vec<CompletedPart> = parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.number)
                    .e_tag(&p.etag)
                    .build()
            })
            .collect();
        let upload = CompletedMultipartUpload::builder()
            .set_parts(Some(completed))
            .build();
        self.client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(upload)
            .send()
            .await
            .map_err(|e| request_error("CompleteMultipartUpload", at, e))?;
        Ok(())
    }

    /// Aborts a multipart upload, discarding every uploaded part.
    pub async fn abort_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        let at = Location {
            bucket,
            key,
            version_id: None,
        };
        self.client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| request_error("AbortMultipartUpload", at, e))?;
        Ok(())
    }
}
