//! The swap-mode flash map: one executable primary slot, a staging area one swap unit larger,
//! the state journal and the swap progress journal.

use crate::journal::Region;
use crate::layout::{Layout, LayoutError};
use serde::{Deserialize, Serialize};

/// Where swap mode keeps everything. All offsets are addresses of the one `NorFlash` the
/// bootloader and the application use (a [`FlashPair`](super::FlashPair) when primary and
/// staging are on two devices). The swap unit `U` is the flash's `ERASE_SIZE` (the coarser
/// sector of a pair).
///
/// ```text
/// primary  [ unit 0 | unit 1 | ... | unit N-1 ]              executes here; image then trailer
/// staging  [ spare  | unit 0 | ... | unit N-1 ]              the download goes to staging + U
///            ^ staging        ^ download slot (staging + U), N = slot_size / U units
/// journal  [ state records, >= 2 sectors ]
/// progress [ swap progress records, >= 2 sectors ]
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapLayout {
    /// First byte of the state journal (erase-sector aligned).
    pub journal_offset: u32,
    /// Erase sectors of the state journal (at least 2).
    pub journal_sectors: u32,
    /// First byte of the swap progress journal (erase-sector aligned).
    pub progress_offset: u32,
    /// Erase sectors of the swap progress journal (at least 2). Each install writes two records
    /// per unit and a revert one: with `progress_sectors * ERASE_SIZE >= 192 * N` bytes no
    /// progress sector is erased more than twice per update.
    pub progress_sectors: u32,
    /// First byte of the primary (executable) slot.
    pub primary: u32,
    /// First byte of the staging area; it spans `slot_size + ERASE_SIZE` bytes.
    pub staging: u32,
    /// Size of the primary slot (a whole number of swap units; the trailer takes its last
    /// [`TRAILER_SIZE`](crate::layout::TRAILER_SIZE) bytes).
    pub slot_size: u32,
    /// Boots a trial image gets before the bootloader reverts (at least 1).
    pub trial_attempts: u8,
    /// The erased value of both devices: `0xFF` or `0x00`.
    pub erased: u8,
}

impl SwapLayout {
    /// The A/B view the download and the slot checks use: slot A is the primary slot, slot B
    /// the download slot at `staging + erase_size`.
    pub const fn slots(&self, erase_size: u32) -> Layout {
        Layout {
            journal_offset: self.journal_offset,
            journal_sectors: self.journal_sectors,
            slot_a: self.primary,
            slot_b: self.staging + erase_size,
            slot_size: self.slot_size,
            trial_attempts: self.trial_attempts,
            erased: self.erased,
        }
    }

    /// Where the swap moves the previous image to: the staging area's start (slot B of this
    /// view is `staging`).
    pub(crate) const fn parked(&self, erase_size: u32) -> Layout {
        let mut l = self.slots(erase_size);
        l.slot_b = self.staging;
        l
    }

    /// Units of the slot.
    pub(crate) const fn units(&self, erase_size: u32) -> u32 {
        self.slot_size / erase_size
    }

    pub(crate) const fn progress(&self) -> Region {
        Region {
            offset: self.progress_offset,
            sectors: self.progress_sectors,
            erased: self.erased,
        }
    }

    /// Checks the layout against a flash geometry and capacity: every check of
    /// [`Layout::validate`] on the A/B view, plus the progress journal and the spare unit, none
    /// overlapping.
    pub fn validate(
        &self,
        read: usize,
        write: usize,
        erase: usize,
        capacity: usize,
    ) -> Result<(), LayoutError> {
        let erase32 = u32::try_from(erase).map_err(|_| LayoutError::Geometry {
            read: read as u32,
            write: write as u32,
            erase: u32::MAX,
        })?;
        self.slots(erase32).validate(read, write, erase, capacity)?;
        if self.progress_sectors < 2 {
            return Err(LayoutError::TooFewJournalSectors(self.progress_sectors));
        }
        for (what, value) in [
            ("progress offset", self.progress_offset),
            ("staging offset", self.staging),
        ] {
            if erase32 == 0 || value % erase32 != 0 {
                return Err(LayoutError::NotSectorAligned {
                    what,
                    value,
                    erase_size: erase32,
                });
            }
        }
        let regions = [
            (
                "journal",
                u64::from(self.journal_offset),
                u64::from(self.journal_sectors) * erase as u64,
            ),
            (
                "progress journal",
                u64::from(self.progress_offset),
                u64::from(self.progress_sectors) * erase as u64,
            ),
            (
                "primary",
                u64::from(self.primary),
                u64::from(self.slot_size),
            ),
            (
                "staging",
                u64::from(self.staging),
                u64::from(self.slot_size) + erase as u64,
            ),
        ];
        for (what, start, len) in regions {
            let end = start + len;
            if end > capacity as u64 || end > u64::from(u32::MAX) {
                return Err(LayoutError::OutOfBounds {
                    what,
                    end,
                    capacity: capacity as u64,
                });
            }
        }
        for (i, (wa, sa, la)) in regions.iter().enumerate() {
            for (wb, sb, lb) in regions.iter().skip(i + 1) {
                if sa < &(sb + lb) && sb < &(sa + la) {
                    return Err(LayoutError::Overlap(wa, wb));
                }
            }
        }
        Ok(())
    }
}
