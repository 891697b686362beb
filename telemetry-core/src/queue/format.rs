//! The queue's on-flash records, byte by byte (format version 1, little-endian).
//!
//! Every record starts with the magic `54 51` (`"TQ"`, neither erased value), the format
//! version `01` and a kind byte, and ends its fixed part with a CRC-32/ISO-HDLC, so erased flash
//! of either polarity, leftover data and torn writes never parse. Records are aligned to the
//! *unit*, the larger of the flash's read and write sizes, and padded to it.
//!
//! | record | bytes | fields |
//! |---|---|---|
//! | sector header | 16 | magic, version, `53` (`'S'`), generation u32, first frame id u32, CRC of bytes 0..12 |
//! | frame | 16 + payload | magic, version, `46` (`'F'`), frame id u32, length u16, !length u16, CRC of bytes 0..12 and the payload |
//! | journal state | 32 | magic, version, `4A` (`'J'`), sequence u32, floor u32, dropped u32, reported u32, zero u32, CRC of bytes 0..24, `5A 5A 5A 5A` |
//!
//! A frame record's payload starts at the next unit after its 16-byte header and is padded to
//! a unit with `5A`; the payload is written first and the header last, so the header's CRC
//! commits the record.

/// Magic and version shared by every record.
const MAGIC: [u8; 3] = [0x54, 0x51, 0x01];
pub(crate) const KIND_SECTOR: u8 = b'S';
pub(crate) const KIND_FRAME: u8 = b'F';
pub(crate) const KIND_STATE: u8 = b'J';
/// Padding byte (neither erased value).
pub(crate) const PAD: u8 = 0x5A;

/// Bytes of a sector header and of a frame header before unit padding.
pub(crate) const HEADER_LEN: usize = 16;
/// Bytes of a journal state record before unit padding.
pub(crate) const STATE_LEN: usize = 32;
/// Largest unit (read or write size) supported.
pub(crate) const MAX_UNIT: usize = 64;
/// The bounce buffer every flash access goes through: aligned for DMA-driven drivers and a
/// multiple of every supported unit.
pub(crate) const CHUNK: usize = 64;

pub(crate) const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// A RAM buffer aligned for drivers that move data by DMA or whole words.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct Chunk(pub(crate) [u8; CHUNK]);

impl Chunk {
    pub(crate) const fn new() -> Self {
        Self([PAD; CHUNK])
    }
}

/// `n` rounded up to a multiple of `unit`.
pub(crate) const fn round_up(n: u32, unit: u32) -> u32 {
    n.div_ceil(unit) * unit
}

/// Erased flash of either polarity.
pub(crate) fn is_blank(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0xFF) || b.iter().all(|&x| x == 0x00)
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn start(out: &mut [u8], kind: u8) {
    if let Some(h) = out.get_mut(..4) {
        h[..3].copy_from_slice(&MAGIC);
        h[3] = kind;
    }
}

fn put_u32(out: &mut [u8], at: usize, v: u32) {
    if let Some(s) = out.get_mut(at..at + 4) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

fn has_kind(b: &[u8], kind: u8) -> bool {
    b.get(..3) == Some(&MAGIC[..]) && b.get(3) == Some(&kind)
}

/// A frame sector's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SectorHeader {
    /// Increases by one for every sector started; orders the sectors oldest to newest.
    pub(crate) generation: u32,
    /// The id the sector's first frame gets (the queue's next id when it was started).
    pub(crate) first_id: u32,
}

impl SectorHeader {
    pub(crate) fn encode(&self, out: &mut [u8]) {
        start(out, KIND_SECTOR);
        put_u32(out, 4, self.generation);
        put_u32(out, 8, self.first_id);
        let crc = CRC.checksum(out.get(..12).unwrap_or(&[]));
        put_u32(out, 12, crc);
    }

    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        if !has_kind(b, KIND_SECTOR) || CRC.checksum(b.get(..12)?) != u32_at(b, 12)? {
            return None;
        }
        Some(Self {
            generation: u32_at(b, 4)?,
            first_id: u32_at(b, 8)?,
        })
    }
}

/// A frame record's header; the CRC also covers the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    pub(crate) id: u32,
    pub(crate) len: u16,
    pub(crate) crc: u32,
}

impl FrameHeader {
    /// The CRC a header with these fields and this payload must carry.
    pub(crate) fn digest(id: u32, len: u16) -> crc::Digest<'static, u32> {
        let mut fixed = [0u8; 12];
        start(&mut fixed, KIND_FRAME);
        put_u32(&mut fixed, 4, id);
        fixed[8..10].copy_from_slice(&len.to_le_bytes());
        fixed[10..12].copy_from_slice(&(!len).to_le_bytes());
        let mut d = CRC.digest();
        d.update(&fixed);
        d
    }

    pub(crate) fn encode(&self, out: &mut [u8]) {
        start(out, KIND_FRAME);
        put_u32(out, 4, self.id);
        if let Some(s) = out.get_mut(8..12) {
            s[..2].copy_from_slice(&self.len.to_le_bytes());
            s[2..].copy_from_slice(&(!self.len).to_le_bytes());
        }
        put_u32(out, 12, self.crc);
    }

    /// Parses the fixed part (the payload's CRC is checked by the reader).
    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        let len = u16_at(b, 8)?;
        if !has_kind(b, KIND_FRAME) || u16_at(b, 10)? != !len || len == 0 {
            return None;
        }
        Some(Self {
            id: u32_at(b, 4)?,
            len,
            crc: u32_at(b, 12)?,
        })
    }
}

/// What the journal keeps: the queue's persistent counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct State {
    /// Frames with a lower id are gone: acknowledged, or dropped and counted.
    pub(crate) floor: u32,
    /// Frames dropped unacknowledged since the queue was formatted.
    pub(crate) dropped: u32,
    /// Of those, how many the application has taken ([`super::FrameQueue::take_dropped`]).
    pub(crate) reported: u32,
}

impl State {
    pub(crate) fn encode(&self, seq: u32, out: &mut [u8]) {
        start(out, KIND_STATE);
        put_u32(out, 4, seq);
        put_u32(out, 8, self.floor);
        put_u32(out, 12, self.dropped);
        put_u32(out, 16, self.reported);
        put_u32(out, 20, 0);
        let crc = CRC.checksum(out.get(..24).unwrap_or(&[]));
        put_u32(out, 24, crc);
        if let Some(p) = out.get_mut(28..32) {
            p.fill(PAD);
        }
    }

    pub(crate) fn decode(b: &[u8]) -> Option<(u32, Self)> {
        if !has_kind(b, KIND_STATE)
            || u32_at(b, 20)? != 0
            || CRC.checksum(b.get(..24)?) != u32_at(b, 24)?
        {
            return None;
        }
        let s = Self {
            floor: u32_at(b, 8)?,
            dropped: u32_at(b, 12)?,
            reported: u32_at(b, 16)?,
        };
        (s.reported <= s.dropped).then_some((u32_at(b, 4)?, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_every_bit_flip_is_rejected() {
        let mut b = [0u8; STATE_LEN];
        let s = State {
            floor: 7,
            dropped: 3,
            reported: 1,
        };
        s.encode(42, &mut b);
        assert_eq!(State::decode(&b), Some((42, s)));
        for i in 0..28 * 8 {
            let mut bad = b;
            bad[i / 8] ^= 1 << (i % 8);
            assert_eq!(State::decode(&bad), None, "bit {i}");
        }
        let mut h = [0u8; HEADER_LEN];
        let sh = SectorHeader {
            generation: 9,
            first_id: 100,
        };
        sh.encode(&mut h);
        assert_eq!(SectorHeader::decode(&h), Some(sh));
        for i in 0..HEADER_LEN * 8 {
            let mut bad = h;
            bad[i / 8] ^= 1 << (i % 8);
            assert_eq!(SectorHeader::decode(&bad), None, "bit {i}");
        }
    }

    #[test]
    fn erased_flash_of_either_polarity_is_no_record() {
        for e in [0x00u8, 0xFF] {
            assert_eq!(SectorHeader::decode(&[e; HEADER_LEN]), None);
            assert_eq!(FrameHeader::decode(&[e; HEADER_LEN]), None);
            assert_eq!(State::decode(&[e; STATE_LEN]), None);
            assert!(is_blank(&[e; 8]));
        }
        assert!(!is_blank(&[0x00, 0xFF]));
    }
}
