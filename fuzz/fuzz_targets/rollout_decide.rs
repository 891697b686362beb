//! Stored rollout records (plan, state, evidence) decoded from arbitrary bytes and fed to
//! `decide` and the state transitions must never panic; every accepted record re-encodes to
//! exactly its input (as the current version; older records re-encode to the same value); a
//! decision applies to its own state at most once, and a refused one changes nothing; offers
//! never exceed the open stage and never go out from a pending, paused or aborted rollout.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollout_policy::decide::decide;
use rollout_policy::evidence::Evidence;
use rollout_policy::plan::Plan;
use rollout_policy::rollback::MonotonicSequence;
use rollout_policy::state::Phase;
use rollout_policy::state::{Applied, Command, RolloutState};
use rollout_policy::time::Timestamp;
use rollout_policy::wire::{FORMAT_VERSION, MAX_RECORD};

/// Splits `data` at a one-byte length prefix.
fn take(data: &[u8]) -> (&[u8], &[u8]) {
    match data.split_first() {
        Some((&n, rest)) => rest.split_at(usize::from(n).min(rest.len())),
        None => (&[], &[]),
    }
}

fuzz_target!(|data: &[u8]| {
    let (state_bytes, rest) = take(data);
    let (evidence_bytes, rest) = take(rest);
    let (plan_bytes, now_bytes) = take(rest);
    let mut buf = [0u8; MAX_RECORD];
    let Ok(mut state) = RolloutState::decode(state_bytes) else {
        return;
    };
    let again = state.encode(&mut buf).map(|b| b.to_vec()).ok();
    if state_bytes.first() == Some(&FORMAT_VERSION) {
        assert_eq!(again.as_deref(), Some(state_bytes));
    } else {
        let again = again.and_then(|b| RolloutState::decode(&b).ok());
        assert_eq!(again, Some(state));
    }
    let evidence = match Evidence::decode(evidence_bytes) {
        Ok(e) => {
            let again = e.encode(&mut buf).map(|b| b.to_vec()).ok();
            if evidence_bytes.first() == Some(&FORMAT_VERSION) {
                assert_eq!(again.as_deref(), Some(evidence_bytes));
            } else {
                assert_eq!(again.and_then(|b| Evidence::decode(&b).ok()), Some(e));
            }
            e
        }
        Err(_) => Evidence::default(),
    };
    let plan = match Plan::decode(plan_bytes) {
        Ok(p) => {
            let again = p.encode(&mut buf).map(|b| b.to_vec()).ok();
            if plan_bytes.first() == Some(&FORMAT_VERSION) {
                assert_eq!(again.as_deref(), Some(plan_bytes));
            } else {
                assert_eq!(again.and_then(|b| Plan::decode(&b).ok()).as_ref(), Some(&p));
            }
            p
        }
        Err(_) => Plan::default_stable(),
    };
    let mut now = [0u8; 8];
    for (d, s) in now.iter_mut().zip(now_bytes) {
        *d = *s;
    }
    let now = Timestamp(u64::from_le_bytes(now));
    let d = decide(&plan, &state, &evidence, now);
    assert!(!d.explanation.is_empty());
    assert_eq!(d.basis, state.basis());
    let mut sequences = MonotonicSequence {
        last: state.release.sequence,
    };
    let before = state;
    match state.apply(&plan, &d, now, &mut sequences) {
        Ok(Applied::Unchanged) => assert_eq!(state, before),
        Ok(applied) => {
            assert_eq!(state.revision, before.revision.wrapping_add(1));
            if let Applied::Aborted(directive) = applied {
                assert!(directive.sequence > before.release.sequence.max(before.previous.sequence));
            }
            // The same decision again is a replay.
            let after = state;
            assert!(state.apply(&plan, &d, now, &mut sequences).is_err());
            assert_eq!(state, after);
        }
        Err(_) => assert_eq!(state, before),
    }
    let _ = decide(&plan, &state, &evidence, now.plus(3_600));
    for c in [Command::Pause, Command::Resume, Command::Abort] {
        let before = state;
        if state.command(&plan, c, now, &mut sequences).is_err() {
            assert_eq!(state, before);
        }
    }
    let _ = state.offer_budget(&plan, now);
    let offers = state.new_offers(&plan, &evidence, now);
    assert!(
        u64::from(offers) + u64::from(evidence.stage.offered)
            <= u64::from(evidence.stage_assigned.max(evidence.stage.offered))
    );
    if matches!(
        state.phase,
        Phase::Pending | Phase::Paused { .. } | Phase::Aborted { .. }
    ) {
        assert_eq!(offers, 0);
    }
});
