//! The state journal: CRC-protected, sequence-numbered records in two or more erase sectors.
//!
//! # Why a journal
//!
//! Power can vanish during any flash write or erase. The journal makes every state change a
//! single append of a fixed-size record; recovery takes the valid record with the highest
//! sequence number (reading each sector from its end, down to its last valid record: appends
//! fill a sector in slot order, so that is the sector's newest). A torn append leaves an invalid record (its CRC
//! fails), so recovery lands on the previous state; a completed append is the new state. There
//! is no third outcome.
//!
//! Records go into fixed [`RECORD_SIZE`] slots, filling one sector after the other. When the
//! current sector is full, the next sector in the ring is erased and the record goes to its
//! first slot. A sector is erased only when another sector holds the newest record, so an
//! interrupted erase never loses the current state. Every record slot is written exactly once
//! between erases (never re-programmed, not even to clear bits), which is what ECC flash such as
//! the STM32H7's requires; the journal never relies on the erased value being `0xFF` (it is
//! `0x00` on some parts, e.g. the STM32L0 data EEPROM emulation), because a record is valid only
//! by its magic and CRC, never by "still erased" bits.
//!
//! # Record format (version 1), little-endian, [`RECORD_SIZE`] = 128 bytes
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | magic `4F 4A` (`"OJ"`), neither erased value |
//! | 2 | 1 | format version, `01` |
//! | 3 | 1 | phase: 0 idle, 1 downloading, 2 downloaded, 3 activated, 4 trial, 5 erasing |
//! | 4 | 4 | record sequence number (u32, starts at 1, +1 per record) |
//! | 8 | 4 | phase argument: checkpointed offset (downloading), attempts (activated), attempts left (trial), bytes erased (erasing), else 0 |
//! | 12 | 1 | confirmed slot: 0 A, 1 B |
//! | 13 | 1 | last event (see [`Event`], 0..=7) |
//! | 14 | 1 | pending image present: 0 or 1 |
//! | 15 | 1 | reserved, `00` |
//! | 16 | 8 | last accepted manifest sequence |
//! | 24 | 4 | security (anti-rollback) floor |
//! | 28 | 11 | confirmed version: major u16, minor u16, patch u16, build flag u8, build u32 |
//! | 39 | 8 | pending: manifest sequence |
//! | 47 | 11 | pending: version (as above) |
//! | 58 | 4 | pending: security version |
//! | 62 | 4 | pending: image size |
//! | 66 | 32 | pending: image SHA-256 |
//! | 98 | 4 | CRC-32/ISO-HDLC of bytes 0..98 |
//! | 102 | 26 | padding `5A` |
//!
//! Without a pending image, bytes 39..98 are zero. Decoding is strict: unknown phases, slots,
//! events, flags or non-zero reserved bytes make the record invalid. An all-`0xFF` or
//! all-`0x00` slot (erased flash of either polarity) is never valid: the magic rules it out, and
//! independently its CRC does not match (checked by a test).

use crate::layout::{Layout, RECORD_SIZE, Slot};
use crate::manifest::Version;
use crate::medium::{Blocking, Medium, block_on};
use crate::state::{Event, Pending, Phase, State};
use crate::update_error::UpdateError;
use embedded_storage::nor_flash::NorFlash;

const MAGIC: [u8; 2] = *b"OJ";
const FORMAT: u8 = 1;
/// Bytes covered by the CRC.
const BODY: usize = 98;
const PAD: u8 = 0x5A;

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    CRC.checksum(bytes)
}

pub(crate) fn get_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn get_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

pub(crate) fn get_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Writes 11 bytes.
pub(crate) fn put_version(out: &mut [u8], v: &Version) {
    let mut b = [0u8; 11];
    b[0..2].copy_from_slice(&v.major.to_le_bytes());
    b[2..4].copy_from_slice(&v.minor.to_le_bytes());
    b[4..6].copy_from_slice(&v.patch.to_le_bytes());
    if let Some(build) = v.build {
        b[6] = 1;
        b[7..11].copy_from_slice(&build.to_le_bytes());
    }
    for (o, i) in out.iter_mut().zip(b) {
        *o = i;
    }
}

pub(crate) fn get_version(b: &[u8], at: usize) -> Option<Version> {
    let build = get_u32(b, at + 7)?;
    let build = match *b.get(at + 6)? {
        0 if build == 0 => None,
        1 => Some(build),
        _ => return None,
    };
    Some(Version {
        major: get_u16(b, at)?,
        minor: get_u16(b, at + 2)?,
        patch: get_u16(b, at + 4)?,
        build,
    })
}

/// Is `a` a newer record number than `b`? Serial-number arithmetic (RFC 1982): the journal
/// holds far fewer than 2^31 records, so a sequence that wraps past `u32::MAX` stays ordered.
pub(crate) const fn newer(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Encodes `state` as record number `seq` (raw access: use [`raw`]).
#[doc(hidden)]
pub fn encode(seq: u32, state: &State) -> [u8; RECORD_SIZE] {
    let mut b = [0u8; RECORD_SIZE];
    b[0..2].copy_from_slice(&MAGIC);
    b[2] = FORMAT;
    let (tag, arg) = match state.phase {
        Phase::Idle => (0, 0),
        Phase::Downloading { offset } => (1, offset),
        Phase::Downloaded => (2, 0),
        Phase::Activated { attempts } => (3, u32::from(attempts)),
        Phase::Trial { attempts_left } => (4, u32::from(attempts_left)),
        Phase::Erasing { erased } => (5, erased),
    };
    b[3] = tag;
    b[4..8].copy_from_slice(&seq.to_le_bytes());
    b[8..12].copy_from_slice(&arg.to_le_bytes());
    b[12] = state.confirmed.to_byte();
    b[13] = state.last_event.to_byte();
    b[16..24].copy_from_slice(&state.accepted_sequence.to_le_bytes());
    b[24..28].copy_from_slice(&state.security_floor.to_le_bytes());
    put_version(&mut b[28..39], &state.confirmed_version);
    if let Some(p) = &state.pending {
        b[14] = 1;
        b[39..47].copy_from_slice(&p.sequence.to_le_bytes());
        put_version(&mut b[47..58], &p.version);
        b[58..62].copy_from_slice(&p.security_version.to_le_bytes());
        b[62..66].copy_from_slice(&p.image_size.to_le_bytes());
        b[66..98].copy_from_slice(&p.image_digest);
    }
    let crc = crc32(&b[..BODY]);
    b[BODY..BODY + 4].copy_from_slice(&crc.to_le_bytes());
    for x in &mut b[BODY + 4..] {
        *x = PAD;
    }
    b
}

/// Decodes a record slot: `Some((seq, state))` only for a valid version-1 record (raw access:
/// use [`raw`]).
#[doc(hidden)]
pub fn decode(b: &[u8]) -> Option<(u32, State)> {
    if b.len() != RECORD_SIZE || b.get(0..2)? != MAGIC || *b.get(2)? != FORMAT || *b.get(15)? != 0 {
        return None;
    }
    if get_u32(b, BODY)? != crc32(b.get(..BODY)?) {
        return None;
    }
    let seq = get_u32(b, 4)?;
    let arg = get_u32(b, 8)?;
    let small = |a: u32| u8::try_from(a).ok();
    let phase = match *b.get(3)? {
        0 if arg == 0 => Phase::Idle,
        1 => Phase::Downloading { offset: arg },
        2 if arg == 0 => Phase::Downloaded,
        3 => Phase::Activated {
            attempts: small(arg)?,
        },
        4 => Phase::Trial {
            attempts_left: small(arg)?,
        },
        5 => Phase::Erasing { erased: arg },
        _ => return None,
    };
    let pending = match *b.get(14)? {
        0 => {
            if b.get(39..BODY)?.iter().any(|&x| x != 0) {
                return None;
            }
            None
        }
        1 => {
            let mut image_digest = [0u8; 32];
            image_digest.copy_from_slice(b.get(66..98)?);
            Some(Pending {
                sequence: get_u64(b, 39)?,
                version: get_version(b, 47)?,
                security_version: get_u32(b, 58)?,
                image_size: get_u32(b, 62)?,
                image_digest,
            })
        }
        _ => return None,
    };
    // A phase past Idle always has a pending image.
    if pending.is_none() != matches!(phase, Phase::Idle) {
        return None;
    }
    let state = State {
        phase,
        confirmed: Slot::from_byte(*b.get(12)?)?,
        confirmed_version: get_version(b, 28)?,
        pending,
        accepted_sequence: get_u64(b, 16)?,
        security_floor: get_u32(b, 24)?,
        last_event: Event::from_byte(*b.get(13)?)?,
    };
    Some((seq, state))
}

/// Where a journal of records lives: whole erase sectors of one flash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Region {
    /// First byte (erase-sector aligned).
    pub(crate) offset: u32,
    /// Erase sectors used in turn (at least 2).
    pub(crate) sectors: u32,
    /// The flash's erased value.
    pub(crate) erased: u8,
}

/// Position of a record slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pos {
    sector: u32,
    slot: u32,
}

/// An open journal: where the newest record is and where the next one goes.
///
/// It holds no flash reference; every operation takes the flash, so the application and the
/// bootloader can own their driver however they like.
#[derive(Clone, Debug)]
#[doc(hidden)]
pub struct Journal {
    erased: u8,
    offset: u32,
    sectors: u32,
    sector_size: u32,
    head: Option<(u32, Pos)>,
    next: Pos,
}

impl Journal {
    const SLOT: u32 = RECORD_SIZE as u32;

    fn slots_per_sector(&self) -> u32 {
        self.sector_size / Self::SLOT
    }

    /// Reads as the flash's declared erased value (the only meaning of "blank").
    fn is_blank(&self, b: &[u8]) -> bool {
        b.iter().all(|&x| x == self.erased)
    }

    fn addr(&self, p: Pos) -> u32 {
        self.offset + p.sector * self.sector_size + p.slot * Self::SLOT
    }

    /// Finds the newest valid state record and returns the journal with it, if any.
    ///
    /// Each sector is read from its end down to its last valid record: the same record as
    /// reading every slot finds (a property test checks this after appends, power cuts of
    /// every kind and bit rot).
    /// Garbage, foreign data and torn records are skipped; nothing in the journal sectors can
    /// make this panic. A record that fails its check is read a second time, so a single bit
    /// flipped on read does not roll the state back to an older record.
    #[inline(never)]
    pub fn open<F: NorFlash>(
        flash: &mut F,
        layout: &Layout,
    ) -> Result<(Self, Option<State>), UpdateError<F::Error>> {
        block_on(Self::open_in(&mut Blocking(flash), layout))
    }

    /// [`Journal::open`] over any [`Medium`] (the updater's core, blocking or async).
    pub(crate) async fn open_in<M: Medium>(
        flash: &mut M,
        layout: &Layout,
    ) -> Result<(Self, Option<State>), UpdateError<M::Error>> {
        layout.validate(M::READ_SIZE, M::WRITE_SIZE, M::ERASE_SIZE, flash.capacity())?;
        let region = Region {
            offset: layout.journal_offset,
            sectors: layout.journal_sectors,
            erased: layout.erased,
        };
        Self::open_newest_records_in(flash, region, decode).await
    }

    /// [`Journal::open`] over any record kind and [`Medium`]: `region` holds records that
    /// `decode` reads (`Some((record number, content))` for a valid one). The caller validated
    /// the region.
    pub(crate) async fn open_records_in<M: Medium, T>(
        flash: &mut M,
        region: Region,
        decode: fn(&[u8]) -> Option<(u32, T)>,
    ) -> Result<(Self, Option<T>), UpdateError<M::Error>> {
        let mut j = Self::empty::<M>(region);
        let mut newest: Option<T> = None;
        let mut buf = [0u8; RECORD_SIZE];
        for sector in 0..j.sectors {
            for slot in 0..j.slots_per_sector() {
                let pos = Pos { sector, slot };
                if let Some((seq, state)) = j.read_slot(flash, pos, &mut buf, decode).await?
                    && j.head.is_none_or(|(s, _)| newer(seq, s))
                {
                    j.head = Some((seq, pos));
                    newest = Some(state);
                }
            }
        }
        j.next_after_head();
        Ok((j, newest))
    }

    /// [`Journal::open_records_in`], reading each sector from its end and stopping at the first
    /// valid record there: the result of the full scan, for a fraction of the reads.
    ///
    /// Appends fill a sector in slot order and each new record is numbered after the newest
    /// valid one, so within a sector the last valid record is the newest of that sector; the
    /// newest of those per-sector records is the newest of the journal, and the record slots
    /// after it are the ones the full scan would skip as blank or torn. Each slot is read and
    /// checked exactly as [`Journal::open_records_in`] reads it (a record that fails its check is
    /// read a second time). Only a record that was missed once and then read valid again (two
    /// failed reads of it at one open, then a record with the same number appended after it)
    /// is decided differently: the later of the two wins, which is the newer state, where the
    /// full scan takes the first it met. A sector holding no valid record is read in full, so
    /// the worst case is the full scan.
    #[inline(never)]
    pub(crate) fn open_newest_records<F: NorFlash, T>(
        flash: &mut F,
        region: Region,
        decode: fn(&[u8]) -> Option<(u32, T)>,
    ) -> Result<(Self, Option<T>), UpdateError<F::Error>> {
        block_on(Self::open_newest_records_in(
            &mut Blocking(flash),
            region,
            decode,
        ))
    }

    /// [`Journal::open_newest_records`] over any [`Medium`].
    pub(crate) async fn open_newest_records_in<M: Medium, T>(
        flash: &mut M,
        region: Region,
        decode: fn(&[u8]) -> Option<(u32, T)>,
    ) -> Result<(Self, Option<T>), UpdateError<M::Error>> {
        let mut j = Self::empty::<M>(region);
        let mut newest: Option<T> = None;
        let mut buf = [0u8; RECORD_SIZE];
        for sector in 0..j.sectors {
            for slot in (0..j.slots_per_sector()).rev() {
                let pos = Pos { sector, slot };
                if let Some((seq, record)) = j.read_slot(flash, pos, &mut buf, decode).await? {
                    if j.head.is_none_or(|(s, _)| newer(seq, s)) {
                        j.head = Some((seq, pos));
                        newest = Some(record);
                    }
                    break;
                }
            }
        }
        j.next_after_head();
        Ok((j, newest))
    }

    /// A journal over `region` with no record found yet.
    fn empty<M: Medium>(region: Region) -> Self {
        Self {
            erased: region.erased,
            offset: region.offset,
            sectors: region.sectors,
            sector_size: M::ERASE_SIZE as u32,
            head: None,
            next: Pos { sector: 0, slot: 0 },
        }
    }

    /// Reads record slot `pos` and decodes it; a slot that fails and is not blank is read and
    /// decoded a second time (one bit flipped on read does not hide a record).
    async fn read_slot<M: Medium, T>(
        &self,
        flash: &mut M,
        pos: Pos,
        buf: &mut [u8; RECORD_SIZE],
        decode: fn(&[u8]) -> Option<(u32, T)>,
    ) -> Result<Option<(u32, T)>, UpdateError<M::Error>> {
        flash
            .read(self.addr(pos), buf)
            .await
            .map_err(UpdateError::flash)?;
        let rec = decode(buf);
        if rec.is_some() || self.is_blank(buf) {
            return Ok(rec);
        }
        flash
            .read(self.addr(pos), buf)
            .await
            .map_err(UpdateError::flash)?;
        Ok(decode(buf))
    }

    /// The next record goes right after the newest one (or at the start of an empty journal).
    fn next_after_head(&mut self) {
        if let Some((_, pos)) = self.head {
            self.next = Pos {
                sector: pos.sector,
                slot: pos.slot + 1,
            };
        }
    }

    /// The sequence number of the newest valid record (0 when there is none).
    pub fn sequence(&self) -> u32 {
        self.head.map_or(0, |(s, _)| s)
    }

    /// Appends `state` as the newest record. When it returns `Ok`, the record is on flash and
    /// read back intact; when power is cut inside, recovery finds either this record or the
    /// previous one.
    ///
    /// A record slot is programmed only when it reads as the erased value. A slot that reads
    /// blank but refuses the write (a torn word an ECC part counts as programmed) or reads back
    /// wrong (a driver that ANDs bits) is skipped; when a sector runs out the next one is
    /// erased, never the one holding the newest record. Record numbers wrap past `u32::MAX`.
    pub fn append<F: NorFlash>(
        &mut self,
        flash: &mut F,
        state: &State,
    ) -> Result<(), UpdateError<F::Error>> {
        self.append_record(flash, |seq| encode(seq, state))
    }

    /// [`Journal::append`] over any [`Medium`] (the updater's core, blocking or async).
    pub(crate) async fn append_in<M: Medium>(
        &mut self,
        flash: &mut M,
        state: &State,
    ) -> Result<(), UpdateError<M::Error>> {
        self.append_record_in(flash, |seq| encode(seq, state)).await
    }

    /// [`Journal::append`] of any record kind: `encode` makes the record for a record number.
    #[inline(never)]
    pub(crate) fn append_record<F: NorFlash>(
        &mut self,
        flash: &mut F,
        encode: impl FnOnce(u32) -> [u8; RECORD_SIZE],
    ) -> Result<(), UpdateError<F::Error>> {
        block_on(self.append_record_in(&mut Blocking(flash), encode))
    }

    /// [`Journal::append_record`] over any [`Medium`]. A future dropped at an await leaves what
    /// a power cut there leaves on flash; this journal's record position is then stale (the
    /// updater's async front end reopens the journal before its next change).
    pub(crate) async fn append_record_in<M: Medium>(
        &mut self,
        flash: &mut M,
        encode: impl FnOnce(u32) -> [u8; RECORD_SIZE],
    ) -> Result<(), UpdateError<M::Error>> {
        let seq = self.head.map_or(1, |(s, _)| s.wrapping_add(1));
        let rec = crate::footer::Aligned(encode(seq));
        let mut buf = [0u8; RECORD_SIZE];
        let mut pos = self.next;
        let mut fresh = false;
        let budget = (self.sectors * (self.slots_per_sector() + 1)) as usize;
        for _ in 0..budget {
            if pos.slot >= self.slots_per_sector() {
                let sector = (pos.sector + 1) % self.sectors;
                if self.head.is_some_and(|(_, h)| h.sector == sector) {
                    break;
                }
                let from = self.offset + sector * self.sector_size;
                flash
                    .erase(from, from + self.sector_size)
                    .await
                    .map_err(UpdateError::flash)?;
                pos = Pos { sector, slot: 0 };
                fresh = true;
            }
            let addr = self.addr(pos);
            if !fresh {
                flash
                    .read(addr, &mut buf)
                    .await
                    .map_err(UpdateError::flash)?;
                if !self.is_blank(&buf) {
                    pos.slot += 1;
                    continue;
                }
            }
            if let Err(e) = flash.write(addr, &rec.0).await {
                // Refused (or power lost): a read tells the two apart. With power gone it fails
                // too and the cut is reported; otherwise the slot is unusable, move on.
                flash
                    .read(addr, &mut buf)
                    .await
                    .map_err(|_| UpdateError::flash(e))?;
                pos.slot += 1;
                continue;
            }
            flash
                .read(addr, &mut buf)
                .await
                .map_err(UpdateError::flash)?;
            if buf == rec.0 {
                self.head = Some((seq, pos));
                self.next = Pos {
                    sector: pos.sector,
                    slot: pos.slot + 1,
                };
                return Ok(());
            }
            pos.slot += 1;
        }
        Err(UpdateError::Corrupted(
            "no journal record slot could be programmed and read back",
        ))
    }
}

/// Raw journal access for fuzzing and white-box tests: not part of the supported API (a record
/// appended here bypasses every transition rule of [`State`]).
#[doc(hidden)]
pub mod raw {
    pub use super::{Journal, decode, encode};
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        State {
            phase: Phase::Trial { attempts_left: 2 },
            confirmed: Slot::B,
            confirmed_version: Version {
                major: 1,
                minor: 2,
                patch: 3,
                build: None,
            },
            pending: Some(Pending {
                sequence: 42,
                version: Version {
                    major: 2,
                    minor: 0,
                    patch: 1,
                    build: Some(9),
                },
                security_version: 7,
                image_size: 123_456,
                image_digest: [0xC3; 32],
            }),
            accepted_sequence: 42,
            security_floor: 6,
            last_event: Event::Rejected,
        }
    }

    #[test]
    fn record_test_vector() {
        let b = encode(5, &sample());
        let head: [u8; 16] = [
            0x4F, 0x4A, 0x01, 0x04, 0x05, 0, 0, 0, 0x02, 0, 0, 0, 0x01, 0x02, 0x01, 0x00,
        ];
        assert_eq!(b[..16], head);
        assert_eq!(b[16..24], 42u64.to_le_bytes());
        assert_eq!(b[102..], [PAD; 26]);
        assert_eq!(decode(&b), Some((5, sample())));
    }

    #[test]
    fn every_single_bit_flip_is_rejected() {
        let b = encode(5, &sample());
        for i in 0..BODY + 4 {
            for bit in 0..8 {
                let mut c = b;
                c[i] ^= 1 << bit;
                assert_eq!(decode(&c), None, "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn erased_flash_of_either_polarity_is_never_a_record() {
        for v in [0xFF, 0x00] {
            let b = [v; RECORD_SIZE];
            assert_eq!(decode(&b), None);
            // Independently of the magic, the CRC itself cannot match an erased slot.
            assert_ne!(crc32(&b[..BODY]), get_u32(&b, BODY).unwrap());
        }
    }

    mod newest_first {
        use super::super::*;
        use crate::sim::{SimConfig, SimFlash, Tear};
        use crate::swap::progress::{self, Ident, SwapStep};
        use proptest::prelude::*;

        /// 3 sectors of 8 record slots: the ring wraps every 24 appends.
        type Flash = SimFlash<4, 1024>;

        /// What happens to the flash between two opens.
        #[derive(Clone, Debug)]
        enum Op {
            /// Append this many records, the power cut (torn as given) at the operation with
            /// this index, if any.
            Appends(u8, Option<(u8, Tear)>),
            /// A stored bit flip (bit rot) at this record slot, byte and bit.
            Rot(u8, u8, u8),
        }

        fn op() -> impl Strategy<Value = Op> {
            let tear = prop::sample::select(Tear::ALL.to_vec());
            prop_oneof![
                4 => (1u8..40, prop::option::of((0u8..40, tear))).prop_map(|(n, c)| Op::Appends(n, c)),
                1 => (0u8..24, 0u8..128, 0u8..8).prop_map(|(s, b, i)| Op::Rot(s, b, i)),
            ]
        }

        fn step(n: u32) -> SwapStep {
            let id = |k: u32| Ident {
                sequence: u64::from(k),
                digest: [k as u8; 32],
            };
            SwapStep::Installing {
                new: id(n),
                old: id(n + 1),
                done: n,
            }
        }

        /// The journal and newest record both ways; they must agree.
        fn both(
            f: &mut Flash,
            region: Region,
            decode: fn(&[u8]) -> Option<(u32, SwapStep)>,
        ) -> (Journal, Option<SwapStep>) {
            let full = block_on(Journal::open_records_in(&mut Blocking(f), region, decode));
            let fast = Journal::open_newest_records(f, region, decode);
            let (Ok((jf, sf)), Ok((jn, sn))) = (full, fast) else {
                panic!("an open failed with the power on");
            };
            assert_eq!(jf.head, jn.head, "newest record");
            assert_eq!(jf.next, jn.next, "next slot");
            assert_eq!(sf, sn, "newest content");
            (jn, sn)
        }

        fn run(ops: &[Op], erased: u8, ecc: bool, decode: fn(&[u8]) -> Option<(u32, SwapStep)>) {
            let cfg = SimConfig {
                erased,
                ecc_write_once: ecc,
                ..SimConfig::default()
            };
            let mut f = Flash::new(3, cfg);
            let region = Region {
                offset: 0,
                sectors: 3,
                erased,
            };
            let mut n = 0u32;
            for op in ops {
                let (mut j, _) = both(&mut f, region, decode);
                match *op {
                    Op::Appends(count, cut) => {
                        if let Some((at, tear)) = cut {
                            f.cut_after(u64::from(at), tear);
                        }
                        for _ in 0..count {
                            n += 1;
                            let rec = step(n);
                            if j.append_record(&mut f, |seq| progress::encode(seq, &rec))
                                .is_err()
                            {
                                break;
                            }
                        }
                        f.power_on();
                    }
                    Op::Rot(slot, byte, bit) => {
                        f.flip_stored(usize::from(slot) * RECORD_SIZE + usize::from(byte), bit);
                    }
                }
            }
            both(&mut f, region, decode);
        }

        /// Only the record kind's own decode: no single-bit correction.
        fn strict(b: &[u8]) -> Option<(u32, SwapStep)> {
            progress::decode(b).filter(|(seq, s)| progress::encode(*seq, s) == b)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]

            /// Reading each sector from its end finds what the full scan finds, after any
            /// mix of appends, power cuts of every tear kind (in writes and erases) and bit
            /// rot, on either erased value, with and without ECC write-once words, with the
            /// progress records' one-bit correction and without it.
            #[test]
            fn newest_first_open_agrees_with_the_full_scan(
                ops in prop::collection::vec(op(), 1..12),
                zero in any::<bool>(),
                ecc in any::<bool>(),
                correct in any::<bool>(),
            ) {
                let decode = if correct { progress::decode } else { strict };
                run(&ops, if zero { 0x00 } else { 0xFF }, ecc, decode);
            }
        }
    }

    #[test]
    fn idle_without_pending_round_trips_and_stray_bytes_are_rejected() {
        let s = State::initial(Slot::A, Version::new(1, 0, 0), 3, 1);
        let b = encode(1, &s);
        assert_eq!(decode(&b), Some((1, s)));
        let mut c = b;
        c[50] = 1;
        let crc = crc32(&c[..BODY]);
        c[BODY..BODY + 4].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            decode(&c),
            None,
            "pending bytes must be zero without a pending image"
        );
    }
}
