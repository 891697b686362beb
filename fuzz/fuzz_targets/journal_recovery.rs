//! Journal recovery and the bootloader's decision from arbitrary flash contents: never a
//! panic; a decoded record re-encodes to the same bytes; a booted slot verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ota_core::boot::{Decision, check_slot, decide};
use ota_core::journal::{Journal, decode, encode};
use ota_core::layout::{Layout, RECORD_SIZE};
use ota_core::sim::{SimConfig, SimFlash};

const LAYOUT: Layout = Layout {
    journal_offset: 0,
    journal_sectors: 2,
    slot_a: 0x2000,
    slot_b: 0x3000,
    slot_size: 0x1000,
    trial_attempts: 2,
};

fuzz_target!(|data: &[u8]| {
    for window in data.chunks_exact(RECORD_SIZE) {
        if let Some((seq, state)) = decode(window) {
            assert_eq!(encode(seq, &state)[..102], window[..102]);
        }
    }
    let mut flash = SimFlash::<8, 4096>::for_layout(&LAYOUT, SimConfig::default());
    // The input fills the journal; its tail (if long) spills into the slots.
    flash.load(0, data);
    let _ = Journal::open(&mut flash, &LAYOUT);
    match decide(&mut flash, &LAYOUT) {
        Ok(Decision::Boot { slot, .. }) => {
            let verified = check_slot(&mut flash, &LAYOUT, slot, None);
            assert!(matches!(verified, Ok(Ok(_))), "booted slot {slot} does not verify");
        }
        Ok(Decision::NoBootableImage { .. }) => {}
        Err(e) => panic!("decide failed on readable flash: {e}"),
    }
});
