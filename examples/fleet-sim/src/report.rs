//! What a run produced, as data (serialised to JSON) and as a terminal summary.

use crate::backend::{DecidedBy, DecisionKind, DecisionLog, Unfinished};
use crate::explain;
use crate::numbers::count;
use crate::sunset::{ExportSummary, NoticeDates, NotificationSent};
use crate::watch::AlertEvent;
use core::fmt::Write as _;
use serde::Serialize;

/// The whole report of one run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Fleet size.
    pub devices: u32,
    /// The seed of the run.
    pub seed: u64,
    /// Probability of a power cut per update session.
    pub power_cut_rate: f64,
    /// First stage of every rollout, in percent of the fleet.
    pub first_stage_percent: f64,
    /// Power cuts injected during updates.
    pub power_cuts: u64,
    /// Network drops (connectivity lost, and downloads interrupted).
    pub network_drops: u64,
    /// Devices that could not boot a verified image at the end (must be 0).
    pub bricked: u32,
    /// Update sessions run (including resumed ones).
    pub update_sessions: u64,
    /// Flash bytes written across the fleet (simulator wear counters, factory provisioning
    /// included).
    pub flash_bytes_written: u64,
    /// Swap-mode devices and delta installs.
    pub engines: EngineReport,
    /// Simulated time covered, in days.
    pub simulated_days: f64,
    /// Wall-clock time of the simulation, in seconds.
    pub wall_seconds: f64,
    /// Simulation state per device (device, update engine and flash, backend and telemetry
    /// records), in bytes.
    pub state_bytes_per_device: u64,
    /// One entry per rollout, in order.
    pub releases: Vec<ReleaseReport>,
    /// What the devices' update reports say, per release: devices at each stage, top failure
    /// reasons ([`crate::reports`]).
    pub update_reports: Vec<crate::reports::ReleaseUpdateReports>,
    /// Devices per firmware version at the end.
    pub final_versions: Vec<VersionCount>,
    /// Devices per lifecycle state at the end.
    pub final_lifecycle: Vec<NamedCount>,
    /// Fleet alerts, firing and resolving.
    pub alerts: Vec<AlertEvent>,
    /// Heartbeats and their encoding.
    pub telemetry: TelemetryReport,
    /// End of life.
    pub sunset: SunsetReport,
    /// Version mix over time, for the plots.
    pub timeline: Timeline,
    /// Battery drain distribution per firmware.
    pub battery: BatteryReport,
    /// Notable moments, in time order.
    pub events: Vec<Event>,
}

/// One rollout.
#[derive(Clone, Debug, Serialize)]
pub struct ReleaseReport {
    /// Display version.
    pub version: String,
    /// `completed` or `aborted` (`active` if the run ended first).
    pub outcome: String,
    /// Stages opened.
    pub stages_reached: usize,
    /// The plan's stages, cumulative percent of the fleet.
    pub stage_percents: Vec<f64>,
    /// The plan's stages: soak and minimum reports.
    pub stages: Vec<StagePlan>,
    /// Devices offered the release (per device, as `rollout-policy` counts exposure).
    pub devices_exposed: u32,
    /// The release it replaced: the control of its gates and the rollback target.
    pub control_version: String,
    /// Devices that started installing it.
    pub devices_started: u32,
    /// Devices that confirmed it after their self-test.
    pub devices_succeeded: u32,
    /// Devices where it failed (self-test revert or refusal).
    pub devices_failed: u32,
    /// Failures by kind (self-test reverts count as `boot_reverted`, drain found by fleet
    /// telemetry after confirming as `health_regression`).
    pub failures: rollout_policy::evidence::Failures,
    /// Devices offered it that have no final outcome for it, and why: with these,
    /// `devices_exposed = devices_succeeded + devices_failed + unfinished.total()`.
    pub unfinished: Unfinished,
    /// Of `unfinished.superseded`: the release each finished instead, and how many.
    pub superseded_by: Vec<NamedCount>,
    /// Devices sent back by the rollback directive (aborted releases).
    pub devices_rolled_back: u32,
    /// The rollback directive, after an abort.
    pub directive: Option<rollout_policy::rollback::RollbackDirective>,
    /// The display version the directive sends devices back to.
    pub rollback_to: Option<String>,
    /// The last decision (`null` if none was taken).
    pub decision: Option<DecisionKind>,
    /// Who took the last decision.
    pub decided_by: Option<DecidedBy>,
    /// What an active rollout is still waiting for (its last decision was a hold).
    pub holding: Option<rollout_policy::decide::Missing>,
    /// The outcome in plain words (see [`crate::explain`]).
    pub summary: String,
    /// The last decision's arithmetic in words (every decision's is in `decisions` as data).
    pub arithmetic: Vec<String>,
    /// `rollout-policy`'s own explanation of the last decision, verbatim.
    pub why: String,
    /// Hold decisions taken (nothing wrong, evidence or soak still missing).
    pub holds: u32,
    /// Hour the rollout started.
    pub started_hour: u32,
    /// Hour it completed or was aborted.
    pub ended_hour: Option<u32>,
    /// Every decision.
    pub decisions: Vec<DecisionLog>,
    /// (hour, devices running it).
    pub progress: Vec<(u32, u32)>,
}

/// One stage of a rollout's plan.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StagePlan {
    /// Cumulative share of the fleet, percent.
    pub percent: f64,
    /// Soak, hours.
    pub soak_hours: u64,
    /// Share of the stage's devices that must report a final outcome, percent.
    pub min_reported_percent: f64,
}

/// Devices on one version at the end.
#[derive(Clone, Debug, Serialize)]
pub struct VersionCount {
    /// Display version.
    pub version: String,
    /// Devices.
    pub devices: u32,
    /// Why they are on it, when it is not the latest.
    pub why: Option<String>,
}

/// A count under a name.
#[derive(Clone, Debug, Serialize)]
pub struct NamedCount {
    /// Name.
    pub name: String,
    /// Count.
    pub count: u32,
}

/// Telemetry figures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TelemetryReport {
    /// Heartbeats received by the backend.
    pub frames: u64,
    /// Bytes of encoded heartbeat frames.
    pub bytes: u64,
    /// Update reports that rode with the heartbeats (each sent until acknowledged).
    pub update_reports: u64,
    /// Their bytes.
    pub update_report_bytes: u64,
}

/// End of life.
#[derive(Clone, Debug, Serialize)]
pub struct SunsetReport {
    /// The notice's dates, in simulated hours.
    pub notice: Option<NoticeDates>,
    /// Devices that accepted the notice.
    pub devices_with_notice: u32,
    /// Customer notifications sent.
    pub notifications: Vec<NotificationSent>,
    /// Support-policy compliance findings (EU CRA, ETSI EN 303 645, UK PSTI); empty when none.
    pub compliance_findings: Vec<String>,
    /// `eol-core`'s compliance report of the support policy, in its words (one finding a line,
    /// or that there are none).
    pub compliance_report: String,
    /// The export bundle written.
    pub export: Option<ExportSummary>,
    /// Why the export bundle could not be written, if it could not.
    pub export_error: Option<String>,
}

/// How the fleet's updates installed: swap-mode devices and patches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EngineReport {
    /// The hardware revision that runs swap mode.
    pub swap_hardware: String,
    /// Devices running `ota-core`'s swap mode.
    pub swap_devices: u32,
    /// Updates confirmed on them (each swapped into the primary slot by the bootloader).
    pub swap_installs: u32,
    /// Update sessions that downloaded a patch instead of the full image.
    pub delta_sessions: u64,
    /// Updates confirmed from a patch.
    pub delta_installs: u32,
    /// Of them, on swap-mode devices.
    pub delta_installs_swap: u32,
    /// Download bytes the patches saved against the full image.
    pub delta_bytes_saved: u64,
    /// Size of the fix's patch, in bytes.
    pub patch_bytes: u64,
    /// Size of the full image the patch replaces, in bytes.
    pub image_bytes: u64,
}

/// Version mix sampled over time.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Timeline {
    /// Sample hours.
    pub hours: Vec<u32>,
    /// Version labels of `counts`.
    pub versions: Vec<String>,
    /// `counts[v][i]`: devices running `versions[v]` at `hours[i]`.
    pub counts: Vec<Vec<u32>>,
}

/// Battery drain histograms.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BatteryReport {
    /// Bin width, percent per day.
    pub bin_width_pct_per_day: f32,
    /// One histogram per firmware.
    pub series: Vec<BatterySeries>,
}

/// One drain histogram.
#[derive(Clone, Debug, Serialize)]
pub struct BatterySeries {
    /// Firmware label.
    pub firmware: String,
    /// Counts of drain estimates per bin.
    pub bins: Vec<u32>,
}

/// A notable moment.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// Simulated hour.
    pub hour: u32,
    /// What happened.
    pub text: String,
}

/// Appends `text` to `s`, wrapped at [`WIDTH`] columns: the first line indented by `indent`,
/// the lines after it by `hang`.
fn wrap(s: &mut String, text: &str, indent: usize, hang: usize) {
    let mut line = String::new();
    let mut at = indent;
    for word in text.split(' ') {
        if !line.is_empty() && at + line.len() + 1 + word.len() > WIDTH {
            let _ = writeln!(s, "{:at$}{line}", "");
            line.clear();
            at = hang;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(s, "{:at$}{line}", "");
    }
}

/// Terminal width the report wraps at.
const WIDTH: usize = 100;

/// Formats an hour as `day D hh:00`.
pub fn when(hour: u32) -> String {
    format!("day {} {:02}:00", hour / 24, hour % 24)
}

impl Report {
    /// The release report for `version`, if it was rolled out.
    pub fn release(&self, version: &str) -> Option<&ReleaseReport> {
        self.releases.iter().find(|r| r.version == version)
    }

    /// The terminal summary.
    pub fn terminal(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "fleet-sim: {} devices, seed {}, power-cut rate {}, first stage {}% of the fleet",
            count(u64::from(self.devices)),
            self.seed,
            self.power_cut_rate,
            self.first_stage_percent
        );
        let _ = writeln!(
            s,
            "simulated {:.1} days in {:.2} s wall time; {} bytes of state per device\n",
            self.simulated_days,
            self.wall_seconds,
            count(self.state_bytes_per_device)
        );
        let _ = writeln!(s, "Releases");
        for r in &self.releases {
            let _ = writeln!(
                s,
                "  {:<7} {}, {} of {} stages",
                r.version,
                r.outcome,
                r.stages_reached,
                r.stage_percents.len()
            );
            for line in [explain::counts(r, self.devices), r.summary.clone()] {
                wrap(&mut s, &line, 10, 12);
            }
        }
        let _ = writeln!(
            s,
            "  (every decision with its arithmetic: --explain; all of it as data: --report-json)"
        );
        let _ = writeln!(s, "\nUpdates");
        let _ = writeln!(
            s,
            "  sessions {}  power cuts {}  network drops {}  bricked {}  flash written {} KiB",
            count(self.update_sessions),
            count(self.power_cuts),
            count(self.network_drops),
            self.bricked,
            count(self.flash_bytes_written / 1024)
        );
        let e = &self.engines;
        let line = format!(
            "swap mode (rev {}): {} devices, {} updates swapped in; delta: {} installs ({} on swap devices) from a {}-byte patch instead of {} bytes, {} download bytes saved",
            e.swap_hardware,
            count(u64::from(e.swap_devices)),
            count(u64::from(e.swap_installs)),
            count(u64::from(e.delta_installs)),
            count(u64::from(e.delta_installs_swap)),
            e.patch_bytes,
            e.image_bytes,
            count(e.delta_bytes_saved)
        );
        wrap(&mut s, &line, 2, 4);
        let _ = writeln!(
            s,
            "\nUpdate reports (each device's latest per release, sent with its heartbeats)"
        );
        for r in &self.update_reports {
            let _ = writeln!(
                s,
                "  {:<7} {} devices",
                r.version,
                count(u64::from(r.devices))
            );
            wrap(&mut s, &crate::reports::line(r), 10, 12);
        }
        let _ = writeln!(s, "\nFinal versions");
        for v in &self.final_versions {
            let _ = writeln!(s, "  {:<7} {:>10}", v.version, count(u64::from(v.devices)));
            if let Some(why) = &v.why {
                wrap(&mut s, why, 10, 12);
            }
        }
        let _ = writeln!(s, "\nLifecycle after the sunset");
        for l in &self.final_lifecycle {
            let _ = writeln!(s, "  {:<15} {:>10}", l.name, count(u64::from(l.count)));
        }
        let _ = writeln!(s, "\nAlerts ({} events)", self.alerts.len());
        for a in &self.alerts {
            let line = format!("{}  {:<8} {}: {}", when(a.hour), a.state, a.rule, a.detail);
            wrap(&mut s, &line, 2, 25);
        }
        let _ = writeln!(
            s,
            "\nTelemetry: {} heartbeats, {} bytes; {} update reports, {} bytes",
            count(self.telemetry.frames),
            count(self.telemetry.bytes),
            count(self.telemetry.update_reports),
            count(self.telemetry.update_report_bytes)
        );
        let _ = writeln!(s, "\nEnd of life");
        if let Some(n) = &self.sunset.notice {
            let line = format!(
                "notice issued {}; security only from {}; local only from {}; accepted by {} devices",
                when(n.issued),
                when(n.security_only_from),
                when(n.local_only_from),
                count(u64::from(self.sunset.devices_with_notice))
            );
            wrap(&mut s, &line, 2, 4);
        }
        for n in &self.sunset.notifications {
            let _ = writeln!(
                s,
                "  {}  notified {} customers: {}",
                when(n.hour),
                count(u64::from(n.recipients)),
                n.label
            );
        }
        if let Some(e) = &self.sunset.export {
            let total: u64 = e.files.iter().map(|f| f.bytes).sum();
            let _ = writeln!(
                s,
                "  export bundle: {} ({} files, {} bytes, checksums {})",
                e.dir.display(),
                e.files.len(),
                count(total),
                if e.verified { "verified" } else { "WRONG" }
            );
        }
        if self.sunset.notice.is_some() {
            for line in self.sunset.compliance_report.lines() {
                wrap(&mut s, &format!("support policy: {line}"), 2, 4);
            }
        }
        if let Some(e) = &self.sunset.export_error {
            let _ = writeln!(s, "  export bundle NOT written: {e}");
        }
        s
    }

    /// Every rollout decision in plain words, each with its arithmetic (`--explain`).
    pub fn decisions_explained(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "\nDecisions, with their arithmetic");
        for r in &self.releases {
            let _ = writeln!(
                s,
                "\n  {} (control and rollback target: {}); {} holds not listed (nothing wrong, something still missing)",
                r.version,
                r.control_version,
                count(u64::from(r.holds))
            );
            for d in &r.decisions {
                let head = format!("{}  {}", when(d.hour), explain::decision(r, d));
                wrap(&mut s, &head, 4, 18);
                for line in explain::arithmetic(r, d, self.devices) {
                    wrap(&mut s, &format!("- {line}"), 8, 10);
                }
            }
        }
        s
    }
}
