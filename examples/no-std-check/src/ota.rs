//! Calls into `ota-core`.

/// Digests a seed-dependent buffer.
pub(crate) fn exercise(seed: u8) -> u32 {
    let d = ota_core::digest::ImageDigest::of(&[seed; 64]);
    u32::from(d[0])
}
