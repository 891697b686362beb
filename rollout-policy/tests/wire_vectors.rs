//! Storage encoding: a fixed state vector, round trips, and refusal of bad records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use rollout_policy::calendar::ReleaseRef;
use rollout_policy::cohort::RolloutKey;
use rollout_policy::evidence::Evidence;
use rollout_policy::plan::Plan;
use rollout_policy::plan::{GateSet, Stage};
use rollout_policy::rate::EvidenceRamp;
use rollout_policy::rollback::RollbackHistory;
use rollout_policy::state::{AbortReason, Phase, RolloutState};
use rollout_policy::time::Timestamp;
use rollout_policy::wire::{MAX_RECORD, WireError};

fn state() -> RolloutState {
    RolloutState {
        key: RolloutKey::new([0xAB; 16]),
        release: ReleaseRef {
            id: 2,
            sequence: 300,
            security_version: 1,
        },
        previous: ReleaseRef {
            id: 1,
            sequence: 200,
            security_version: 1,
        },
        phase: Phase::Running {
            stage: 1,
            opened_at: Timestamp(1_800_000_000),
            acknowledged: false,
        },
        threshold_bp: 10,
        history: RollbackHistory::default(),
        revision: 300,
    }
}

/// The state of `state()` as format version 1 wrote it (no revision).
fn v1_state_bytes() -> Vec<u8> {
    let mut v = vec![0x01];
    v.extend_from_slice(&[0xAB; 16]);
    v.extend_from_slice(&[0x02, 0xAC, 0x02, 0x01]); // id 2, sequence 300, security 1
    v.extend_from_slice(&[0x01, 0xC8, 0x01, 0x01]); // id 1, sequence 200, security 1
    // Running (1), stage 1, opened_at 1_800_000_000 as a varint, acknowledged false.
    v.extend_from_slice(&[0x01, 0x01, 0x80, 0xA4, 0xA7, 0xDA, 0x06, 0x00]);
    v.extend_from_slice(&[0x0A]); // threshold 10
    v.extend_from_slice(&[0x00, 0x00]); // history: 0 rollbacks, window start 0
    v
}

#[test]
fn state_vector() {
    let mut buf = [0u8; MAX_RECORD];
    let bytes = state().encode(&mut buf).unwrap();
    let mut expected = v1_state_bytes();
    expected[0] = 0x03;
    expected.extend_from_slice(&[0xAC, 0x02]); // revision 300
    assert_eq!(bytes.to_vec(), expected);
    assert_eq!(RolloutState::decode(&expected).unwrap(), state());
    // Version 2 wrote the same body.
    expected[0] = 0x02;
    assert_eq!(RolloutState::decode(&expected).unwrap(), state());
}

#[test]
fn version_1_records_still_read() {
    let old = RolloutState::decode(&v1_state_bytes()).unwrap();
    assert_eq!(
        old,
        RolloutState {
            revision: 0,
            ..state()
        }
    );
    // A version 1 abort keeps the sequence version 1 sent: max(300, 200) + 1.
    let mut v = v1_state_bytes();
    let phase_at = 1 + 16 + 4 + 4;
    // Aborted (3): stage 0, at 5, reason GateFailed (1) { gate 0 }.
    v.splice(phase_at..phase_at + 8, [0x03, 0x00, 0x05, 0x01, 0x00]);
    let aborted = RolloutState::decode(&v).unwrap();
    assert_eq!(
        aborted.phase,
        Phase::Aborted {
            stage: 0,
            at: Timestamp(5),
            reason: AbortReason::GateFailed { gate: 0 },
            sequence: 301
        }
    );
    assert_eq!(aborted.directive().map(|d| d.sequence), Some(301));
    // Version 1 must be canonical too: threshold 10 as the over-long varint [0x8A, 0x00].
    let mut v = v1_state_bytes();
    let at = v.len() - 3;
    v.splice(at..at + 1, [0x8A, 0x00]);
    assert_eq!(RolloutState::decode(&v), Err(WireError::NonCanonical));
}

#[test]
fn version_1_plans_read_with_every_gate_on_every_stage() {
    // A one-stage, one-gate version 1 plan: Stable; stage Percent(10000), soak 3600,
    // 9500 bp reported, no approval; gate FailureVsControl 300%, Enforce, 1000/2000 bp,
    // minimums 0 and 0; no rate, no window; flap 2 in 604800 s.
    let mut v = vec![0x01, 0x02];
    v.extend_from_slice(&[0x01, 0x01, 0x90, 0x4E, 0x90, 0x1C, 0x9C, 0x4A, 0x00]);
    v.extend_from_slice(&[
        0x01, 0x00, 0xAC, 0x02, 0x00, 0xE8, 0x07, 0xD0, 0x0F, 0x00, 0x00,
    ]);
    v.extend_from_slice(&[0x00, 0x00, 0x02, 0x80, 0xF5, 0x24]);
    let plan = Plan::decode(&v).unwrap();
    assert_eq!(
        plan.stages.as_slice(),
        [Stage {
            size: rollout_policy::plan::StageSize::Percent(10_000),
            soak_secs: 3_600,
            min_reported_bp: 9_500,
            min_trials: 0,
            manual_approval: false,
            gates: GateSet(0b1),
        }]
    );
    assert_eq!(plan.gates.len(), 1);
    assert_eq!(plan.gates[0].baseline, None);
    plan.validate().unwrap();
    assert_eq!(plan.ramp, None);
    // Re-encoded, it is a version 3 record that reads back the same.
    let mut buf = [0u8; MAX_RECORD];
    let again = plan.encode(&mut buf).unwrap().to_vec();
    assert_eq!(again[0], 3);
    assert_eq!(Plan::decode(&again).unwrap(), plan);
}

/// A one-stage plan with no gates as version 3 writes it, without and with an evidence ramp.
fn v3_plan_bytes(ramp: bool) -> Vec<u8> {
    // Stable; stage Devices(100), soak 3600, 9500 bp, min_trials 0, no approval, gates 0.
    let mut v = vec![
        0x03, 0x02, 0x01, 0x00, 0x64, 0x90, 0x1C, 0x9C, 0x4A, 0x00, 0x00, 0x00,
    ];
    v.push(0x00); // no gates
    v.push(0x00); // no rate
    if ramp {
        // Some: initial_in_flight 10, per_clean_bp 5000, failure_weight 110.
        v.extend_from_slice(&[0x01, 0x0A, 0x88, 0x27, 0x6E]);
    } else {
        v.push(0x00);
    }
    v.push(0x00); // no window
    v.extend_from_slice(&[0x02, 0x80, 0xF5, 0x24]); // flap 2 in 604800 s
    v
}

fn one_stage_plan(ramp: Option<EvidenceRamp>) -> Plan {
    let mut plan = Plan::default_stable();
    plan.stages.truncate(1);
    plan.stages[0].soak_secs = 3_600;
    plan.stages[0].gates = GateSet::NONE;
    plan.gates.clear();
    plan.rate = None;
    plan.ramp = ramp;
    plan
}

#[test]
fn version_3_plan_vectors_and_version_2_plans_read_without_a_ramp() {
    let ramp = EvidenceRamp {
        initial_in_flight: 10,
        per_clean_bp: 5_000,
        failure_weight: 110,
    };
    let mut buf = [0u8; MAX_RECORD];
    for (with, value) in [(false, None), (true, Some(ramp))] {
        let plan = one_stage_plan(value);
        assert_eq!(plan.encode(&mut buf).unwrap().to_vec(), v3_plan_bytes(with));
        assert_eq!(Plan::decode(&v3_plan_bytes(with)).unwrap(), plan);
    }
    // Version 2 had no ramp field: the same bytes without it, version byte 2.
    let mut v2 = v3_plan_bytes(false);
    v2[0] = 0x02;
    let ramp_at = v2.len() - 6;
    v2.remove(ramp_at);
    assert_eq!(Plan::decode(&v2).unwrap(), one_stage_plan(None));
    // A version 2 record carrying a version 3 ramp is refused, not misread.
    let mut bad = v3_plan_bytes(true);
    bad[0] = 0x02;
    assert!(Plan::decode(&bad).is_err());
}

#[test]
fn bad_records_are_refused() {
    let mut buf = [0u8; MAX_RECORD];
    let good = state().encode(&mut buf).unwrap().to_vec();
    assert_eq!(RolloutState::decode(&[]), Err(WireError::Empty));
    let mut v = good.clone();
    v[0] = 4;
    assert_eq!(
        RolloutState::decode(&v),
        Err(WireError::Version { found: 4 })
    );
    v[0] = 0;
    assert_eq!(
        RolloutState::decode(&v),
        Err(WireError::Version { found: 0 })
    );
    let mut v = good.clone();
    v.push(0);
    assert_eq!(
        RolloutState::decode(&v),
        Err(WireError::Trailing { extra: 1 })
    );
    for cut in 1..good.len() {
        assert_eq!(
            RolloutState::decode(&good[..cut]),
            Err(WireError::Body),
            "cut at {cut}"
        );
    }
    // Threshold 10 written as the over-long varint [0x8A, 0x00].
    let mut v = good.clone();
    let at = v.len() - 5;
    v.splice(at..at + 1, [0x8A, 0x00]);
    assert_eq!(RolloutState::decode(&v), Err(WireError::NonCanonical));
    assert_eq!(
        RolloutState::decode(&[1; MAX_RECORD + 1]),
        Err(WireError::TooLong {
            len: MAX_RECORD + 1
        })
    );
    let mut tiny = [0u8; 4];
    assert!(matches!(
        state().encode(&mut tiny),
        Err(WireError::BufferTooSmall { .. })
    ));
}

#[test]
fn plans_round_trip_and_fit() {
    let mut buf = [0u8; MAX_RECORD];
    for plan in [
        Plan::default_stable(),
        Plan::hotfix(),
        Plan::for_channel(rollout_policy::plan::Channel::Beta),
    ] {
        let bytes = plan.encode(&mut buf).unwrap().to_vec();
        assert!(bytes.len() < MAX_RECORD / 2, "{} bytes", bytes.len());
        assert_eq!(Plan::decode(&bytes).unwrap(), plan);
    }
}

proptest! {
    #[test]
    fn evidence_round_trips(v in proptest::collection::vec(any::<u32>(), 32)) {
        let mut e = Evidence { eligible: v[0], stage_assigned: v[1], ..Evidence::default() };
        for (c, o) in [(&mut e.stage, 2), (&mut e.rollout, 12), (&mut e.control, 22)] {
            c.offered = v[o];
            c.started = v[o + 1];
            c.succeeded = v[o + 2];
            c.failed.download = v[o + 3];
            c.failed.silent = v[o + 4];
            c.device_hours = u64::from(v[o + 5]) << 20;
            c.crashes = v[o + 6];
            c.bricked = v[o + 7];
        }
        let mut buf = [0u8; MAX_RECORD];
        let bytes = e.encode(&mut buf).unwrap().to_vec();
        prop_assert_eq!(Evidence::decode(&bytes).unwrap(), e);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = RolloutState::decode(&bytes);
        let _ = Plan::decode(&bytes);
        let _ = Evidence::decode(&bytes);
    }
}
