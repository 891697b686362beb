//! What a run produced, as data (serialised to JSON) and as a terminal summary.

use crate::backend::DecisionLog;
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
    /// Simulated time covered, in days.
    pub simulated_days: f64,
    /// Wall-clock time of the simulation, in seconds.
    pub wall_seconds: f64,
    /// Simulation state per device (device, update engine and flash, backend and telemetry
    /// records), in bytes.
    pub state_bytes_per_device: u64,
    /// One entry per rollout, in order.
    pub releases: Vec<ReleaseReport>,
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
    /// Devices offered the release (per device, as `rollout-policy` counts exposure).
    pub devices_exposed: u32,
    /// Devices that started installing it.
    pub devices_started: u32,
    /// Devices that confirmed it after their self-test.
    pub devices_succeeded: u32,
    /// Devices where it failed (self-test revert or refusal).
    pub devices_failed: u32,
    /// Failures by kind (self-test reverts count as `boot_reverted`, drain found by fleet
    /// telemetry after confirming as `health_regression`).
    pub failures: rollout_policy::evidence::Failures,
    /// Devices sent back by the rollback directive (aborted releases).
    pub devices_rolled_back: u32,
    /// The last decision and why.
    pub decision: String,
    /// Why, with the numbers (`rollout-policy`'s explanation).
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
    /// The export bundle written.
    pub export: Option<ExportSummary>,
    /// Why the export bundle could not be written, if it could not.
    pub export_error: Option<String>,
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

/// The gist of a `rollout-policy` explanation: the stage summary, failing gates, and the
/// verdict (the JSON and HTML reports keep the whole text).
pub fn short_why(why: &str) -> String {
    let body = why.split(" => ").next().unwrap_or(why);
    let mut parts = body.split("; gate ");
    let mut out: Vec<String> = parts.next().map(|p| p.to_string()).into_iter().collect();
    out.extend(
        parts
            .filter(|p| p.contains("FAIL"))
            .map(|p| format!("gate {p}")),
    );
    if let Some(verdict) = why.split(" => ").nth(1) {
        out.push(format!("=> {verdict}"));
    }
    out.join("; ")
}

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
            "fleet-sim: {} devices, seed {}, power-cut rate {}, first stage {}%",
            self.devices, self.seed, self.power_cut_rate, self.first_stage_percent
        );
        let _ = writeln!(
            s,
            "simulated {:.1} days in {:.2} s wall time; {} bytes of state per device\n",
            self.simulated_days, self.wall_seconds, self.state_bytes_per_device
        );
        let _ = writeln!(s, "Releases");
        for r in &self.releases {
            let _ = writeln!(
                s,
                "  {:<7} {:<9} stages {}/{}  exposed {:>7} ({:.2}% of fleet)  succeeded {:>7}  failed {:>5}{}",
                r.version,
                r.outcome,
                r.stages_reached,
                r.stage_percents.len(),
                r.devices_exposed,
                100.0 * f64::from(r.devices_exposed) / f64::from(self.devices.max(1)),
                r.devices_succeeded,
                r.devices_failed,
                if r.devices_rolled_back > 0 {
                    format!("  rolled back {}", r.devices_rolled_back)
                } else {
                    String::new()
                }
            );
            let _ = writeln!(s, "          {}: {}", r.decision, short_why(&r.why));
        }
        let _ = writeln!(s, "\nUpdates");
        let _ = writeln!(
            s,
            "  sessions {}  power cuts {}  network drops {}  bricked {}  flash written {} KiB",
            self.update_sessions,
            self.power_cuts,
            self.network_drops,
            self.bricked,
            self.flash_bytes_written / 1024
        );
        let _ = writeln!(s, "\nFinal versions");
        for v in &self.final_versions {
            let _ = write!(s, "  {:<7} {:>8}", v.version, v.devices);
            if let Some(why) = &v.why {
                let _ = write!(s, "  ({why})");
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(s, "\nLifecycle after the sunset");
        for l in &self.final_lifecycle {
            let _ = writeln!(s, "  {:<15} {:>8}", l.name, l.count);
        }
        let _ = writeln!(s, "\nAlerts ({} events)", self.alerts.len());
        for a in &self.alerts {
            let _ = writeln!(
                s,
                "  {}  {:<8} {}: {}",
                when(a.hour),
                a.state,
                a.rule,
                a.detail
            );
        }
        let _ = writeln!(
            s,
            "\nTelemetry: {} heartbeats, {} bytes",
            self.telemetry.frames, self.telemetry.bytes
        );
        let _ = writeln!(s, "\nEnd of life");
        if let Some(n) = &self.sunset.notice {
            let _ = writeln!(
                s,
                "  notice issued {}; security only from {}; local only from {}; accepted by {} devices",
                when(n.issued),
                when(n.security_only_from),
                when(n.local_only_from),
                self.sunset.devices_with_notice
            );
        }
        for n in &self.sunset.notifications {
            let _ = writeln!(
                s,
                "  {}  notified {} customers: {}",
                when(n.hour),
                n.recipients,
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
                total,
                if e.verified { "verified" } else { "WRONG" }
            );
        }
        if self.sunset.notice.is_some() {
            if self.sunset.compliance_findings.is_empty() {
                let _ = writeln!(
                    s,
                    "  support policy: no compliance findings (EU CRA, ETSI EN 303 645, UK PSTI)"
                );
            }
            for f in &self.sunset.compliance_findings {
                let _ = writeln!(s, "  compliance finding: {f}");
            }
        }
        if let Some(e) = &self.sunset.export_error {
            let _ = writeln!(s, "  export bundle NOT written: {e}");
        }
        s
    }
}
