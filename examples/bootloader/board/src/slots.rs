//! The update layout (journal and slots) on this machine's flash, as `ota-core` sees it, and
//! console helpers for its types. Bootloader and applications use this one definition.

use crate::MAP;
use crate::host::Line;
use ota_core::layout::{Layout, Slot};
use ota_core::manifest::Version;

/// Journal and slots, from [`MAP`].
pub const LAYOUT: Layout = Layout {
    journal_offset: MAP.journal,
    journal_sectors: MAP.journal_sectors,
    slot_a: MAP.slot_a,
    slot_b: MAP.slot_b,
    slot_size: MAP.slot_size,
    trial_attempts: MAP.trial_attempts,
    erased: 0xFF,
};

/// `A` or `B`.
pub const fn slot_name(slot: Slot) -> &'static str {
    match slot {
        Slot::A => "A",
        Slot::B => "B",
    }
}

impl Line {
    /// Appends `major.minor.patch`.
    pub fn version(&mut self, v: &Version) -> &mut Self {
        self.dec(u64::from(v.major))
            .str(".")
            .dec(u64::from(v.minor))
            .str(".")
            .dec(u64::from(v.patch))
    }
}
