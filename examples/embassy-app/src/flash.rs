//! An async NOR flash driver over a RAM buffer, standing in for a board's flash peripheral.
//!
//! It keeps the rules a NOR part enforces, so the queue runs against what it meets on a
//! board: erased bytes read `0xFF`, a write only clears bits (writing over programmed bits
//! without an erase fails), writes come in aligned 4-byte words and erases in aligned 1 KiB
//! sectors. Every operation is pending once before it runs, as a DMA-driven driver's would be,
//! so the executor interleaves other tasks with flash work. The buffer starts full of noise,
//! as a fresh part's contents are unknown.
//!
//! The same part also has a blocking face (`embedded-storage`'s `NorFlash`): the bootloader
//! side of the update (ota-core's `decide`, and factory provisioning) is blocking code that runs
//! before the executor starts, over the same memory.
//!
//! On a board, replace this with the HAL's `embedded-storage-async` flash (for example
//! embassy-stm32's or embassy-nrf's) over a region set aside in its memory map, and the
//! bootloader's blocking driver.

use embassy_futures::yield_now;
use embedded_storage::nor_flash as blocking;
use embedded_storage_async::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Erase sector size.
pub const ERASE_SIZE: usize = 1024;
/// Write word size.
pub const WRITE_SIZE: usize = 4;
/// Bytes of the telemetry queue's part.
pub const CAPACITY: usize = 8 * ERASE_SIZE;

/// What the driver refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashError {
    /// Outside the part.
    OutOfBounds,
    /// Offset or length not a multiple of the word (write) or sector (erase).
    NotAligned,
    /// A write would set a bit that is not erased.
    NotErased {
        /// The first offending byte.
        offset: u32,
    },
}

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            FlashError::NotAligned => NorFlashErrorKind::NotAligned,
            FlashError::NotErased { .. } => NorFlashErrorKind::Other,
        }
    }
}

/// Operation counts, for the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wear {
    /// Sector erases.
    pub erases: u32,
    /// Write operations.
    pub writes: u32,
    /// Read operations.
    pub reads: u32,
}

/// The RAM-backed NOR flash of `N` bytes.
pub struct RamFlash<const N: usize> {
    mem: &'static mut [u8; N],
    wear: Wear,
}

impl<const N: usize> RamFlash<N> {
    /// A part over `mem`, filled with noise.
    pub fn new(mem: &'static mut [u8; N]) -> Self {
        let mut x: u32 = 0x9E37_79B9;
        for b in mem.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x.to_le_bytes()[0];
        }
        Self {
            mem,
            wear: Wear::default(),
        }
    }

    /// Operation counts so far.
    pub fn wear(&self) -> Wear {
        self.wear
    }

    fn range(offset: u32, len: usize, align: usize) -> Result<core::ops::Range<usize>, FlashError> {
        let start = usize::try_from(offset).map_err(|_| FlashError::OutOfBounds)?;
        let end = start.checked_add(len).ok_or(FlashError::OutOfBounds)?;
        if end > N {
            return Err(FlashError::OutOfBounds);
        }
        if !start.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(FlashError::NotAligned);
        }
        Ok(start..end)
    }

    fn read_now(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        let range = Self::range(offset, bytes.len(), 1)?;
        let src = self.mem.get(range).ok_or(FlashError::OutOfBounds)?;
        bytes.copy_from_slice(src);
        self.wear.reads += 1;
        Ok(())
    }

    fn erase_now(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        let len = to.checked_sub(from).ok_or(FlashError::OutOfBounds)? as usize;
        let range = Self::range(from, len, ERASE_SIZE)?;
        self.mem
            .get_mut(range)
            .ok_or(FlashError::OutOfBounds)?
            .fill(0xFF);
        self.wear.erases += (len / ERASE_SIZE) as u32;
        Ok(())
    }

    fn write_now(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        let range = Self::range(offset, bytes.len(), WRITE_SIZE)?;
        let dst = self.mem.get_mut(range).ok_or(FlashError::OutOfBounds)?;
        // Legality first: a refused write changes nothing.
        if let Some(i) = dst
            .iter()
            .zip(bytes)
            .position(|(&old, &new)| new & !old != 0)
        {
            return Err(FlashError::NotErased {
                offset: offset + i as u32,
            });
        }
        for (d, &s) in dst.iter_mut().zip(bytes) {
            *d &= s;
        }
        self.wear.writes += 1;
        Ok(())
    }
}

impl<const N: usize> ErrorType for RamFlash<N> {
    type Error = FlashError;
}

impl<const N: usize> ReadNorFlash for RamFlash<N> {
    const READ_SIZE: usize = 1;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        yield_now().await;
        self.read_now(offset, bytes)
    }

    fn capacity(&self) -> usize {
        N
    }
}

impl<const N: usize> NorFlash for RamFlash<N> {
    const WRITE_SIZE: usize = WRITE_SIZE;
    const ERASE_SIZE: usize = ERASE_SIZE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        yield_now().await;
        self.erase_now(from, to)
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        yield_now().await;
        self.write_now(offset, bytes)
    }
}

/// The blocking face, for the bootloader side (it runs before the executor). The error type
/// is shared: `embedded-storage-async` re-exports `embedded-storage`'s `ErrorType`.
impl<const N: usize> blocking::ReadNorFlash for RamFlash<N> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        self.read_now(offset, bytes)
    }

    fn capacity(&self) -> usize {
        N
    }
}

impl<const N: usize> blocking::NorFlash for RamFlash<N> {
    const WRITE_SIZE: usize = WRITE_SIZE;
    const ERASE_SIZE: usize = ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        self.erase_now(from, to)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        self.write_now(offset, bytes)
    }
}
