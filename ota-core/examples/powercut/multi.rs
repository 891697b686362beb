//! `--mode multi`: the exhaustive power-cut proof of the multi-component transaction.
//!
//! Three components (an application and a data partition in slot pairs on the main flash, a
//! radio core behind a simulated co-processor on a second flash device, both devices on one
//! power rail), for every write size, flash quirk and scenario: one update cycle, a cut at
//! every write and sector erase of either device with every tear variant, reboots until the
//! cycle finishes. After every boot the proof asserts that every component runs the old image
//! or every component runs the new one.

use ota_core::multi::layout::MULTI_RECORD_SIZE;
use ota_core::multi::sim::proof::{MultiProofConfig, MultiProofReport, MultiScenario, prove};
use ota_core::sim::{SimConfig, Tear};

const SCENARIOS: [MultiScenario; 4] = [
    MultiScenario::Confirm,
    MultiScenario::Reject,
    MultiScenario::NeverConfirm,
    MultiScenario::ExternalRefuses,
];

#[derive(Default)]
struct Totals {
    cut_points: u64,
    recovered: u64,
    bricked: u64,
    mixed: u64,
    failed_configs: u32,
    bytes_per_image: f64,
    state_erases: f64,
}

fn config<const E: usize>(sim: SimConfig, scenario: MultiScenario) -> MultiProofConfig {
    let (sizes, chunk) = if E <= 4096 {
        ([(5_000, 11_000), (3_000, 6_000), (4_000, 9_000)], 1_000)
    } else {
        ([(40_000, 60_000), (8_000, 12_000), (10_000, 16_000)], 4_096)
    };
    MultiProofConfig {
        sim,
        scenario,
        tears: &Tear::ALL,
        sizes,
        chunk,
        // Close to a sector's worth of records, so every cycle crosses a journal sector change.
        journal_prefill: (E / MULTI_RECORD_SIZE) as u32 - 4,
    }
}

fn record(totals: &mut Totals, r: &MultiProofReport) {
    if r.cut_points == 0 || r.recovered != r.cut_points || r.mixed > 0 {
        totals.failed_configs += 1;
    }
    totals.cut_points += r.cut_points;
    totals.recovered += r.recovered;
    totals.bricked += r.bricked;
    totals.mixed += r.mixed;
    if r.image_bytes > 0 {
        totals.bytes_per_image = totals
            .bytes_per_image
            .max(r.bytes_written as f64 / r.image_bytes as f64);
    }
    totals.state_erases = totals.state_erases.max(r.state_erases as f64);
}

fn run<const W: usize, const E: usize>(totals: &mut Totals, quirks: &[(&'static str, SimConfig)]) {
    for (name, sim) in quirks {
        for scenario in SCENARIOS {
            let r = prove::<W, E>(&config::<E>(*sim, scenario));
            println!(
                "multi: write {W:>2} B, sector {:>3} KiB, {name:<14}, {scenario:<15?}: cut points {:>5}, recovered {:>5}, bricked {}, mixed {}",
                E / 1024,
                r.cut_points,
                r.recovered,
                r.bricked,
                r.mixed
            );
            for f in &r.failures {
                println!("    FAILED {f}");
            }
            record(totals, &r);
        }
    }
}

/// Runs every configuration and prints the summary line; exits non-zero on any failure.
pub(crate) fn main(quirks: &[(&'static str, SimConfig)]) {
    let mut totals = Totals::default();
    run::<1, 4096>(&mut totals, quirks);
    run::<8, 4096>(&mut totals, quirks);
    run::<32, 4096>(&mut totals, quirks);
    run::<8, 131_072>(&mut totals, &quirks[..1]);
    if totals.failed_configs > 0 {
        println!("{} configurations FAILED", totals.failed_configs);
    }
    // Every recovery was checked to run the old set or the new set in full.
    assert_eq!(
        totals.mixed, 0,
        "a boot ran a mix of old and new components"
    );
    println!(
        "cut points: {}, recovered: {}, bricked: {}, bytes written/image: {:.4}, state erases/update: {:.2}",
        totals.cut_points,
        totals.recovered,
        totals.bricked,
        totals.bytes_per_image,
        totals.state_erases
    );
    if totals.failed_configs > 0 || totals.bricked > 0 {
        std::process::exit(1);
    }
}
