//! Storage encoding: a fixed state vector, round trips, and refusal of bad records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use rollout_policy::calendar::ReleaseRef;
use rollout_policy::cohort::RolloutKey;
use rollout_policy::decide::{Phase, RolloutState};
use rollout_policy::evidence::Evidence;
use rollout_policy::plan::Plan;
use rollout_policy::rollback::RollbackHistory;
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
    }
}

#[test]
fn state_vector() {
    let mut buf = [0u8; MAX_RECORD];
    let bytes = state().encode(&mut buf).unwrap();
    let mut expected = vec![0x01];
    expected.extend_from_slice(&[0xAB; 16]);
    expected.extend_from_slice(&[0x02, 0xAC, 0x02, 0x01]); // id 2, sequence 300, security 1
    expected.extend_from_slice(&[0x01, 0xC8, 0x01, 0x01]); // id 1, sequence 200, security 1
    // Running (1), stage 1, opened_at 1_800_000_000 as a varint, acknowledged false.
    expected.extend_from_slice(&[0x01, 0x01, 0x80, 0xA4, 0xA7, 0xDA, 0x06, 0x00]);
    expected.extend_from_slice(&[0x0A]); // threshold 10
    expected.extend_from_slice(&[0x00, 0x00]); // history: 0 rollbacks, window start 0
    assert_eq!(bytes.to_vec(), expected);
    assert_eq!(RolloutState::decode(&expected).unwrap(), state());
}

#[test]
fn bad_records_are_refused() {
    let mut buf = [0u8; MAX_RECORD];
    let good = state().encode(&mut buf).unwrap().to_vec();
    assert_eq!(RolloutState::decode(&[]), Err(WireError::Empty));
    let mut v = good.clone();
    v[0] = 2;
    assert_eq!(
        RolloutState::decode(&v),
        Err(WireError::Version { found: 2 })
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
    let at = v.len() - 3;
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
    for plan in [Plan::default_stable(), Plan::hotfix()] {
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
