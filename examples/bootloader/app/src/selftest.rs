//! The self-test a trial image passes before it confirms.
//!
//! v1 and v2 check that they run from the address they were linked for and that the update
//! server answers. v3 has the bug this example is about: on its first trial boot it reads a
//! peripheral that this board does not have (a bus fault, escalated to a hard fault, whose
//! handler resets); on later boots it waits forever for that peripheral, until the watchdog the
//! bootloader armed resets it. Either way it never confirms, and the bootloader reverts it.

use board::host::{self, Mode};

/// Runs the self-test; returns why it failed.
pub fn run(attempts_left: u8, vtor: u32) -> Result<(), &'static str> {
    if super::VERSION == 3 {
        return crash(attempts_left);
    }
    if vtor != super::LINKED_AT {
        return Err("running from an address this build is not linked for");
    }
    if host::open(c"health", Mode::Read).is_none() {
        return Err("the update server does not answer");
    }
    Ok(())
}

fn crash(attempts_left: u8) -> Result<(), &'static str> {
    if attempts_left % 2 == 1 {
        host::println("app: v3 self-test reads its sensor");
        let v = board::fault::read_missing_peripheral();
        core::hint::black_box(v);
    }
    host::Line::new("app: v3 self-test waits for its sensor ops=")
        .dec(u64::from(board::mailbox::ops()))
        .send();
    loop {
        cortex_m::asm::nop();
    }
}
