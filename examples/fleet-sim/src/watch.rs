//! The backend's view of device health, on `telemetry-core`'s fleet side.
//!
//! Devices send key frames (see [`crate::device::Device::heartbeat_frame`]); the watch decodes
//! them with `telemetry-core`'s decoder, applies them to its [`Registry`] (last seen, learned
//! interval, reboots, vitals, offline detection), and feeds:
//! - the rollout evidence: device-hours and fault reboots per firmware;
//! - battery drain: one `telemetry-core` [`DrainTracker`] per device, restarted whenever the
//!   device's firmware changes, so that a firmware's drain is measured on that firmware alone
//!   (the registry's own tracker runs across updates); [`drain_anomalies`] then compares each
//!   (hardware, firmware) group with the same hardware on other firmware, and a firmware
//!   anomaly is a fleet alert;
//! - an operations playbook on the fleet aggregate ([`AlertEngine`]): offline ratio and low
//!   battery.

use crate::device::HwRev;
use crate::report::when;
use serde::Serialize;
use telemetry_core::Frame;
use telemetry_core::codec::decode;
use telemetry_core::fleet::aggregate::{FleetAggregate, Scope};
use telemetry_core::fleet::alert::{
    Action, AlertEngine, AlertEvent as EngineEvent, AlertInputs, AlertRule, Condition, Direction,
    Metric, Playbook, Severity,
};
use telemetry_core::fleet::battery::{
    DeviceDrain, DrainAnomaly, DrainPolicy, DrainTracker, drain_anomalies,
};
use telemetry_core::fleet::ingest::report_of;
use telemetry_core::fleet::offline::OfflinePolicy;
use telemetry_core::fleet::registry::{DeviceAttributes, Registry};
use telemetry_core::fleet::report::FirmwareVersion;
use telemetry_core::fleet::status::Component;
use telemetry_core::heartbeat::Value;
use telemetry_core::metric::{MetricDef, MetricKind, vitals};

/// Metrics per heartbeat (capacity of the device-side aggregator and of decoded heartbeats).
pub const METRICS: usize = 10;
/// Product metric: fault reboots during the interval.
pub const FAULTS: MetricDef = MetricDef::new(0x0100, MetricKind::Counter, "fault_reboots");

/// Drain anomaly thresholds: twice the median of the same hardware, cohorts of 10, firmware
/// groups of 2. A first stage holds only a handful of devices of each hardware revision, so
/// the group minimum is low; the factor of 2 (not `telemetry-core`'s default 1.5) keeps noisy
/// early estimates of good releases from being flagged (measured on seeds 1 to 5).
pub const DRAIN_POLICY: DrainPolicy = DrainPolicy {
    factor: 2.0,
    min_cohort: 10,
    min_group: 2,
};

/// Width of a drain histogram bin, in percent per day.
pub const DRAIN_BIN: f32 = 0.5;
/// Number of drain histogram bins.
pub const DRAIN_BINS: usize = 24;

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

/// What one heartbeat tells the rollout evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSample {
    /// Firmware the device ran.
    pub firmware: FirmwareVersion,
    /// Hours covered.
    pub hours: u64,
    /// Fault reboots in the interval.
    pub crashes: u32,
}

/// Fleet-side health state.
#[derive(Debug)]
pub struct FleetWatch {
    registry: Registry,
    trackers: Vec<(FirmwareVersion, DrainTracker)>,
    engine: AlertEngine,
    /// Frames decoded and applied.
    pub frames: u64,
    /// Frame bytes received.
    pub bytes: u64,
    /// Frames that did not decode.
    pub bad_frames: u64,
    /// Offline events (a device silent longer than its learned interval allows).
    pub offline_events: u64,
    /// Drain histograms per firmware (percent per day), from closed per-firmware segments.
    pub drain_hist: Vec<(FirmwareVersion, [u32; DRAIN_BINS])>,
    firing: Vec<(u16, FirmwareVersion)>,
    /// Devices draining abnormally on a firmware whose whole group drains abnormally, as of
    /// the last evaluation: health regressions for the rollout evidence.
    pub regressions: Vec<(u32, FirmwareVersion)>,
    /// Every alert event, in time order.
    pub alerts: Vec<AlertEvent>,
}

fn playbook() -> Playbook {
    let rule = |name: &str,
                metric,
                op,
                trigger,
                clear,
                for_s,
                severity,
                action,
                component,
                runbook: &str| AlertRule {
        name: name.into(),
        scope: Scope::fleet(),
        condition: Condition::Threshold {
            metric,
            op,
            trigger,
            clear,
        },
        for_s,
        severity,
        action,
        component,
        runbook: runbook.into(),
    };
    Playbook {
        rules: vec![
            rule(
                "fleet-offline",
                Metric::OfflineRatio,
                Direction::Above,
                0.25,
                0.15,
                2 * 3600,
                Severity::Warning,
                Action::OpenTicket,
                Component::DeviceConnectivity,
                "check the carrier status page and the MQTT broker",
            ),
            rule(
                "low-battery-tail",
                Metric::BatteryPercent { quantile: 0.01 },
                Direction::Below,
                5.0,
                10.0,
                6 * 3600,
                Severity::Info,
                Action::NotifySupport,
                Component::DeviceConnectivity,
                "remind customers with empty batteries to charge",
            ),
        ],
    }
}

impl FleetWatch {
    /// A watch over devices with these hardware revisions.
    pub fn new(hw: &[HwRev]) -> Result<Self, String> {
        let mut registry = Registry::with_capacity(OfflinePolicy::default(), hw.len());
        for (i, h) in hw.iter().enumerate() {
            let attributes = DeviceAttributes {
                hardware: format!("{h:?}"),
                lot: String::new(),
                region: String::new(),
            };
            registry
                .provision(i as u64, &attributes)
                .map_err(|e| format!("telemetry registry: {e}"))?;
        }
        Ok(Self {
            registry,
            trackers: vec![(FirmwareVersion::default(), DrainTracker::default()); hw.len()],
            engine: AlertEngine::new(playbook()),
            frames: 0,
            bytes: 0,
            bad_frames: 0,
            offline_events: 0,
            drain_hist: Vec::new(),
            firing: Vec::new(),
            regressions: Vec::new(),
            alerts: Vec::new(),
        })
    }

    /// Fleet-side state per device, in bytes (registry record and index, drain tracker).
    pub fn bytes_per_device(&self) -> f64 {
        self.registry.bytes_per_device()
            + core::mem::size_of::<(FirmwareVersion, DrainTracker)>() as f64
    }

    /// Takes one frame from `device` received at `now` (unix seconds).
    pub fn ingest(&mut self, device: u32, now: u64, bytes: &[u8]) -> Option<FieldSample> {
        self.bytes += bytes.len() as u64;
        let hb = match decode::<METRICS>(bytes, None) {
            Ok(Frame::Key(hb)) => hb,
            Ok(_) | Err(_) => {
                self.bad_frames += 1;
                let _ = self.registry.record_bad_frame(u64::from(device));
                return None;
            }
        };
        let report = report_of(&hb);
        if self
            .registry
            .observe(u64::from(device), now, &report)
            .is_err()
        {
            self.bad_frames += 1;
            return None;
        }
        self.frames += 1;
        let firmware = report.firmware.unwrap_or_default();
        if let (Some(pct), Some((fw, tracker))) = (
            report.battery_percent,
            self.trackers.get_mut(device as usize),
        ) {
            if *fw != firmware {
                if let Some(rate) = tracker.rate_per_day() {
                    add_to_hist(&mut self.drain_hist, *fw, rate);
                }
                *fw = firmware;
                *tracker = DrainTracker::default();
            }
            tracker.update(now, pct, report.charging.unwrap_or(false));
        }
        let crashes = match hb.get(FAULTS.id) {
            Some(Value::Counter(n)) => u32::try_from(*n).unwrap_or(0),
            _ => 0,
        };
        Some(FieldSample {
            firmware,
            // Wall-clock span since the previous heartbeat: the uptime-based interval restarts
            // at every reboot, which would undercount the hours around updates and crashes.
            hours: hb
                .interval
                .wall_start_unix_s
                .map_or(u64::from(hb.interval.len_s), |start| {
                    now.saturating_sub(start)
                })
                / 3600,
            crashes,
        })
    }

    /// Offline sweep, drain anomalies and the playbook at `hour`.
    pub fn evaluate(&mut self, hour: u32, now: u64, label: impl Fn(FirmwareVersion) -> String) {
        self.offline_events += self.registry.sweep(now).len() as u64;
        let drains: Vec<DeviceDrain> = self
            .registry
            .iter()
            .zip(&self.trackers)
            .filter_map(|(r, (fw, t))| {
                t.rate_per_day().map(|rate| DeviceDrain {
                    device: r.id,
                    hardware: r.hardware,
                    firmware: *fw,
                    rate_per_day: rate,
                })
            })
            .collect();
        let mut now_firing = Vec::new();
        let anomalies = drain_anomalies(&drains, &DRAIN_POLICY);
        self.regressions.clear();
        for a in &anomalies {
            if let DrainAnomaly::Device { device, hardware, .. } = *a
                && let Some((fw, _)) = self.trackers.get(device as usize)
                && anomalies.iter().any(|g| {
                    matches!(*g, DrainAnomaly::Firmware { hardware: h, firmware: f, .. } if h == hardware && f == *fw)
                })
            {
                self.regressions.push((device as u32, *fw));
            }
        }
        for a in anomalies {
            if let DrainAnomaly::Firmware {
                hardware,
                firmware,
                devices,
                group_median,
                cohort_median,
            } = a
            {
                now_firing.push((hardware.0, firmware));
                if !self.firing.contains(&(hardware.0, firmware)) {
                    self.alerts.push(AlertEvent {
                        hour,
                        rule: "battery-drain".into(),
                        state: "firing".into(),
                        detail: format!(
                            "{} on hardware {} drains {group_median:.1}%/day, {:.1}x the {cohort_median:.1}%/day of the same hardware on other firmware ({devices} devices)",
                            label(firmware),
                            self.registry.hardware_name(hardware),
                            group_median / cohort_median.max(1e-9)
                        ),
                    });
                }
            }
        }
        for &(hw, fw) in &self.firing {
            if !now_firing.contains(&(hw, fw)) {
                self.alerts.push(AlertEvent {
                    hour,
                    rule: "battery-drain".into(),
                    state: "resolved".into(),
                    detail: format!(
                        "{} on hardware {}: no abnormal drain group any more",
                        label(fw),
                        self.registry
                            .hardware_name(telemetry_core::fleet::registry::AttrId(hw))
                    ),
                });
            }
        }
        self.firing = now_firing;
        let aggregate = FleetAggregate::from_registry(&self.registry);
        let requests = Default::default();
        for e in self.engine.evaluate(
            now,
            &AlertInputs {
                aggregate: &aggregate,
                requests: &requests,
            },
        ) {
            self.alerts.push(match e {
                EngineEvent::Firing {
                    rule,
                    severity,
                    action,
                    value,
                    runbook,
                    ..
                } => AlertEvent {
                    hour,
                    rule,
                    state: "firing".into(),
                    detail: format!(
                        "{severity:?}, value {value:.3}; action {action:?}; runbook: {runbook}"
                    ),
                },
                EngineEvent::Resolved {
                    rule,
                    value,
                    fired_at,
                    ..
                } => AlertEvent {
                    hour,
                    rule,
                    state: "resolved".into(),
                    detail: format!(
                        "value {value:.3}; fired {}",
                        when(((fired_at.saturating_sub(crate::backend::EPOCH_UNIX)) / 3600) as u32)
                    ),
                },
            });
        }
    }

    /// Closes every open drain segment into the histograms (at the end of the run).
    pub fn close(&mut self) {
        for (fw, t) in &self.trackers {
            if let Some(rate) = t.rate_per_day() {
                add_to_hist(&mut self.drain_hist, *fw, rate);
            }
        }
    }
}

fn add_to_hist(
    hist: &mut Vec<(FirmwareVersion, [u32; DRAIN_BINS])>,
    fw: FirmwareVersion,
    rate: f64,
) {
    let bin = ((rate.max(0.0) / f64::from(DRAIN_BIN)) as usize).min(DRAIN_BINS - 1);
    match hist.iter_mut().find(|(f, _)| *f == fw) {
        Some((_, h)) => {
            if let Some(c) = h.get_mut(bin) {
                *c += 1;
            }
        }
        None => {
            let mut h = [0; DRAIN_BINS];
            if let Some(c) = h.get_mut(bin) {
                *c = 1;
            }
            hist.push((fw, h));
            hist.sort_by_key(|(f, _)| *f);
        }
    }
}

/// The vitals a device declares, in id order (the aggregator requires increasing ids).
pub fn declared() -> [MetricDef; 8] {
    [
        vitals::BATTERY_MV,
        vitals::BATTERY_PCT,
        vitals::CHARGING,
        vitals::BOOT_COUNT,
        vitals::REBOOT_REASON,
        vitals::DISCONNECTS,
        vitals::FIRMWARE_VERSION,
        FAULTS,
    ]
}
