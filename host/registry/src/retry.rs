//! Retry policy: which failures are worth repeating and how long to wait.

use std::time::{Duration, SystemTime};

/// How often and how patiently requests are retried.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait before the first retry; doubled each time.
    pub base: Duration,
    /// Longest wait between attempts (also caps `Retry-After`).
    pub max: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts, 200 ms doubling to at most 3 s, as ace-dt; `Retry-After` up to 60 s.
    fn default() -> Self {
        RetryPolicy { attempts: 5, base: Duration::from_millis(200), max: Duration::from_secs(60) }
    }
}

/// Statuses that say "try again": 408, 429 and the server errors.
pub(crate) fn retriable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

impl RetryPolicy {
    /// Wait before retry number `retry` (1-based), honouring a `Retry-After` header.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<&str>) -> Duration {
        if let Some(wait) = retry_after.and_then(parse_retry_after) {
            return wait.min(self.max);
        }
        let exp = self.base.saturating_mul(1 << retry.saturating_sub(1).min(16));
        // Spread clients apart a little without a random number generator.
        let jitter = Duration::from_millis(u64::from(
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_millis()).unwrap_or(0) % 50,
        ));
        (exp + jitter).min(Duration::from_secs(3)).min(self.max)
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
        assert!(p.delay(1, None) >= Duration::from_millis(200));
        assert!(p.delay(9, None) <= Duration::from_secs(3));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(5));
        assert!(p.delay(1, Some(&later)) <= Duration::from_secs(5));
        assert!(retriable_status(429) && retriable_status(503) && !retriable_status(404));
    }
}
