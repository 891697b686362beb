//! The backend: publishes releases, runs staged rollouts with `rollout-policy`, offers updates
//! to devices that check in, and turns what they report into per-device evidence.
//!
//! Every rollout follows one [`Plan`]: the first stage (1% by default, at least 100 devices),
//! 10%, 50%, 100%, each with a 24 h soak, judged by `rollout-policy`'s default gates by stage
//! (trial failures against the previous release as control, crash rate per device-hour against
//! control, and a tripwire on bricked devices; a stated baseline where the previous release has
//! no data). Every manifest, rollback re-issues included, takes its sequence from the backend's
//! one allocator. The backend keeps the counts per device (offered, started, succeeded,
//! failed by kind) as the policy requires; devices install in a nightly maintenance window in
//! their local time. An operator stand-in handles pauses: a rollout paused on an uncertain gate
//! with no trial failures is resumed after 12 hours; one paused with failures is aborted if no
//! verdict came within 48 hours (a failing gate aborts it sooner by itself).

use crate::release::{Catalog, FACTORY, GOOD, ROLLBACK, ReleaseId};
use crate::updater::Outcome;
use rollout_policy::calendar::ReleaseRef;
use rollout_policy::cohort::{RolloutKey, bucket};
use rollout_policy::decide::{Action, decide};
use rollout_policy::evidence::{Counts, Evidence};
use rollout_policy::gate::GateReport;
use rollout_policy::plan::{Baseline, GateKind, GateSet, Plan, Stage, StageSize, default_gates};
use rollout_policy::rollback::{
    MonotonicSequence, RollbackAction, RollbackDirective, RollbackHistory, SequenceAllocator,
};
use rollout_policy::state::{Applied, Command, Phase, RolloutState};
use rollout_policy::time::{DAY, HOUR, Timestamp};
use rollout_policy::window::MaintenanceWindow;
use serde::Serialize;

/// Unix time of simulated hour 0 (2027-01-01T00:00:00Z).
pub const EPOCH_UNIX: u64 = 1_798_761_600;
/// Hours an operator takes to look at a paused rollout without failures and resume it.
pub const OPERATOR_HOURS: u32 = 12;
/// Hours a rollout paused with trial failures waits for a verdict before the operator aborts.
pub const OPERATOR_GIVE_UP_HOURS: u32 = 48;

/// Unix seconds of simulated `hour`.
pub fn unix(hour: u32) -> u64 {
    EPOCH_UNIX + u64::from(hour) * HOUR
}

/// Trial outcomes the first stage needs whatever its share of the fleet: 1% of 2,000 devices
/// is 20, too few to tell a release that fails on a tenth of the fleet from a good one.
pub const FIRST_STAGE_MIN_TRIALS: u32 = 100;

/// The plan of every rollout: first stage, 10%, 50%, 100%, each soaking 24 h, 90% reported;
/// the first stage holds at least [`FIRST_STAGE_MIN_TRIALS`] devices. Gates are
/// `rollout-policy`'s defaults by stage: the first stage watches for gross failures, the second
/// for a 3x regression (sequential test and stage-end test), later stages strictly; crashes
/// and bricked devices throughout. The product's record stands in as the baseline while the
/// release being replaced has no update outcomes of its own (the factory image was never
/// rolled out): 0.2% of updates failing, 1 crash per 10,000 device-hours.
pub fn plan(first_stage_bp: u16) -> Plan {
    use default_gates::*;
    let mut plan = Plan::default_stable();
    plan.stages.clear();
    let mut sizes = vec![first_stage_bp.max(1)];
    sizes.extend(
        [1_000u16, 5_000, 10_000]
            .into_iter()
            .filter(|&bp| bp > first_stage_bp),
    );
    let sets = [
        GateSet::of(&[GROSS, CRASH, TRIPWIRE]),
        GateSet::of(&[SUBTLE, STAGE_END, CRASH, TRIPWIRE]),
        GateSet::of(&[LATE, CRASH, TRIPWIRE]),
    ];
    for (i, bp) in sizes.into_iter().enumerate() {
        // At most 4 stages, within the plan's capacity of 8.
        let _ = plan.stages.push(Stage {
            size: StageSize::Percent(bp),
            soak_secs: DAY,
            min_reported_bp: 9_000,
            min_trials: if i == 0 { FIRST_STAGE_MIN_TRIALS } else { 0 },
            manual_approval: false,
            gates: sets[i.min(sets.len() - 1)],
        });
    }
    for g in plan.gates.iter_mut() {
        g.baseline = match g.kind {
            GateKind::CrashRateVsControl { .. } => Some(Baseline {
                events: 100,
                samples: 1_000_000,
            }),
            GateKind::Tripwire { .. } => None,
            _ => Some(Baseline {
                events: 20,
                samples: 10_000,
            }),
        };
    }
    // Offers are not rate-limited: the simulated fleet checks in every few hours anyway.
    plan.rate = None;
    // Devices install at night: 01:00 local, 4 hours, starts spread over the first 2.
    plan.window = Some(MaintenanceWindow {
        start_minute: 60,
        duration_minutes: 240,
        jitter_minutes: 120,
    });
    plan
}

/// What a logged decision did (serialised as `advance`, `complete`, `pause`, `resume`, `abort`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionKind {
    /// Opened the next stage.
    Advance,
    /// Passed the last stage.
    Complete,
    /// Stopped for a human.
    Pause,
    /// An operator resumed a pause.
    Resume,
    /// Stopped for good, with a rollback.
    Abort,
}

impl DecisionKind {
    /// The word in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Advance => "advance",
            Self::Complete => "complete",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Abort => "abort",
        }
    }
}

/// Who took a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DecidedBy {
    /// `rollout-policy`'s `decide`.
    Policy,
    /// The operator stand-in (see [`OPERATOR_HOURS`], [`OPERATOR_GIVE_UP_HOURS`]).
    Operator,
}

/// A decision the backend acted on (holds are not logged, only counted), with the structured
/// evidence it was taken on so reports can explain it without parsing `why`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecisionLog {
    /// Simulated hour.
    pub hour: u32,
    /// What it did.
    pub action: DecisionKind,
    /// Who decided.
    pub by: DecidedBy,
    /// The stage open when it was decided (0-based; `None` before the first stage opened).
    pub stage: Option<u8>,
    /// `rollout-policy`'s explanation, with the numbers.
    pub why: String,
    /// `rollout-policy`'s action (policy decisions only).
    pub policy_action: Option<Action>,
    /// The evidence it was decided on.
    pub evidence: Evidence,
    /// Every gate's verdict and numbers; for an operator's decision, those of the last policy
    /// decision it acts on.
    pub gates: Vec<GateReport>,
}

/// Why devices offered a release have no final outcome for it (succeeded or failed) at the end
/// of the run: with these, `offered = succeeded + failed + total()`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Unfinished {
    /// Offered, then installed a later release before finishing this one (for example they
    /// were offline or outside their install window until the next rollout reached them).
    pub superseded: u32,
    /// Offered, but the rollout was aborted before they finished installing it.
    pub withdrawn: u32,
    /// Offered, but over-the-air updates ended (end of the cloud service) before they finished.
    pub updates_ended: u32,
    /// Still on their way when the run ended (offline, or mid-download).
    pub in_progress: u32,
    /// Of all the above, how many had started installing it.
    pub had_started: u32,
    /// `superseded` by the release they finished first instead (release id, devices).
    #[serde(skip)]
    pub superseded_by: Vec<(ReleaseId, u32)>,
}

impl Unfinished {
    /// Devices offered the release without a final outcome for it.
    pub fn total(&self) -> u32 {
        self.superseded + self.withdrawn + self.updates_ended + self.in_progress
    }
}

/// Per-device membership bits of one rollout.
#[derive(Clone, Debug)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Self(vec![0; n.div_ceil(64)])
    }
    /// Whether bit `i` is set.
    fn get(&self, i: u32) -> bool {
        self.0
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    /// Sets bit `i`; returns whether it was clear.
    fn set(&mut self, i: u32) -> bool {
        let (w, b) = ((i / 64) as usize, i % 64);
        match self.0.get_mut(w) {
            Some(word) if *word & (1 << b) == 0 => {
                *word |= 1 << b;
                true
            }
            _ => false,
        }
    }
}

/// A staged rollout of one release.
#[derive(Clone, Debug)]
pub struct Rollout {
    /// The release rolled out.
    pub release: ReleaseId,
    /// The plan.
    pub plan: Plan,
    /// `rollout-policy`'s stored state.
    pub state: RolloutState,
    /// Lower cohort bound of the open stage (the previous stage's threshold), basis points.
    stage_lo_bp: u16,
    stage_assigned: u32,
    stage: Counts,
    /// Counts over every device of the rollout.
    pub counts: Counts,
    offered: Bits,
    started: Bits,
    finished: Bits,
    regressed: Bits,
    /// Stages opened.
    pub stages_opened: usize,
    /// Hour it started.
    pub started_hour: u32,
    /// Hour it completed or was aborted.
    pub ended_hour: Option<u32>,
    /// Decisions acted on.
    pub decisions: Vec<DecisionLog>,
    /// Hold decisions (nothing wrong, something missing).
    pub holds: u32,
    /// The last explanation `decide` gave.
    pub last_explanation: String,
    /// The gate reports of the last decision `decide` gave.
    pub last_gates: Vec<GateReport>,
    /// The action of the last decision `decide` gave (holds included).
    pub last_action: Option<Action>,
    /// The rollback directive, after an abort.
    pub directive: Option<RollbackDirective>,
    /// Devices moved back by the rollback directive.
    pub rolled_back: u32,
    /// (hour, devices running the release) samples.
    pub progress: Vec<(u32, u32)>,
}

impl Rollout {
    /// Whether it completed.
    pub fn completed(&self) -> bool {
        matches!(self.state.phase, Phase::Completed { .. })
    }
    /// Whether it was aborted.
    pub fn aborted(&self) -> bool {
        matches!(self.state.phase, Phase::Aborted { .. })
    }
    /// The stage open now (0-based), if one is.
    fn open_stage(&self) -> Option<u8> {
        match self.state.phase {
            Phase::Running { stage, .. }
            | Phase::Paused { stage, .. }
            | Phase::Aborted { stage, .. } => Some(stage),
            Phase::Pending | Phase::Completed { .. } => None,
        }
    }
    /// Logs an operator's decision taken on `evidence` in `stage`.
    fn log_operator(
        &mut self,
        hour: u32,
        action: DecisionKind,
        stage: Option<u8>,
        why: String,
        evidence: Evidence,
    ) {
        self.decisions.push(DecisionLog {
            hour,
            action,
            by: DecidedBy::Operator,
            stage,
            why,
            policy_action: None,
            evidence,
            gates: self.last_gates.clone(),
        });
    }
    fn in_open_stage(&self, device: u32) -> bool {
        let b = bucket(&self.state.key, &device.to_le_bytes());
        b >= self.stage_lo_bp && b < self.state.threshold_bp
    }
    fn offered_to(&self, device: u32) -> bool {
        match self.state.phase {
            Phase::Completed { .. } => true,
            Phase::Running { .. } | Phase::Paused { .. } => {
                bucket(&self.state.key, &device.to_le_bytes()) < self.state.threshold_bp
            }
            Phase::Pending | Phase::Aborted { .. } => false,
        }
    }
}

/// What the backend remembers per device.
#[derive(Clone, Copy, Debug, Default)]
struct DeviceRecord {
    version: ReleaseId,
    failed_mask: u8,
    /// Highest manifest sequence the device finished an update cycle with (it refuses any
    /// sequence not above it).
    accepted: u64,
}

/// Per-release field data from telemetry: device-hours and crashes.
#[derive(Clone, Copy, Debug, Default)]
struct FieldData {
    device_hours: u64,
    crashes: u32,
}

/// The backend.
#[derive(Clone, Debug)]
pub struct Backend {
    /// Every release.
    pub catalog: Catalog,
    /// Every rollout, oldest first.
    pub rollouts: Vec<Rollout>,
    records: Vec<DeviceRecord>,
    field: Vec<FieldData>,
    seed: u64,
    /// The one allocator of manifest sequences: releases when published, rollback re-issues
    /// when a rollout aborts.
    pub sequences: MonotonicSequence,
    /// The update reports devices sent, per release ([`crate::reports`]).
    pub reports: crate::reports::ReportBook,
}

fn release_ref(catalog: &Catalog, id: ReleaseId) -> ReleaseRef {
    catalog.get(id).map_or(
        ReleaseRef {
            id: u32::from(id),
            sequence: 0,
            security_version: 0,
        },
        |r| ReleaseRef {
            id: u32::from(id),
            sequence: r.sequence,
            security_version: r.security_version,
        },
    )
}

/// Field data of the rollback re-issue counts as its original's.
fn field_id(id: ReleaseId) -> ReleaseId {
    if id == ROLLBACK { GOOD } else { id }
}

impl Backend {
    /// A backend for `devices` devices, all on the factory image.
    pub fn new(catalog: Catalog, devices: u32, seed: u64) -> Self {
        let n = catalog.all().len();
        let mut sequences = MonotonicSequence::default();
        for r in catalog.all() {
            sequences.observe(r.sequence);
        }
        Self {
            sequences,
            catalog,
            rollouts: Vec::new(),
            records: vec![
                DeviceRecord {
                    version: FACTORY,
                    failed_mask: 0,
                    accepted: 0,
                };
                devices as usize
            ],
            field: vec![FieldData::default(); n],
            seed,
            reports: crate::reports::ReportBook::default(),
        }
    }

    /// Publishes `release`: signs it under the next manifest sequence and starts its rollout
    /// replacing `previous` at `hour`. Returns the sequence (the devices' catalog must carry the
    /// same signature).
    pub fn publish(
        &mut self,
        release: ReleaseId,
        previous: ReleaseId,
        plan: Plan,
        hour: u32,
    ) -> Result<u64, String> {
        let sequence = self.sequences.allocate(0).map_err(|e| e.to_string())?;
        self.catalog.reissue(release, sequence)?;
        self.start_rollout(release, previous, plan, hour)?;
        Ok(sequence)
    }

    /// Starts a rollout of `release` replacing `previous` at `hour`.
    pub fn start_rollout(
        &mut self,
        release: ReleaseId,
        previous: ReleaseId,
        plan: Plan,
        hour: u32,
    ) -> Result<(), String> {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&self.seed.to_le_bytes());
        key[8] = release;
        key[9] = 0xf5;
        let state = RolloutState::start(
            &plan,
            RolloutKey::new(key),
            release_ref(&self.catalog, release),
            release_ref(&self.catalog, previous),
            RollbackHistory::default(),
            Timestamp(unix(hour)),
        )
        .map_err(|e| format!("rollout of release {release} refused: {e}"))?;
        let n = self.records.len();
        self.rollouts.push(Rollout {
            release,
            plan,
            state,
            stage_lo_bp: 0,
            stage_assigned: 0,
            stage: Counts::default(),
            counts: Counts::default(),
            offered: Bits::new(n),
            started: Bits::new(n),
            finished: Bits::new(n),
            regressed: Bits::new(n),
            stages_opened: 0,
            started_hour: hour,
            ended_hour: None,
            decisions: Vec::new(),
            holds: 0,
            last_explanation: String::new(),
            last_gates: Vec::new(),
            last_action: None,
            directive: None,
            rolled_back: 0,
            progress: Vec::new(),
        });
        Ok(())
    }

    /// The rollout of `release`, if any.
    pub fn rollout(&self, release: ReleaseId) -> Option<&Rollout> {
        self.rollouts.iter().find(|r| r.release == release)
    }

    /// Re-issues the rollback target under the directive's fresh sequence number.
    pub fn rollback_release(&self) -> Option<(ReleaseId, u64)> {
        self.rollouts
            .iter()
            .filter_map(|r| r.directive)
            .find(|d| d.action == RollbackAction::Reinstall)
            .map(|d| (ROLLBACK, d.sequence))
    }

    /// The release the backend offers `device` now, if any; records the offer.
    pub fn offer(&mut self, device: u32) -> Option<ReleaseId> {
        let rec = *self.records.get(device as usize)?;
        let current = self.catalog.get(rec.version)?;
        let floor = current.sequence.max(rec.accepted);
        for r in self.rollouts.iter_mut().rev() {
            if r.aborted() {
                // The directive: devices offered the aborted release that run it, or that
                // reverted to something older than the rollback target, get the target
                // re-issued with the fresh sequence.
                let target = self.catalog.get(ROLLBACK);
                let behind =
                    target.is_some_and(|t| t.version > current.version && t.sequence > floor);
                // A directive that needs a fix forward (the target's security version is below
                // the floor devices now hold) re-issues nothing.
                let reinstall = r
                    .directive
                    .is_some_and(|d| d.action == RollbackAction::Reinstall);
                if reinstall && r.offered.get(device) && (rec.version == r.release || behind) {
                    return Some(ROLLBACK);
                }
                continue;
            }
            let newer = self
                .catalog
                .get(r.release)
                .is_some_and(|rel| rel.sequence > floor);
            let failed = rec.failed_mask & (1 << r.release) != 0;
            if newer && !failed && r.offered_to(device) {
                if r.offered.set(device) {
                    r.counts.offered += 1;
                    if r.in_open_stage(device) {
                        r.stage.offered += 1;
                    }
                }
                return Some(r.release);
            }
        }
        None
    }

    /// Records that `device` started installing `release`.
    pub fn started(&mut self, device: u32, release: ReleaseId) {
        if let Some(r) = self.rollouts.iter_mut().find(|r| r.release == release)
            && r.started.set(device)
        {
            r.counts.started += 1;
            if r.in_open_stage(device) {
                r.stage.started += 1;
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
        if let Some(r) = self.catalog.get(release) {
            rec.accepted = rec.accepted.max(r.sequence);
        }
        let ok = matches!(outcome, Outcome::Confirmed);
        if !ok {
            rec.failed_mask |= 1 << release;
        }
        if let Some(r) = self.rollouts.iter_mut().find(|r| r.release == release)
            && r.finished.set(device)
        {
            let in_stage = r.in_open_stage(device);
            for c in [Some(&mut r.counts), in_stage.then_some(&mut r.stage)]
                .into_iter()
                .flatten()
            {
                match outcome {
                    Outcome::Confirmed => c.succeeded += 1,
                    Outcome::RevertedSelfTest | Outcome::RevertedByBootloader => {
                        c.failed.boot_reverted += 1
                    }
                    Outcome::Refused(_) => c.failed.verify += 1,
                    Outcome::InstallFailed(_) => c.failed.install += 1,
                }
            }
        }
        if ok
            && release == ROLLBACK
            && let Some(r) = self
                .rollouts
                .iter_mut()
                .find(|r| r.release == previous && r.aborted())
        {
            r.rolled_back += 1;
        }
    }

    /// Records a health regression of `device` on `release` found by fleet telemetry after it
    /// confirmed: its success becomes a failure (each device counts once, under its final
    /// outcome). Returns whether it was new.
    pub fn health_regression(&mut self, device: u32, release: ReleaseId) -> bool {
        let confirmed = self
            .records
            .get(device as usize)
            .is_some_and(|r| r.version == release);
        let Some(r) = self.rollouts.iter_mut().find(|r| r.release == release) else {
            return false;
        };
        if !confirmed || r.aborted() || r.completed() || !r.regressed.set(device) {
            return false;
        }
        let in_stage = r.in_open_stage(device);
        for c in [Some(&mut r.counts), in_stage.then_some(&mut r.stage)]
            .into_iter()
            .flatten()
        {
            c.succeeded = c.succeeded.saturating_sub(1);
            c.failed.health_regression += 1;
        }
        true
    }

    /// Takes telemetry's field data: `hours` run on `firmware`, with `crashes` faults.
    pub fn field_report(&mut self, firmware: ReleaseId, hours: u64, crashes: u32) {
        if let Some(f) = self.field.get_mut(usize::from(field_id(firmware))) {
            f.device_hours += hours;
            f.crashes += crashes;
        }
    }

    fn evidence(&self, i: usize) -> Option<Evidence> {
        let r = self.rollouts.get(i)?;
        let field = |id: ReleaseId| {
            self.field
                .get(usize::from(field_id(id)))
                .copied()
                .unwrap_or_default()
        };
        let mut rollout = r.counts;
        let f = field(r.release);
        rollout.device_hours = f.device_hours;
        rollout.crashes = f.crashes;
        let previous = r.state.previous.id as ReleaseId;
        let mut control = self
            .rollouts
            .iter()
            .find(|p| p.release == previous)
            .map_or(Counts::default(), |p| p.counts);
        let f = field(previous);
        control.device_hours = f.device_hours;
        control.crashes = f.crashes;
        Some(Evidence {
            eligible: self.records.len() as u32,
            stage_assigned: r.stage_assigned,
            stage: r.stage,
            rollout,
            control,
        })
    }

    /// Takes and applies the decision of every active rollout at `hour`. A decision the state
    /// refuses is a bug of this backend, reported as an error.
    pub fn decide(&mut self, hour: u32) -> Result<(), String> {
        let now = Timestamp(unix(hour));
        for i in 0..self.rollouts.len() {
            let Some(evidence) = self.evidence(i) else {
                continue;
            };
            let n = self.records.len() as u32;
            let Some(r) = self.rollouts.get_mut(i) else {
                continue;
            };
            let sequences = &mut self.sequences;
            if r.completed() || r.aborted() {
                continue;
            }
            if let Phase::Paused { since, .. } = r.state.phase {
                let waited = now.since(since);
                let failures = evidence.rollout.failed.trial();
                if failures == 0 && waited >= u64::from(OPERATOR_HOURS) * HOUR {
                    // Nothing failed: the operator acknowledges the uncertain gate and resumes.
                    let stage = r.open_stage();
                    if r.state
                        .command(&r.plan, Command::Resume, now, sequences)
                        .is_ok()
                    {
                        let why = format!(
                            "operator resumed after {OPERATOR_HOURS} h (no trial failures), acknowledging: {}",
                            r.last_explanation
                        );
                        r.log_operator(hour, DecisionKind::Resume, stage, why, evidence);
                    }
                } else if failures > 0 && waited >= u64::from(OPERATOR_GIVE_UP_HOURS) * HOUR {
                    // Failures and still no verdict: the operator stops it.
                    let stage = r.open_stage();
                    if let Ok(Applied::Aborted(directive)) =
                        r.state.command(&r.plan, Command::Abort, now, sequences)
                    {
                        r.directive = Some(directive);
                        r.ended_hour = Some(hour);
                        let why = format!(
                            "operator aborted after {OPERATOR_GIVE_UP_HOURS} h paused with {failures} trial failures: {}",
                            r.last_explanation
                        );
                        r.log_operator(hour, DecisionKind::Abort, stage, why, evidence);
                        continue;
                    }
                }
            }
            let d = decide(&r.plan, &r.state, &evidence, now);
            r.last_explanation = d.explanation.as_str().to_string();
            r.last_gates = d.gates.to_vec();
            r.last_action = Some(d.action);
            let action = match d.action {
                Action::Hold { .. } => {
                    r.holds += 1;
                    continue;
                }
                Action::Advance { .. } => DecisionKind::Advance,
                Action::Complete => DecisionKind::Complete,
                Action::Pause { .. } => DecisionKind::Pause,
                Action::Abort { .. } => DecisionKind::Abort,
            };
            if action == DecisionKind::Pause && matches!(r.state.phase, Phase::Paused { .. }) {
                continue;
            }
            let lo = r.state.threshold_bp;
            let stage = r.open_stage();
            match r.state.apply(&r.plan, &d, now, sequences) {
                Ok(Applied::Aborted(directive)) => r.directive = Some(directive),
                Ok(_) => {}
                Err(e) => {
                    return Err(format!(
                        "rollout of release {} refused its own decision: {e}",
                        r.release
                    ));
                }
            }
            r.decisions.push(DecisionLog {
                hour,
                action,
                by: DecidedBy::Policy,
                stage,
                why: r.last_explanation.clone(),
                policy_action: Some(d.action),
                evidence,
                gates: r.last_gates.clone(),
            });
            match d.action {
                Action::Advance { .. } => {
                    r.stages_opened += 1;
                    r.stage_lo_bp = lo;
                    r.stage = Counts::default();
                    let key = r.state.key;
                    let hi = r.state.threshold_bp;
                    r.stage_assigned = (0..n)
                        .filter(|d| {
                            let b = bucket(&key, &d.to_le_bytes());
                            b >= lo && b < hi
                        })
                        .count() as u32;
                }
                Action::Complete | Action::Abort { .. } => r.ended_hour = Some(hour),
                _ => {}
            }
        }
        Ok(())
    }

    /// Why the devices offered rollout `i`'s release that have no final outcome for it are
    /// without one; `takes_updates(device)` says whether a device still accepts updates.
    pub fn unfinished(&self, i: usize, takes_updates: &dyn Fn(u32) -> bool) -> Unfinished {
        let mut u = Unfinished::default();
        let Some(r) = self.rollouts.get(i) else {
            return u;
        };
        let own = self.catalog.get(r.release).map_or(0, |rel| rel.sequence);
        for (device, rec) in (0..).zip(&self.records) {
            if !r.offered.get(device) || r.finished.get(device) {
                continue;
            }
            if r.started.get(device) {
                u.had_started += 1;
            }
            if r.aborted() {
                u.withdrawn += 1;
            } else if rec.accepted > own {
                u.superseded += 1;
                let instead = self
                    .rollouts
                    .iter()
                    .skip(i + 1)
                    .find(|later| later.finished.get(device))
                    .map_or(ROLLBACK, |later| later.release);
                match u.superseded_by.iter_mut().find(|(id, _)| *id == instead) {
                    Some((_, n)) => *n += 1,
                    None => u.superseded_by.push((instead, 1)),
                }
            } else if !takes_updates(device) {
                u.updates_ended += 1;
            } else {
                u.in_progress += 1;
            }
        }
        u
    }

    /// Backend state per device, in bytes: the record and three bits per rollout.
    pub fn bytes_per_device(&self) -> f64 {
        core::mem::size_of::<DeviceRecord>() as f64 + self.rollouts.len() as f64 * 3.0 / 8.0
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
