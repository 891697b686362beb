//! LEB128 varints and zigzag mapping: the two primitives every frame field is built from.
//!
//! Unsigned values are written 7 bits per byte, least significant group first, with the high bit
//! set on every byte but the last (the same varint postcard uses). Signed values are first mapped
//! by [`zigzag`] so that small magnitudes of either sign stay small: `0, -1, 1, -2` become
//! `0, 1, 2, 3`.
//!
//! The reader accepts only the canonical (shortest) form: a multi-byte varint whose last byte is
//! `0x00` (`[0x81, 0x00]` for 1) is rejected, so every value has exactly one encoding and a
//! decode -> encode round trip reproduces the input bytes.

use crate::error::{DecodeError, EncodeError};

/// The longest varint of a `u64`: 10 bytes.
pub const MAX_VARINT_LEN: usize = 10;

/// Maps a signed value onto an unsigned one so small magnitudes give small numbers.
pub const fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
pub const fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Number of bytes [`Writer::uint`] takes for `v`.
pub const fn uint_len(v: u64) -> usize {
    // 7 bits a byte; `| 1` gives 0 one significant bit.
    (64 - (v | 1).leading_zeros()).div_ceil(7) as usize
}

/// Appends varints and bytes to a caller-owned buffer, failing instead of overflowing it.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// Writes into `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// True when nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Appends one byte.
    #[inline]
    pub fn byte(&mut self, b: u8) -> Result<(), EncodeError> {
        let capacity = self.buf.len();
        match self.buf.get_mut(self.pos) {
            Some(s) => {
                *s = b;
                self.pos += 1;
                Ok(())
            }
            None => Err(EncodeError::BufferFull {
                needed: self.pos + 1,
                capacity,
            }),
        }
    }

    /// Appends an unsigned varint.
    #[inline]
    pub fn uint(&mut self, mut v: u64) -> Result<(), EncodeError> {
        if v < 0x80 {
            return self.byte(v as u8);
        }
        let end = self.pos + uint_len(v);
        let capacity = self.buf.len();
        let Some(dst) = self.buf.get_mut(self.pos..end) else {
            return Err(EncodeError::BufferFull {
                needed: end,
                capacity,
            });
        };
        for b in dst.iter_mut() {
            *b = (v as u8) | 0x80;
            v >>= 7;
        }
        if let Some(last) = dst.last_mut() {
            *last &= 0x7f;
        }
        self.pos = end;
        Ok(())
    }

    /// Appends a signed value as a zigzag varint.
    pub fn int(&mut self, v: i64) -> Result<(), EncodeError> {
        self.uint(zigzag(v))
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> Result<(), EncodeError> {
        let end = self.pos + b.len();
        match self.buf.get_mut(self.pos..end) {
            Some(dst) => {
                dst.copy_from_slice(b);
                self.pos = end;
                Ok(())
            }
            None => Err(EncodeError::BufferFull {
                needed: end,
                capacity: self.buf.len(),
            }),
        }
    }

    /// Overwrites an already written byte (used to patch flag bits).
    pub(crate) fn patch(&mut self, at: usize, b: u8) {
        if at < self.pos
            && let Some(s) = self.buf.get_mut(at)
        {
            *s = b;
        }
    }
}

/// Reads canonical varints from untrusted bytes; never panics, never reads past the end.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
    len: usize,
}

impl<'a> Reader<'a> {
    /// Reads `buf` from its start.
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            rest: buf,
            len: buf.len(),
        }
    }

    /// Offset of the next unread byte.
    #[inline]
    pub fn position(&self) -> usize {
        self.len - self.rest.len()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Reads one byte.
    #[inline]
    pub fn byte(&mut self) -> Result<u8, DecodeError> {
        match self.rest {
            [b, tail @ ..] => {
                self.rest = tail;
                Ok(*b)
            }
            [] => Err(DecodeError::Truncated { offset: self.len }),
        }
    }

    /// Reads `n` raw bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.rest.len() {
            return Err(DecodeError::Truncated { offset: self.len });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// Reads a canonical unsigned varint of at most 64 bits.
    #[inline(always)]
    pub fn uint(&mut self) -> Result<u64, DecodeError> {
        // Fast paths: one- to three-byte varints are the common case.
        match self.rest {
            [b, tail @ ..] if *b < 0x80 => {
                self.rest = tail;
                Ok(u64::from(*b))
            }
            [b0, b1, tail @ ..] if *b1 < 0x80 && *b1 != 0 => {
                self.rest = tail;
                Ok(u64::from(b0 & 0x7f) | u64::from(*b1) << 7)
            }
            [b0, b1, b2, tail @ ..] if *b1 >= 0x80 && *b2 < 0x80 && *b2 != 0 => {
                self.rest = tail;
                Ok(u64::from(b0 & 0x7f) | u64::from(b1 & 0x7f) << 7 | u64::from(*b2) << 14)
            }
            _ => self.uint_slow(),
        }
    }

    #[inline(never)]
    fn uint_slow(&mut self) -> Result<u64, DecodeError> {
        let start = self.position();
        if let [b0, b1, b2, tail @ ..] = self.rest
            && *b1 >= 0x80
            && *b2 < 0x80
        {
            if *b2 == 0 {
                return Err(DecodeError::NonCanonicalVarint { offset: start });
            }
            self.rest = tail;
            return Ok(u64::from(b0 & 0x7f) | u64::from(b1 & 0x7f) << 7 | u64::from(*b2) << 14);
        }
        let mut v: u64 = 0;
        for i in 0..MAX_VARINT_LEN {
            let b = self.byte()?;
            let low = u64::from(b & 0x7f);
            if i == MAX_VARINT_LEN - 1 && b > 0x01 {
                return Err(DecodeError::VarintOverflow { offset: start });
            }
            v |= low << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err(DecodeError::NonCanonicalVarint { offset: start });
                }
                return Ok(v);
            }
        }
        Err(DecodeError::VarintOverflow { offset: start })
    }

    /// Reads a canonical unsigned varint that must fit in 32 bits.
    #[inline]
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        let start = self.position();
        let v = self.uint()?;
        u32::try_from(v).map_err(|_| DecodeError::OutOfRange {
            offset: start,
            value: v,
            max: u64::from(u32::MAX),
        })
    }

    /// Reads a zigzag varint.
    #[inline(always)]
    pub fn int(&mut self) -> Result<i64, DecodeError> {
        self.uint().map(unzigzag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        let mut buf = [0u8; 10];
        let mut w = Writer::new(&mut buf);
        w.uint(300).unwrap();
        assert_eq!(&buf[..2], &[0xac, 0x02]);
        let mut w = Writer::new(&mut buf);
        w.int(-75).unwrap();
        assert_eq!(&buf[..2], &[0x95, 0x01]);
    }

    #[test]
    fn rejects_non_canonical_and_overflow() {
        assert_eq!(
            Reader::new(&[0x81, 0x00]).uint(),
            Err(DecodeError::NonCanonicalVarint { offset: 0 })
        );
        let eleven = [0xff; 11];
        assert_eq!(
            Reader::new(&eleven).uint(),
            Err(DecodeError::VarintOverflow { offset: 0 })
        );
        let too_big = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(
            Reader::new(&too_big).uint(),
            Err(DecodeError::VarintOverflow { offset: 0 })
        );
        assert_eq!(
            Reader::new(&[0x80]).uint(),
            Err(DecodeError::Truncated { offset: 1 })
        );
    }

    #[test]
    fn full_buffer_is_an_error() {
        let mut buf = [0u8; 1];
        let mut w = Writer::new(&mut buf);
        assert_eq!(
            w.uint(300),
            Err(EncodeError::BufferFull {
                needed: 2,
                capacity: 1
            })
        );
        assert_eq!(w.len(), 0);
    }

    proptest! {
        #[test]
        fn zigzag_round_trips(v in any::<i64>()) {
            prop_assert_eq!(unzigzag(zigzag(v)), v);
        }

        #[test]
        fn varint_round_trips(v in any::<u64>()) {
            let mut buf = [0u8; MAX_VARINT_LEN];
            let mut w = Writer::new(&mut buf);
            w.uint(v).unwrap();
            let n = w.len();
            prop_assert_eq!(n, uint_len(v));
            let mut r = Reader::new(&buf[..n]);
            prop_assert_eq!(r.uint().unwrap(), v);
            prop_assert!(r.rest().is_empty());
        }
    }
}
