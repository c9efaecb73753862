//! Receiving one file: the body streams once through the content inspector, clamd and the
//! encrypting writer together, and the encrypted copy is committed only for a clean verdict.

use bytes::Bytes;
use filestore::clamd::{ClamdError, ScanSession, Scanner};
use filestore::content::Inspector;
use filestore::decision::{Judgement, is_size_limit, judge};
use filestore::keys::KeyError;
use filestore::store::encrypted::{EncryptedWriter, FileInfo, SealError, StoredFile};
use filestore::verdict::Verdict;
use futures::{Stream, StreamExt};

use crate::handler::App;

/// Reason a file was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("the file is over the limit of {max} bytes")]
    TooLarge { max: u64 },
    /// The verdict was not clean, and the judgement gives the reason.
    #[error("the file was refused: {}", .0.verdict.name())]
    Refused(Box<Judgement>),
    #[error("reading the request body failed: {0}")]
    Body(String),
    #[error("virus scanner unavailable: {0}")]
    Scanner(ClamdError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Store(SealError),
}

impl From<SealError> for ReceiveError {
    fn from(error: SealError) -> Self {
        match error {
            SealError::Keys(e) => Self::Keys(e),
            other => Self::Store(other),
        }
    }
}

/// A stored clean file.
#[derive(Debug)]
pub struct Received {
    pub stored: StoredFile,
    pub judgement: Judgement,
}

/// Scans, checks and stores one file from `body`. Nothing is visible in the store unless the
/// result is `Ok`.
pub async fn receive<S, B, E>(
    app: &App<S>,
    file: FileInfo,
    body: B,
) -> Result<Received, ReceiveError>
where
    S: Scanner,
    B: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    // The key comes first: with Vault down the body is never read.
    let key = app.keys.data_key().await?;
    let mut session = app.scanner.start().await.map_err(ReceiveError::Scanner)?;
    let mut writer = EncryptedWriter::new(&app.store, &app.config.store_bucket, file.clone(), key)?;
    let read = stream_into(app, body, &mut session, &mut writer).await;
    let inspector = match read {
        Ok(inspector) => inspector,
        Err(e) => {
            writer.abort().await;
            return Err(e);
        }
    };
    let outcome = match session.finish().await {
        Ok(outcome) => outcome,
        Err(ClamdError::Reported(message)) if is_size_limit(&message) => {
            writer.abort().await;
            return Err(ReceiveError::TooLarge {
                max: app.config.max_bytes,
            });
        }
        Err(e) => {
            writer.abort().await;
            return Err(ReceiveError::Scanner(e));
        }
    };
    let judgement = judge(&app.config.policy, &file.file_name, outcome, &inspector);
    if judgement.verdict != Verdict::Clean {
        writer.abort().await;
        return Err(ReceiveError::Refused(Box::new(judgement)));
    }
    let stored = writer.finish().await?.commit().await?;
    Ok(Received { stored, judgement })
}

async fn stream_into<S, B, E>(
    app: &App<S>,
    mut body: B,
    session: &mut S::Session,
    writer: &mut EncryptedWriter,
) -> Result<Inspector, ReceiveError>
where
    S: Scanner,
    B: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut inspector = Inspector::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ReceiveError::Body(e.to_string()))?;
        inspector.update(&chunk);
        if inspector.total() > app.config.max_bytes {
            return Err(ReceiveError::TooLarge {
                max: app.config.max_bytes,
            });
        }
        let (scanned, written) = tokio::join!(session.send(&chunk), writer.write(&chunk));
        match scanned {
            Ok(()) => {}
            Err(ClamdError::Reported(message)) if is_size_limit(&message) => {
                return Err(ReceiveError::TooLarge {
                    max: app.config.max_bytes,
                });
            }
            Err(e) => return Err(ReceiveError::Scanner(e)),
        }
        written?;
    }
    Ok(inspector)
}
