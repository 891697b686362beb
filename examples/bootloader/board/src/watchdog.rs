//! The CMSDK APB watchdog of the MPS2 boards: armed by the bootloader before every jump, fed by
//! a healthy application, so that a trial image that hangs is reset like one that faults.
//!
//! The counter runs down from the load value; at zero it raises its interrupt and reloads; at
//! zero again with the interrupt still raised it resets the system. Feeding clears the
//! interrupt, which reloads the counter.

use crate::MAP;

const LOAD: u32 = 0x000;
const CTRL: u32 = 0x008;
const INTCLR: u32 = 0x00C;
const LOCK: u32 = 0xC00;
const UNLOCK_KEY: u32 = 0x1ACC_E551;
const INTEN: u32 = 1;
const RESEN: u32 = 2;

fn write(reg: u32, v: u32) {
    // SAFETY: a write to a register of the watchdog peripheral at its documented address.
    #[allow(unsafe_code)]
    unsafe {
        ((MAP.watchdog + reg) as *mut u32).write_volatile(v)
    }
}

/// Starts the watchdog: with no feeding, the system resets after two periods of
/// `instructions` guest instructions each (`-icount shift=0`: one instruction per nanosecond).
pub fn start(instructions: u32) {
    let ticks = (u64::from(instructions) * u64::from(MAP.watchdog_hz) / 1_000_000_000) as u32;
    write(LOCK, UNLOCK_KEY);
    write(LOAD, ticks.max(1));
    write(CTRL, INTEN | RESEN);
    write(LOCK, 0);
}

/// Feeds the watchdog: the countdown starts again.
pub fn feed() {
    write(LOCK, UNLOCK_KEY);
    write(INTCLR, 1);
    write(LOCK, 0);
}
