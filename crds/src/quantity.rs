//! Parsing of Kubernetes resource quantities (`500m`, `2.5Gi`, `1e3`), enough to
//! compare a request with a limit. Kubernetes' own parser is Go; the crates that
//! port it drag in big-decimal stacks for exactness admission does not need.

use crate::Error;

/// The factor of a binary suffix's letter (`Ki` … `Ei`).
fn binary(letter: u8) -> Option<f64> {
    Some(match letter {
        b'K' => 1024.0,
        b'M' => 1_048_576.0,
        b'G' => 1_073_741_824.0,
        b'T' => 1_099_511_627_776.0,
        b'P' => 1_125_899_906_842_624.0,
        b'E' => 1_152_921_504_606_846_976.0,
        _ => return None,
    })
}

/// The factor of a decimal suffix (`n` … `E`).
fn decimal(letter: u8) -> Option<f64> {
    Some(match letter {
        b'n' => 1e-9,
        b'u' => 1e-6,
        b'm' => 1e-3,
        b'k' => 1e3,
        b'M' => 1e6,
        b'G' => 1e9,
        b'T' => 1e12,
        b'P' => 1e15,
        b'E' => 1e18,
        _ => return None,
    })
}

/// Splits a quantity into its number and its suffix's factor. Looked up by the last
/// byte or two rather than by trying every suffix: every review parses dozens of
/// quantities, and trying fifteen suffixes each was a tenth of a review's cost.
fn split(q: &str) -> (&str, f64) {
    let b = q.as_bytes();
    match b {
        [.., letter, b'i'] => match binary(*letter) {
            // Both bytes are ASCII, so the cut is on a character boundary.
            Some(f) => (&q[..q.len() - 2], f),
            None => (q, 1.0),
        },
        [.., last] => match decimal(*last) {
            Some(f) => (&q[..q.len() - 1], f),
            None => (q, 1.0),
        },
        [] => (q, 1.0),
    }
}

/// Parses a quantity into its value in base units (cores, bytes).
pub fn parse(q: &str) -> Result<f64, Error> {
    let bad = || Error::Quantity(q.to_string());
    let q = q.trim();
    if q.is_empty() || q.len() > 64 {
        return Err(bad());
    }
    let (number, factor) = split(q);
    // Only digits, one dot, an optional sign and an exponent: reject "inf", "NaN", "0x10".
    let plain = number.trim_start_matches(['+', '-']);
    let (mantissa, exponent) = match plain.split_once(['e', 'E']) {
        Some((m, e)) if factor == 1.0 => (m, Some(e)),
        _ => (plain, None),
    };
    let digits_ok = !mantissa.is_empty()
        && mantissa.chars().all(|c| c.is_ascii_digit() || c == '.')
        && mantissa.matches('.').count() <= 1
        && mantissa != ".";
    let exp_ok = exponent
        .map(|e| {
            let e = e.trim_start_matches(['+', '-']);
            !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
        })
        .unwrap_or(true);
    if !digits_ok || !exp_ok {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    if !value.is_finite() || value < 0.0 {
        return Err(bad());
    }
    Ok(value * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_kubernetes_accepts() {
        let cases = [
            ("500m", 0.5),
            ("2", 2.0),
            ("0.5", 0.5),
            ("128Mi", 134_217_728.0),
            ("2.5Gi", 2_684_354_560.0),
            ("1k", 1000.0),
            ("1e3", 1000.0),
            ("1M", 1e6),
        ];
        for (q, want) in cases {
            let got = parse(q).unwrap_or(f64::NAN);
            assert!((got - want).abs() < 1e-6, "{q}: {got} != {want}");
        }
    }

    #[test]
    fn rejects_what_kubernetes_rejects() {
        for q in ["", "abc", "12x", "1.2.3", "inf", "NaN", "-1", "Mi", ".", "0x10", "1e", "1Gie3"] {
            assert!(parse(q).is_err(), "{q} parsed");
        }
    }

    #[test]
    fn compares_across_units() {
        assert!(parse("100m").unwrap_or(0.0) < parse("1").unwrap_or(0.0));
        assert!(parse("1Gi").unwrap_or(0.0) > parse("1G").unwrap_or(0.0));
    }

    /// The lookup this module used before: every suffix tried in turn, binary first.
    fn split_by_trying_every_suffix(q: &str) -> (&str, f64) {
        const BINARY: [(&str, f64); 6] = [
            ("Ki", 1024.0),
            ("Mi", 1_048_576.0),
            ("Gi", 1_073_741_824.0),
            ("Ti", 1_099_511_627_776.0),
            ("Pi", 1_125_899_906_842_624.0),
            ("Ei", 1_152_921_504_606_846_976.0),
        ];
        const DECIMAL: [(&str, f64); 9] = [
            ("n", 1e-9),
            ("u", 1e-6),
            ("m", 1e-3),
            ("k", 1e3),
            ("M", 1e6),
            ("G", 1e9),
            ("T", 1e12),
            ("P", 1e15),
            ("E", 1e18),
        ];
        BINARY
            .iter()
            .chain(DECIMAL.iter())
            .find_map(|(suffix, f)| q.strip_suffix(suffix).map(|n| (n, *f)))
            .unwrap_or((q, 1.0))
    }

    proptest::proptest! {
        #[test]
        fn the_suffix_lookup_agrees_with_trying_every_suffix(q in "[0-9.eE+-]{0,4}[KMGTPEnumkiIx\\u{e9}]{0,2}") {
            let (a, b) = (split(&q), split_by_trying_every_suffix(&q));
            proptest::prop_assert_eq!(a.0, b.0);
            proptest::prop_assert_eq!(a.1.to_bits(), b.1.to_bits());
        }
    }
}
