//! The bootloader: decide, check, jump.
//!
//! 1. Arm the watchdog, so that an image that hangs is reset like one that faults. Every flash
//!    operation of the bootloader feeds it ([`fed_flash`]): deciding may take longer than one
//!    period (three image checks when the confirmed slot reads corrupt).
//! 2. [`policy::decide`]: which slot boots, and why (the journal records a trial attempt or a
//!    revert before anything boots).
//! 3. Check the chosen image's vector table against the slot it is in ([`board::jump::entry`]);
//!    a trial image linked for the other slot is rejected and the decision taken again.
//! 4. Report the decision on the console, feed the watchdog and jump: VTOR, MSP, reset vector.
//!
//! With nothing bootable it reports why and stops: on a real device this is where a recovery
//! path (serial or USB DFU, a recovery image) starts, see the README.
#![no_std]
#![no_main]

mod fed_flash;
mod policy;

use board::flash::Flash;
use board::host::{self, Line};
use board::{MAP, jump, watchdog};
use cortex_m_rt::entry;
use embedded_storage::nor_flash::ReadNorFlash;
use fed_flash::FedFlash;
use ota_core::boot::{BootReason, Decision, SlotStatus};
use ota_core::state::Event;

/// Half the watchdog period, in guest instructions: the application must feed it at least this
/// often (the system resets after two periods without food).
const WATCHDOG_INSTR: u32 = 40_000_000;

#[entry]
fn main() -> ! {
    watchdog::start(WATCHDOG_INSTR);
    let measure_stack = board::mailbox::measure_stack();
    if measure_stack {
        board::stack::paint();
    }
    let mut flash = FedFlash::new(Flash::new());
    // A trial whose vector table does not fit is rejected once; the second decision boots the
    // confirmed image.
    for _ in 0..2 {
        let decision = match policy::decide(&mut flash) {
            Ok(d) => d,
            Err(_) => {
                host::println("boot: FAILED flash error while deciding");
                host::exit(false);
            }
        };
        let (slot, version, reason) = match decision {
            Decision::Boot {
                slot,
                version,
                reason,
            } => (slot, version, reason),
            Decision::NoBootableImage { a, b } => {
                Line::new("boot: no bootable image a=")
                    .str(status(a))
                    .str(" b=")
                    .str(status(b))
                    .send();
                host::exit(false);
            }
        };
        let offset = board::slots::LAYOUT.slot_offset(slot);
        let mut words = [0u8; 8];
        let entry = flash
            .read(offset, &mut words)
            .ok()
            .and_then(|()| {
                let (sp, rv) = words.split_at(4);
                let word = |b: &[u8]| b.try_into().ok().map(u32::from_le_bytes);
                Some([word(sp)?, word(rv)?])
            })
            .map(|w| jump::entry(offset, board::slots::LAYOUT.max_image_size(), w));
        match entry {
            Some(Ok(entry)) => {
                let mut line = Line::new("boot: slot=");
                line.str(board::slots::slot_name(slot))
                    .str(" version=")
                    .version(&version)
                    .str(" reason=")
                    .str(reason_name(reason))
                    .str(" ops=")
                    .dec(u64::from(board::mailbox::ops()));
                if measure_stack {
                    line.str(" stack=")
                        .dec(u64::from(board::stack::high_water()));
                }
                line.send();
                watchdog::feed();
                jump::boot(entry);
            }
            _ if matches!(reason, BootReason::Trial { .. }) => {
                Line::new("boot: trial image in slot ")
                    .str(board::slots::slot_name(slot))
                    .str(" is not linked for it; rejected")
                    .send();
                if policy::reject_trial(&mut flash).is_err() {
                    host::println("boot: FAILED flash error while rejecting the trial");
                    host::exit(false);
                }
            }
            _ => break,
        }
    }
    Line::new("boot: FAILED the image to boot has no usable vector table; flash at ")
        .hex(MAP.flash_base)
        .send();
    host::exit(false)
}

fn status(s: SlotStatus) -> &'static str {
    match s {
        SlotStatus::Valid => "valid",
        SlotStatus::NoFooter => "no-footer",
        SlotStatus::WrongImage => "wrong-image",
        SlotStatus::DigestMismatch => "digest-mismatch",
        SlotStatus::Unsigned => "unsigned",
        SlotStatus::NotAuthorized => "not-authorized",
        _ => "unverified",
    }
}

fn reason_name(r: BootReason) -> &'static str {
    match r {
        BootReason::Confirmed => "confirmed",
        BootReason::Trial { attempts_left: 0 } => "trial-last",
        BootReason::Trial { .. } => "trial",
        BootReason::Reverted(Event::AttemptsExhausted) => "reverted-attempts",
        BootReason::Reverted(Event::TrialDigestMismatch) => "reverted-digest",
        BootReason::Reverted(_) => "reverted",
        BootReason::ConfirmedSlotCorrupt => "confirmed-slot-corrupt",
        BootReason::StateRebuilt => "state-rebuilt",
        _ => "other",
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    host::println("boot: FAILED panic");
    host::exit(false)
}
