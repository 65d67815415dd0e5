//! What the apiserver served, from its own `apiserver_request_total` counters, so a
//! benchmark's figures are the apiserver's and not a client's belief of what it sent.
//! Two scrapes around a run give its requests; [`Kind`] sorts the writes by what they
//! are for.

use std::collections::BTreeMap;
use std::fmt;

use kube::Client;

/// One counter series, by the labels that say what was asked for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Series {
    /// `GET`, `LIST`, `WATCH`, `POST`, `PUT`, `PATCH`, `APPLY` (a server-side apply), `DELETE`, ...
    pub verb: String,
    /// The resource's plural name (`deployments`, `events`, ...), whatever its group.
    pub resource: String,
    /// `status` for the status subresource; empty for the object itself.
    pub subresource: String,
    /// A dry run: the apiserver did the work and stored nothing.
    pub dry_run: bool,
}

/// Requests served, by series.
pub type Counts = BTreeMap<Series, f64>;

const METRIC: &str = "apiserver_request_total{";

fn label<'a>(labels: &'a str, key: &str) -> Option<&'a str> {
    // Label values in this metric never hold a comma or a quote.
    labels.split(',').find_map(|l| l.strip_prefix(key)?.strip_prefix("=\"")?.strip_suffix('"'))
}

/// The `apiserver_request_total` series of a Prometheus text exposition, summed over
/// the labels that do not matter here (code, group, version, scope, ...).
pub fn parse(text: &str) -> Counts {
    let mut out = Counts::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(METRIC) else { continue };
        let Some((labels, value)) = rest.rsplit_once("} ") else { continue };
        let series = Series {
            verb: label(labels, "verb").unwrap_or_default().to_string(),
            resource: label(labels, "resource").unwrap_or_default().to_string(),
            subresource: label(labels, "subresource").unwrap_or_default().to_string(),
            dry_run: label(labels, "dry_run").is_some_and(|d| !d.is_empty()),
        };
        *out.entry(series).or_insert(0.0) += value.trim().parse::<f64>().unwrap_or(0.0);
    }
    out
}

/// The requests served between two scrapes.
pub fn delta(after: &Counts, before: &Counts) -> Counts {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect()
}

/// Scrapes the apiserver's `/metrics` (empty on failure: a benchmark reports, it does not fail).
pub async fn scrape(client: &Client) -> Counts {
    let Ok(req) = http::Request::get("/metrics").body(Vec::new()) else { return Counts::new() };
    parse(&client.request_text(req).await.unwrap_or_default())
}

/// What a write was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Deployments written (server-side apply, create, patch or delete).
    Deployments,
    /// Services written.
    Services,
    /// ConfigMaps written.
    ConfigMaps,
    /// Secrets written.
    Secrets,
    /// Jobs written.
    Jobs,
    /// Writes to `supabaseprojects/status`.
    Status,
    /// Events created or patched (either Event API).
    Events,
    /// Any other write a client under test may have made.
    Other,
    /// Dry runs: no change stored, but the apiserver's work all the same.
    DryRuns,
    /// Status of Deployments and Jobs: the stand-in kubelet's part.
    Kubelet,
    /// Projects and namespaces: what the benchmark itself creates.
    Benchmark,
    /// Lease renewals and the apiserver's own `endpoints` upkeep.
    Background,
}

impl Kind {
    /// The kinds a client under test writes, in the order of the table's columns.
    pub const CLIENT: [Kind; 8] = [
        Kind::Deployments,
        Kind::Services,
        Kind::ConfigMaps,
        Kind::Secrets,
        Kind::Jobs,
        Kind::Status,
        Kind::Events,
        Kind::Other,
    ];

    /// Whether a client under test made the write (as opposed to the stand-in kubelet,
    /// the benchmark, or the cluster's own upkeep).
    pub fn by_client(self) -> bool {
        Kind::CLIENT.contains(&self)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Deployments => "Deployments",
            Kind::Services => "Services",
            Kind::ConfigMaps => "ConfigMaps",
            Kind::Secrets => "Secrets",
            Kind::Jobs => "Jobs",
            Kind::Status => "status",
            Kind::Events => "events",
            Kind::Other => "other",
            Kind::DryRuns => "dry runs",
            Kind::Kubelet => "stand-in kubelet",
            Kind::Benchmark => "benchmark",
            Kind::Background => "leases, endpoints",
        })
    }
}

const READS: [&str; 5] = ["GET", "LIST", "WATCH", "WATCHLIST", "CONNECT"];

/// What the write `s` was for; `None` for a read.
pub fn kind(s: &Series) -> Option<Kind> {
    if READS.contains(&s.verb.as_str()) {
        return None;
    }
    if s.dry_run {
        return Some(Kind::DryRuns);
    }
    Some(match (s.resource.as_str(), s.subresource.as_str()) {
        ("deployments" | "jobs", "status") => Kind::Kubelet,
        ("supabaseprojects", "status") => Kind::Status,
        ("supabaseprojects" | "namespaces", "") => Kind::Benchmark,
        ("leases" | "endpoints", _) => Kind::Background,
        ("deployments", "") => Kind::Deployments,
        ("services", "") => Kind::Services,
        ("configmaps", "") => Kind::ConfigMaps,
        ("secrets", "") => Kind::Secrets,
        ("jobs", "") => Kind::Jobs,
        ("events", "") => Kind::Events,
        _ => Kind::Other,
    })
}

/// Writes by kind.
pub fn writes(counts: &Counts) -> BTreeMap<Kind, f64> {
    let mut out = BTreeMap::new();
    for (s, v) in counts {
        if let Some(k) = kind(s) {
            *out.entry(k).or_insert(0.0) += v;
        }
    }
    out
}

/// Reads, keyed `VERB resource[/subresource]`.
pub fn reads(counts: &Counts) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (s, v) in counts.iter().filter(|(s, _)| kind(s).is_none()) {
        *out.entry(format!("{} {}", s.verb, path(s))).or_insert(0.0) += v;
    }
    out
}

/// Every request, keyed `VERB resource[/subresource][ (dry run)]`: the raw figures
/// behind a table.
pub fn listing(counts: &Counts) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (s, v) in counts {
        let dry = if s.dry_run { " (dry run)" } else { "" };
        *out.entry(format!("{} {}{dry}", s.verb, path(s))).or_insert(0.0) += v;
    }
    out
}

fn path(s: &Series) -> String {
    if s.subresource.is_empty() { s.resource.clone() } else { format!("{}/{}", s.resource, s.subresource) }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shaped like kube-apiserver 1.20's exposition (labels in its order).
    const BEFORE: &str = "# HELP apiserver_request_total Counter of apiserver requests\n\
        # TYPE apiserver_request_total counter\n\
        apiserver_request_total{code=\"201\",component=\"apiserver\",contentType=\"application/json\",dry_run=\"\",group=\"apps\",resource=\"deployments\",scope=\"resource\",subresource=\"\",verb=\"APPLY\",version=\"v1\"} 10\n\
        apiserver_request_total{code=\"200\",component=\"apiserver\",contentType=\"application/json\",dry_run=\"\",group=\"apps\",resource=\"deployments\",scope=\"resource\",subresource=\"\",verb=\"APPLY\",version=\"v1\"} 5\n\
        apiserver_request_total{code=\"200\",component=\"apiserver\",contentType=\"application/json\",dry_run=\"\",group=\"apps\",resource=\"deployments\",scope=\"resource\",subresource=\"status\",verb=\"PATCH\",version=\"v1\"} 4\n\
        apiserver_request_total{code=\"200\",component=\"apiserver\",contentType=\"application/json\",dry_run=\"All\",group=\"\",resource=\"services\",scope=\"resource\",subresource=\"\",verb=\"APPLY\",version=\"v1\"} 2\n\
        apiserver_request_total{code=\"200\",component=\"apiserver\",contentType=\"application/json\",dry_run=\"\",group=\"supabase-operator.io\",resource=\"supabaseprojects\",scope=\"resource\",subresource=\"status\",verb=\"APPLY\",version=\"v1alpha1\"} 7\n\
        apiserver_request_total{code=\"200\",component=\"apiserver\",contentType=\"application/json\",dry_run=\"\",group=\"\",resource=\"secrets\",scope=\"resource\",subresource=\"\",verb=\"GET\",version=\"v1\"} 3\n";

    const AFTER: &str = "apiserver_request_total{code=\"201\",component=\"apiserver\",contentType=\"application/json\",dry_run=\"\",group=\"apps\",resource=\"deployments\",scope=\"resource\",subresource=\"\",verb=\"APPLY\",version=\"v1\"} 16\n\
        apiserver_request_total{code=\"200\",component=\"apiserver\",contentType=\"application/json\",dry_run=\"\",group=\"apps\",resource=\"deployments\",scope=\"resource\",subresource=\"\",verb=\"APPLY\",version=\"v1\"} 5\n\
        apiserver_request_total{code=\"200\",component=\"apiserver\",contentType=\"application/json\",dry_run=\"\",group=\"apps\",resource=\"deployments\",scope=\"resource\",subresource=\"status\",verb=\"PATCH\",version=\"v1\"} 10\n\
        apiserver_request_total{code=\"200\",component=\"apiserver\",contentType=\"application/json\",dry_run=\"All\",group=\"\",resource=\"services\",scope=\"resource\",subresource=\"\",verb=\"APPLY\",version=\"v1\"} 2\n\
        apiserver_request_total{code=\"200\",component=\"apiserver\",contentType=\"application/json\",dry_run=\"\",group=\"supabase-operator.io\",resource=\"supabaseprojects\",scope=\"resource\",subresource=\"status\",verb=\"APPLY\",version=\"v1alpha1\"} 9\n\
        apiserver_request_total{code=\"201\",component=\"apiserver\",contentType=\"application/json\",dry_run=\"\",group=\"events.k8s.io\",resource=\"events\",scope=\"resource\",subresource=\"\",verb=\"POST\",version=\"v1\"} 2\n\
        apiserver_request_total{code=\"201\",component=\"apiserver\",contentType=\"application/json\",dry_run=\"\",group=\"\",resource=\"events\",scope=\"resource\",subresource=\"\",verb=\"POST\",version=\"v1\"} 1\n\
        apiserver_request_total{code=\"200\",component=\"apiserver\",contentType=\"application/json\",dry_run=\"\",group=\"\",resource=\"secrets\",scope=\"resource\",subresource=\"\",verb=\"GET\",version=\"v1\"} 4\n\
        apiserver_request_total{code=\"200\",component=\"apiserver\",contentType=\"application/json\",dry_run=\"\",group=\"coordination.k8s.io\",resource=\"leases\",scope=\"resource\",subresource=\"\",verb=\"PUT\",version=\"v1\"} 3\n\
        apiserver_request_duration_seconds_count{resource=\"deployments\",verb=\"APPLY\"} 99\n";

    #[test]
    fn series_differing_only_in_code_or_group_add_up() {
        let c = parse(BEFORE);
        let apply =
            Series { verb: "APPLY".into(), resource: "deployments".into(), subresource: "".into(), dry_run: false };
        assert_eq!(c.get(&apply), Some(&15.0));
        let events = parse(AFTER);
        let post = Series { verb: "POST".into(), resource: "events".into(), subresource: "".into(), dry_run: false };
        assert_eq!(events.get(&post), Some(&3.0));
        assert_eq!(c.len(), 5, "{c:?}");
    }

    #[test]
    fn a_run_is_the_difference_sorted_by_what_each_write_was_for() {
        let run = delta(&parse(AFTER), &parse(BEFORE));
        let w = writes(&run);
        assert_eq!(w.get(&Kind::Deployments), Some(&6.0));
        assert_eq!(w.get(&Kind::Kubelet), Some(&6.0));
        assert_eq!(w.get(&Kind::Status), Some(&2.0));
        assert_eq!(w.get(&Kind::Events), Some(&3.0));
        assert_eq!(w.get(&Kind::Background), Some(&3.0));
        // Unchanged series (the dry-run Services) are not part of the run.
        assert_eq!(w.get(&Kind::DryRuns), None);
        assert_eq!(w.get(&Kind::Services), None);
        assert_eq!(reads(&run).get("GET secrets"), Some(&1.0));
        assert_eq!(reads(&run).len(), 1);
        assert_eq!(listing(&run).get("PATCH deployments/status"), Some(&6.0));
    }

    #[test]
    fn dry_runs_and_reads_are_told_apart_from_writes() {
        let c = parse(BEFORE);
        let w = writes(&c);
        assert_eq!(w.get(&Kind::DryRuns), Some(&2.0));
        assert_eq!(w.get(&Kind::Services), None);
        assert_eq!(w.values().sum::<f64>(), 15.0 + 4.0 + 2.0 + 7.0);
        assert_eq!(listing(&c).get("APPLY services (dry run)"), Some(&2.0));
        assert!(Kind::Status.by_client() && !Kind::Kubelet.by_client() && !Kind::DryRuns.by_client());
    }
}
