//! The tables `bench-reconciler` prints: each run's time and CPU, and the writes the
//! apiserver received per project, split by kind. The first run is the reconciler's;
//! every ratio is the reconciler's time over the run's.

use std::fmt::Write;
use std::time::Duration;

use super::apiserver_requests::{self, Counts, Kind};

/// CPU seconds spent during a run, by process.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    /// kube-apiserver.
    pub apiserver: f64,
    /// etcd.
    pub etcd: f64,
    /// The reconciler (idle during the bare runs).
    pub reconciler: f64,
    /// The benchmark's process: the bare clients, the stand-in kubelet, the watches.
    pub bench: f64,
}

/// One rollout of every project.
#[derive(Clone, Debug)]
pub struct Run {
    /// What rolled the projects out.
    pub name: String,
    /// Until every project was ready.
    pub elapsed: Duration,
    /// What the apiserver served meanwhile.
    pub requests: Counts,
    /// CPU meanwhile.
    pub cpu: Cpu,
}

impl Run {
    /// Writes of `kind` per project.
    pub fn per_project(&self, kind: Kind, projects: usize) -> f64 {
        apiserver_requests::writes(&self.requests).get(&kind).copied().unwrap_or(0.0) / projects.max(1) as f64
    }

    /// Writes per project made by the client under test (not the stand-in kubelet's,
    /// the benchmark's, the cluster's upkeep or dry runs).
    pub fn client_writes(&self, projects: usize) -> f64 {
        Kind::CLIENT.iter().map(|k| self.per_project(*k, projects)).sum()
    }
}

fn ratio(reconciler: Duration, run: Duration) -> f64 {
    reconciler.as_secs_f64() / run.as_secs_f64().max(0.001)
}

/// Time until every project was ready and CPU per process, one row per run.
pub fn times(runs: &[Run]) -> String {
    let Some(first) = runs.first() else { return String::new() };
    let mut out = String::from(
        "| run | until every project ready | reconciler ÷ run | CPU s: kube-apiserver | etcd | reconciler | \
         benchmark process |\n|---|---|---|---|---|---|---|\n",
    );
    for r in runs {
        let _ = writeln!(
            out,
            "| {} | {:.1} s | {:.2}× | {:.1} | {:.1} | {:.1} | {:.1} |",
            r.name,
            r.elapsed.as_secs_f64(),
            ratio(first.elapsed, r.elapsed),
            r.cpu.apiserver,
            r.cpu.etcd,
            r.cpu.reconciler,
            r.cpu.bench
        );
    }
    out
}

/// Writes per project by kind, one row per run. Kinds no run wrote are left out.
pub fn writes(runs: &[Run], projects: usize) -> String {
    let columns: Vec<Kind> =
        Kind::CLIENT.into_iter().filter(|k| runs.iter().any(|r| r.per_project(*k, projects) > 0.0)).collect();
    let mut out = String::from("| run |");
    for k in &columns {
        let _ = write!(out, " {k} |");
    }
    out.push_str(" total | dry runs | stand-in kubelet |\n|---|");
    out.push_str(&"---|".repeat(columns.len() + 3));
    out.push('\n');
    for r in runs {
        let _ = write!(out, "| {} |", r.name);
        for k in &columns {
            let _ = write!(out, " {} |", figure(r.per_project(*k, projects)));
        }
        let _ = writeln!(
            out,
            " {} | {} | {} |",
            figure(r.client_writes(projects)),
            figure(r.per_project(Kind::DryRuns, projects)),
            figure(r.per_project(Kind::Kubelet, projects))
        );
    }
    out
}

/// A per-project figure: whole numbers as such, others to two decimals.
fn figure(v: f64) -> String {
    // `+ 0.0`: an empty f64 sum is -0.0, printed "-0".
    let v = v + 0.0;
    if (v - v.round()).abs() < 0.005 { format!("{v:.0}") } else { format!("{v:.2}") }
}

/// Every request of a run, as `VERB resource count` (the raw figures behind the tables).
pub fn listing(requests: &Counts) -> String {
    let list = apiserver_requests::listing(requests);
    if list.is_empty() {
        return "none".into();
    }
    list.iter().map(|(k, v)| format!("{k} {v:.0}")).collect::<Vec<_>>().join(", ")
}

/// The README's performance row: projects, the three times with the ratios, the
/// reconciler's peak memory and each run's writes per project. Expects the runs in
/// the order reconciler, ordered, unordered.
pub fn readme_row(projects: usize, runs: &[Run], peak_mib: f64) -> String {
    let [rec, ordered, unordered] = runs else { return String::new() };
    format!(
        "| {projects} | {:.1} s | {:.1} s ({:.2}×) | {:.1} s ({:.2}×) | {peak_mib:.1} MiB | {} / {} / {} |",
        rec.elapsed.as_secs_f64(),
        ordered.elapsed.as_secs_f64(),
        ratio(rec.elapsed, ordered.elapsed),
        unordered.elapsed.as_secs_f64(),
        ratio(rec.elapsed, unordered.elapsed),
        figure(rec.client_writes(projects)),
        figure(ordered.client_writes(projects)),
        figure(unordered.client_writes(projects)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::apiserver_requests::Series;

    fn series(verb: &str, resource: &str, sub: &str) -> Series {
        Series { verb: verb.into(), resource: resource.into(), subresource: sub.into(), dry_run: false }
    }

    fn run(name: &str, secs: u64, writes: &[(&str, &str, &str, f64)]) -> Run {
        let requests = writes.iter().map(|(v, r, s, n)| (series(v, r, s), *n)).collect();
        Run { name: name.into(), elapsed: Duration::from_secs(secs), requests, cpu: Cpu::default() }
    }

    fn runs() -> Vec<Run> {
        vec![
            run(
                "reconciler",
                40,
                &[
                    ("APPLY", "deployments", "", 20.0),
                    ("APPLY", "supabaseprojects", "status", 14.0),
                    ("POST", "events", "", 4.0),
                    ("PATCH", "deployments", "status", 20.0),
                    ("POST", "supabaseprojects", "", 2.0),
                    ("PUT", "leases", "", 9.0),
                    ("GET", "secrets", "", 3.0),
                ],
            ),
            run("ordered", 20, &[("APPLY", "deployments", "", 20.0), ("PATCH", "deployments", "status", 20.0)]),
            run("unordered", 10, &[("APPLY", "deployments", "", 20.0), ("APPLY", "secrets", "", 5.0)]),
        ]
    }

    #[test]
    fn a_client_is_charged_its_own_writes_only() {
        let r = runs();
        // 20 + 14 + 4 over 2 projects; the kubelet's, the benchmark's, leases and reads are apart.
        assert_eq!(r[0].client_writes(2), 19.0);
        assert_eq!(r[1].client_writes(2), 10.0);
        assert_eq!(r[0].per_project(Kind::Kubelet, 2), 10.0);
    }

    #[test]
    fn the_writes_table_has_a_column_for_each_kind_some_run_wrote() {
        let t = writes(&runs(), 2);
        let header = t.lines().next().unwrap_or_default();
        assert_eq!(header, "| run | Deployments | Secrets | status | events | total | dry runs | stand-in kubelet |");
        assert!(t.contains("| reconciler | 10 | 0 | 7 | 2 | 19 | 0 | 10 |"), "{t}");
        assert!(t.contains("| unordered | 10 | 2.50 | 0 | 0 | 12.50 | 0 | 0 |"), "{t}");
        assert_eq!(t.lines().nth(1).map(|l| l.matches("---").count()), Some(8));
    }

    #[test]
    fn ratios_are_the_reconcilers_time_over_each_runs() {
        let t = times(&runs());
        assert!(t.contains("| ordered | 20.0 s | 2.00× |"), "{t}");
        assert!(t.contains("| reconciler | 40.0 s | 1.00× |"), "{t}");
        let row = readme_row(2, &runs(), 35.04);
        assert_eq!(row, "| 2 | 40.0 s | 20.0 s (2.00×) | 10.0 s (4.00×) | 35.0 MiB | 19 / 10 / 12.50 |");
        assert_eq!(readme_row(2, &runs()[..2], 1.0), "");
    }
}
