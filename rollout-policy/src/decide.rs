//! The pure `decide` function: what a rollout should do now, and why, in numbers.
//!
//! Why: every step should be a function of stored inputs so that it can be replayed and
//! audited. [`decide`] never mutates: it returns a [`Decision`] (an [`Action`], the gate
//! verdicts and an explanation with the numbers) stamped with the [`Basis`] it was made for;
//! the caller records what it did with [`RolloutState::apply`](crate::state::RolloutState::apply),
//! which refuses a decision made for another state (see [`crate::state`]). Gates that fail
//! abort from `Running` and from `Paused` alike: a pause never hides a regression.
//!
//! Late joiners: a device that becomes eligible later computes its bucket against the state's
//! current `threshold_bp`, which only [`Action::Advance`] raises; so it enters the open stage
//! (and its denominator, [`Evidence::stage_assigned`]) and never one past a gate.

use core::fmt::{self, Write as _};

use heapless::{String, Vec};
use serde::{Deserialize, Serialize};

use crate::cohort::estimated_threshold;
use crate::evidence::Evidence;
use crate::gate::{GateReport, StageContext, Verdict, evaluate};
use crate::plan::{MAX_GATES, Plan};
use crate::state::{AbortReason, Basis, PauseReason, Phase, RolloutState};
use crate::time::Timestamp;

/// Capacity of an explanation, bytes.
pub const EXPLANATION_CAP: usize = 2_048;

/// What a gate still needs before it can judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateNeed {
    /// The gate's index in the plan.
    pub gate: u8,
    /// Candidate samples (trials or device-hours) still needed.
    pub samples: u64,
    /// Control samples still needed; non-zero means the gate has no usable control and no
    /// stated baseline, which only the operator can fix.
    pub control_samples: u64,
}

/// What still blocks a stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    /// Assigned devices not yet offered (offers ramp with the rate limit).
    pub offers: u32,
    /// Final reports still needed to reach the stage's minimum share.
    pub reports: u32,
    /// Trial outcomes still needed to reach the stage's minimum evidence count
    /// ([`crate::plan::Stage::min_trials`], capped at what the stage's devices can give).
    pub trials: u32,
    /// The stage's soak ends then.
    pub soak_until: Option<Timestamp>,
    /// The first enforced gate that has too little data to judge, and what it needs.
    pub gate_data: Option<GateNeed>,
    /// No device is assigned to the open stage and none was offered before: raise the
    /// threshold (see [`crate::cohort::threshold_for_count`]).
    pub no_devices: bool,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        let mut item = |f: &mut fmt::Formatter<'_>, args: fmt::Arguments<'_>| {
            let r = write!(f, "{sep}{args}");
            sep = "; ";
            r
        };
        if self.no_devices {
            item(f, format_args!("no device is assigned to the stage"))?;
        }
        if self.offers > 0 {
            item(f, format_args!("{} offers still to send", self.offers))?;
        }
        if self.reports > 0 {
            item(f, format_args!("{} more device reports", self.reports))?;
        }
        if self.trials > 0 {
            item(
                f,
                format_args!(
                    "{} more trial outcomes for the stage's minimum evidence",
                    self.trials
                ),
            )?;
        }
        if let Some(t) = self.soak_until {
            item(f, format_args!("soak until {}", t.0))?;
        }
        if let Some(g) = self.gate_data {
            if g.control_samples > 0 {
                item(
                    f,
                    format_args!(
                        "gate {} has no usable control: {} more control samples, or a baseline stated in the plan",
                        g.gate, g.control_samples
                    ),
                )?;
            } else {
                item(
                    f,
                    format_args!("gate {} needs {} more samples", g.gate, g.samples),
                )?;
            }
        }
        Ok(())
    }
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
    /// Wait: nothing is wrong, something is missing. Resumes by itself when the missing
    /// evidence arrives, except a gate without control, which needs the operator.
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
    /// Stop for good and roll back; applying it allocates the rollback directive's sequence.
    Abort {
        /// Why.
        reason: AbortReason,
    },
}

/// A decision: the state it was made for, the action, the gate verdicts and a human-readable
/// explanation with numbers. Serde, so it can be stored as the audit log of a rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The state it was made for; [`RolloutState::apply`] refuses it for any other.
    pub basis: Basis,
    /// What to do.
    pub action: Action,
    /// Every evaluated gate's verdict and numbers (empty when gates were not evaluated).
    pub gates: Vec<GateReport, MAX_GATES>,
    /// Why, in words and numbers (truncated with "..." at [`EXPLANATION_CAP`] bytes).
    pub explanation: String<EXPLANATION_CAP>,
}

/// A `fmt::Write` that keeps what fits and marks the cut.
struct Text(String<EXPLANATION_CAP>, bool);

impl fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.1 {
            return Ok(());
        }
        // The whole piece when it fits (the common case), else up to the cut.
        if self.0.len() + s.len() <= EXPLANATION_CAP - 3 {
            let _ = self.0.push_str(s);
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

fn finish(basis: Basis, action: Action, gates: Vec<GateReport, MAX_GATES>, text: Text) -> Decision {
    Decision {
        basis,
        action,
        gates,
        explanation: text.0,
    }
}

/// Writes to an explanation unless it is full (or not wanted): the arguments are not even
/// formatted then.
macro_rules! say {
    ($t:expr, $($arg:tt)*) => {
        if !$t.1 {
            let _ = write!($t, $($arg)*);
        }
    };
}

/// Decides what a rollout should do now. Pure: the same inputs give the same decision.
pub fn decide(plan: &Plan, state: &RolloutState, evidence: &Evidence, now: Timestamp) -> Decision {
    decide_explained(plan, state, evidence, now, true)
}

/// [`decide`], optionally without the explanation (the simulation's millions of decisions
/// never read it, and formatting it is most of a decision's cost). Same action and gates.
pub(crate) fn decide_explained(
    plan: &Plan,
    state: &RolloutState,
    evidence: &Evidence,
    now: Timestamp,
    explain: bool,
) -> Decision {
    // A writer marked full from the start keeps nothing.
    let mut t = Text(String::new(), !explain);
    let basis = state.basis();
    let done = |action, gates, t| finish(basis, action, gates, t);
    let none = Vec::new();
    let stages = plan.stages.len();
    if let Err(e) = plan.validate() {
        say!(t, "paused: the plan is invalid: {e}");
        let reason = PauseReason::InvalidPlan(e);
        return done(Action::Pause { reason }, none, t);
    }
    let (stage, opened_at, acknowledged, paused) = match state.phase {
        Phase::Pending if evidence.eligible == 0 => {
            // A stage opened now would hold no device and never gain one: its cohort threshold
            // is fixed when it opens. Wait for the first eligible device instead.
            say!(t, "waiting: no eligible device has checked in yet");
            let missing = Missing {
                no_devices: true,
                ..Missing::default()
            };
            let action = Action::Hold {
                missing,
                until: None,
            };
            return done(action, none, t);
        }
        Phase::Pending => {
            let target = plan.stage_devices(0, evidence.eligible);
            let threshold_bp = estimated_threshold(target, evidence.eligible);
            say!(
                t,
                "open stage 1/{stages}: {target} of {} eligible devices (threshold {threshold_bp} bp)",
                evidence.eligible
            );
            let action = Action::Advance {
                stage: 0,
                target_devices: target,
                threshold_bp,
            };
            return done(action, none, t);
        }
        Phase::Completed { .. } => {
            say!(t, "completed: every stage passed");
            return done(Action::Complete, none, t);
        }
        Phase::Aborted {
            reason, sequence, ..
        } => {
            say!(
                t,
                "aborted ({reason:?}): devices below {} bp go back to release {} re-issued with sequence {sequence}",
                state.threshold_bp,
                state.previous.id
            );
            return done(Action::Abort { reason }, none, t);
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
        say!(
            t,
            "paused: state is at stage {} but the plan has {stages}",
            u16::from(stage) + 1
        );
        return done(Action::Pause { reason }, none, t);
    };
    if let Err(e) = evidence.check() {
        say!(t, "paused: inconsistent evidence: {e}");
        let reason = PauseReason::InconsistentEvidence(e);
        return done(Action::Pause { reason }, none, t);
    }

    // Readiness of the open stage.
    let assigned = evidence.stage_assigned;
    let s = &evidence.stage;
    let need_reports = (u64::from(assigned) * u64::from(st.min_reported_bp)).div_ceil(10_000);
    // Trials the rollout can still get from this stage: those it has, plus one per device of
    // the stage without a final outcome yet.
    let trials = evidence.rollout.trials();
    let stage_end_trials = trials + u64::from(assigned).saturating_sub(s.completed());
    let need_trials = u64::from(st.min_trials).min(stage_end_trials);
    let soak_end = opened_at.plus(st.soak_secs);
    let clamp = |x: u64| x.min(u64::from(u32::MAX)) as u32;
    let mut missing = Missing {
        offers: assigned.saturating_sub(s.offered),
        reports: clamp(need_reports.saturating_sub(s.completed())),
        trials: clamp(need_trials.saturating_sub(trials)),
        soak_until: (now < soak_end).then_some(soak_end),
        gate_data: None,
        no_devices: assigned == 0 && evidence.rollout.offered == 0 && evidence.eligible > 0,
    };
    let ready = missing.offers == 0
        && missing.reports == 0
        && missing.trials == 0
        && missing.soak_until.is_none()
        && !missing.no_devices;

    let mut gates: Vec<GateReport, MAX_GATES> = Vec::new();
    for (i, g) in plan.gates.iter().enumerate() {
        let index = i as u8;
        if !st.gates.contains(index) {
            continue;
        }
        let ctx = StageContext {
            ready,
            stages: plan.stages_enforcing(index),
            stage_end_trials,
        };
        let _ = gates.push(evaluate(index, g, evidence, ctx));
    }
    say!(
        t,
        "stage {}/{stages} (threshold {} bp): offered {}/{assigned}, reported {} (need {need_reports}); rollout {} offered, {trials} trials (need {need_trials}), {} trial failures; soak {}",
        u16::from(stage) + 1,
        state.threshold_bp,
        s.offered,
        s.completed(),
        evidence.rollout.offered,
        evidence.rollout.failed.trial(),
        if missing.soak_until.is_some() {
            "running"
        } else {
            "done"
        },
    );
    if let Some(r) = plan.ramp.filter(|_| missing.offers > 0) {
        let r_ = &evidence.rollout;
        say!(
            t,
            "; evidence ramp: {} in flight of {} allowed ({} + {} bp per clean outcome, {} clean = successes - {} per trial failure)",
            u64::from(r_.offered).saturating_sub(r_.completed()),
            r.in_flight_cap(r_),
            r.initial_in_flight,
            r.per_clean_bp,
            r.clean(r_),
            r.failure_weight
        );
    }
    for g in &gates {
        say!(t, "; {g}");
    }
    let enforced = |v: Verdict| gates.iter().find(|g| g.enforced() && g.verdict == v);

    if let Some(g) = enforced(Verdict::Fail) {
        let reason = AbortReason::GateFailed { gate: g.index };
        say!(
            t,
            " => ABORT: gate {} failed; stop offers; devices below {} bp go back to release {} re-issued under a fresh manifest sequence",
            g.index,
            state.threshold_bp,
            state.previous.id
        );
        return done(Action::Abort { reason }, gates, t);
    }
    if let Some(reason) = paused {
        say!(t, " => stay paused ({reason:?}) until an operator resumes");
        return done(Action::Pause { reason }, gates, t);
    }
    if !ready {
        say!(t, " => HOLD: waiting for {missing}");
        let until = missing.soak_until;
        return done(Action::Hold { missing, until }, gates, t);
    }
    if let Some(g) = enforced(Verdict::Insufficient) {
        missing.gate_data = Some(GateNeed {
            gate: g.index,
            samples: g.samples_needed,
            control_samples: g.control_needed,
        });
        say!(t, " => HOLD: waiting for {missing}");
        return done(
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
            say!(
                t,
                " => PAUSE: gate {} is uncertain; an operator decides",
                g.index
            );
            return done(Action::Pause { reason }, gates, t);
        }
        if st.manual_approval {
            let reason = PauseReason::ManualApproval { stage };
            say!(
                t,
                " => PAUSE: stage {} needs manual approval",
                u16::from(stage) + 1
            );
            return done(Action::Pause { reason }, gates, t);
        }
    }
    let next = stage.saturating_add(1);
    if usize::from(next) >= stages {
        say!(t, " => COMPLETE");
        return done(Action::Complete, gates, t);
    }
    let target = plan.stage_devices(next, evidence.eligible);
    let threshold_bp = estimated_threshold(target, evidence.eligible).max(state.threshold_bp);
    say!(
        t,
        " => ADVANCE to stage {}/{stages}: {target} devices (threshold {threshold_bp} bp)",
        u16::from(next) + 1
    );
    let action = Action::Advance {
        stage: next,
        target_devices: target,
        threshold_bp,
    };
    done(action, gates, t)
}
