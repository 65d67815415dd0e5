//! How long tests wait, in one place. A test waits either for something no configured
//! duration bounds (a reconcile, a watch event: a few API round trips), or for something
//! that must happen within a configured duration (a poll interval, a lease duration).
//! The margins are sized for a busy 2-core machine running the whole suite, where an API
//! round trip that takes milliseconds when idle can take a second; they only cost time
//! when a test is failing anyway. On a slower machine, raise `SUPABASE_TEST_PATIENCE`.

use std::time::Duration;

/// Environment variable multiplying every margin below (a whole number, default 1).
pub const PATIENCE_ENV: &str = "SUPABASE_TEST_PATIENCE";

/// The multiplier from [`PATIENCE_ENV`].
pub fn factor() -> u32 {
    std::env::var(PATIENCE_ENV).ok().and_then(|v| v.trim().parse().ok()).filter(|f| *f > 0).unwrap_or(1)
}

/// `d` times the patience factor.
pub fn scaled(d: Duration) -> Duration {
    d * factor()
}

/// How long to wait for what takes a few API round trips and a reconcile or two: a
/// guard against hanging, not a measurement. A reconcile takes well under a second when
/// idle and a few seconds on a loaded machine; a minute is ten times that.
pub fn settle() -> Duration {
    scaled(Duration::from_secs(60))
}

/// Bound for what must happen within `configured` (a poll interval, a timeout): the
/// configured duration plus 10 s of scheduling and round trips on a busy machine. A
/// behaviour that ignores `configured` (waits for a fallback of minutes, or forever)
/// still fails.
pub fn after(configured: Duration) -> Duration {
    configured + scaled(Duration::from_secs(10))
}
