//! The backoff of the controller's watches after an error.
//!
//! The controller runs one backoff for all its watches together (projects and the
//! five owned kinds and Secrets). kube's default climbs to 30 s; after an apiserver
//! restart every watch fails once in turn (connection refused, then "too old
//! resource version"), so the shared delay compounds into minutes of blindness.
//! A cap of a few seconds keeps the retry rate low but the recovery quick.

use std::time::Duration;

use kube::runtime::utils::Backoff;
use rand::Rng;

/// Capped exponential backoff with ±20% jitter, reset by the first event after an error.
#[derive(Clone, Debug)]
pub struct WatchBackoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl WatchBackoff {
    /// 500 ms doubling up to `max`.
    pub fn new(max: Duration) -> WatchBackoff {
        let min = Duration::from_millis(500).min(max);
        WatchBackoff { min, max, next: min }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let current = self.next;
        self.next = (self.next * 2).min(self.max);
        let jitter = rand::rng().random_range(0.8..1.2);
        Some(current.mul_f64(jitter))
    }
}

impl Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = WatchBackoff::new(Duration::from_secs(5));
        let delays: Vec<Duration> = (0..6).filter_map(|_| b.next()).collect();
        assert!(delays[0] >= Duration::from_millis(400) && delays[0] <= Duration::from_millis(600));
        assert!(delays[5] <= Duration::from_secs(6), "{delays:?}");
        b.reset();
        assert!(b.next().is_some_and(|d| d <= Duration::from_millis(600)));
    }
}
