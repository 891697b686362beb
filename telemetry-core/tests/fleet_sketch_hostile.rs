//! Sketches from other shards cannot break the fleet view: forged or corrupted shards are
//! refused on decode, `quantile` is total, and our sketch keeps DDSketch's guarantees (checked
//! against the `sketches-ddsketch` crate at the same accuracy).
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use telemetry_core::fleet::sketch::{MAX_BUCKETS, QuantileSketch, SketchConfig, SketchError};

fn sketch_of(values: &[f64]) -> QuantileSketch {
    let mut s = QuantileSketch::default();
    for v in values {
        s.insert(*v);
    }
    s
}

/// A sketch's JSON with one field replaced.
fn forged(field: &str, value: serde_json::Value) -> String {
    let mut j = serde_json::to_value(sketch_of(&[1.0, 5.0, 70.0])).unwrap();
    let mut at = &mut j;
    for part in field.split('.') {
        at = &mut at[part];
    }
    *at = value;
    j.to_string()
}

fn decode(json: &str) -> Result<QuantileSketch, String> {
    serde_json::from_str::<QuantileSketch>(json).map_err(|e| e.to_string())
}

#[test]
fn forged_shards_are_refused_with_what_was_wrong() {
    use serde_json::json;
    let cases = [
        ("min", json!(100.0), "max"), // min > max
        ("min", json!(null), "min"),  // missing extreme with values held
        (
            "config.relative_accuracy",
            json!(1e-12),
            "relative accuracy",
        ),
        ("config.relative_accuracy", json!(1e-8), "relative accuracy"),
        ("config.relative_accuracy", json!(0.9), "relative accuracy"),
        ("config.min_value", json!(0.0), "relative accuracy"),
        ("positive.offset", json!(2_000_000_000), "outside the range"),
        ("count", json!(2), "holds 2 values"),
        ("zero", json!(u64::MAX), "holds"),
    ];
    for (field, value, says) in cases {
        let err = decode(&forged(field, value.clone())).unwrap_err();
        assert!(err.contains(says), "{field}={value}: {err}");
    }
    // NaN cannot be written in JSON; the typed check refuses it from any format.
    let nan = QuantileSketch::default();
    assert!(serde_json::to_string(&nan).unwrap().contains("null"));
    let mut empty_with_min = serde_json::to_value(nan).unwrap();
    empty_with_min["min"] = json!(3.0);
    assert!(
        decode(&empty_with_min.to_string())
            .unwrap_err()
            .contains("min")
    );
}

#[test]
fn postcard_shards_with_nan_extremes_are_refused() {
    let s = sketch_of(&[2.0, 3.0]);
    let mut bytes = postcard::to_allocvec(&s).unwrap();
    // The last two fields are `Option<f64>` min and max: 0x01 then 8 little-endian bytes.
    let n = bytes.len();
    bytes[n - 8..].copy_from_slice(&f64::NAN.to_le_bytes());
    let err = postcard::from_bytes::<QuantileSketch>(&bytes).unwrap_err();
    assert!(!err.to_string().is_empty());
    let ok = postcard::from_bytes::<QuantileSketch>(&postcard::to_allocvec(&s).unwrap()).unwrap();
    assert_eq!(ok, s);
}

#[test]
fn infinities_are_clamped_and_survive_a_round_trip() {
    let s = sketch_of(&[f64::INFINITY, f64::NEG_INFINITY, 1.0, f64::NAN]);
    let max = s.config().max_value;
    assert_eq!((s.count(), s.min(), s.max()), (3, Some(-max), Some(max)));
    let back = decode(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.quantile(1.0), Some(max));
    assert_eq!(back.quantile(0.0), Some(-max));
}

#[test]
fn configurations_are_bounded() {
    let c = |a: f64, lo: f64, hi: f64| SketchConfig {
        relative_accuracy: a,
        min_value: lo,
        max_value: hi,
    };
    for bad in [
        c(1e-12, 1e-6, 1e9),
        c(1e-8, 1e-6, 1e9),
        c(0.001, 1e-300, 1e300),
        c(f64::NAN, 1.0, 2.0),
        c(0.01, 0.0, 1.0),
    ] {
        assert!(
            matches!(
                QuantileSketch::new(bad),
                Err(SketchError::InvalidConfig { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(QuantileSketch::new(c(1e-4, 1e-2, 1e3)).is_ok());
    const { assert!(MAX_BUCKETS >= 1 << 16) };
}

proptest! {
    #[test]
    fn quantile_is_total(values in proptest::collection::vec(any::<f64>(), 0..50), q in any::<f64>()) {
        let s = sketch_of(&values);
        let v = s.quantile(q);
        prop_assert_eq!(v.is_some(), s.count() > 0);
        if let (Some(v), Some(lo), Some(hi)) = (v, s.min(), s.max()) {
            prop_assert!(v.is_finite() && lo <= v && v <= hi);
        }
    }

    #[test]
    fn any_bytes_decode_to_a_valid_sketch_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(s) = postcard::from_bytes::<QuantileSketch>(&bytes) {
            for q in [0.0, 0.5, 0.99, 1.0, f64::NAN] {
                let _ = s.quantile(q);
            }
            let mut m = QuantileSketch::default();
            let _ = m.merge(&s);
        }
    }

    /// Same accuracy as the reference implementation, against exact quantiles.
    #[test]
    fn as_accurate_as_sketches_ddsketch(
        values in proptest::collection::vec(prop_oneof![0.001f64..1.0, 1.0f64..1e6, -1e4f64..-0.01], 1..500),
        q in 0.0f64..=1.0,
    ) {
        let a = 0.01;
        let ours = sketch_of(&values);
        let mut theirs = sketches_ddsketch::DDSketch::new(sketches_ddsketch::Config::new(a, 4096, 1e-6));
        for v in &values {
            theirs.add(*v);
        }
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let exact = sorted[(q * (sorted.len() - 1) as f64).floor() as usize];
        let o = ours.quantile(q).unwrap();
        prop_assert!((o - exact).abs() <= a * exact.abs() + 1e-9, "ours {o} exact {exact}");
        // The reference sketch picks its rank slightly differently; both stay within the
        // accuracy of a value within one rank of it.
        let t = theirs.quantile(q).unwrap().unwrap();
        let i = (q * (sorted.len() - 1) as f64).floor() as usize;
        let near = |v: f64| sorted[i.saturating_sub(1)..(i + 2).min(sorted.len())].iter().any(|e| (v - e).abs() <= a * e.abs() + 1e-9);
        prop_assert!(near(t), "theirs {t} exact {exact}");
    }

    /// Merging shards gives exactly the single-pass sketch (ours), and the same quantiles as
    /// the reference implementation's merge.
    #[test]
    fn merges_exactly(values in proptest::collection::vec(0.01f64..1e5, 2..400), cut in 1usize..399) {
        let cut = cut.min(values.len() - 1);
        let mut merged = sketch_of(&values[..cut]);
        merged.merge(&sketch_of(&values[cut..])).unwrap();
        prop_assert_eq!(&merged, &sketch_of(&values));
        let cfg = sketches_ddsketch::Config::new(0.01, 4096, 1e-6);
        let mut t1 = sketches_ddsketch::DDSketch::new(cfg);
        let mut t2 = sketches_ddsketch::DDSketch::new(cfg);
        values[..cut].iter().for_each(|v| t1.add(*v));
        values[cut..].iter().for_each(|v| t2.add(*v));
        t1.merge(&t2).unwrap();
        prop_assert_eq!(t1.count() as u64, merged.count());
    }
}
