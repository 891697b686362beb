//! The update layout (journal and slots) on this machine's flash, as `ota-core` sees it, and
//! console helpers for its types. Bootloader and applications use this one definition.
//!
//! Built with the `swap` feature, [`LAYOUT`] is swap mode's A/B view ([`SWAP_LAYOUT`]'s
//! `slots`): slot A the primary slot, slot B the download slot inside the staging area.

use crate::MAP;
use crate::host::Line;
use ota_core::layout::{Layout, Slot};
use ota_core::manifest::Version;
use ota_core::swap::SwapLayout;

/// Whether this build runs in swap mode (the `swap` feature).
pub const SWAP: bool = cfg!(feature = "swap");

/// A/B mode: journal and the two executable slots, from [`MAP`].
pub const AB_LAYOUT: Layout = Layout {
    journal_offset: MAP.journal,
    journal_sectors: MAP.journal_sectors,
    slot_a: MAP.slot_a,
    slot_b: MAP.slot_b,
    slot_size: MAP.slot_size,
    trial_attempts: MAP.trial_attempts,
    erased: 0xFF,
};

/// Swap mode: the primary slot at slot A's address (where every application is linked), the
/// staging area at slot B's, the state journal and the swap progress journal, from [`MAP`].
pub const SWAP_LAYOUT: SwapLayout = SwapLayout {
    journal_offset: MAP.journal,
    journal_sectors: MAP.journal_sectors,
    progress_offset: MAP.progress,
    progress_sectors: MAP.progress_sectors,
    primary: MAP.slot_a,
    staging: MAP.slot_b,
    slot_size: MAP.slot_size,
    trial_attempts: MAP.trial_attempts,
    erased: 0xFF,
};

/// The layout the updater and the slot checks use: [`AB_LAYOUT`], or in swap mode
/// [`SWAP_LAYOUT`]'s A/B view (slot A the primary slot, slot B the download slot).
pub const LAYOUT: Layout = if SWAP {
    SWAP_LAYOUT.slots(MAP.erase_size)
} else {
    AB_LAYOUT
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
