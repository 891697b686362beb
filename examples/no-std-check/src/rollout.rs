//! Calls into `rollout-policy`.

/// Buckets a seed-dependent device id.
pub(crate) fn exercise(seed: u8) -> u32 {
    let key = rollout_policy::cohort::RolloutKey::new([seed; 16]);
    u32::from(rollout_policy::cohort::bucket(&key, &[seed; 8]))
}
