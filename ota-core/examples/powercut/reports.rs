//! `--mode reports`: the update report log's power-cut proof (`ota_core::sim::report_proof`).
//!
//! For write sizes 1, 8 and 32 bytes on 4 KiB sectors (and 8 bytes on 128 KiB sectors), every
//! flash quirk, scenario (confirm, reject, never confirm) and acknowledgement policy (every
//! step, once per boot, never): one update cycle whose application sends its reports, a cut
//! at every flash operation with every tear variant. After every cut the flash holds the old
//! report or the new one, no report once written is lost, an acknowledged report is never
//! pending again, and the device ends with the cycle's final report. The report ring is
//! pre-filled so every cycle crosses a report sector change.

use ota_core::layout::{Layout, RECORD_SIZE};
use ota_core::report::store::ReportRegion;
use ota_core::sim::proof::Scenario;
use ota_core::sim::report_proof::{AckPolicy, ReportProofConfig, prove_reports};
use ota_core::sim::{SimConfig, Tear};

const SCENARIOS: [Scenario; 3] = [Scenario::Confirm, Scenario::Reject, Scenario::NeverConfirm];
const ACKS: [AckPolicy; 3] = [AckPolicy::EveryStep, AckPolicy::AtBoot, AckPolicy::Never];

#[derive(Default)]
struct Totals {
    cut_points: u64,
    held: u64,
    failed_configs: u32,
}

fn config(sector: u32, sim: SimConfig, scenario: Scenario, acks: AckPolicy) -> ReportProofConfig {
    let (slot_sectors, old, new, chunk) = if sector <= 4096 {
        (4, 5_000, 11_000, 1_000)
    } else {
        (3, 100_000, 200_000, 4_096)
    };
    ReportProofConfig {
        layout: Layout {
            journal_offset: 0,
            journal_sectors: 2,
            slot_a: 2 * sector,
            slot_b: (2 + slot_sectors) * sector,
            slot_size: slot_sectors * sector,
            trial_attempts: 3,
            erased: 0xFF,
        },
        reports: ReportRegion {
            offset: (2 + 2 * slot_sectors) * sector,
            sectors: 2,
        },
        sim,
        old_image_len: old,
        new_image_len: new,
        chunk,
        scenario,
        tears: &Tear::ALL,
        // Two records per prefilled pair; leave about six records before the sector change.
        report_prefill: (sector / RECORD_SIZE as u32).saturating_sub(6) / 2,
        acks,
    }
}

fn run<const W: usize, const E: usize>(
    quirks: &[(&'static str, SimConfig)],
    acks: &[AckPolicy],
    totals: &mut Totals,
) {
    for &(name, sim) in quirks {
        for scenario in SCENARIOS {
            for &ack in acks {
                let r = prove_reports::<W, E>(&config(E as u32, sim, scenario, ack));
                println!(
                    "reports: write {W:>2} B, sector {:>3} KiB, {name:<14}, {scenario:<12?}, acks {ack:<9?}: cut points {:>4}, held {:>4}, steps {:>2}",
                    E / 1024,
                    r.cut_points,
                    r.held,
                    r.steps
                );
                for f in &r.failures {
                    println!("    FAILED {f}");
                }
                if r.cut_points == 0 || r.held != r.cut_points {
                    totals.failed_configs += 1;
                }
                totals.cut_points += r.cut_points;
                totals.held += r.held;
            }
        }
    }
}

pub(crate) fn main(quirks: &[(&'static str, SimConfig)]) {
    let mut totals = Totals::default();
    run::<1, 4096>(quirks, &ACKS, &mut totals);
    run::<8, 4096>(quirks, &ACKS, &mut totals);
    run::<32, 4096>(quirks, &ACKS, &mut totals);
    run::<8, 131_072>(quirks, &[AckPolicy::AtBoot], &mut totals);
    if totals.failed_configs > 0 {
        println!("{} configurations FAILED", totals.failed_configs);
    }
    println!(
        "report cut points: {}, held: {}, failed configurations: {}",
        totals.cut_points, totals.held, totals.failed_configs
    );
    if totals.failed_configs > 0 {
        std::process::exit(1);
    }
}
