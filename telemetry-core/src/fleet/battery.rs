//! Battery health: drain rate, days left, and devices or firmware versions that drain faster
//! than their cohort.
//!
//! A battery series is noisy (a reading moves with load and temperature) and interrupted by
//! charging. Both estimators here only look at *discharge segments*: a segment ends when the
//! device says it is charging or when the charge rises by more than [`RISE_TOLERANCE`] points
//! (a charge without the flag, or a battery swap); noise within the tolerance stays in the
//! segment and is averaged out by the fit.
//!
//! - [`DrainTracker`] is the per-device online estimator kept in every registry record
//!   (25 bytes): a least-squares slope over the current discharge segment, updated in O(1)
//!   with Welford-style co-moments, falling back to the previous segment's slope while the
//!   current one is too short.
//! - [`drain_rate`] is the offline estimator for a full series: the Theil-Sen median of
//!   pairwise slopes within segments, robust to outliers (a bad reading moves it little).
//! - [`drain_anomalies`] compares each device, and each (hardware, firmware) group, with the
//!   median of its hardware cohort.

extern crate std;

use std::collections::BTreeMap;
use std::vec::Vec;

use serde::{Deserialize, Serialize};

use super::registry::{AttrId, Registry};
use super::report::FirmwareVersion;

/// A rise of more than this many percentage points without a charging flag ends a segment.
pub const RISE_TOLERANCE: f64 = 2.0;
/// A segment gives a rate once it has this many samples ...
pub const MIN_SEGMENT_SAMPLES: u16 = 4;
/// ... spanning at least this many hours.
pub const MIN_SEGMENT_HOURS: f32 = 6.0;

const SECONDS_PER_HOUR: f32 = 3600.0;

/// Online drain estimator for one device (25 bytes, packed into the registry record).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[repr(C, packed)]
pub struct DrainTracker {
    /// Unix seconds (saturating at `u32::MAX`, the year 2106).
    segment_start: u32,
    mean_t: f32,
    mean_y: f32,
    c_tt: f32,
    c_ty: f32,
    samples: u16,
    last_percent: u8,
    /// The previous segment's rate in 1/100 percentage points per day; `i16::MIN` for none.
    previous_rate: i16,
}

impl Default for DrainTracker {
    fn default() -> Self {
        Self {
            segment_start: 0,
            mean_t: 0.0,
            mean_y: 0.0,
            c_tt: 0.0,
            c_ty: 0.0,
            samples: 0,
            last_percent: 0,
            previous_rate: NO_RATE,
        }
    }
}

const NO_RATE: i16 = i16::MIN;

impl DrainTracker {
    /// Adds a reading taken at `t` (Unix seconds).
    pub fn update(&mut self, t: u64, percent: u8, charging: bool) {
        let t = u32::try_from(t).unwrap_or(u32::MAX);
        let rose =
            self.samples > 0 && f64::from(percent) > f64::from(self.last_percent) + RISE_TOLERANCE;
        let start = self.segment_start;
        if charging || rose || t < start {
            self.close_segment();
            if charging {
                return;
            }
        }
        if self.samples == 0 {
            self.segment_start = t;
        }
        // Hours since the segment start; f32 keeps the record small and is exact enough for
        // slopes over days (Welford updates avoid the cancellation of raw sums).
        let x = (t - self.segment_start) as f32 / SECONDS_PER_HOUR;
        let y = f32::from(percent);
        self.samples = self.samples.saturating_add(1);
        let n = f32::from(self.samples);
        let dx = x - self.mean_t;
        self.mean_t += dx / n;
        self.mean_y += (y - self.mean_y) / n;
        self.c_tt += dx * (x - self.mean_t);
        self.c_ty += dx * (y - self.mean_y);
        self.last_percent = percent;
    }

    fn segment_rate(&self) -> Option<f32> {
        let (samples, c_tt, c_ty) = (self.samples, self.c_tt, self.c_ty);
        if samples >= MIN_SEGMENT_SAMPLES && c_tt > 0.0 {
            // Readings spread evenly over H hours have a time variance of H^2/12: ask for
            // at least MIN_SEGMENT_HOURS of such spread.
            let var_t = c_tt / f32::from(samples);
            if var_t * 12.0 >= MIN_SEGMENT_HOURS * MIN_SEGMENT_HOURS {
                return Some(-(c_ty / c_tt) * 24.0);
            }
        }
        None
    }

    fn close_segment(&mut self) {
        if let Some(rate) = self.segment_rate() {
            // Saturates at +-327 points per day; NaN (impossible for a finite fit) is none.
            self.previous_rate = ((rate * 100.0).round() as i16).max(NO_RATE + 1);
        }
        *self = Self {
            previous_rate: self.previous_rate,
            ..Self::default()
        };
    }

    /// Drain in percentage points per day (positive while discharging), if known.
    #[must_use]
    pub fn rate_per_day(&self) -> Option<f64> {
        let previous = self.previous_rate;
        self.segment_rate()
            .map(f64::from)
            .or((previous != NO_RATE).then(|| f64::from(previous) / 100.0))
    }

    /// Days until empty at the current drain, from the last reading.
    #[must_use]
    pub fn days_left(&self) -> Option<f64> {
        let rate = self.rate_per_day()?;
        (rate > 1e-6).then(|| f64::from(self.last_percent) / rate)
    }
}

/// One battery reading of a series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BatterySample {
    /// Unix seconds.
    pub t: u64,
    /// State of charge, percent.
    pub percent: f64,
    /// Whether the device was charging.
    pub charging: bool,
}

/// Most samples per segment [`drain_rate`] looks at (evenly thinned above it), bounding its
/// cost at about 20,000 pairs per segment.
pub const MAX_SEGMENT_SAMPLES: usize = 200;

/// Robust drain rate of a series in percentage points per day (positive while discharging):
/// the median of all pairwise slopes inside discharge segments (Theil-Sen). `None` when no
/// segment holds two readings at different times. Samples must be in time order.
#[must_use]
pub fn drain_rate(samples: &[BatterySample]) -> Option<f64> {
    let mut slopes = Vec::new();
    let mut segment: Vec<BatterySample> = Vec::new();
    let flush = |segment: &mut Vec<BatterySample>, slopes: &mut Vec<f64>| {
        let step = segment.len().div_ceil(MAX_SEGMENT_SAMPLES).max(1);
        let thinned: Vec<&BatterySample> = segment.iter().step_by(step).collect();
        for (i, a) in thinned.iter().enumerate() {
            for b in thinned.iter().skip(i + 1) {
                if b.t > a.t {
                    let days = (b.t - a.t) as f64 / 86_400.0;
                    slopes.push((a.percent - b.percent) / days);
                }
            }
        }
        segment.clear();
    };
    for s in samples {
        let rose = segment
            .last()
            .is_some_and(|last| s.percent > last.percent + RISE_TOLERANCE);
        if s.charging || rose {
            flush(&mut segment, &mut slopes);
            if s.charging {
                continue;
            }
        }
        segment.push(*s);
    }
    flush(&mut segment, &mut slopes);
    median(&mut slopes)
}

/// Median of the values (NaN-free input expected; NaNs sort last).
pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    let upper = *values.get(mid)?;
    if values.len().is_multiple_of(2) {
        let lower = *values.get(mid - 1)?;
        Some(f64::midpoint(lower, upper))
    } else {
        Some(upper)
    }
}

/// A device's drain rate with the attributes that define its cohort.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeviceDrain {
    /// Device id.
    pub device: u64,
    /// Hardware revision (the cohort).
    pub hardware: AttrId,
    /// Running firmware.
    pub firmware: FirmwareVersion,
    /// Drain, percentage points per day.
    pub rate_per_day: f64,
}

/// The drain of every device in `registry` that has a rate (from its [`DrainTracker`]).
#[must_use]
pub fn device_drains(registry: &Registry) -> Vec<DeviceDrain> {
    registry
        .iter()
        .filter_map(|r| {
            Some(DeviceDrain {
                device: r.id,
                hardware: r.hardware,
                firmware: r.firmware,
                rate_per_day: r.drain.rate_per_day()?,
            })
        })
        .collect()
}

/// Thresholds for [`drain_anomalies`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DrainPolicy {
    /// A device or group is anomalous when its drain exceeds the cohort median by this factor.
    pub factor: f64,
    /// Smallest cohort (devices of one hardware revision) to judge against.
    pub min_cohort: usize,
    /// Smallest (hardware, firmware) group to judge as a whole.
    pub min_group: usize,
}

impl Default for DrainPolicy {
    fn default() -> Self {
        Self {
            factor: 1.5,
            min_cohort: 10,
            min_group: 5,
        }
    }
}

/// A device or firmware version draining faster than its hardware cohort.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DrainAnomaly {
    /// One device drains faster than the median of its hardware revision.
    Device {
        /// The device.
        device: u64,
        /// Its hardware revision.
        hardware: AttrId,
        /// Its drain, points per day.
        rate_per_day: f64,
        /// Median drain of the hardware revision, points per day.
        cohort_median: f64,
    },
    /// Devices of one firmware drain faster than the same hardware on other firmware.
    Firmware {
        /// Hardware revision.
        hardware: AttrId,
        /// The firmware version.
        firmware: FirmwareVersion,
        /// Devices in the group.
        devices: usize,
        /// Median drain of the group, points per day.
        group_median: f64,
        /// Median drain of the same hardware on other firmware, points per day.
        cohort_median: f64,
    },
}

/// Finds devices and firmware versions that drain faster than `policy.factor` times their
/// hardware cohort's median. Firmware groups are compared with the same hardware on *other*
/// firmware, so a bad release that most devices already run still stands out.
#[must_use]
pub fn drain_anomalies(drains: &[DeviceDrain], policy: &DrainPolicy) -> Vec<DrainAnomaly> {
    let mut by_hw: BTreeMap<AttrId, Vec<&DeviceDrain>> = BTreeMap::new();
    for d in drains.iter().filter(|d| d.rate_per_day.is_finite()) {
        by_hw.entry(d.hardware).or_default().push(d);
    }
    let mut out = Vec::new();
    for (hardware, cohort) in &by_hw {
        if cohort.len() < policy.min_cohort {
            continue;
        }
        let mut rates: Vec<f64> = cohort.iter().map(|d| d.rate_per_day).collect();
        let Some(cohort_median) = median(&mut rates) else {
            continue;
        };
        let mut by_fw: BTreeMap<FirmwareVersion, Vec<f64>> = BTreeMap::new();
        for d in cohort {
            by_fw.entry(d.firmware).or_default().push(d.rate_per_day);
        }
        for (firmware, group) in &mut by_fw {
            if group.len() < policy.min_group {
                continue;
            }
            let mut others: Vec<f64> = cohort
                .iter()
                .filter(|d| d.firmware != *firmware)
                .map(|d| d.rate_per_day)
                .collect();
            if others.len() < policy.min_group {
                continue;
            }
            let (Some(group_median), Some(other_median)) = (median(group), median(&mut others))
            else {
                continue;
            };
            if group_median > policy.factor * other_median {
                out.push(DrainAnomaly::Firmware {
                    hardware: *hardware,
                    firmware: *firmware,
                    devices: group.len(),
                    group_median,
                    cohort_median: other_median,
                });
            }
        }
        for d in cohort {
            if d.rate_per_day > policy.factor * cohort_median {
                out.push(DrainAnomaly::Device {
                    device: d.device,
                    hardware: *hardware,
                    rate_per_day: d.rate_per_day,
                    cohort_median,
                });
            }
        }
    }
    out
}
