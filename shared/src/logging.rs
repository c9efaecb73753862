//! One logging set-up for every function.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: level from `RUST_LOG` or `AWS_LAMBDA_LOG_LEVEL` (default
/// `info`), JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON`.
pub fn init() {
    let level = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_lowercase()))
        .unwrap_or_else(|_| "info".to_string());
    let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if json {
        builder.json().flatten_event(true).without_time().try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
    // A second call in the same process (tests) keeps the first subscriber.
    drop(result);
}
