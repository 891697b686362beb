//! Battery drain: noise, charging periods, days left, cohort anomalies.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use telemetry_core::fleet::battery::{
    BatterySample, DeviceDrain, DrainAnomaly, DrainPolicy, DrainTracker, drain_anomalies,
    drain_rate,
};
use telemetry_core::fleet::registry::AttrId;
use telemetry_core::fleet::report::FirmwareVersion;

/// Deterministic noise in [-1, 1].
fn noise(i: u64) -> f64 {
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xdead_beef;
    x ^= x >> 29;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 32;
    (x % 2001) as f64 / 1000.0 - 1.0
}

/// Hourly readings: 2 %/day drain with +-1 point noise, a charge to 100% on day 10.
fn series() -> Vec<BatterySample> {
    let mut out = Vec::new();
    let mut level = 90.0;
    for h in 0..(20 * 24u64) {
        let day = h / 24;
        let charging = day == 10 && h % 24 < 6;
        if charging {
            level = (level + 10.0_f64).min(100.0);
        } else {
            level -= 2.0 / 24.0;
        }
        out.push(BatterySample {
            t: 1_700_000_000 + h * 3600,
            percent: (level + noise(h)).clamp(0.0, 100.0),
            charging,
        });
    }
    out
}

#[test]
fn theil_sen_ignores_charging_and_noise() {
    let rate = drain_rate(&series()).unwrap();
    assert!((rate - 2.0).abs() < 0.1, "{rate}");
}

#[test]
fn theil_sen_ignores_an_unflagged_charge_and_outliers() {
    let mut s = series();
    for x in &mut s {
        x.charging = false; // the device never says it charges
    }
    // A few wild readings.
    for i in [30usize, 31, 200, 201, 202] {
        if let Some(x) = s.get_mut(i) {
            x.percent = 3.0;
        }
    }
    let rate = drain_rate(&s).unwrap();
    assert!((rate - 2.0).abs() < 0.15, "{rate}");
}

#[test]
fn drain_rate_needs_two_readings() {
    assert_eq!(drain_rate(&[]), None);
    let one = BatterySample {
        t: 5,
        percent: 50.0,
        charging: false,
    };
    assert_eq!(drain_rate(&[one]), None);
}

#[test]
fn tracker_follows_discharge_across_a_charge() {
    let mut t = DrainTracker::default();
    for s in series() {
        t.update(s.t, s.percent.round() as u8, s.charging);
    }
    let rate = t.rate_per_day().unwrap();
    assert!((rate - 2.0).abs() < 0.15, "{rate}");
    let days = t.days_left().unwrap();
    // About 80 points left after the charge and 10 days of drain -> ~40 days.
    assert!(days > 30.0 && days < 50.0, "{days}");
}

#[test]
fn tracker_uses_previous_segment_right_after_a_charge() {
    let mut t = DrainTracker::default();
    for h in 0..48u64 {
        t.update(h * 3600, 90 - (h / 8) as u8, false);
    }
    let before = t.rate_per_day().unwrap();
    assert!((before - 3.0).abs() < 0.3, "{before}");
    t.update(48 * 3600, 95, true);
    t.update(49 * 3600, 100, false);
    // One reading in the new segment: the previous segment's rate stands (kept to 0.01
    // points per day).
    let after = t.rate_per_day().unwrap();
    assert!((after - before).abs() <= 0.005, "{after} vs {before}");
}

#[test]
fn tracker_without_enough_data_says_nothing() {
    let mut t = DrainTracker::default();
    t.update(0, 50, false);
    t.update(3600, 50, false);
    assert_eq!(t.rate_per_day(), None);
    assert_eq!(t.days_left(), None);
}

fn drains() -> Vec<DeviceDrain> {
    let mut out = Vec::new();
    let fw_old = FirmwareVersion::new(1, 1, 0);
    let fw_new = FirmwareVersion::new(1, 2, 0);
    for i in 0..60u64 {
        // Hardware A: 1.0 %/day on 1.1.0, 2.0 %/day on 1.2.0 (a power regression).
        let new = i % 3 == 0;
        out.push(DeviceDrain {
            device: i,
            hardware: AttrId(1),
            firmware: if new { fw_new } else { fw_old },
            rate_per_day: if new { 2.0 } else { 1.0 } + noise(i) * 0.05,
        });
    }
    // Hardware B drains faster by design; same firmware mix, no regression.
    for i in 100..130u64 {
        out.push(DeviceDrain {
            device: i,
            hardware: AttrId(2),
            firmware: if i % 2 == 0 { fw_new } else { fw_old },
            rate_per_day: 3.0 + noise(i) * 0.05,
        });
    }
    // One sick device on hardware B.
    out.push(DeviceDrain {
        device: 999,
        hardware: AttrId(2),
        firmware: fw_old,
        rate_per_day: 9.0,
    });
    out
}

#[test]
fn anomalies_find_the_firmware_regression_and_the_sick_device() {
    let found = drain_anomalies(&drains(), &DrainPolicy::default());
    let firmware: Vec<_> = found
        .iter()
        .filter_map(|a| match a {
            DrainAnomaly::Firmware {
                hardware,
                firmware,
                devices,
                ..
            } => Some((*hardware, *firmware, *devices)),
            _ => None,
        })
        .collect();
    assert_eq!(
        firmware,
        vec![(AttrId(1), FirmwareVersion::new(1, 2, 0), 20)]
    );
    let devices: Vec<u64> = found
        .iter()
        .filter_map(|a| match a {
            DrainAnomaly::Device { device, .. } => Some(*device),
            _ => None,
        })
        .collect();
    // Hardware A's median is ~1.0, so its 1.2.0 devices (2.0) stand out too; on B only 999.
    assert!(devices.contains(&999));
    assert!(!devices.iter().any(|d| (100..130).contains(d)));
    assert_eq!(devices.iter().filter(|d| **d < 60).count(), 20);
}

#[test]
fn small_cohorts_are_not_judged() {
    let policy = DrainPolicy {
        min_cohort: 1000,
        ..DrainPolicy::default()
    };
    assert!(drain_anomalies(&drains(), &policy).is_empty());
}

#[test]
fn registry_drains_feed_the_anomaly_search() {
    use telemetry_core::fleet::battery::device_drains;
    use telemetry_core::fleet::registry::{DeviceAttributes, Registry};
    use telemetry_core::fleet::report::Report;
    let mut reg = Registry::default();
    for d in 0..20u64 {
        reg.provision(
            d,
            &DeviceAttributes {
                hardware: "A".into(),
                ..DeviceAttributes::default()
            },
        )
        .unwrap();
        // Device 7 drains 4 points a day, the others 1; hourly reports for three days.
        let per_day = if d == 7 { 4.0 } else { 1.0 };
        for h in 0..72u32 {
            let pct = (90.0 - per_day * f64::from(h) / 24.0).round() as u8;
            let r = Report {
                boot_id: 1,
                sequence: h,
                battery_percent: Some(pct),
                charging: Some(false),
                ..Report::default()
            };
            reg.observe(d, 1_000 + u64::from(h) * 3600, &r).unwrap();
        }
    }
    let drains = device_drains(&reg);
    assert_eq!(drains.len(), 20);
    let found = drain_anomalies(&drains, &DrainPolicy::default());
    assert_eq!(found.len(), 1, "{found:?}");
    match found[0] {
        DrainAnomaly::Device {
            device,
            rate_per_day,
            cohort_median,
            ..
        } => {
            assert_eq!(device, 7);
            assert!((rate_per_day - 4.0).abs() < 0.2, "{rate_per_day}");
            assert!((cohort_median - 1.0).abs() < 0.1, "{cohort_median}");
        }
        other => panic!("{other:?}"),
    }
}
