//! Faults: the HardFault handler every binary on this board gets, and the read of a peripheral
//! the board does not have (how the example's bad release crashes).
//!
//! A real product's handler would record the fault (for the next boot's report) and reset; this
//! one prints where it happened and resets. Under the harness the reset stops the machine.

use crate::host::Line;
use cortex_m_rt::{ExceptionFrame, exception};

/// An address with no peripheral behind it on the MPS2 boards.
const MISSING_PERIPHERAL: u32 = 0x6000_0000;

#[exception]
#[allow(unsafe_code)] // cortex-m-rt's contract for HardFault handlers; the body is safe code.
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    Line::new("fault: hard fault at pc=")
        .hex(frame.pc())
        .str("; resetting ops=")
        .dec(u64::from(crate::mailbox::ops()))
        .send();
    crate::reset::system_reset()
}

/// Reads a sensor register that is not there: the bus faults (escalated to a hard fault), and
/// the board's HardFault handler resets the system. Never returns.
pub fn read_missing_peripheral() -> u32 {
    let sensor = MISSING_PERIPHERAL as *const u32;
    // SAFETY: a read of an address with no device behind it: the bus faults, nothing is written
    // and no Rust object is there.
    #[allow(unsafe_code)]
    unsafe {
        sensor.read_volatile()
    }
}

/// The vector table the CPU uses now (VTOR).
pub fn vtor() -> u32 {
    // SAFETY: a read of VTOR through cortex-m's register block: no side effect.
    #[allow(unsafe_code)]
    unsafe {
        (*cortex_m::peripheral::SCB::PTR).vtor.read()
    }
}
