//! Retries with exponential backoff, full jitter, `Retry-After` and a deadline per delivery.

use std::future::Future;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// Maximum wait between two attempts, whether from backoff or from `Retry-After`.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// How often and for how long one delivery is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Maximum number of attempts, at least 1.
    pub attempts: u32,
    /// Backoff ceiling before the second attempt. It doubles for each later attempt.
    pub base_delay: Duration,
    /// Upper bound on any single wait, including one requested by `Retry-After`.
    pub max_delay: Duration,
    /// Time budget of the whole delivery: attempts and waits together never run longer.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: MAX_RETRY_DELAY,
            deadline: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// Returns the backoff ceiling after `failed` attempts (1 for the first retry):
    /// `base_delay * 2^(failed - 1)`, capped at `max_delay`.
    pub fn backoff_ceiling(&self, failed: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failed.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// Returns a wait drawn uniformly from zero to [`Self::backoff_ceiling`] ("full jitter"), so
    /// senders that failed together do not retry together.
    pub fn backoff(&self, failed: u32, rng: &mut fastrand::Rng) -> Duration {
        let ceiling = self.backoff_ceiling(failed);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.u64(0..=nanos))
    }
}

/// Parses a `Retry-After` header value: delta-seconds or an HTTP-date (RFC 9110, section
/// 10.2.3). A date in the past gives zero. Returns `None` for anything else.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits too many for u64 still mean "later than any cap".
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Result of one attempt, as classified by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The sink accepted the delivery.
    Delivered { status: Option<u16> },
    /// A failure another attempt may fix: 5xx, 429, a timeout or a connection error.
    Retryable {
        status: Option<u16>,
        error: String,
        /// Wait the sink requested with `Retry-After`, used instead of the backoff.
        retry_after: Option<Duration>,
    },
    /// A failure that repeating the same request cannot fix, such as a 4xx other than 429.
    Permanent { status: Option<u16>, error: String },
}

/// Outcome of one delivery after all its attempts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Delivery {
    pub delivered: bool,
    pub attempts: u32,
    /// HTTP status of the last attempt, if it got a response.
    pub status: Option<u16>,
    /// Error of the last attempt, with the reason no further attempt was made.
    pub error: Option<String>,
}

/// Runs `attempt` until it delivers, fails permanently, uses up `policy.attempts`, or the next
/// step would pass `policy.deadline`.
///
/// `attempt` receives the attempt number (from 1) and the time left before the deadline, which
/// it should use as its request timeout. An attempt still running at the deadline is cancelled.
pub async fn retry<F, Fut>(policy: &RetryPolicy, mut attempt: F) -> Delivery
where
    F: FnMut(u32, Duration) -> Fut,
    Fut: Future<Output = Attempt>,
{
    let started = Instant::now();
    let time_left = || policy.deadline.saturating_sub(started.elapsed());
    let mut rng = fastrand::Rng::new();
    let mut outcome = Delivery::default();
    loop {
        outcome.attempts += 1;
        let left = time_left();
        let result = tokio::time::timeout(left, attempt(outcome.attempts, left))
            .await
            .unwrap_or_else(|_| Attempt::Permanent {
                status: None,
                error: deadline_error(policy),
            });
        let retry_after = match result {
            Attempt::Delivered { status } => {
                outcome.delivered = true;
                outcome.status = status;
                outcome.error = None;
                return outcome;
            }
            Attempt::Permanent { status, error } => {
                outcome.status = status;
                outcome.error = Some(error);
                return outcome;
            }
            Attempt::Retryable {
                status,
                error,
                retry_after,
            } => {
                outcome.status = status;
                outcome.error = Some(error);
                retry_after
            }
        };
        if outcome.attempts >= policy.attempts.max(1) {
            return outcome;
        }
        let wait = match retry_after {
            Some(asked) => asked.min(policy.max_delay),
            None => policy.backoff(outcome.attempts, &mut rng),
        };
        if wait >= time_left() {
            let last = outcome.error.take().unwrap_or_default();
            outcome.error = Some(format!(
                "{last}; not retried because the next attempt would start after the {} s \
                 delivery deadline",
                policy.deadline.as_secs_f32()
            ));
            return outcome;
        }
        tokio::time::sleep(wait).await;
    }
}

fn deadline_error(policy: &RetryPolicy) -> String {
    format!(
        "timed out at the {} s delivery deadline",
        policy.deadline.as_secs_f32()
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn policy(attempts: u32, deadline_secs: u64) -> RetryPolicy {
        RetryPolicy {
            attempts,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            deadline: Duration::from_secs(deadline_secs),
        }
    }

    fn server_error() -> Attempt {
        Attempt::Retryable {
            status: Some(503),
            error: "receiver returned 503".into(),
            retry_after: None,
        }
    }

    #[test]
    fn backoff_ceiling_doubles_then_caps() {
        let policy = policy(10, 60);
        let ceilings: Vec<u128> = (1..=8)
            .map(|failed| policy.backoff_ceiling(failed).as_millis())
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(policy.backoff_ceiling(40), Duration::from_secs(5));
        assert_eq!(policy.backoff_ceiling(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn backoff_jitter_spans_zero_to_ceiling() {
        let policy = policy(10, 60);
        let mut rng = fastrand::Rng::with_seed(7);
        let ceiling = policy.backoff_ceiling(3);
        let waits: Vec<Duration> = (0..2000).map(|_| policy.backoff(3, &mut rng)).collect();
        let shortest = *waits.iter().min().unwrap();
        let longest = *waits.iter().max().unwrap();
        assert!(longest <= ceiling, "{longest:?} over {ceiling:?}");
        assert!(shortest < ceiling / 20, "shortest wait {shortest:?}");
        assert!(longest > ceiling * 19 / 20, "longest wait {longest:?}");
    }

    #[test]
    fn backoff_of_zero_base_is_zero() {
        let policy = RetryPolicy {
            base_delay: Duration::ZERO,
            ..RetryPolicy::default()
        };
        assert_eq!(policy.backoff(2, &mut fastrand::Rng::new()), Duration::ZERO);
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        let parse = |value| parse_retry_after(value, now);
        assert_eq!(parse("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            parse("99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            parse("Wed, 21 Oct 2026 07:28:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse("Wed, 21 Oct 2026 07:00:00 GMT"), Some(Duration::ZERO));
        for invalid in ["", "-5", "1.5", "soon", "30s"] {
            assert_eq!(parse(invalid), None, "{invalid:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_stops_at_first_delivery() {
        let calls = AtomicU32::new(0);
        let outcome = retry(&policy(5, 60), |number, _| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if number < 3 {
                    server_error()
                } else {
                    Attempt::Delivered { status: Some(204) }
                }
            }
        })
        .await;
        assert!(outcome.delivered);
        assert_eq!(outcome.attempts, 3);
        assert_eq!(outcome.status, Some(204));
        assert_eq!(outcome.error, None);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_gives_up_after_attempts() {
        let outcome = retry(&policy(3, 60), |_, _| async { server_error() }).await;
        assert!(!outcome.delivered);
        assert_eq!(outcome.attempts, 3);
        assert_eq!(outcome.status, Some(503));
        assert_eq!(outcome.error.as_deref(), Some("receiver returned 503"));
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failure_is_not_retried() {
        let outcome = retry(&policy(5, 60), |_, _| async {
            Attempt::Permanent {
                status: Some(400),
                error: "receiver returned 400".into(),
            }
        })
        .await;
        assert_eq!(outcome.attempts, 1);
        assert_eq!(outcome.status, Some(400));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_replaces_backoff() {
        let started = Instant::now();
        let outcome = retry(&policy(2, 60), |number, _| async move {
            match number {
                1 => Attempt::Retryable {
                    status: Some(429),
                    error: "receiver returned 429".into(),
                    retry_after: Some(Duration::from_secs(3)),
                },
                _ => Attempt::Delivered { status: Some(200) },
            }
        })
        .await;
        assert!(outcome.delivered);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_capped() {
        let started = Instant::now();
        let outcome = retry(&policy(2, 60), |number, _| async move {
            match number {
                1 => Attempt::Retryable {
                    status: Some(429),
                    error: "receiver returned 429".into(),
                    retry_after: Some(Duration::from_secs(3600)),
                },
                _ => Attempt::Delivered { status: Some(200) },
            }
        })
        .await;
        assert!(outcome.delivered);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn wait_past_deadline_is_skipped() {
        let started = Instant::now();
        let outcome = retry(&policy(5, 4), |_, _| async {
            Attempt::Retryable {
                status: Some(503),
                error: "receiver returned 503".into(),
                retry_after: Some(Duration::from_secs(4)),
            }
        })
        .await;
        assert_eq!(outcome.attempts, 1);
        assert_eq!(started.elapsed(), Duration::ZERO);
        let error = outcome.error.unwrap();
        assert!(
            error.starts_with("receiver returned 503; not retried"),
            "{error}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn slow_attempt_is_cut_at_deadline() {
        let started = Instant::now();
        let outcome = retry(&policy(5, 2), |_, left| async move {
            assert_eq!(left, Duration::from_secs(2));
            tokio::time::sleep(Duration::from_secs(10)).await;
            Attempt::Delivered { status: Some(200) }
        })
        .await;
        assert!(!outcome.delivered);
        assert_eq!(outcome.attempts, 1);
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        assert_eq!(
            outcome.error.as_deref(),
            Some("timed out at the 2 s delivery deadline")
        );
    }
}
