//! The application image: what a product's firmware does around an update.
//!
//! At every start it reports which build it is, opens the update journal, and when it is a
//! trial image runs its self-test and confirms ([`selftest`]). Then it asks the update server
//! (the harness, over semihosting) for the next release; if there is one it verifies, installs,
//! activates and resets into it ([`update`]); if not it reports "idle" and stops the machine
//! (the scenario is over for this device).
//!
//! The three versions differ only in [`VERSION`]: v3's self-test crashes ([`selftest`]).
#![no_std]
#![no_main]

mod selftest;
mod update;

use board::flash::Flash;
use board::host::{self, Line};
use board::slots::slot_name;
use board::{reset, watchdog};
use cortex_m_rt::entry;
use ota_core::state::Phase;

include!(concat!(env!("OUT_DIR"), "/app_consts.rs"));

#[entry]
fn main() -> ! {
    watchdog::feed();
    let vtor = board::fault::vtor();
    Line::new("app: v")
        .dec(u64::from(VERSION))
        .str(" slot=")
        .str(if SLOT_B { "B" } else { "A" })
        .str(" vtor=")
        .hex(vtor)
        .send();
    let mut up = match update::open(Flash::new()) {
        Ok(up) => up,
        Err(e) => fail("open the journal", update::describe(&e)),
    };
    if let Phase::Trial { attempts_left } = up.state().phase() {
        board::host::phase("self-test");
        if let Err(why) = selftest::run(attempts_left, vtor) {
            fail("self-test", why);
        }
        board::host::phase("confirm");
        if let Err(e) = up.confirm() {
            fail("confirm", update::describe(&e));
        }
        Line::new("app: confirmed v")
            .dec(u64::from(VERSION))
            .str(" in slot ")
            .str(slot_name(up.state().confirmed()))
            .send();
    }
    match update::check(&mut up) {
        Ok(update::Outcome::Activated { version }) => {
            Line::new("app: activated v")
                .version(&version)
                .str(update::WRITTEN_TO)
                .str("; resetting ops=")
                .dec(u64::from(board::mailbox::ops()))
                .send();
            reset::system_reset()
        }
        Ok(update::Outcome::NoRelease { asked }) => {
            Line::new("app: idle v")
                .dec(u64::from(VERSION))
                .str(" confirmed=")
                .str(slot_name(up.state().confirmed()))
                .str(" accepted=")
                .dec(up.state().accepted_sequence())
                .str(" floor=")
                .dec(u64::from(up.state().security_floor()))
                .str(" no release ")
                .dec(asked)
                .str(" ops=")
                .dec(u64::from(board::mailbox::ops()))
                .send();
            host::exit(true)
        }
        Err(update::Failed { step, why }) => fail(step, why),
    }
}

/// Reports a failure and resets: a real product would log it and carry on with its confirmed
/// image; here the harness sees the line.
fn fail(step: &str, why: &str) -> ! {
    Line::new("app: FAILED ")
        .str(step)
        .str(": ")
        .str(why)
        .send();
    host::exit(false)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    host::println("app: FAILED panic");
    reset::system_reset()
}
