//! The references the product is compared with, all reading the corpus files from the page
//! cache: a plain INSTREAM client (the limit), `clamdscan --stream` and `clamscan` per file.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::corpus::Entry;
use crate::measure::{Probe, Processes, Row};

/// Bytes read from the file and sent as one INSTREAM frame.
const FRAME: usize = 256 * 1024;

/// Settings shared by the reference runs of one database.
pub struct Limit<'a> {
    pub db: &'a str,
    pub corpus: &'a Path,
    pub processes: &'a Processes,
    pub clamd_addr: &'a str,
    /// clamd.conf naming the TCP address, for clamdscan.
    pub clamd_conf: &'a Path,
    /// Signature folder, for clamscan.
    pub db_dir: &'a Path,
}

/// Result of scanning one file: `clean`, `infected`, or an error message.
type Outcome = Result<&'static str, String>;

struct Sample {
    index: usize,
    started: Instant,
    finished: Instant,
    outcome: Outcome,
}

/// Runs `scan` over `entries` with `concurrency` threads taking the next file in order.
fn run_parallel(
    entries: &[Entry],
    concurrency: usize,
    scan: impl Fn(&Entry) -> Outcome + Sync,
) -> Vec<Sample> {
    let next = AtomicUsize::new(0);
    let samples = Mutex::new(Vec::with_capacity(entries.len()));
    std::thread::scope(|scope| {
        for _ in 0..concurrency {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(entry) = entries.get(index) else {
                        break;
                    };
                    let started = Instant::now();
                    let outcome = scan(entry);
                    let finished = Instant::now();
                    samples
                        .lock()
                        .expect("no thread panicked holding the lock")
                        .push(Sample {
                            index,
                            started,
                            finished,
                            outcome,
                        });
                }
            });
        }
    });
    samples
        .into_inner()
        .expect("no thread panicked holding the lock")
}

fn row_from(
    limit: &Limit<'_>,
    mode: &str,
    concurrency: usize,
    class: &str,
    entries: &[Entry],
    probe: Probe,
    samples: Vec<Sample>,
) -> Row {
    let bytes: u64 = entries.iter().map(|e| e.size).sum();
    let busy = probe.started().elapsed();
    let usage = probe.finish(bytes);
    let latencies: Vec<Duration> = samples.iter().map(|s| s.finished - s.started).collect();
    let mut row = Row::new(
        limit.db,
        mode,
        concurrency,
        class,
        bytes,
        &latencies,
        busy,
        usage,
    );
    for sample in &samples {
        let entry = &entries[sample.index];
        match &sample.outcome {
            Ok(verdict) if *verdict == entry.expected => {}
            Ok(verdict) => row.note_error(format!("{}: {verdict}", entry.path)),
            Err(e) => row.note_error(format!("{}: {e}", entry.path)),
        }
    }
    row
}

/// The limit: each file streamed to clamd with INSTREAM over a new connection, as the scan
/// function does, by `concurrency` threads.
pub fn raw(limit: &Limit<'_>, class: &str, entries: &[Entry], concurrency: usize) -> Row {
    let probe = Probe::start(limit.processes);
    let samples = run_parallel(entries, concurrency, |entry| {
        instream(limit.clamd_addr, &limit.corpus.join(&entry.path))
    });
    row_from(
        limit,
        "clamd INSTREAM",
        concurrency,
        class,
        entries,
        probe,
        samples,
    )
}

fn instream(addr: &str, path: &Path) -> Outcome {
    let mut file =
        std::fs::File::open(path).map_err(|e| format!("opening {} failed: {e}", path.display()))?;
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect failed: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let io = |e: std::io::Error| format!("clamd exchange failed: {e}");
    stream.write_all(b"zINSTREAM\0").map_err(io)?;
    let mut buffer = vec![0u8; FRAME];
    loop {
        let read = file.read(&mut buffer).map_err(io)?;
        if read == 0 {
            break;
        }
        stream.write_all(&(read as u32).to_be_bytes()).map_err(io)?;
        stream.write_all(&buffer[..read]).map_err(io)?;
    }
    stream.write_all(&0u32.to_be_bytes()).map_err(io)?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).map_err(io)?;
    let text = String::from_utf8_lossy(&reply);
    let text = text.trim_end_matches(['\0', '\n']);
    if text == "stream: OK" {
        Ok("clean")
    } else if text.ends_with(" FOUND") {
        Ok("infected")
    } else {
        Err(format!("clamd replied {text:?}"))
    }
}

/// `clamdscan --stream`, one process per file, one file at a time.
pub fn clamdscan(limit: &Limit<'_>, class: &str, entries: &[Entry]) -> Row {
    let probe = Probe::start(limit.processes);
    let samples = run_parallel(entries, 1, |entry| {
        let mut command = Command::new("clamdscan");
        command
            .arg("--stream")
            .arg("--no-summary")
            .arg(format!("--config-file={}", limit.clamd_conf.display()))
            .arg(limit.corpus.join(&entry.path));
        exit_verdict(&mut command)
    });
    row_from(
        limit,
        "clamdscan --stream",
        1,
        class,
        entries,
        probe,
        samples,
    )
}

/// `clamscan` with the same database, one process per file as bucket scanners call it. Each
/// process loads the whole database before it scans.
pub fn clamscan(limit: &Limit<'_>, class: &str, entries: &[Entry]) -> Row {
    let probe = Probe::start(limit.processes);
    let samples = run_parallel(entries, 1, |entry| {
        let mut command = Command::new("clamscan");
        command
            .arg("--no-summary")
            .arg("--disable-cache")
            .arg(format!("--database={}", limit.db_dir.display()))
            .args(CLAMSCAN_LIMITS)
            .arg(limit.corpus.join(&entry.path));
        exit_verdict(&mut command)
    });
    row_from(
        limit,
        "clamscan per file",
        1,
        class,
        entries,
        probe,
        samples,
    )
}

/// clamscan options equal to the benchmark clamd's limits (see `bench/overhead.sh`).
pub const CLAMSCAN_LIMITS: &[&str] = &[
    "--max-filesize=400M",
    "--max-scansize=4000M",
    "--max-scantime=0",
    "--max-recursion=16",
    "--max-files=10000",
    "--alert-exceeds-max=yes",
    "--alert-encrypted=yes",
];

/// Maps the exit status of clamscan or clamdscan: 0 clean, 1 virus found, anything else an error.
fn exit_verdict(command: &mut Command) -> Outcome {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("starting {:?} failed: {e}", command.get_program()))?;
    match output.status.code() {
        Some(0) => Ok("clean"),
        Some(1) => Ok("infected"),
        _ => Err(format!(
            "{:?} exited with {}: {}",
            command.get_program(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )),
    }
}

/// Measures how long clamscan takes to load the database and scan an empty file.
pub fn clamscan_load_time(db_dir: &Path) -> Result<Duration, String> {
    let empty: PathBuf = std::env::temp_dir().join("filestore-bench-empty");
    std::fs::write(&empty, b"").map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut command = Command::new("clamscan");
    command
        .arg("--no-summary")
        .arg(format!("--database={}", db_dir.display()))
        .arg(&empty);
    exit_verdict(&mut command)?;
    Ok(started.elapsed())
}
