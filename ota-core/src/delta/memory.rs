//! Applying on the host (`std`): the device's applier over memory, to check a patch.

use super::apply::Applier;
use super::error::ApplyError;
use super::format::{HEADER_LEN, PatchHeader};
use super::io::PatchIo;
use std::vec;
use std::vec::Vec;

/// A base image and an update area in memory (erase size 4 KiB, write size 1). Reads or writes
/// outside them return [`MemoryError`].
#[derive(Clone, Debug)]
pub struct MemoryIo {
    /// The base image.
    pub base: Vec<u8>,
    /// The update area.
    pub output: Vec<u8>,
}

/// An access outside a [`MemoryIo`] buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("access of {len} bytes at {offset} is outside the buffer")]
pub struct MemoryError {
    /// Offset.
    pub offset: u32,
    /// Length.
    pub len: usize,
}

fn range(len: usize, offset: u32, n: usize) -> Result<core::ops::Range<usize>, MemoryError> {
    let start = offset as usize;
    match start.checked_add(n) {
        Some(end) if end <= len => Ok(start..end),
        _ => Err(MemoryError { offset, len: n }),
    }
}

impl PatchIo for MemoryIo {
    type Error = MemoryError;
    fn base_len(&self) -> u32 {
        self.base.len() as u32
    }
    fn read_base(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), MemoryError> {
        let r = range(self.base.len(), offset, buf.len())?;
        buf.copy_from_slice(&self.base[r]);
        Ok(())
    }
    fn output_len(&self) -> u32 {
        self.output.len() as u32
    }
    fn output_erase_size(&self) -> u32 {
        4096
    }
    fn output_write_size(&self) -> u32 {
        1
    }
    fn read_output(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), MemoryError> {
        let r = range(self.output.len(), offset, buf.len())?;
        buf.copy_from_slice(&self.output[r]);
        Ok(())
    }
    fn erase_output(&mut self, from: u32, to: u32) -> Result<(), MemoryError> {
        let r = range(self.output.len(), from, to.saturating_sub(from) as usize)?;
        self.output[r].fill(0xFF);
        Ok(())
    }
    fn write_output(&mut self, offset: u32, data: &[u8]) -> Result<(), MemoryError> {
        let r = range(self.output.len(), offset, data.len())?;
        self.output[r].copy_from_slice(data);
        Ok(())
    }
}

/// Applies `patch` to `base` with the device's applier and returns the checked result.
pub fn apply_to_vec(base: &[u8], patch: &[u8]) -> Result<Vec<u8>, ApplyError<MemoryError>> {
    let header = PatchHeader::parse(patch)?;
    let area = (header.result_size as usize).next_multiple_of(4096);
    let mut io = MemoryIo {
        base: base.to_vec(),
        output: vec![0xFF; area],
    };
    let mut applier = Applier::begin(&mut io, &header)?;
    for chunk in patch.get(HEADER_LEN..).unwrap_or(&[]).chunks(4096) {
        applier.feed(&mut io, chunk)?;
    }
    applier.finish(&mut io)?;
    io.output.truncate(header.result_size as usize);
    Ok(io.output)
}
