//! Mergeable sketches and aggregates: sharded merge == single pass.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use telemetry_core::fleet::aggregate::{Dimension, FleetAggregate, Scope};
use telemetry_core::fleet::registry::{DeviceAttributes, Registry};
use telemetry_core::fleet::report::{FirmwareVersion, Report};
use telemetry_core::fleet::sketch::{QuantileSketch, SketchConfig, SketchError};

fn sketch_of(values: &[f64]) -> QuantileSketch {
    let mut s = QuantileSketch::default();
    for v in values {
        s.insert(*v);
    }
    s
}

proptest! {
    #[test]
    fn sharded_merge_equals_single_pass(
        values in proptest::collection::vec(-1e6f64..1e6, 0..400),
        cuts in proptest::collection::vec(0usize..400, 0..6),
    ) {
        let single = sketch_of(&values);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(values.len())).collect();
        cuts.push(0);
        cuts.push(values.len());
        cuts.sort_unstable();
        // Merge the shards in reverse order to show order does not matter either.
        let mut merged = QuantileSketch::default();
        for w in cuts.windows(2).rev() {
            merged.merge(&sketch_of(&values[w[0]..w[1]])).unwrap();
        }
        prop_assert_eq!(merged, single);
    }

    #[test]
    fn quantiles_within_relative_accuracy(values in proptest::collection::vec(0.01f64..1e5, 1..300), q in 0.0f64..=1.0) {
        let s = sketch_of(&values);
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = (q * (sorted.len() - 1) as f64).floor() as usize;
        let exact = sorted[rank];
        let got = s.quantile(q).unwrap();
        prop_assert!((got - exact).abs() <= 0.01 * exact + 1e-9, "q={} exact={} got={}", q, exact, got);
    }
}

#[test]
fn negatives_zero_and_extremes() {
    let s = sketch_of(&[-20.0, -5.0, 0.0, 0.0, 3.0, 1e12]);
    assert_eq!(s.count(), 6);
    assert_eq!(s.min(), Some(-20.0));
    // Above max_value (1e9 by default) a value is stored as max_value.
    assert_eq!(s.max(), Some(1e9));
    let q0 = s.quantile(0.0).unwrap();
    assert!((q0 + 20.0).abs() <= 0.2 + 1e-9, "{q0}");
    assert_eq!(s.quantile(0.5).unwrap(), 0.0);
    assert!(QuantileSketch::default().quantile(0.5).is_none());
}

#[test]
fn mismatched_configs_do_not_merge() {
    let mut a = QuantileSketch::default();
    let b = QuantileSketch::new(SketchConfig {
        relative_accuracy: 0.02,
        ..SketchConfig::default()
    })
    .unwrap();
    let err = a.merge(&b).unwrap_err();
    assert!(matches!(err, SketchError::Mismatch { .. }));
    assert!(err.to_string().contains("same configuration"));
    assert!(
        QuantileSketch::new(SketchConfig {
            relative_accuracy: 1.5,
            ..SketchConfig::default()
        })
        .is_err()
    );
}

fn fleet(ids: impl Iterator<Item = u64>) -> Registry {
    let mut reg = Registry::default();
    for id in ids {
        let hw = ["A", "B", "C"][(id % 3) as usize];
        let region = ["eu", "us"][(id % 2) as usize];
        reg.provision(
            id,
            &DeviceAttributes {
                hardware: hw.into(),
                lot: format!("L{}", id % 5),
                region: region.into(),
            },
        )
        .unwrap();
        reg.observe(
            id,
            1_000,
            &Report {
                boot_id: 1,
                sequence: 0,
                battery_percent: Some((id * 37 % 101) as u8),
                temperature_dc: Some((id * 13 % 600) as i16 - 200),
                rssi_dbm: Some(-((id % 70) as i8) - 40),
                firmware: Some(FirmwareVersion::new(1, (id % 4) as u8, 0)),
                ..Report::default()
            },
        )
        .unwrap();
        if id % 10 == 0 {
            reg.record_bad_frame(id).unwrap();
        }
    }
    // Devices with id % 4 == 0 fall silent.
    reg
}

#[test]
fn shard_aggregates_merge_into_the_fleet_view() {
    let n = 3_000u64;
    let mut all = fleet(0..n);
    all.sweep(1_000);
    let single = FleetAggregate::from_registry(&all);

    // Three shards with their own interning orders (ids interleaved differently).
    let mut merged = FleetAggregate::default();
    for shard in 0..3u64 {
        let mut reg = fleet((0..n).rev().filter(|id| id % 3 == (shard + 1) % 3));
        reg.sweep(1_000);
        merged.merge(&FleetAggregate::from_registry(&reg)).unwrap();
    }
    assert_eq!(merged, single);
    let f = single.fleet().unwrap();
    assert_eq!(f.online, n);
    assert_eq!(f.bad_frames, n / 10);
    let b = single.group(&Scope::of(Dimension::Hardware, "B")).unwrap();
    assert_eq!(b.devices(), n / 3);
    let fw = single
        .group(&Scope::of(Dimension::Firmware, "1.3.0"))
        .unwrap();
    assert_eq!(fw.devices(), n / 4);
}

#[test]
fn forged_sketches_are_rejected_without_allocating() {
    // A sketch as another shard would send it, with its bucket offset moved far away.
    let good = sketch_of(&[1.0, 2.0, 3.0]);
    let mut json = serde_json::to_value(&good).unwrap();
    json["positive"]["offset"] = serde_json::json!(2_000_000_000);
    let err = serde_json::from_value::<QuantileSketch>(json).unwrap_err();
    assert!(err.to_string().contains("outside the range"), "{err}");
    // A forged count or configuration is refused too.
    let mut json = serde_json::to_value(&good).unwrap();
    json["count"] = serde_json::json!(4);
    let err = serde_json::from_value::<QuantileSketch>(json).unwrap_err();
    assert!(
        err.to_string()
            .contains("holds 4 values but its buckets hold 3"),
        "{err}"
    );
    let mut json = serde_json::to_value(&good).unwrap();
    json["config"]["relative_accuracy"] = serde_json::json!(0.0);
    assert!(serde_json::from_value::<QuantileSketch>(json).is_err());
    // A genuine one round-trips.
    let json = serde_json::to_value(&good).unwrap();
    assert_eq!(
        serde_json::from_value::<QuantileSketch>(json).unwrap(),
        good
    );
    // The aggregate merge is all or nothing too.
    let mut agg = FleetAggregate::from_registry(&fleet(0..30));
    let before = agg.clone();
    let mut bad = FleetAggregate::from_registry(&fleet(30..60));
    let mut v = serde_json::to_value(&bad).unwrap();
    let groups = v["groups"].as_array_mut().unwrap();
    let last = groups.len() - 1;
    groups[last][1]["battery_percent"]["positive"]["offset"] = serde_json::json!(-2_000_000_000);
    assert!(serde_json::from_value::<FleetAggregate>(v).is_err());
    // A sketch configured differently in one group makes the whole merge fail, unchanged.
    let other_config = SketchConfig {
        relative_accuracy: 0.05,
        ..SketchConfig::default()
    };
    let mut v = serde_json::to_value(&bad).unwrap();
    let groups = v["groups"].as_array_mut().unwrap();
    let last = groups.len() - 1;
    groups[last][1]["rssi_dbm"] =
        serde_json::to_value(QuantileSketch::new(other_config).unwrap()).unwrap();
    bad = serde_json::from_value(v).unwrap();
    assert!(matches!(agg.merge(&bad), Err(SketchError::Mismatch { .. })));
    assert_eq!(agg, before);
}
