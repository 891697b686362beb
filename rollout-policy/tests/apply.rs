//! A decision applies only to the state it was made for; rollback sequences come from the
//! caller's allocator; a refused step leaves the state as it was.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{T0, evidence, rel, start_with};

use proptest::prelude::*;
use rollout_policy::cohort::RolloutKey;
use rollout_policy::decide::{Action, Decision, decide};
use rollout_policy::evidence::Evidence;
use rollout_policy::plan::Plan;
use rollout_policy::rollback::{MonotonicSequence, RollbackHistory, SequenceAllocator};
use rollout_policy::state::{
    AbortReason, ActionKind, Applied, ApplyError, Basis, Command, Phase, PhaseKind, RolloutState,
    Step,
};
use rollout_policy::time::{DAY, HOUR, Timestamp};

fn start(plan: &Plan) -> RolloutState {
    start_with(plan, 9)
}

/// A good stage: every assigned device offered and succeeded, `earlier` devices before it.
fn good(assigned: u32, earlier: u32) -> Evidence {
    evidence(assigned, assigned, 0, earlier)
}

/// Decides and applies at `now`, returning the decision.
fn step(s: &mut RolloutState, plan: &Plan, e: &Evidence, now: Timestamp) -> Decision {
    let d = decide(plan, s, e, now);
    s.apply(plan, &d, now, &mut MonotonicSequence::default())
        .unwrap_or_else(|err| panic!("{err}: {}", d.explanation));
    d
}

#[test]
fn replaying_advance_to_stage_0_after_stage_2_is_refused() {
    let plan = Plan::default_stable();
    let mut s = start(&plan);
    let first = step(&mut s, &plan, &good(0, 0), T0);
    assert!(matches!(first.action, Action::Advance { stage: 0, .. }));
    let second = step(&mut s, &plan, &good(100, 0), T0.plus(DAY));
    assert!(matches!(second.action, Action::Advance { stage: 1, .. }));
    let before = s;
    let err = s
        .apply(
            &plan,
            &first,
            T0.plus(2 * DAY),
            &mut MonotonicSequence::default(),
        )
        .unwrap_err();
    assert_eq!(
        err,
        ApplyError::Stale {
            decided_for: Basis {
                revision: 0,
                phase: PhaseKind::Pending,
                stage: None
            },
            current: Basis {
                revision: 2,
                phase: PhaseKind::Running,
                stage: Some(1)
            },
        }
    );
    assert_eq!(
        err.to_string(),
        "decision was made for revision 0 (pending) but the rollout is at revision 2 (running at stage 2); decide again from the current state"
    );
    assert_eq!(s, before, "a refused decision changes nothing");
    // Applying the same decision twice is a replay too.
    assert!(matches!(
        s.apply(
            &plan,
            &second,
            T0.plus(2 * DAY),
            &mut MonotonicSequence::default()
        ),
        Err(ApplyError::Stale { .. })
    ));
}

#[test]
fn advance_on_a_paused_rollout_is_refused() {
    let plan = Plan::default_stable();
    let mut s = start(&plan);
    step(&mut s, &plan, &good(0, 0), T0);
    let advance = decide(&plan, &s, &good(100, 0), T0.plus(DAY));
    assert!(matches!(advance.action, Action::Advance { stage: 1, .. }));
    // An operator pauses between the decision and its application.
    s.command(
        &plan,
        Command::Pause,
        T0.plus(DAY),
        &mut MonotonicSequence::default(),
    )
    .unwrap();
    let paused = s;
    let err = s
        .apply(
            &plan,
            &advance,
            T0.plus(DAY),
            &mut MonotonicSequence::default(),
        )
        .unwrap_err();
    assert!(
        matches!(err, ApplyError::Stale { current, .. } if current.phase == PhaseKind::Paused),
        "{err}"
    );
    assert_eq!(s, paused, "still paused");
    // Decided again from the paused state, the rollout stays paused.
    let d = decide(&plan, &s, &good(100, 0), T0.plus(DAY));
    assert!(
        matches!(d.action, Action::Pause { .. }),
        "{}",
        d.explanation
    );
}

#[test]
fn a_decision_whose_action_does_not_fit_its_state_is_refused() {
    let plan = Plan::default_stable();
    let mut s = start(&plan);
    step(&mut s, &plan, &good(0, 0), T0);
    // A stored decision for the right revision whose action was altered: skip to stage 3.
    let mut forged = decide(&plan, &s, &good(100, 0), T0.plus(DAY));
    forged.action = Action::Advance {
        stage: 2,
        target_devices: 10_000,
        threshold_bp: 1_000,
    };
    let before = s;
    assert_eq!(
        s.apply(
            &plan,
            &forged,
            T0.plus(DAY),
            &mut MonotonicSequence::default()
        ),
        Err(ApplyError::NotApplicable {
            step: Step::Action(ActionKind::Advance { stage: 2 }),
            phase: PhaseKind::Running
        })
    );
    forged.action = Action::Complete;
    assert!(matches!(
        s.apply(
            &plan,
            &forged,
            T0.plus(DAY),
            &mut MonotonicSequence::default()
        ),
        Err(ApplyError::NotApplicable {
            step: Step::Action(ActionKind::Complete),
            ..
        })
    ));
    assert_eq!(s, before);
}

#[test]
fn holds_change_nothing_and_keep_the_revision() {
    let plan = Plan::default_stable();
    let mut s = start(&plan);
    step(&mut s, &plan, &good(0, 0), T0);
    let r = s.revision;
    let hold = decide(&plan, &s, &good(100, 0), T0.plus(HOUR));
    assert!(matches!(hold.action, Action::Hold { .. }));
    let mut seq = MonotonicSequence::default();
    assert_eq!(
        s.apply(&plan, &hold, T0.plus(HOUR), &mut seq),
        Ok(Applied::Unchanged)
    );
    assert_eq!(s.revision, r);
    // So a hold applied twice is still for this state, and a later decision still applies.
    assert_eq!(
        s.apply(&plan, &hold, T0.plus(HOUR), &mut seq),
        Ok(Applied::Unchanged)
    );
    step(&mut s, &plan, &good(100, 0), T0.plus(DAY));
    assert_eq!(s.revision, r + 1);
}

/// An allocator that fails, or hands out a sequence anti-rollback would refuse.
struct Broken(Option<u64>);

impl SequenceAllocator for Broken {
    type Error = &'static str;
    fn allocate(&mut self, _above: u64) -> Result<u64, &'static str> {
        self.0.ok_or("database unavailable")
    }
}

fn failing_stage(s: &mut RolloutState, plan: &Plan) -> Decision {
    step(s, plan, &good(0, 0), T0);
    let mut e = good(100, 0);
    e.stage.succeeded = 70;
    e.stage.failed.boot_reverted = 30;
    e.rollout.succeeded = 70;
    e.rollout.failed.boot_reverted = 30;
    let d = decide(plan, s, &e, T0.plus(HOUR));
    assert!(
        matches!(d.action, Action::Abort { .. }),
        "{}",
        d.explanation
    );
    d
}

#[test]
fn an_abort_takes_its_sequence_from_the_allocator_or_does_not_happen() {
    let plan = Plan::default_stable();
    let mut s = start(&plan);
    let abort = failing_stage(&mut s, &plan);
    let before = s;
    assert_eq!(
        s.apply(&plan, &abort, T0.plus(HOUR), &mut Broken(None)),
        Err(ApplyError::Allocator("database unavailable"))
    );
    assert_eq!(s, before, "no abort without a sequence");
    // 41 is the aborted release's own sequence: devices would refuse it.
    let err = s
        .apply(&plan, &abort, T0.plus(HOUR), &mut Broken(Some(41)))
        .unwrap_err();
    assert_eq!(
        err,
        ApplyError::SequenceNotFresh {
            allocated: 41,
            above: 41
        }
    );
    assert_eq!(
        err.to_string(),
        "allocator returned sequence 41 for the rollback directive; expected more than 41"
    );
    assert_eq!(s, before);
    let Ok(Applied::Aborted(d)) = s.apply(&plan, &abort, T0.plus(HOUR), &mut Broken(Some(77)))
    else {
        panic!("not aborted")
    };
    assert_eq!(d.sequence, 77);
    assert!(matches!(
        s.phase,
        Phase::Aborted {
            sequence: 77,
            reason: AbortReason::GateFailed { .. },
            ..
        }
    ));
}

#[test]
fn rollbacks_and_releases_from_one_allocator_never_share_a_sequence() {
    // The backend signs every manifest from one allocator.
    let mut seq = MonotonicSequence::default();
    let plan = Plan::default_stable();
    let mut used = Vec::new();
    let mut previous = rel(1, seq.allocate(0).unwrap());
    used.push(previous.sequence);
    for id in 2..6u32 {
        let release = rel(id, seq.allocate(0).unwrap());
        used.push(release.sequence);
        let mut s = RolloutState::start(
            &plan,
            RolloutKey::new([id as u8; 16]),
            release,
            previous,
            RollbackHistory::default(),
            T0,
        )
        .unwrap();
        let d = decide(&plan, &s, &good(0, 0), T0);
        s.apply(&plan, &d, T0, &mut seq).unwrap();
        if let Ok(Applied::Aborted(directive)) = s.command(&plan, Command::Abort, T0, &mut seq) {
            used.push(directive.sequence);
            assert!(directive.sequence > release.sequence.max(previous.sequence));
        }
        previous = release;
    }
    let mut sorted = used.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), used.len(), "{used:?}");
}

#[test]
fn decisions_and_states_survive_storage() {
    let plan = Plan::default_stable();
    let mut s = start(&plan);
    let abort = failing_stage(&mut s, &plan);
    let bytes = postcard::to_allocvec(&abort).unwrap();
    let stored: Decision = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(stored, abort);
    let mut buf = [0u8; rollout_policy::wire::MAX_RECORD];
    let state = RolloutState::decode(s.encode(&mut buf).unwrap()).unwrap();
    assert_eq!(state, s);
    let mut a = state;
    let mut b = s;
    let mut seq = MonotonicSequence { last: 500 };
    let applied = a
        .apply(&plan, &stored, T0.plus(HOUR), &mut seq.clone())
        .unwrap();
    assert_eq!(
        b.apply(&plan, &abort, T0.plus(HOUR), &mut seq).unwrap(),
        applied
    );
    assert_eq!(a, b);
}

proptest! {
    /// Whatever decisions are replayed in whatever order, only one made for the current
    /// revision ever changes the state, and every change raises the revision by one.
    #[test]
    fn only_current_decisions_apply(order in proptest::collection::vec(0usize..6, 1..30)) {
        let plan = Plan::default_stable();
        let mut s = start(&plan);
        let mut log: Vec<Decision> = Vec::new();
        let mut now = T0;
        for (i, pick) in order.into_iter().enumerate() {
            now = now.plus(DAY);
            let fresh = decide(&plan, &s, &good(100 * (i as u32 + 1), 0), now);
            log.push(fresh);
            let d = &log[pick % log.len()];
            let before = s;
            let mut seq = MonotonicSequence::default();
            match s.apply(&plan, d, now, &mut seq) {
                Ok(Applied::Unchanged) => prop_assert_eq!(s, before),
                Ok(_) => {
                    prop_assert_eq!(d.basis, before.basis());
                    prop_assert_eq!(s.revision, before.revision + 1);
                }
                Err(ApplyError::Stale { decided_for, current }) => {
                    prop_assert_ne!(decided_for, current);
                    prop_assert_eq!(s, before);
                }
                Err(e) => prop_assert!(false, "{}", e),
            }
        }
    }
}
