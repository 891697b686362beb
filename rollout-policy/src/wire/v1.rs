//! Format version 1 records, read for compatibility and converted to the current types.
//!
//! Version 1 states had no revision and no rollback sequence in `Aborted` (the directive then
//! used `max(release, previous) + 1`, which is what the converted state keeps, because that is
//! the sequence devices were sent). Version 1 plans had plan-wide gates: every converted stage
//! enforces every gate, with no minimum evidence count; gates have no baseline.

use heapless::Vec;
use serde::{Deserialize, Serialize};

use crate::calendar::ReleaseRef;
use crate::cohort::RolloutKey;
use crate::plan::{Channel, Gate, GateKind, GateMode, GateSet, MAX_STAGES, Plan, Stage, StageSize};
use crate::rate::RateLimit;
use crate::rollback::{FlapLimit, RollbackHistory};
use crate::state::{AbortReason, PauseReason, Phase, RolloutState};
use crate::time::Timestamp;
use crate::window::MaintenanceWindow;

/// Most gates a version 1 plan held.
const V1_MAX_GATES: usize = 6;

#[derive(Serialize, Deserialize)]
pub(super) enum PhaseV1 {
    Pending,
    Running {
        stage: u8,
        opened_at: Timestamp,
        acknowledged: bool,
    },
    Paused {
        stage: u8,
        opened_at: Timestamp,
        reason: PauseReason,
        since: Timestamp,
    },
    Aborted {
        stage: u8,
        at: Timestamp,
        reason: AbortReason,
    },
    Completed {
        at: Timestamp,
    },
}

#[derive(Serialize, Deserialize)]
pub(super) struct StateV1 {
    key: RolloutKey,
    release: ReleaseRef,
    previous: ReleaseRef,
    phase: PhaseV1,
    threshold_bp: u16,
    history: RollbackHistory,
}

impl From<StateV1> for RolloutState {
    fn from(v: StateV1) -> Self {
        let phase = match v.phase {
            PhaseV1::Pending => Phase::Pending,
            PhaseV1::Running {
                stage,
                opened_at,
                acknowledged,
            } => Phase::Running {
                stage,
                opened_at,
                acknowledged,
            },
            PhaseV1::Paused {
                stage,
                opened_at,
                reason,
                since,
            } => Phase::Paused {
                stage,
                opened_at,
                reason,
                since,
            },
            PhaseV1::Aborted { stage, at, reason } => Phase::Aborted {
                stage,
                at,
                reason,
                sequence: v
                    .release
                    .sequence
                    .max(v.previous.sequence)
                    .saturating_add(1),
            },
            PhaseV1::Completed { at } => Phase::Completed { at },
        };
        Self {
            key: v.key,
            release: v.release,
            previous: v.previous,
            phase,
            threshold_bp: v.threshold_bp,
            history: v.history,
            revision: 0,
        }
    }
}

#[derive(Clone, Copy, Serialize, Deserialize)]
struct StageV1 {
    size: StageSize,
    soak_secs: u64,
    min_reported_bp: u16,
    manual_approval: bool,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
struct GateV1 {
    kind: GateKind,
    mode: GateMode,
    alpha_bp: u16,
    pause_alpha_bp: u16,
    min_samples: u32,
    min_control_samples: u32,
}

#[derive(Serialize, Deserialize)]
pub(super) struct PlanV1 {
    channel: Channel,
    stages: Vec<StageV1, MAX_STAGES>,
    gates: Vec<GateV1, V1_MAX_GATES>,
    rate: Option<RateLimit>,
    window: Option<MaintenanceWindow>,
    flap: FlapLimit,
}

impl From<PlanV1> for Plan {
    fn from(v: PlanV1) -> Self {
        // Every stage enforced every gate the plan had.
        let all = GateSet(((1u16 << v.gates.len().min(V1_MAX_GATES)) - 1) as u8);
        let mut stages = Vec::new();
        for s in &v.stages {
            // Same capacity in both versions.
            let _ = stages.push(Stage {
                size: s.size,
                soak_secs: s.soak_secs,
                min_reported_bp: s.min_reported_bp,
                min_trials: 0,
                manual_approval: s.manual_approval,
                gates: all,
            });
        }
        let mut gates = Vec::new();
        for g in &v.gates {
            // Six gates at most, within today's eight.
            let _ = gates.push(Gate {
                kind: g.kind,
                mode: g.mode,
                alpha_bp: g.alpha_bp,
                pause_alpha_bp: g.pause_alpha_bp,
                min_samples: g.min_samples,
                min_control_samples: g.min_control_samples,
                min_events: 0,
                baseline: None,
            });
        }
        Self {
            channel: v.channel,
            stages,
            gates,
            rate: v.rate,
            window: v.window,
            ramp: None,
            flap: v.flap,
        }
    }
}
