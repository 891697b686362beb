//! The bootloader's flash: the board's driver, feeding the watchdog at every operation.
//!
//! The watchdog is armed for the application's period before anything is decided (so that a
//! hang anywhere after reset is reset), but the bootloader's own work is longer than one
//! healthy application loop: the worst `decide` checks a slot twice before it calls it corrupt
//! and then verifies the other one (three signature checks and SHA-256s of up to a slot, about
//! 40M instructions for a 256 KiB image on the Cortex-M4), and a swap moves whole slots. Every
//! step of that work reads or writes flash, so feeding as it goes keeps the watchdog
//! from resetting the bootloader in the middle of a long but bounded decision, while a hang in
//! the bootloader outside flash access, or in the application, is still reset. embassy-boot's
//! `WatchdogFlash` and MCUboot's `MCUBOOT_WATCHDOG_FEED` do the same, for parts whose watchdog
//! keeps running across a reset (nRF52's, or an STM32 with the hardware watchdog option).

use board::watchdog;
use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};

/// Bytes read between two feeds: hashing them takes about 40 instructions a byte (SHA-256 and the
/// copy), so 16 KiB is some 0.7M instructions, far inside the 40M of a watchdog period, and a
/// feed (three register writes and a call) on every 512-byte read would add 0.2% to the boot.
const FEED_EVERY: usize = 16 * 1024;

/// A flash driver that feeds the watchdog before every write and erase, and every
/// [`FEED_EVERY`] bytes read.
pub struct FedFlash<F> {
    flash: F,
    /// Bytes read since the last feed.
    unfed: usize,
}

impl<F> FedFlash<F> {
    /// Wraps `flash`.
    pub const fn new(flash: F) -> Self {
        Self { flash, unfed: 0 }
    }
}

impl<F: ErrorType> ErrorType for FedFlash<F> {
    type Error = F::Error;
}

impl<F: ReadNorFlash> ReadNorFlash for FedFlash<F> {
    const READ_SIZE: usize = F::READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.unfed += bytes.len();
        if self.unfed >= FEED_EVERY {
            self.unfed = 0;
            watchdog::feed();
        }
        self.flash.read(offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.flash.capacity()
    }
}

impl<F: NorFlash> NorFlash for FedFlash<F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        watchdog::feed();
        self.flash.erase(from, to)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        watchdog::feed();
        self.flash.write(offset, bytes)
    }
}
