//! The trust store's delegation state on flash, so a reboot forgets nothing it accepted.
//!
//! Without it, the delegates, the chain position and the freshness record live in RAM only:
//! after a reboot, replaying the original grant would trust a revoked key again. A
//! [`TrustJournal`] keeps that state in its own flash region (never shared with the update
//! journal), and [`PersistentTrust`] ties a [`TrustStore`] to it so that a record is part of
//! the store only once it is on flash.
//!
//! # Guarantees (each proven in `tests/trust_journal.rs` with [`crate::sim::SimFlash`])
//!
//! - **Old or new, never lost.** A power cut at any flash operation of a commit leaves the state
//!   from before the commit or the committed one; a completed commit is never undone.
//! - **Never rolled back by one stored bit flip.** Every commit writes its record twice; a flipped
//!   bit in one copy leaves the other, and recovery takes the highest generation with a valid
//!   copy, so it never falls back to an older state. [`PersistentTrust::heal`] writes a state
//!   found in one copy only back to two.
//! - **One transient read flip changes nothing.** Recovery reads an invalid slot a second time;
//!   opening never writes.
//! - **Never valid over blank or foreign flash.** A record needs its magic, its CRC and the digest
//!   of this store's roots, threshold and product, so an all-`0xFF` or all-`0x00` region, or one
//!   written by other firmware or for another product, holds no state (the store stays as
//!   provisioned) and the first commit erases before it writes.
//! - **Never wedged.** A commit writes only slots it erased itself in this power cycle (ECC
//!   flash allows one program per erase), checks each copy by reading it back, and moves on to the
//!   next pair when one does not read back.
//! - **Sequence-monotonic.** A commit whose chain position or freshness sequence is below the
//!   persisted one is refused ([`TrustJournalError::Regression`]).
//!
//! # Region and records
//!
//! The region is `sectors` (at least 2) erase sectors at an erase-aligned `offset`. Each sector
//! holds record slots of [`RECORD_SIZE`] bytes rounded up to the flash's write and read sizes,
//! used in pairs (a pair never spans two sectors, so a sector needs room for two slots). A commit
//! writes generation `g + 1` to both slots of the next free pair of the sector it erased in this
//! power cycle; when none is left, it erases the next sector of the ring, which never holds the
//! newest generation (that one is in the current sector). The first commit after a reboot always
//! starts a new sector: one erase per power cycle that changes trust, which for rare delegation
//! changes is negligible wear.
//!
//! Record (format version 1), little-endian, [`RECORD_SIZE`] = 768 bytes:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `4F 54 52 53` (`"OTRS"`) |
//! | 4 | 1 | format version `01` |
//! | 5 | 1 | number of delegates, 0..=8 |
//! | 6 | 1 | flags: bit 0 freshness present; other bits 0 |
//! | 7 | 1 | reserved `00` |
//! | 8 | 8 | generation (u64, >= 1, +1 per commit) |
//! | 16 | 16 | anchor: first 16 bytes of SHA-256(`"fleet-ops/ota/trust-anchor/v1\0"` \|\| threshold (1) \|\| each root key (32) \|\| vendor (16) \|\| class (16)), zeros for the product when the store has none |
//! | 32 | 8 | last delegation record sequence |
//! | 40 | 8 | freshness: sequence |
//! | 48 | 8 | freshness: min delegation sequence |
//! | 56 | 8 | freshness: expires at |
//! | 64 | 32 | reserved, zero |
//! | 96 | 8 x 80 | delegates: key (32), from sequence (8), until (8), not before (8), not after (8), delegating record sequence (8), option flags (1: bit 0 until, bit 1 not before, bit 2 not after), zero (7); unused entries zero |
//! | 736 | 4 | CRC-32/ISO-HDLC of bytes 0..736 |
//! | 740 | 28 | padding `5A` (and up to the slot size) |
//!
//! Decoding is strict: unknown flags, non-zero reserved bytes, an absent option with a non-zero
//! value, or a key that is not an Ed25519 point make the record invalid.

use crate::trust::{Delegate, KeyId};
use crate::trust::{
    DelegationRecord, Dynamic, Freshness, FreshnessRecord, TrustError, TrustStore, TrustedKey,
    Validity,
};
use ed25519_dalek::VerifyingKey;
use embedded_storage::nor_flash::NorFlash;
use sha2::{Digest as _, Sha256};

/// Bytes of one encoded record (before rounding up to the flash's write and read sizes).
pub const RECORD_SIZE: usize = 768;

/// Most delegates a persisted state holds (a store's `D` must not exceed it).
pub const MAX_PERSISTED_DELEGATES: usize = 8;

/// Largest record slot: [`RECORD_SIZE`] rounded up to the write or read size.
const MAX_SLOT: usize = 1024;

const MAGIC: [u8; 4] = *b"OTRS";
const FORMAT: u8 = 1;
const BODY: usize = 736;
const DELEGATES_AT: usize = 96;
const DELEGATE_LEN: usize = 80;
const PAD: u8 = 0x5A;
const ANCHOR_DOMAIN: &[u8] = b"fleet-ops/ota/trust-anchor/v1\0";
const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Where the trust state lives: `sectors` erase sectors from `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TrustRegion {
    /// Start, a multiple of the erase size.
    pub offset: u32,
    /// Erase sectors, at least 2.
    pub sectors: u32,
}

/// What is wrong with a [`TrustRegion`] for a given flash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegionError {
    /// Fewer than two sectors.
    #[error("trust region has {0} erase sectors, at least 2 are needed")]
    TooFewSectors(u32),
    /// Offset not on an erase-sector boundary.
    #[error(
        "trust region offset {offset:#x} is not a multiple of the {erase_size}-byte erase size"
    )]
    Unaligned {
        /// The offset.
        offset: u32,
        /// The erase size.
        erase_size: usize,
    },
    /// Past the end of the flash.
    #[error("trust region ends at {end:#x}, past the flash's {capacity} bytes")]
    OutOfBounds {
        /// First byte after the region.
        end: u64,
        /// Flash capacity.
        capacity: usize,
    },
    /// A sector too small for a pair of slots, or write/read sizes that do not fit a slot.
    #[error(
        "a {erase_size}-byte erase sector cannot hold two {slot}-byte trust record slots \
         (write size {write_size}, read size {read_size}, largest slot {MAX_SLOT})"
    )]
    Geometry {
        /// Erase size.
        erase_size: usize,
        /// Slot size after rounding.
        slot: usize,
        /// Write size.
        write_size: usize,
        /// Read size.
        read_size: usize,
    },
}

/// Why the persisted trust state could not be read, written, or changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustJournalError<E: core::fmt::Debug> {
    /// A flash operation failed (the state on flash is the old or the new one).
    #[error("flash operation on the trust region failed: {0:?}")]
    Flash(E),
    /// The region does not fit the flash.
    #[error("{0}")]
    Region(RegionError),
    /// The store holds more delegates than a record can.
    #[error(
        "the trust store holds up to {capacity} delegates, a persisted state at most \
         {MAX_PERSISTED_DELEGATES}"
    )]
    Capacity {
        /// The store's `D`.
        capacity: usize,
    },
    /// The persisted state has more delegates than this store can hold.
    #[error(
        "the persisted trust state has {persisted} delegates, this store holds at most {capacity}"
    )]
    PersistedTooLarge {
        /// Delegates on flash.
        persisted: usize,
        /// The store's `D`.
        capacity: usize,
    },
    /// A commit older than what is on flash (a chain position or freshness sequence lower).
    #[error(
        "trust state at chain {chain} / freshness {freshness} is older than the persisted \
         chain {persisted_chain} / freshness {persisted_freshness}"
    )]
    Regression {
        /// The chain position offered.
        chain: u64,
        /// The freshness sequence offered (0 when none).
        freshness: u64,
        /// Persisted chain position.
        persisted_chain: u64,
        /// Persisted freshness sequence (0 when none).
        persisted_freshness: u64,
    },
    /// No slot of the region could be written and read back (a failing part).
    #[error("no trust record slot could be programmed and read back intact")]
    NoWritableSlot,
    /// The record itself was refused by the trust store (nothing was written).
    #[error("{0}")]
    Trust(TrustError),
}

/// Where a commit goes next: a sector erased in this power cycle and its next free pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fresh {
    sector: u32,
    pair: u32,
}

/// The newest persisted generation and what it says about sequences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Head {
    generation: u64,
    sector: u32,
    copies: u8,
    chain: u64,
    freshness: u64,
}

/// An open trust region: where the newest state is and where the next one goes. It holds no
/// flash reference; every operation takes the flash.
#[derive(Clone, Debug)]
pub struct TrustJournal {
    region: TrustRegion,
    sector_size: u32,
    slot: u32,
    anchor: [u8; 16],
    head: Option<Head>,
    fresh: Option<Fresh>,
}

/// A write buffer aligned for HALs that DMA or cast to words.
#[repr(C, align(32))]
struct SlotBuf([u8; MAX_SLOT]);

fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to.max(1)) * to.max(1)
}

fn get_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn put(b: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = b.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// The anchor digest of a store's fixed part (roots, threshold, product).
fn anchor<const R: usize, const D: usize>(store: &TrustStore<R, D>) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(ANCHOR_DOMAIN);
    h.update([store.threshold()]);
    for r in store.roots() {
        h.update(r.key.as_bytes());
    }
    let (vendor, class) = store
        .product()
        .map_or(([0u8; 16], [0u8; 16]), |(v, c)| (v.0, c.0));
    h.update(vendor);
    h.update(class);
    let d = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(d.get(..16).unwrap_or(&[0u8; 16]));
    out
}

/// Encodes generation `generation` of `dynamic` under `anchor`.
fn encode<const D: usize>(
    generation: u64,
    anchor: &[u8; 16],
    dynamic: &Dynamic<D>,
) -> [u8; RECORD_SIZE] {
    let mut b = [0u8; RECORD_SIZE];
    put(&mut b, 0, &MAGIC);
    put(&mut b, 4, &[FORMAT, dynamic.delegates.len() as u8]);
    put(&mut b, 6, &[u8::from(dynamic.freshness.is_some())]);
    put(&mut b, 8, &generation.to_le_bytes());
    put(&mut b, 16, anchor);
    put(&mut b, 32, &dynamic.last_record_sequence.to_le_bytes());
    if let Some(f) = dynamic.freshness {
        put(&mut b, 40, &f.sequence.to_le_bytes());
        put(&mut b, 48, &f.min_delegation_sequence.to_le_bytes());
        put(&mut b, 56, &f.expires_at.to_le_bytes());
    }
    for (i, d) in dynamic.delegates.iter().enumerate() {
        let at = DELEGATES_AT + i * DELEGATE_LEN;
        let v = &d.validity;
        put(&mut b, at, d.key.key.as_bytes());
        put(&mut b, at + 32, &v.from_sequence.to_le_bytes());
        put(
            &mut b,
            at + 40,
            &v.until_sequence.unwrap_or(0).to_le_bytes(),
        );
        put(&mut b, at + 48, &v.not_before.unwrap_or(0).to_le_bytes());
        put(&mut b, at + 56, &v.not_after.unwrap_or(0).to_le_bytes());
        put(&mut b, at + 64, &d.record_sequence.to_le_bytes());
        let flags = u8::from(v.until_sequence.is_some())
            | u8::from(v.not_before.is_some()) << 1
            | u8::from(v.not_after.is_some()) << 2;
        put(&mut b, at + 72, &[flags]);
    }
    let crc = CRC.checksum(b.get(..BODY).unwrap_or(&[]));
    put(&mut b, BODY, &crc.to_le_bytes());
    if let Some(pad) = b.get_mut(BODY + 4..) {
        pad.fill(PAD);
    }
    b
}

/// A decoded record: generation, anchor, and the state (delegates still as bytes-checked keys).
struct Decoded<const D: usize> {
    generation: u64,
    anchor: [u8; 16],
    dynamic: Dynamic<D>,
}

/// Why a slot holds no usable record for a store of capacity `D`.
enum Undecodable {
    /// Not a valid record at all (blank, torn, foreign, flipped).
    Invalid,
    /// A valid record with more delegates than `D`.
    TooLarge(usize),
}

fn opt(flags: u8, bit: u8, value: u64) -> Result<Option<u64>, Undecodable> {
    match (flags & (1 << bit) != 0, value) {
        (true, v) => Ok(Some(v)),
        (false, 0) => Ok(None),
        (false, _) => Err(Undecodable::Invalid),
    }
}

fn decode<const D: usize>(b: &[u8]) -> Result<Decoded<D>, Undecodable> {
    use Undecodable::Invalid;
    let body = b.get(..BODY).ok_or(Invalid)?;
    if b.get(0..4) != Some(&MAGIC[..]) || b.get(4) != Some(&FORMAT) || b.get(7) != Some(&0) {
        return Err(Invalid);
    }
    let crc = b.get(BODY..BODY + 4).ok_or(Invalid)?;
    if crc != CRC.checksum(body).to_le_bytes() {
        return Err(Invalid);
    }
    let count = usize::from(*b.get(5).ok_or(Invalid)?);
    let flags = *b.get(6).ok_or(Invalid)?;
    if count > MAX_PERSISTED_DELEGATES || flags > 1 {
        return Err(Invalid);
    }
    if b.get(64..DELEGATES_AT)
        .ok_or(Invalid)?
        .iter()
        .any(|&x| x != 0)
    {
        return Err(Invalid);
    }
    let generation = get_u64(b, 8).ok_or(Invalid)?;
    if generation == 0 {
        return Err(Invalid);
    }
    let mut anchor = [0u8; 16];
    anchor.copy_from_slice(b.get(16..32).ok_or(Invalid)?);
    let freshness = if flags & 1 == 1 {
        Some(Freshness {
            sequence: get_u64(b, 40).ok_or(Invalid)?,
            min_delegation_sequence: get_u64(b, 48).ok_or(Invalid)?,
            expires_at: get_u64(b, 56).ok_or(Invalid)?,
        })
    } else {
        if b.get(40..64).ok_or(Invalid)?.iter().any(|&x| x != 0) {
            return Err(Invalid);
        }
        None
    };
    let mut delegates = heapless::Vec::new();
    for i in 0..MAX_PERSISTED_DELEGATES {
        let at = DELEGATES_AT + i * DELEGATE_LEN;
        let entry = b.get(at..at + DELEGATE_LEN).ok_or(Invalid)?;
        if i >= count {
            if entry.iter().any(|&x| x != 0) {
                return Err(Invalid);
            }
            continue;
        }
        let eflags = *entry.get(72).ok_or(Invalid)?;
        if eflags > 7 || entry.get(73..).ok_or(Invalid)?.iter().any(|&x| x != 0) {
            return Err(Invalid);
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(entry.get(..32).ok_or(Invalid)?);
        let key = VerifyingKey::from_bytes(&key).map_err(|_| Invalid)?;
        let validity = Validity {
            from_sequence: get_u64(entry, 32).ok_or(Invalid)?,
            until_sequence: opt(eflags, 0, get_u64(entry, 40).ok_or(Invalid)?)?,
            not_before: opt(eflags, 1, get_u64(entry, 48).ok_or(Invalid)?)?,
            not_after: opt(eflags, 2, get_u64(entry, 56).ok_or(Invalid)?)?,
        };
        let delegate = Delegate {
            key: TrustedKey {
                id: KeyId::of(&key),
                key,
            },
            validity,
            record_sequence: get_u64(entry, 64).ok_or(Invalid)?,
        };
        delegates
            .push(delegate)
            .map_err(|_| Undecodable::TooLarge(count))?;
    }
    Ok(Decoded {
        generation,
        anchor,
        dynamic: Dynamic {
            delegates,
            last_record_sequence: get_u64(b, 32).ok_or(Invalid)?,
            freshness,
        },
    })
}

fn freshness_seq<const D: usize>(d: &Dynamic<D>) -> u64 {
    d.freshness.map_or(0, |f| f.sequence)
}

impl TrustJournal {
    fn slots_per_sector(&self) -> u32 {
        self.sector_size / self.slot
    }

    fn pairs_per_sector(&self) -> u32 {
        self.slots_per_sector() / 2
    }

    fn addr(&self, sector: u32, slot: u32) -> u32 {
        self.region.offset + sector * self.sector_size + slot * self.slot
    }

    fn check_region<F: NorFlash>(flash: &F, region: TrustRegion) -> Result<u32, RegionError> {
        if region.sectors < 2 {
            return Err(RegionError::TooFewSectors(region.sectors));
        }
        let erase = F::ERASE_SIZE;
        if erase == 0 || !(region.offset as usize).is_multiple_of(erase) {
            return Err(RegionError::Unaligned {
                offset: region.offset,
                erase_size: erase,
            });
        }
        let end = u64::from(region.offset) + u64::from(region.sectors) * erase as u64;
        if end > flash.capacity() as u64 || end > u64::from(u32::MAX) {
            return Err(RegionError::OutOfBounds {
                end,
                capacity: flash.capacity(),
            });
        }
        let slot = round_up(round_up(RECORD_SIZE, F::WRITE_SIZE), F::READ_SIZE);
        let fits = slot <= MAX_SLOT
            && slot.is_multiple_of(F::WRITE_SIZE.max(1))
            && slot.is_multiple_of(F::READ_SIZE.max(1))
            && erase / slot >= 2;
        if !fits {
            return Err(RegionError::Geometry {
                erase_size: erase,
                slot,
                write_size: F::WRITE_SIZE,
                read_size: F::READ_SIZE,
            });
        }
        Ok(slot as u32)
    }

    /// Reads the region and loads the newest persisted state for `store` into it (when that
    /// state is not behind what the store already holds). Opening never writes.
    pub fn open<F: NorFlash, const R: usize, const D: usize>(
        flash: &mut F,
        region: TrustRegion,
        store: &mut TrustStore<R, D>,
    ) -> Result<Self, TrustJournalError<F::Error>> {
        if D > MAX_PERSISTED_DELEGATES {
            return Err(TrustJournalError::Capacity { capacity: D });
        }
        let slot = Self::check_region(flash, region).map_err(TrustJournalError::Region)?;
        let mut j = Self {
            region,
            sector_size: F::ERASE_SIZE as u32,
            slot,
            anchor: anchor(store),
            head: None,
            fresh: None,
        };
        let mut newest: Option<Dynamic<D>> = None;
        let mut buf = SlotBuf([0u8; MAX_SLOT]);
        for sector in 0..region.sectors {
            for s in 0..j.slots_per_sector() {
                let addr = j.addr(sector, s);
                let mut rec = Err(Undecodable::Invalid);
                // An invalid slot is read a second time: one transient flip never hides a copy.
                for _ in 0..2 {
                    let bytes = buf.0.get_mut(..slot as usize).unwrap_or(&mut []);
                    flash.read(addr, bytes).map_err(TrustJournalError::Flash)?;
                    rec = decode::<D>(bytes);
                    if !matches!(rec, Err(Undecodable::Invalid)) {
                        break;
                    }
                }
                let d = match rec {
                    Ok(d) if d.anchor == j.anchor => d,
                    Ok(_) | Err(Undecodable::Invalid) => continue,
                    Err(Undecodable::TooLarge(persisted)) => {
                        return Err(TrustJournalError::PersistedTooLarge {
                            persisted,
                            capacity: D,
                        });
                    }
                };
                match &mut j.head {
                    Some(h) if h.generation == d.generation => {
                        h.copies = h.copies.saturating_add(1);
                    }
                    Some(h) if h.generation > d.generation => {}
                    _ => {
                        j.head = Some(Head {
                            generation: d.generation,
                            sector,
                            copies: 1,
                            chain: d.dynamic.last_record_sequence,
                            freshness: freshness_seq(&d.dynamic),
                        });
                        newest = Some(d.dynamic);
                    }
                }
            }
        }
        if let Some(dynamic) = newest {
            let held = store.dynamic();
            if dynamic.last_record_sequence >= held.last_record_sequence
                && freshness_seq(&dynamic) >= freshness_seq(held)
            {
                store.set_dynamic(dynamic);
            }
        }
        Ok(j)
    }

    /// The newest persisted generation (0 when the region holds no state for this store).
    pub fn generation(&self) -> u64 {
        self.head.map_or(0, |h| h.generation)
    }

    /// True when the newest generation was found in one copy only (a stored flip or a cut
    /// between the two writes); the next [`Self::commit`] writes two fresh copies.
    pub fn is_degraded(&self) -> bool {
        self.head.is_some_and(|h| h.copies < 2)
    }

    /// Writes the newest state again, as two fresh copies, when only one copy of it was found
    /// ([`Self::is_degraded`]); otherwise does nothing. Call it after [`Self::open`] when a
    /// write at boot is acceptable: until then, one more stored flip in the single copy would
    /// fall back to the previous generation.
    pub fn heal<F: NorFlash, const R: usize, const D: usize>(
        &mut self,
        flash: &mut F,
        store: &TrustStore<R, D>,
    ) -> Result<bool, TrustJournalError<F::Error>> {
        if !self.is_degraded() {
            return Ok(false);
        }
        self.commit(flash, store)?;
        Ok(true)
    }

    /// Persists `store`'s delegation state as the next generation. When it returns `Ok`, both
    /// copies are on flash and read back intact; a power cut inside leaves the old state or
    /// this one.
    pub fn commit<F: NorFlash, const R: usize, const D: usize>(
        &mut self,
        flash: &mut F,
        store: &TrustStore<R, D>,
    ) -> Result<(), TrustJournalError<F::Error>> {
        let dynamic = store.dynamic();
        let chain = dynamic.last_record_sequence;
        let fresh_seq = freshness_seq(dynamic);
        if let Some(h) = self.head
            && (chain < h.chain || fresh_seq < h.freshness)
        {
            return Err(TrustJournalError::Regression {
                chain,
                freshness: fresh_seq,
                persisted_chain: h.chain,
                persisted_freshness: h.freshness,
            });
        }
        let generation = self.generation().saturating_add(1);
        let rec = encode(generation, &self.anchor, dynamic);
        let slot = self.slot as usize;
        let mut out = SlotBuf([PAD; MAX_SLOT]);
        put(&mut out.0, 0, &rec);
        let mut back = SlotBuf([0u8; MAX_SLOT]);
        // Every pair of the region once, plus one erase per sector.
        let budget = self.region.sectors * (self.pairs_per_sector() + 1);
        for _ in 0..budget {
            let at = match self.fresh {
                Some(f) if f.pair < self.pairs_per_sector() => f,
                _ => self.erase_next(flash)?,
            };
            let mut intact = true;
            for copy in 0..2 {
                let addr = self.addr(at.sector, at.pair * 2 + copy);
                let src = out.0.get(..slot).unwrap_or(&[]);
                flash.write(addr, src).map_err(TrustJournalError::Flash)?;
                let dst = back.0.get_mut(..slot).unwrap_or(&mut []);
                flash.read(addr, dst).map_err(TrustJournalError::Flash)?;
                if dst != src {
                    // Once more: a transient read flip is not a bad slot.
                    flash.read(addr, dst).map_err(TrustJournalError::Flash)?;
                    if dst != src {
                        intact = false;
                        break;
                    }
                }
            }
            self.fresh = Some(Fresh {
                sector: at.sector,
                pair: at.pair + 1,
            });
            if intact {
                self.head = Some(Head {
                    generation,
                    sector: at.sector,
                    copies: 2,
                    chain,
                    freshness: fresh_seq,
                });
                return Ok(());
            }
        }
        Err(TrustJournalError::NoWritableSlot)
    }

    /// Erases the sector after the newest state's (or after the current fresh one) and makes it
    /// the fresh sector. It never erases the sector holding the newest generation.
    fn erase_next<F: NorFlash>(
        &mut self,
        flash: &mut F,
    ) -> Result<Fresh, TrustJournalError<F::Error>> {
        let after = match (self.fresh, self.head) {
            (Some(f), _) => f.sector,
            (None, Some(h)) => h.sector,
            (None, None) => self.region.sectors - 1,
        };
        let mut sector = (after + 1) % self.region.sectors;
        if self.head.is_some_and(|h| h.sector == sector) {
            sector = (sector + 1) % self.region.sectors;
        }
        let from = self.addr(sector, 0);
        flash
            .erase(from, from + self.sector_size)
            .map_err(TrustJournalError::Flash)?;
        let f = Fresh { sector, pair: 0 };
        self.fresh = Some(f);
        Ok(f)
    }
}

/// A [`TrustStore`] whose every change is on flash before it takes effect.
#[derive(Clone, Debug)]
pub struct PersistentTrust<const R: usize, const D: usize> {
    store: TrustStore<R, D>,
    journal: TrustJournal,
}

impl<const R: usize, const D: usize> PersistentTrust<R, D> {
    /// Opens the region for `provisioned` (the store as the firmware builds it: roots,
    /// threshold, product) and loads what was persisted.
    pub fn open<F: NorFlash>(
        flash: &mut F,
        region: TrustRegion,
        provisioned: TrustStore<R, D>,
    ) -> Result<Self, TrustJournalError<F::Error>> {
        let mut store = provisioned;
        let journal = TrustJournal::open(flash, region, &mut store)?;
        Ok(Self { store, journal })
    }

    /// The store, as persisted.
    pub fn store(&self) -> &TrustStore<R, D> {
        &self.store
    }

    /// The journal (generation, degraded copies).
    pub fn journal(&self) -> &TrustJournal {
        &self.journal
    }

    /// Rewrites the newest state as two copies if only one was found at open
    /// ([`TrustJournal::heal`]); returns whether it wrote.
    pub fn heal<F: NorFlash>(
        &mut self,
        flash: &mut F,
    ) -> Result<bool, TrustJournalError<F::Error>> {
        self.journal.heal(flash, &self.store)
    }

    /// Checks a delegation envelope ([`TrustStore::apply_delegation`]), persists the result,
    /// and only then makes it the store's state.
    pub fn apply_delegation<F: NorFlash>(
        &mut self,
        flash: &mut F,
        envelope: &[u8],
    ) -> Result<DelegationRecord, TrustJournalError<F::Error>> {
        let mut next = self.store.clone();
        let record = next
            .apply_delegation(envelope)
            .map_err(TrustJournalError::Trust)?;
        self.journal.commit(flash, &next)?;
        self.store = next;
        Ok(record)
    }

    /// Checks a freshness envelope ([`TrustStore::apply_freshness`]), persists the result, and
    /// only then makes it the store's state.
    pub fn apply_freshness<F: NorFlash>(
        &mut self,
        flash: &mut F,
        envelope: &[u8],
    ) -> Result<FreshnessRecord, TrustJournalError<F::Error>> {
        let mut next = self.store.clone();
        let record = next
            .apply_freshness(envelope)
            .map_err(TrustJournalError::Trust)?;
        self.journal.commit(flash, &next)?;
        self.store = next;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ProductId;

    fn store() -> TrustStore<2, 4> {
        let roots = [[1u8; 32], [2u8; 32]].map(|s| {
            ed25519_dalek::SigningKey::from_bytes(&s)
                .verifying_key()
                .to_bytes()
        });
        TrustStore::for_product(
            &roots,
            1,
            ProductId::from_text("acme"),
            ProductId::from_text("x"),
        )
        .unwrap()
    }

    #[test]
    fn erased_flash_of_either_polarity_is_never_a_record() {
        for v in [0x00u8, 0xFF] {
            assert!(matches!(
                decode::<4>(&[v; RECORD_SIZE]),
                Err(Undecodable::Invalid)
            ));
            // Independently of the magic, the CRC cannot match a blank body.
            assert_ne!(
                CRC.checksum(&[v; BODY]).to_le_bytes(),
                [v; 4],
                "CRC of blank flash reads as blank"
            );
        }
    }

    #[test]
    fn records_round_trip_and_every_bit_flip_is_rejected() {
        let s = store();
        let mut d = s.dynamic().clone();
        d.last_record_sequence = 7;
        d.freshness = Some(Freshness {
            sequence: 3,
            min_delegation_sequence: 7,
            expires_at: 99,
        });
        let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]).verifying_key();
        d.delegates
            .push(Delegate {
                key: TrustedKey {
                    id: KeyId::of(&key),
                    key,
                },
                validity: Validity {
                    from_sequence: 2,
                    until_sequence: Some(9),
                    not_before: None,
                    not_after: Some(0),
                },
                record_sequence: 6,
            })
            .unwrap();
        let a = anchor(&s);
        let rec = encode(5, &a, &d);
        let back = decode::<4>(&rec).ok().unwrap();
        assert_eq!((back.generation, back.anchor), (5, a));
        assert_eq!(back.dynamic, d);
        for bit in (0..BODY * 8).step_by(3) {
            let mut b = rec;
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(
                matches!(decode::<4>(&b), Err(Undecodable::Invalid)),
                "flip of bit {bit} accepted"
            );
        }
        // A store of capacity 0 cannot take it.
        assert!(matches!(decode::<0>(&rec), Err(Undecodable::TooLarge(1))));
    }
}
