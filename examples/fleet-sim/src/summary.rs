//! The end of the run: the world as a [`Report`].

use crate::device::{Device, SWAP_HW};
use crate::release::FIX;
use crate::release::ReleaseId;
use crate::report::EngineReport;
use crate::report::{
    BatteryReport, BatterySeries, NamedCount, ReleaseReport, Report, StagePlan, SunsetReport,
    TelemetryReport, VersionCount,
};
use crate::sunset::ExportRow;
use crate::updater::Mode;
use crate::watch::DRAIN_BIN;
use crate::world::World;
use core::time::Duration;
use rollout_policy::decide::Action;
use rollout_policy::plan::{Stage, StageSize};

/// What the world looks like at the end of the run, `wall` after it started.
pub fn report(mut w: World, wall: Duration) -> Report {
    let (export, export_error) = match w.export.take() {
        Some(Ok(e)) => (Some(e), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let takes_updates = |device: u32| {
        w.devices
            .get(device as usize)
            .is_some_and(|d| d.takes_updates())
    };
    let label = |id: u32| {
        w.versions
            .label(ReleaseId::try_from(id).unwrap_or(ReleaseId::MAX))
    };
    let fleet = w.config.devices;
    let releases: Vec<ReleaseReport> = w
        .backend
        .rollouts
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let last = r.decisions.last();
            let unfinished = w.backend.unfinished(i, &takes_updates);
            let mut rel = ReleaseReport {
                version: w.versions.label(r.release),
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
                    .map(|s| stage_percent(s, fleet))
                    .collect(),
                stages: r
                    .plan
                    .stages
                    .iter()
                    .map(|s| StagePlan {
                        percent: stage_percent(s, fleet),
                        soak_hours: s.soak_secs / 3600,
                        min_reported_percent: f64::from(s.min_reported_bp) / 100.0,
                    })
                    .collect(),
                control_version: label(r.state.previous.id),
                devices_exposed: r.counts.offered,
                devices_started: r.counts.started,
                devices_succeeded: r.counts.succeeded,
                devices_failed: r.counts.failed.total() as u32,
                superseded_by: unfinished
                    .superseded_by
                    .iter()
                    .map(|&(id, count)| NamedCount {
                        name: w.versions.label(id),
                        count,
                    })
                    .collect(),
                unfinished,
                devices_rolled_back: r.rolled_back,
                directive: r.directive,
                rollback_to: r.directive.map(|d| label(d.to.id)),
                failures: r.counts.failed,
                decision: last.map(|d| d.action),
                decided_by: last.map(|d| d.by),
                holding: match r.last_action {
                    Some(Action::Hold { missing, .. }) if !r.completed() && !r.aborted() => {
                        Some(missing)
                    }
                    _ => None,
                },
                summary: String::new(),
                arithmetic: Vec::new(),
                why: last.map_or_else(|| r.last_explanation.clone(), |d| d.why.clone()),
                holds: r.holds,
                started_hour: r.started_hour,
                ended_hour: r.ended_hour,
                decisions: r.decisions.clone(),
                progress: r.progress.clone(),
            };
            rel.summary = crate::explain::outcome(&rel);
            rel.arithmetic = rel
                .decisions
                .last()
                .map(|d| crate::explain::arithmetic(&rel, d, fleet))
                .unwrap_or_default();
            rel
        })
        .collect();
    let mut final_versions: Vec<VersionCount> = Vec::new();
    for d in &w.devices {
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
    let latest = w.versions.label(FIX);
    let fix_why = releases
        .iter()
        .find(|r| r.version == latest && r.outcome == "aborted")
        .map(|r| format!("{latest} was {}", r.summary));
    for v in &mut final_versions {
        if v.version != latest {
            v.why = Some(fix_why.clone().unwrap_or_else(|| {
                format!(
                    "had not installed {latest} when over-the-air updates ended with the cloud service"
                )
            }));
        }
    }
    final_versions.sort_by_key(|v| core::cmp::Reverse(v.devices));
    let mut final_lifecycle: Vec<NamedCount> = Vec::new();
    for d in &w.devices {
        let name = d.lifecycle().name().to_string();
        match final_lifecycle.iter_mut().find(|x| x.name == name) {
            Some(x) => x.count += 1,
            None => final_lifecycle.push(NamedCount { name, count: 1 }),
        }
    }
    w.watch.close();
    let battery = BatteryReport {
        bin_width_pct_per_day: DRAIN_BIN,
        series: w
            .watch
            .drain_hist
            .iter()
            .map(|(fw, bins)| BatterySeries {
                firmware: fw.to_string(),
                bins: bins.to_vec(),
            })
            .collect(),
    };
    let bricked = w
        .devices
        .iter_mut()
        .map(|d| d.updater.bricked_after_reset())
        .filter(|&bricked| bricked)
        .count() as u32;
    let flash_bytes_written = w.devices.iter().map(|d| d.updater.bytes_written()).sum();
    let devices_with_notice = w.devices.iter().filter(|d| d.eol.dates().is_some()).count() as u32;
    let flash_heap = w.devices.first().map_or(0, |d| d.updater.flash_bytes());
    let state_bytes_per_device =
        (core::mem::size_of::<Device>() + flash_heap + core::mem::size_of::<u32>()) as u64
            + w.backend.bytes_per_device().ceil() as u64
            + w.watch.bytes_per_device().ceil() as u64;
    let engines = engines(&w);
    Report {
        engines,
        devices: w.config.devices,
        seed: w.config.seed,
        power_cut_rate: w.config.power_cut_rate,
        first_stage_percent: f64::from(w.config.first_stage_bp) / 100.0,
        power_cuts: w.counters.power_cuts,
        network_drops: w.counters.network_drops,
        bricked,
        update_sessions: w.counters.sessions,
        flash_bytes_written,
        simulated_days: f64::from(w.hour) / 24.0,
        wall_seconds: wall.as_secs_f64(),
        state_bytes_per_device,
        releases,
        update_reports: w.backend.reports.summary(),
        final_versions,
        final_lifecycle,
        alerts: w.watch.alerts.clone(),
        telemetry: TelemetryReport {
            frames: w.watch.frames,
            bytes: w.watch.bytes,
            update_reports: w.backend.reports.received,
            update_report_bytes: w.backend.reports.bytes,
        },
        sunset: SunsetReport {
            notice: w.sunset.as_ref().map(|s| s.dates),
            devices_with_notice,
            compliance_findings: w
                .sunset
                .as_ref()
                .map(|s| s.findings.clone())
                .unwrap_or_default(),
            compliance_report: w
                .sunset
                .as_ref()
                .map(|s| s.compliance.clone())
                .unwrap_or_default(),
            notifications: w.sunset.map(|s| s.sent).unwrap_or_default(),
            export,
            export_error,
        },
        timeline: w.timeline,
        battery,
        events: w.events,
    }
}

/// Swap-mode devices and delta installs across the fleet.
fn engines(w: &World) -> EngineReport {
    let swap: Vec<&Device> = w
        .devices
        .iter()
        .filter(|d| d.updater.mode() == Mode::Swap)
        .collect();
    let fix = w.catalog.get(FIX);
    EngineReport {
        swap_hardware: format!("{SWAP_HW:?}"),
        swap_devices: swap.len() as u32,
        swap_installs: swap.iter().map(|d| d.updater.installs).sum(),
        delta_sessions: w.counters.delta_sessions,
        delta_installs: w.devices.iter().map(|d| d.updater.delta_installs).sum(),
        delta_installs_swap: swap.iter().map(|d| d.updater.delta_installs).sum(),
        delta_bytes_saved: w.devices.iter().map(|d| d.updater.delta_bytes_saved).sum(),
        patch_bytes: fix
            .and_then(|r| r.delta.as_ref())
            .map_or(0, |d| d.patch.len() as u64),
        image_bytes: fix.map_or(0, |r| r.image.len() as u64),
    }
}

/// The user data of the export bundle: one row per device.
pub fn export_rows(devices: &[Device]) -> Vec<ExportRow> {
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

/// A stage's cumulative share of a fleet of `fleet` devices, percent.
fn stage_percent(s: &Stage, fleet: u32) -> f64 {
    match s.size {
        StageSize::Percent(bp) => f64::from(bp) / 100.0,
        StageSize::Devices(n) => 100.0 * f64::from(n) / f64::from(fleet.max(1)),
    }
}
