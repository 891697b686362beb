//! Deterministic cohort buckets.
//!
//! `bucket = SipHash-2-4(key, device_id) mod 10_000`: basis points of the fleet. A device is in
//! a rollout at `p` basis points when its bucket is below `p`, so membership is monotone in `p`.

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
}

/// The bucket (0..10_000) of `device_id` under `key`.
pub fn bucket(key: &RolloutKey, device_id: &[u8]) -> u16 {
    let mut h = SipHasher24::new_with_key(&key.0);
    h.write(device_id);
    // The remainder is < 10_000, so it always fits.
    (h.finish() % u64::from(BUCKETS)) as u16
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
}
