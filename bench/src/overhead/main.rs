//! Measures what Filestore adds to clamd: raw clamd INSTREAM (the limit), clamdscan and clamscan,
//! the scan function alone and the whole flow from upload to signed webhook, on one seeded corpus
//! and two signature databases; then cold starts and presign's request rate.
//!
//! `bench/overhead.sh` starts the services and runs the subcommands in order:
//!
//! - `corpus`: writes the corpus into `BENCH_CORPUS` (reused when already there);
//! - `signatures DIR`: writes the large signature database;
//! - `measure`: every throughput row and the cold starts for the database clamd has loaded
//!   (`BENCH_DB`), as JSON lines appended to `BENCH_RESULTS`;
//! - `e2e-queued`: the end-to-end sample through MinIO's queue folder;
//! - `presign-load`: presign's request rate;
//! - `run-info`, then `report MARKDOWN JSON`: the machine's facts and the report.
//!
//! The settings come from the environment the script exports; see `bench/overhead.sh`.

mod corpus;
mod functions;
mod limit;
mod measure;
mod product;
mod report;
mod rng;
mod signatures;

use std::path::PathBuf;
use std::time::Duration;

use crate::corpus::{CorpusSpec, Entry, Manifest};
use crate::measure::{Processes, Row, append_result};
use crate::product::{Product, Receiver};
use crate::report::{Database, E2E, E2E_QUEUED, Results, RunInfo};

/// Seed of the corpus and the large database unless `BENCH_SEED` sets another.
const DEFAULT_SEED: u64 = 20_261_204;

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set; run bench/overhead.sh"))
}

fn var_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn quick() -> bool {
    var_or("BENCH_QUICK", "") == "1"
}

fn seed() -> Result<u64, String> {
    var_or("BENCH_SEED", &DEFAULT_SEED.to_string())
        .parse()
        .map_err(|_| "BENCH_SEED must be a whole number".to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let command = args.get(1).map(String::as_str).unwrap_or_default();
    let result = match command {
        "corpus" => corpus_command(),
        "signatures" => signatures_command(args.get(2)),
        "measure" => run_async(measure()),
        "e2e-queued" => run_async(e2e_queued()),
        "presign-load" => run_async(presign_load()),
        "run-info" => run_info(),
        "report" => report_command(args.get(2), args.get(3)),
        _ => Err(
            "usage: overhead corpus | signatures DIR | measure | e2e-queued | presign-load | \
             run-info | report MARKDOWN JSON"
                .to_string(),
        ),
    };
    if let Err(message) = result {
        eprintln!("overhead {command}: {message}");
        std::process::exit(1);
    }
}

fn run_async(future: impl std::future::Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the async runtime failed: {e}"))?
        .block_on(future)
}

fn corpus_command() -> Result<(), String> {
    let dir = PathBuf::from(var("BENCH_CORPUS")?);
    let manifest = corpus::ensure(&dir, &CorpusSpec::new(seed()?, quick()))?;
    let rejected = corpus::check(&dir, &manifest)?;
    if !rejected.is_empty() {
        return Err(format!(
            "{} corpus files fail the content check: {rejected:?}",
            rejected.len()
        ));
    }
    let bytes: u64 = manifest.entries.iter().map(|e| e.size).sum();
    println!(
        "{} files, {:.0} MB, in {}",
        manifest.entries.len(),
        bytes as f64 / 1e6,
        dir.display()
    );
    Ok(())
}

fn signatures_command(dir: Option<&String>) -> Result<(), String> {
    let dir = PathBuf::from(dir.ok_or("usage: overhead signatures DIR")?);
    let count = signatures::write_database(&dir, seed()?)?;
    println!("{count}");
    Ok(())
}

fn print_row(row: &Row) {
    eprintln!(
        "[{}] {} c={} {}: {} objects, {:.1} obj/s, {:.1} MB/s, p50 {:.1} ms, p99 {:.1} ms{}",
        row.db,
        row.mode,
        row.concurrency,
        row.class,
        row.objects,
        row.objects_per_sec,
        row.mb_per_sec,
        row.latency_ms.p50,
        row.latency_ms.p99,
        if row.mismatches > 0 {
            format!(", {} wrong: {:?}", row.mismatches, row.errors)
        } else {
            String::new()
        }
    );
}

fn record(row: &Row) -> Result<(), String> {
    print_row(row);
    append_result(row)
}

/// Returns an evenly spaced sample of at most `count` entries.
fn sample(entries: &[Entry], count: usize) -> Vec<Entry> {
    let count = count.clamp(1, entries.len().max(1));
    (0..count)
        .filter_map(|i| entries.get(i * entries.len() / count).cloned())
        .collect()
}

async fn product(db: &str, processes: Processes) -> Result<Product, String> {
    let receiver_addr = var("BENCH_RECEIVER_ADDR")?
        .parse()
        .map_err(|e| format!("BENCH_RECEIVER_ADDR is invalid: {e}"))?;
    let receiver =
        Receiver::start(receiver_addr, var("NOTIFY_WEBHOOK_SECRET")?.into_bytes()).await?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(16)
        .build()
        .map_err(|e| e.to_string())?;
    let s3 = filestore::store::Store::from_env(true)
        .await
        .client()
        .clone();
    let direct_bucket = var("BENCH_DIRECT_BUCKET")?;
    product::ensure_direct_bucket(&s3, &direct_bucket).await?;
    Ok(Product {
        db: db.to_string(),
        corpus: PathBuf::from(var("BENCH_CORPUS")?),
        processes,
        s3,
        http,
        receiver,
        direct_bucket,
        store_bucket: var("STORE_BUCKET")?,
        scan_alone_url: var("BENCH_SCAN_ALONE_URL")?,
        presign_url: var("BENCH_PRESIGN_URL")?,
        minio_url: var("AWS_ENDPOINT_URL_S3")?,
        scan_token: var("SCAN_WEBHOOK_TOKEN")?,
        jwt: mint_token(var("PRESIGN_JWT_HS256_SECRET")?.as_bytes())?,
    })
}

/// Signs an HS256 token for the benchmark user, valid for 12 hours.
fn mint_token(secret: &[u8]) -> Result<String, String> {
    let exp = filestore::webhook::unix_now() + 12 * 3600;
    let claims = serde_json::json!({ "sub": "bench", "exp": exp });
    let key = jsonwebtoken::EncodingKey::from_secret(secret).map_err(|e| e.to_string())?;
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).map_err(|e| e.to_string())
}

async fn measure() -> Result<(), String> {
    let db = var("BENCH_DB")?;
    let corpus_dir = PathBuf::from(var("BENCH_CORPUS")?);
    let manifest = Manifest::load(&corpus_dir)?;
    let processes = Processes::from_env()?;
    let modes = var_or("BENCH_MODES", "raw,clamdscan,clamscan,scan,e2e,cold");
    let modes: Vec<&str> = modes.split(',').map(str::trim).collect();
    let db_dir = PathBuf::from(var("BENCH_DB_DIR")?);
    let clamd_conf = PathBuf::from(var("BENCH_CLAMD_CONF")?);
    let clamd_addr = var("BENCH_CLAMD_ADDR")?;

    let clamscan_load = limit::clamscan_load_time(&db_dir)?;
    let database = Database {
        kind: "database".into(),
        db: db.clone(),
        signatures: var_or("BENCH_SIGNATURES", "0").parse().unwrap_or(0),
        clamd_load_secs: var_or("BENCH_CLAMD_LOAD_SECS", "0").parse().unwrap_or(0.0),
        clamd_rss_mib: processes
            .pid("clamd")
            .and_then(|pid| measure::status_kib(pid, "VmRSS"))
            .unwrap_or(0) as f64
            / 1024.0,
        clamscan_load_secs: clamscan_load.as_secs_f64(),
        description: var_or("BENCH_DB_DESCRIPTION", ""),
    };
    append_result(&database)?;
    eprintln!(
        "[{db}] {} signatures; clamd loaded them in {:.1} s; clamscan loads and scans an empty file in {:.2} s",
        database.signatures, database.clamd_load_secs, database.clamscan_load_secs
    );

    let product = product(&db, processes.clone()).await?;
    let limit = limit::Limit {
        db: &db,
        corpus: &corpus_dir,
        processes: &processes,
        clamd_addr: &clamd_addr,
        clamd_conf: &clamd_conf,
        db_dir: &db_dir,
    };
    // clamscan's sample per class: as many files as fit the time budget at the measured load
    // time.
    let budget: f64 = var_or(
        "BENCH_CLAMSCAN_BUDGET_SECS",
        if quick() { "15" } else { "60" },
    )
    .parse()
    .unwrap_or(60.0);
    let clamscan_files = (budget / clamscan_load.as_secs_f64().max(0.01)) as usize;

    // With the large database clamd reads about 4 MB/s of the large PDF and zip files on two
    // cores, so every mode gets the same sample of the large class to keep the run near 40
    // minutes.
    let large_sample: usize = var_or(
        "BENCH_LARGE_DB_LARGE_FILES",
        if quick() { "1" } else { "2" },
    )
    .parse()
    .unwrap_or(2);
    for class in manifest.class_names() {
        let mut entries = manifest.class(&class);
        if db == "large" && class == "large" {
            entries = sample(&entries, large_sample);
        }
        if modes.contains(&"raw") {
            for concurrency in [1, 2, 4] {
                let row = tokio::task::block_in_place(|| {
                    limit::raw(&limit, &class, &entries, concurrency)
                });
                record(&row)?;
            }
        }
        if modes.contains(&"clamdscan") {
            let row = tokio::task::block_in_place(|| limit::clamdscan(&limit, &class, &entries));
            record(&row)?;
        }
        if modes.contains(&"clamscan") {
            let chosen = sample(&entries, clamscan_files.max(2));
            let row = tokio::task::block_in_place(|| limit::clamscan(&limit, &class, &chosen));
            record(&row)?;
        }
        if modes.contains(&"scan") {
            for concurrency in [1, 2, 4] {
                record(&product.scan_alone(&class, &entries, concurrency).await)?;
            }
        }
        // MinIO sends bucket events with at most GOMAXPROCS (here 2) workers, so concurrency 4
        // also covers what 2 shows.
        if modes.contains(&"e2e") {
            for concurrency in [1, 4] {
                record(&product.end_to_end(E2E, &class, &entries, concurrency).await)?;
            }
        }
    }

    if modes.contains(&"cold") {
        let log_dir = PathBuf::from(var("BENCH_LOG_DIR")?);
        let bin_dir = PathBuf::from(var("BENCH_BIN_DIR")?);
        let notify_stub = format!("http://{}/verdicts", var("BENCH_RECEIVER_ADDR")?);
        let notify_token = var("NOTIFY_TOKEN")?;
        let setup = functions::ColdStartSetup {
            bin_dir: &bin_dir,
            port: var("BENCH_COLD_PORT")?
                .parse()
                .map_err(|_| "BENCH_COLD_PORT is not a port".to_string())?,
            log_dir: &log_dir,
            scan_notify_url: &notify_stub,
            notify_token: &notify_token,
            starts: if quick() { 3 } else { 10 },
        };
        for cold in functions::cold_starts(&product, &setup).await {
            eprintln!(
                "[{db}] cold start {}: listening {:.1} ms, first answer {:.1} ms (max {:.1}), warm {:.1} ms{}",
                cold.function,
                cold.listening_ms.p50,
                cold.first_event_ms.p50,
                cold.first_event_ms.max,
                cold.warm_event_ms.p50,
                if cold.errors.is_empty() {
                    String::new()
                } else {
                    format!(", errors: {:?}", cold.errors)
                }
            );
            append_result(&cold)?;
        }
    }
    if product.receiver.unsigned() > 0 {
        eprintln!(
            "[{db}] warning: {} webhook deliveries had an invalid signature",
            product.receiver.unsigned()
        );
    }
    Ok(())
}

async fn e2e_queued() -> Result<(), String> {
    let db = var("BENCH_DB")?;
    let manifest = Manifest::load(&PathBuf::from(var("BENCH_CORPUS")?))?;
    let product = product(&db, Processes::from_env()?).await?;
    let count: usize = var_or("BENCH_QUEUED_SAMPLE", if quick() { "8" } else { "30" })
        .parse()
        .unwrap_or(30);
    let entries = sample(&manifest.class("small"), count);
    record(&product.end_to_end(E2E_QUEUED, "small", &entries, 1).await)
}

async fn presign_load() -> Result<(), String> {
    let processes = Processes::from_env()?;
    let url = var("BENCH_PRESIGN_URL")?;
    let host = url.trim_start_matches("http://").to_string();
    let jwt = mint_token(var("PRESIGN_JWT_HS256_SECRET")?.as_bytes())?;
    let seconds: u64 = var_or("BENCH_PRESIGN_SECS", if quick() { "3" } else { "10" })
        .parse()
        .unwrap_or(10);
    let connections: usize = var_or("BENCH_PRESIGN_CONNECTIONS", "16")
        .parse()
        .unwrap_or(16);
    let body = r#"{"filename":"load-test.txt","content_type":"text/plain","size":1024}"#;

    // An upload whose status the GET route reads.
    let ticket: serde_json::Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?
        .post(format!("{url}/uploads"))
        .bearer_auth(&jwt)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("presign request failed: {e}"))?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let id = ticket["id"]
        .as_str()
        .ok_or_else(|| format!("presign gave no upload id: {ticket}"))?;

    let routes = [
        (
            "GET /healthz",
            functions::http_request("GET", &host, "/healthz", None, None),
        ),
        (
            "GET /uploads/{id}",
            functions::http_request("GET", &host, &format!("/uploads/{id}"), Some(&jwt), None),
        ),
        (
            "POST /uploads",
            functions::http_request("POST", &host, "/uploads", Some(&jwt), Some(body)),
        ),
    ];
    for (route, request) in routes {
        let result = functions::load(
            &processes,
            &host,
            route,
            request,
            connections,
            Duration::from_secs(seconds),
        )
        .await;
        eprintln!(
            "presign {route}: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, {} failures, CPU µs/request {:?}",
            result.requests_per_sec,
            result.latency_ms.p50,
            result.latency_ms.p99,
            result.failures,
            result.cpu_us_per_request
        );
        append_result(&result)?;
    }
    Ok(())
}

fn run_info() -> Result<(), String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: f64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    let clamav = std::process::Command::new("clamd")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let clamav = clamav
        .trim_start_matches("ClamAV ")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let started: u64 = var_or("BENCH_STARTED", "0").parse().unwrap_or(0);
    let info = RunInfo {
        kind: "run".into(),
        date: filestore::verdict::now_rfc3339()[..10].to_string(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu,
        memory_gib: memory_kib / 1024.0 / 1024.0,
        clamav,
        quick: quick(),
        corpus: corpus_summary()?,
        storage: var_or("BENCH_STORAGE", "disk"),
        commit: var_or("BENCH_COMMIT", "unknown"),
        total_secs: filestore::webhook::unix_now().saturating_sub(started) as f64,
    };
    append_result(&info)
}

fn corpus_summary() -> Result<String, String> {
    let manifest = Manifest::load(&PathBuf::from(var("BENCH_CORPUS")?))?;
    let classes: Vec<String> = manifest
        .spec
        .classes
        .iter()
        .map(|class| {
            let entries = manifest.class(&class.name);
            let bytes: u64 = entries.iter().map(|e| e.size).sum();
            let infected = entries.iter().filter(|e| e.expected == "infected").count();
            format!(
                "{} {} files of {}-{} KiB ({:.0} MB{})",
                entries.len(),
                class.name,
                class.min_bytes / 1024,
                class.max_bytes / 1024,
                bytes as f64 / 1e6,
                if infected > 0 {
                    format!(", {infected} of them text with the EICAR string")
                } else {
                    String::new()
                }
            )
        })
        .collect();
    Ok(format!(
        "{}; sizes log-uniform, seed {}; types txt, csv, json, md, png, jpg, pdf and zip, all \
         passing the scan function's content check",
        classes.join(", "),
        manifest.spec.seed
    ))
}

fn report_command(markdown: Option<&String>, json: Option<&String>) -> Result<(), String> {
    let (Some(markdown), Some(json)) = (markdown, json) else {
        return Err("usage: overhead report MARKDOWN JSON".into());
    };
    let path = var("BENCH_RESULTS")?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {path} failed: {e}"))?;
    let results = Results::parse(&text)?;
    std::fs::write(markdown, report::markdown(&results))
        .map_err(|e| format!("writing {markdown} failed: {e}"))?;
    let value = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    std::fs::write(json, value).map_err(|e| format!("writing {json} failed: {e}"))?;
    Ok(())
}
