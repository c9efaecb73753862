//! clamd client: streams bytes with the INSTREAM command and reads the reply without ever
//! mistaking a failure for a clean result.
//!
//! The scan is written here instead of with `clamav-client`'s stream scan because that client
//! stops at a broken pipe without reading clamd's reply, and clamd closes the socket exactly when
//! it has a reply to give (for example `INSTREAM size limit exceeded`).

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Largest frame sent in one INSTREAM chunk; larger buffers are split.
const MAX_FRAME: usize = 1 << 20;
/// Longest reply clamd sends for one stream; more means the peer is not clamd.
const MAX_REPLY: u64 = 4096;

/// Error raised by a clamd exchange. None of these is ever a clean result.
#[derive(Debug, thiserror::Error)]
pub enum ClamdError {
    #[error("cannot connect to clamd at {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    #[error("clamd connection failed: {0}")]
    Io(#[from] io::Error),
    #[error("clamd did not answer within {0:?}")]
    Timeout(Duration),
    #[error("clamd reported an error: {0}")]
    Reported(String),
    #[error("unexpected clamd reply: {0:?}")]
    Unexpected(String),
}

/// Outcome of a completed scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanOutcome {
    Clean,
    /// Signature name as clamd reports it, e.g. `Eicar-Test-Signature`.
    Found(String),
}

/// Parses a clamd reply to one stream scan. Only `stream: OK` is clean.
pub fn parse_reply(raw: &[u8]) -> Result<ScanOutcome, ClamdError> {
    let text = String::from_utf8_lossy(raw);
    let reply = text.trim_end_matches(['\0', '\n', '\r']).trim();
    if let Some(message) = reply.strip_suffix(" ERROR") {
        return Err(ClamdError::Reported(message.to_string()));
    }
    let Some(result) = reply.strip_prefix("stream: ") else {
        return Err(ClamdError::Unexpected(reply.to_string()));
    };
    if result == "OK" {
        return Ok(ScanOutcome::Clean);
    }
    match result.strip_suffix(" FOUND") {
        Some(name) if !name.is_empty() => Ok(ScanOutcome::Found(name.to_string())),
        _ => Err(ClamdError::Unexpected(reply.to_string())),
    }
}

/// A virus scanner that takes a stream of chunks.
pub trait Scanner: Send + Sync {
    type Session: ScanSession;

    /// Opens a scan of one stream.
    fn start(&self) -> impl Future<Output = Result<Self::Session, ClamdError>> + Send;
}

/// One stream being scanned.
pub trait ScanSession: Send {
    /// Sends the next chunk.
    fn send(&mut self, chunk: &[u8]) -> impl Future<Output = Result<(), ClamdError>> + Send;

    /// Ends the stream and returns the verdict.
    fn finish(self) -> impl Future<Output = Result<ScanOutcome, ClamdError>> + Send;
}

/// clamd reached over TCP.
#[derive(Debug, Clone)]
pub struct Clamd {
    addr: String,
    timeout: Duration,
}

impl Clamd {
    /// Creates a client for `host:port` whose every step is bounded by `timeout`.
    pub fn new(addr: impl Into<String>, timeout: Duration) -> Self {
        Self {
            addr: addr.into(),
            timeout,
        }
    }

    /// Checks that clamd replies `PONG` to `PING`.
    pub async fn ping(&self) -> Result<(), ClamdError> {
        let tcp = clamav_client::tokio::Tcp {
            host_address: self.addr.as_str(),
        };
        let reply = timeout(self.timeout, clamav_client::tokio::ping(tcp))
            .await
            .map_err(|_| ClamdError::Timeout(self.timeout))??;
        if reply.as_slice() == clamav_client::PONG {
            Ok(())
        } else {
            Err(ClamdError::Unexpected(
                String::from_utf8_lossy(&reply).into_owned(),
            ))
        }
    }

    async fn connect(&self) -> Result<TcpStream, ClamdError> {
        let connect = TcpStream::connect(&self.addr);
        match timeout(self.timeout, connect).await {
            Err(_) => Err(ClamdError::Timeout(self.timeout)),
            Ok(Err(source)) => Err(ClamdError::Connect {
                addr: self.addr.clone(),
                source,
            }),
            Ok(Ok(stream)) => Ok(stream),
        }
    }
}

impl Scanner for Clamd {
    type Session = Instream;

    async fn start(&self) -> Result<Instream, ClamdError> {
        let stream = self.connect().await?;
        stream.set_nodelay(true)?;
        let (mut reader, mut writer) = stream.into_split();
        let reply = tokio::spawn(async move {
            let mut reply = Vec::new();
            (&mut reader)
                .take(MAX_REPLY)
                .read_to_end(&mut reply)
                .await?;
            Ok(reply)
        });
        with_timeout(self.timeout, writer.write_all(b"zINSTREAM\0")).await?;
        Ok(Instream {
            writer,
            reply,
            timeout: self.timeout,
            broken: None,
        })
    }
}

/// An INSTREAM exchange whose reply is read concurrently, so a reply sent before clamd closes the
/// socket is still seen after a write fails.
#[derive(Debug)]
pub struct Instream {
    writer: OwnedWriteHalf,
    reply: JoinHandle<io::Result<Vec<u8>>>,
    timeout: Duration,
    broken: Option<ClamdError>,
}

impl ScanSession for Instream {
    async fn send(&mut self, chunk: &[u8]) -> Result<(), ClamdError> {
        if self.broken.is_some() {
            return Ok(());
        }
        for frame in chunk.chunks(MAX_FRAME) {
            if let Err(e) = self.write_frame(frame).await {
                self.broken = Some(e);
                break;
            }
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<ScanOutcome, ClamdError> {
        if self.broken.is_none()
            && let Err(e) = self.write_frame(&[]).await
        {
            self.broken = Some(e);
        }
        let reply = match timeout(self.timeout, &mut self.reply).await {
            Err(_) => Err(ClamdError::Timeout(self.timeout)),
            Ok(joined) => joined.map_err(io::Error::other)?.map_err(ClamdError::Io),
        };
        conclude(reply, self.broken)
    }
}

impl Instream {
    async fn write_frame(&mut self, frame: &[u8]) -> Result<(), ClamdError> {
        let length = u32::try_from(frame.len()).expect("frames are at most MAX_FRAME bytes");
        with_timeout(self.timeout, self.writer.write_all(&length.to_be_bytes())).await?;
        if !frame.is_empty() {
            with_timeout(self.timeout, self.writer.write_all(frame)).await?;
        }
        Ok(())
    }
}

/// Turns the reply and any write failure into an outcome. After a write failure clamd did not
/// see the whole stream, so only a detection counts as a result; anything else is an error.
fn conclude(
    reply: Result<Vec<u8>, ClamdError>,
    broken: Option<ClamdError>,
) -> Result<ScanOutcome, ClamdError> {
    let parsed = match reply {
        Ok(raw) if !raw.is_empty() => parse_reply(&raw),
        Ok(_) => Err(ClamdError::Unexpected(String::new())),
        Err(e) => Err(e),
    };
    match (parsed, broken) {
        (Ok(ScanOutcome::Found(name)), _) => Ok(ScanOutcome::Found(name)),
        (Ok(ScanOutcome::Clean), Some(write_error)) => Err(write_error),
        (Err(ClamdError::Unexpected(_)), Some(write_error)) => Err(write_error),
        (result, _) => result,
    }
}

async fn with_timeout<T>(
    limit: Duration,
    future: impl Future<Output = io::Result<T>>,
) -> Result<T, ClamdError> {
    match timeout(limit, future).await {
        Err(_) => Err(ClamdError::Timeout(limit)),
        Ok(result) => Ok(result?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_reply_is_clean() {
        assert_eq!(parse_reply(b"stream: OK\0").unwrap(), ScanOutcome::Clean);
        assert_eq!(parse_reply(b"stream: OK\n").unwrap(), ScanOutcome::Clean);
    }

    #[test]
    fn found_reply_names_signature() {
        let outcome = parse_reply(b"stream: Eicar-Test-Signature FOUND\0").unwrap();
        assert_eq!(outcome, ScanOutcome::Found("Eicar-Test-Signature".into()));
        let outcome = parse_reply(b"stream: Filestore.Test.EICAR.UNOFFICIAL FOUND\0").unwrap();
        assert_eq!(
            outcome,
            ScanOutcome::Found("Filestore.Test.EICAR.UNOFFICIAL".into())
        );
    }

    #[test]
    fn error_reply_is_never_clean() {
        let err = parse_reply(b"INSTREAM size limit exceeded. ERROR\0").unwrap_err();
        assert!(matches!(err, ClamdError::Reported(m) if m == "INSTREAM size limit exceeded."));
    }

    #[test]
    fn garbage_reply_is_never_clean() {
        for raw in [
            &b"PONG\0"[..],
            b"",
            b"stream: ",
            b"stream: FOUND",
            b"stream: OKAY",
            b"\xff\xfe",
        ] {
            let result = parse_reply(raw);
            assert!(
                matches!(result, Err(ClamdError::Unexpected(_))),
                "{raw:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn clean_reply_after_write_failure_is_an_error() {
        let broken = Some(ClamdError::Io(io::ErrorKind::BrokenPipe.into()));
        let result = conclude(Ok(b"stream: OK\0".to_vec()), broken);
        assert!(matches!(result, Err(ClamdError::Io(_))));
    }

    #[test]
    fn limit_reply_after_write_failure_is_reported() {
        let broken = Some(ClamdError::Io(io::ErrorKind::BrokenPipe.into()));
        let result = conclude(
            Ok(b"INSTREAM size limit exceeded. ERROR\0".to_vec()),
            broken,
        );
        assert!(matches!(result, Err(ClamdError::Reported(_))));
    }

    #[test]
    fn detection_after_write_failure_still_counts() {
        let broken = Some(ClamdError::Io(io::ErrorKind::BrokenPipe.into()));
        let result = conclude(Ok(b"stream: Eicar FOUND\0".to_vec()), broken);
        assert_eq!(result.unwrap(), ScanOutcome::Found("Eicar".into()));
    }
}
