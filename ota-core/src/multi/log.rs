//! A power-safe log of fixed-size records in two or more erase sectors: the one mechanism
//! under the transaction journal ([`super::journal`]) and the simulated co-processor's own
//! state ([`super::sim`]).
//!
//! It follows the rules of the single-image [`crate::journal`]: every record slot is written
//! once between erases, only when it reads as the erased value; a record is valid only by its
//! magic and CRC (never by "still erased" bits); recovery takes the valid record with the
//! newest sequence number; a sector is erased only when another sector holds the newest record;
//! a slot that refuses a write or reads back wrong is skipped. So a power cut inside an append
//! leaves the previous record or the new one, nothing else.
//!
//! Frame of an `S`-byte record (little-endian): magic (3 bytes, chosen by the user of the log,
//! neither erased value in its first byte), a reserved `00`, the record sequence number (u32),
//! `S - 12` body bytes, and a CRC-32/ISO-HDLC of everything before it.

use crate::footer::Aligned;
use crate::journal::{crc32, get_u32, newer};
use embedded_storage::nor_flash::NorFlash;

/// Bytes of framing around a body.
pub(crate) const FRAME: usize = 12;

/// Where a log lives and what it is called on flash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Region {
    /// First byte (sector aligned).
    pub(crate) offset: u32,
    /// Sectors owned (at least 2).
    pub(crate) sectors: u32,
    /// The flash's erased value.
    pub(crate) erased: u8,
    /// The first three bytes of every record.
    pub(crate) magic: [u8; 3],
}

/// Why an append did not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogError<E> {
    /// The flash driver failed (power loss included).
    Flash(E),
    /// No record slot in any sector could be programmed and read back.
    NoWritableSlot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pos {
    sector: u32,
    slot: u32,
}

/// An open log: where the newest record is and where the next goes.
#[derive(Clone, Debug)]
pub(crate) struct Log<const S: usize> {
    region: Region,
    sector_size: u32,
    head: Option<(u32, Pos)>,
    next: Pos,
}

impl<const S: usize> Log<S> {
    const SLOT: u32 = S as u32;

    fn per_sector(&self) -> u32 {
        self.sector_size / Self::SLOT
    }

    fn addr(&self, p: Pos) -> u32 {
        self.region.offset + p.sector * self.sector_size + p.slot * Self::SLOT
    }

    fn blank(&self, b: &[u8]) -> bool {
        b.iter().all(|&x| x == self.region.erased)
    }

    /// The body of a valid record of this log, with its sequence number.
    fn decode<'b>(&self, b: &'b [u8; S]) -> Option<(u32, &'b [u8])> {
        let crc_at = S.checked_sub(4)?;
        if b.get(..3)? != self.region.magic || *b.get(3)? != 0 {
            return None;
        }
        if get_u32(b, crc_at)? != crc32(b.get(..crc_at)?) {
            return None;
        }
        Some((get_u32(b, 4)?, b.get(8..crc_at)?))
    }

    fn encode(&self, seq: u32, body: &[u8]) -> Aligned<S> {
        let mut r = Aligned([0u8; S]);
        let crc_at = S.saturating_sub(4);
        if let Some(m) = r.0.get_mut(..3) {
            m.copy_from_slice(&self.region.magic);
        }
        if let Some(s) = r.0.get_mut(4..8) {
            s.copy_from_slice(&seq.to_le_bytes());
        }
        for (dst, src) in
            r.0.get_mut(8..crc_at)
                .unwrap_or(&mut [])
                .iter_mut()
                .zip(body)
        {
            *dst = *src;
        }
        let crc = crc32(r.0.get(..crc_at).unwrap_or(&[]));
        if let Some(c) = r.0.get_mut(crc_at..) {
            c.copy_from_slice(&crc.to_le_bytes());
        }
        r
    }

    /// Is the region usable with this flash (at least two sectors, whole records per sector,
    /// records a whole number of write words)?
    pub(crate) fn fits<F: NorFlash>(region: &Region) -> bool {
        region.sectors >= 2
            && F::ERASE_SIZE.is_multiple_of(S)
            && S.is_multiple_of(F::WRITE_SIZE)
            && S.is_multiple_of(F::READ_SIZE)
            && region.offset.is_multiple_of(F::ERASE_SIZE as u32)
            && S > FRAME
    }

    /// Reads every record slot; returns the log and the newest valid body (copied into a full
    /// record buffer: body bytes start at 0). A record that fails its check is read twice, so
    /// one bit flipped on read does not roll back to an older record.
    pub(crate) fn open<F: NorFlash>(
        flash: &mut F,
        region: Region,
    ) -> Result<(Self, Option<[u8; S]>), F::Error> {
        let mut log = Self {
            region,
            sector_size: F::ERASE_SIZE as u32,
            head: None,
            next: Pos { sector: 0, slot: 0 },
        };
        let mut newest: Option<[u8; S]> = None;
        let mut buf = Aligned([0u8; S]);
        for sector in 0..region.sectors {
            for slot in 0..log.per_sector() {
                let pos = Pos { sector, slot };
                flash.read(log.addr(pos), &mut buf.0)?;
                if log.decode(&buf.0).is_none() && !log.blank(&buf.0) {
                    flash.read(log.addr(pos), &mut buf.0)?;
                }
                if let Some((seq, body)) = log.decode(&buf.0)
                    && log.head.is_none_or(|(s, _)| newer(seq, s))
                {
                    let mut out = [0u8; S];
                    for (d, s) in out.iter_mut().zip(body) {
                        *d = *s;
                    }
                    newest = Some(out);
                    log.head = Some((seq, pos));
                }
            }
        }
        if let Some((_, pos)) = log.head {
            log.next = Pos {
                sector: pos.sector,
                slot: pos.slot + 1,
            };
        }
        Ok((log, newest))
    }

    /// The newest record's sequence number (0 when none).
    pub(crate) fn sequence(&self) -> u32 {
        self.head.map_or(0, |(s, _)| s)
    }

    /// Appends `body` (at most `S - 12` bytes; the rest is zero) as the newest record.
    pub(crate) fn append<F: NorFlash>(
        &mut self,
        flash: &mut F,
        body: &[u8],
    ) -> Result<(), LogError<F::Error>> {
        let seq = self.head.map_or(1, |(s, _)| s.wrapping_add(1));
        let rec = self.encode(seq, body);
        let mut buf = Aligned([0u8; S]);
        let mut pos = self.next;
        let mut fresh = false;
        let budget = (self.region.sectors * (self.per_sector() + 1)) as usize;
        for _ in 0..budget {
            if pos.slot >= self.per_sector() {
                let sector = (pos.sector + 1) % self.region.sectors;
                if self.head.is_some_and(|(_, h)| h.sector == sector) {
                    break;
                }
                let from = self.region.offset + sector * self.sector_size;
                flash
                    .erase(from, from + self.sector_size)
                    .map_err(LogError::Flash)?;
                pos = Pos { sector, slot: 0 };
                fresh = true;
            }
            let addr = self.addr(pos);
            if !fresh {
                flash.read(addr, &mut buf.0).map_err(LogError::Flash)?;
                if !self.blank(&buf.0) {
                    pos.slot += 1;
                    continue;
                }
            }
            if let Err(e) = flash.write(addr, &rec.0) {
                // Refused, or power lost: a read tells them apart (it fails too without power).
                flash
                    .read(addr, &mut buf.0)
                    .map_err(|_| LogError::Flash(e))?;
                pos.slot += 1;
                continue;
            }
            flash.read(addr, &mut buf.0).map_err(LogError::Flash)?;
            if buf.0 == rec.0 {
                self.head = Some((seq, pos));
                self.next = Pos {
                    sector: pos.sector,
                    slot: pos.slot + 1,
                };
                return Ok(());
            }
            pos.slot += 1;
        }
        Err(LogError::NoWritableSlot)
    }
}
