//! The backend: publishes releases, runs staged rollouts on evidence, offers updates to devices
//! that check in, and records what they report.

use crate::release::{Catalog, ReleaseId};
use crate::updater::Outcome;
use rollout_policy::cohort::{RolloutKey, bucket};
use serde::Serialize;

/// One stage of a rollout plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Stage {
    /// Share of the fleet, in basis points.
    pub basis_points: u16,
    /// Minimum soak time before the next stage, in hours.
    pub soak_hours: u32,
}

/// The plan every rollout of the scenario follows: first stage, 10%, 50%, 100%.
pub fn plan(first_stage_bp: u16) -> Vec<Stage> {
    let mut stages = vec![Stage {
        basis_points: first_stage_bp.max(1),
        soak_hours: 24,
    }];
    for bp in [1_000u16, 5_000, 10_000] {
        if bp > first_stage_bp {
            stages.push(Stage {
                basis_points: bp,
                soak_hours: 24,
            });
        }
    }
    stages
}

/// Where a rollout is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    /// Offering to the open stage.
    Active,
    /// Every stage passed.
    Completed,
    /// Stopped; devices that took it are sent back.
    Aborted,
}

/// A decision the backend took about a rollout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DecisionLog {
    /// Simulated hour.
    pub hour: u32,
    /// Stage index (0-based) the decision was about.
    pub stage: usize,
    /// `advance`, `complete` or `abort`.
    pub action: String,
    /// Why, with the numbers.
    pub why: String,
}

/// A staged rollout of one release.
#[derive(Clone, Debug)]
pub struct Rollout {
    /// The release rolled out.
    pub release: ReleaseId,
    key: RolloutKey,
    /// The plan.
    pub stages: Vec<Stage>,
    /// Index of the open stage.
    pub stage: usize,
    stage_opened: u32,
    stage_devices: u32,
    /// State.
    pub state: RolloutState,
    /// Hour it started.
    pub started: u32,
    /// Hour it completed or was aborted.
    pub ended: Option<u32>,
    exposed_bits: Vec<u64>,
    /// Distinct devices that started installing it.
    pub exposed: u32,
    /// Devices that confirmed it.
    pub succeeded: u32,
    /// Devices where it failed (reverted or refused).
    pub failed: u32,
    /// Decisions taken, in order.
    pub decisions: Vec<DecisionLog>,
    /// Where devices that took it go after an abort.
    pub rollback_to: Option<ReleaseId>,
    /// Devices moved by the rollback directive.
    pub rolled_back: u32,
    /// (hour, devices running the release) samples.
    pub progress: Vec<(u32, u32)>,
}

/// What the backend remembers per device.
#[derive(Clone, Copy, Debug, Default)]
struct DeviceRecord {
    version: ReleaseId,
    failed_mask: u8,
}

/// The backend.
#[derive(Clone, Debug)]
pub struct Backend {
    /// Every release.
    pub catalog: Catalog,
    /// Every rollout, oldest first.
    pub rollouts: Vec<Rollout>,
    records: Vec<DeviceRecord>,
    seed: u64,
}

impl Backend {
    /// A backend for `devices` devices, all on the factory image.
    pub fn new(catalog: Catalog, devices: u32, seed: u64) -> Self {
        Self {
            catalog,
            rollouts: Vec::new(),
            records: vec![DeviceRecord::default(); devices as usize],
            seed,
        }
    }

    /// Starts a rollout of `release` at `hour` with `stages`.
    pub fn start_rollout(
        &mut self,
        release: ReleaseId,
        stages: Vec<Stage>,
        hour: u32,
        rollback_to: Option<ReleaseId>,
    ) {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&self.seed.to_le_bytes());
        key[8] = release;
        let n = self.records.len();
        let mut r = Rollout {
            release,
            key: RolloutKey::new(key),
            stages,
            stage: 0,
            stage_opened: hour,
            stage_devices: 0,
            state: RolloutState::Active,
            started: hour,
            ended: None,
            exposed_bits: vec![0; n.div_ceil(64)],
            exposed: 0,
            succeeded: 0,
            failed: 0,
            decisions: Vec::new(),
            rollback_to,
            rolled_back: 0,
            progress: Vec::new(),
        };
        r.stage_devices = cohort_size(&r, n as u32);
        self.rollouts.push(r);
    }

    /// The rollout of `release`, if any.
    pub fn rollout(&self, release: ReleaseId) -> Option<&Rollout> {
        self.rollouts.iter().find(|r| r.release == release)
    }

    /// The release the backend offers `device` now, if any.
    pub fn offer(&self, device: u32) -> Option<ReleaseId> {
        let rec = self.records.get(device as usize)?;
        let current = self.catalog.get(rec.version)?.sequence;
        for r in self.rollouts.iter().rev() {
            match r.state {
                RolloutState::Aborted => {
                    if rec.version == r.release {
                        return r.rollback_to;
                    }
                }
                RolloutState::Active | RolloutState::Completed => {
                    let newer = self
                        .catalog
                        .get(r.release)
                        .is_some_and(|rel| rel.sequence > current);
                    let failed = rec.failed_mask & (1 << r.release) != 0;
                    let targeted = r.state == RolloutState::Completed || in_stage(r, device);
                    if newer && !failed && targeted {
                        return Some(r.release);
                    }
                }
            }
        }
        None
    }

    /// Records that `device` started installing `release`.
    pub fn started(&mut self, device: u32, release: ReleaseId) {
        if let Some(r) = self.rollouts.iter_mut().find(|r| r.release == release) {
            let (w, b) = ((device / 64) as usize, device % 64);
            if let Some(word) = r.exposed_bits.get_mut(w)
                && *word & (1 << b) == 0
            {
                *word |= 1 << b;
                r.exposed += 1;
            }
        }
    }

    /// Records how an update of `device` to `release` ended; `running` is what it runs now.
    pub fn finished(
        &mut self,
        device: u32,
        release: ReleaseId,
        outcome: &Outcome,
        running: ReleaseId,
    ) {
        let Some(rec) = self.records.get_mut(device as usize) else {
            return;
        };
        let previous = rec.version;
        rec.version = running;
        if !matches!(outcome, Outcome::Confirmed) {
            rec.failed_mask |= 1 << release;
        }
        if let Some(r) = self.rollouts.iter_mut().find(|r| r.release == release) {
            match outcome {
                Outcome::Confirmed => r.succeeded += 1,
                _ => r.failed += 1,
            }
        }
        if matches!(outcome, Outcome::Confirmed)
            && let Some(r) = self
                .rollouts
                .iter_mut()
                .find(|r| r.rollback_to == Some(release) && r.release == previous)
        {
            r.rolled_back += 1;
        }
    }

    /// Takes the decision of every active rollout at `hour`.
    pub fn decide(&mut self, hour: u32) {
        let n = self.records.len() as u32;
        for r in &mut self.rollouts {
            if r.state != RolloutState::Active {
                continue;
            }
            let Some(stage) = r.stages.get(r.stage).copied() else {
                continue;
            };
            let reports = r.succeeded + r.failed;
            let stage_no = r.stage;
            let lower = wilson_lower(r.failed, reports);
            if r.failed >= 2 && lower > 0.02 {
                r.state = RolloutState::Aborted;
                r.ended = Some(hour);
                r.decisions.push(DecisionLog {
                    hour,
                    stage: stage_no,
                    action: "abort".into(),
                    why: format!(
                        "{} of {} reports failed; failure ratio is above 2% with 95% confidence (Wilson lower bound {:.1}%)",
                        r.failed,
                        reports,
                        lower * 100.0
                    ),
                });
                continue;
            }
            let soaked = hour >= r.stage_opened + stage.soak_hours;
            let enough = u64::from(reports) * 2 >= u64::from(r.stage_devices.max(1));
            if soaked && enough {
                let last = r.stage + 1 >= r.stages.len();
                let why = format!(
                    "soaked {} h; {} of {} reports succeeded (failure upper bound {:.1}%)",
                    hour - r.stage_opened,
                    r.succeeded,
                    reports,
                    wilson_upper(r.failed, reports) * 100.0
                );
                if last {
                    r.state = RolloutState::Completed;
                    r.ended = Some(hour);
                    r.decisions.push(DecisionLog {
                        hour,
                        stage: stage_no,
                        action: "complete".into(),
                        why,
                    });
                } else {
                    r.stage += 1;
                    r.stage_opened = hour;
                    r.stage_devices = cohort_size(r, n);
                    r.decisions.push(DecisionLog {
                        hour,
                        stage: stage_no,
                        action: "advance".into(),
                        why,
                    });
                }
            }
        }
    }

    /// Backend state per device, in bytes (records and exposure bits).
    pub fn bytes_per_device(&self) -> u64 {
        core::mem::size_of::<DeviceRecord>() as u64 + self.rollouts.len() as u64 / 8
    }

    /// Samples, per rollout, how many devices run its release.
    pub fn sample_progress(&mut self, hour: u32) {
        let mut counts = vec![0u32; self.catalog.all().len()];
        for rec in &self.records {
            if let Some(c) = counts.get_mut(usize::from(rec.version)) {
                *c += 1;
            }
        }
        for r in &mut self.rollouts {
            r.progress.push((
                hour,
                counts.get(usize::from(r.release)).copied().unwrap_or(0),
            ));
        }
    }
}

fn in_stage(r: &Rollout, device: u32) -> bool {
    r.stages
        .get(r.stage)
        .is_some_and(|s| bucket(&r.key, &device.to_le_bytes()) < s.basis_points)
}

fn cohort_size(r: &Rollout, devices: u32) -> u32 {
    (0..devices).filter(|&d| in_stage(r, d)).count() as u32
}

const Z95: f64 = 1.96;

/// Wilson score interval lower bound of `k` failures in `n`.
fn wilson_lower(k: u32, n: u32) -> f64 {
    wilson(k, n).0
}

/// Wilson score interval upper bound of `k` failures in `n`.
fn wilson_upper(k: u32, n: u32) -> f64 {
    wilson(k, n).1
}

fn wilson(k: u32, n: u32) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n) = (f64::from(k), f64::from(n));
    let p = k / n;
    let z2 = Z95 * Z95;
    let centre = p + z2 / (2.0 * n);
    let spread = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let denom = 1.0 + z2 / n;
    (
        ((centre - spread) / denom).max(0.0),
        ((centre + spread) / denom).min(1.0),
    )
}
