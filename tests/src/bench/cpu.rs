//! A process's CPU time, from /proc: where a benchmark's seconds went.

/// Clock ticks per second of /proc's times (`USER_HZ`): 100 on every Linux build
/// this runs on; reading it would need libc's sysconf.
const USER_HZ: f64 = 100.0;

/// User plus system CPU seconds `pid` has used so far (`self` for this process).
pub fn seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields follow the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_used_some_cpu_and_more_after_work() {
        let before = seconds("self").unwrap_or(-1.0);
        let mut x = 0u64;
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_millis(300) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        let after = seconds("self").unwrap_or(-1.0);
        assert!(before >= 0.0 && after > before, "before {before}, after {after}, {x}");
    }
}
