//! The retry policy: how often ferry tries again and how long it waits in between. One type
//! serves every place that retries: requests ([`RetryPolicy::default`]), blob fetches that
//! resume or fetch again ([`BODY_RESUME`], [`REFETCH`]), the index PUT race
//! ([`INDEX_RACE`]) and the engine's whole-blob copies. The waits double from `base` up to
//! `max`, with random jitter so clients that failed together do not retry together; a
//! registry's `Retry-After` is honoured up to `max_retry_after`.

use std::time::{Duration, SystemTime};

use rand_core::{OsRng, RngCore};

/// How often and how patiently something is retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub base: Duration,
    /// Longest wait between attempts computed by doubling.
    pub max: Duration,
    /// Longest wait a registry's `Retry-After` may ask for.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Requests: five attempts, 200 ms doubling to at most 3 s (as ace-dt), `Retry-After` up
    /// to 60 s.
    fn default() -> Self {
        RetryPolicy::new(5, Duration::from_millis(200))
    }
}

/// Resumes of a blob body that breaks off mid-way: 5 resumes after the first fetch.
pub const BODY_RESUME: RetryPolicy = RetryPolicy::new(6, Duration::from_millis(200));

/// Fetches of a blob whose body arrives whole but wrong (3 in all). Such a body is a bad
/// answer rather than an overloaded registry, so the next fetch starts at once.
pub const REFETCH: RetryPolicy = RetryPolicy::new(3, Duration::ZERO);

/// An index PUT that races a child's re-PUT: 5 attempts, 100 ms doubling.
pub const INDEX_RACE: RetryPolicy = RetryPolicy::new(5, Duration::from_millis(100));

/// Statuses that say "try again": 408, 429 and the server errors.
pub(crate) fn retriable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

impl RetryPolicy {
    /// `attempts` in all, waiting `base` doubling up to 3 s between them; `Retry-After` up to
    /// 60 s.
    pub const fn new(attempts: u32, base: Duration) -> RetryPolicy {
        RetryPolicy { attempts, base, max: Duration::from_secs(3), max_retry_after: Duration::from_secs(60) }
    }

    /// Whether attempt number `attempt` (1-based) may be followed by another.
    pub fn allows_another(&self, attempt: u32) -> bool {
        attempt < self.attempts
    }

    /// Wait before retry number `retry` (1-based), honouring a `Retry-After` header value.
    /// Without one: `base × 2^(retry-1)`, plus up to a quarter of that at random (never less
    /// than the doubling, so a registry that asks for patience gets it), capped at `max`.
    pub fn delay(&self, retry: u32, retry_after: Option<&str>) -> Duration {
        if let Some(wait) = retry_after.and_then(parse_retry_after) {
            return wait.min(self.max_retry_after);
        }
        let exp = self.base.saturating_mul(1 << retry.saturating_sub(1).min(16));
        let spread = u64::try_from(exp.as_millis() / 4).unwrap_or(u64::MAX);
        let jitter = if spread == 0 { 0 } else { OsRng.next_u64() % (spread + 1) };
        (exp + Duration::from_millis(jitter)).min(self.max)
    }

    /// Sleeps before retry number `retry` (1-based) and says how long it waited.
    pub async fn wait(&self, retry: u32, retry_after: Option<&str>) -> Duration {
        let wait = self.delay(retry, retry_after);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }
}

/// `Retry-After` is either delta-seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honours_retry_after_and_backs_off() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, Some("2")), Duration::from_secs(2));
        assert_eq!(p.delay(1, Some("999")), Duration::from_secs(60));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(5));
        assert!(p.delay(1, Some(&later)) <= Duration::from_secs(5));
        assert!(p.delay(9, None) <= Duration::from_secs(3));
        assert!(retriable_status(429) && retriable_status(503) && !retriable_status(404));
        assert!(p.allows_another(4) && !p.allows_another(5));
        assert_eq!(REFETCH.delay(2, None), Duration::ZERO);
    }

    #[test]
    fn doubles_within_a_random_quarter() {
        let p = RetryPolicy::default();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            for (retry, floor) in [(1, 200), (2, 400), (3, 800), (4, 1600)] {
                let d = p.delay(retry, None);
                assert!(d >= Duration::from_millis(floor) && d <= Duration::from_millis(floor * 5 / 4), "retry {retry}: {d:?}");
                seen.insert((retry, d));
            }
        }
        // Two hundred draws of 0..=50 ms (and wider) are never all alike with real jitter.
        assert!(seen.iter().filter(|(r, _)| *r == 1).count() > 10, "{seen:?}");
    }
}
