//! Prometheus text exposition (format 0.0.4) of fleet aggregates.
//!
//! Every group of a [`FleetAggregate`] becomes one label set: none for the whole fleet,
//! `firmware="1.2.0"`, `hardware="B"` or `region="eu"` for the others, so one scrape serves
//! the dashboards' breakdowns. Distributions are exposed as gauges with a `quantile` label
//! (p10, p50, p90, p99) plus a `_count`; the sketches themselves stay in the backend, where
//! they merge exactly.
//!
//! Label values are escaped as the format requires (`\` -> `\\`, `"` -> `\"`, newline -> `\n`).

extern crate std;

use core::fmt::Write;
use std::string::String;

use super::aggregate::{Dimension, FleetAggregate, GroupStats, Scope};
use super::sketch::QuantileSketch;

/// Quantiles exported for each distribution.
pub const QUANTILES: [f64; 4] = [0.1, 0.5, 0.9, 0.99];

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

fn labels(scope: &Scope, extra: Option<(&str, &str)>) -> String {
    let mut parts = String::new();
    let name = match scope.dimension {
        Dimension::Fleet => None,
        Dimension::Firmware => Some("firmware"),
        Dimension::Hardware => Some("hardware"),
        Dimension::Region => Some("region"),
    };
    let mut push = |k: &str, v: &str| {
        if !parts.is_empty() {
            parts.push(',');
        }
        parts.push_str(k);
        parts.push_str("=\"");
        escape(v, &mut parts);
        parts.push('"');
    };
    if let Some(name) = name {
        push(name, &scope.value);
    }
    if let Some((k, v)) = extra {
        push(k, v);
    }
    if parts.is_empty() {
        parts
    } else {
        let mut s = String::with_capacity(parts.len() + 2);
        s.push('{');
        s.push_str(&parts);
        s.push('}');
        s
    }
}

type Counter = (&'static str, &'static str, fn(&GroupStats) -> u64);

const COUNTERS: [Counter; 5] = [
    ("fleet_frames_total", "Frames accepted.", |g| g.frames),
    (
        "fleet_missed_frames_total",
        "Frames lost in transit (sequence gaps).",
        |g| g.missed_frames,
    ),
    (
        "fleet_bad_frames_total",
        "Frames that did not decode.",
        |g| g.bad_frames,
    ),
    ("fleet_reboots_total", "Device reboots.", |g| g.reboots),
    (
        "fleet_fault_reboots_total",
        "Watchdog, brown-out and fault reboots.",
        |g| g.fault_reboots,
    ),
];

type Distribution = (
    &'static str,
    &'static str,
    fn(&GroupStats) -> &QuantileSketch,
);

const DISTRIBUTIONS: [Distribution; 3] = [
    (
        "fleet_battery_percent",
        "Battery charge of devices, percent.",
        |g| &g.battery_percent,
    ),
    (
        "fleet_temperature_celsius",
        "Temperature of devices, degrees Celsius.",
        |g| &g.temperature_c,
    ),
    ("fleet_rssi_dbm", "Signal strength of devices, dBm.", |g| {
        &g.rssi_dbm
    }),
];

/// Renders `aggregate` in the Prometheus text format.
#[must_use]
pub fn render(aggregate: &FleetAggregate) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_all(aggregate, &mut out);
    out
}

fn write_all(aggregate: &FleetAggregate, out: &mut String) -> core::fmt::Result {
    writeln!(out, "# HELP fleet_devices Devices by link state.")?;
    writeln!(out, "# TYPE fleet_devices gauge")?;
    for (scope, g) in aggregate.groups() {
        for (state, n) in [
            ("online", g.online),
            ("offline", g.offline),
            ("unseen", g.unseen),
        ] {
            writeln!(
                out,
                "fleet_devices{} {n}",
                labels(scope, Some(("state", state)))
            )?;
        }
    }
    for (name, help, get) in COUNTERS {
        writeln!(out, "# HELP {name} {help}")?;
        writeln!(out, "# TYPE {name} counter")?;
        for (scope, g) in aggregate.groups() {
            writeln!(out, "{name}{} {}", labels(scope, None), get(g))?;
        }
    }
    for (name, help, get) in DISTRIBUTIONS {
        writeln!(out, "# HELP {name} {help}")?;
        writeln!(out, "# TYPE {name} gauge")?;
        for (scope, g) in aggregate.groups() {
            let sketch = get(g);
            for q in QUANTILES {
                if let Some(v) = sketch.quantile(q) {
                    let q = std::format!("{q}");
                    writeln!(out, "{name}{} {v}", labels(scope, Some(("quantile", &q))))?;
                }
            }
        }
        writeln!(out, "# TYPE {name}_count gauge")?;
        for (scope, g) in aggregate.groups() {
            writeln!(
                out,
                "{name}_count{} {}",
                labels(scope, None),
                get(g).count()
            )?;
        }
    }
    Ok(())
}
