//! The host's range encoder, the exact counterpart of [`super::decoder`] (`std`).

use super::model::{BitCoder, PROB_BITS, adapt};
use std::vec::Vec;

const TOP: u32 = 1 << 24;

/// LZMA-style range encoder with carry propagation through a cached byte.
pub(crate) struct RangeEncoder {
    low: u64,
    range: u32,
    cache: u8,
    cache_size: u64,
    out: Vec<u8>,
}

impl RangeEncoder {
    pub(crate) fn new() -> Self {
        Self {
            low: 0,
            range: u32::MAX,
            cache: 0,
            cache_size: 1,
            out: Vec::new(),
        }
    }

    fn shift_low(&mut self) {
        if (self.low as u32) < 0xFF00_0000 || (self.low >> 32) != 0 {
            let carry = (self.low >> 32) as u8;
            let mut byte = self.cache;
            while self.cache_size > 0 {
                self.out.push(byte.wrapping_add(carry));
                byte = 0xFF;
                self.cache_size -= 1;
            }
            self.cache = ((self.low >> 24) & 0xFF) as u8;
        }
        self.cache_size += 1;
        self.low = (self.low & 0x00FF_FFFF) << 8;
    }

    fn normalize(&mut self) {
        if self.range < TOP {
            self.range <<= 8;
            self.shift_low();
        }
    }

    /// Flushes the arithmetic state; the result is what the decoder reads, byte for byte.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        for _ in 0..5 {
            self.shift_low();
        }
        self.out
    }
}

impl BitCoder for RangeEncoder {
    type Error = core::convert::Infallible;

    fn bit(&mut self, p: &mut u16, bit: u32) -> Result<u32, Self::Error> {
        let bound = (self.range >> PROB_BITS) * u32::from(*p);
        if bit == 0 {
            self.range = bound;
        } else {
            self.low += u64::from(bound);
            self.range -= bound;
        }
        adapt(p, bit);
        self.normalize();
        Ok(bit)
    }

    fn direct(&mut self, bit: u32) -> Result<u32, Self::Error> {
        self.range >>= 1;
        if bit != 0 {
            self.low += u64::from(self.range);
        }
        self.normalize();
        Ok(bit)
    }
}
