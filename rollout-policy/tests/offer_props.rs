//! Invariants of offer pacing ([`RolloutState::new_offers`]): offers never exceed the open
//! stage's assigned devices, the evidence ramp's in-flight cap or the clock's budget, and no
//! offer goes out from a pending, paused or aborted rollout, including after `decide`'s own
//! pause or abort is applied.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use rollout_policy::calendar::ReleaseRef;
use rollout_policy::cohort::RolloutKey;
use rollout_policy::decide::{Action, decide};
use rollout_policy::evidence::{Counts, Evidence};
use rollout_policy::plan::Plan;
use rollout_policy::rate::EvidenceRamp;
use rollout_policy::rollback::{MonotonicSequence, RollbackHistory};
use rollout_policy::state::{AbortReason, Command, PauseReason, Phase, RolloutState};
use rollout_policy::time::{HOUR, Timestamp};

const T0: Timestamp = Timestamp(1_800_000_000);

fn rel(id: u32) -> ReleaseRef {
    ReleaseRef {
        id,
        sequence: u64::from(id) * 10,
        security_version: 1,
    }
}

fn state(plan: &Plan) -> RolloutState {
    RolloutState::start(
        plan,
        RolloutKey::new([3; 16]),
        rel(2),
        rel(1),
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

fn ramp() -> impl Strategy<Value = Option<EvidenceRamp>> {
    proptest::option::of((1u32..200, 0u32..40_000, 0u16..500).prop_map(
        |(initial_in_flight, per_clean_bp, failure_weight)| EvidenceRamp {
            initial_in_flight,
            per_clean_bp,
            failure_weight,
        },
    ))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Whatever the phase, counts and time: never more offers than the stage has left, the
    /// ramp's in-flight cap or the clock's budget allow; none unless running (or completed).
    #[test]
    fn offers_stay_within_the_stage_and_the_ramp(
        ramp in ramp(),
        phase in 0u8..5,
        stage in 0u8..4,
        elapsed in 0u64..(200 * HOUR),
        assigned in 0u32..20_000,
        stage_offered in 0u32..20_000,
        earlier in 0u32..20_000,
        succeeded in 0u32..20_000,
        failed in 0u32..300,
    ) {
        let mut plan = Plan::default_stable();
        plan.ramp = ramp;
        let mut s = state(&plan);
        let opened_at = T0;
        s.phase = match phase {
            0 => Phase::Pending,
            1 => Phase::Running { stage, opened_at, acknowledged: false },
            2 => Phase::Paused { stage, opened_at, reason: PauseReason::Manual, since: opened_at },
            3 => Phase::Aborted { stage, at: opened_at, reason: AbortReason::Manual, sequence: 21 },
            _ => Phase::Completed { at: opened_at },
        };
        let stage_offered = stage_offered.min(assigned);
        let offered = stage_offered + earlier;
        let succeeded = succeeded.min(offered);
        let failed = failed.min(offered - succeeded);
        let mut rollout = Counts { offered, started: offered, succeeded, ..Counts::default() };
        rollout.failed.boot_reverted = failed;
        let e = Evidence {
            eligible: 100_000,
            stage_assigned: assigned,
            stage: Counts { offered: stage_offered, started: stage_offered, ..Counts::default() },
            rollout,
            control: control(),
        };
        let now = T0.plus(elapsed);
        let n = s.new_offers(&plan, &e, now);
        prop_assert!(u64::from(n) + u64::from(stage_offered) <= u64::from(assigned));
        match s.phase {
            Phase::Running { .. } => {
                if let Some(r) = plan.ramp {
                    let in_flight = u64::from(offered) - rollout.completed();
                    prop_assert!(u64::from(n) + in_flight <= r.in_flight_cap(&rollout).max(in_flight));
                }
                if let Some(budget) = s.offer_budget(&plan, now) {
                    prop_assert!(u64::from(n) + u64::from(stage_offered) <= budget.max(u64::from(stage_offered)));
                }
            }
            Phase::Completed { .. } => prop_assert_eq!(n, assigned - stage_offered),
            _ => prop_assert_eq!(n, 0),
        }
    }

    /// A rollout driven hour by hour with the offers `new_offers` allows, outcomes arriving an
    /// hour later with random failures, and random operator pauses and aborts: offers never
    /// exceed the open stage, and none go out in any hour after a pause or abort was applied
    /// (whether `decide` or the operator stopped it) until an operator resumes.
    #[test]
    fn no_offers_after_a_pause_or_abort(
        seed in any::<u64>(),
        fail_per_mille in 0u64..200,
        operator in proptest::collection::vec(0u8..40, 400),
    ) {
        let mut plan = Plan::default_stable();
        plan.ramp = Some(EvidenceRamp { initial_in_flight: 10, per_clean_bp: 5_000, failure_weight: 110 });
        let mut s = state(&plan);
        let mut seq = MonotonicSequence { last: 100 };
        let mut e = Evidence { eligible: 20_000, control: control(), ..Evidence::default() };
        let mut rng = seed | 1;
        let mut pending = (0u32, 0u32);
        let mut prev_target = 0u32;
        let mut now = T0;
        for &op in &operator {
            let (n, f) = pending;
            for c in [&mut e.stage, &mut e.rollout] {
                c.succeeded += n - f;
                c.failed.boot_reverted += f;
            }
            let d = decide(&plan, &s, &e, now);
            if let Action::Advance { stage, target_devices, .. } = d.action {
                let from = if stage == 0 { 0 } else { prev_target };
                e.stage_assigned = target_devices - from;
                prev_target = target_devices;
                e.stage = Counts::default();
            }
            if !matches!(d.action, Action::Hold { .. }) {
                let _ = s.apply(&plan, &d, now, &mut seq);
            }
            // The operator: pause (1/40), resume (2/40), abort (1/40 of hours).
            let cmd = match op {
                0 => Some(Command::Pause),
                1 | 2 => Some(Command::Resume),
                3 => Some(Command::Abort),
                _ => None,
            };
            if let Some(cmd) = cmd {
                let _ = s.command(&plan, cmd, now, &mut seq);
            }
            let new = s.new_offers(&plan, &e, now.plus(HOUR));
            if matches!(s.phase, Phase::Paused { .. } | Phase::Aborted { .. } | Phase::Pending) {
                prop_assert_eq!(new, 0, "offers in phase {:?}", s.phase);
            }
            prop_assert!(e.stage.offered + new <= e.stage_assigned);
            let mut fails = 0;
            for _ in 0..new {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                if rng % 1_000 < fail_per_mille {
                    fails += 1;
                }
            }
            for c in [&mut e.stage, &mut e.rollout] {
                c.offered += new;
                c.started += new;
            }
            pending = (new, fails);
            now = now.plus(HOUR);
            if matches!(s.phase, Phase::Completed { .. }) {
                break;
            }
        }
    }
}
