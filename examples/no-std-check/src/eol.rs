//! Calls into `eol-core`.

use eol_core::lifecycle::Lifecycle;

/// Advances a lifecycle chosen by the seed.
pub(crate) fn exercise(seed: u8) -> u32 {
    let next = if seed % 2 == 0 { Lifecycle::LocalOnly } else { Lifecycle::SecurityOnly };
    Lifecycle::Supported.advance_to(next) as u32
}
