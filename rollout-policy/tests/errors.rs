//! Every error variant says what was wrong and what was expected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rollout_policy::evidence::Inconsistency;
use rollout_policy::plan::PlanError;
use rollout_policy::rollback::SequenceExhausted;
use rollout_policy::state::{ActionKind, ApplyError, Basis, Command, PhaseKind, StateError, Step};
use rollout_policy::wire::WireError;

#[test]
fn display_of_every_variant() {
    let messages = [
        PlanError::NoStages.to_string(),
        PlanError::NotIncreasing {
            stage: 1,
            previous: 0,
        }
        .to_string(),
        PlanError::StageOutOfRange { stage: 2 }.to_string(),
        PlanError::GateLevels {
            gate: 0,
            alpha_bp: 500,
            pause_alpha_bp: 400,
        }
        .to_string(),
        PlanError::GateRatio {
            gate: 1,
            ratio_pct: 90,
        }
        .to_string(),
        PlanError::Window.to_string(),
        PlanError::UnknownGate {
            stage: 1,
            gate: 7,
            gates: 6,
        }
        .to_string(),
        PlanError::Baseline {
            gate: 0,
            events: 5,
            samples: 0,
        }
        .to_string(),
        PlanError::Ramp {
            initial_in_flight: 0,
        }
        .to_string(),
        SequenceExhausted { above: u64::MAX }.to_string(),
        ApplyError::<SequenceExhausted>::Stale {
            decided_for: Basis {
                revision: 1,
                phase: PhaseKind::Running,
                stage: Some(0),
            },
            current: Basis {
                revision: 2,
                phase: PhaseKind::Paused,
                stage: Some(0),
            },
        }
        .to_string(),
        ApplyError::<SequenceExhausted>::NotApplicable {
            step: Step::Action(ActionKind::Advance { stage: 3 }),
            phase: PhaseKind::Running,
        }
        .to_string(),
        ApplyError::Allocator(SequenceExhausted { above: 7 }).to_string(),
        ApplyError::<SequenceExhausted>::SequenceNotFresh {
            allocated: 3,
            above: 7,
        }
        .to_string(),
        WireError::Empty.to_string(),
        WireError::TooLong { len: 600 }.to_string(),
        WireError::Version { found: 9 }.to_string(),
        WireError::Body.to_string(),
        WireError::Trailing { extra: 2 }.to_string(),
        WireError::NonCanonical.to_string(),
        WireError::BufferTooSmall { len: 4 }.to_string(),
        ApplyError::<SequenceExhausted>::NotApplicable {
            step: Step::Command(Command::Resume),
            phase: PhaseKind::Running,
        }
        .to_string(),
        StateError::FlapLimit {
            recent: 2,
            limit: 2,
        }
        .to_string(),
        StateError::ThresholdShrinks {
            requested: 5,
            current: 10,
        }
        .to_string(),
        Inconsistency::CompletedExceedsOffered {
            completed: 12,
            offered: 10,
        }
        .to_string(),
        Inconsistency::StartedExceedsOffered {
            started: 12,
            offered: 10,
        }
        .to_string(),
        Inconsistency::OfferedExceedsAssigned {
            offered: 12,
            assigned: 10,
        }
        .to_string(),
        Inconsistency::StageExceedsRollout {
            stage: 12,
            rollout: 10,
        }
        .to_string(),
        Inconsistency::BrickedExceedsFailed {
            bricked: 3,
            failed: 1,
        }
        .to_string(),
    ];
    for m in &messages {
        println!("{m}");
        assert!(m.len() > 20, "{m}");
        assert!(!m.contains("invalid") || m.contains("expected"), "{m}");
    }
    assert_eq!(
        WireError::Version { found: 9 }.to_string(),
        "record has format version 9; expected 1 to 3"
    );
    assert_eq!(
        ApplyError::<SequenceExhausted>::NotApplicable {
            step: Step::Action(ActionKind::Advance { stage: 3 }),
            phase: PhaseKind::Running,
        }
        .to_string(),
        "decision to open stage 4 does not apply to a rollout that is running"
    );
    assert_eq!(
        PlanError::NotIncreasing {
            stage: 1,
            previous: 0
        }
        .to_string(),
        "stage 1 is not larger than stage 0; stages must grow"
    );
}
