//! A fault-injecting simulated NOR flash, and a power-cut proof harness built on it.
//!
//! **For firmware teams:** [`SimFlash`] implements the same `embedded-storage` `NorFlash` traits
//! as your real flash driver, with the rules real parts enforce and the failures they have. Put
//! it under your own update integration in host tests; cut the power at every operation index
//! with [`SimFlash::cut_after`] and check your invariants after [`SimFlash::power_on`]. The
//! [`proof`] module does exactly that for this crate's state machine with your [`Layout`]
//! and flash quirks.
//!
//! What it models:
//!
//! - erased value `0xFF`, or `0x00` ([`SimConfig::erased`]; STM32L0-style parts, where a
//!   bootloader reading "erased" as a magic value misreads it);
//! - writes may only move bits away from the erased value, in whole `WRITE_SIZE` words at
//!   aligned offsets; reads and erases bounds- and alignment-checked;
//! - ECC flash ([`SimConfig::ecc_write_once`]): each word may be programmed once between erases,
//!   even with the same data (STM32H7);
//! - power cuts: [`SimFlash::cut_after`]`(n, tear)` lets `n` more writes/erases succeed and
//!   interrupts the next one, leaving it torn per [`Tear`]; from then on every operation fails
//!   with [`SimError::PowerLoss`] until [`SimFlash::power_on`];
//! - optional bit flips on read ([`SimConfig::read_flip_one_in`], or one scheduled with
//!   [`SimFlash::flip_read`]), never stored; stored flips with [`SimFlash::flip_stored`];
//! - source buffers not aligned to `WRITE_SIZE` are refused ([`SimConfig::check_alignment`]), as
//!   HALs that DMA or cast to words would fault;
//! - `READ_SIZE` > 1 (the third const parameter): reads must be aligned to it;
//! - tearing inside a word ([`Tear::InWord`]): only some bits of the word moved, so it may read
//!   back as erased while an ECC part counts it as programmed;
//! - a driver that ANDs (or ORs, on 0x00-erased parts) the new bits into the old instead of
//!   refusing a write over programmed bits ([`SimConfig::and_writes`]);
//! - wear: erases per sector, writes, bytes written ([`Wear`]).
//!
//! Available with the `sim` feature (it uses `alloc`).

#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub mod asynch;
mod cut;
pub mod pair;
pub mod proof;
pub mod release;
pub mod report_proof;
pub mod swap_proof;

use crate::layout::Layout;
use alloc::vec;
use alloc::vec::Vec;
use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// How an interrupted write or erase is left.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tear {
    /// The operation did not start: flash is unchanged.
    Skip,
    /// Half done: a write programmed its first half of words and left the next word with
    /// arbitrary bytes; an erase erased the first half of its first sector.
    Partial,
    /// Every touched unit holds arbitrary bytes: all words of a write, or the first sector
    /// of an erase.
    Noise,
    /// Torn inside a word: a write programmed its first half of words and only a random subset
    /// of the next word's bits (which may leave it reading erased, yet programmed for ECC); an
    /// erase moved a random subset of its first sector's bits to the erased value.
    InWord,
}

impl Tear {
    /// Every variant, for exhaustive tests.
    pub const ALL: [Tear; 4] = [Tear::Skip, Tear::Partial, Tear::Noise, Tear::InWord];
}

/// Simulator behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimConfig {
    /// The erased byte value: `0xFF` (most NOR) or `0x00`.
    pub erased: u8,
    /// Each write word can be programmed only once between erases (ECC flash).
    pub ecc_write_once: bool,
    /// Flip one random bit in one of every this many reads (not stored).
    pub read_flip_one_in: Option<u32>,
    /// Seed for torn bytes and read flips.
    pub seed: u64,
    /// Refuse write source buffers not aligned to `WRITE_SIZE` ([`SimError::UnalignedBuffer`]).
    /// Off by default (existing integrations keep working); the crate's own power-cut proof,
    /// lifetimes and fault tests turn it on.
    pub check_alignment: bool,
    /// Program by ANDing (0xFF-erased) or ORing (0x00-erased) the new bits into the old instead
    /// of refusing a write over programmed bits, as some drivers do.
    pub and_writes: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            erased: 0xFF,
            ecc_write_once: false,
            read_flip_one_in: None,
            seed: 1,
            check_alignment: false,
            and_writes: false,
        }
    }
}

/// Wear and traffic counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wear {
    /// Sector erases (including interrupted ones).
    pub erases: u64,
    /// Write operations (including interrupted ones).
    pub writes: u64,
    /// Bytes passed to completed write operations.
    pub bytes_written: u64,
    /// Read operations.
    pub reads: u64,
    /// Bits flipped on read (transient, never stored).
    pub read_flips: u64,
}

/// What the simulator refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The power is off (cut during this or an earlier operation).
    #[error("power lost")]
    PowerLoss,
    /// Access outside the flash.
    #[error("access of {len} bytes at {offset:#x} is outside the flash")]
    OutOfBounds {
        /// Start.
        offset: u32,
        /// Length.
        len: usize,
    },
    /// Offset or length not a multiple of the operation's granularity.
    #[error("access of {len} bytes at {offset:#x} is not aligned to {align}")]
    NotAligned {
        /// Start.
        offset: u32,
        /// Length.
        len: usize,
        /// Required alignment.
        align: usize,
    },
    /// A write would move a bit back to the erased value (needs an erase first).
    #[error("write at {offset:#x} needs bits erased first")]
    NotErased {
        /// The first offending byte.
        offset: u32,
    },
    /// A second program of an ECC word between erases.
    #[error("ECC word at {offset:#x} was already programmed since its last erase")]
    EccRewrite {
        /// The word's offset.
        offset: u32,
    },
    /// The source buffer's address is not aligned to the write size (a DMA or word-casting HAL
    /// would fault).
    #[error("write source buffer at address {addr:#x} is not aligned to {align}")]
    UnalignedBuffer {
        /// The buffer's address.
        addr: usize,
        /// The write size.
        align: usize,
    },
}

impl NorFlashError for SimError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            SimError::OutOfBounds { .. } => NorFlashErrorKind::OutOfBounds,
            SimError::NotAligned { .. } => NorFlashErrorKind::NotAligned,
            _ => NorFlashErrorKind::Other,
        }
    }
}

/// A simulated NOR flash with `W`-byte write words, `E`-byte erase sectors and `R`-byte read
/// units (`READ_SIZE`, 1 unless given).
#[derive(Clone, Debug)]
pub struct SimFlash<const W: usize, const E: usize, const R: usize = 1> {
    data: Vec<u8>,
    programmed: Vec<bool>,
    sector_erases: Vec<u32>,
    wear: Wear,
    cfg: SimConfig,
    ops: u64,
    cut: Option<(u64, Tear)>,
    dead: bool,
    rng: u64,
    flip_at: Option<u64>,
}

impl<const W: usize, const E: usize, const R: usize> SimFlash<W, E, R> {
    /// An erased flash of `sectors` sectors.
    pub fn new(sectors: usize, cfg: SimConfig) -> Self {
        let size = sectors * E;
        Self {
            data: vec![cfg.erased; size],
            programmed: vec![false; size / W.max(1)],
            sector_erases: vec![0; sectors],
            wear: Wear::default(),
            cfg,
            ops: 0,
            cut: None,
            dead: false,
            rng: cfg.seed | 1,
            flip_at: None,
        }
    }

    /// Flips one random bit in the result of the `n`-th read from now (0 = the next read):
    /// a transient read error, never stored.
    pub fn flip_read(&mut self, n: u64) {
        self.flip_at = Some(self.wear.reads + n);
    }

    /// Flips bit `bit` of the stored byte at `offset` (bit rot, a stored fault).
    pub fn flip_stored(&mut self, offset: usize, bit: u8) {
        if let Some(b) = self.data.get_mut(offset) {
            *b ^= 1 << (bit % 8);
        }
    }

    /// Factory programming: writes `bytes` at `offset` (a multiple of `W`) through an aligned
    /// buffer, padding the last word with the erased value. The area must be erased.
    pub fn program(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimError> {
        #[repr(C, align(128))]
        struct Block([u8; 1024]);
        let mut block = Block([0; 1024]);
        let mut at = offset;
        for piece in bytes.chunks(1024) {
            let len = piece.len().div_ceil(W.max(1)) * W.max(1);
            block.0.fill(self.cfg.erased);
            if let Some(dst) = block.0.get_mut(..piece.len()) {
                dst.copy_from_slice(piece);
            }
            self.write(at, block.0.get(..len).unwrap_or(&[]))?;
            at += len as u32;
        }
        Ok(())
    }

    /// The simulator's configuration.
    pub fn config(&self) -> SimConfig {
        self.cfg
    }

    /// Changes how often reads flip a bit (e.g. off while a test inspects the flash).
    pub fn set_read_flips(&mut self, one_in: Option<u32>) {
        self.cfg.read_flip_one_in = one_in;
    }

    /// An erased flash large enough for `layout` (up to its highest region end).
    pub fn for_layout(layout: &Layout, cfg: SimConfig) -> Self {
        let ends = [
            layout.journal_offset as usize + layout.journal_sectors as usize * E,
            layout.slot_a as usize + layout.slot_size as usize,
            layout.slot_b as usize + layout.slot_size as usize,
        ];
        let end = ends.iter().copied().max().unwrap_or(0);
        Self::new(end.div_ceil(E), cfg)
    }

    fn next_rand(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Lets `n` more writes or erases complete and interrupts the one after, torn as `tear`.
    pub fn cut_after(&mut self, n: u64, tear: Tear) {
        self.cut = Some((self.ops + n, tear));
    }

    /// Restores power (a reboot) and cancels any pending cut.
    pub fn power_on(&mut self) {
        self.dead = false;
        self.cut = None;
    }

    /// Whether the power is on.
    pub fn is_powered(&self) -> bool {
        !self.dead
    }

    /// Writes and erases attempted so far (the index the next one gets).
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// Wear and traffic counters.
    pub fn wear(&self) -> Wear {
        self.wear
    }

    /// Erases of each sector so far.
    pub fn sector_erases(&self) -> &[u32] {
        &self.sector_erases
    }

    /// The raw contents.
    pub fn contents(&self) -> &[u8] {
        &self.data
    }

    /// Overwrites raw contents at `offset` (for tests and fuzzing: foreign or garbage data,
    /// as if written by other firmware). The touched words count as programmed.
    pub fn load(&mut self, offset: usize, bytes: &[u8]) {
        let end = (offset + bytes.len()).min(self.data.len());
        if offset >= end {
            return;
        }
        if let Some(dst) = self.data.get_mut(offset..end) {
            dst.copy_from_slice(bytes.get(..end - offset).unwrap_or(&[]));
        }
        for w in offset / W..end.div_ceil(W) {
            if let Some(p) = self.programmed.get_mut(w) {
                *p = true;
            }
        }
    }

    /// Fills the whole flash with pseudo-random bytes, so code cannot rely on initial contents.
    pub fn fill_noise(&mut self) {
        for i in 0..self.data.len() {
            let r = self.next_rand() as u8;
            if let Some(b) = self.data.get_mut(i) {
                *b = r;
            }
        }
        self.programmed.fill(true);
    }

    fn noise_word(&mut self, word: usize) {
        let erased = self.cfg.erased;
        let mut all_erased = true;
        for i in word * W..(word + 1) * W {
            let r = self.next_rand() as u8;
            if let Some(b) = self.data.get_mut(i) {
                *b = r;
            }
            all_erased &= r == erased;
        }
        if all_erased && let Some(b) = self.data.get_mut(word * W) {
            *b = !erased;
        }
        if let Some(p) = self.programmed.get_mut(word) {
            *p = true;
        }
    }

    /// Moves a random subset of the bits of `word` from `old` toward `new` (a write torn
    /// inside the word). The word counts as programmed.
    fn tear_in_word(&mut self, word: usize, new: &[u8]) {
        for (i, &n) in (word * W..(word + 1) * W).zip(new) {
            let mask = self.next_rand() as u8;
            if let Some(b) = self.data.get_mut(i) {
                // Bits that would change, of which only `mask` did.
                let change = (*b ^ n) & mask;
                *b ^= change;
            }
        }
        if let Some(p) = self.programmed.get_mut(word) {
            *p = true;
        }
    }

    fn check(&self, offset: u32, len: usize, align: usize) -> Result<(), SimError> {
        if self.dead {
            return Err(SimError::PowerLoss);
        }
        let o = offset as usize;
        if o.checked_add(len).is_none_or(|end| end > self.data.len()) {
            return Err(SimError::OutOfBounds { offset, len });
        }
        if !o.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(SimError::NotAligned { offset, len, align });
        }
        Ok(())
    }

    /// Counts an operation; `Some(tear)` if power is cut during it.
    fn tick(&mut self) -> Option<Tear> {
        let idx = self.ops;
        self.ops += 1;
        match self.cut {
            Some((at, tear)) if at == idx => {
                self.dead = true;
                self.cut = None;
                Some(tear)
            }
            _ => None,
        }
    }

    fn erase_sector_part(&mut self, start: usize, end: usize) {
        let erased = self.cfg.erased;
        if let Some(d) = self.data.get_mut(start..end) {
            d.fill(erased);
        }
        if let Some(p) = self.programmed.get_mut(start / W..end / W) {
            p.fill(false);
        }
    }
}

impl<const W: usize, const E: usize, const R: usize> ErrorType for SimFlash<W, E, R> {
    type Error = SimError;
}

impl<const W: usize, const E: usize, const R: usize> ReadNorFlash for SimFlash<W, E, R> {
    const READ_SIZE: usize = R;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SimError> {
        self.check(offset, bytes.len(), R)?;
        let index = self.wear.reads;
        self.wear.reads += 1;
        let o = offset as usize;
        if let Some(src) = self.data.get(o..o + bytes.len()) {
            bytes.copy_from_slice(src);
        }
        let scheduled = self.flip_at == Some(index);
        if scheduled {
            self.flip_at = None;
        }
        let random = self.cfg.read_flip_one_in.is_some_and(|n| {
            n > 0 && !bytes.is_empty() && self.next_rand().is_multiple_of(u64::from(n))
        });
        if (scheduled || random) && !bytes.is_empty() {
            self.wear.read_flips += 1;
            let r = self.next_rand() as usize;
            let len = bytes.len();
            if let Some(b) = bytes.get_mut(r % len) {
                *b ^= 1 << (r / len % 8);
            }
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.data.len()
    }
}

impl<const W: usize, const E: usize, const R: usize> NorFlash for SimFlash<W, E, R> {
    const WRITE_SIZE: usize = W;
    const ERASE_SIZE: usize = E;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), SimError> {
        let len = (to as usize).saturating_sub(from as usize);
        if to < from {
            return Err(SimError::OutOfBounds {
                offset: from,
                len: 0,
            });
        }
        self.check(from, len, E)?;
        let first = from as usize / E;
        for sector in first..first + len / E {
            self.wear.erases += 1;
            if let Some(c) = self.sector_erases.get_mut(sector) {
                *c += 1;
            }
            let start = sector * E;
            match self.tick() {
                None => self.erase_sector_part(start, start + E),
                Some(Tear::Skip) => return Err(SimError::PowerLoss),
                Some(Tear::Partial) => {
                    self.erase_sector_part(start, start + E / 2);
                    return Err(SimError::PowerLoss);
                }
                Some(Tear::Noise) => {
                    for w in start / W..(start + E) / W {
                        self.noise_word(w);
                    }
                    return Err(SimError::PowerLoss);
                }
                Some(Tear::InWord) => {
                    let erased = [self.cfg.erased; W];
                    for w in start / W..(start + E) / W {
                        self.tear_in_word(w, &erased);
                    }
                    return Err(SimError::PowerLoss);
                }
            }
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimError> {
        self.check(offset, bytes.len(), W)?;
        let addr = bytes.as_ptr() as usize;
        if self.cfg.check_alignment && !addr.is_multiple_of(W) {
            return Err(SimError::UnalignedBuffer { addr, align: W });
        }
        let o = offset as usize;
        let erased = self.cfg.erased;
        // Legality first: a refused write changes nothing.
        if !self.cfg.and_writes {
            for (i, (&new, &old)) in bytes
                .iter()
                .zip(self.data.get(o..).unwrap_or(&[]))
                .enumerate()
            {
                let sets_erased_bits = if erased == 0xFF {
                    new & !old
                } else {
                    !new & old
                };
                if sets_erased_bits != 0 {
                    return Err(SimError::NotErased {
                        offset: offset + i as u32,
                    });
                }
            }
        }
        if self.cfg.ecc_write_once {
            for w in o / W..(o + bytes.len()) / W {
                if self.programmed.get(w).copied().unwrap_or(false) {
                    return Err(SimError::EccRewrite {
                        offset: (w * W) as u32,
                    });
                }
            }
        }
        // What the cells end up holding: the new bits, combined with the old ones by a driver
        // that does not refuse.
        let target: Vec<u8> = bytes
            .iter()
            .zip(self.data.get(o..).unwrap_or(&[]))
            .map(|(&new, &old)| if erased == 0xFF { new & old } else { new | old })
            .collect();
        self.wear.writes += 1;
        let words = bytes.len() / W;
        let tear = self.tick();
        let done = match tear {
            None => words,
            Some(Tear::Skip) => return Err(SimError::PowerLoss),
            Some(Tear::Partial | Tear::InWord) => words / 2,
            Some(Tear::Noise) => 0,
        };
        if let (Some(dst), Some(src)) = (self.data.get_mut(o..o + done * W), target.get(..done * W))
        {
            dst.copy_from_slice(src);
        }
        for w in o / W..o / W + done {
            if let Some(p) = self.programmed.get_mut(w) {
                *p = true;
            }
        }
        if done == words {
            self.wear.bytes_written += bytes.len() as u64;
            return Ok(());
        }
        if tear == Some(Tear::InWord) {
            let w = o / W + done;
            let new = target.get(done * W..(done + 1) * W).unwrap_or(&[]).to_vec();
            self.tear_in_word(w, &new);
            return Err(SimError::PowerLoss);
        }
        // Torn: the word being programmed (Partial) or every word (Noise) holds arbitrary bytes.
        let torn_end = if done == 0 {
            o / W + words
        } else {
            o / W + done + 1
        };
        for w in o / W + done..torn_end.min(o / W + words) {
            self.noise_word(w);
        }
        Err(SimError::PowerLoss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type F = SimFlash<4, 64>;

    /// The tests below write from unaligned stack arrays on purpose; alignment has its own test.
    fn cfg() -> SimConfig {
        SimConfig {
            check_alignment: false,
            ..SimConfig::default()
        }
    }

    #[test]
    fn unaligned_sources_are_refused_and_in_word_tears_can_read_erased() {
        #[repr(C, align(4))]
        struct A([u8; 8]);
        let strict = SimConfig {
            check_alignment: true,
            ..SimConfig::default()
        };
        let mut f = F::new(1, strict);
        let a = A([0; 8]);
        assert!(matches!(
            f.write(0, &a.0[1..5]),
            Err(SimError::UnalignedBuffer { align: 4, .. })
        ));
        f.write(0, &a.0[..4]).unwrap();
        let mut r = SimFlash::<4, 64, 4>::new(1, SimConfig::default());
        assert!(matches!(
            r.read(2, &mut [0; 4]),
            Err(SimError::NotAligned { align: 4, .. })
        ));
        r.read(4, &mut [0; 4]).unwrap();
    }

    #[test]
    fn an_and_driver_combines_bits_instead_of_refusing() {
        let mut f = F::new(
            1,
            SimConfig {
                and_writes: true,
                ..cfg()
            },
        );
        f.write(0, &[0xF0; 4]).unwrap();
        f.write(0, &[0x0F; 4]).unwrap();
        assert_eq!(&f.contents()[..4], &[0x00; 4]);
    }

    #[test]
    fn a_scheduled_read_flip_hits_exactly_one_read() {
        let mut f = F::new(1, cfg());
        f.flip_read(1);
        let mut b = [0u8; 8];
        f.read(0, &mut b).unwrap();
        assert_eq!(b, [0xFF; 8]);
        f.read(0, &mut b).unwrap();
        assert_eq!(b.iter().map(|x| x.count_zeros()).sum::<u32>(), 1);
        f.read(0, &mut b).unwrap();
        assert_eq!(b, [0xFF; 8]);
        assert_eq!(f.wear().read_flips, 1);
    }

    #[test]
    fn writes_only_clear_bits_and_need_alignment() {
        let mut f = F::new(2, cfg());
        f.write(0, &[0xF0, 0xFF, 0xFF, 0x0F]).unwrap();
        assert_eq!(
            f.write(0, &[0xFF, 0, 0, 0]),
            Err(SimError::NotErased { offset: 0 })
        );
        f.write(0, &[0x00, 0xFF, 0xFF, 0x0F]).unwrap();
        assert!(matches!(
            f.write(2, &[0; 4]),
            Err(SimError::NotAligned { .. })
        ));
        assert!(matches!(
            f.write(128, &[0; 4]),
            Err(SimError::OutOfBounds { .. })
        ));
        f.erase(0, 64).unwrap();
        assert_eq!(&f.contents()[..4], &[0xFF; 4]);
        assert_eq!(f.sector_erases(), &[1, 0]);
    }

    #[test]
    fn zero_erased_flash_sets_bits() {
        let mut f = F::new(
            1,
            SimConfig {
                erased: 0x00,
                ..cfg()
            },
        );
        assert_eq!(f.contents()[0], 0);
        f.write(0, &[1, 2, 3, 4]).unwrap();
        assert!(matches!(
            f.write(0, &[0, 2, 3, 4]),
            Err(SimError::NotErased { .. })
        ));
    }

    #[test]
    fn ecc_words_are_written_once_between_erases() {
        let mut f = F::new(
            1,
            SimConfig {
                ecc_write_once: true,
                ..cfg()
            },
        );
        f.write(0, &[0xFF; 4]).unwrap();
        assert_eq!(
            f.write(0, &[0xFF; 4]),
            Err(SimError::EccRewrite { offset: 0 })
        );
        f.erase(0, 64).unwrap();
        f.write(0, &[1; 4]).unwrap();
    }

    #[test]
    fn a_cut_tears_the_operation_and_keeps_power_off() {
        for tear in Tear::ALL {
            let mut f = F::new(1, cfg());
            f.cut_after(1, tear);
            f.write(0, &[0; 8]).unwrap();
            assert_eq!(f.write(8, &[0; 16]), Err(SimError::PowerLoss));
            assert_eq!(f.read(0, &mut [0; 4]), Err(SimError::PowerLoss));
            f.power_on();
            let torn = &f.contents()[8..24];
            match tear {
                Tear::Skip => assert_eq!(torn, &[0xFF; 16]),
                Tear::Partial => {
                    assert_eq!(&torn[..8], &[0; 8]);
                    assert_ne!(&torn[8..12], &[0xFF; 4]);
                    assert_eq!(&torn[12..], &[0xFF; 4]);
                }
                Tear::Noise => assert!(torn.chunks(4).all(|w| w != [0xFF; 4])),
                Tear::InWord => {
                    assert_eq!(&torn[..8], &[0; 8]);
                    assert_eq!(&torn[12..], &[0xFF; 4]);
                }
            }
            assert_eq!(f.ops(), 2);
        }
    }

    #[test]
    fn torn_erase_leaves_half_or_noise() {
        let mut f = F::new(1, cfg());
        f.write(0, &[0; 64]).unwrap();
        f.cut_after(0, Tear::Partial);
        assert_eq!(f.erase(0, 64), Err(SimError::PowerLoss));
        f.power_on();
        assert_eq!(&f.contents()[..32], &[0xFF; 32]);
        assert_eq!(&f.contents()[32..], &[0; 32]);
    }

    #[test]
    fn read_flips_are_not_stored() {
        let mut f = F::new(
            1,
            SimConfig {
                read_flip_one_in: Some(1),
                ..cfg()
            },
        );
        let mut b = [0u8; 8];
        f.read(0, &mut b).unwrap();
        assert_eq!(b.iter().map(|x| x.count_zeros()).sum::<u32>(), 1);
        assert_eq!(&f.contents()[..8], &[0xFF; 8]);
    }
}
