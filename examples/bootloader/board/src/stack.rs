//! Stack high-water mark by painting: fill the unused stack with a pattern before the work,
//! find the deepest word that changed after it. Only when the harness asks
//! ([`crate::mailbox::measure_stack`]), so the boot-time figure does not include the painting.

const PAINT: u32 = 0x5A5A_A5A5;

// Symbols of cortex-m-rt's linker script: the end of static RAM and the initial stack pointer.
#[allow(unsafe_code)]
unsafe extern "C" {
    static __euninit: u8;
    static _stack_start: u8;
}

fn bounds() -> (usize, usize) {
    let low = core::ptr::addr_of!(__euninit) as usize;
    let top = core::ptr::addr_of!(_stack_start) as usize;
    (low.next_multiple_of(4), top)
}

/// Paints from the end of static RAM up to just below the current stack frame.
#[inline(never)]
pub fn paint() {
    let (low, _) = bounds();
    let here = cortex_m::register::msp::read() as usize;
    let mut at = low;
    while at + 256 < here {
        // SAFETY: `[low, here - 256)` is stack memory below every live frame (the caller's frame
        // is above `here`, this function's own frame is within 256 bytes of it) and above all
        // statics: nothing lives there.
        #[allow(unsafe_code)]
        unsafe {
            (at as *mut u32).write_volatile(PAINT)
        };
        at += 4;
    }
}

/// Bytes of stack used since [`paint`], measured from the initial stack pointer.
#[inline(never)]
pub fn high_water() -> u32 {
    let (low, top) = bounds();
    let mut at = low;
    while at < top {
        // SAFETY: a read of RAM between the end of the statics and the stack top.
        #[allow(unsafe_code)]
        let v = unsafe { (at as *const u32).read_volatile() };
        if v != PAINT {
            break;
        }
        at += 4;
    }
    (top - at) as u32
}
