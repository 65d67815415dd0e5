//! Prometheus metrics. Labels carry endpoints, results and rule names only: never a
//! user, a Secret name or a value.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Latency buckets in seconds. They start at 50 µs: a defaulting answer takes tens of
/// microseconds, and coarser buckets would hide regressions there.
pub const LATENCY_BUCKETS: [f64; 17] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Labels of a request count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `/mutate`, `/validate` or `other` (any other path).
    pub endpoint: String,
    /// `allowed`, `denied`, `malformed` or `timeout`.
    pub result: String,
}

/// Labels of a latency observation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    /// `/mutate` or `/validate`.
    pub endpoint: String,
}

/// Labels of a denial.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// The rule group that refused, e.g. `jwt`, `images`, `access`.
    pub reason: String,
}

/// Labels of a Secret read.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// `cache` or `apiserver`.
    pub source: String,
}

/// Labels of a reload.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `success` or `error`.
    pub result: String,
}

type HistogramFamily = Family<EndpointLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Every metric the webhook exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    denials: Family<ReasonLabels, Counter>,
    cert_reloads: Family<ReloadLabels, Counter>,
    policy_reloads: Family<ReloadLabels, Counter>,
    in_flight: Gauge,
    /// Secret reads from the cache and from the apiserver: created once, as a review
    /// counts several and a label lookup would cost an allocation each.
    secret_reads: [Counter; 2],
    cache_namespaces: Gauge,
    cache_secrets: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("supabase_webhook");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("requests", "Admission requests by endpoint and result", requests.clone());
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register("request_duration_seconds", "Time to answer an admission request", latency.clone());
        let denials = Family::<ReasonLabels, Counter>::default();
        registry.register("denials", "Refused projects by rule group (one per group per review)", denials.clone());
        let cert_reloads = Family::<ReloadLabels, Counter>::default();
        registry.register("certificate_reloads", "Serving certificate reloads by result", cert_reloads.clone());
        let policy_reloads = Family::<ReloadLabels, Counter>::default();
        registry.register("policy_reloads", "Policy file reloads by result", policy_reloads.clone());
        let in_flight = Gauge::default();
        registry.register("in_flight_requests", "Admission requests being handled", in_flight.clone());
        let secret_reads = Family::<SourceLabels, Counter>::default();
        registry.register(
            "secret_reads",
            "Referenced Secrets read, from the cache or the apiserver",
            secret_reads.clone(),
        );
        let secret_reads = ["cache", "apiserver"]
            .map(|source| secret_reads.get_or_create(&SourceLabels { source: source.into() }).clone());
        let cache_namespaces = Gauge::default();
        registry.register(
            "secret_cache_namespaces",
            "Namespaces whose Secrets are watched (those holding a SupabaseProject)",
            cache_namespaces.clone(),
        );
        let cache_secrets = Gauge::default();
        registry.register("secret_cache_secrets", "Secrets held by the cache", cache_secrets.clone());
        Metrics {
            registry,
            requests,
            latency,
            denials,
            cert_reloads,
            policy_reloads,
            in_flight,
            secret_reads,
            cache_namespaces,
            cache_secrets,
        }
    }

    /// Counts one answered request and its latency.
    pub fn request(&self, endpoint: &str, result: &str, elapsed: Duration) {
        self.requests.get_or_create(&RequestLabels { endpoint: endpoint.into(), result: result.into() }).inc();
        if endpoint != "other" {
            self.latency.get_or_create(&EndpointLabels { endpoint: endpoint.into() }).observe(elapsed.as_secs_f64());
        }
    }

    /// Counts a denial by rule group.
    pub fn denial(&self, reason: &str) {
        self.denials.get_or_create(&ReasonLabels { reason: reason.into() }).inc();
    }

    /// Counts a certificate reload.
    pub fn cert_reload(&self, ok: bool) {
        self.cert_reloads.get_or_create(&ReloadLabels { result: result(ok) }).inc();
    }

    /// Counts a policy reload.
    pub fn policy_reload(&self, ok: bool) {
        self.policy_reloads.get_or_create(&ReloadLabels { result: result(ok) }).inc();
    }

    /// The gauge of requests in flight.
    pub fn in_flight(&self) -> &Gauge {
        &self.in_flight
    }

    /// Counts one referenced Secret read from the cache or else the apiserver.
    pub fn secret_read(&self, from_cache: bool) {
        self.secret_reads[usize::from(!from_cache)].inc();
    }

    /// The gauge of namespaces whose Secrets are watched.
    pub fn secret_cache_namespaces(&self) -> &Gauge {
        &self.cache_namespaces
    }

    /// The gauge of Secrets the cache holds.
    pub fn secret_cache_secrets(&self) -> &Gauge {
        &self.cache_secrets
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

fn result(ok: bool) -> String {
    if ok { "success" } else { "error" }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_sub_millisecond_buckets_and_counts() {
        let m = Metrics::new();
        m.request("/validate", "denied", Duration::from_micros(70));
        m.denial("jwt");
        m.secret_read(true);
        m.secret_read(true);
        m.secret_read(false);
        let text = m.render();
        assert!(text.contains(r#"supabase_webhook_secret_reads_total{source="cache"} 2"#), "{text}");
        assert!(text.contains(r#"supabase_webhook_secret_reads_total{source="apiserver"} 1"#), "{text}");
        assert!(text.contains(r#"supabase_webhook_requests_total{endpoint="/validate",result="denied"} 1"#), "{text}");
        assert!(text.contains(r#"le="0.0001""#), "{text}");
        assert!(text.contains(r#"supabase_webhook_denials_total{reason="jwt"} 1"#), "{text}");
    }
}
