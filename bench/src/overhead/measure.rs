//! What one measured run records: per-object latencies, wall time, the CPU time of every process
//! involved (from `/proc/<pid>/stat`) and the peak RSS of the functions (`VmHWM`, reset before
//! the run through `/proc/<pid>/clear_refs`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Clock ticks per second of `/proc/<pid>/stat` times. Linux has used 100 on every mainstream
/// architecture for decades; `getconf CLK_TCK` confirms it on a given machine.
const CLOCK_TICKS: f64 = 100.0;

/// Processes whose CPU time and memory a run reads, by role (`clamd`, `minio`, `scan`, ...).
#[derive(Debug, Clone, Default)]
pub struct Processes {
    pids: BTreeMap<String, u32>,
}

/// Roles whose peak RSS is reported: the functions.
pub const FUNCTION_ROLES: &[&str] = &["scan", "scan_alone", "notify", "presign"];

impl Processes {
    /// Reads `role=pid,role=pid` from `BENCH_PIDS`.
    pub fn from_env() -> Result<Self, String> {
        let text = std::env::var("BENCH_PIDS").unwrap_or_default();
        let mut pids = BTreeMap::new();
        for pair in text.split(',').filter(|p| !p.trim().is_empty()) {
            let (role, pid) = pair
                .split_once('=')
                .ok_or_else(|| format!("BENCH_PIDS entry {pair:?} is not role=pid"))?;
            let pid = pid
                .trim()
                .parse()
                .map_err(|_| format!("BENCH_PIDS entry {pair:?} has an invalid PID"))?;
            pids.insert(role.trim().to_string(), pid);
        }
        Ok(Self { pids })
    }

    pub fn pid(&self, role: &str) -> Option<u32> {
        self.pids.get(role).copied()
    }

    fn cpu_snapshot(&self) -> BTreeMap<String, f64> {
        let mut snapshot: BTreeMap<String, f64> = self
            .pids
            .iter()
            .filter_map(|(role, pid)| cpu_seconds(&pid.to_string()).map(|s| (role.clone(), s)))
            .collect();
        if let Some(own) = cpu_seconds("self") {
            snapshot.insert("client".into(), own);
        }
        if let Some(children) = children_cpu_seconds() {
            snapshot.insert("client_children".into(), children);
        }
        snapshot
    }

    fn reset_peaks(&self) -> BTreeMap<String, f64> {
        let mut current = BTreeMap::new();
        for role in FUNCTION_ROLES {
            if let Some(pid) = self.pid(role) {
                if let Some(kib) = status_kib(pid, "VmRSS") {
                    current.insert(role.to_string(), kib as f64 / 1024.0);
                }
                // Writing 5 resets VmHWM to the current RSS (Linux 4.0 and later).
                let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
            }
        }
        current
    }

    fn peaks(&self) -> BTreeMap<String, f64> {
        FUNCTION_ROLES
            .iter()
            .filter_map(|role| {
                let pid = self.pid(role)?;
                let kib = status_kib(pid, "VmHWM")?;
                Some((role.to_string(), kib as f64 / 1024.0))
            })
            .collect()
    }
}

/// User plus system CPU seconds of all threads of a process.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in field 2 may contain spaces; the fields after it are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / CLOCK_TICKS)
}

/// CPU seconds of this process's children that it has waited for (clamscan, clamdscan).
fn children_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields.get(13)?.parse::<u64>().ok()? + fields.get(14)?.parse::<u64>().ok()?;
    Some(ticks as f64 / CLOCK_TICKS)
}

pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Busy CPU seconds of the whole machine (all but idle and I/O wait), from `/proc/stat`.
fn system_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((total - idle) as f64 / CLOCK_TICKS)
}

/// A run in progress: started before the first object, finished after the last.
pub struct Probe {
    rss_at_start: BTreeMap<String, f64>,
    processes: Processes,
    cpu_before: BTreeMap<String, f64>,
    system_before: Option<f64>,
    started: Instant,
}

impl Probe {
    pub fn start(processes: &Processes) -> Self {
        let rss_at_start = processes.reset_peaks();
        Self {
            rss_at_start,
            processes: processes.clone(),
            cpu_before: processes.cpu_snapshot(),
            system_before: system_busy_seconds(),
            started: Instant::now(),
        }
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// Ends the run. CPU time is given in milliseconds per MB (10^6 bytes) of `bytes`.
    pub fn finish(self, bytes: u64) -> Usage {
        let after = self.processes.cpu_snapshot();
        let megabytes = (bytes as f64 / 1e6).max(1e-9);
        let cpu_ms_per_mb = after
            .iter()
            .filter_map(|(role, seconds)| {
                let before = self.cpu_before.get(role)?;
                Some((role.clone(), (seconds - before) * 1000.0 / megabytes))
            })
            .collect();
        let cpu_seconds: BTreeMap<String, f64> = after
            .iter()
            .filter_map(|(role, seconds)| {
                let before = self.cpu_before.get(role)?;
                Some((role.clone(), seconds - before))
            })
            .collect();
        // CPU the machine spent on processes this benchmark did not start, as a share of all
        // cores over the row: a check that nothing else disturbed the figures.
        let ours: f64 = cpu_seconds.values().sum();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let wall = self.started.elapsed().as_secs_f64().max(1e-9);
        let other_cpu_share = system_busy_seconds()
            .zip(self.system_before)
            .map(|(after, before)| ((after - before - ours) / (wall * cores)).max(0.0))
            .unwrap_or(0.0);
        Usage {
            rss_at_start_mib: self.rss_at_start,
            other_cpu_share,
            cpu_seconds,
            cpu_ms_per_mb,
            peak_rss_mib: self.processes.peaks(),
        }
    }
}

pub struct Usage {
    pub rss_at_start_mib: BTreeMap<String, f64>,
    pub other_cpu_share: f64,
    pub cpu_seconds: BTreeMap<String, f64>,
    pub cpu_ms_per_mb: BTreeMap<String, f64>,
    pub peak_rss_mib: BTreeMap<String, f64>,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub mean: f64,
    pub max: f64,
}

impl Latency {
    /// Nearest-rank percentiles of `samples`.
    pub fn of(samples: &[Duration]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let index = ((p / 100.0) * ms.len() as f64).ceil() as usize;
            ms[index.clamp(1, ms.len()) - 1]
        };
        Self {
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
            mean: ms.iter().sum::<f64>() / ms.len() as f64,
            max: ms[ms.len() - 1],
        }
    }
}

/// One row of the results: one mode, database, concurrency and size class.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Row {
    pub kind: String,
    pub db: String,
    pub mode: String,
    pub concurrency: usize,
    pub class: String,
    pub objects: usize,
    pub bytes: u64,
    /// Seconds the throughput is computed over (see the mode's description in the report).
    pub busy_secs: f64,
    pub objects_per_sec: f64,
    pub mb_per_sec: f64,
    pub latency_ms: Latency,
    pub cpu_ms_per_mb: BTreeMap<String, f64>,
    pub peak_rss_mib: BTreeMap<String, f64>,
    /// RSS of the functions when the row started: what the process kept from earlier rows.
    #[serde(default)]
    pub rss_at_start_mib: BTreeMap<String, f64>,
    /// Share of the machine's CPU that processes outside the benchmark used during the row.
    #[serde(default)]
    pub other_cpu_share: f64,
    /// MinIO requests per object by S3 API, from MinIO's metrics (product rows only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub s3_requests_per_object: BTreeMap<String, f64>,
    /// Objects whose verdict differed from the expected one, or that failed.
    pub mismatches: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl Row {
    /// Builds a row whose throughput is `objects` over `busy`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: &str,
        mode: &str,
        concurrency: usize,
        class: &str,
        bytes: u64,
        latencies: &[Duration],
        busy: Duration,
        usage: Usage,
    ) -> Self {
        let busy_secs = busy.as_secs_f64();
        let rate = |amount: f64| {
            if busy_secs > 0.0 {
                amount / busy_secs
            } else {
                0.0
            }
        };
        Self {
            kind: "throughput".into(),
            db: db.into(),
            mode: mode.into(),
            concurrency,
            class: class.into(),
            objects: latencies.len(),
            bytes,
            busy_secs,
            objects_per_sec: rate(latencies.len() as f64),
            mb_per_sec: rate(bytes as f64 / 1e6),
            latency_ms: Latency::of(latencies),
            cpu_ms_per_mb: usage.cpu_ms_per_mb,
            peak_rss_mib: usage.peak_rss_mib,
            rss_at_start_mib: usage.rss_at_start_mib,
            other_cpu_share: usage.other_cpu_share,
            s3_requests_per_object: BTreeMap::new(),
            mismatches: 0,
            errors: Vec::new(),
        }
    }

    pub fn note_error(&mut self, error: String) {
        self.mismatches += 1;
        if self.errors.len() < 5 {
            self.errors.push(error);
        }
    }
}

/// Total length of the union of `[start, end]` intervals: the time during which at least one
/// object was being processed.
pub fn busy_time(mut intervals: Vec<(Instant, Instant)>) -> Duration {
    intervals.sort_by_key(|(start, _)| *start);
    let mut total = Duration::ZERO;
    let mut current: Option<(Instant, Instant)> = None;
    for (start, end) in intervals {
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += e - s;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((s, e)) = current {
        total += e - s;
    }
    total
}

/// Appends one JSON line to the results file named by `BENCH_RESULTS`.
pub fn append_result(value: &impl Serialize) -> Result<(), String> {
    use std::io::Write;
    let path =
        std::env::var("BENCH_RESULTS").map_err(|_| "BENCH_RESULTS is not set".to_string())?;
    let line = serde_json::to_string(value).map_err(|e| e.to_string())?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("opening {path} failed: {e}"))?;
    writeln!(file, "{line}").map_err(|e| format!("writing {path} failed: {e}"))
}
