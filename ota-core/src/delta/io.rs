//! What the applier reads and writes: the base (read only) and the update area.
//!
//! [`PatchIo`] is the small trait the applier needs. Two adapters implement it over
//! `embedded-storage` flash: [`OneFlash`] when base and update area are regions of one flash
//! device (A/B slots on internal flash), [`TwoFlash`] when they are on different devices (an
//! internal primary slot and external SPI NOR staging). Offsets passed to a `PatchIo` are
//! relative to the region; the adapters add the region's start and keep every access inside it.

use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};

/// Largest flash read granularity the adapters handle (`READ_SIZE`).
pub const MAX_READ_SIZE: usize = 64;

/// Base image and update area as the applier sees them.
pub trait PatchIo {
    /// The flash driver's error.
    type Error;
    /// Bytes readable in the base region.
    fn base_len(&self) -> u32;
    /// Reads base bytes at `offset` (any offset and length inside the region).
    fn read_base(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), Self::Error>;
    /// Bytes of the update area.
    fn output_len(&self) -> u32;
    /// The update area's erase sector size.
    fn output_erase_size(&self) -> u32;
    /// The update area's write granularity.
    fn output_write_size(&self) -> u32;
    /// Reads back update-area bytes at `offset` (any offset and length inside the region).
    fn read_output(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), Self::Error>;
    /// Erases `from..to` of the update area (sector aligned).
    fn erase_output(&mut self, from: u32, to: u32) -> Result<(), Self::Error>;
    /// Writes `data` at `offset` of the update area (write-size aligned).
    fn write_output(&mut self, offset: u32, data: &[u8]) -> Result<(), Self::Error>;
}

/// A byte range of a flash device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First byte, as the flash driver addresses it.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

/// A region access that was refused before it reached the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegionError<E> {
    /// The access does not fit inside its region.
    #[error("access of {len} bytes at {offset:#x} is outside a {region_len}-byte region")]
    OutOfRegion {
        /// Region-relative offset.
        offset: u32,
        /// Length.
        len: usize,
        /// Region length.
        region_len: u32,
    },
    /// An erase or write of the update area would touch the base region (the regions overlap):
    /// refused, so the base is never written.
    #[error("erase or write of {len} bytes at {offset:#x} would touch the base region")]
    OverlapsBase {
        /// Absolute offset.
        offset: u32,
        /// Length.
        len: usize,
    },
    /// `READ_SIZE` larger than [`MAX_READ_SIZE`].
    #[error("flash read size {0} is above the supported {MAX_READ_SIZE}")]
    ReadSize(usize),
    /// The driver failed.
    #[error("flash driver: {0:?}")]
    Flash(E),
}

impl Region {
    fn absolute<E>(&self, offset: u32, len: usize) -> Result<u32, RegionError<E>> {
        let end = u64::from(offset) + len as u64;
        if end > u64::from(self.len) {
            return Err(RegionError::OutOfRegion {
                offset,
                len,
                region_len: self.len,
            });
        }
        // Cannot overflow: `offset + len <= self.len` and the region fits the device.
        Ok(self.offset.saturating_add(offset))
    }
}

/// Reads any byte range from a flash whose `READ_SIZE` may be above 1.
fn read_any<F: ReadNorFlash>(
    flash: &mut F,
    at: u32,
    buf: &mut [u8],
) -> Result<(), RegionError<F::Error>> {
    let rs = F::READ_SIZE.max(1);
    if rs == 1 {
        return flash.read(at, buf).map_err(RegionError::Flash);
    }
    if rs > MAX_READ_SIZE {
        return Err(RegionError::ReadSize(rs));
    }
    let mut scratch = [0u8; MAX_READ_SIZE];
    let mut done = 0usize;
    while done < buf.len() {
        let pos = at as usize + done;
        let aligned = pos - pos % rs;
        let skip = pos - aligned;
        let n = (rs - skip).min(buf.len() - done);
        let window = scratch.get_mut(..rs).unwrap_or(&mut []);
        flash
            .read(aligned as u32, window)
            .map_err(RegionError::Flash)?;
        if let (Some(dst), Some(src)) = (buf.get_mut(done..done + n), window.get(skip..skip + n)) {
            dst.copy_from_slice(src);
        }
        done += n;
    }
    Ok(())
}

/// Base and update area as two regions of one flash device.
pub struct OneFlash<'a, F> {
    /// The device.
    pub flash: &'a mut F,
    /// Where the base image is.
    pub base: Region,
    /// The update area the result is written to.
    pub output: Region,
}

impl<F> OneFlash<'_, F> {
    /// The absolute offset of an update-area change, refused if it touches the base.
    fn change_at<E>(&self, offset: u32, len: usize) -> Result<u32, RegionError<E>> {
        let at = self.output.absolute(offset, len)?;
        let (start, end) = (u64::from(at), u64::from(at) + len as u64);
        let base_start = u64::from(self.base.offset);
        let base_end = base_start + u64::from(self.base.len);
        if len > 0 && start < base_end && base_start < end {
            return Err(RegionError::OverlapsBase { offset: at, len });
        }
        Ok(at)
    }
}

impl<F: NorFlash> PatchIo for OneFlash<'_, F> {
    type Error = RegionError<F::Error>;

    fn base_len(&self) -> u32 {
        self.base.len
    }
    fn read_base(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), Self::Error> {
        let at = self.base.absolute(offset, buf.len())?;
        read_any(self.flash, at, buf)
    }
    fn output_len(&self) -> u32 {
        self.output.len
    }
    fn output_erase_size(&self) -> u32 {
        F::ERASE_SIZE as u32
    }
    fn output_write_size(&self) -> u32 {
        F::WRITE_SIZE as u32
    }
    fn read_output(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), Self::Error> {
        let at = self.output.absolute(offset, buf.len())?;
        read_any(self.flash, at, buf)
    }
    fn erase_output(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let len = to.saturating_sub(from) as usize;
        let at = self.change_at(from, len)?;
        self.flash
            .erase(at, at + len as u32)
            .map_err(RegionError::Flash)
    }
    fn write_output(&mut self, offset: u32, data: &[u8]) -> Result<(), Self::Error> {
        let at = self.change_at(offset, data.len())?;
        self.flash.write(at, data).map_err(RegionError::Flash)
    }
}

/// Base and update area on two flash devices (possibly with different geometry).
pub struct TwoFlash<'a, B, O> {
    /// The device holding the base image.
    pub base_flash: &'a mut B,
    /// Where the base image is on it.
    pub base: Region,
    /// The device holding the update area.
    pub output_flash: &'a mut O,
    /// The update area on it.
    pub output: Region,
}

/// An error of either device in a [`TwoFlash`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EitherError<B, O> {
    /// The base device.
    #[error("base flash: {0}")]
    Base(RegionError<B>),
    /// The update-area device.
    #[error("update flash: {0}")]
    Output(RegionError<O>),
}

impl<B: ReadNorFlash, O: NorFlash> PatchIo for TwoFlash<'_, B, O> {
    type Error = EitherError<B::Error, O::Error>;

    fn base_len(&self) -> u32 {
        self.base.len
    }
    fn read_base(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), Self::Error> {
        let at = self
            .base
            .absolute(offset, buf.len())
            .map_err(EitherError::Base)?;
        read_any(self.base_flash, at, buf).map_err(EitherError::Base)
    }
    fn output_len(&self) -> u32 {
        self.output.len
    }
    fn output_erase_size(&self) -> u32 {
        O::ERASE_SIZE as u32
    }
    fn output_write_size(&self) -> u32 {
        O::WRITE_SIZE as u32
    }
    fn read_output(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), Self::Error> {
        let at = self
            .output
            .absolute(offset, buf.len())
            .map_err(EitherError::Output)?;
        read_any(self.output_flash, at, buf).map_err(EitherError::Output)
    }
    fn erase_output(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let len = to.saturating_sub(from) as usize;
        let at = self
            .output
            .absolute(from, len)
            .map_err(EitherError::Output)?;
        self.output_flash
            .erase(at, at + len as u32)
            .map_err(|e| EitherError::Output(RegionError::Flash(e)))
    }
    fn write_output(&mut self, offset: u32, data: &[u8]) -> Result<(), Self::Error> {
        let at = self
            .output
            .absolute(offset, data.len())
            .map_err(EitherError::Output)?;
        self.output_flash
            .write(at, data)
            .map_err(|e| EitherError::Output(RegionError::Flash(e)))
    }
}
