//! A fault-injecting simulated NOR flash for testing flash-backed storage on the host.
//!
//! [`SimFlash`] implements `embedded-storage`'s `NorFlash` with the rules real parts enforce and
//! the failures they have, so the [`crate::queue`] power-cut proof (and yours, over your own
//! driver integration) runs against the quirks that break firmware in the field:
//!
//! - erased value `0xFF` (most NOR) or `0x00` ([`SimConfig::erased`]);
//! - writes only move bits away from the erased value, in whole `W`-byte words at aligned
//!   offsets; reads in whole `R`-byte units at aligned offsets (`READ_SIZE > 1`, as some QSPI
//!   and ECC parts require); erases in whole `E`-byte sectors;
//! - write-once ECC words ([`SimConfig::ecc_write_once`]): a word may be programmed once between
//!   erases, even with the same bytes, and a torn word counts as programmed even where it still
//!   reads erased (STM32H7/L4-style);
//! - source and destination buffers must be aligned in memory ([`SimConfig::buffer_align`]), as
//!   DMA-driven HALs require;
//! - power cuts: [`SimFlash::cut_after`]`(n, tear)` lets `n` more writes or erases complete and
//!   interrupts the next one as [`Tear`] says (including a tear inside a word); every operation
//!   after it fails with [`SimError::PowerLoss`] until [`SimFlash::power_on`];
//! - transient read errors: one bit flipped in one of every `n` reads, never stored
//!   ([`SimConfig::read_flip_one_in`]);
//! - leftover or foreign contents ([`SimFlash::fill_noise`], [`SimFlash::load`]);
//! - wear and traffic counters per sector ([`Wear`], [`SimFlash::sector_erases`]).
//!
//! A torn bit is left either as it was or as the operation wanted it, never anything else, and
//! it reads the same every time (this simulator does not model bits that flicker between
//! reads after an interrupted program; see the limits in [`crate::queue`]).
//!
//! No allocation: the contents live in the value (`SIZE` bytes, three times over), so box a
//! large one on the host. Test support, not a driver: nothing here is used on a device.

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// How an interrupted write or erase is left.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tear {
    /// The operation did not start: flash is unchanged.
    Skip,
    /// A write programmed its first half of words (whole words); an erase erased the first half
    /// of its sector.
    Prefix,
    /// As `Prefix`, and the word (or, for an erase, the byte range) at the cut is torn inside:
    /// each of its bits is either old or new. On ECC flash the torn word counts as programmed.
    InsideWord,
    /// Every bit the operation touches is either old or new, independently.
    Noise,
}

impl Tear {
    /// Every variant, for exhaustive tests.
    pub const ALL: [Tear; 4] = [Tear::Skip, Tear::Prefix, Tear::InsideWord, Tear::Noise];
}

/// Simulator behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimConfig {
    /// The erased byte value: `0xFF` or `0x00`.
    pub erased: u8,
    /// Each write word can be programmed only once between erases.
    pub ecc_write_once: bool,
    /// Flip one random bit in one of every this many reads (not stored).
    pub read_flip_one_in: Option<u32>,
    /// Buffers passed to `read` and `write` must start at a multiple of this address (1: any).
    pub buffer_align: usize,
    /// Seed for torn bits, noise and read flips.
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            erased: 0xFF,
            ecc_write_once: false,
            read_flip_one_in: None,
            buffer_align: 1,
            seed: 1,
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
}

/// What the simulator refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The power is off (cut during this or an earlier operation).
    #[error("power lost: the flash refuses every operation until power_on")]
    PowerLoss,
    /// Access outside the flash.
    #[error("access of {len} bytes at {offset:#x} is outside the flash of {capacity} bytes")]
    OutOfBounds {
        /// Start.
        offset: u32,
        /// Length.
        len: usize,
        /// Size of the flash.
        capacity: usize,
    },
    /// Offset or length not a multiple of the operation's granularity.
    #[error("access of {len} bytes at {offset:#x} is not aligned to {align} bytes")]
    NotAligned {
        /// Start.
        offset: u32,
        /// Length.
        len: usize,
        /// Required alignment.
        align: usize,
    },
    /// A buffer in RAM is not aligned as the driver requires.
    #[error("buffer at address {address:#x} is not aligned to {align} bytes")]
    BufferNotAligned {
        /// The buffer's address.
        address: usize,
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

/// Most sectors a simulated flash has.
pub const MAX_SECTORS: usize = 256;

/// A simulated NOR flash of `SIZE` bytes with `R`-byte reads, `W`-byte write words and `E`-byte
/// erase sectors.
#[derive(Clone, Debug)]
pub struct SimFlash<const SIZE: usize, const R: usize, const W: usize, const E: usize> {
    data: [u8; SIZE],
    /// Per byte: programmed since the last erase (whole words at a time).
    programmed: [bool; SIZE],
    sector_erases: [u32; MAX_SECTORS],
    wear: Wear,
    cfg: SimConfig,
    ops: u64,
    cut: Option<(u64, Tear)>,
    dead: bool,
    rng: u64,
}

impl<const SIZE: usize, const R: usize, const W: usize, const E: usize> SimFlash<SIZE, R, W, E> {
    /// An erased flash.
    ///
    /// # Panics
    /// When the geometry is inconsistent (`SIZE` not a multiple of `E`, `E` not a multiple of
    /// `W` and `R`, or more than [`MAX_SECTORS`] sectors): a test-setup mistake.
    pub fn new(cfg: SimConfig) -> Self {
        assert!(
            R > 0 && W > 0 && E > 0 && SIZE.is_multiple_of(E),
            "bad sim geometry"
        );
        assert!(
            E.is_multiple_of(W) && E.is_multiple_of(R) && SIZE / E <= MAX_SECTORS,
            "bad sim geometry"
        );
        assert!(
            cfg.buffer_align.is_power_of_two(),
            "buffer_align: power of two"
        );
        Self {
            data: [cfg.erased; SIZE],
            programmed: [false; SIZE],
            sector_erases: [0; MAX_SECTORS],
            wear: Wear::default(),
            cfg,
            ops: 0,
            cut: None,
            dead: false,
            rng: cfg.seed | 1,
        }
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

    /// Reseeds the noise and read-flip generator (e.g. per cut point).
    pub fn reseed(&mut self, seed: u64) {
        self.rng = seed | 1;
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
        self.sector_erases.get(..SIZE / E).unwrap_or(&[])
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// Turns read flips on or off (e.g. off while a test inspects the contents).
    pub fn set_read_flips(&mut self, one_in: Option<u32>) {
        self.cfg.read_flip_one_in = one_in;
    }

    /// The raw contents.
    pub fn contents(&self) -> &[u8] {
        &self.data
    }

    /// Overwrites raw contents at `offset` (foreign or garbage data, as if written by other
    /// firmware). The touched words count as programmed.
    pub fn load(&mut self, offset: usize, bytes: &[u8]) {
        let end = (offset + bytes.len()).min(SIZE);
        if offset >= end {
            return;
        }
        if let (Some(dst), Some(src)) = (self.data.get_mut(offset..end), bytes.get(..end - offset))
        {
            dst.copy_from_slice(src);
        }
        let (w0, w1) = (offset / W * W, end.div_ceil(W) * W);
        if let Some(p) = self.programmed.get_mut(w0..w1.min(SIZE)) {
            p.fill(true);
        }
    }

    /// Fills the whole flash with pseudo-random bytes, so code cannot rely on initial contents.
    pub fn fill_noise(&mut self) {
        for i in 0..SIZE {
            let r = self.next_rand() as u8;
            if let Some(b) = self.data.get_mut(i) {
                *b = r;
            }
        }
        self.programmed.fill(true);
    }

    fn check(&self, offset: u32, len: usize, align: usize, buf: usize) -> Result<(), SimError> {
        if self.dead {
            return Err(SimError::PowerLoss);
        }
        let o = offset as usize;
        if o.checked_add(len).is_none_or(|end| end > SIZE) {
            return Err(SimError::OutOfBounds {
                offset,
                len,
                capacity: SIZE,
            });
        }
        if !o.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(SimError::NotAligned { offset, len, align });
        }
        if !buf.is_multiple_of(self.cfg.buffer_align) {
            return Err(SimError::BufferNotAligned {
                address: buf,
                align: self.cfg.buffer_align,
            });
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

    /// Leaves each bit of `data[i]` either as it is or as `target`, at random.
    fn tear_byte(&mut self, i: usize, target: u8) {
        let keep = self.next_rand() as u8;
        if let Some(b) = self.data.get_mut(i) {
            *b = (*b & keep) | (target & !keep);
        }
    }

    fn erase_range(&mut self, start: usize, end: usize) {
        let erased = self.cfg.erased;
        if let Some(d) = self.data.get_mut(start..end) {
            d.fill(erased);
        }
        if let Some(p) = self.programmed.get_mut(start..end) {
            p.fill(false);
        }
    }
}

impl<const SIZE: usize, const R: usize, const W: usize, const E: usize> ErrorType
    for SimFlash<SIZE, R, W, E>
{
    type Error = SimError;
}

impl<const SIZE: usize, const R: usize, const W: usize, const E: usize> ReadNorFlash
    for SimFlash<SIZE, R, W, E>
{
    const READ_SIZE: usize = R;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SimError> {
        self.check(offset, bytes.len(), R, bytes.as_ptr() as usize)?;
        self.wear.reads += 1;
        let o = offset as usize;
        if let Some(src) = self.data.get(o..o + bytes.len()) {
            bytes.copy_from_slice(src);
        }
        if let Some(n) = self.cfg.read_flip_one_in
            && !bytes.is_empty()
            && self.next_rand().is_multiple_of(u64::from(n.max(1)))
        {
            let r = self.next_rand() as usize;
            let len = bytes.len();
            if let Some(b) = bytes.get_mut(r % len) {
                *b ^= 1 << (r / len % 8);
            }
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        SIZE
    }
}

impl<const SIZE: usize, const R: usize, const W: usize, const E: usize> NorFlash
    for SimFlash<SIZE, R, W, E>
{
    const WRITE_SIZE: usize = W;
    const ERASE_SIZE: usize = E;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), SimError> {
        if to < from {
            return Err(SimError::OutOfBounds {
                offset: from,
                len: 0,
                capacity: SIZE,
            });
        }
        let len = (to - from) as usize;
        self.check(from, len, E, 0)?;
        let first = from as usize / E;
        let erased = self.cfg.erased;
        for sector in first..first + len / E {
            self.wear.erases += 1;
            if let Some(c) = self.sector_erases.get_mut(sector) {
                *c += 1;
            }
            let start = sector * E;
            let Some(tear) = self.tick() else {
                self.erase_range(start, start + E);
                continue;
            };
            let half = start + E / 2;
            match tear {
                Tear::Skip => {}
                Tear::Prefix => self.erase_range(start, half),
                Tear::InsideWord => {
                    self.erase_range(start, half);
                    for i in half..half + W.max(R) {
                        self.tear_byte(i, erased);
                    }
                }
                Tear::Noise => {
                    for i in start..start + E {
                        self.tear_byte(i, erased);
                    }
                }
            }
            // Whatever the erase reached is no longer "programmed" for ECC purposes only where
            // it fully completed; torn words stay programmed.
            return Err(SimError::PowerLoss);
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimError> {
        self.check(offset, bytes.len(), W, bytes.as_ptr() as usize)?;
        let o = offset as usize;
        let erased = self.cfg.erased;
        // Legality first: a refused write changes nothing.
        for (i, (&new, &old)) in bytes
            .iter()
            .zip(self.data.get(o..).unwrap_or(&[]))
            .enumerate()
        {
            let back_to_erased = if erased == 0xFF {
                new & !old
            } else {
                !new & old
            };
            if back_to_erased != 0 {
                return Err(SimError::NotErased {
                    offset: offset + i as u32,
                });
            }
        }
        if self.cfg.ecc_write_once
            && let Some(w) = (o..o + bytes.len())
                .step_by(W)
                .find(|&w| self.programmed.get(w).copied().unwrap_or(false))
        {
            return Err(SimError::EccRewrite { offset: w as u32 });
        }
        self.wear.writes += 1;
        let words = bytes.len() / W;
        let tear = self.tick();
        let done = match tear {
            None => words,
            Some(Tear::Skip) => return Err(SimError::PowerLoss),
            Some(Tear::Prefix | Tear::InsideWord) => words / 2,
            Some(Tear::Noise) => 0,
        };
        if let (Some(dst), Some(src)) = (self.data.get_mut(o..o + done * W), bytes.get(..done * W))
        {
            dst.copy_from_slice(src);
        }
        if let Some(p) = self.programmed.get_mut(o..o + done * W) {
            p.fill(true);
        }
        if done == words {
            self.wear.bytes_written += bytes.len() as u64;
            return Ok(());
        }
        let torn = match tear {
            Some(Tear::InsideWord) => done * W..(done + 1) * W,
            Some(Tear::Noise) => 0..words * W,
            _ => 0..0,
        };
        for i in torn {
            if let Some(&b) = bytes.get(i) {
                self.tear_byte(o + i, b);
            }
            if let Some(p) = self.programmed.get_mut(o + i) {
                *p = true;
            }
        }
        Err(SimError::PowerLoss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type F = SimFlash<128, 1, 4, 64>;

    #[repr(align(4))]
    struct A<const N: usize>([u8; N]);

    #[test]
    fn writes_only_clear_bits_and_need_alignment() {
        let mut f = F::new(SimConfig::default());
        f.write(0, &A([0xF0, 0xFF, 0xFF, 0x0F]).0).unwrap();
        assert_eq!(
            f.write(0, &A([0xFF, 0, 0, 0]).0),
            Err(SimError::NotErased { offset: 0 })
        );
        f.write(0, &A([0x00, 0xFF, 0xFF, 0x0F]).0).unwrap();
        assert!(matches!(
            f.write(2, &A([0; 4]).0),
            Err(SimError::NotAligned { .. })
        ));
        assert!(matches!(
            f.write(128, &A([0; 4]).0),
            Err(SimError::OutOfBounds { .. })
        ));
        f.erase(0, 64).unwrap();
        assert_eq!(&f.contents()[..4], &[0xFF; 4]);
        assert_eq!(f.sector_erases(), &[1, 0]);
    }

    #[test]
    fn zero_erased_flash_sets_bits() {
        let cfg = SimConfig {
            erased: 0x00,
            ..SimConfig::default()
        };
        let mut f = F::new(cfg);
        assert_eq!(f.contents()[0], 0);
        f.write(0, &A([1, 2, 3, 4]).0).unwrap();
        assert!(matches!(
            f.write(0, &A([0, 2, 3, 4]).0),
            Err(SimError::NotErased { .. })
        ));
    }

    #[test]
    fn ecc_words_are_written_once_between_erases() {
        let cfg = SimConfig {
            ecc_write_once: true,
            ..SimConfig::default()
        };
        let mut f = F::new(cfg);
        f.write(0, &A([0xFF; 4]).0).unwrap();
        assert_eq!(
            f.write(0, &A([0xFF; 4]).0),
            Err(SimError::EccRewrite { offset: 0 })
        );
        f.erase(0, 64).unwrap();
        f.write(0, &A([1; 4]).0).unwrap();
    }

    #[test]
    fn read_size_and_buffer_alignment_are_enforced() {
        let cfg = SimConfig {
            buffer_align: 4,
            ..SimConfig::default()
        };
        let mut f = SimFlash::<128, 4, 4, 64>::new(cfg);
        let mut a = A([0u8; 8]);
        assert!(matches!(
            f.read(2, &mut a.0[..4]),
            Err(SimError::NotAligned { align: 4, .. })
        ));
        assert!(matches!(
            f.read(0, &mut a.0[1..5]),
            Err(SimError::BufferNotAligned { align: 4, .. })
        ));
        f.read(4, &mut a.0[4..]).unwrap();
    }

    #[test]
    fn a_cut_tears_the_operation_and_keeps_power_off() {
        for tear in Tear::ALL {
            let mut f = F::new(SimConfig::default());
            f.cut_after(1, tear);
            f.write(0, &A([0; 8]).0).unwrap();
            assert_eq!(f.write(8, &A([0; 16]).0), Err(SimError::PowerLoss));
            assert_eq!(f.read(0, &mut [0; 4]), Err(SimError::PowerLoss));
            f.power_on();
            let torn = &f.contents()[8..24];
            match tear {
                Tear::Skip => assert_eq!(torn, &[0xFF; 16]),
                Tear::Prefix => {
                    assert_eq!(&torn[..8], &[0; 8]);
                    assert_eq!(&torn[8..], &[0xFF; 8]);
                }
                Tear::InsideWord => {
                    assert_eq!(&torn[..8], &[0; 8]);
                    assert_eq!(&torn[12..], &[0xFF; 4]);
                }
                Tear::Noise => {}
            }
            assert_eq!(f.ops(), 2);
        }
    }

    #[test]
    fn a_torn_ecc_word_that_reads_erased_is_still_programmed() {
        let cfg = SimConfig {
            ecc_write_once: true,
            seed: 7,
            ..SimConfig::default()
        };
        let mut f = F::new(cfg);
        f.cut_after(0, Tear::Noise);
        // All-ones data: the word reads erased after any tear.
        assert_eq!(f.write(0, &A([0xFF; 4]).0), Err(SimError::PowerLoss));
        f.power_on();
        assert_eq!(&f.contents()[..4], &[0xFF; 4]);
        assert_eq!(
            f.write(0, &A([0; 4]).0),
            Err(SimError::EccRewrite { offset: 0 })
        );
    }

    #[test]
    fn torn_erase_leaves_half_or_noise() {
        let mut f = F::new(SimConfig::default());
        f.write(0, &A([0; 64]).0).unwrap();
        f.cut_after(0, Tear::Prefix);
        assert_eq!(f.erase(0, 64), Err(SimError::PowerLoss));
        f.power_on();
        assert_eq!(&f.contents()[..32], &[0xFF; 32]);
        assert_eq!(&f.contents()[32..64], &[0; 32]);
    }

    #[test]
    fn read_flips_are_not_stored() {
        let cfg = SimConfig {
            read_flip_one_in: Some(1),
            ..SimConfig::default()
        };
        let mut f = F::new(cfg);
        let mut b = [0u8; 8];
        f.read(0, &mut b).unwrap();
        assert_eq!(b.iter().map(|x| x.count_zeros()).sum::<u32>(), 1);
        assert_eq!(&f.contents()[..8], &[0xFF; 8]);
    }
}
