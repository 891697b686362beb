//! The state machine and `decide`: transitions, three-valued gates, edge cases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{T0, evidence, rel, start_with};

use rollout_policy::cohort::RolloutKey;
use rollout_policy::decide::{Action, Decision, decide};
use rollout_policy::evidence::Evidence;
use rollout_policy::plan::{GateMode, Plan, StageSize, default_gates};
use rollout_policy::rollback::{MonotonicSequence, RollbackAction};
use rollout_policy::state::{
    AbortReason, Applied, ApplyError, Command, PauseReason, Phase, PhaseKind, RolloutState,
    StateError, Step,
};
use rollout_policy::time::{DAY, HOUR, Timestamp};

fn start(plan: &Plan) -> RolloutState {
    start_with(plan, 5)
}

/// The backend's sequence allocator: it has signed other manifests since release 2 (41).
fn sequences() -> MonotonicSequence {
    MonotonicSequence { last: 100 }
}

/// Applies `d` with a fresh allocator, expecting success.
fn apply(s: &mut RolloutState, plan: &Plan, d: &Decision, now: Timestamp) -> Applied {
    s.apply(plan, d, now, &mut sequences())
        .unwrap_or_else(|e| panic!("{e}: {}", d.explanation))
}

fn opened(plan: &Plan) -> RolloutState {
    let mut s = start(plan);
    let d = decide(plan, &s, &evidence(0, 0, 0, 0), T0);
    apply(&mut s, plan, &d, T0);
    s
}

/// Sets the phase directly (a state read back from storage), as a new revision.
fn at_stage(s: &mut RolloutState, stage: u8) {
    s.phase = Phase::Running {
        stage,
        opened_at: T0,
        acknowledged: false,
    };
    s.revision += 1;
}

#[test]
fn pending_opens_the_first_stage_with_100_devices() {
    let plan = Plan::default_stable();
    let s = start(&plan);
    let d = decide(&plan, &s, &evidence(0, 0, 0, 0), T0);
    assert_eq!(
        d.action,
        Action::Advance {
            stage: 0,
            target_devices: 100,
            threshold_bp: 10
        }
    );
    assert!(d.explanation.contains("100 of 100000"), "{}", d.explanation);
}

#[test]
fn no_eligible_device_holds_the_first_stage_closed_until_one_checks_in() {
    // A stage opened over zero devices would fix its threshold at 0 bp and never gain one.
    let plan = Plan::default_stable();
    let s = start(&plan);
    let mut e = evidence(0, 0, 0, 0);
    e.eligible = 0;
    let d = decide(&plan, &s, &e, T0);
    let Action::Hold { missing, until } = d.action else {
        panic!("not a hold: {:?}", d.action);
    };
    assert!(missing.no_devices, "{missing:?}");
    assert_eq!(until, None);
    assert!(
        d.explanation.contains("no eligible device"),
        "{}",
        d.explanation
    );
    e.eligible = 10;
    let d = decide(&plan, &s, &e, T0);
    assert!(
        matches!(
            d.action,
            Action::Advance {
                stage: 0,
                target_devices: 10,
                ..
            }
        ),
        "{:?}",
        d.action
    );
}

#[test]
fn tiny_fleet_never_rounds_a_stage_to_zero() {
    let mut plan = Plan::default_stable();
    plan.stages[0].size = StageSize::Percent(500);
    let s = start(&plan);
    let mut e = evidence(0, 0, 0, 0);
    e.eligible = 11;
    let d = decide(&plan, &s, &e, T0);
    assert_eq!(
        d.action,
        Action::Advance {
            stage: 0,
            target_devices: 1,
            threshold_bp: 910
        }
    );
}

#[test]
fn holds_until_soak_offers_and_reports() {
    let plan = Plan::default_stable();
    let s = opened(&plan);
    // Soak running.
    let d = decide(&plan, &s, &evidence(100, 100, 0, 0), T0.plus(HOUR));
    match d.action {
        Action::Hold { missing, until } => {
            assert_eq!(until, Some(T0.plus(DAY)));
            assert_eq!(missing.soak_until, Some(T0.plus(DAY)));
        }
        other => panic!("{other:?}"),
    }
    // Offers still ramping: 40 of 100 offered.
    let mut e = evidence(100, 40, 0, 0);
    e.stage.offered = 40;
    e.rollout.offered = 40;
    e.stage.started = 40;
    e.rollout.started = 40;
    let d = decide(&plan, &s, &e, T0.plus(2 * DAY));
    match d.action {
        Action::Hold { missing, until } => {
            assert_eq!(missing.offers, 60);
            assert_eq!(missing.reports, 55);
            assert_eq!(until, None);
        }
        other => panic!("{other:?}"),
    }
    assert!(d.explanation.contains("HOLD"), "{}", d.explanation);
}

#[test]
fn late_joiners_hold_the_open_stage() {
    let plan = Plan::default_stable();
    let s = opened(&plan);
    // Five devices joined after the stage opened: assigned grows, offers are pending.
    let mut e = evidence(100, 100, 0, 0);
    e.stage_assigned = 105;
    let d = decide(&plan, &s, &e, T0.plus(2 * DAY));
    assert!(matches!(d.action, Action::Hold { missing, .. } if missing.offers == 5));
    // The threshold did not move past the open stage.
    assert_eq!(s.threshold_bp, 10);
}

#[test]
fn good_stage_advances_then_completes() {
    let plan = Plan::default_stable();
    let mut s = opened(&plan);
    let d = decide(&plan, &s, &evidence(100, 100, 0, 0), T0.plus(DAY));
    assert_eq!(
        d.action,
        // The second stage holds 1,100 devices: its minimum evidence count.
        Action::Advance {
            stage: 1,
            target_devices: 1_100,
            threshold_bp: 110
        }
    );
    assert!(
        d.explanation.contains("ADVANCE to stage 2/4"),
        "{}",
        d.explanation
    );
    assert_eq!(apply(&mut s, &plan, &d, T0.plus(DAY)), Applied::Changed);
    assert_eq!(s.threshold_bp, 110);
    // Skip to the last stage.
    at_stage(&mut s, 3);
    let d = decide(
        &plan,
        &s,
        &evidence(90_000, 89_550, 450, 10_000),
        T0.plus(DAY),
    );
    assert_eq!(d.action, Action::Complete, "{}", d.explanation);
    apply(&mut s, &plan, &d, T0.plus(DAY));
    assert!(matches!(s.phase, Phase::Completed { .. }));
    assert_eq!(
        decide(&plan, &s, &Evidence::default(), T0).action,
        Action::Complete
    );
}

#[test]
fn zero_reports_hold_instead_of_abort() {
    let mut plan = Plan::default_stable();
    plan.stages[0].min_reported_bp = 0;
    let s = opened(&plan);
    let d = decide(&plan, &s, &evidence(100, 0, 0, 0), T0.plus(DAY));
    match d.action {
        Action::Hold { missing, .. } => {
            let need = missing.gate_data.unwrap();
            assert_eq!((need.gate, need.samples, need.control_samples), (0, 1, 0));
        }
        other => panic!("{other:?}: {}", d.explanation),
    }
    assert!(
        d.explanation.contains("gate 0 needs 1 more samples"),
        "{}",
        d.explanation
    );
    // The hold ends by itself when evidence arrives.
    let d = decide(&plan, &s, &evidence(100, 100, 0, 0), T0.plus(DAY));
    assert!(matches!(d.action, Action::Advance { stage: 1, .. }));
}

#[test]
fn all_failures_abort_at_once_with_a_rollback_directive() {
    let plan = Plan::default_stable();
    let mut s = opened(&plan);
    // Mid-soak, 20 devices reported, all failed.
    let mut e = evidence(100, 0, 20, 0);
    e.stage.offered = 50;
    e.rollout.offered = 50;
    e.stage.started = 50;
    e.rollout.started = 50;
    let d = decide(&plan, &s, &e, T0.plus(HOUR));
    let Action::Abort { reason } = d.action else {
        panic!("{:?}: {}", d.action, d.explanation)
    };
    assert_eq!(
        reason,
        AbortReason::GateFailed {
            gate: default_gates::GROSS
        }
    );
    assert!(
        d.explanation.contains("20/20 (100.00%)"),
        "{}",
        d.explanation
    );
    assert!(d.explanation.contains("ABORT"), "{}", d.explanation);
    let Applied::Aborted(directive) = apply(&mut s, &plan, &d, T0.plus(HOUR)) else {
        panic!("no directive")
    };
    assert_eq!(directive.to, rel(1, 40));
    // From the allocator, not max(41, 40) + 1 = 42, which the next release could take too.
    assert_eq!(directive.sequence, 101);
    assert_eq!(directive.threshold_bp, 10);
    assert!(directive.stop_offers);
    assert_eq!(directive.action, RollbackAction::Reinstall);
    assert!(matches!(
        s.phase,
        Phase::Aborted {
            stage: 0,
            sequence: 101,
            ..
        }
    ));
    assert_eq!(s.history.count, 1);
    // Aborted stays aborted and keeps the same directive.
    let again = decide(&plan, &s, &Evidence::default(), T0.plus(DAY));
    assert_eq!(again.action, Action::Abort { reason });
    assert!(
        again.explanation.contains("sequence 101"),
        "{}",
        again.explanation
    );
    assert_eq!(s.directive(), Some(directive));
    assert_eq!(
        apply(&mut s, &plan, &again, T0.plus(DAY)),
        Applied::Unchanged
    );
}

#[test]
fn one_failure_in_a_tiny_stage_is_not_an_abort() {
    let plan = Plan::default_stable();
    let s = opened(&plan);
    let mut e = evidence(3, 2, 1, 0);
    e.eligible = 3;
    let d = decide(&plan, &s, &e, T0.plus(DAY));
    assert!(
        !matches!(d.action, Action::Abort { .. }),
        "{}",
        d.explanation
    );
}

#[test]
fn uncertain_gate_pauses_and_resume_advances() {
    let plan = Plan::default_stable();
    let mut s = opened(&plan);
    at_stage(&mut s, 1);
    // 10 failures in 1,000 trials (2x control): the stage-end test's p = 0.033 lies between its
    // abort level (3%) and its pause level (3.5%).
    let e = evidence(900, 890, 10, 100);
    let d = decide(&plan, &s, &e, T0.plus(DAY));
    assert_eq!(
        d.action,
        Action::Pause {
            reason: PauseReason::GateUncertain {
                gate: default_gates::STAGE_END
            }
        },
        "{}",
        d.explanation
    );
    apply(&mut s, &plan, &d, T0.plus(DAY));
    assert!(matches!(s.phase, Phase::Paused { .. }));
    // Still paused until a human acts.
    let again = decide(&plan, &s, &e, T0.plus(DAY));
    assert!(matches!(again.action, Action::Pause { .. }));
    assert_eq!(
        apply(&mut s, &plan, &again, T0.plus(DAY)),
        Applied::Unchanged
    );
    s.command(&plan, Command::Resume, T0.plus(DAY), &mut sequences())
        .unwrap();
    let d = decide(&plan, &s, &e, T0.plus(DAY));
    assert!(
        matches!(d.action, Action::Advance { stage: 2, .. }),
        "{}",
        d.explanation
    );
}

#[test]
fn a_pause_never_hides_a_failing_gate() {
    let plan = Plan::default_stable();
    let mut s = opened(&plan);
    s.command(&plan, Command::Pause, T0, &mut sequences())
        .unwrap();
    let d = decide(&plan, &s, &evidence(100, 70, 30, 0), T0.plus(HOUR));
    assert!(
        matches!(d.action, Action::Abort { .. }),
        "{}",
        d.explanation
    );
}

#[test]
fn dry_run_gates_report_but_do_not_act() {
    let mut plan = Plan::default_stable();
    for g in plan.gates.iter_mut() {
        g.mode = GateMode::DryRun;
    }
    let s = opened(&plan);
    let d = decide(&plan, &s, &evidence(100, 70, 30, 0), T0.plus(DAY));
    assert!(
        matches!(d.action, Action::Advance { stage: 1, .. }),
        "{}",
        d.explanation
    );
    assert!(
        d.explanation.contains("(dry run)") && d.explanation.contains("FAIL"),
        "{}",
        d.explanation
    );
}

#[test]
fn manual_approval_stage_waits_for_resume() {
    let mut plan = Plan::default_stable();
    plan.stages[0].manual_approval = true;
    let mut s = opened(&plan);
    let e = evidence(100, 100, 0, 0);
    let d = decide(&plan, &s, &e, T0.plus(DAY));
    assert_eq!(
        d.action,
        Action::Pause {
            reason: PauseReason::ManualApproval { stage: 0 }
        }
    );
    apply(&mut s, &plan, &d, T0.plus(DAY));
    s.command(&plan, Command::Resume, T0.plus(DAY), &mut sequences())
        .unwrap();
    assert!(matches!(
        decide(&plan, &s, &e, T0.plus(DAY)).action,
        Action::Advance { .. }
    ));
}

#[test]
fn manual_commands_and_their_refusals() {
    let plan = Plan::default_stable();
    let mut s = opened(&plan);
    let mut seq = sequences();
    assert_eq!(
        s.command(&plan, Command::Resume, T0, &mut seq),
        Err(ApplyError::NotApplicable {
            step: Step::Command(Command::Resume),
            phase: PhaseKind::Running
        })
    );
    let r = s.revision;
    s.command(&plan, Command::Pause, T0, &mut seq).unwrap();
    assert_eq!(s.revision, r + 1);
    let Applied::Aborted(directive) = s.command(&plan, Command::Abort, T0, &mut seq).unwrap()
    else {
        panic!("no directive")
    };
    assert_eq!(directive.sequence, 101);
    assert_eq!(seq.last, 101);
    assert!(matches!(
        s.phase,
        Phase::Aborted {
            reason: AbortReason::Manual,
            ..
        }
    ));
    let err = s.command(&plan, Command::Pause, T0, &mut seq).unwrap_err();
    assert_eq!(
        err.to_string(),
        "command Pause does not apply to a rollout that is aborted"
    );
}

#[test]
fn inconsistent_evidence_pauses_with_the_reason() {
    let plan = Plan::default_stable();
    let s = opened(&plan);
    // Counted per attempt: more failures than devices.
    let mut e = evidence(100, 90, 30, 0);
    e.stage.offered = 100;
    let d = decide(&plan, &s, &e, T0.plus(DAY));
    assert!(matches!(
        d.action,
        Action::Pause {
            reason: PauseReason::InconsistentEvidence(_)
        }
    ));
    assert!(
        d.explanation
            .contains("120 devices completed but only 100 were offered"),
        "{}",
        d.explanation
    );
}

#[test]
fn invalid_plan_or_stage_pauses() {
    let mut plan = Plan::default_stable();
    let s = opened(&plan);
    plan.stages.clear();
    let d = decide(&plan, &s, &evidence(100, 100, 0, 0), T0.plus(DAY));
    assert!(matches!(
        d.action,
        Action::Pause {
            reason: PauseReason::InvalidPlan(_)
        }
    ));
    let plan = Plan::default_stable();
    let mut s = opened(&plan);
    at_stage(&mut s, 9);
    let d = decide(&plan, &s, &evidence(100, 100, 0, 0), T0.plus(DAY));
    assert!(matches!(
        d.action,
        Action::Pause {
            reason: PauseReason::UnknownStage {
                stage: 9,
                stages: 4
            }
        }
    ));
    // The largest stage number is explained without overflow (found by fuzzing).
    s.phase = Phase::Running {
        stage: u8::MAX,
        opened_at: T0,
        acknowledged: false,
    };
    let d = decide(&plan, &s, &evidence(100, 100, 0, 0), T0.plus(DAY));
    assert!(d.explanation.contains("stage 256"), "{}", d.explanation);
}

#[test]
fn flap_limit_blocks_new_rollouts() {
    let plan = Plan::default_stable();
    let mut s = opened(&plan);
    let mut seq = sequences();
    s.command(&plan, Command::Abort, T0, &mut seq).unwrap();
    let mut s2 = RolloutState::start(
        &plan,
        RolloutKey::new([6; 16]),
        rel(3, 43),
        rel(1, 40),
        s.history,
        T0.plus(HOUR),
    )
    .unwrap();
    let d = decide(&plan, &s2, &evidence(0, 0, 0, 0), T0.plus(HOUR));
    apply(&mut s2, &plan, &d, T0.plus(HOUR));
    let Applied::Aborted(second) = s2
        .command(&plan, Command::Abort, T0.plus(2 * HOUR), &mut seq)
        .unwrap()
    else {
        panic!("no directive")
    };
    // Two rollbacks of the same release line never share a sequence.
    assert_eq!(s.directive().map(|d| d.sequence), Some(101));
    assert_eq!(second.sequence, 102);
    let err = RolloutState::start(
        &plan,
        RolloutKey::new([7; 16]),
        rel(4, 45),
        rel(1, 40),
        s2.history,
        T0.plus(3 * HOUR),
    )
    .unwrap_err();
    assert_eq!(
        err,
        StateError::FlapLimit {
            recent: 2,
            limit: 2
        }
    );
    // After the window, rollouts may start again.
    assert!(
        RolloutState::start(
            &plan,
            RolloutKey::new([7; 16]),
            rel(4, 45),
            rel(1, 40),
            s2.history,
            T0.plus(8 * DAY)
        )
        .is_ok()
    );
}

#[test]
fn thresholds_only_grow() {
    let plan = Plan::default_stable();
    let mut s = opened(&plan);
    let r = s.revision;
    s.set_threshold(12).unwrap();
    assert_eq!(s.revision, r + 1);
    s.set_threshold(12).unwrap();
    assert_eq!(
        s.revision,
        r + 1,
        "an unchanged threshold is no new revision"
    );
    assert_eq!(
        s.set_threshold(11),
        Err(StateError::ThresholdShrinks {
            requested: 11,
            current: 12
        })
    );
}

#[test]
fn rate_limit_budget_follows_the_stage_clock() {
    let plan = Plan::default_stable();
    let s = opened(&plan);
    assert_eq!(s.offer_budget(&plan, T0), Some(0));
    // 25 per hour for 4 hours, then 50.
    assert_eq!(s.offer_budget(&plan, T0.plus(2 * HOUR)), Some(50));
    assert_eq!(s.offer_budget(&plan, T0.plus(5 * HOUR)), Some(150));
}

#[test]
fn decisions_are_pure() {
    let plan = Plan::default_stable();
    let s = opened(&plan);
    let e = evidence(100, 97, 3, 0);
    let a = decide(&plan, &s, &e, T0.plus(DAY));
    let b = decide(&plan, &s, &e, T0.plus(DAY));
    assert_eq!(a, b);
    assert!(!a.explanation.is_empty());
}

/// Evidence of an open first stage of 100 devices with `offered` offered and `ok` + `fail`
/// reported.
fn ramping(offered: u32, ok: u32, fail: u32) -> Evidence {
    let mut e = evidence(100, ok, fail, 0);
    for c in [&mut e.stage, &mut e.rollout] {
        c.offered = offered;
        c.started = offered;
    }
    e
}

#[test]
fn evidence_ramp_grows_offers_with_clean_outcomes_and_says_so() {
    let plan = Plan::default_stable();
    let s = opened(&plan);
    // Nothing back yet: 10 in flight at most, though the clock allows 25 in the first hour.
    assert_eq!(s.new_offers(&plan, &ramping(0, 0, 0), T0.plus(HOUR)), 10);
    assert_eq!(s.new_offers(&plan, &ramping(10, 0, 0), T0.plus(HOUR)), 0);
    // Ten clean outcomes back: 10 + 5 may be in flight, and the clock allows 40 more by hour 2.
    assert_eq!(
        s.new_offers(&plan, &ramping(10, 10, 0), T0.plus(2 * HOUR)),
        15
    );
    // One failure cancels 110 successes: after 60 clean and 1 failed the ramp is back to 10.
    assert_eq!(
        s.new_offers(&plan, &ramping(61, 60, 1), T0.plus(6 * HOUR)),
        10
    );
    // The stage's size caps it: 95 offered, 5 left.
    assert_eq!(
        s.new_offers(&plan, &ramping(95, 95, 0), T0.plus(9 * HOUR)),
        5
    );
    // The hold says what limits the offers.
    let d = decide(&plan, &s, &ramping(61, 60, 1), T0.plus(6 * HOUR));
    assert!(matches!(d.action, Action::Hold { .. }));
    assert!(
        d.explanation
            .contains("evidence ramp: 0 in flight of 10 allowed"),
        "{}",
        d.explanation
    );
    // Paused: no offers at all, whatever the evidence.
    let mut paused = s;
    paused
        .command(
            &plan,
            Command::Pause,
            T0,
            &mut MonotonicSequence { last: 50 },
        )
        .unwrap();
    assert_eq!(
        paused.new_offers(&plan, &ramping(10, 10, 0), T0.plus(2 * HOUR)),
        0
    );
}
