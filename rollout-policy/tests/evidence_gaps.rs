//! Gaps in the evidence are handled on purpose: no control, too small a stage, gates that only
//! some stages enforce. Each hold says what it waits for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{T0, control};

use rollout_policy::calendar::ReleaseRef;
use rollout_policy::cohort::RolloutKey;
use rollout_policy::decide::{Action, decide};
use rollout_policy::evidence::{Counts, Evidence};
use rollout_policy::gate::ControlSource;
use rollout_policy::plan::{Baseline, GateSet, Plan, StageSize, default_gates};
use rollout_policy::rollback::{MonotonicSequence, RollbackHistory};
use rollout_policy::state::{AbortReason, Phase, RolloutState};
use rollout_policy::time::DAY;

fn running(plan: &Plan, stage: u8) -> RolloutState {
    let rel = |id: u32| ReleaseRef {
        id,
        sequence: u64::from(id) * 10,
        security_version: 1,
    };
    let mut s = RolloutState::start(
        plan,
        RolloutKey::new([4; 16]),
        rel(2),
        rel(1),
        RollbackHistory::default(),
        T0,
    )
    .unwrap();
    s.phase = Phase::Running {
        stage,
        opened_at: T0,
        acknowledged: false,
    };
    s
}

/// A first stage of `n` devices, all reported, `fail` of them failed, with no control at all.
fn first_stage(n: u32, fail: u32) -> Evidence {
    let mut stage = Counts {
        offered: n,
        started: n,
        succeeded: n - fail,
        device_hours: u64::from(n) * 24,
        ..Counts::default()
    };
    stage.failed.boot_reverted = fail;
    Evidence {
        eligible: 100_000,
        stage_assigned: n,
        stage,
        rollout: stage,
        control: Counts::default(),
    }
}

#[test]
fn no_control_holds_with_what_the_operator_can_do() {
    let plan = Plan::default_stable();
    let s = running(&plan, 0);
    // The old failure gate started from a 50% prior here and let 30% failures pass.
    let d = decide(&plan, &s, &first_stage(100, 30), T0.plus(DAY));
    let Action::Hold { missing, until } = d.action else {
        panic!("{:?}: {}", d.action, d.explanation)
    };
    assert_eq!(until, None, "it does not end by itself");
    let need = missing.gate_data.unwrap();
    assert_eq!(need.gate, default_gates::GROSS);
    assert_eq!(need.control_samples, 1);
    assert!(
        d.explanation.contains(
            "gate 0 has no usable control: 1 more control samples, or a baseline stated in the plan"
        ),
        "{}",
        d.explanation
    );
    // The crash gate with zero control device-hours says so too.
    let crash = d
        .gates
        .iter()
        .find(|g| g.index == default_gates::CRASH)
        .unwrap();
    assert_eq!(crash.control, ControlSource::Missing);
    assert!(
        crash
            .to_string()
            .contains("more control device-hours needed"),
        "{crash}"
    );
}

#[test]
fn a_stated_baseline_judges_a_first_release() {
    let mut plan = Plan::default_stable();
    for g in plan.gates.iter_mut() {
        g.baseline = Some(match g.kind {
            rollout_policy::plan::GateKind::CrashRateVsControl { .. } => Baseline {
                events: 1_000,
                samples: 1_000_000,
            },
            _ => Baseline {
                events: 50,
                samples: 10_000,
            },
        });
    }
    plan.validate().unwrap();
    let s = running(&plan, 0);
    let d = decide(&plan, &s, &first_stage(100, 30), T0.plus(DAY));
    assert_eq!(
        d.action,
        Action::Abort {
            reason: AbortReason::GateFailed {
                gate: default_gates::GROSS
            }
        },
        "{}",
        d.explanation
    );
    assert!(d.explanation.contains("vs baseline"), "{}", d.explanation);
    let d = decide(&plan, &s, &first_stage(100, 0), T0.plus(DAY));
    assert!(
        matches!(d.action, Action::Advance { stage: 1, .. }),
        "{}",
        d.explanation
    );
}

#[test]
fn a_small_fleet_first_stage_holds_for_its_minimum_evidence() {
    // 1% of 2,000 devices is 20: too few to tell a bad release. The stage asks for 100 trials.
    let mut plan = Plan::default_stable();
    plan.stages[0].size = StageSize::Percent(100);
    plan.stages[0].min_trials = 100;
    plan.stages[1].size = StageSize::Percent(500);
    let mut s = running(&plan, 0);
    s.phase = Phase::Pending;
    let mut e = first_stage(0, 0);
    e.eligible = 2_000;
    let d = decide(&plan, &s, &e, T0);
    assert!(
        matches!(
            d.action,
            Action::Advance {
                stage: 0,
                target_devices: 100,
                ..
            }
        ),
        "{:?}",
        d.action
    );
    s.apply(&plan, &d, T0, &mut MonotonicSequence::default())
        .unwrap();
    // 95 of the 100 devices reported (the report share is met), but 5 failed to download:
    // 90 trials, and 5 devices still to report.
    let mut e = first_stage(100, 0);
    e.eligible = 2_000;
    e.control = control();
    e.stage.succeeded = 90;
    e.stage.failed.download = 5;
    e.rollout = e.stage;
    let d = decide(&plan, &s, &e, T0.plus(DAY));
    let Action::Hold { missing, .. } = d.action else {
        panic!("{:?}: {}", d.action, d.explanation)
    };
    assert_eq!((missing.trials, missing.reports), (5, 0));
    assert!(
        d.explanation
            .contains("waiting for 5 more trial outcomes for the stage's minimum evidence"),
        "{}",
        d.explanation
    );
    // When every device has reported, the stage gives what it can: it does not wait forever.
    e.stage.failed.download = 10;
    e.rollout = e.stage;
    let d = decide(&plan, &s, &e, T0.plus(DAY));
    assert!(
        matches!(d.action, Action::Advance { stage: 1, .. }),
        "{}",
        d.explanation
    );
}

#[test]
fn a_tiny_fleet_caps_the_minimum_at_its_size() {
    let mut plan = Plan::default_stable();
    plan.stages[0].min_trials = 100;
    assert_eq!(plan.stage_devices(0, 30), 30);
    let s = running(&plan, 0);
    let mut e = first_stage(30, 0);
    e.eligible = 30;
    e.control = Counts {
        offered: 1_000,
        started: 1_000,
        succeeded: 1_000,
        device_hours: 100_000,
        crashes: 100,
        ..Counts::default()
    };
    let d = decide(&plan, &s, &e, T0.plus(DAY));
    assert!(
        matches!(d.action, Action::Advance { .. }),
        "{}",
        d.explanation
    );
}

#[test]
fn each_stage_evaluates_only_its_gates() {
    let plan = Plan::default_stable();
    let mut e = first_stage(100, 0);
    e.control = control();
    let indices = |stage: u8| {
        decide(&plan, &running(&plan, stage), &e, T0)
            .gates
            .iter()
            .map(|g| g.index)
            .collect::<Vec<_>>()
    };
    use default_gates::*;
    assert_eq!(indices(0), [GROSS, CRASH, TRIPWIRE]);
    assert_eq!(indices(1), [SUBTLE, STAGE_END, CRASH, TRIPWIRE]);
    assert_eq!(indices(2), [LATE, CRASH, TRIPWIRE]);
    // A stage naming a gate the plan lacks is refused with the reason.
    let mut bad = plan.clone();
    bad.stages[3].gates = GateSet::of(&[7]);
    let d = decide(&bad, &running(&bad, 0), &e, T0);
    assert!(
        d.explanation
            .contains("stage 3 enforces gate 7, but the plan has 6 gates"),
        "{}",
        d.explanation
    );
}
