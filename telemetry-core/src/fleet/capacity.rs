//! Capacity and growth: when does the fleet outgrow the backend, and is something surging?
//!
//! Operators record connected devices and ingest rate over time ([`forecast`] takes any such
//! series); a least-squares fit of the series (straight line, or straight line through the
//! logarithm for compound growth) says how fast it grows and when it reaches a configured
//! capacity, so the backend is scaled before the redline. [`surge`] compares today's new
//! devices with yesterday's ("10x more devices came online than yesterday": a retailer's
//! promotion, a botnet, or a reconnect storm after an outage).

use serde::{Deserialize, Serialize};

const DAY: f64 = 86_400.0;

/// How growth is modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrowthModel {
    /// A constant number per day.
    Linear,
    /// A constant fraction per day (fit on the logarithm; needs positive values).
    Exponential,
}

/// The fitted growth and when capacity is reached.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// The model.
    pub model: GrowthModel,
    /// Units per day (linear) or fraction per day (exponential, 0.01 = 1%/day).
    pub growth_per_day: f64,
    /// The fitted value at the last sample.
    pub fitted_now: f64,
    /// Days after the last sample until the fit reaches capacity: `Some(0.0)` when already
    /// there, `None` when it never will (flat or shrinking).
    pub days_to_capacity: Option<f64>,
}

/// Fits `series` of (Unix seconds, value) and forecasts when it reaches `capacity`.
/// `None` with fewer than two samples at different times, or (exponential) a value <= 0.
#[must_use]
pub fn forecast(series: &[(u64, f64)], capacity: f64, model: GrowthModel) -> Option<Forecast> {
    let (t0, _) = *series.first()?;
    let (t_last, _) = *series.last()?;
    let transform = |v: f64| match model {
        GrowthModel::Linear => Some(v),
        GrowthModel::Exponential => (v > 0.0).then(|| v.ln()),
    };
    let mut n = 0.0;
    let (mut mean_x, mut mean_y, mut c_xx, mut c_xy) = (0.0, 0.0, 0.0, 0.0);
    for &(t, v) in series {
        let x = t.checked_sub(t0)? as f64 / DAY;
        let y = transform(v)?;
        n += 1.0;
        let dx = x - mean_x;
        mean_x += dx / n;
        mean_y += (y - mean_y) / n;
        c_xx += dx * (x - mean_x);
        c_xy += dx * (y - mean_y);
    }
    if c_xx <= 0.0 {
        return None;
    }
    let slope = c_xy / c_xx;
    let x_last = t_last.checked_sub(t0)? as f64 / DAY;
    let fitted_y = mean_y + slope * (x_last - mean_x);
    let target = transform(capacity)?;
    let days_to_capacity = if fitted_y >= target {
        Some(0.0)
    } else if slope > 0.0 {
        Some((target - fitted_y) / slope)
    } else {
        None
    };
    let (growth_per_day, fitted_now) = match model {
        GrowthModel::Linear => (slope, fitted_y),
        GrowthModel::Exponential => (slope.exp() - 1.0, fitted_y.exp()),
    };
    Some(Forecast {
        model,
        growth_per_day,
        fitted_now,
        days_to_capacity,
    })
}

/// More new devices today than `factor` times yesterday.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Surge {
    /// New devices today.
    pub today: u64,
    /// New devices yesterday.
    pub yesterday: u64,
    /// today / max(yesterday, 1).
    pub ratio: f64,
}

/// A surge when `today >= factor * max(yesterday, 1)` and `today >= min_today` (so 3 devices
/// after 0 is not a surge).
#[must_use]
pub fn surge(today: u64, yesterday: u64, factor: f64, min_today: u64) -> Option<Surge> {
    let ratio = today as f64 / yesterday.max(1) as f64;
    (today >= min_today && ratio >= factor).then_some(Surge {
        today,
        yesterday,
        ratio,
    })
}
