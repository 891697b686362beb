//! The Prometheus export: what promtool says about it, and `sum()` over every family.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};

use telemetry_core::fleet::aggregate::FleetAggregate;
use telemetry_core::fleet::prometheus::render;
use telemetry_core::fleet::registry::{DeviceAttributes, Registry};
use telemetry_core::fleet::report::{FirmwareVersion, RebootCause, Report};

/// 60 devices over 3 firmware versions, 3 hardware revisions (one with a hostile name) and
/// 2 regions; 50 have reported, some several times and with fault reboots.
fn fleet() -> Registry {
    let mut reg = Registry::default();
    for id in 0..60u64 {
        let hardware = match id % 3 {
            0 => "A".to_string(),
            1 => "B".to_string(),
            _ => "rev \"C\"\\\n".to_string(),
        };
        reg.provision(
            id,
            &DeviceAttributes {
                hardware,
                lot: format!("lot-{}", id % 4),
                region: if id % 2 == 0 { "eu" } else { "us" }.into(),
            },
        )
        .unwrap();
        if id >= 50 {
            continue;
        }
        for seq in 0..(1 + id % 4) as u32 {
            reg.observe(
                id,
                100 + u64::from(seq) * 60,
                &Report {
                    sequence: seq,
                    battery_percent: Some((20 + id % 80) as u8),
                    temperature_dc: Some(-50 + 7 * id as i16),
                    rssi_dbm: Some(-60 - (id % 40) as i8),
                    firmware: Some(FirmwareVersion::new(1, (id % 3) as u8, 0)),
                    reboot_cause: (seq == 1 && id % 5 == 0).then_some(RebootCause::Watchdog),
                    ..Report::default()
                },
            )
            .unwrap();
        }
    }
    reg
}

/// Parses sample lines into (family, labels, value); checks the line shape on the way.
fn samples(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value in {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.strip_suffix('}').unwrap()),
            None => (series, ""),
        };
        let mut map = BTreeMap::new();
        // Label values here hold no `",` sequence except the hostile hardware name's own
        // escapes, which this splitter keeps inside the value.
        let mut rest = labels;
        while !rest.is_empty() {
            let (k, v) = rest.split_once("=\"").unwrap();
            let mut end = 0;
            let bytes = v.as_bytes();
            while bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            map.insert(k.to_string(), v[..end].to_string());
            rest = v[end + 1..].trim_start_matches(',');
        }
        out.push((name.to_string(), map, value));
    }
    out
}

fn family_sum(s: &[(String, BTreeMap<String, String>, f64)], name: &str) -> f64 {
    s.iter()
        .filter(|(n, _, _)| n == name)
        .map(|(_, _, v)| v)
        .sum()
}

#[test]
fn sum_over_every_family_is_the_fleet_total() {
    let reg = fleet();
    let agg = FleetAggregate::from_registry(&reg);
    let fleet = agg.fleet().unwrap().clone();
    let text = render(&agg);
    let s = samples(&text);
    for cut in ["", "_by_firmware", "_by_hardware", "_by_region"] {
        assert_eq!(
            family_sum(&s, &format!("fleet_devices{cut}")),
            60.0,
            "{cut}"
        );
        for (stem, want) in [
            ("fleet_frames", fleet.frames),
            ("fleet_reboots", fleet.reboots),
            ("fleet_fault_reboots", fleet.fault_reboots),
            ("fleet_missed_frames", fleet.missed_frames),
            ("fleet_bad_frames", fleet.bad_frames),
        ] {
            assert_eq!(
                family_sum(&s, &format!("{stem}{cut}_total")),
                want as f64,
                "{stem}{cut}"
            );
        }
        for stem in [
            "fleet_battery_charge_percent",
            "fleet_temperature_celsius",
            "fleet_rssi_dbm",
        ] {
            assert_eq!(
                family_sum(&s, &format!("{stem}{cut}_count")),
                50.0,
                "{stem}{cut}"
            );
        }
    }
    // Frames: device i reported 1 + i % 4 times.
    let frames: u64 = (0..50u64).map(|i| 1 + i % 4).sum();
    assert_eq!(family_sum(&s, "fleet_frames_total"), frames as f64);
    assert_eq!(fleet.frames, frames);
    // By state: 50 online (just reported), 10 never heard from.
    let unseen: f64 = s
        .iter()
        .filter(|(n, l, _)| n == "fleet_devices" && l["state"] == "unseen")
        .map(|(_, _, v)| v)
        .sum();
    assert_eq!(unseen, 10.0);
    // No family holds both a fleet total and a breakdown.
    for (n, l, _) in &s {
        let cut_labels = ["firmware", "hardware", "region"];
        let has_cut = l.keys().any(|k| cut_labels.contains(&k.as_str()));
        assert_eq!(has_cut, n.contains("_by_"), "{n} {l:?}");
    }
}

#[test]
fn summaries_have_quantiles_sum_and_count() {
    let agg = FleetAggregate::from_registry(&fleet());
    let text = render(&agg);
    assert!(text.contains("# TYPE fleet_battery_charge_percent summary\n"));
    assert!(text.contains("# TYPE fleet_temperature_celsius_by_hardware summary\n"));
    let s = samples(&text);
    // Battery 20..=69 on the 50 reporting devices: mean 44.5, median about 44.
    let sum = family_sum(&s, "fleet_battery_charge_percent_sum");
    let count = family_sum(&s, "fleet_battery_charge_percent_count");
    assert_eq!(count, 50.0);
    assert!((sum / count - 44.5).abs() < 44.5 * 0.011, "{}", sum / count);
    let median = s
        .iter()
        .find(|(n, l, _)| {
            n == "fleet_battery_charge_percent"
                && l.get("quantile").map(String::as_str) == Some("0.5")
        })
        .unwrap()
        .2;
    assert!((median - 44.0).abs() <= 44.0 * 0.011, "{median}");
    // Temperature goes negative: the estimated sum keeps the sign.
    let t_sum = family_sum(&s, "fleet_temperature_celsius_sum");
    let exact: f64 = (0..50).map(|i| (-50.0 + 7.0 * f64::from(i)) / 10.0).sum();
    assert!((t_sum - exact).abs() < 0.02 * 130.0, "{t_sum} vs {exact}");
}

#[test]
fn label_values_are_escaped() {
    let text = render(&FleetAggregate::from_registry(&fleet()));
    assert!(
        text.contains(
            "fleet_devices_by_hardware{hardware=\"rev \\\"C\\\"\\\\\\n\",state=\"online\"} 16"
        ),
        "{text}"
    );
}

#[test]
fn promtool_accepts_the_export() {
    let text = render(&FleetAggregate::from_registry(&fleet()));
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        println!("SKIP: promtool is not installed; the export was not checked by promtool");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{text}"
    );
    // An empty fleet is valid too.
    let empty = render(&FleetAggregate::default());
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(empty.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn estimated_sum_merges_exactly_and_is_within_the_accuracy() {
    use telemetry_core::fleet::sketch::QuantileSketch;
    let values: Vec<f64> = (0..5_000)
        .map(|i| 0.5 + f64::from(i % 977) * 0.37)
        .collect();
    let (mut all, mut a, mut b) = (
        QuantileSketch::default(),
        QuantileSketch::default(),
        QuantileSketch::default(),
    );
    for (i, v) in values.iter().enumerate() {
        all.insert(*v);
        if i % 3 == 0 {
            a.insert(*v)
        } else {
            b.insert(*v)
        }
    }
    b.merge(&a).unwrap();
    // A function of the buckets alone: the merged shards give the very same bits.
    assert_eq!(b.estimated_sum().to_bits(), all.estimated_sum().to_bits());
    let exact: f64 = values.iter().sum();
    let accuracy = all.config().relative_accuracy;
    assert!(
        (all.estimated_sum() - exact).abs() <= exact * accuracy,
        "{} vs {exact}",
        all.estimated_sum()
    );
    assert_eq!(QuantileSketch::default().estimated_sum(), 0.0);
}
