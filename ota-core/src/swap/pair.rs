//! Two `NorFlash` devices seen as one address space: the primary (executable) flash first, the
//! staging flash after it, e.g. internal flash with 4 KiB sectors and an external SPI NOR with
//! 64 KiB sectors.
//!
//! [`FlashPair`] lets the A/B machinery ([`Updater`](crate::slots::Updater), the journal, the
//! slot trailer) and the swap engine address both devices with one `u32` offset: offsets below
//! the primary's capacity go to the primary device, the rest to the staging device at
//! `offset - primary capacity`. Its geometry is the coarser of the two: `ERASE_SIZE` is the
//! larger erase sector (the smaller must divide it; an erase on the finer device erases every
//! sector inside the coarse one), `WRITE_SIZE` and `READ_SIZE` the larger of each. No access
//! may cross from one device to the other ([`PairError::CrossesDevices`]).

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// A primary and a staging flash device in one address space (see [`crate::swap`]).
#[derive(Clone, Debug)]
pub struct FlashPair<P, S> {
    primary: P,
    staging: S,
}

/// An error of one of the two devices, or an access the pair refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PairError<A: core::fmt::Debug, B: core::fmt::Debug> {
    /// The primary device's driver failed.
    #[error("primary flash: {0:?}")]
    Primary(A),
    /// The staging device's driver failed.
    #[error("staging flash: {0:?}")]
    Staging(B),
    /// One access would span both devices.
    #[error(
        "access of {len} bytes at {offset:#x} crosses from the primary flash into the staging flash at {boundary:#x}"
    )]
    CrossesDevices {
        /// Start.
        offset: u32,
        /// Length.
        len: usize,
        /// First offset of the staging device.
        boundary: u32,
    },
    /// The erase sizes do not divide each other, or the primary's capacity is not a multiple
    /// of the pair's erase size.
    #[error("the two devices' geometry cannot be combined: {0}")]
    Geometry(&'static str),
}

impl<A: NorFlashError, B: NorFlashError> NorFlashError for PairError<A, B> {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            PairError::Primary(e) => e.kind(),
            PairError::Staging(e) => e.kind(),
            PairError::CrossesDevices { .. } => NorFlashErrorKind::OutOfBounds,
            PairError::Geometry(_) => NorFlashErrorKind::NotAligned,
        }
    }
}

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

impl<P: NorFlash, S: NorFlash> FlashPair<P, S> {
    /// Combines two devices. Fails with [`PairError::Geometry`] when neither erase size is a
    /// multiple of the other, or the primary's capacity is not a whole number of the coarse
    /// sectors (the staging device would start mid-sector).
    pub fn new(primary: P, staging: S) -> Result<Self, PairError<P::Error, S::Error>> {
        let (p, s) = (P::ERASE_SIZE, S::ERASE_SIZE);
        if p == 0 || s == 0 || (!p.is_multiple_of(s) && !s.is_multiple_of(p)) {
            return Err(PairError::Geometry(
                "one erase size must be a multiple of the other",
            ));
        }
        if !primary.capacity().is_multiple_of(max(p, s)) {
            return Err(PairError::Geometry(
                "the primary capacity must be a multiple of the larger erase size",
            ));
        }
        if u32::try_from(primary.capacity() + staging.capacity()).is_err() {
            return Err(PairError::Geometry(
                "the two capacities together exceed the 32-bit address space",
            ));
        }
        Ok(Self { primary, staging })
    }

    /// Offset of the staging device's first byte in the pair's address space.
    pub fn staging_base(&self) -> u32 {
        self.primary.capacity() as u32
    }

    /// The two devices.
    pub fn devices(&self) -> (&P, &S) {
        (&self.primary, &self.staging)
    }

    /// The two devices, mutably (e.g. to inject faults in a simulation).
    pub fn devices_mut(&mut self) -> (&mut P, &mut S) {
        (&mut self.primary, &mut self.staging)
    }

    /// Gives both devices back.
    pub fn into_inner(self) -> (P, S) {
        (self.primary, self.staging)
    }

    /// Which device `[offset, offset + len)` falls on: `Ok(None)` for the primary,
    /// `Ok(Some(local offset))` for the staging device.
    fn route(&self, offset: u32, len: usize) -> Result<Option<u32>, PairError<P::Error, S::Error>> {
        let boundary = self.staging_base();
        let end = u64::from(offset) + len as u64;
        if offset >= boundary {
            Ok(Some(offset - boundary))
        } else if end <= u64::from(boundary) {
            Ok(None)
        } else {
            Err(PairError::CrossesDevices {
                offset,
                len,
                boundary,
            })
        }
    }
}

impl<P: NorFlash, S: NorFlash> ErrorType for FlashPair<P, S> {
    type Error = PairError<P::Error, S::Error>;
}

impl<P: NorFlash, S: NorFlash> ReadNorFlash for FlashPair<P, S> {
    const READ_SIZE: usize = max(P::READ_SIZE, S::READ_SIZE);

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        match self.route(offset, bytes.len())? {
            None => self.primary.read(offset, bytes).map_err(PairError::Primary),
            Some(at) => self.staging.read(at, bytes).map_err(PairError::Staging),
        }
    }

    fn capacity(&self) -> usize {
        self.primary.capacity() + self.staging.capacity()
    }
}

impl<P: NorFlash, S: NorFlash> NorFlash for FlashPair<P, S> {
    const WRITE_SIZE: usize = max(P::WRITE_SIZE, S::WRITE_SIZE);
    const ERASE_SIZE: usize = max(P::ERASE_SIZE, S::ERASE_SIZE);

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let len = to.saturating_sub(from) as usize;
        match self.route(from, len)? {
            None => self.primary.erase(from, to).map_err(PairError::Primary),
            Some(at) => self
                .staging
                .erase(at, at + len as u32)
                .map_err(PairError::Staging),
        }
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        match self.route(offset, bytes.len())? {
            None => self
                .primary
                .write(offset, bytes)
                .map_err(PairError::Primary),
            Some(at) => self.staging.write(at, bytes).map_err(PairError::Staging),
        }
    }
}
