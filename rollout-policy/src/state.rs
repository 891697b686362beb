//! The rollout state machine: what the caller stores, and the only ways it changes.
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
//! Why a revision: a [`Decision`] is computed from one state and stored next to it (an audit
//! log, a queue, a retry). Applied to any other state it would do harm: a logged
//! `Advance { stage: 0 }` replayed after stage 2 moves the rollout back; an `Advance` applied
//! after an operator paused un-pauses it. So every change of a [`RolloutState`] raises its
//! [`RolloutState::revision`], every decision carries the [`Basis`] (revision and stage) it was
//! computed for, and [`RolloutState::apply`] refuses a decision for any other basis with
//! [`ApplyError::Stale`], and an action the phase does not allow with
//! [`ApplyError::NotApplicable`] (a decision read back from storage is untrusted input).
//!
//! A backend applies a decision in one transaction: read the state, check the decision's
//! basis, apply, write the state back only if its stored revision is still the one read
//! (`UPDATE ... WHERE revision = $read`), and record the decision. Two workers that decided
//! from the same state cannot both apply: the second is stale.

use core::convert::Infallible;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::calendar::ReleaseRef;
use crate::cohort::RolloutKey;
use crate::decide::{Action, Decision};
use crate::evidence::{Evidence, Inconsistency};
use crate::plan::{Plan, PlanError};
use crate::rollback::{RollbackDirective, RollbackHistory, SequenceAllocator};
use crate::time::Timestamp;

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
        /// The manifest sequence the rollback directive re-issues the previous release with.
        sequence: u64,
    },
    /// Every stage passed.
    Completed {
        /// When.
        at: Timestamp,
    },
}

/// A phase without its data, for errors and bases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PhaseKind {
    /// [`Phase::Pending`].
    Pending,
    /// [`Phase::Running`].
    Running,
    /// [`Phase::Paused`].
    Paused,
    /// [`Phase::Aborted`].
    Aborted,
    /// [`Phase::Completed`].
    Completed,
}

impl fmt::Display for PhaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PhaseKind::Pending => "pending",
            PhaseKind::Running => "running",
            PhaseKind::Paused => "paused",
            PhaseKind::Aborted => "aborted",
            PhaseKind::Completed => "completed",
        })
    }
}

impl Phase {
    /// The phase without its data.
    pub const fn kind(&self) -> PhaseKind {
        match self {
            Phase::Pending => PhaseKind::Pending,
            Phase::Running { .. } => PhaseKind::Running,
            Phase::Paused { .. } => PhaseKind::Paused,
            Phase::Aborted { .. } => PhaseKind::Aborted,
            Phase::Completed { .. } => PhaseKind::Completed,
        }
    }

    /// The open (or, once aborted, the last open) stage.
    pub const fn stage(&self) -> Option<u8> {
        match *self {
            Phase::Running { stage, .. }
            | Phase::Paused { stage, .. }
            | Phase::Aborted { stage, .. } => Some(stage),
            Phase::Pending | Phase::Completed { .. } => None,
        }
    }
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

/// The state a decision was computed for: the state's revision, and its stage for the reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basis {
    /// [`RolloutState::revision`] when the decision was made.
    pub revision: u64,
    /// The phase then.
    pub phase: PhaseKind,
    /// The open stage then ([`Phase::stage`]).
    pub stage: Option<u8>,
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "revision {} ({}", self.revision, self.phase)?;
        if let Some(s) = self.stage {
            write!(f, " at stage {}", u16::from(s) + 1)?;
        }
        f.write_str(")")
    }
}

/// What applying a decision or a command did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Applied {
    /// Nothing changed (a hold, or a decision restating a pause or an end); the revision
    /// stays.
    Unchanged,
    /// The state changed and its revision went up by one.
    Changed,
    /// The rollout aborted (revision up by one): send this directive.
    Aborted(RollbackDirective),
}

/// Why a start or a threshold change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
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

/// What an action or command is, for errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A decision's action.
    Action(ActionKind),
    /// An operator's command.
    Command(Command),
}

/// An action without its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// [`Action::Advance`] to this stage.
    Advance {
        /// The stage it would open.
        stage: u8,
    },
    /// [`Action::Complete`].
    Complete,
    /// [`Action::Hold`].
    Hold,
    /// [`Action::Pause`].
    Pause,
    /// [`Action::Abort`].
    Abort,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Action(ActionKind::Advance { stage }) => {
                write!(f, "decision to open stage {}", u16::from(*stage) + 1)
            }
            Step::Action(a) => write!(f, "decision {a:?}"),
            Step::Command(c) => write!(f, "command {c:?}"),
        }
    }
}

/// Why a decision or a command was not applied. `E` is the sequence allocator's error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError<E = Infallible> {
    /// The decision was computed for another state (replayed, or the state moved on).
    #[error(
        "decision was made for {decided_for} but the rollout is at {current}; decide again from the current state"
    )]
    Stale {
        /// The state it was made for.
        decided_for: Basis,
        /// The state now.
        current: Basis,
    },
    /// The action or command does not apply in this phase (or names a stage that does not
    /// follow the open one).
    #[error("{step} does not apply to a rollout that is {phase}")]
    NotApplicable {
        /// What was refused.
        step: Step,
        /// The phase.
        phase: PhaseKind,
    },
    /// The allocator gave no sequence for the rollback directive; nothing changed.
    #[error("no manifest sequence for the rollback directive: {0}")]
    Allocator(E),
    /// The allocator returned a sequence that anti-rollback would refuse; nothing changed.
    #[error(
        "allocator returned sequence {allocated} for the rollback directive; expected more than {above}"
    )]
    SequenceNotFresh {
        /// What it returned.
        allocated: u64,
        /// What it had to exceed.
        above: u64,
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
    /// Raised by one on every change (decision applied, command, threshold); 0 at start.
    pub revision: u64,
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
            revision: 0,
        })
    }

    /// The state a decision made now is for.
    pub const fn basis(&self) -> Basis {
        Basis {
            revision: self.revision,
            phase: self.phase.kind(),
            stage: self.phase.stage(),
        }
    }

    /// The rollback directive, once aborted.
    pub fn directive(&self) -> Option<RollbackDirective> {
        match self.phase {
            Phase::Aborted { sequence, .. } => Some(RollbackDirective::new(
                self.release,
                self.previous,
                self.key,
                self.threshold_bp,
                sequence,
            )),
            _ => None,
        }
    }

    /// Applies `decision` at `now` if it was made for this state (see the module docs);
    /// an abort takes the rollback directive's sequence from `sequences`. On any error the
    /// state is unchanged.
    pub fn apply<A: SequenceAllocator>(
        &mut self,
        plan: &Plan,
        decision: &Decision,
        now: Timestamp,
        sequences: &mut A,
    ) -> Result<Applied, ApplyError<A::Error>> {
        let current = self.basis();
        if decision.basis != current {
            return Err(ApplyError::Stale {
                decided_for: decision.basis,
                current,
            });
        }
        let refuse = |kind| ApplyError::NotApplicable {
            step: Step::Action(kind),
            phase: current.phase,
        };
        let stages = plan.stages.len();
        let next_phase = match (decision.action, self.phase) {
            (Action::Hold { .. }, _)
            | (Action::Pause { .. }, Phase::Paused { .. } | Phase::Pending)
            | (Action::Abort { .. }, Phase::Aborted { .. })
            | (Action::Complete, Phase::Completed { .. }) => return Ok(Applied::Unchanged),
            (
                Action::Advance {
                    stage,
                    threshold_bp,
                    ..
                },
                phase,
            ) => {
                let follows = match phase {
                    Phase::Pending => stage == 0,
                    Phase::Running { stage: open, .. } => u16::from(stage) == u16::from(open) + 1,
                    _ => false,
                };
                if !follows || usize::from(stage) >= stages {
                    return Err(refuse(ActionKind::Advance { stage }));
                }
                self.threshold_bp = self
                    .threshold_bp
                    .max(threshold_bp.min(crate::cohort::BUCKETS));
                Phase::Running {
                    stage,
                    opened_at: now,
                    acknowledged: false,
                }
            }
            (Action::Complete, Phase::Running { stage, .. })
                if usize::from(stage) + 1 == stages =>
            {
                Phase::Completed { at: now }
            }
            (Action::Complete, _) => return Err(refuse(ActionKind::Complete)),
            (
                Action::Pause { reason },
                Phase::Running {
                    stage, opened_at, ..
                },
            ) => Phase::Paused {
                stage,
                opened_at,
                reason,
                since: now,
            },
            (Action::Pause { .. }, _) => return Err(refuse(ActionKind::Pause)),
            (
                Action::Abort { reason },
                Phase::Running { stage, .. } | Phase::Paused { stage, .. },
            ) => {
                return self.abort(plan, stage, reason, now, sequences);
            }
            (Action::Abort { .. }, _) => return Err(refuse(ActionKind::Abort)),
        };
        self.phase = next_phase;
        self.revision = self.revision.wrapping_add(1);
        Ok(Applied::Changed)
    }

    /// Moves to `Aborted` with a sequence from `sequences`; unchanged on error.
    fn abort<A: SequenceAllocator>(
        &mut self,
        plan: &Plan,
        stage: u8,
        reason: AbortReason,
        now: Timestamp,
        sequences: &mut A,
    ) -> Result<Applied, ApplyError<A::Error>> {
        let above = self.release.sequence.max(self.previous.sequence);
        let sequence = sequences.allocate(above).map_err(ApplyError::Allocator)?;
        if sequence <= above {
            return Err(ApplyError::SequenceNotFresh {
                allocated: sequence,
                above,
            });
        }
        self.history.record(now, &plan.flap);
        self.phase = Phase::Aborted {
            stage,
            at: now,
            reason,
            sequence,
        };
        self.revision = self.revision.wrapping_add(1);
        match self.directive() {
            Some(d) => Ok(Applied::Aborted(d)),
            None => Ok(Applied::Changed),
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
        let t = threshold_bp.min(crate::cohort::BUCKETS);
        if t != self.threshold_bp {
            self.threshold_bp = t;
            self.revision = self.revision.wrapping_add(1);
        }
        Ok(())
    }

    /// Applies an operator command to the current state; an abort takes the rollback
    /// directive's sequence from `sequences` and returns the directive to send.
    pub fn command<A: SequenceAllocator>(
        &mut self,
        plan: &Plan,
        command: Command,
        now: Timestamp,
        sequences: &mut A,
    ) -> Result<Applied, ApplyError<A::Error>> {
        let next_phase = match (command, self.phase) {
            (
                Command::Pause,
                Phase::Running {
                    stage, opened_at, ..
                },
            ) => Phase::Paused {
                stage,
                opened_at,
                reason: PauseReason::Manual,
                since: now,
            },
            (
                Command::Resume,
                Phase::Paused {
                    stage, opened_at, ..
                },
            ) => Phase::Running {
                stage,
                opened_at,
                acknowledged: true,
            },
            (Command::Abort, Phase::Running { stage, .. } | Phase::Paused { stage, .. }) => {
                return self.abort(plan, stage, AbortReason::Manual, now, sequences);
            }
            (_, p) => {
                return Err(ApplyError::NotApplicable {
                    step: Step::Command(command),
                    phase: p.kind(),
                });
            }
        };
        self.phase = next_phase;
        self.revision = self.revision.wrapping_add(1);
        Ok(Applied::Changed)
    }

    /// How many more devices of the open stage may be offered the release at `now`: the
    /// stage's assigned devices not yet offered, limited by the clock ([`Plan::rate`]) and by
    /// the evidence ([`Plan::ramp`]). None outside `Running` (pending, paused, aborted): a
    /// paused rollout waits for a human and an aborted one rolls back. After `Completed`, the
    /// rest of the last stage (late joiners).
    pub fn new_offers(&self, plan: &Plan, evidence: &Evidence, now: Timestamp) -> u32 {
        let left = u64::from(
            evidence
                .stage_assigned
                .saturating_sub(evidence.stage.offered),
        );
        let n = match self.phase {
            Phase::Running { .. } => {
                let by_clock = self.offer_budget(plan, now).map_or(u64::MAX, |b| {
                    b.saturating_sub(u64::from(evidence.stage.offered))
                });
                let by_evidence = plan
                    .ramp
                    .map_or(u64::MAX, |r| r.new_offers(&evidence.rollout));
                left.min(by_clock).min(by_evidence)
            }
            Phase::Completed { .. } => left,
            Phase::Pending | Phase::Paused { .. } | Phase::Aborted { .. } => 0,
        };
        n as u32
    }

    /// Cumulative offers the rate limit alone allows in the open stage at `now` (unlimited
    /// without a rate limit or outside `Running`: `None`); [`RolloutState::new_offers`] also
    /// applies the evidence ramp and the phase.
    pub fn offer_budget(&self, plan: &Plan, now: Timestamp) -> Option<u64> {
        match (self.phase, plan.rate) {
            (Phase::Running { opened_at, .. }, Some(rate)) => {
                Some(rate.allowed_after(now.since(opened_at)))
            }
            _ => None,
        }
    }
}
