//! Reading histograms out of Prometheus text exposition.

/// Cumulative `(le, count)` buckets of histogram `name` summed over the series whose
/// labels contain every `filters` entry (e.g. `endpoint="/validate"`), sorted by `le`.
pub fn buckets(text: &str, name: &str, filters: &[&str]) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{");
    let mut out: Vec<(f64, f64)> = Vec::new();
    for line in text.lines().filter(|l| l.starts_with(&prefix)) {
        let Some((labels, value)) = line[prefix.len()..].rsplit_once("} ") else { continue };
        if !filters.iter().all(|f| labels.contains(f)) {
            continue;
        }
        let Some(le) = labels.split(',').find_map(|l| l.trim().strip_prefix("le=\"")).map(|v| v.trim_end_matches('"'))
        else {
            continue;
        };
        let le = if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap_or(f64::NAN) };
        let count: f64 = value.trim().parse().unwrap_or(0.0);
        match out.iter_mut().find(|(l, _)| *l == le) {
            Some(slot) => slot.1 += count,
            None => out.push((le, count)),
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// `after - before` per bucket: the observations made between two scrapes.
pub fn delta(after: &[(f64, f64)], before: &[(f64, f64)]) -> Vec<(f64, f64)> {
    after
        .iter()
        .map(|(le, c)| (*le, c - before.iter().find(|(l, _)| l == le).map(|(_, b)| *b).unwrap_or(0.0)))
        .collect()
}

/// The upper bound of the bucket holding quantile `q` (as Prometheus'
/// `histogram_quantile` without interpolation): a conservative figure.
pub fn quantile_bound(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total == 0.0 {
        return None;
    }
    buckets.iter().find(|(_, c)| *c >= q * total).map(|(le, _)| *le)
}

/// The share of observations in each bucket (not cumulative), as `(le, share)`.
pub fn shares(buckets: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let total = buckets.last().map(|b| b.1).unwrap_or(0.0);
    let mut previous = 0.0;
    buckets
        .iter()
        .map(|(le, c)| {
            let share = if total > 0.0 { (c - previous) / total } else { 0.0 };
            previous = *c;
            (*le, share)
        })
        .collect()
}

/// The value of the sample `name{labels}` (`name` alone for a sample without labels),
/// e.g. `value(text, "x_total", "{source=\"cache\"}")`; `None` when it is not exposed.
pub fn value(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{labels} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# TYPE h histogram\n\
        h_bucket{endpoint=\"/validate\",le=\"0.001\"} 90\n\
        h_bucket{endpoint=\"/validate\",le=\"0.005\"} 99\n\
        h_bucket{endpoint=\"/validate\",le=\"+Inf\"} 100\n\
        h_bucket{endpoint=\"/mutate\",le=\"0.001\"} 5\n\
        h_bucket{endpoint=\"/mutate\",le=\"+Inf\"} 5\n";

    #[test]
    fn quantiles_come_from_the_filtered_series() {
        let b = buckets(TEXT, "h", &["endpoint=\"/validate\""]);
        assert_eq!(b, vec![(0.001, 90.0), (0.005, 99.0), (f64::INFINITY, 100.0)]);
        assert_eq!(quantile_bound(&b, 0.5), Some(0.001));
        assert_eq!(quantile_bound(&b, 0.99), Some(0.005));
        assert_eq!(quantile_bound(&b, 0.999), Some(f64::INFINITY));
        let all = buckets(TEXT, "h", &[]);
        assert_eq!(all[0], (0.001, 95.0));
    }

    #[test]
    fn delta_keeps_only_the_new_observations() {
        let before = vec![(0.001, 90.0), (f64::INFINITY, 100.0)];
        let after = vec![(0.001, 95.0), (f64::INFINITY, 110.0)];
        assert_eq!(delta(&after, &before), vec![(0.001, 5.0), (f64::INFINITY, 10.0)]);
    }

    #[test]
    fn a_sample_is_found_by_its_exact_name_and_labels() {
        let text = "# TYPE g gauge\ng 3\ng_total{source=\"cache\"} 7\ng_total{source=\"apiserver\"} 2\n";
        assert_eq!(value(text, "g", ""), Some(3.0));
        assert_eq!(value(text, "g_total", "{source=\"apiserver\"}"), Some(2.0));
        assert_eq!(value(text, "g_total", ""), None);
        assert_eq!(value(text, "h", ""), None);
    }

    #[test]
    fn shares_add_up_to_one() {
        let s = shares(&buckets(TEXT, "h", &["endpoint=\"/validate\""]));
        assert_eq!(s.iter().map(|x| x.1).sum::<f64>(), 1.0);
        assert_eq!(s[0], (0.001, 0.9));
    }
}
