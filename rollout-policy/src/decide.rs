//! The rollout state machine and the pure `decide` function.
//!
//! Why: a rollout's life is a handful of states with explicit transitions, and every step
//! should be a function of stored inputs so that it can be replayed and audited:
//!
//! ```text
//!            Advance(0)            Advance(i+1)
//!  Pending ─────────────> Running(0) ──────> Running(i+1) ──Complete──> Completed
//!                            │  ▲                 │
//!               Pause        │  │ Resume          │ Abort (gate FAIL, tripwire or manual)
//!   (gate uncertain, manual, ▼  │                 ▼
//!    approval, bad evidence) Paused ──Abort──> Aborted (+ rollback directive)
//! ```
//!
//! [`decide`] never mutates: it returns a [`Decision`] (an [`Action`] plus an explanation with
//! the numbers); the caller stores what it did with [`RolloutState::apply`], and operator
//! commands go through [`RolloutState::command`]. Gates that fail abort from `Running` and
//! from `Paused` alike: a pause never hides a regression.
//!
//! Late joiners: a device that becomes eligible later computes its bucket against the state's
//! current `threshold_bp`, which only [`Action::Advance`] raises; so it enters the open stage
//! (and its denominator, [`Evidence::stage_assigned`]) and never one past a gate.

use core::fmt::{self, Write as _};

use heapless::{String, Vec};
use serde::{Deserialize, Serialize};

use crate::calendar::ReleaseRef;
use crate::cohort::{RolloutKey, estimated_threshold};
use crate::evidence::{Evidence, Inconsistency};
use crate::gate::{GateReport, Verdict, evaluate};
use crate::plan::{MAX_GATES, Plan, PlanError};
use crate::rollback::{RollbackDirective, RollbackHistory};
use crate::time::Timestamp;

/// Capacity of an explanation, bytes.
pub const EXPLANATION_CAP: usize = 1_536;

/// Where a rollout is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Created; the first decision opens stage 0.
    Pending,
    /// Stage `stage` is open since `opened_at`. `acknowledged` is set by an operator's resume
    /// and lets the stage advance past uncertain gates and manual approval.
    Running {
        /// The open stage.
        stage: u8,
        /// When it opened.
        opened_at: Timestamp,
        /// An operator resumed this stage after a pause.
        acknowledged: bool,
    },
    /// Stopped for a human.
    Paused {
        /// The open stage.
        stage: u8,
        /// When it opened.
        opened_at: Timestamp,
        /// Why.
        reason: PauseReason,
        /// Since when.
        since: Timestamp,
    },
    /// Stopped for good; devices were sent back.
    Aborted {
        /// The stage open at the abort.
        stage: u8,
        /// When.
        at: Timestamp,
        /// Why.
        reason: AbortReason,
    },
    /// Every stage passed.
    Completed {
        /// When.
        at: Timestamp,
    },
}

/// Why a rollout paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PauseReason {
    /// An operator paused it.
    Manual,
    /// The stage is ready but this gate's evidence is uncertain.
    GateUncertain {
        /// Gate index in the plan.
        gate: u8,
    },
    /// The stage asks for an operator's approval before advancing.
    ManualApproval {
        /// The stage.
        stage: u8,
    },
    /// The evidence cannot be per-device counts.
    InconsistentEvidence(Inconsistency),
    /// The plan is invalid.
    InvalidPlan(PlanError),
    /// The state names a stage the plan does not have.
    UnknownStage {
        /// The stage in the state.
        stage: u8,
        /// Stages in the plan.
        stages: u8,
    },
}

/// Why a rollout aborted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum AbortReason {
    /// An operator aborted it.
    Manual,
    /// This gate failed.
    GateFailed {
        /// Gate index in the plan.
        gate: u8,
    },
}

/// What still blocks a stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    /// Assigned devices not yet offered (offers ramp with the rate limit).
    pub offers: u32,
    /// Final reports still needed to reach the stage's minimum share.
    pub reports: u32,
    /// The stage's soak ends then.
    pub soak_until: Option<Timestamp>,
    /// This gate has too little data to judge.
    pub gate_data: Option<u8>,
    /// No device is assigned to the open stage and none was offered before: raise the
    /// threshold (see [`crate::cohort::threshold_for_count`]).
    pub no_devices: bool,
}

/// What to do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Open stage `stage` with `target_devices` devices (cumulative) at threshold `threshold_bp`
    /// (an estimate from the eligible count; the backend may compute an exact one).
    Advance {
        /// The stage to open.
        stage: u8,
        /// Devices it should hold.
        target_devices: u32,
        /// Cohort threshold in basis points.
        threshold_bp: u16,
    },
    /// The last stage passed: the rollout is done.
    Complete,
    /// Wait: nothing is wrong, something is missing. Resumes by itself.
    Hold {
        /// What.
        missing: Missing,
        /// Earliest time the hold can end by itself, when known.
        until: Option<Timestamp>,
    },
    /// Stop for a human.
    Pause {
        /// Why.
        reason: PauseReason,
    },
    /// Stop for good and roll back.
    Abort {
        /// Why.
        reason: AbortReason,
        /// Who goes where.
        directive: RollbackDirective,
    },
}

/// A decision: the action, the gate verdicts and a human-readable explanation with numbers.
/// Serde, so it can be stored as the audit log of a rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// Every gate's verdict and numbers (empty when gates were not evaluated).
    pub gates: Vec<GateReport, MAX_GATES>,
    /// Why, in words and numbers (truncated with "..." at [`EXPLANATION_CAP`] bytes).
    pub explanation: String<EXPLANATION_CAP>,
}

/// An operator's command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Pause a running rollout.
    Pause,
    /// Resume a paused rollout, acknowledging what paused it.
    Resume,
    /// Abort and roll back.
    Abort,
}

/// Why a command or a start was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The command does not apply in this phase.
    #[error("command {command:?} does not apply to a rollout that is {phase}")]
    NotApplicable {
        /// The command.
        command: Command,
        /// The phase, in words.
        phase: &'static str,
    },
    /// Too many recent rollbacks of this release line.
    #[error(
        "{recent} rollbacks within the flap window (limit {limit}); a new rollout needs an operator to clear the history"
    )]
    FlapLimit {
        /// Recent rollbacks.
        recent: u8,
        /// The limit.
        limit: u8,
    },
    /// A threshold may only grow.
    #[error("threshold {requested} bp is below the open threshold {current} bp; cohorts only grow")]
    ThresholdShrinks {
        /// Requested.
        requested: u16,
        /// Current.
        current: u16,
    },
}

/// Everything the caller stores for one rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutState {
    /// The cohort salt of this rollout.
    pub key: RolloutKey,
    /// The release being rolled out.
    pub release: ReleaseRef,
    /// The release it replaces (control, and rollback target).
    pub previous: ReleaseRef,
    /// Where the rollout is.
    pub phase: Phase,
    /// Devices with a bucket below this are offered the release.
    pub threshold_bp: u16,
    /// Rollbacks of this release line (anti-flap).
    pub history: RollbackHistory,
}

fn phase_name(p: &Phase) -> &'static str {
    match p {
        Phase::Pending => "pending",
        Phase::Running { .. } => "running",
        Phase::Paused { .. } => "paused",
        Phase::Aborted { .. } => "aborted",
        Phase::Completed { .. } => "completed",
    }
}

impl RolloutState {
    /// A new rollout, refused when the release line hit its flap limit.
    pub fn start(
        plan: &Plan,
        key: RolloutKey,
        release: ReleaseRef,
        previous: ReleaseRef,
        history: RollbackHistory,
        now: Timestamp,
    ) -> Result<Self, StateError> {
        if !history.allows_start(now, &plan.flap) {
            return Err(StateError::FlapLimit {
                recent: history.recent(now, &plan.flap),
                limit: plan.flap.max_rollbacks,
            });
        }
        Ok(Self {
            key,
            release,
            previous,
            phase: Phase::Pending,
            threshold_bp: 0,
            history,
        })
    }

    /// The rollback directive for an abort now.
    pub fn directive(&self) -> RollbackDirective {
        RollbackDirective::new(self.release, self.previous, self.key, self.threshold_bp)
    }

    /// Records what the caller did with `decision` at `now` (Hold changes nothing).
    pub fn apply(&mut self, plan: &Plan, decision: &Decision, now: Timestamp) {
        match (decision.action, self.phase) {
            (_, Phase::Aborted { .. } | Phase::Completed { .. }) => {}
            (
                Action::Advance {
                    stage,
                    threshold_bp,
                    ..
                },
                _,
            ) => {
                self.threshold_bp = self.threshold_bp.max(threshold_bp);
                self.phase = Phase::Running {
                    stage,
                    opened_at: now,
                    acknowledged: false,
                };
            }
            (Action::Complete, _) => self.phase = Phase::Completed { at: now },
            (Action::Hold { .. }, _) => {}
            (
                Action::Pause { reason },
                Phase::Running {
                    stage, opened_at, ..
                },
            ) => {
                self.phase = Phase::Paused {
                    stage,
                    opened_at,
                    reason,
                    since: now,
                };
            }
            (Action::Pause { .. }, _) => {}
            (Action::Abort { reason, .. }, phase) => {
                let stage = match phase {
                    Phase::Running { stage, .. } | Phase::Paused { stage, .. } => stage,
                    _ => 0,
                };
                self.history.record(now, &plan.flap);
                self.phase = Phase::Aborted {
                    stage,
                    at: now,
                    reason,
                };
            }
        }
    }

    /// Raises the open threshold to an exact value computed by the backend.
    pub fn set_threshold(&mut self, threshold_bp: u16) -> Result<(), StateError> {
        if threshold_bp < self.threshold_bp {
            return Err(StateError::ThresholdShrinks {
                requested: threshold_bp,
                current: self.threshold_bp,
            });
        }
        self.threshold_bp = threshold_bp.min(crate::cohort::BUCKETS);
        Ok(())
    }

    /// Applies an operator command; an abort returns the rollback directive to send.
    pub fn command(
        &mut self,
        plan: &Plan,
        command: Command,
        now: Timestamp,
    ) -> Result<Option<RollbackDirective>, StateError> {
        let refuse = |p: &Phase| StateError::NotApplicable {
            command,
            phase: phase_name(p),
        };
        match (command, self.phase) {
            (
                Command::Pause,
                Phase::Running {
                    stage, opened_at, ..
                },
            ) => {
                self.phase = Phase::Paused {
                    stage,
                    opened_at,
                    reason: PauseReason::Manual,
                    since: now,
                };
                Ok(None)
            }
            (
                Command::Resume,
                Phase::Paused {
                    stage, opened_at, ..
                },
            ) => {
                self.phase = Phase::Running {
                    stage,
                    opened_at,
                    acknowledged: true,
                };
                Ok(None)
            }
            (Command::Abort, Phase::Running { stage, .. } | Phase::Paused { stage, .. }) => {
                self.history.record(now, &plan.flap);
                self.phase = Phase::Aborted {
                    stage,
                    at: now,
                    reason: AbortReason::Manual,
                };
                Ok(Some(self.directive()))
            }
            (_, p) => Err(refuse(&p)),
        }
    }

    /// Cumulative offers the rate limit allows in the open stage at `now` (unlimited without a
    /// rate limit or outside `Running`: `None`).
    pub fn offer_budget(&self, plan: &Plan, now: Timestamp) -> Option<u64> {
        match (self.phase, plan.rate) {
            (Phase::Running { opened_at, .. }, Some(rate)) => {
                Some(rate.allowed_after(now.since(opened_at)))
            }
            _ => None,
        }
    }
}

/// A `fmt::Write` that keeps what fits and marks the cut.
struct Text(String<EXPLANATION_CAP>, bool);

impl fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.1 {
            return Ok(());
        }
        for ch in s.chars() {
            if self.0.len() + ch.len_utf8() > EXPLANATION_CAP - 3 {
                let _ = self.0.push_str("...");
                self.1 = true;
                return Ok(());
            }
            let _ = self.0.push(ch);
        }
        Ok(())
    }
}

fn finish(action: Action, gates: Vec<GateReport, MAX_GATES>, text: Text) -> Decision {
    Decision {
        action,
        gates,
        explanation: text.0,
    }
}

/// Decides what a rollout should do now. Pure: the same inputs give the same decision.
pub fn decide(plan: &Plan, state: &RolloutState, evidence: &Evidence, now: Timestamp) -> Decision {
    let mut t = Text(String::new(), false);
    let none = Vec::new();
    let stages = plan.stages.len();
    if let Err(e) = plan.validate() {
        let _ = write!(t, "paused: the plan is invalid: {e}");
        let reason = PauseReason::InvalidPlan(e);
        return finish(Action::Pause { reason }, none, t);
    }
    let (stage, opened_at, acknowledged, paused) = match state.phase {
        Phase::Pending => {
            let target = plan.stage_devices(0, evidence.eligible);
            let threshold_bp = estimated_threshold(target, evidence.eligible);
            let _ = write!(
                t,
                "open stage 1/{stages}: {target} of {} eligible devices (threshold {threshold_bp} bp)",
                evidence.eligible
            );
            let action = Action::Advance {
                stage: 0,
                target_devices: target,
                threshold_bp,
            };
            return finish(action, none, t);
        }
        Phase::Completed { .. } => {
            let _ = write!(t, "completed: every stage passed");
            return finish(Action::Complete, none, t);
        }
        Phase::Aborted { reason, .. } => {
            let directive = state.directive();
            let _ = write!(
                t,
                "aborted ({reason:?}): devices below {} bp go back to release {} re-issued with sequence {}",
                directive.threshold_bp, directive.to.id, directive.sequence
            );
            return finish(Action::Abort { reason, directive }, none, t);
        }
        Phase::Running {
            stage,
            opened_at,
            acknowledged,
        } => (stage, opened_at, acknowledged, None),
        Phase::Paused {
            stage,
            opened_at,
            reason,
            ..
        } => (stage, opened_at, false, Some(reason)),
    };
    let Some(st) = plan.stages.get(usize::from(stage)) else {
        let reason = PauseReason::UnknownStage {
            stage,
            stages: stages as u8,
        };
        let _ = write!(
            t,
            "paused: state is at stage {} but the plan has {stages}",
            u16::from(stage) + 1
        );
        return finish(Action::Pause { reason }, none, t);
    };
    if let Err(e) = evidence.check() {
        let _ = write!(t, "paused: inconsistent evidence: {e}");
        let reason = PauseReason::InconsistentEvidence(e);
        return finish(Action::Pause { reason }, none, t);
    }

    // Readiness of the open stage.
    let assigned = evidence.stage_assigned;
    let s = &evidence.stage;
    let need_reports = (u64::from(assigned) * u64::from(st.min_reported_bp)).div_ceil(10_000);
    let soak_end = opened_at.plus(st.soak_secs);
    let mut missing = Missing {
        offers: assigned.saturating_sub(s.offered),
        reports: need_reports
            .saturating_sub(s.completed())
            .min(u64::from(u32::MAX)) as u32,
        soak_until: (now < soak_end).then_some(soak_end),
        gate_data: None,
        no_devices: assigned == 0 && evidence.rollout.offered == 0 && evidence.eligible > 0,
    };
    let ready = missing.offers == 0
        && missing.reports == 0
        && missing.soak_until.is_none()
        && !missing.no_devices;

    let mut gates: Vec<GateReport, MAX_GATES> = Vec::new();
    for (i, g) in plan.gates.iter().enumerate() {
        let _ = gates.push(evaluate(i as u8, g, evidence, ready, stages));
    }
    let _ = write!(
        t,
        "stage {}/{stages} (threshold {} bp): offered {}/{assigned}, reported {} (need {need_reports}); rollout {} offered, {} trials, {} trial failures; soak {}",
        u16::from(stage) + 1,
        state.threshold_bp,
        s.offered,
        s.completed(),
        evidence.rollout.offered,
        evidence.rollout.trials(),
        evidence.rollout.failed.trial(),
        if missing.soak_until.is_some() {
            "running"
        } else {
            "done"
        },
    );
    for g in &gates {
        let _ = write!(t, "; {g}");
    }
    let enforced = |v: Verdict| gates.iter().find(|g| g.enforced() && g.verdict == v);

    if let Some(g) = enforced(Verdict::Fail) {
        let reason = AbortReason::GateFailed { gate: g.index };
        let directive = state.directive();
        let _ = write!(
            t,
            " => ABORT: gate {} failed; stop offers; devices below {} bp go back to release {} re-issued with sequence {}",
            g.index, directive.threshold_bp, directive.to.id, directive.sequence
        );
        return finish(Action::Abort { reason, directive }, gates, t);
    }
    if let Some(reason) = paused {
        let _ = write!(t, " => stay paused ({reason:?}) until an operator resumes");
        return finish(Action::Pause { reason }, gates, t);
    }
    if !ready {
        let _ = write!(
            t,
            " => HOLD: {} offers pending, {} reports needed{}{}",
            missing.offers,
            missing.reports,
            if missing.no_devices {
                ", no device assigned to the stage"
            } else {
                ""
            },
            if missing.soak_until.is_some() {
                ", soak not over"
            } else {
                ""
            }
        );
        let until = missing.soak_until;
        return finish(Action::Hold { missing, until }, gates, t);
    }
    if let Some(g) = enforced(Verdict::Insufficient) {
        missing.gate_data = Some(g.index);
        let _ = write!(t, " => HOLD: gate {} needs more data", g.index);
        return finish(
            Action::Hold {
                missing,
                until: None,
            },
            gates,
            t,
        );
    }
    if !acknowledged {
        if let Some(g) = enforced(Verdict::Uncertain) {
            let reason = PauseReason::GateUncertain { gate: g.index };
            let _ = write!(
                t,
                " => PAUSE: gate {} is uncertain; an operator decides",
                g.index
            );
            return finish(Action::Pause { reason }, gates, t);
        }
        if st.manual_approval {
            let reason = PauseReason::ManualApproval { stage };
            let _ = write!(
                t,
                " => PAUSE: stage {} needs manual approval",
                u16::from(stage) + 1
            );
            return finish(Action::Pause { reason }, gates, t);
        }
    }
    let next = stage.saturating_add(1);
    if usize::from(next) >= stages {
        let _ = write!(t, " => COMPLETE");
        return finish(Action::Complete, gates, t);
    }
    let target = plan.stage_devices(next, evidence.eligible);
    let threshold_bp = estimated_threshold(target, evidence.eligible).max(state.threshold_bp);
    let _ = write!(
        t,
        " => ADVANCE to stage {}/{stages}: {target} devices (threshold {threshold_bp} bp)",
        u16::from(next) + 1
    );
    let action = Action::Advance {
        stage: next,
        target_devices: target,
        threshold_bp,
    };
    finish(action, gates, t)
}
