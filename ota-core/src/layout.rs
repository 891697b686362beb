//! Where the state journal and the two image slots live in flash.
//!
//! A [`Layout`] is a handful of offsets that a firmware team writes down once per board. It is
//! checked against the flash driver's `READ_SIZE`, `WRITE_SIZE` and `ERASE_SIZE` before any
//! operation, so a misaligned layout fails with [`LayoutError`] instead of corrupting flash.

use serde::{Deserialize, Serialize};

/// Size of one journal record and of each record in the slot trailer, in bytes. Every flash
/// write of the state machine is at most this long.
pub const RECORD_SIZE: usize = 128;

/// Bytes at the end of every slot that hold its trailer: the signed envelope the image was
/// installed from (and the delegation records it depends on), the install footer, the confirm
/// record and the validated marker ([`crate::footer`]). An image may use the rest of the slot.
pub const TRAILER_SIZE: usize = 18 * RECORD_SIZE;

/// Bytes per flash read while hashing an image back (four records): the largest buffer the
/// state machine needs. Larger blocks cut the per-read overhead; at 512 bytes the read-back
/// digest costs 1.04x a bare SHA-256 on Cortex-M4 (`examples/firmware-qemu`), at 128 it was 1.06x.
pub const READ_BACK_BLOCK: usize = 4 * RECORD_SIZE;

/// Most download checkpoints per image: the image is split into at most this many runs of
/// whole erase sectors, and a power cut costs at most one run of re-download.
pub const MAX_CHECKPOINTS: u32 = 8;

/// One of the two image slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Slot {
    /// The first slot (the factory image starts here).
    A,
    /// The second slot.
    B,
}

impl Slot {
    /// The other slot.
    pub const fn other(self) -> Self {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    pub(crate) const fn to_byte(self) -> u8 {
        match self {
            Slot::A => 0,
            Slot::B => 1,
        }
    }

    pub(crate) const fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Slot::A),
            1 => Some(Slot::B),
            _ => None,
        }
    }
}

impl core::fmt::Display for Slot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Slot::A => "A",
            Slot::B => "B",
        })
    }
}

/// The flash map of the update state machine. All offsets are absolute flash addresses as the
/// `NorFlash` driver sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// First byte of the state journal (erase-sector aligned).
    pub journal_offset: u32,
    /// Number of erase sectors the journal owns (at least 2: they are used in turn).
    pub journal_sectors: u32,
    /// First byte of slot A (erase-sector aligned).
    pub slot_a: u32,
    /// First byte of slot B (erase-sector aligned).
    pub slot_b: u32,
    /// Size of each slot in bytes (a whole number of erase sectors). The last
    /// [`RECORD_SIZE`] bytes hold the slot footer, so an image may be at most
    /// `slot_size - RECORD_SIZE` bytes.
    pub slot_size: u32,
    /// How many boots a trial image gets before the bootloader reverts (at least 1).
    pub trial_attempts: u8,
    /// The value every byte of this flash reads after an erase: `0xFF` (most NOR) or `0x00`
    /// (e.g. STM32L0 data EEPROM emulation). "Blank" means this value only: the journal never
    /// programs a record slot that reads anything else.
    #[serde(default = "default_erased")]
    pub erased: u8,
}

const fn default_erased() -> u8 {
    0xFF
}

/// Why a [`Layout`] does not fit the flash it is used with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// The journal needs two sectors or more.
    #[error("journal has {0} sectors, expected at least 2")]
    TooFewJournalSectors(u32),
    /// A region start or size is not a multiple of the erase size.
    #[error("{what} ({value:#x}) is not a multiple of the erase size {erase_size:#x}")]
    NotSectorAligned {
        /// Which field.
        what: &'static str,
        /// Its value.
        value: u32,
        /// The flash's `ERASE_SIZE`.
        erase_size: u32,
    },
    /// Flash geometry the state machine does not support.
    #[error(
        "flash geometry read {read} / write {write} / erase {erase} is unsupported: read and write sizes must be powers of two up to 128 bytes and the erase size a multiple of 128"
    )]
    Geometry {
        /// `READ_SIZE`.
        read: u32,
        /// `WRITE_SIZE`.
        write: u32,
        /// `ERASE_SIZE`.
        erase: u32,
    },
    /// Two regions overlap.
    #[error("{0} and {1} overlap")]
    Overlap(&'static str, &'static str),
    /// A region ends beyond the flash capacity.
    #[error("{what} ends at {end:#x}, beyond the flash capacity {capacity:#x}")]
    OutOfBounds {
        /// Which region.
        what: &'static str,
        /// Its end offset.
        end: u64,
        /// The flash capacity.
        capacity: u64,
    },
    /// The erased value is neither `0xFF` nor `0x00`.
    #[error("erased value {0:#04x} is unsupported, expected 0xff or 0x00")]
    ErasedValue(u8),
    /// A slot must hold more than its trailer, and the trial needs one attempt.
    #[error(
        "slot size {slot_size:#x} does not exceed the trailer or trial attempts {attempts} is zero"
    )]
    Empty {
        /// The slot size.
        slot_size: u32,
        /// The trial attempts.
        attempts: u8,
    },
}

impl Layout {
    /// Checks the layout against a flash geometry and capacity.
    pub fn validate(
        &self,
        read: usize,
        write: usize,
        erase: usize,
        capacity: usize,
    ) -> Result<(), LayoutError> {
        let geometry = LayoutError::Geometry {
            read: read as u32,
            write: write as u32,
            erase: erase as u32,
        };
        let pow2_upto = |v: usize| v.is_power_of_two() && v <= RECORD_SIZE;
        if !pow2_upto(read) || !pow2_upto(write) || erase == 0 || !erase.is_multiple_of(RECORD_SIZE)
        {
            return Err(geometry);
        }
        let erase32 = u32::try_from(erase).map_err(|_| geometry)?;
        if self.journal_sectors < 2 {
            return Err(LayoutError::TooFewJournalSectors(self.journal_sectors));
        }
        if self.erased != 0xFF && self.erased != 0x00 {
            return Err(LayoutError::ErasedValue(self.erased));
        }
        if self.slot_size <= TRAILER_SIZE as u32 || self.trial_attempts == 0 {
            return Err(LayoutError::Empty {
                slot_size: self.slot_size,
                attempts: self.trial_attempts,
            });
        }
        for (what, value) in [
            ("journal offset", self.journal_offset),
            ("slot A offset", self.slot_a),
            ("slot B offset", self.slot_b),
            ("slot size", self.slot_size),
        ] {
            if value % erase32 != 0 {
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
            ("slot A", u64::from(self.slot_a), u64::from(self.slot_size)),
            ("slot B", u64::from(self.slot_b), u64::from(self.slot_size)),
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

    /// Start of a slot.
    pub const fn slot_offset(&self, slot: Slot) -> u32 {
        match slot {
            Slot::A => self.slot_a,
            Slot::B => self.slot_b,
        }
    }

    /// The largest image a slot can hold (the trailer takes the last [`TRAILER_SIZE`] bytes).
    pub const fn max_image_size(&self) -> u32 {
        self.slot_size.saturating_sub(TRAILER_SIZE as u32)
    }

    /// Offset of a slot's trailer.
    pub(crate) const fn trailer_offset(&self, slot: Slot) -> u32 {
        self.slot_offset(slot) + self.max_image_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Layout = Layout {
        journal_offset: 0,
        journal_sectors: 2,
        slot_a: 0x2000,
        slot_b: 0x6000,
        slot_size: 0x4000,
        trial_attempts: 3,
        erased: 0xFF,
    };

    #[test]
    fn a_sound_layout_validates() {
        assert_eq!(L.validate(1, 8, 4096, 0xA000), Ok(()));
    }

    #[test]
    fn each_defect_is_named() {
        let mut l = L;
        l.journal_sectors = 1;
        assert_eq!(
            l.validate(1, 8, 4096, 0xA000),
            Err(LayoutError::TooFewJournalSectors(1))
        );
        let mut l = L;
        l.slot_b = 0x4000;
        assert_eq!(
            l.validate(1, 8, 4096, 0xA000),
            Err(LayoutError::Overlap("slot A", "slot B"))
        );
        assert!(matches!(
            L.validate(1, 8, 4096, 0x9000),
            Err(LayoutError::OutOfBounds { .. })
        ));
        assert!(matches!(
            L.validate(1, 256, 4096, 0xA000),
            Err(LayoutError::Geometry { .. })
        ));
        assert!(matches!(
            L.validate(1, 8, 0x3000, 0xA000),
            Err(LayoutError::NotSectorAligned { .. })
        ));
        let mut l = L;
        l.erased = 0x5A;
        assert_eq!(
            l.validate(1, 8, 4096, 0xA000),
            Err(LayoutError::ErasedValue(0x5A))
        );
        let msg = std::format!("{}", LayoutError::TooFewJournalSectors(1));
        assert_eq!(msg, "journal has 1 sectors, expected at least 2");
    }
}
