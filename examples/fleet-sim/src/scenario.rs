//! The scenario: who runs what when, in simulated hours, from the first release to the sunset.
//!
//! 1. 1.1.0 (good) rolls out through every stage.
//! 2. 1.2.0 (bad) fails the self-test on a share of hardware revision B and drains revision B
//!    batteries; the first stage's evidence aborts it and the rollback directive sends the
//!    devices that took it back to 1.1.0 (re-issued with a fresh sequence number).
//! 3. 1.2.1 (the fix) rolls out fully.
//! 4. Throughout: power cuts during updates and network drops.
//! 5. A sunset notice: devices move to security-only and then local-only mode, customers are
//!    notified on schedule, and an export bundle is written.
//!
//! Everything is a function of the [`ScenarioConfig`]: the same seed gives the same run.

use crate::backend::{Backend, plan, unix};
use crate::device::{CHECKIN_HOURS, Device, HEARTBEAT_HOURS};
use crate::progress::Progress;
use crate::release::{BAD, Catalog, FACTORY, FIX, GOOD, ReleaseId};
use crate::report::{
    BatteryReport, BatterySeries, Event, NamedCount, ReleaseReport, Report, SunsetReport,
    TelemetryReport, Timeline, VersionCount, when,
};
use crate::rng::SimRng;
use crate::sunset::{ExportRow, Sunset, write_export};
use crate::updater::{CHUNK, Faults, Outcome};
use crate::watch::{DRAIN_BIN, FleetWatch, METRICS};
use ota_core::sim::Tear;
use rollout_policy::cohort::{RolloutKey, jitter_minutes};
use rollout_policy::plan::StageSize;
use rollout_policy::time::Timestamp;
use std::path::PathBuf;
use std::time::Instant;
use telemetry_core::Heartbeat;
use telemetry_core::fleet::report::FirmwareVersion;
use telemetry_core::metric::RebootReason;

/// What to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioConfig {
    /// Fleet size.
    pub devices: u32,
    /// Seed of every random choice.
    pub seed: u64,
    /// Probability that an update session loses power at a random flash operation.
    pub power_cut_rate: f64,
    /// Probability per device and hour that its network drops.
    pub network_drop_rate: f64,
    /// First stage of each rollout, in basis points of the fleet.
    pub first_stage_bp: u16,
    /// Where to write the export bundle (default: under the system temporary directory).
    pub export_dir: Option<PathBuf>,
    /// Days from the sunset notice to the end of the cloud service (security-only from half
    /// way).
    pub sunset_days: u32,
}

impl ScenarioConfig {
    /// The README's default run for `devices` devices.
    pub fn new(devices: u32, seed: u64) -> Self {
        Self {
            devices,
            seed,
            power_cut_rate: 0.05,
            network_drop_rate: 0.01,
            first_stage_bp: 100,
            export_dir: None,
            sunset_days: 30,
        }
    }
}

/// Hours between fleet health evaluations (offline sweep, drain anomalies, playbook).
const WATCH_HOURS: u32 = 2;
/// Hours between timeline samples.
const SAMPLE_HOURS: u32 = 6;
/// Give up after this many simulated days.
const MAX_DAYS: u32 = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Good,
    GapBeforeBad(u32),
    Bad,
    FixPending(u32),
    Fix,
    SunsetPending(u32),
    Sunset,
}

impl Phase {
    fn label(self) -> &'static str {
        match self {
            Phase::Good => "rolling out 1.1.0",
            Phase::GapBeforeBad(_) => "1.1.0 done",
            Phase::Bad => "rolling out 1.2.0",
            Phase::FixPending(_) => "1.2.0 aborted, fixing",
            Phase::Fix => "rolling out 1.2.1",
            Phase::SunsetPending(_) => "1.2.1 done",
            Phase::Sunset => "sunset",
        }
    }
}

#[derive(Default)]
struct Counters {
    power_cuts: u64,
    network_drops: u64,
    sessions: u64,
}

/// Runs the scenario and returns its report. `progress` shows simulated time as it passes.
pub fn run(config: &ScenarioConfig, progress: &Progress) -> Result<Report, String> {
    let started = Instant::now();
    let mut catalog = Catalog::scenario(config.seed)?;
    let trust = catalog.trust()?;
    let mut devices = (0..config.devices)
        .map(|id| Device::new(id, config.seed, config.network_drop_rate, &catalog))
        .collect::<Result<Vec<_>, String>>()?;
    let hws: Vec<_> = devices.iter().map(|d| d.hw).collect();
    let mut watch = FleetWatch::new(&hws)?;
    drop(hws);
    let mut backend = Backend::new(catalog.clone(), config.devices, config.seed);
    let mut rng = SimRng::new(config.seed, 1);
    let mut counters = Counters::default();
    let mut events = Vec::new();
    let mut timeline = Timeline::default();
    let mut sunset: Option<Sunset> = None;
    let mut export = None;
    let mut export_error = None;
    let stages = plan(config.first_stage_bp);
    let window = stages
        .window
        .ok_or("the rollout plan has no maintenance window")?;
    let window_key = RolloutKey::new(
        config
            .seed
            .to_le_bytes()
            .repeat(2)
            .try_into()
            .unwrap_or([0; 16]),
    );

    let labels: Vec<String> = catalog
        .all()
        .iter()
        .map(|r| r.version.to_string())
        .collect();
    let label = |id: ReleaseId| -> String {
        labels
            .get(usize::from(id))
            .cloned()
            .unwrap_or_else(|| format!("release #{id}"))
    };
    // Timeline series: one per distinct version (the rollback re-issue shares 1.1.0's).
    let mut versions: Vec<String> = Vec::new();
    for l in &labels {
        if !versions.contains(l) {
            versions.push(l.clone());
        }
    }
    let series_of: Vec<usize> = labels
        .iter()
        .map(|l| versions.iter().position(|v| v == l).unwrap_or(0))
        .collect();
    timeline.versions = versions.clone();
    // Firmware as telemetry reports it -> the release it is (the rollback re-issue reports 1.1.0).
    let mut release_of = std::collections::BTreeMap::new();
    for r in catalog.all() {
        let v = r.version;
        release_of
            .entry(FirmwareVersion::new(v.major, v.minor as u8, v.patch as u8))
            .or_insert(r.id);
    }
    timeline.counts = vec![Vec::new(); versions.len()];

    backend.start_rollout(GOOD, FACTORY, stages.clone(), 0)?;
    events.push(Event {
        hour: 0,
        text: "1.1.0 published; rollout starts".into(),
    });
    let mut phase = Phase::Good;
    let mut hour: u32 = 0;
    let mut next_sample = 0;
    let mut next_heartbeat: Vec<u32> = (0..config.devices).map(|i| i % HEARTBEAT_HOURS).collect();
    let session_drop = (config.network_drop_rate * 10.0).min(1.0);
    let chunks = crate::release::IMAGE_SIZE.div_ceil(CHUNK) as u64;
    // Flash writes and erases in one update cycle (words, sectors, journal records): a cut
    // point is drawn uniformly below this.
    let flash_ops = (crate::release::IMAGE_SIZE / crate::updater::WRITE_SIZE) as u64 + 24;

    loop {
        // Devices.
        for (d, next_hb) in devices.iter_mut().zip(next_heartbeat.iter_mut()) {
            if d.advance(hour, &mut rng, config.network_drop_rate) {
                counters.network_drops += 1;
            }
            d.apply_lifecycle(hour);
            if d.online(hour) && hour >= d.next_checkin {
                d.next_checkin = hour + CHECKIN_HOURS + rng.below(2) as u32;
                if let Some(s) = &sunset
                    && d.eol.dates().is_none()
                    && let Err(e) = d.receive_notice(&s.notice, &s.trust, hour)
                {
                    return Err(format!("device {} refused the sunset notice: {e}", d.id));
                }
                let ota_allowed = d.takes_updates();
                let offer = if ota_allowed {
                    backend.offer(d.id)
                } else {
                    None
                };
                let now = Timestamp(unix(hour));
                let (offset, jitter) = (
                    d.utc_offset(),
                    jitter_minutes(&window_key, &d.id.to_le_bytes(), window.jitter_minutes),
                );
                if offer.is_some() && !window.is_open(now, offset, jitter) {
                    // Install at night: come back when this device's window opens.
                    if let Some(open) = window.next_open(now, offset, jitter) {
                        let wait = open.since(now).div_ceil(3600) as u32;
                        d.next_checkin = d.next_checkin.min(hour + wait.max(1));
                    }
                } else if let Some(rid) = offer {
                    let Some(release) = catalog.get(rid) else {
                        continue;
                    };
                    let faults = Faults {
                        power_cut: rng.chance(config.power_cut_rate).then(|| {
                            let tear = Tear::ALL
                                .get(rng.below(3) as usize)
                                .copied()
                                .unwrap_or(Tear::Skip);
                            (rng.below(flash_ops), tear)
                        }),
                        network_drop_at_chunk: rng
                            .chance(session_drop)
                            .then(|| rng.below(chunks) as u32),
                    };
                    backend.started(d.id, rid);
                    let (hw, weak) = (d.hw, d.weak);
                    let probe = Device::self_test_probe(hw, weak);
                    let s = d
                        .updater
                        .session(release, &trust, unix(hour), faults, &probe);
                    counters.sessions += 1;
                    if s.power_cut {
                        counters.power_cuts += 1;
                        d.reboot(hour, RebootReason::PowerOn);
                    }
                    if s.network_drop {
                        counters.network_drops += 1;
                        d.offline_until = hour + 1 + rng.below(6) as u32;
                    }
                    if let Some(outcome) = s.outcome {
                        if !matches!(outcome, Outcome::Refused(_)) {
                            d.reboot(hour, RebootReason::Ota);
                        }
                        let running = catalog.id_of(d.updater.running()).unwrap_or(rid);
                        backend.finished(d.id, rid, &outcome, running);
                    }
                }
            }
            if hour >= *next_hb && d.online(hour) {
                // Every 4 h while rollouts need evidence; every 12 h once only the sunset runs.
                *next_hb = hour
                    + if sunset.is_some() {
                        3 * HEARTBEAT_HOURS
                    } else {
                        HEARTBEAT_HOURS
                    };
                let firmware = d.updater.running();
                let mut frame = [0u8; Heartbeat::<METRICS>::MAX_FRAME_LEN];
                let n = d.heartbeat_frame(hour, firmware, &mut frame)?;
                if let Some(f) = frame
                    .get(..n)
                    .and_then(|bytes| watch.ingest(d.id, unix(hour), bytes))
                    && let Some(&id) = release_of.get(&f.firmware)
                {
                    backend.field_report(id, f.hours, f.crashes);
                }
            }
        }

        // Backend.
        backend.decide(hour);
        if hour.is_multiple_of(WATCH_HOURS) {
            watch.evaluate(hour, unix(hour), |fw| fw.to_string());
            for &(device, fw) in &watch.regressions {
                if let Some(&id) = release_of.get(&fw) {
                    backend.health_regression(device, id);
                }
            }
        }
        if hour >= next_sample {
            next_sample = hour + SAMPLE_HOURS;
            backend.sample_progress(hour);
            let mut counts = vec![0u32; versions.len()];
            for d in &devices {
                let id = catalog.id_of(d.updater.running()).unwrap_or(FACTORY);
                if let Some(&i) = series_of.get(usize::from(id))
                    && let Some(c) = counts.get_mut(i)
                {
                    *c += 1;
                }
            }
            timeline.hours.push(hour);
            for (series, c) in timeline.counts.iter_mut().zip(counts) {
                series.push(c);
            }
        }
        if let Some(s) = &mut sunset {
            s.notify_due(hour, config.devices);
        }

        // Scenario phases.
        let completed = |b: &Backend, id| b.rollout(id).is_some_and(|r| r.completed());
        let aborted = |b: &Backend, id| b.rollout(id).is_some_and(|r| r.aborted());
        phase = match phase {
            Phase::Good if completed(&backend, GOOD) => {
                events.push(Event {
                    hour,
                    text: "1.1.0 completed".into(),
                });
                Phase::GapBeforeBad(hour + 24)
            }
            Phase::GapBeforeBad(at) if hour >= at => {
                backend.start_rollout(BAD, GOOD, stages.clone(), hour)?;
                events.push(Event {
                    hour,
                    text: "1.2.0 published; rollout starts".into(),
                });
                Phase::Bad
            }
            Phase::Bad if aborted(&backend, BAD) => {
                if let Some((id, sequence)) = backend.rollback_release() {
                    catalog.reissue(id, sequence)?;
                    backend.catalog.reissue(id, sequence)?;
                    events.push(Event {
                        hour,
                        text: format!("1.2.0 aborted; rollback directive: 1.1.0 re-signed with sequence {sequence}"),
                    });
                }
                Phase::FixPending(hour + 48)
            }
            Phase::Bad if completed(&backend, BAD) => {
                events.push(Event {
                    hour,
                    text: "1.2.0 completed (it should not have)".into(),
                });
                Phase::FixPending(hour)
            }
            Phase::FixPending(at) if hour >= at => {
                backend.start_rollout(FIX, GOOD, stages.clone(), hour)?;
                events.push(Event {
                    hour,
                    text: "1.2.1 published; rollout starts".into(),
                });
                Phase::Fix
            }
            Phase::Fix if completed(&backend, FIX) => {
                events.push(Event {
                    hour,
                    text: "1.2.1 completed".into(),
                });
                Phase::SunsetPending(hour + 24)
            }
            Phase::Fix if aborted(&backend, FIX) => {
                // The product still reaches its end of life; devices that took 1.2.1 go back
                // to 1.1.0 under the rollback directive, and the report says why.
                events.push(Event {
                    hour,
                    text: "1.2.1 aborted by its gates; the sunset goes ahead on 1.1.0".into(),
                });
                Phase::SunsetPending(hour + 24)
            }
            Phase::SunsetPending(at) if hour >= at => {
                let s = Sunset::issue(hour, config.seed, config.sunset_days.max(2))?;
                events.push(Event {
                    hour,
                    text: format!(
                        "sunset notice issued: security only from {}, local only from {}",
                        when(s.dates.security_only_from),
                        when(s.dates.local_only_from)
                    ),
                });
                let mut s = s;
                s.notify_due(hour, config.devices);
                sunset = Some(s);
                Phase::Sunset
            }
            p => p,
        };
        progress.at(hour, phase.label());

        let done = sunset
            .as_ref()
            .is_some_and(|s| hour >= s.dates.local_only_from + 24);
        if done || hour >= MAX_DAYS * 24 {
            if !done {
                events.push(Event {
                    hour,
                    text: format!("stopped after {MAX_DAYS} simulated days"),
                });
            }
            if sunset.is_some() {
                let dir = config.export_dir.clone().unwrap_or_else(|| {
                    std::env::temp_dir().join(format!("fleet-sim-export-seed{}", config.seed))
                });
                match write_export(&dir, &export_rows(&devices)) {
                    Ok(e) => {
                        events.push(Event {
                            hour,
                            text: format!("export bundle written ({} files)", e.files.len()),
                        });
                        export = Some(e);
                    }
                    Err(e) => export_error = Some(e),
                }
            }
            break;
        }
        // One simulated hour per tick: installs happen in nightly windows a coarser step would miss.
        hour += 1;
    }
    progress.finish();

    // Report.
    let releases = backend
        .rollouts
        .iter()
        .map(|r| {
            let last = r.decisions.last();
            ReleaseReport {
                version: label(r.release),
                outcome: if r.completed() {
                    "completed"
                } else if r.aborted() {
                    "aborted"
                } else {
                    "active"
                }
                .into(),
                stages_reached: r.stages_opened,
                stage_percents: r
                    .plan
                    .stages
                    .iter()
                    .map(|s| match s.size {
                        StageSize::Percent(bp) => f64::from(bp) / 100.0,
                        StageSize::Devices(n) => 100.0 * f64::from(n) / f64::from(config.devices),
                    })
                    .collect(),
                devices_exposed: r.counts.offered,
                devices_started: r.counts.started,
                devices_succeeded: r.counts.succeeded,
                devices_failed: r.counts.failed.total() as u32,
                devices_rolled_back: r.rolled_back,
                failures: r.counts.failed,
                decision: last.map_or("none".into(), |d| d.action.clone()),
                why: last.map_or_else(|| r.last_explanation.clone(), |d| d.why.clone()),
                holds: r.holds,
                started_hour: r.started_hour,
                ended_hour: r.ended_hour,
                decisions: r.decisions.clone(),
                progress: r.progress.clone(),
            }
        })
        .collect();
    let mut final_versions: Vec<VersionCount> = Vec::new();
    for d in &devices {
        let v = d.updater.running().to_string();
        match final_versions.iter_mut().find(|x| x.version == v) {
            Some(x) => x.devices += 1,
            None => final_versions.push(VersionCount {
                version: v,
                devices: 1,
                why: None,
            }),
        }
    }
    let latest = label(FIX);
    let fix_why = backend.rollout(FIX).filter(|r| r.aborted()).map(|r| {
        format!(
            "1.2.1 was aborted: {}",
            crate::report::short_why(&r.last_explanation)
        )
    });
    for v in &mut final_versions {
        if v.version != latest {
            v.why = Some(fix_why.clone().unwrap_or_else(|| {
                "had not installed 1.2.1 when over-the-air updates ended with the cloud service"
                    .into()
            }));
        }
    }
    final_versions.sort_by_key(|v| core::cmp::Reverse(v.devices));
    let mut final_lifecycle: Vec<NamedCount> = Vec::new();
    for d in &devices {
        let name = d.lifecycle().name().to_string();
        match final_lifecycle.iter_mut().find(|x| x.name == name) {
            Some(x) => x.count += 1,
            None => final_lifecycle.push(NamedCount { name, count: 1 }),
        }
    }
    watch.close();
    let battery = BatteryReport {
        bin_width_pct_per_day: DRAIN_BIN,
        series: watch
            .drain_hist
            .iter()
            .map(|(fw, bins)| BatterySeries {
                firmware: fw.to_string(),
                bins: bins.to_vec(),
            })
            .collect(),
    };
    let bricked = devices
        .iter_mut()
        .map(|d| d.updater.bricked_after_reset())
        .filter(|&bricked| bricked)
        .count() as u32;
    let flash_bytes_written = devices.iter().map(|d| d.updater.bytes_written()).sum();
    let devices_with_notice = devices.iter().filter(|d| d.eol.dates().is_some()).count() as u32;
    let flash_heap = devices.first().map_or(0, |d| d.updater.flash_bytes());
    let state_bytes_per_device =
        (core::mem::size_of::<Device>() + flash_heap + core::mem::size_of::<u32>()) as u64
            + backend.bytes_per_device().ceil() as u64
            + watch.bytes_per_device().ceil() as u64;
    Ok(Report {
        devices: config.devices,
        seed: config.seed,
        power_cut_rate: config.power_cut_rate,
        first_stage_percent: f64::from(config.first_stage_bp) / 100.0,
        power_cuts: counters.power_cuts,
        network_drops: counters.network_drops,
        bricked,
        update_sessions: counters.sessions,
        flash_bytes_written,
        simulated_days: f64::from(hour) / 24.0,
        wall_seconds: started.elapsed().as_secs_f64(),
        state_bytes_per_device,
        releases,
        final_versions,
        final_lifecycle,
        alerts: watch.alerts.clone(),
        telemetry: TelemetryReport {
            frames: watch.frames,
            bytes: watch.bytes,
        },
        sunset: SunsetReport {
            notice: sunset.as_ref().map(|s| s.dates),
            devices_with_notice,
            compliance_findings: sunset
                .as_ref()
                .map(|s| s.findings.clone())
                .unwrap_or_default(),
            notifications: sunset.map(|s| s.sent).unwrap_or_default(),
            export,
            export_error,
        },
        timeline,
        battery,
        events,
    })
}

/// The user data of the export bundle: one row per device.
fn export_rows(devices: &[Device]) -> Vec<ExportRow> {
    devices
        .iter()
        .map(|d| ExportRow {
            device_id: d.id,
            hardware: format!("{:?}", d.hw),
            firmware: d.updater.running().to_string(),
            lifecycle: d.lifecycle().name().to_string(),
            battery_pct: d.battery_pct,
            boots: d.boots,
        })
        .collect()
}
