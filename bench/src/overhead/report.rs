//! Turns the JSON lines of a run into `bench/results/overhead.md` and `overhead.json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::functions::{ColdStart, LoadResult};
use crate::measure::Row;

/// One signature database as the run loaded it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Database {
    pub kind: String,
    pub db: String,
    pub signatures: u64,
    pub clamd_load_secs: f64,
    pub clamd_rss_mib: f64,
    pub clamscan_load_secs: f64,
    pub description: String,
}

/// Facts about the run itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunInfo {
    pub kind: String,
    pub date: String,
    pub cores: usize,
    pub cpu: String,
    pub memory_gib: f64,
    pub clamav: String,
    pub quick: bool,
    pub corpus: String,
    /// Where the corpus, MinIO's data and clamd's temporary files were.
    #[serde(default)]
    pub storage: String,
    /// `git describe --always --dirty` of the measured tree.
    #[serde(default)]
    pub commit: String,
    pub total_secs: f64,
}

#[derive(Default, Serialize)]
pub struct Results {
    pub run: Option<RunInfo>,
    pub databases: Vec<Database>,
    pub rows: Vec<Row>,
    pub cold_starts: Vec<ColdStart>,
    pub presign: Vec<LoadResult>,
}

impl Results {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut results = Self::default();
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let value: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| format!("results line {} is invalid: {e}", number + 1))?;
            let kind = value["kind"].as_str().unwrap_or_default().to_string();
            let invalid = |e: serde_json::Error| format!("results line {}: {e}", number + 1);
            match kind.as_str() {
                "run" => results.run = Some(serde_json::from_value(value).map_err(invalid)?),
                "database" => results
                    .databases
                    .push(serde_json::from_value(value).map_err(invalid)?),
                "throughput" => results
                    .rows
                    .push(serde_json::from_value(value).map_err(invalid)?),
                "cold_start" => results
                    .cold_starts
                    .push(serde_json::from_value(value).map_err(invalid)?),
                "presign_load" => results
                    .presign
                    .push(serde_json::from_value(value).map_err(invalid)?),
                other => {
                    return Err(format!(
                        "results line {}: unknown kind {other:?}",
                        number + 1
                    ));
                }
            }
        }
        Ok(results)
    }

    fn row(&self, db: &str, mode: &str, concurrency: usize, class: &str) -> Option<&Row> {
        self.rows.iter().find(|r| {
            r.db == db && r.mode == mode && r.concurrency == concurrency && r.class == class
        })
    }

    fn dbs(&self) -> Vec<String> {
        let mut dbs: Vec<String> = Vec::new();
        for row in &self.rows {
            if !dbs.contains(&row.db) {
                dbs.push(row.db.clone());
            }
        }
        dbs
    }
}

pub const RAW: &str = "clamd INSTREAM";
pub const SCAN: &str = "scan function";
pub const E2E: &str = "end to end";
pub const E2E_QUEUED: &str = "end to end, MinIO queue_dir";

/// Processes whose CPU counts as Filestore's own.
const OURS: &[&str] = &["scan", "scan_alone", "notify", "presign"];

fn ratio(product: Option<f64>, limit: Option<f64>) -> Option<f64> {
    match (product, limit) {
        (Some(p), Some(l)) if l > 0.0 => Some(p / l),
        _ => None,
    }
}

fn fmt(value: Option<f64>, digits: usize) -> String {
    value.map_or("–".to_string(), |v| format!("{v:.digits$}"))
}

fn cpu(row: &Row, roles: &[&str]) -> f64 {
    roles
        .iter()
        .filter_map(|role| row.cpu_ms_per_mb.get(*role))
        .sum()
}

fn mark(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

/// Writes the markdown report.
pub fn markdown(results: &Results) -> String {
    let mut out = String::new();
    let run = results.run.clone().unwrap_or_default();
    let _ = writeln!(out, "# What Filestore adds to clamd\n");
    let _ = writeln!(
        out,
        "Run on {} at commit {} with `make bench` (`bench/overhead.sh`{}) on {} cores ({}, \
         {:.0} GiB RAM), ClamAV {}. The run took {:.0} minutes. Every service ran on this \
         machine, on 127.0.0.1.\n",
        run.date,
        run.commit,
        if run.quick { ", BENCH_QUICK=1" } else { "" },
        run.cores,
        run.cpu,
        run.memory_gib,
        run.clamav,
        run.total_secs / 60.0
    );
    let _ = writeln!(out, "Corpus: {}\n", run.corpus);
    let _ = writeln!(
        out,
        "The corpus, MinIO's data and clamd's temporary files were on {}.\n",
        run.storage
    );
    let _ = writeln!(
        out,
        "clamd runs with `DisableCache yes` and clamscan with `--disable-cache`, because every \
         pass sends the same bytes again and clamd's cache would answer from memory. \
         Absolute times vary between machines; the ratios are the figures to compare.\n"
    );

    headline(results, &mut out);
    targets(results, &mut out);
    databases(results, &mut out);
    for db in results.dbs() {
        detail(results, &db, &mut out);
    }
    cold_starts(results, &mut out);
    presign(results, &mut out);
    method(&mut out);
    out
}

fn headline(results: &Results, out: &mut String) {
    let _ = writeln!(out, "## Product / limit\n");
    let _ = writeln!(
        out,
        "Throughput of the scan function, and of the whole flow, over raw clamd INSTREAM on the \
         same bytes at the same concurrency. 1.00 means Filestore costs nothing over clamd.\n"
    );
    let _ = writeln!(
        out,
        "| database | class | concurrency | raw clamd MB/s | scan function MB/s | scan / raw | end to end MB/s | end to end / raw |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|");
    for db in results.dbs() {
        for class in ["small", "medium", "large"] {
            for concurrency in [1, 2, 4] {
                let raw = results
                    .row(&db, RAW, concurrency, class)
                    .map(|r| r.mb_per_sec);
                let scan = results
                    .row(&db, SCAN, concurrency, class)
                    .map(|r| r.mb_per_sec);
                let e2e = results
                    .row(&db, E2E, concurrency, class)
                    .map(|r| r.mb_per_sec);
                if raw.is_none() {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "| {db} | {class} | {concurrency} | {} | {} | {} | {} | {} |",
                    fmt(raw, 1),
                    fmt(scan, 1),
                    fmt(ratio(scan, raw), 2),
                    fmt(e2e, 1),
                    fmt(ratio(e2e, raw), 2)
                );
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Latency added to small files (4-256 KiB), p50 in milliseconds, one object at a time:\n"
    );
    let _ = writeln!(
        out,
        "| database | raw clamd | scan function | added by scan | end to end | added end to end | clamdscan --stream | clamscan per file |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for db in results.dbs() {
        let p50 = |mode: &str| results.row(&db, mode, 1, "small").map(|r| r.latency_ms.p50);
        let raw = p50(RAW);
        let scan = p50(SCAN);
        let e2e = p50(E2E);
        let added = |p: Option<f64>| p.zip(raw).map(|(p, r)| p - r);
        let _ = writeln!(
            out,
            "| {db} | {} | {} | {} | {} | {} | {} | {} |",
            fmt(raw, 1),
            fmt(scan, 1),
            fmt(added(scan), 1),
            fmt(e2e, 1),
            fmt(added(e2e), 1),
            fmt(p50("clamdscan --stream"), 1),
            fmt(p50("clamscan per file"), 1)
        );
    }
    let _ = writeln!(out);
}

fn targets(results: &Results, out: &mut String) {
    let _ = writeln!(out, "## Targets\n");
    let _ = writeln!(out, "| target | measured | result |");
    let _ = writeln!(out, "|---|---|---|");
    for db in results.dbs() {
        let mut worst: Option<(f64, String)> = None;
        for class in ["medium", "large"] {
            for concurrency in [1, 2, 4] {
                let raw = results
                    .row(&db, RAW, concurrency, class)
                    .map(|r| r.mb_per_sec);
                let scan = results
                    .row(&db, SCAN, concurrency, class)
                    .map(|r| r.mb_per_sec);
                if let Some(value) = ratio(scan, raw)
                    && worst.as_ref().is_none_or(|(w, _)| value < *w)
                {
                    worst = Some((value, format!("{class}, concurrency {concurrency}")));
                }
            }
        }
        let _ = writeln!(
            out,
            "| scan throughput >= 0.9 of raw clamd, files of 1 MiB and more ({db} database) | lowest {} ({}) | {} |",
            fmt(worst.as_ref().map(|w| w.0), 2),
            worst.as_ref().map_or("", |w| w.1.as_str()),
            mark(worst.as_ref().map(|w| w.0 >= 0.9))
        );
        let p50 = |mode: &str| results.row(&db, mode, 1, "small").map(|r| r.latency_ms.p50);
        let added = p50(SCAN).zip(p50(RAW)).map(|(s, r)| s - r);
        let _ = writeln!(
            out,
            "| added latency <= 10 ms p50, small files ({db} database) | scan function {} ms | {} |",
            fmt(added, 1),
            mark(added.map(|a| a <= 10.0))
        );
    }
    let peak = results
        .rows
        .iter()
        .filter(|r| r.mode == SCAN || r.mode.starts_with(E2E))
        .flat_map(|r| ["scan", "scan_alone"].map(|role| r.peak_rss_mib.get(role).copied()))
        .flatten()
        .fold(None, |max: Option<f64>, v| {
            Some(max.map_or(v, |m| m.max(v)))
        });
    let _ = writeln!(
        out,
        "| peak RSS of scan < 64 MiB, any object size | {} MiB | {} |",
        fmt(peak, 1),
        mark(peak.map(|p| p < 64.0))
    );
    let mut by_function: BTreeMap<&str, f64> = BTreeMap::new();
    for cold in &results.cold_starts {
        let entry = by_function.entry(&cold.function).or_insert(0.0);
        *entry = entry.max(cold.first_event_ms.p50);
    }
    for (function, p50) in by_function {
        let _ = writeln!(
            out,
            "| cold start < 50 ms: {function} | {p50:.1} ms (median, start to first answer) | {} |",
            mark(Some(p50 < 50.0))
        );
    }
    if let Some(load) = results.presign.iter().find(|l| l.route.starts_with("POST")) {
        let _ = writeln!(
            out,
            "| presign >= 5,000 requests/s on two cores | {:.0} requests/s, POST /uploads | {} |",
            load.requests_per_sec,
            mark(Some(load.requests_per_sec >= 5000.0))
        );
    }
    let _ = writeln!(out);
}

fn databases(results: &Results, out: &mut String) {
    let _ = writeln!(out, "## Signature databases\n");
    let _ = writeln!(
        out,
        "| database | signatures | clamd start to first PONG (s) | clamd RSS (MiB) | clamscan load + empty scan (s) | contents |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---|");
    for db in &results.databases {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.0} | {:.2} | {} |",
            db.db,
            db.signatures,
            db.clamd_load_secs,
            db.clamd_rss_mib,
            db.clamscan_load_secs,
            db.description
        );
    }
    let _ = writeln!(out);
}

fn detail(results: &Results, db: &str, out: &mut String) {
    let _ = writeln!(out, "## All throughput figures, {db} database\n");
    let _ = writeln!(
        out,
        "CPU time is per MB scanned, by process: clamd (or the clamscan/clamdscan processes), \
         Filestore's functions, MinIO, and the rest (OpenBao and the benchmark client). Peak RSS \
         is VmHWM during the row.\n"
    );
    let _ = writeln!(
        out,
        "| mode | conc. | class | objects | objects/s | MB/s | p50 ms | p95 ms | p99 ms | CPU ms/MB clamd | CPU ms/MB Filestore | CPU ms/MB MinIO | CPU ms/MB other | peak RSS scan MiB (at start) | peak RSS notify MiB | CPU of other processes | wrong |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for row in results.rows.iter().filter(|r| r.db == db) {
        let scanner = cpu(row, &["clamd", "client_children"]);
        let ours = cpu(row, OURS);
        let minio = cpu(row, &["minio"]);
        let other = cpu(row, &["bao", "client"]);
        let scan_role = if row.mode == SCAN {
            "scan_alone"
        } else {
            "scan"
        };
        let product_row = row.mode.starts_with("scan") || row.mode.starts_with("end");
        let scan_rss = match (
            row.peak_rss_mib.get(scan_role),
            row.rss_at_start_mib.get(scan_role),
        ) {
            (Some(peak), Some(start)) if product_row => format!("{peak:.1} ({start:.1})"),
            _ => "–".to_string(),
        };
        let notify_rss = row
            .peak_rss_mib
            .get("notify")
            .filter(|_| row.mode.starts_with("end"));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {} | {:.0}% | {} |",
            row.mode,
            row.concurrency,
            row.class,
            row.objects,
            row.objects_per_sec,
            row.mb_per_sec,
            row.latency_ms.p50,
            row.latency_ms.p95,
            row.latency_ms.p99,
            scanner,
            ours,
            minio,
            other,
            scan_rss,
            fmt(notify_rss.copied(), 1),
            row.other_cpu_share * 100.0,
            row.mismatches
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "MinIO requests per object, by S3 API, from MinIO's request counters (the client's own \
         form upload left out):\n"
    );
    let _ = writeln!(out, "| mode | conc. | class | requests per object |");
    let _ = writeln!(out, "|---|---:|---|---|");
    for row in results
        .rows
        .iter()
        .filter(|r| r.db == db && !r.s3_requests_per_object.is_empty())
    {
        let total: f64 = row.s3_requests_per_object.values().sum();
        let apis: Vec<String> = row
            .s3_requests_per_object
            .iter()
            .map(|(api, count)| format!("{api} {count:.2}"))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {total:.1}: {} |",
            row.mode,
            row.concurrency,
            row.class,
            apis.join(", ")
        );
    }
    let _ = writeln!(out);
    let errors: Vec<String> = results
        .rows
        .iter()
        .filter(|r| r.db == db)
        .flat_map(|r| {
            r.errors
                .iter()
                .map(move |e| format!("{} c={} {}: {e}", r.mode, r.concurrency, r.class))
        })
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "Wrong or failed objects (first five per row):\n");
        for error in errors {
            let _ = writeln!(out, "- {error}");
        }
        let _ = writeln!(out);
    }
}

fn cold_starts(results: &Results, out: &mut String) {
    let _ = writeln!(out, "## Cold start\n");
    let _ = writeln!(
        out,
        "Each function's release binary started in plain HTTP mode, then sent its first event as \
         soon as the port accepted connections. Median (max) over the starts.\n"
    );
    let _ = writeln!(
        out,
        "| database | function | first event | starts | start to listening ms | start to first answer ms | same event when warm ms | first minus warm ms | RSS after first event MiB |"
    );
    let _ = writeln!(out, "|---|---|---|---:|---:|---:|---:|---:|---:|");
    for cold in &results.cold_starts {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} ({:.1}) | {:.1} ({:.1}) | {:.1} ({:.1}) | {:.1} | {:.1} |",
            cold.db,
            cold.function,
            cold.event,
            cold.starts,
            cold.listening_ms.p50,
            cold.listening_ms.max,
            cold.first_event_ms.p50,
            cold.first_event_ms.max,
            cold.warm_event_ms.p50,
            cold.warm_event_ms.max,
            cold.first_event_ms.p50 - cold.warm_event_ms.p50,
            cold.rss_after_first_event_mib
        );
        for error in &cold.errors {
            let _ = writeln!(out, "\n{} failed once: {error}\n", cold.function);
        }
    }
    let _ = writeln!(out);
}

fn presign(results: &Results, out: &mut String) {
    if results.presign.is_empty() {
        return;
    }
    let _ = writeln!(out, "## presign request rate\n");
    let _ = writeln!(
        out,
        "Keep-alive HTTP/1.1 connections from a minimal client in the benchmark process, on the \
         same two cores as presign and MinIO. CPU is microseconds per request.\n"
    );
    let _ = writeln!(
        out,
        "| route | connections | seconds | requests/s | p50 ms | p99 ms | failures | CPU presign | CPU MinIO | CPU client |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for load in &results.presign {
        let us = |role: &str| fmt(load.cpu_us_per_request.get(role).copied(), 0);
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {} |",
            load.route,
            load.connections,
            load.seconds,
            load.requests_per_sec,
            load.latency_ms.p50,
            load.latency_ms.p99,
            load.failures,
            us("presign"),
            us("minio"),
            us("client")
        );
    }
    let _ = writeln!(out);
}

fn method(out: &mut String) {
    let _ = writeln!(out, "## What each figure is\n");
    let lines = [
        "**clamd INSTREAM** (the limit): a plain client reads each corpus file from the page cache in 256 KiB frames and streams it to clamd over a new TCP connection, as the scan function does. Concurrency is the number of client threads. Latency is connect to reply; throughput is objects (or bytes) over the wall time of the class.",
        "**clamdscan --stream**: one `clamdscan` process per file, one at a time, against the same clamd.",
        "**clamscan per file**: one `clamscan` process per file with the same signature folder and limits, one at a time. Each process loads the whole database first. With the large database only an evenly spaced sample of each class is scanned, to bound the run time; the objects column gives the sample size.",
        "**scan function**: the release binary in plain HTTP mode. Each object is first uploaded to a MinIO bucket without notifications (not timed). Then clients send MinIO's webhook request for it to `POST /webhook` and wait for the answer, which comes after the content check and clamd verdict, the encrypted copy into the store bucket (data key from OpenBao), the verdict ledger, the delete of the incoming object and the hand-off to a stand-in for notify that answers at once.",
        "**end to end**: clients ask presign for an upload (`POST /uploads`), post the form to MinIO, and wait for notify's signed webhook at the benchmark's receiver, which checks the signature. MinIO sends the bucket event to the scan function at once (no queue_dir, so it delivers with GOMAXPROCS = 2 workers), scan calls the real notify, notify writes the status record and delivers the webhook. Latency runs from the end of the upload to the webhook's arrival. Throughput is over the time at least one object was in that interval, because the uploads in between are not part of it.",
        "**end to end, MinIO queue_dir**: the local stack's configuration, where MinIO stores each event in its queue folder and a single sender replays the folder every 3 s (`retryInterval` in MinIO's `internal/store/store.go` at the commit `scripts/install.sh` pins). A sample of small files, one at a time; the wait for MinIO's poll dominates.",
        "**CPU ms/MB**: user plus system time from `/proc/<pid>/stat` over the row, divided by the MB (10^6 bytes) of the row's objects.",
        "**Peak RSS**: VmHWM of the function process, reset through `/proc/<pid>/clear_refs` before each row.",
    ];
    for line in lines {
        let _ = writeln!(out, "- {line}");
    }
}
