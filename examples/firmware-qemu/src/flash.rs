//! A NOR flash driver over a RAM region, standing in for a flash peripheral.
//!
//! It implements the same `embedded-storage` traits a real driver does, with the rules of real
//! NOR flash enforced, so the update path runs against the constraints it meets on a part:
//!
//! - erase works on whole [`ERASE_SIZE`] sectors and sets every byte to `0xFF`;
//! - writes are [`WRITE_SIZE`]-aligned and may only program bytes that are erased: writing a
//!   byte that is not `0xFF` fails with [`FlashError::NotErased`] (erase-before-write);
//! - the region starts as noise, not as erased flash, so nothing may rely on initial contents.
//!
//! The region lives in the emulated board's PSRAM (`0x2100_0000`, the `.nor_flash` section of
//! `memory.x`), outside the firmware's own RAM, so it does not count towards `ram_bytes`.

use core::sync::atomic::{AtomicBool, Ordering};
use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Bytes in the simulated part.
pub const CAPACITY: usize = 1024 * 1024;
/// Erase sector size (a common size for internal and SPI NOR flash).
pub const ERASE_SIZE: usize = 4096;
/// Program unit (as on e.g. nRF52 internal flash).
pub const WRITE_SIZE: usize = 4;

/// The memory behind the driver, in the `.nor_flash` section (PSRAM, never loaded).
#[allow(unsafe_code)]
#[unsafe(link_section = ".nor_flash")]
static mut NOR: [u8; CAPACITY] = [0; CAPACITY];
/// Whether [`take_region`] handed the memory out.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// Hands out the simulated part's memory, once.
#[allow(unsafe_code)]
fn take_region() -> Option<&'static mut [u8; CAPACITY]> {
    if TAKEN.swap(true, Ordering::SeqCst) {
        return None;
    }
    // SAFETY: `TAKEN` makes this the only reference ever created to `NOR`, and nothing else
    // names `NOR`.
    Some(unsafe { &mut *core::ptr::addr_of_mut!(NOR) })
}

/// Why a flash operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashError {
    /// The range is not inside the part.
    OutOfBounds,
    /// The offset or length is not a multiple of the operation's unit.
    NotAligned,
    /// A write tried to program a byte that was not erased first.
    NotErased {
        /// Offset of the first such byte.
        offset: u32,
    },
}

impl core::fmt::Display for FlashError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutOfBounds => write!(f, "flash range is outside the {CAPACITY}-byte part"),
            Self::NotAligned => write!(
                f,
                "flash offset or length is not aligned (writes: {WRITE_SIZE} bytes, erases: {ERASE_SIZE} bytes)"
            ),
            Self::NotErased { offset } => {
                write!(
                    f,
                    "flash byte at {offset:#x} is programmed; expected it erased (0xFF) before a write"
                )
            }
        }
    }
}

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            Self::NotAligned => NorFlashErrorKind::NotAligned,
            Self::NotErased { .. } => NorFlashErrorKind::Other,
        }
    }
}

/// Operation counts, for the wear figures.
#[derive(Debug, Default, Clone, Copy)]
pub struct Wear {
    /// Sectors erased.
    pub sector_erases: u32,
    /// Write calls.
    pub writes: u32,
    /// Bytes programmed.
    pub bytes_written: u32,
}

impl Wear {
    /// The operations since `earlier`.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            sector_erases: self.sector_erases.saturating_sub(earlier.sector_erases),
            writes: self.writes.saturating_sub(earlier.writes),
            bytes_written: self.bytes_written.saturating_sub(earlier.bytes_written),
        }
    }
}

/// The RAM-backed NOR flash.
pub struct RamNorFlash {
    mem: &'static mut [u8; CAPACITY],
    wear: Wear,
}

impl RamNorFlash {
    /// Takes the region (once) and fills it with noise, as a fresh part's contents are unknown.
    pub fn take() -> Option<Self> {
        let mem = take_region()?;
        let mut x: u32 = 0x9E37_79B9;
        for b in mem.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x.to_le_bytes()[0];
        }
        Some(Self {
            mem,
            wear: Wear::default(),
        })
    }

    /// Operation counts so far.
    pub fn wear(&self) -> Wear {
        self.wear
    }

    /// Checks the driver's rules on the last sector of the part: a second write to the same
    /// word must fail with [`FlashError::NotErased`], and succeed again after an erase.
    pub fn self_test(&mut self) -> Result<(), FlashError> {
        let sector = (CAPACITY - ERASE_SIZE) as u32;
        self.erase(sector, sector + ERASE_SIZE as u32)?;
        self.write(sector, &[0x12, 0x34, 0x56, 0x78])?;
        match self.write(sector, &[0x12, 0x34, 0x56, 0x78]) {
            Err(FlashError::NotErased { offset }) if offset == sector => {}
            Err(e) => return Err(e),
            Ok(()) => return Err(FlashError::NotErased { offset: u32::MAX }),
        }
        if self.write(sector + 1, &[0; WRITE_SIZE]) != Err(FlashError::NotAligned) {
            return Err(FlashError::NotAligned);
        }
        self.erase(sector, sector + ERASE_SIZE as u32)?;
        let mut back = [0u8; WRITE_SIZE];
        self.read(sector, &mut back)?;
        if back != [0xFF; WRITE_SIZE] {
            return Err(FlashError::NotErased { offset: sector });
        }
        self.wear = Wear::default();
        Ok(())
    }

    fn range(offset: u32, len: usize) -> Result<core::ops::Range<usize>, FlashError> {
        let start = usize::try_from(offset).map_err(|_| FlashError::OutOfBounds)?;
        let end = start.checked_add(len).ok_or(FlashError::OutOfBounds)?;
        if end > CAPACITY {
            return Err(FlashError::OutOfBounds);
        }
        Ok(start..end)
    }
}

impl ErrorType for RamNorFlash {
    type Error = FlashError;
}

impl ReadNorFlash for RamNorFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        let range = Self::range(offset, bytes.len())?;
        let src = self.mem.get(range).ok_or(FlashError::OutOfBounds)?;
        bytes.copy_from_slice(src);
        Ok(())
    }

    fn capacity(&self) -> usize {
        CAPACITY
    }
}

impl NorFlash for RamNorFlash {
    const WRITE_SIZE: usize = WRITE_SIZE;
    const ERASE_SIZE: usize = ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        if to < from {
            return Err(FlashError::OutOfBounds);
        }
        let len = (to - from) as usize;
        let range = Self::range(from, len)?;
        if !range.start.is_multiple_of(ERASE_SIZE) || !len.is_multiple_of(ERASE_SIZE) {
            return Err(FlashError::NotAligned);
        }
        let dst = self.mem.get_mut(range).ok_or(FlashError::OutOfBounds)?;
        dst.fill(0xFF);
        self.wear.sector_erases += (len / ERASE_SIZE) as u32;
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        let range = Self::range(offset, bytes.len())?;
        if !range.start.is_multiple_of(WRITE_SIZE) || !bytes.len().is_multiple_of(WRITE_SIZE) {
            return Err(FlashError::NotAligned);
        }
        let dst = self.mem.get_mut(range).ok_or(FlashError::OutOfBounds)?;
        if let Some(i) = dst.iter().position(|&b| b != 0xFF) {
            return Err(FlashError::NotErased {
                offset: offset + i as u32,
            });
        }
        dst.copy_from_slice(bytes);
        self.wear.writes += 1;
        self.wear.bytes_written += bytes.len() as u32;
        Ok(())
    }
}
