//! Cohort hash test vectors (identical on every platform and version) and monotonicity.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use rollout_policy::cohort::{
    BUCKETS, RolloutKey, bucket, in_cohort, jitter_minutes, threshold_for_count,
};

const K0: [u8; 16] = [0; 16];
const K1: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const KF: [u8; 16] = [0xFF; 16];

/// (key, device id, bucket, jitter over 120 minutes). Computed with this crate and checked
/// against an independent SipHash-2-4 implementation.
const VECTORS: &[([u8; 16], &[u8], u16, u16)] = &[
    (K0, b"", 1367, 26),
    (K0, b"device-0001", 6972, 115),
    (K0, b"\x00\x01\x02\x03", 3112, 13),
    (K0, b"AA:BB:CC:DD:EE:FF", 5857, 57),
    (K1, b"", 4353, 82),
    (K1, b"device-0001", 5653, 104),
    (K1, b"\x00\x01\x02\x03", 5223, 65),
    (K1, b"AA:BB:CC:DD:EE:FF", 6302, 95),
    (KF, b"", 2341, 100),
    (KF, b"device-0001", 7410, 47),
    (KF, b"\x00\x01\x02\x03", 3445, 86),
    (KF, b"AA:BB:CC:DD:EE:FF", 2520, 111),
];

#[test]
fn bucket_vectors() {
    for &(key, id, b, j) in VECTORS {
        let key = RolloutKey::new(key);
        assert_eq!(bucket(&key, id), b, "bucket of {id:?}");
        assert_eq!(jitter_minutes(&key, id, 120), j, "jitter of {id:?}");
    }
}

#[test]
fn matches_the_siphash_paper_vector() {
    // SipHash-2-4 paper, key 00..0f, empty message: 0x726fdb47dd0e0e31.
    assert_eq!(
        u64::from(bucket(&RolloutKey::new(K1), b"")),
        0x726f_db47_dd0e_0e31 % 10_000
    );
}

#[test]
fn a_fresh_key_reorders_the_fleet() {
    // The devices first in one rollout are not the first in the next.
    let first = |k: u8| -> Vec<u32> {
        (0u32..10_000)
            .filter(|i| bucket(&RolloutKey::new([k; 16]), &i.to_le_bytes()) < 100)
            .collect()
    };
    let (a, b) = (first(1), first(2));
    let common = a.iter().filter(|i| b.contains(i)).count();
    assert!(a.len() > 50 && b.len() > 50);
    assert!(common < 10, "{common} devices first in both rollouts");
}

#[test]
fn buckets_are_uniform() {
    let key = RolloutKey::new([9; 16]);
    let mut counts = [0u32; 10];
    for i in 0u32..100_000 {
        counts[usize::from(bucket(&key, &i.to_le_bytes()) / 1_000)] += 1;
    }
    for c in counts {
        assert!((9_500..10_500).contains(&c), "{counts:?}");
    }
}

proptest! {
    #[test]
    fn monotone_in_threshold(key in any::<[u8; 16]>(), id in proptest::collection::vec(any::<u8>(), 0..32),
                             p in 0u16..=BUCKETS, q in 0u16..=BUCKETS) {
        let b = bucket(&RolloutKey::new(key), &id);
        prop_assert!(b < BUCKETS);
        let (p, q) = (p.min(q), p.max(q));
        if in_cohort(b, p) {
            prop_assert!(in_cohort(b, q));
        }
    }

    #[test]
    fn threshold_for_count_is_exact(buckets in proptest::collection::vec(0u16..BUCKETS, 0..200), count in 0u32..220) {
        let t = threshold_for_count(buckets.iter().copied(), count);
        let below = |t: u16| buckets.iter().filter(|&&b| b < t).count() as u32;
        if count as usize <= buckets.len() {
            prop_assert!(below(t) >= count);
            if t > 0 {
                prop_assert!(below(t - 1) < count);
            }
        } else {
            prop_assert_eq!(t, BUCKETS);
        }
    }
}
