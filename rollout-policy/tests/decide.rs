//! The state machine and `decide`: transitions, three-valued gates, edge cases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rollout_policy::calendar::ReleaseRef;
use rollout_policy::cohort::RolloutKey;
use rollout_policy::decide::{
    AbortReason, Action, Command, PauseReason, Phase, RolloutState, StateError, decide,
};
use rollout_policy::evidence::{Counts, Evidence};
use rollout_policy::plan::{GateMode, Plan, StageSize};
use rollout_policy::rollback::{RollbackAction, RollbackHistory};
use rollout_policy::time::{DAY, HOUR, Timestamp};

const T0: Timestamp = Timestamp(1_800_000_000);

fn rel(id: u32, sequence: u64) -> ReleaseRef {
    ReleaseRef {
        id,
        sequence,
        security_version: 1,
    }
}

fn start(plan: &Plan) -> RolloutState {
    RolloutState::start(
        plan,
        RolloutKey::new([5; 16]),
        rel(2, 41),
        rel(1, 40),
        RollbackHistory::default(),
        T0,
    )
    .unwrap()
}

fn control() -> Counts {
    let mut c = Counts {
        offered: 100_000,
        started: 100_000,
        succeeded: 99_500,
        device_hours: 16_800_000,
        crashes: 16_800,
        ..Counts::default()
    };
    c.failed.boot_reverted = 500;
    c
}

/// Evidence for an open stage of `assigned` devices, all offered, `ok` + `fail` reported,
/// with `earlier` devices (all succeeded) from earlier stages.
fn evidence(assigned: u32, ok: u32, fail: u32, earlier: u32) -> Evidence {
    let mut stage = Counts {
        offered: assigned,
        started: assigned,
        succeeded: ok,
        ..Counts::default()
    };
    stage.failed.boot_reverted = fail;
    let mut rollout = stage;
    rollout.offered += earlier;
    rollout.started += earlier;
    rollout.succeeded += earlier;
    rollout.device_hours = u64::from(rollout.offered) * 24;
    rollout.crashes = (rollout.device_hours / 1_000) as u32;
    Evidence {
        eligible: 100_000,
        stage_assigned: assigned,
        stage,
        rollout,
        control: control(),
    }
}

fn opened(plan: &Plan) -> RolloutState {
    let mut s = start(plan);
    let d = decide(plan, &s, &evidence(0, 0, 0, 0), T0);
    s.apply(plan, &d, T0);
    s
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
        Action::Advance {
            stage: 1,
            target_devices: 1_000,
            threshold_bp: 100
        }
    );
    assert!(
        d.explanation.contains("ADVANCE to stage 2/4"),
        "{}",
        d.explanation
    );
    s.apply(&plan, &d, T0.plus(DAY));
    assert_eq!(s.threshold_bp, 100);
    // Skip to the last stage.
    s.phase = Phase::Running {
        stage: 3,
        opened_at: T0,
        acknowledged: false,
    };
    let d = decide(
        &plan,
        &s,
        &evidence(90_000, 89_550, 450, 10_000),
        T0.plus(DAY),
    );
    assert_eq!(d.action, Action::Complete, "{}", d.explanation);
    s.apply(&plan, &d, T0.plus(DAY));
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
        Action::Hold { missing, .. } => assert_eq!(missing.gate_data, Some(0)),
        other => panic!("{other:?}: {}", d.explanation),
    }
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
    let Action::Abort { reason, directive } = d.action else {
        panic!("{:?}: {}", d.action, d.explanation)
    };
    assert_eq!(reason, AbortReason::GateFailed { gate: 0 });
    assert_eq!(directive.to, rel(1, 40));
    assert_eq!(directive.sequence, 42);
    assert_eq!(directive.threshold_bp, 10);
    assert!(directive.stop_offers);
    assert_eq!(directive.action, RollbackAction::Reinstall);
    assert!(
        d.explanation.contains("20/20 (100.00%)"),
        "{}",
        d.explanation
    );
    assert!(d.explanation.contains("ABORT"), "{}", d.explanation);
    s.apply(&plan, &d, T0.plus(HOUR));
    assert!(matches!(s.phase, Phase::Aborted { stage: 0, .. }));
    assert_eq!(s.history.count, 1);
    // Aborted stays aborted and re-issues the same directive.
    let again = decide(&plan, &s, &Evidence::default(), T0.plus(DAY));
    assert!(matches!(again.action, Action::Abort { directive: d2, .. } if d2 == directive));
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
    s.phase = Phase::Running {
        stage: 1,
        opened_at: T0,
        acknowledged: false,
    };
    // 12 failures in 1,100 trials (2.2x control): likelihood ratio between 5 and 10.
    let e = evidence(1_000, 988, 12, 100);
    let d = decide(&plan, &s, &e, T0.plus(DAY));
    assert_eq!(
        d.action,
        Action::Pause {
            reason: PauseReason::GateUncertain { gate: 0 }
        },
        "{}",
        d.explanation
    );
    s.apply(&plan, &d, T0.plus(DAY));
    assert!(matches!(s.phase, Phase::Paused { .. }));
    // Still paused until a human acts.
    assert!(matches!(
        decide(&plan, &s, &e, T0.plus(DAY)).action,
        Action::Pause { .. }
    ));
    s.command(&plan, Command::Resume, T0.plus(DAY)).unwrap();
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
    s.command(&plan, Command::Pause, T0).unwrap();
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
    s.apply(&plan, &d, T0.plus(DAY));
    s.command(&plan, Command::Resume, T0.plus(DAY)).unwrap();
    assert!(matches!(
        decide(&plan, &s, &e, T0.plus(DAY)).action,
        Action::Advance { .. }
    ));
}

#[test]
fn manual_commands_and_their_refusals() {
    let plan = Plan::default_stable();
    let mut s = opened(&plan);
    assert!(matches!(
        s.command(&plan, Command::Resume, T0),
        Err(StateError::NotApplicable {
            command: Command::Resume,
            phase: "running"
        })
    ));
    s.command(&plan, Command::Pause, T0).unwrap();
    let directive = s.command(&plan, Command::Abort, T0).unwrap().unwrap();
    assert_eq!(directive.sequence, 42);
    assert!(matches!(
        s.phase,
        Phase::Aborted {
            reason: AbortReason::Manual,
            ..
        }
    ));
    let err = s.command(&plan, Command::Pause, T0).unwrap_err();
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
    s.phase = Phase::Running {
        stage: 9,
        opened_at: T0,
        acknowledged: false,
    };
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
    s.command(&plan, Command::Abort, T0).unwrap();
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
    s2.apply(&plan, &d, T0.plus(HOUR));
    s2.command(&plan, Command::Abort, T0.plus(2 * HOUR))
        .unwrap();
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
    s.set_threshold(12).unwrap();
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
    assert_eq!(s.offer_budget(&plan, T0.plus(2 * HOUR)), Some(150));
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
