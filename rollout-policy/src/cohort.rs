//! Deterministic cohort buckets.
//!
//! Why: a rollout must pick "the first 100 devices" the same way on the backend and on the
//! device itself (pull model), at any fleet size, without coordination; and a device that is in
//! at 5% must stay in at 10%.
//!
//! # Algorithm (stable: identical on every platform and every version of this crate)
//!
//! `bucket = SipHash-2-4(key, device_id) mod 10_000`, where `key` is the 16-byte
//! [`RolloutKey`] (k0 = little-endian bytes 0..8, k1 = bytes 8..16, as in the SipHash paper),
//! the message is exactly the bytes of the device id (no length prefix), and the 64-bit result
//! is reduced modulo 10,000. The bias of the reduction is below 10^-15 per bucket. Buckets are
//! basis points of the fleet: a device is in a rollout opened to `threshold` basis points when
//! its bucket is below `threshold`, so membership is monotone in the threshold. Test vectors
//! live in `tests/cohort_vectors.rs`.
//!
//! Per-device maintenance-window jitter uses a second, independent value: SipHash-2-4 with the
//! same key over `device_id || 0xFF`, reduced modulo the jitter span
//! ([`jitter_minutes`]).
//!
//! A fresh key per rollout (for example the release digest's first 16 bytes, or random bytes
//! stored in the rollout state) means the same devices are not always first.

use core::hash::Hasher as _;
use serde::{Deserialize, Serialize};
use siphasher::sip::SipHasher24;

/// Number of buckets: one per basis point.
pub const BUCKETS: u16 = 10_000;

/// A per-rollout salt, fresh for each rollout so the same devices are not always first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutKey([u8; 16]);

impl RolloutKey {
    /// Wraps 16 key bytes.
    pub const fn new(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The key bytes.
    pub const fn bytes(&self) -> [u8; 16] {
        self.0
    }
}

fn siphash(key: &RolloutKey, device_id: &[u8], domain: Option<u8>) -> u64 {
    let mut h = SipHasher24::new_with_key(&key.0);
    h.write(device_id);
    if let Some(d) = domain {
        h.write(&[d]);
    }
    h.finish()
}

/// The bucket (0..10_000) of `device_id` under `key`.
pub fn bucket(key: &RolloutKey, device_id: &[u8]) -> u16 {
    // The remainder is < 10_000, so it always fits.
    (siphash(key, device_id, None) % u64::from(BUCKETS)) as u16
}

/// Whether a device with bucket `bucket` is inside a rollout opened to `threshold_bp`.
pub const fn in_cohort(bucket: u16, threshold_bp: u16) -> bool {
    bucket < threshold_bp
}

/// A per-device offset in `0..span_minutes` (0 when the span is 0), independent of the bucket,
/// used to spread the start of a maintenance window.
pub fn jitter_minutes(key: &RolloutKey, device_id: &[u8], span_minutes: u16) -> u16 {
    if span_minutes == 0 {
        return 0;
    }
    (siphash(key, device_id, Some(0xFF)) % u64::from(span_minutes)) as u16
}

/// The smallest threshold (basis points) that puts at least `count` of the given buckets in
/// the cohort, or 10,000 when there are fewer buckets than `count`.
///
/// For the backend, which knows its eligible devices: a stage of "100 devices" becomes the
/// threshold below which at least 100 buckets fall (ties may add a few more), so a stage never
/// rounds to zero devices. No allocation: a binary search with one pass over `buckets` per
/// step (at most 14 passes).
pub fn threshold_for_count<I>(buckets: I, count: u32) -> u16
where
    I: Iterator<Item = u16> + Clone,
{
    if count == 0 {
        return 0;
    }
    let below = |t: u16| -> u32 {
        let mut n = 0u32;
        for b in buckets.clone() {
            if b < t {
                n = n.saturating_add(1);
            }
        }
        n
    };
    let (mut lo, mut hi) = (1u16, BUCKETS);
    if below(hi) < count {
        return BUCKETS;
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if below(mid) >= count {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// An estimated threshold for `count` devices out of `eligible`: `ceil(count * 10_000 /
/// eligible)`, at least 1 basis point when `count > 0`, at most 10,000. Use
/// [`threshold_for_count`] when the device list is at hand.
pub fn estimated_threshold(count: u32, eligible: u32) -> u16 {
    if count == 0 {
        return 0;
    }
    if eligible == 0 || count >= eligible {
        return BUCKETS;
    }
    let t = (u64::from(count) * u64::from(BUCKETS)).div_ceil(u64::from(eligible));
    t.clamp(1, u64::from(BUCKETS)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_stay_in_range() {
        let key = RolloutKey::new([1; 16]);
        for i in 0u32..1000 {
            assert!(bucket(&key, &i.to_le_bytes()) < BUCKETS);
        }
    }

    #[test]
    fn threshold_for_count_is_minimal() {
        let buckets = [5u16, 9, 9, 100, 7_000];
        assert_eq!(threshold_for_count(buckets.iter().copied(), 0), 0);
        assert_eq!(threshold_for_count(buckets.iter().copied(), 1), 6);
        assert_eq!(threshold_for_count(buckets.iter().copied(), 2), 10);
        assert_eq!(threshold_for_count(buckets.iter().copied(), 3), 10);
        assert_eq!(threshold_for_count(buckets.iter().copied(), 4), 101);
        assert_eq!(threshold_for_count(buckets.iter().copied(), 5), 7_001);
        assert_eq!(threshold_for_count(buckets.iter().copied(), 6), BUCKETS);
    }

    #[test]
    fn estimated_threshold_never_rounds_to_zero() {
        // Mender's case: 5% of 11 devices.
        assert_eq!(estimated_threshold(1, 11), 910);
        assert_eq!(estimated_threshold(1, 100_000), 1);
        assert_eq!(estimated_threshold(100, 100_000), 10);
        assert_eq!(estimated_threshold(5, 3), BUCKETS);
        assert_eq!(estimated_threshold(0, 3), 0);
    }

    #[test]
    fn jitter_stays_in_span() {
        let key = RolloutKey::new([3; 16]);
        for i in 0u32..500 {
            assert!(jitter_minutes(&key, &i.to_le_bytes(), 90) < 90);
        }
        assert_eq!(jitter_minutes(&key, b"x", 0), 0);
    }
}
