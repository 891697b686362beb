//! The bootloader's decision and the application's recovery from arbitrary flash contents
//! (journal, slot trailers and images; seeded with provisioned flash images in every phase of an
//! update, so trial, revert, rebuild and corrupt-slot paths run): never a panic; a decoded
//! record re-encodes to the same bytes; a booted slot verifies against the trust anchors; the
//! floor the application sees never falls below the journal's; a second boot still decides.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ota_core::boot::{Decision, check_slot, decide};
use ota_core::counter::NoCounter;
use ota_core::journal::raw::{decode, encode};
use ota_core::layout::{Layout, RECORD_SIZE, Slot};
use ota_core::sim::release::SimSigner;
use ota_core::sim::{SimConfig, SimFlash};
use ota_core::slots::Updater;

/// The layout the seeds were made with (`tests/faults.rs`, `write_fuzz_seeds`).
const LAYOUT: Layout = Layout {
    journal_offset: 0,
    journal_sectors: 2,
    slot_a: 0x2000,
    slot_b: 0x3000,
    slot_size: 0x1000,
    trial_attempts: 2,
    erased: 0xFF,
};

fuzz_target!(|data: &[u8]| {
    for window in data.chunks_exact(RECORD_SIZE) {
        if let Some((seq, state)) = decode(window) {
            assert_eq!(encode(seq, &state)[..102], window[..102]);
        }
    }
    let signer = SimSigner::new(1);
    let store = signer.store();
    let trust = signer.boot_trust(&store);
    let mut flash = SimFlash::<8, 4096>::for_layout(&LAYOUT, SimConfig::default());
    // The input is a flash image: journal, then slot A, then slot B.
    flash.load(0, data);
    for round in 0..2 {
        match decide(&mut flash, &LAYOUT, &trust, &mut NoCounter) {
            Ok(Decision::Boot { slot, .. }) => {
                let verified = check_slot(&mut flash, &LAYOUT, &trust, slot, None);
                assert!(
                    matches!(verified, Ok(Ok(_))),
                    "round {round}: booted slot {slot} does not verify"
                );
                // The application opens the state the bootloader left and acts on it.
                if let Ok(mut up) = Updater::open_running(&mut flash, LAYOUT, slot) {
                    let before = up.state().security_floor();
                    let _ = if round == 0 { up.confirm() } else { up.reject() };
                    assert!(up.state().security_floor() >= before);
                }
            }
            Ok(Decision::NoBootableImage { .. }) => {}
            Err(e) => panic!("round {round}: decide failed on readable flash: {e}"),
        }
    }
    let _ = Slot::A;
});
