//! Prometheus text exposition (format 0.0.4) of fleet aggregates.
//!
//! # Layout: one family per cut, so `sum()` is right
//! A [`FleetAggregate`] holds the whole fleet and its breakdowns by firmware, hardware and
//! region. Putting the breakdowns into the fleet total's family would make
//! `sum(fleet_frames_total)` count every frame four times, so each cut gets its own family:
//!
//! | family | labels | `sum()` over the family |
//! |---|---|---|
//! | `fleet_devices` | `state` | every device |
//! | `fleet_devices_by_firmware` | `firmware`, `state` | every device |
//! | `fleet_devices_by_hardware` | `hardware`, `state` | every device |
//! | `fleet_devices_by_region` | `region`, `state` | every device |
//! | `fleet_frames_total` | none | the fleet's frames |
//! | `fleet_frames_by_firmware_total` | `firmware` | the fleet's frames (and so on per cut) |
//!
//! The same holds for every counter ([`COUNTERS`]): `fleet_<what>_total` for the fleet and
//! `fleet_<what>_by_<cut>_total` for a breakdown. `state` is `online`, `offline` or `unseen`
//! (provisioned, never heard from), so the three add up to the provisioned devices.
//!
//! # Distributions are summaries
//! Battery, temperature and signal are Prometheus *summaries*: `quantile` samples (0.1, 0.5,
//! 0.9, 0.99 from the mergeable sketch, within its relative accuracy), `_sum` and `_count`.
//! `_count` is exact; `_sum` is [`QuantileSketch::estimated_sum`], within the sketch's relative
//! accuracy for values of one sign, so `_sum / _count` is a mean to about 1%. Do not
//! aggregate summary quantiles across series (Prometheus cannot); `_sum` and `_count` do add.
//!
//! Every family has `# HELP` and `# TYPE`, counters end in `_total`, and `promtool check
//! metrics` reports nothing (tested when promtool is installed). Label values are escaped as
//! the format requires (`\` -> `\\`, `"` -> `\"`, newline -> `\n`).

extern crate std;

use core::fmt::Write;
use std::string::String;

use super::aggregate::{Dimension, FleetAggregate, GroupStats, Scope};
use super::sketch::QuantileSketch;

/// Quantiles exported for each distribution.
pub const QUANTILES: [f64; 4] = [0.1, 0.5, 0.9, 0.99];

/// The cuts, in exposition order: family suffix and label name (none for the fleet).
const CUTS: [(Dimension, &str, Option<&str>); 4] = [
    (Dimension::Fleet, "", None),
    (Dimension::Firmware, "_by_firmware", Some("firmware")),
    (Dimension::Hardware, "_by_hardware", Some("hardware")),
    (Dimension::Region, "_by_region", Some("region")),
];

fn escape(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// `{k="v",...}` for the given pairs, or nothing when there are none.
fn labels(pairs: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        s.push(if i == 0 { '{' } else { ',' });
        s.push_str(k);
        s.push_str("=\"");
        escape(v, &mut s);
        s.push('"');
    }
    if !s.is_empty() {
        s.push('}');
    }
    s
}

/// A float as the exposition format spells it.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        std::format!("{v}")
    }
}

/// A counter: metric stem (without `_total`), help, accessor.
type Counter = (&'static str, &'static str, fn(&GroupStats) -> u64);

/// The counters exported per cut.
pub const COUNTERS: [Counter; 5] = [
    ("fleet_frames", "Frames accepted", |g| g.frames),
    (
        "fleet_missed_frames",
        "Frames lost in transit (sequence gaps)",
        |g| g.missed_frames,
    ),
    ("fleet_bad_frames", "Frames that did not decode", |g| {
        g.bad_frames
    }),
    ("fleet_reboots", "Device reboots", |g| g.reboots),
    (
        "fleet_fault_reboots",
        "Watchdog, brown-out and fault reboots",
        |g| g.fault_reboots,
    ),
];

/// A distribution: metric name, help, accessor.
type Distribution = (
    &'static str,
    &'static str,
    fn(&GroupStats) -> &QuantileSketch,
);

/// The distributions exported per cut, as summaries.
pub const DISTRIBUTIONS: [Distribution; 3] = [
    (
        "fleet_battery_charge_percent",
        "Battery charge of devices (last report), percent",
        |g| &g.battery_percent,
    ),
    (
        "fleet_temperature_celsius",
        "Temperature of devices (last report), degrees Celsius",
        |g| &g.temperature_c,
    ),
    (
        "fleet_rssi_dbm",
        "Signal strength of devices (last report), dBm",
        |g| &g.rssi_dbm,
    ),
];

/// Renders `aggregate` in the Prometheus text format.
#[must_use]
pub fn render(aggregate: &FleetAggregate) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_all(aggregate, &mut out);
    out
}

/// The groups of one cut with their label (name, value).
fn cut(
    aggregate: &FleetAggregate,
    dimension: Dimension,
) -> impl Iterator<Item = (&Scope, &GroupStats)> {
    aggregate
        .groups()
        .filter(move |(s, _)| s.dimension == dimension)
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) -> core::fmt::Result {
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} {kind}")
}

fn cut_help(label: Option<&str>) -> String {
    label.map_or_else(
        || String::from(", whole fleet."),
        |l| std::format!(", by {l} (sums to the fleet)."),
    )
}

fn write_all(aggregate: &FleetAggregate, out: &mut String) -> core::fmt::Result {
    for (dimension, suffix, label) in CUTS {
        let name = std::format!("fleet_devices{suffix}");
        let help = std::format!(
            "Provisioned devices by link state (online, offline, unseen){}",
            cut_help(label)
        );
        header(out, &name, &help, "gauge")?;
        for (scope, g) in cut(aggregate, dimension) {
            for (state, n) in [
                ("online", g.online),
                ("offline", g.offline),
                ("unseen", g.unseen),
            ] {
                let l = match label {
                    Some(k) => labels(&[(k, &scope.value), ("state", state)]),
                    None => labels(&[("state", state)]),
                };
                writeln!(out, "{name}{l} {n}")?;
            }
        }
    }
    for (stem, help, get) in COUNTERS {
        for (dimension, suffix, label) in CUTS {
            let name = std::format!("{stem}{suffix}_total");
            header(
                out,
                &name,
                &std::format!("{help}{}", cut_help(label)),
                "counter",
            )?;
            for (scope, g) in cut(aggregate, dimension) {
                let l = label.map_or_else(String::new, |k| labels(&[(k, &scope.value)]));
                writeln!(out, "{name}{l} {}", get(g))?;
            }
        }
    }
    for (stem, help, get) in DISTRIBUTIONS {
        for (dimension, suffix, label) in CUTS {
            let name = std::format!("{stem}{suffix}");
            header(
                out,
                &name,
                &std::format!("{help}{}", cut_help(label)),
                "summary",
            )?;
            for (scope, g) in cut(aggregate, dimension) {
                summary(out, &name, label.map(|k| (k, scope.value.as_str())), get(g))?;
            }
        }
    }
    Ok(())
}

fn summary(
    out: &mut String,
    name: &str,
    label: Option<(&str, &str)>,
    sketch: &QuantileSketch,
) -> core::fmt::Result {
    let base: &[(&str, &str)] = match &label {
        Some(pair) => core::slice::from_ref(pair),
        None => &[],
    };
    for q in QUANTILES {
        if let Some(v) = sketch.quantile(q) {
            let qs = number(q);
            let mut pairs = std::vec::Vec::from(base);
            pairs.push(("quantile", &qs));
            writeln!(out, "{name}{} {}", labels(&pairs), number(v))?;
        }
    }
    let l = labels(base);
    writeln!(out, "{name}_sum{l} {}", number(sketch.estimated_sum()))?;
    writeln!(out, "{name}_count{l} {}", sketch.count())
}
