//! The NOR flash driver: `embedded-storage`'s `NorFlash` over the machine's memory-mapped flash,
//! persisted in a host file.
//!
//! QEMU's MPS2 boards have no flash controller, so the "flash" is a region of the board's SSRAM
//! that the harness loads from a host file (`flash.bin`) at every start (`-device loader`), and
//! this driver mirrors every change into that file through semihosting, so the file is always
//! what the flash holds. The machine never reboots in place: a reset (SYSRESETREQ, the watchdog)
//! stops QEMU (`-no-reboot`), and the harness starts it again from the file alone.
//!
//! The rules of real NOR flash are enforced here, as a real part would:
//!
//! - erase works on whole sectors ([`crate::MAP`]`.erase_size`) and sets them to `0xFF`;
//! - writes are whole, aligned program units (`write_size`) and only program erased bytes:
//!   writing over a byte that is not `0xFF` fails with [`FlashError::NotErased`];
//! - the bootloader's own region is write-protected ([`FlashError::Protected`]), as a real
//!   part's option bytes would protect it.
//!
//! Each change reaches the file in pieces ([`MIRROR_WRITE`], [`MIRROR_ERASE`] bytes), so a power
//! cut by instruction count that lands inside an operation leaves it torn (a prefix done). The
//! harness's flash-operation cuts ([`crate::mailbox`]) tear the chosen operation on purpose, in
//! one of the ways [`Tear`] lists, then stop the machine.

use crate::MAP;
use crate::host::{self, File, Mode};
use crate::mailbox::{self, Tear};
use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Bytes of a write that reach the host file in one piece.
pub const MIRROR_WRITE: usize = 64;
/// Bytes of an erase that reach the host file in one piece.
pub const MIRROR_ERASE: usize = 1024;
/// Name of the host file that backs the flash.
pub const FILE: &core::ffi::CStr = c"flash.bin";

/// Why a flash operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashError {
    /// The range is not inside the part.
    OutOfBounds,
    /// The offset or length is not a multiple of the operation's unit.
    NotAligned,
    /// A write would program a byte that is not erased.
    NotErased {
        /// Offset of the first such byte.
        offset: u32,
    },
    /// The range touches the bootloader's write-protected region.
    Protected,
    /// The host file that persists the flash could not be opened or written.
    Persist,
}

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::OutOfBounds | Self::Protected => NorFlashErrorKind::OutOfBounds,
            Self::NotAligned => NorFlashErrorKind::NotAligned,
            Self::NotErased { .. } | Self::Persist => NorFlashErrorKind::Other,
        }
    }
}

impl FlashError {
    /// A short description for the console.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::OutOfBounds => "range outside the flash",
            Self::NotAligned => "range not aligned to the write or erase unit",
            Self::NotErased { .. } => "write over bytes that are not erased",
            Self::Protected => "range inside the write-protected bootloader region",
            Self::Persist => "the host flash file could not be written",
        }
    }
}

/// The flash driver. Reads need nothing but the memory map; the host file is opened at the first
/// change.
pub struct Flash {
    file: Option<File>,
}

impl Default for Flash {
    fn default() -> Self {
        Self::new()
    }
}

impl Flash {
    /// A driver over [`MAP`]'s flash.
    pub const fn new() -> Self {
        Self { file: None }
    }

    /// Reads `bytes.len()` bytes at `offset` (bounds already checked).
    ///
    /// From a word-aligned offset, on cores that store unaligned words (ARMv7-M and ARMv8-M
    /// Mainline), whole words go eight at a time: the bootloader reads every image through here
    /// into a byte buffer of any alignment, and `memcpy` took 1 instruction a byte (about 2% of
    /// a boot) against 0.6 here.
    fn load(offset: u32, bytes: &mut [u8]) {
        const STEP: usize = 8;
        let src = (MAP.flash_base + offset) as *const u8;
        let words = if cfg!(armv6m) || !offset.is_multiple_of(4) {
            0
        } else {
            bytes.len() / (4 * STEP) * STEP
        };
        let dst = bytes.as_mut_ptr();
        for i in (0..words).step_by(STEP) {
            // SAFETY: `i + STEP <= words <= len / 4`, so the words read lie inside the flash
            // range `offset..offset + len` (checked by the caller, memory-mapped for the whole
            // run, word aligned because `offset` and the flash base are), and the words written
            // lie inside `bytes`; these cores allow unaligned word stores to normal memory
            // (RAM). Volatile reads keep the compiler from turning the loop back into a
            // `memcpy` call.
            #[allow(unsafe_code)]
            unsafe {
                let from = src.cast::<u32>().add(i);
                let to = dst.cast::<u32>().add(i);
                // Written out: opt-level "z" does not unroll loops.
                let w = [
                    from.read_volatile(),
                    from.add(1).read_volatile(),
                    from.add(2).read_volatile(),
                    from.add(3).read_volatile(),
                    from.add(4).read_volatile(),
                    from.add(5).read_volatile(),
                    from.add(6).read_volatile(),
                    from.add(7).read_volatile(),
                ];
                to.write_unaligned(w[0]);
                to.add(1).write_unaligned(w[1]);
                to.add(2).write_unaligned(w[2]);
                to.add(3).write_unaligned(w[3]);
                to.add(4).write_unaligned(w[4]);
                to.add(5).write_unaligned(w[5]);
                to.add(6).write_unaligned(w[6]);
                to.add(7).write_unaligned(w[7]);
            }
        }
        let done = words * 4;
        if done == bytes.len() {
            return;
        }
        // SAFETY: `done <= len`; `offset + done..offset + len` lies inside the flash region
        // (checked by the caller), memory-mapped for the whole run, and `bytes` cannot overlap
        // it (it is RAM).
        #[allow(unsafe_code)]
        unsafe {
            core::ptr::copy_nonoverlapping(src.add(done), dst.add(done), bytes.len() - done);
        }
    }

    /// Stores `bytes` at `offset` in the memory-mapped flash and in the host file.
    fn store(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        let dst = (MAP.flash_base + offset) as *mut u8;
        // SAFETY: the range lies inside the flash region (checked by the caller) and outside the
        // bootloader's protected region, so it holds no code or data of the running program: a
        // slot (never the one running: the updater writes the inactive one) or the journal.
        #[allow(unsafe_code)]
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len());
        }
        if self.file.is_none() {
            self.file = host::open(FILE, Mode::ReadWrite);
        }
        let file = self.file.as_mut().ok_or(FlashError::Persist)?;
        file.seek(offset).map_err(|_| FlashError::Persist)?;
        file.write(bytes).map_err(|_| FlashError::Persist)
    }

    fn check(offset: u32, len: usize, unit: u32) -> Result<(), FlashError> {
        let end = u64::from(offset) + len as u64;
        if end > u64::from(MAP.flash_size) {
            return Err(FlashError::OutOfBounds);
        }
        if !offset.is_multiple_of(unit) || !(len as u64).is_multiple_of(u64::from(unit)) {
            return Err(FlashError::NotAligned);
        }
        if offset < MAP.boot_size {
            return Err(FlashError::Protected);
        }
        Ok(())
    }

    /// Stops the machine after a planned cut, saying where.
    fn cut(kind: &str, offset: u32, tear: Tear) -> ! {
        host::Line::new("cut: flash op=")
            .dec(u64::from(mailbox::ops()))
            .str(" ")
            .str(kind)
            .str(" at=")
            .hex(offset)
            .str(" tear=")
            .str(match tear {
                Tear::Before => "before",
                Tear::Half => "half",
                Tear::Noise => "noise",
                Tear::After => "after",
            })
            .send();
        host::exit(true)
    }

    /// Erases `[from, to)` (sector aligned), sector by sector.
    fn erase_range(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        let ones = [0xFFu8; MIRROR_ERASE];
        let mut at = from;
        while at < to {
            let n = (to - at).min(MIRROR_ERASE as u32);
            self.store(at, ones.get(..n as usize).unwrap_or_default())?;
            at += n;
        }
        Ok(())
    }

    /// Programs whole pieces of `bytes` at `offset`.
    fn program(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        for (i, piece) in bytes.chunks(MIRROR_WRITE).enumerate() {
            self.store(offset + (i * MIRROR_WRITE) as u32, piece)?;
        }
        Ok(())
    }

    /// Leaves `[at, at + len)` half-done: each byte becomes `torn(i, current, noise)`, `i`
    /// counted from `at`, `noise` drawn from `seed`.
    fn half_done(&mut self, at: u32, len: u32, seed: u32, torn: impl Fn(usize, u8, u8) -> u8) {
        let mut x = seed | 1;
        let mut buf = [0u8; MIRROR_WRITE];
        let mut off = 0;
        while off < len {
            let n = (len - off).min(MIRROR_WRITE as u32) as usize;
            let piece = buf.get_mut(..n).unwrap_or_default();
            Self::load(at + off, piece);
            for (j, b) in piece.iter_mut().enumerate() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = torn(off as usize + j, *b, x as u8);
            }
            // The machine stops right after; a failed mirror only makes the tear smaller.
            let _ = self.store(at + off, piece);
            off += n as u32;
        }
    }
}

/// The flash bytes `[offset, offset + len)` as a slice, for a program that only reads flash (the
/// bare baseline hashes an image in place). `None` if the range is outside the flash.
///
/// A program that also writes flash through [`Flash`] must not hold such a slice across a write.
pub fn mapped(offset: u32, len: u32) -> Option<&'static [u8]> {
    let end = offset.checked_add(len)?;
    if end > MAP.flash_size {
        return None;
    }
    // SAFETY: the range lies inside the flash region, which is memory-mapped and readable for
    // the whole run; the callers (read-only programs) never change it while the slice lives.
    #[allow(unsafe_code)]
    Some(unsafe {
        core::slice::from_raw_parts((MAP.flash_base + offset) as *const u8, len as usize)
    })
}

impl ErrorType for Flash {
    type Error = FlashError;
}

impl ReadNorFlash for Flash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        let end = u64::from(offset) + bytes.len() as u64;
        if end > u64::from(MAP.flash_size) {
            return Err(FlashError::OutOfBounds);
        }
        Self::load(offset, bytes);
        Ok(())
    }

    fn capacity(&self) -> usize {
        MAP.flash_size as usize
    }
}

impl NorFlash for Flash {
    const WRITE_SIZE: usize = MAP.write_size as usize;
    const ERASE_SIZE: usize = MAP.erase_size as usize;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        let len = to.checked_sub(from).ok_or(FlashError::OutOfBounds)?;
        Self::check(from, len as usize, MAP.erase_size)?;
        if let Some((tear, seed)) = mailbox::next_op() {
            let half = (len / 2).next_multiple_of(MAP.write_size);
            match tear {
                Tear::Before => {}
                Tear::Half => self.erase_range(from, from + half)?,
                Tear::Noise => {
                    self.erase_range(from, from + half)?;
                    // Partly erased: some bits already back to 1.
                    self.half_done(from + half, len - half, seed, |_, old, noise| old | noise);
                }
                Tear::After => self.erase_range(from, to)?,
            }
            Self::cut("erase", from, tear);
        }
        self.erase_range(from, to)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        Self::check(offset, bytes.len(), MAP.write_size)?;
        let mut current = [0u8; MIRROR_WRITE];
        for (i, piece) in bytes.chunks(MIRROR_WRITE).enumerate() {
            let at = offset + (i * MIRROR_WRITE) as u32;
            let now = current.get_mut(..piece.len()).unwrap_or_default();
            Self::load(at, now);
            if let Some(j) = now.iter().position(|&b| b != 0xFF) {
                return Err(FlashError::NotErased {
                    offset: at + j as u32,
                });
            }
        }
        if let Some((tear, seed)) = mailbox::next_op() {
            let half = (bytes.len() / 2).next_multiple_of(MAP.write_size as usize);
            let (head, tail) = bytes.split_at(half.min(bytes.len()));
            match tear {
                Tear::Before => {}
                Tear::Half => self.program(offset, head)?,
                Tear::Noise => {
                    self.program(offset, head)?;
                    // Partly programmed: some of the bits that should be 0 still read 1.
                    let at = offset + head.len() as u32;
                    self.half_done(at, tail.len() as u32, seed, |i, _, noise| {
                        tail.get(i).map_or(0xFF, |&data| data | noise)
                    });
                }
                Tear::After => self.program(offset, bytes)?,
            }
            Self::cut("write", offset, tear);
        }
        self.program(offset, bytes)
    }
}
