//! Numbers as a person reads them: counts with thousands separators, percentages with as many
//! digits as they need and never rounded to a value they are not (6.12 -> "6.1%", 99.97 ->
//! "99.9%", never "100%" unless it is).

/// `n` with thousands separators: `9977` -> `9,977`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A percentage `v` (0..=100): `0%`, `0.11%`, `6.1%`, `10%`, `99.9%`, `100%`; `<0.01%` for
/// small non-zero values. Never shows 0% or 100% for a value that is not exactly that.
pub fn percent(v: f64) -> String {
    if v <= 0.0 {
        return "0%".into();
    }
    if v >= 100.0 {
        return "100%".into();
    }
    if v < 0.01 {
        return "<0.01%".into();
    }
    let text = if v < 1.0 {
        format!("{v:.2}")
    } else if v >= 99.95 {
        "99.9".into()
    } else {
        format!("{v:.1}")
    };
    let text = text.strip_suffix(".0").unwrap_or(&text).to_string();
    format!("{text}%")
}

/// `part` of `whole` as a percentage ([`percent`]); `None` when `whole` is 0.
pub fn percent_of(part: u64, whole: u64) -> Option<String> {
    (whole > 0).then(|| percent(100.0 * part as f64 / whole as f64))
}

/// A plain decimal without trailing zeros: `3.0` -> `3`, `1.5` -> `1.5`.
pub fn plain(v: f64) -> String {
    let text = format!("{v:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `n` and the noun, singular or plural: `1 device`, `2 devices`.
pub fn things(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_get_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(9_977), "9,977");
        assert_eq!(count(1_705_525), "1,705,525");
    }

    #[test]
    fn percentages_never_round_to_what_they_are_not() {
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(100.0 * 3.0 / 49.0), "6.1%");
        assert_eq!(percent(10.0), "10%");
        assert_eq!(percent(1.12), "1.1%");
        assert_eq!(percent(0.113), "0.11%");
        assert_eq!(percent(0.004), "<0.01%");
        assert_eq!(percent(99.97), "99.9%");
        assert_eq!(percent(100.0), "100%");
        assert_eq!(percent_of(1, 0), None);
        assert_eq!(percent_of(9_998, 10_000).as_deref(), Some("99.9%"));
    }

    #[test]
    fn plain_decimals_and_plurals() {
        assert_eq!(plain(3.0), "3");
        assert_eq!(plain(1.5), "1.5");
        assert_eq!(things(1, "device", "devices"), "1 device");
        assert_eq!(things(2_000, "device", "devices"), "2,000 devices");
    }
}
