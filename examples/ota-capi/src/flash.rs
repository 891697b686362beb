//! The flash-operations table C gives us, and the `NorFlash` driver over it.
//!
//! ota-core's state machine is generic over a driver whose geometry is compile-time constant.
//! This driver presents one fixed geometry and maps it onto the part's own:
//!
//! - erase unit [`FLEET_OTA_SECTOR_SIZE`]: each erase covers whole sectors of the part, since its
//!   `erase_size` must divide this one;
//! - write unit 128 bytes (ota-core's record size): every write is 128-aligned and a multiple of
//!   128 long, so it is aligned for any part whose `write_size` is a power of two up to 128;
//! - read unit 1 byte: reads the part cannot do directly (unaligned to its `read_size`) go
//!   through a 128-byte bounce buffer.
//!
//! The erased value is checked (0x00 or 0xFF) but needs no translation: ota-core never relies
//! on the erased polarity.

use crate::status::FleetOtaStatus;
use core::ffi::c_void;
use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use ota_core::layout::RECORD_SIZE;

/// The erase unit the update state machine works in: layouts (journal, slots, slot size) must
/// be multiples of it, and the part's `erase_size` must divide it.
pub const FLEET_OTA_SECTOR_SIZE: u32 = 4096;

/// Largest `read_size` / `write_size` the driver supports.
pub const FLEET_OTA_MAX_ACCESS_SIZE: u32 = 128;

/// Reads `len` bytes at `offset` into `buf`. Returns 0 on success, anything else is an error.
pub type FleetOtaReadFn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, offset: u32, buf: *mut u8, len: usize) -> i32>;
/// Programs `len` bytes from `data` (any address) at `offset`; `offset` and `len` are multiples
/// of the table's `write_size` and the range was erased. Returns 0 on success.
pub type FleetOtaWriteFn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, offset: u32, data: *const u8, len: usize) -> i32>;
/// Erases `[from, to)`, both multiples of the table's `erase_size`. Returns 0 on success.
pub type FleetOtaEraseFn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, from: u32, to: u32) -> i32>;

/// The flash part, as C describes it. Copied when a handle opens: the table itself may live on
/// the stack, but `ctx` and the callbacks must stay valid while a handle uses them. Callbacks
/// must not call back into `fleet_ota_*` with the same handle.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FleetOtaFlash {
    /// Passed unchanged to every callback.
    pub ctx: *mut c_void,
    /// Read callback (required).
    pub read: FleetOtaReadFn,
    /// Program callback (required).
    pub write: FleetOtaWriteFn,
    /// Erase callback (required).
    pub erase: FleetOtaEraseFn,
    /// Bytes of flash the callbacks address, from offset 0; a multiple of `FLEET_OTA_SECTOR_SIZE`.
    pub capacity: u32,
    /// The part's read unit: a power of two up to 128 (1 for memory-mapped flash).
    pub read_size: u32,
    /// The part's program unit: a power of two up to 128.
    pub write_size: u32,
    /// The part's erase unit: a multiple of `read_size` and `write_size` dividing
    /// `FLEET_OTA_SECTOR_SIZE`.
    pub erase_size: u32,
    /// What erased bytes read as: 0xFF (NOR) or 0x00.
    pub erased_value: u8,
}

/// A flash access that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashError {
    /// A callback returned this non-zero value.
    Callback(i32),
    /// The access fell outside the capacity.
    OutOfBounds,
    /// An erase or write not aligned to the driver's units.
    NotAligned,
}

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FlashError::Callback(_) => NorFlashErrorKind::Other,
            FlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            FlashError::NotAligned => NorFlashErrorKind::NotAligned,
        }
    }
}

/// A validated flash table: the `NorFlash` driver ota-core runs on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CFlash {
    ctx: *mut c_void,
    read: unsafe extern "C" fn(*mut c_void, u32, *mut u8, usize) -> i32,
    write: unsafe extern "C" fn(*mut c_void, u32, *const u8, usize) -> i32,
    erase: unsafe extern "C" fn(*mut c_void, u32, u32) -> i32,
    capacity: u32,
    read_size: u32,
}

fn unit_ok(v: u32) -> bool {
    v.is_power_of_two() && v <= FLEET_OTA_MAX_ACCESS_SIZE
}

impl CFlash {
    /// Checks a table from C. The caller's contract: `ctx` and the callbacks stay valid while
    /// the driver is used, and the callbacks access only what their arguments describe.
    pub(crate) fn new(t: &FleetOtaFlash) -> Result<Self, FleetOtaStatus> {
        let (Some(read), Some(write), Some(erase)) = (t.read, t.write, t.erase) else {
            return Err(FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER);
        };
        let sector = FLEET_OTA_SECTOR_SIZE;
        let geometry_ok = unit_ok(t.read_size)
            && unit_ok(t.write_size)
            && t.erase_size != 0
            && sector.is_multiple_of(t.erase_size)
            && t.erase_size.is_multiple_of(t.read_size)
            && t.erase_size.is_multiple_of(t.write_size)
            && t.capacity != 0
            && t.capacity.is_multiple_of(sector)
            && matches!(t.erased_value, 0x00 | 0xFF);
        if !geometry_ok {
            return Err(FleetOtaStatus::FLEET_OTA_ERR_FLASH_GEOMETRY);
        }
        Ok(Self {
            ctx: t.ctx,
            read,
            write,
            erase,
            capacity: t.capacity,
            read_size: t.read_size,
        })
    }

    fn check_range(&self, offset: u32, len: usize) -> Result<(), FlashError> {
        let end = u64::from(offset) + len as u64;
        if end > u64::from(self.capacity) {
            return Err(FlashError::OutOfBounds);
        }
        Ok(())
    }

    /// One read the part can do directly (aligned to its read unit, or any read if it is 1).
    fn raw_read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        // SAFETY: `buf` is a valid writable slice of `buf.len()` bytes; the callback's contract
        // (set by the C caller when opening) is to write at most `len` bytes into it.
        let r = unsafe { (self.read)(self.ctx, offset, buf.as_mut_ptr(), buf.len()) };
        if r != 0 {
            return Err(FlashError::Callback(r));
        }
        Ok(())
    }
}

impl ErrorType for CFlash {
    type Error = FlashError;
}

impl ReadNorFlash for CFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        self.check_range(offset, bytes.len())?;
        let unit = self.read_size as usize;
        let mut pos = offset as usize;
        let mut out = bytes;
        while !out.is_empty() {
            let skip = pos % unit;
            if skip == 0 && out.len() >= unit {
                let n = out.len() / unit * unit;
                let (head, rest) = core::mem::take(&mut out).split_at_mut(n);
                self.raw_read(pos as u32, head)?;
                pos += n;
                out = rest;
                continue;
            }
            // A head or tail the part cannot read directly: one aligned unit through a bounce
            // buffer. The unit lies inside the capacity, a multiple of the read unit.
            let mut block = [0u8; FLEET_OTA_MAX_ACCESS_SIZE as usize];
            let unit_buf = block.get_mut(..unit).ok_or(FlashError::NotAligned)?;
            self.raw_read((pos - skip) as u32, unit_buf)?;
            let take = (unit - skip).min(out.len());
            let (head, rest) = core::mem::take(&mut out).split_at_mut(take);
            head.copy_from_slice(
                unit_buf
                    .get(skip..skip + take)
                    .ok_or(FlashError::NotAligned)?,
            );
            pos += take;
            out = rest;
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.capacity as usize
    }
}

impl NorFlash for CFlash {
    const WRITE_SIZE: usize = RECORD_SIZE;
    const ERASE_SIZE: usize = FLEET_OTA_SECTOR_SIZE as usize;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        if from > to || to > self.capacity {
            return Err(FlashError::OutOfBounds);
        }
        if !from.is_multiple_of(FLEET_OTA_SECTOR_SIZE) || !to.is_multiple_of(FLEET_OTA_SECTOR_SIZE)
        {
            return Err(FlashError::NotAligned);
        }
        if from == to {
            return Ok(());
        }
        // SAFETY: the range is inside the capacity and aligned to the part's erase unit (which
        // divides the sector size); the callback's contract covers the rest.
        let r = unsafe { (self.erase)(self.ctx, from, to) };
        if r != 0 {
            return Err(FlashError::Callback(r));
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        self.check_range(offset, bytes.len())?;
        if !(offset as usize).is_multiple_of(Self::WRITE_SIZE)
            || !bytes.len().is_multiple_of(Self::WRITE_SIZE)
        {
            return Err(FlashError::NotAligned);
        }
        if bytes.is_empty() {
            return Ok(());
        }
        // SAFETY: `bytes` is a valid readable slice; the range is inside the capacity and aligned
        // to the part's write unit; the callback only reads `len` bytes from it.
        let r = unsafe { (self.write)(self.ctx, offset, bytes.as_ptr(), bytes.len()) };
        if r != 0 {
            return Err(FlashError::Callback(r));
        }
        Ok(())
    }
}
