//! The exhaustive power-cut proof at full size, and the wear figures.
//!
//! ```sh
//! cargo run --release -p ota-core --features sim --example powercut
//! ```
//!
//! For every write size (1, 4, 8, 16, 32 bytes), sector size (4 KiB, 128 KiB), flash quirk
//! (erased 0xFF, erased 0x00, ECC write-once words) and scenario (confirm, reject, never
//! confirm), it runs one update cycle, cuts the power at every flash write and erase with every
//! tear variant, reboots and checks that the device boots the old or the new image and finishes
//! the cycle. The journal is pre-filled so every cycle also crosses a journal sector change.
//! Then it measures wear over 20 back-to-back updates of a 1 MiB image. The last line is the
//! summary.

use ota_core::layout::{Layout, READ_BACK_BLOCK, RECORD_SIZE};
use ota_core::sim::proof::{ProofConfig, Scenario, measure_wear, prove};
use ota_core::sim::{SimConfig, SimFlash, Tear};
use ota_core::slots::Updater;
use ota_core::state::State;

const SCENARIOS: [Scenario; 3] = [Scenario::Confirm, Scenario::Reject, Scenario::NeverConfirm];

fn quirks() -> [(&'static str, SimConfig); 3] {
    let base = SimConfig::default();
    [
        ("erased 0xFF", base),
        (
            "erased 0x00",
            SimConfig {
                erased: 0x00,
                ..base
            },
        ),
        (
            "ECC write-once",
            SimConfig {
                ecc_write_once: true,
                ..base
            },
        ),
    ]
}

fn layout(sector: u32, slot_sectors: u32) -> Layout {
    Layout {
        journal_offset: 0,
        journal_sectors: 2,
        slot_a: 2 * sector,
        slot_b: (2 + slot_sectors) * sector,
        slot_size: slot_sectors * sector,
        trial_attempts: 3,
    }
}

#[derive(Default)]
struct Totals {
    cut_points: u64,
    recovered: u64,
    bricked: u64,
    failed_configs: u32,
}

fn proof_config(sector: u32, sim: SimConfig, scenario: Scenario) -> ProofConfig {
    let (slot_sectors, old, new, chunk) = if sector <= 4096 {
        (4, 5_000, 11_000, 1_000)
    } else {
        (3, 100_000, 200_000, 4_096)
    };
    ProofConfig {
        layout: layout(sector, slot_sectors),
        sim,
        old_image_len: old,
        new_image_len: new,
        chunk,
        scenario,
        tears: &Tear::ALL,
        journal_prefill: sector / RECORD_SIZE as u32 - 6,
    }
}

fn run_proofs<const W: usize, const E: usize>(totals: &mut Totals) {
    for (name, sim) in quirks() {
        for scenario in SCENARIOS {
            let cfg = proof_config(E as u32, sim, scenario);
            let r = prove::<W, E>(&cfg);
            println!(
                "write {W:>2} B, sector {:>3} KiB, {name:<14}, {scenario:<12?}: cut points {:>4}, recovered {:>4}, bricked {}",
                E / 1024,
                r.cut_points,
                r.recovered,
                r.bricked
            );
            for f in &r.failures {
                println!("    FAILED {f}");
            }
            if r.cut_points == 0 || r.recovered != r.cut_points {
                totals.failed_configs += 1;
            }
            totals.cut_points += r.cut_points;
            totals.recovered += r.recovered;
            totals.bricked += r.bricked;
        }
    }
}

fn wear<const W: usize, const E: usize>(worst: &mut (f64, f64)) {
    let image = 1 << 20;
    let slot_sectors = (image + RECORD_SIZE as u32).div_ceil(E as u32);
    let cfg = ProofConfig {
        layout: layout(E as u32, slot_sectors),
        sim: SimConfig::default(),
        old_image_len: image,
        new_image_len: image,
        chunk: 4096,
        scenario: Scenario::Confirm,
        tears: &[],
        journal_prefill: 0,
    };
    match measure_wear::<W, E>(&cfg, 20) {
        Ok(w) => {
            println!(
                "wear: write {W:>2} B, sector {:>3} KiB, 1 MiB image, {} updates: bytes written/image {:.4}, state erases/update {:.2}, most erases of one state sector {}",
                E / 1024,
                w.cycles,
                w.bytes_per_image_byte,
                w.state_erases_per_update,
                w.max_state_sector_erases
            );
            worst.0 = worst.0.max(w.bytes_per_image_byte);
            worst.1 = worst.1.max(w.state_erases_per_update);
        }
        Err(e) => {
            println!("wear: write {W} B, sector {} KiB: FAILED {e}", E / 1024);
            worst.0 = f64::INFINITY;
        }
    }
}

fn main() {
    let mut totals = Totals::default();
    run_proofs::<1, 4096>(&mut totals);
    run_proofs::<4, 4096>(&mut totals);
    run_proofs::<8, 4096>(&mut totals);
    run_proofs::<16, 4096>(&mut totals);
    run_proofs::<32, 4096>(&mut totals);
    run_proofs::<1, 131_072>(&mut totals);
    run_proofs::<4, 131_072>(&mut totals);
    run_proofs::<8, 131_072>(&mut totals);
    run_proofs::<16, 131_072>(&mut totals);
    run_proofs::<32, 131_072>(&mut totals);

    let mut worst = (0.0f64, 0.0f64);
    wear::<8, 4096>(&mut worst);
    wear::<32, 4096>(&mut worst);
    wear::<8, 131_072>(&mut worst);
    wear::<32, 131_072>(&mut worst);

    println!(
        "RAM: State {} B, Updater<&mut Flash> {} B (on a 64-bit host; a 32-bit MCU is smaller), largest buffer {} B on the stack",
        core::mem::size_of::<State>(),
        core::mem::size_of::<Updater<&mut SimFlash<8, 4096>>>(),
        READ_BACK_BLOCK
    );
    if totals.failed_configs > 0 {
        println!("{} configurations FAILED", totals.failed_configs);
    }
    println!(
        "cut points: {}, recovered: {}, bricked: {}, bytes written/image: {:.4}, state erases/update: {:.2}",
        totals.cut_points, totals.recovered, totals.bricked, worst.0, worst.1
    );
    if totals.failed_configs > 0 || totals.bricked > 0 {
        std::process::exit(1);
    }
}
