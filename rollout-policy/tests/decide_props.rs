//! Invariants of `decide` over arbitrary evidence, phases and times.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use rollout_policy::calendar::ReleaseRef;
use rollout_policy::cohort::RolloutKey;
use rollout_policy::decide::{Action, decide};
use rollout_policy::evidence::{Counts, Evidence};
use rollout_policy::gate::Verdict;
use rollout_policy::plan::Plan;
use rollout_policy::rollback::RollbackHistory;
use rollout_policy::state::{AbortReason, PauseReason, Phase, RolloutState};
use rollout_policy::time::Timestamp;

fn counts() -> impl Strategy<Value = Counts> {
    (
        0u32..2_000,
        0u32..2_000,
        0u32..60,
        0u32..60,
        0u32..5,
        0u64..100_000,
        0u32..200,
    )
        .prop_map(
            |(offered, succeeded, reverted, silent, bricked, device_hours, crashes)| {
                let mut c = Counts {
                    offered,
                    started: offered,
                    succeeded,
                    device_hours,
                    crashes,
                    bricked,
                    ..Counts::default()
                };
                c.failed.boot_reverted = reverted;
                c.failed.silent = silent;
                c
            },
        )
}

proptest! {
    #[test]
    fn decisions_respect_gates_and_readiness(
        stage in 0u8..6,
        paused in any::<bool>(),
        opened in 0u64..200_000,
        now in 0u64..400_000,
        assigned in 0u32..2_500,
        stage_counts in counts(),
        extra in counts(),
    ) {
        let plan = Plan::default_stable();
        let rel = |id: u32| ReleaseRef { id, sequence: u64::from(id), security_version: 1 };
        let mut state = RolloutState::start(&plan, RolloutKey::new([1; 16]), rel(2), rel(1),
            RollbackHistory::default(), Timestamp(0)).unwrap();
        state.phase = if paused {
            Phase::Paused { stage, opened_at: Timestamp(opened), reason: PauseReason::Manual, since: Timestamp(opened) }
        } else {
            Phase::Running { stage, opened_at: Timestamp(opened), acknowledged: false }
        };
        let mut rollout = stage_counts;
        rollout.offered += extra.offered;
        rollout.succeeded += extra.succeeded;
        let mut control = Counts { offered: 100_000, succeeded: 99_500, device_hours: 16_800_000, crashes: 16_800, ..Counts::default() };
        control.failed.boot_reverted = 500;
        let e = Evidence { eligible: 100_000, stage_assigned: assigned, stage: stage_counts, rollout, control };
        let d = decide(&plan, &state, &e, Timestamp(now));
        prop_assert!(!d.explanation.is_empty());
        prop_assert_eq!(d.basis, state.basis());
        // Only the open stage's gates are judged.
        if let Some(st) = plan.stages.get(usize::from(stage)) {
            prop_assert!(d.gates.iter().all(|g| st.gates.contains(g.index)));
        }
        let consistent = e.check().is_ok();
        match d.action {
            Action::Advance { stage: next, threshold_bp, .. } => {
                prop_assert!(consistent && !paused);
                prop_assert_eq!(next, stage + 1);
                prop_assert!(threshold_bp >= state.threshold_bp);
                prop_assert!(now >= opened + 86_400);
                prop_assert!(e.stage.offered >= assigned);
                for g in &d.gates {
                    prop_assert!(!g.enforced() || matches!(g.verdict, Verdict::Pass | Verdict::Deferred), "{}", g);
                }
            }
            Action::Complete => {
                prop_assert!(consistent && !paused && usize::from(stage) + 1 == plan.stages.len());
                prop_assert!(now >= opened + 86_400);
            }
            Action::Abort { reason } => {
                prop_assert!(consistent);
                let gate_failed = matches!(reason, AbortReason::GateFailed { .. });
                prop_assert!(gate_failed);
                prop_assert!(d.gates.iter().any(|g| g.enforced() && g.verdict == Verdict::Fail));
            }
            Action::Hold { .. } => prop_assert!(consistent && !paused),
            Action::Pause { .. } => {}
        }
    }
}
