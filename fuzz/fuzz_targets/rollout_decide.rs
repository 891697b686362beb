//! Stored rollout records (plan, state, evidence) decoded from arbitrary bytes and fed to
//! `decide` and the state transitions must never panic; every accepted record re-encodes to
//! exactly its input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollout_policy::decide::{Command, RolloutState, decide};
use rollout_policy::evidence::Evidence;
use rollout_policy::plan::Plan;
use rollout_policy::time::Timestamp;
use rollout_policy::wire::MAX_RECORD;

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
    assert_eq!(state.encode(&mut buf).map(|b| b.to_vec()).ok().as_deref(), Some(state_bytes));
    let evidence = match Evidence::decode(evidence_bytes) {
        Ok(e) => {
            assert_eq!(e.encode(&mut buf).map(|b| b.to_vec()).ok().as_deref(), Some(evidence_bytes));
            e
        }
        Err(_) => Evidence::default(),
    };
    let plan = match Plan::decode(plan_bytes) {
        Ok(p) => {
            assert_eq!(p.encode(&mut buf).map(|b| b.to_vec()).ok().as_deref(), Some(plan_bytes));
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
    state.apply(&plan, &d, now);
    let _ = decide(&plan, &state, &evidence, now.plus(3_600));
    for c in [Command::Pause, Command::Resume, Command::Abort] {
        let _ = state.command(&plan, c, now);
    }
    let _ = state.offer_budget(&plan, now);
});
