//! Field-failure analysis: which attribute values, alone or in pairs, fail most, with the
//! evidence.
//!
//! Returns and fault reboots cluster: a capacitor lot, a hardware revision in the cold, a
//! firmware on one radio module. Given units (devices) with attributes and whether each failed,
//! [`analyze`] counts every attribute value and every pair of values of different attributes,
//! and ranks them by the *lower* bound of the Wilson score interval of their failure rate, so
//! 3 failures in 3 units does not outrank 80 in 1,600, while a real cluster ("hardware B in
//! below-zero weather: 5.1%, 95% CI 4.1-6.3%, vs 0.5% for the rest") rises to the top.
//! Each [`Finding`] carries the counts, the interval, the rate of all other units and a
//! two-proportion z score for the difference.

extern crate std;

use std::collections::{BTreeSet, HashMap};
use std::string::{String, ToString};
use std::vec::Vec;

use serde::{Deserialize, Serialize};

use super::registry::Registry;

/// One unit of the population.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// (attribute, value) pairs, e.g. ("hardware", "B"); one value per attribute.
    pub attributes: Vec<(String, String)>,
    /// Whether the unit failed (fault reboot, RMA return, ...).
    pub failed: bool,
}

/// Options of [`analyze`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnalysisConfig {
    /// Ignore groups with fewer units than this.
    pub min_units: u64,
    /// Normal quantile of the interval (1.96 for 95%).
    pub z: f64,
    /// Also rank pairs of attribute values.
    pub pairs: bool,
    /// Return at most this many findings.
    pub top: usize,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            min_units: 30,
            z: 1.96,
            pairs: true,
            top: 20,
        }
    }
}

/// A group of units and how often it fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The attribute values that define the group (one or two).
    pub attributes: Vec<(String, String)>,
    /// Units in the group.
    pub units: u64,
    /// Failed units in the group.
    pub failures: u64,
    /// failures / units.
    pub rate: f64,
    /// Wilson interval, lower bound.
    pub ci_low: f64,
    /// Wilson interval, upper bound.
    pub ci_high: f64,
    /// Failure rate of all other units.
    pub rest_rate: f64,
    /// Two-proportion z score of rate against rest_rate (positive: the group fails more).
    pub z_score: f64,
}

/// Wilson score interval for `failures` out of `units` at normal quantile `z`.
#[must_use]
pub fn wilson(failures: u64, units: u64, z: f64) -> (f64, f64) {
    if units == 0 {
        return (0.0, 1.0);
    }
    let n = units as f64;
    let p = failures as f64 / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let den = 1.0 + z2 / n;
    (
        ((centre - spread) / den).max(0.0),
        ((centre + spread) / den).min(1.0),
    )
}

const SINGLE: u32 = u32::MAX;

/// Ranks attribute values and pairs by failure rate (see the module docs).
#[must_use]
pub fn analyze(units: &[Unit], config: &AnalysisConfig) -> Vec<Finding> {
    let mut names: Vec<(String, String)> = Vec::new();
    let mut ids: HashMap<(&str, &str), u32> = HashMap::new();
    let mut counts: HashMap<(u32, u32), (u64, u64)> = HashMap::new();
    let mut total = (0u64, 0u64);
    let mut unit_ids: Vec<u32> = Vec::new();
    for unit in units {
        total.0 += 1;
        total.1 += u64::from(unit.failed);
        unit_ids.clear();
        for (k, v) in &unit.attributes {
            let next = u32::try_from(names.len()).unwrap_or(SINGLE - 1);
            let id = *ids.entry((k.as_str(), v.as_str())).or_insert_with(|| {
                names.push((k.clone(), v.clone()));
                next
            });
            unit_ids.push(id);
        }
        unit_ids.sort_unstable();
        unit_ids.dedup();
        for (i, &a) in unit_ids.iter().enumerate() {
            let c = counts.entry((a, SINGLE)).or_default();
            c.0 += 1;
            c.1 += u64::from(unit.failed);
            if config.pairs {
                for &b in unit_ids.iter().skip(i + 1) {
                    let c = counts.entry((a, b)).or_default();
                    c.0 += 1;
                    c.1 += u64::from(unit.failed);
                }
            }
        }
    }
    let mut findings: Vec<Finding> = counts
        .into_iter()
        .filter(|(_, (n, _))| *n >= config.min_units)
        .filter_map(|((a, b), (n, f))| {
            let mut attributes = Vec::with_capacity(2);
            attributes.push(names.get(a as usize)?.clone());
            if b != SINGLE {
                let second = names.get(b as usize)?.clone();
                // A pair of two values of one attribute cannot occur in a unit.
                if second.0 == attributes.first()?.0 {
                    return None;
                }
                attributes.push(second);
                // Canonical order: by attribute name, whatever order values were first seen.
                attributes.sort();
            }
            let (ci_low, ci_high) = wilson(f, n, config.z);
            let rate = f as f64 / n as f64;
            let (rest_n, rest_f) = (total.0 - n, total.1 - f);
            let rest_rate = if rest_n == 0 {
                0.0
            } else {
                rest_f as f64 / rest_n as f64
            };
            let pooled = total.1 as f64 / total.0 as f64;
            let se =
                (pooled * (1.0 - pooled) * (1.0 / n as f64 + 1.0 / rest_n.max(1) as f64)).sqrt();
            let z_score = if se > 0.0 {
                (rate - rest_rate) / se
            } else {
                0.0
            };
            Some(Finding {
                attributes,
                units: n,
                failures: f,
                rate,
                ci_low,
                ci_high,
                rest_rate,
                z_score,
            })
        })
        .collect();
    findings.sort_by(|x, y| {
        y.ci_low
            .total_cmp(&x.ci_low)
            .then_with(|| y.failures.cmp(&x.failures))
            .then_with(|| x.attributes.cmp(&y.attributes))
    });
    findings.truncate(config.top);
    findings
}

/// Band name of a temperature in degrees Celsius, for grouping.
#[must_use]
pub fn temperature_band(celsius: f64) -> &'static str {
    match celsius {
        c if c < -10.0 => "below -10C",
        c if c < 0.0 => "-10C to 0C",
        c if c < 15.0 => "0C to 15C",
        c if c < 30.0 => "15C to 30C",
        _ => "30C and above",
    }
}

/// Units from a registry: attributes hardware, lot, region, firmware and the band of the
/// coldest temperature a device reported; failed when it had a fault reboot or is in
/// `returned` (RMA, e.g. from [`super::support::returned_devices`]).
#[must_use]
pub fn units_from_registry(registry: &Registry, returned: &BTreeSet<u64>) -> Vec<Unit> {
    registry
        .iter()
        .map(|r| {
            let mut attributes = std::vec![
                (
                    "hardware".to_string(),
                    registry.hardware_name(r.hardware).to_string()
                ),
                ("lot".to_string(), registry.lot_name(r.lot).to_string()),
                (
                    "region".to_string(),
                    registry.region_name(r.region).to_string()
                ),
                ("firmware".to_string(), r.firmware.to_string()),
            ];
            if let Some(t) = r.min_temperature_dc() {
                attributes.push((
                    "temperature".to_string(),
                    temperature_band(f64::from(t) / 10.0).to_string(),
                ));
            }
            Unit {
                attributes,
                failed: r.fault_reboots > 0 || returned.contains(&r.id),
            }
        })
        .collect()
}
