//! The backend's view of device health: heartbeats in, drain estimates and alerts out.
//!
//! Interim implementation until `telemetry-core`'s fleet side lands (issues 6 and 7): devices
//! send a plain heartbeat record; the watch estimates each device's battery drain between
//! heartbeats and raises a fleet alert when the devices of one firmware and hardware revision
//! drain markedly faster than the same hardware on other firmware.

use crate::device::HwRev;
use crate::release::ReleaseId;
use serde::Serialize;

/// One heartbeat as the device reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Heartbeat {
    /// Device index.
    pub device: u32,
    /// Simulated hour of the end of the interval.
    pub hour: u32,
    /// Battery state of charge, percent.
    pub battery_pct: f32,
    /// Whether the battery was charged during the interval.
    pub charged: bool,
    /// Running firmware.
    pub firmware: ReleaseId,
    /// Boot count.
    pub boots: u32,
    /// Crashes (fault reboots) during the interval.
    pub crashes: u32,
    /// Interval length, hours.
    pub hours: u32,
}

/// Width of a drain histogram bin, in percent per day.
pub const DRAIN_BIN: f32 = 0.5;
/// Number of drain histogram bins.
pub const DRAIN_BINS: usize = 32;

/// A fleet alert firing or resolving.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertEvent {
    /// Simulated hour.
    pub hour: u32,
    /// Rule name.
    pub rule: String,
    /// `firing` or `resolved`.
    pub state: String,
    /// What it is about, with the numbers.
    pub detail: String,
}

#[derive(Clone, Copy, Debug, Default)]
struct Record {
    last_hour: u32,
    last_pct: f32,
    drain_per_h: f32,
    samples: u16,
    firmware: ReleaseId,
}

/// Fleet-side health state.
#[derive(Clone, Debug)]
pub struct FleetWatch {
    hw: Vec<HwRev>,
    records: Vec<Record>,
    /// Heartbeats ingested.
    pub frames: u64,
    /// Drain histograms per firmware label (percent per day).
    pub drain_hist: Vec<(ReleaseId, [u32; DRAIN_BINS])>,
    firing: Vec<(ReleaseId, HwRev)>,
    /// Every alert event, in time order.
    pub alerts: Vec<AlertEvent>,
}

impl FleetWatch {
    /// A watch over devices with these hardware revisions.
    pub fn new(hw: Vec<HwRev>) -> Self {
        let records = vec![Record::default(); hw.len()];
        Self {
            hw,
            records,
            frames: 0,
            drain_hist: Vec::new(),
            firing: Vec::new(),
            alerts: Vec::new(),
        }
    }

    /// Fleet-side state per device, in bytes.
    pub fn bytes_per_device(&self) -> u64 {
        (core::mem::size_of::<Record>() + core::mem::size_of::<HwRev>()) as u64
    }

    /// Takes one heartbeat.
    pub fn ingest(&mut self, hb: Heartbeat) {
        self.frames += 1;
        let Some(r) = self.records.get_mut(hb.device as usize) else {
            return;
        };
        if r.samples > 0 && r.firmware == hb.firmware && !hb.charged && hb.hour > r.last_hour {
            let rate = (r.last_pct - hb.battery_pct) / (hb.hour - r.last_hour) as f32;
            if rate >= 0.0 {
                r.drain_per_h = if r.samples > 1 {
                    0.5 * r.drain_per_h + 0.5 * rate
                } else {
                    rate
                };
                r.samples = r.samples.saturating_add(1);
                let bin = ((rate * 24.0 / DRAIN_BIN) as usize).min(DRAIN_BINS - 1);
                let fw = hb.firmware;
                match self.drain_hist.iter_mut().find(|(f, _)| *f == fw) {
                    Some((_, h)) => h[bin] += 1,
                    None => {
                        let mut h = [0; DRAIN_BINS];
                        h[bin] = 1;
                        self.drain_hist.push((fw, h));
                    }
                }
            }
        } else {
            r.samples = 1;
        }
        r.firmware = hb.firmware;
        r.last_hour = hb.hour;
        r.last_pct = hb.battery_pct;
    }

    /// Evaluates the battery-drain rule at `hour`, recording firing and resolving events.
    pub fn evaluate(&mut self, hour: u32, label: impl Fn(ReleaseId) -> String) {
        // Mean drain per (firmware, hw) over devices with an estimate.
        let mut groups: Vec<((ReleaseId, HwRev), f64, u32)> = Vec::new();
        for (r, hw) in self.records.iter().zip(&self.hw) {
            if r.samples < 2 {
                continue;
            }
            let key = (r.firmware, *hw);
            match groups.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, sum, n)) => {
                    *sum += f64::from(r.drain_per_h);
                    *n += 1;
                }
                None => groups.push((key, f64::from(r.drain_per_h), 1)),
            }
        }
        let mut now_firing = Vec::new();
        for &((fw, hw), sum, n) in &groups {
            let (osum, on) = groups
                .iter()
                .filter(|((f, h), _, _)| *h == hw && *f != fw)
                .fold((0.0, 0u32), |(s, c), (_, gs, gn)| (s + gs, c + gn));
            if n < 3 || on < 10 {
                continue;
            }
            let ratio = (sum / f64::from(n)) / (osum / f64::from(on)).max(1e-9);
            if ratio >= 1.5 {
                now_firing.push((fw, hw));
                if !self.firing.contains(&(fw, hw)) {
                    self.alerts.push(AlertEvent {
                        hour,
                        rule: "battery-drain".into(),
                        state: "firing".into(),
                        detail: format!(
                            "{} on hardware {hw:?} drains {ratio:.1}x faster than the same hardware on other firmware ({n} devices)",
                            label(fw)
                        ),
                    });
                }
            }
        }
        for &(fw, hw) in &self.firing {
            if !now_firing.contains(&(fw, hw)) {
                self.alerts.push(AlertEvent {
                    hour,
                    rule: "battery-drain".into(),
                    state: "resolved".into(),
                    detail: format!(
                        "{} on hardware {hw:?}: no device drains abnormally any more",
                        label(fw)
                    ),
                });
            }
        }
        self.firing = now_firing;
    }
}
