//! Calls into `telemetry-core`.

/// Zigzags a seed-dependent value.
pub(crate) fn exercise(seed: u8) -> u32 {
    telemetry_core::varint::zigzag(-i64::from(seed)) as u32
}
