//! The harness mailbox: a few words of RAM outside every binary's own RAM, where the harness
//! places a power-cut plan before the machine starts (QEMU's `-device loader,data=...`), and
//! where the flash drivers of the bootloader and of the application count flash operations
//! across the jump between them. RAM does not survive a restart, and neither does the plan: each
//! power-on gets its own.
//!
//! | word | meaning |
//! |---|---|
//! | 0 | magic [`MAGIC`]: the plan is valid (RAM starts zeroed, so no plan means no cut) |
//! | 1 | cut at flash operation N of this power-on (1-based; 0: never) |
//! | 2 | how the cut operation tears ([`Tear`]) |
//! | 3 | seed of the noise a tear leaves |
//! | 4 | flash operations so far in this power-on (written by the drivers) |
//! | 5 | 1: the bootloader measures its stack ([`crate::stack`]) |

use crate::MAP;

/// Marks a valid plan.
pub const MAGIC: u32 = crate::map::MAILBOX_MAGIC;

/// What the cut flash operation leaves behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tear {
    /// Power fails just before the operation: nothing of it happens.
    Before,
    /// The first half of the range is done, the rest untouched.
    Half,
    /// The first half is done; the rest is half-done: bits partly programmed (a write) or partly
    /// erased (an erase), chosen by the seed.
    Noise,
    /// The operation completes, and power fails right after.
    After,
}

impl Tear {
    /// Decodes word 2 of the mailbox.
    pub fn from_word(w: u32) -> Self {
        match w % 4 {
            0 => Tear::Before,
            1 => Tear::Half,
            2 => Tear::Noise,
            _ => Tear::After,
        }
    }
}

fn word(i: u32) -> *mut u32 {
    (MAP.mailbox + 4 * i) as *mut u32
}

fn read(i: u32) -> u32 {
    // SAFETY: the mailbox is `MAILBOX_SIZE` bytes of RAM that no binary's linker script hands
    // out (see `map`), word aligned, and only ever accessed through these volatile accessors.
    #[allow(unsafe_code)]
    unsafe {
        word(i).read_volatile()
    }
}

fn write(i: u32, v: u32) {
    // SAFETY: as in `read`.
    #[allow(unsafe_code)]
    unsafe {
        word(i).write_volatile(v)
    }
}

/// Counts one flash operation; returns the tear and seed when the plan cuts power at it.
pub fn next_op() -> Option<(Tear, u32)> {
    let valid = read(0) == MAGIC;
    let n = read(4).wrapping_add(1);
    write(4, n);
    (valid && read(1) == n).then(|| (Tear::from_word(read(2)), read(3)))
}

/// Whether the plan asks the bootloader to measure its stack.
pub fn measure_stack() -> bool {
    read(0) == MAGIC && read(5) == 1
}

/// Flash operations so far in this power-on.
pub fn ops() -> u32 {
    read(4)
}
