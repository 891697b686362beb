//! Stack high-water mark by painting.
//!
//! Before a phase, every word of a window below the current stack pointer is filled with a
//! known pattern; after it, the lowest word that no longer holds the pattern marks the deepest
//! point the stack reached. Depth is measured from the top of the stack (`_stack_start`), so it
//! includes everything the firmware had on the stack when the phase began.
//!
//! Reading and writing memory below the stack pointer needs raw pointers: this module is one of
//! the two places in the firmware that use `unsafe` (the other is [`crate::flash::take_region`]).
#![allow(unsafe_code)]

use core::ptr;

/// The paint: unlikely to be a live value.
const PAINT: u32 = 0xC0DE_5AFE;
/// Bytes below the stack pointer that [`Paint::new`] paints.
const WINDOW: usize = 64 * 1024;
/// Bytes right below the stack pointer left alone, for [`Paint::new`]'s own frame.
const GUARD: usize = 256;

unsafe extern "C" {
    /// Top of the stack (highest address + 1), from cortex-m-rt's linker script.
    static _stack_start: u32;
    /// Lowest address the stack may reach, from cortex-m-rt's linker script.
    static _stack_end: u32;
}

/// A painted window of the stack.
pub struct Paint {
    bottom: usize,
    top_of_paint: usize,
}

/// The phase used more stack than the painted window holds.
#[derive(Debug)]
pub struct WindowExhausted;

impl core::fmt::Display for WindowExhausted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "the stack grew past the {WINDOW}-byte painted window; expected a shallower phase"
        )
    }
}

impl Paint {
    /// Paints [`WINDOW`] bytes below the current stack pointer (less a small guard).
    #[inline(never)]
    pub fn new() -> Self {
        let sp = cortex_m::register::msp::read() as usize;
        let limit = ptr::addr_of!(_stack_end) as usize;
        let top_of_paint = (sp - GUARD) & !3;
        let bottom = top_of_paint.saturating_sub(WINDOW).max((limit + 3) & !3);
        let mut addr = bottom;
        while addr < top_of_paint {
            // SAFETY: `bottom..top_of_paint` lies between the linker's lowest stack address and
            // a guard below the live stack pointer: memory no live frame owns, word-aligned.
            unsafe { ptr::write_volatile(addr as *mut u32, PAINT) };
            addr += 4;
        }
        Self {
            bottom,
            top_of_paint,
        }
    }

    /// Stack depth, in bytes from the top, when the paint was applied.
    pub fn base(&self) -> usize {
        ptr::addr_of!(_stack_start) as usize - self.top_of_paint - GUARD
    }

    /// Deepest stack use since [`Paint::new`], in bytes from the top of the stack.
    pub fn high_water(&self) -> Result<usize, WindowExhausted> {
        let top = ptr::addr_of!(_stack_start) as usize;
        let mut addr = self.bottom;
        while addr < self.top_of_paint {
            // SAFETY: the same word-aligned window `new` painted; reading it races with nothing
            // (single core, no interrupt handler uses this much stack).
            if unsafe { ptr::read_volatile(addr as *const u32) } != PAINT {
                if addr == self.bottom {
                    return Err(WindowExhausted);
                }
                return Ok(top - addr);
            }
            addr += 4;
        }
        Ok(top - self.top_of_paint)
    }
}
