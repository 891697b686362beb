//! Handing the CPU to an application: check its vector table, quiesce what the bootloader used,
//! point VTOR at the application's table, load its initial main stack pointer and branch to its
//! reset vector.

use crate::MAP;

/// NVIC enable/pending registers to clear: one on ARMv6-M (32 interrupts), eight otherwise.
const NVIC_WORDS: usize = if cfg!(armv6m) { 1 } else { 8 };

/// Why an image's vector table cannot be jumped to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorError {
    /// The initial stack pointer is not a word-aligned address in (or just past) RAM.
    StackPointer(u32),
    /// The reset vector is not a Thumb address inside the image.
    ResetVector(u32),
}

/// The first two words of an image's vector table, as they will be used: the initial stack
/// pointer and the reset vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Flash offset of the vector table (the slot's start).
    pub offset: u32,
    /// Initial main stack pointer.
    pub sp: u32,
    /// Reset handler address (Thumb bit set).
    pub reset: u32,
}

/// Checks that the image at flash `offset`, `len` bytes long, was linked to run from there: its
/// stack pointer is in RAM and its reset vector inside the image. An image linked for the
/// other slot fails here instead of faulting after the jump.
pub fn entry(offset: u32, len: u32, words: [u32; 2]) -> Result<Entry, VectorError> {
    let [sp, reset] = words;
    let ram_end = MAP.ram_base + MAP.ram_size;
    if sp % 8 != 0 || sp <= MAP.ram_base || sp > ram_end {
        return Err(VectorError::StackPointer(sp));
    }
    let start = MAP.flash_base + offset;
    let code = reset & !1;
    if reset & 1 == 0 || code < start + 8 || code >= start + len {
        return Err(VectorError::ResetVector(reset));
    }
    Ok(Entry { offset, sp, reset })
}

/// Jumps into the application. Interrupts are disabled and cleared in the NVIC, SysTick is
/// stopped, VTOR moves to the image's table, then MSP and PC are loaded from it.
pub fn boot(entry: Entry) -> ! {
    cortex_m::interrupt::disable();
    // SAFETY: `steal` is used once, right before control leaves the bootloader for good; no
    // other owner of the core peripherals runs after this point.
    #[allow(unsafe_code)]
    let mut p = unsafe { cortex_m::Peripherals::steal() };
    p.SYST.disable_counter();
    p.SYST.disable_interrupt();
    let table = MAP.flash_base + entry.offset;
    // SAFETY: writes to the NVIC's clear-enable and clear-pending registers (no interrupt is
    // enabled afterwards) and to VTOR, whose value is the image's table: 128-byte aligned, as
    // `entry` required of the slot start.
    #[allow(unsafe_code)]
    unsafe {
        for (icer, icpr) in p.NVIC.icer.iter().zip(&p.NVIC.icpr).take(NVIC_WORDS) {
            icer.write(u32::MAX);
            icpr.write(u32::MAX);
        }
        p.SCB.vtor.write(table);
    }
    cortex_m::asm::dsb();
    cortex_m::asm::isb();
    // SAFETY: `entry` checked that the stack pointer lies in RAM and the reset vector inside the
    // verified image, whose vector table VTOR now points at; nothing of the bootloader is used
    // after the branch. Interrupts are enabled again, with none enabled in the NVIC, so the
    // application starts as from reset.
    #[allow(unsafe_code)]
    unsafe {
        cortex_m::interrupt::enable();
        cortex_m::asm::bootstrap(entry.sp as *const u32, entry.reset as *const u32)
    }
}
