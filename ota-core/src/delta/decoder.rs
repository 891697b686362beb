//! The device's range decoder: 8 bytes of state, no window.
//!
//! An LZMA-style binary range coder (32-bit range, 11-bit probabilities). The dictionary a
//! delta patch refers to is the base image and the output already written, both on flash, so
//! the decompressor itself needs no history in RAM: its whole state is `range` and `code`, plus
//! the adaptive models of [`super::model`], reset at every block start.

use super::model::{BitCoder, PROB_BITS, adapt};

/// Range below which one byte is shifted in.
const TOP: u32 = 1 << 24;
/// Bytes a block's range-coded stream starts with (the first is always 0).
pub(crate) const INIT_BYTES: usize = 5;

/// The decoder's arithmetic state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RangeDecoder {
    range: u32,
    code: u32,
}

/// The block's range-coded bytes ran out, or did not start as the format says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamError {
    /// More bytes were needed than the block holds.
    Exhausted,
    /// The first byte of a block's stream was not 0.
    BadStart,
}

impl RangeDecoder {
    /// Starts a block's stream from its first [`INIT_BYTES`] bytes.
    pub(crate) fn start(first: &[u8]) -> Result<Self, StreamError> {
        let Some(&[b0, b1, b2, b3, b4]) = first.first_chunk::<INIT_BYTES>() else {
            return Err(StreamError::Exhausted);
        };
        if b0 != 0 {
            return Err(StreamError::BadStart);
        }
        Ok(Self {
            range: u32::MAX,
            code: u32::from_be_bytes([b1, b2, b3, b4]),
        })
    }

    /// A decoding session over `input` (the staged bytes of the current block).
    pub(crate) fn over<'a>(&'a mut self, input: &'a [u8]) -> Decoding<'a> {
        Decoding {
            rc: self,
            input,
            used: 0,
        }
    }
}

/// A [`RangeDecoder`] reading from a slice; [`Decoding::used`] tells how far it got.
pub(crate) struct Decoding<'a> {
    rc: &'a mut RangeDecoder,
    input: &'a [u8],
    used: usize,
}

impl Decoding<'_> {
    /// Bytes of the input consumed so far.
    pub(crate) fn used(&self) -> usize {
        self.used
    }

    fn normalize(&mut self) -> Result<(), StreamError> {
        if self.rc.range < TOP {
            let b = *self.input.get(self.used).ok_or(StreamError::Exhausted)?;
            self.used += 1;
            self.rc.range <<= 8;
            self.rc.code = (self.rc.code << 8) | u32::from(b);
        }
        Ok(())
    }
}

impl BitCoder for Decoding<'_> {
    type Error = StreamError;

    fn bit(&mut self, p: &mut u16, _: u32) -> Result<u32, StreamError> {
        let bound = (self.rc.range >> PROB_BITS) * u32::from(*p);
        let bit = if self.rc.code < bound {
            self.rc.range = bound;
            0
        } else {
            self.rc.range -= bound;
            self.rc.code -= bound;
            1
        };
        adapt(p, bit);
        self.normalize()?;
        Ok(bit)
    }

    fn direct(&mut self, _: u32) -> Result<u32, StreamError> {
        self.rc.range >>= 1;
        let bit = if self.rc.code >= self.rc.range {
            self.rc.code -= self.rc.range;
            1
        } else {
            0
        };
        self.normalize()?;
        Ok(bit)
    }
}
