//! Prometheus metrics: reconciles by result, failed reconciles by error, reconcile
//! duration, projects by phase and whether this replica leads.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crds::{Phase, SupabaseProject};
use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// How a reconcile ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Everything it could do was done.
    Success,
    /// The spec cannot be acted on (phase Failed).
    Failed,
    /// A transient error (API call failed); retried with backoff.
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ErrorLabel {
    error: &'static str,
}

/// The reconciler's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabel, Counter>,
    failures: Family<ErrorLabel, Counter>,
    duration: Histogram,
    leader: Gauge,
    projects: Arc<ProjectsByPhase>,
}

/// Counts projects by the phase their status shows, read from the controller's
/// store at scrape time, so deleted projects drop out without bookkeeping.
#[derive(Debug, Default)]
struct ProjectsByPhase {
    store: Mutex<Option<Store<SupabaseProject>>>,
}

const PHASES: [Phase; 8] = [
    Phase::Pending,
    Phase::InitializingDatabase,
    Phase::DeployingSecrets,
    Phase::DeployingComponents,
    Phase::Running,
    Phase::Updating,
    Phase::Degraded,
    Phase::Failed,
];

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PhaseLabel {
    phase: &'static str,
}

impl Collector for ProjectsByPhase {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(store) = self.store.lock().ok().and_then(|s| s.clone()) else { return Ok(()) };
        let mut counts = [0i64; PHASES.len()];
        for p in store.state() {
            let phase = p.status.as_ref().and_then(|s| s.phase).unwrap_or(Phase::Pending);
            if let Some(i) = PHASES.iter().position(|x| *x == phase) {
                counts[i] += 1;
            }
        }
        let gauge = ConstGauge::new(0i64);
        let mut family = encoder.encode_descriptor(
            "supabase_reconciler_projects",
            "SupabaseProjects by status phase",
            None,
            gauge.metric_type(),
        )?;
        for (phase, count) in PHASES.iter().zip(counts) {
            let label = PhaseLabel { phase: phase.as_str() };
            ConstGauge::new(count).encode(family.encode_family(&label)?)?;
        }
        Ok(())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Fresh metrics in their own registry.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let reconciles = Family::<ResultLabel, Counter>::default();
        registry.register(
            "supabase_reconciler_reconciles",
            "Reconciles by result (success, failed = spec cannot be acted on, error = retried)",
            reconciles.clone(),
        );
        let failures = Family::<ErrorLabel, Counter>::default();
        registry.register(
            "supabase_reconciler_reconcile_failures",
            "Reconciles that ended in an error, by its kind (see Error::metric_label)",
            failures.clone(),
        );
        // From 1 ms to ~16 s: a reconcile is a handful of API round trips.
        let duration = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        registry.register("supabase_reconciler_reconcile_duration_seconds", "Reconcile duration", duration.clone());
        let leader = Gauge::default();
        registry.register("supabase_reconciler_leader", "1 while this replica holds the leader Lease", leader.clone());
        let projects = Arc::new(ProjectsByPhase::default());
        registry.register_collector(Box::new(projects.clone()));
        Metrics { registry, reconciles, failures, duration, leader, projects }
    }

    /// Records one reconcile.
    pub fn reconciled(&self, outcome: Outcome, took: Duration) {
        let result = match outcome {
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
        };
        self.reconciles.get_or_create(&ResultLabel { result }).inc();
        self.duration.observe(took.as_secs_f64());
    }

    /// How many reconciles ended with `outcome` so far.
    pub fn reconcile_count(&self, outcome: Outcome) -> u64 {
        let result = match outcome {
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
        };
        self.reconciles.get_or_create(&ResultLabel { result }).get()
    }

    /// Records a reconcile that ended in an error of kind `error` (a `metric_label`).
    pub fn reconcile_failed(&self, error: &'static str) {
        self.failures.get_or_create(&ErrorLabel { error }).inc();
    }

    /// How many reconciles ended in an error of kind `error` so far.
    pub fn failure_count(&self, error: &'static str) -> u64 {
        self.failures.get_or_create(&ErrorLabel { error }).get()
    }

    /// Sets the leader gauge.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Lets the projects-by-phase gauge read the controller's store.
    pub fn watch_projects(&self, store: Store<SupabaseProject>) {
        if let Ok(mut s) = self.projects.store.lock() {
            *s = Some(store);
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_by_error_kind() {
        let m = Metrics::new();
        m.reconcile_failed("kubernetes");
        m.reconcile_failed("kubernetes");
        m.reconcile_failed("render");
        let text = m.encode();
        assert!(text.contains("supabase_reconciler_reconcile_failures_total{error=\"kubernetes\"} 2"), "{text}");
        assert!(text.contains("supabase_reconciler_reconcile_failures_total{error=\"render\"} 1"), "{text}");
        assert_eq!(m.failure_count("kubernetes"), 2);
    }
}
