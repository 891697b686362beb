//! `--mode async`: the A/B power-cut proof through the async front end, then the cancellation
//! proof (a future dropped at every await point).

use super::{SCENARIOS, Totals, proof_config};
use ota_core::sim::asynch::PendingFlash;
use ota_core::sim::proof::{AfterDrop, Scenario, prove_async, prove_cancel};
use ota_core::sim::{SimConfig, SimFlash};
use ota_core::slots::AsyncUpdater;

fn cuts<const W: usize>(quirks: &[(&'static str, SimConfig); 4], totals: &mut Totals) {
    for &(name, sim) in quirks {
        for scenario in SCENARIOS {
            let r = prove_async::<W, 4096>(&proof_config(4096, sim, scenario));
            println!(
                "async: write {W:>2} B, sector 4 KiB, {name:<14}, {scenario:<12?}: cut points {:>4}, recovered {:>4}, bricked {}",
                r.cut_points, r.recovered, r.bricked
            );
            totals.count(r.cut_points, r.recovered, r.bricked, &r.failures);
        }
    }
}

/// Drop points tried, recovered, bricked.
#[derive(Default)]
struct Drops {
    points: u64,
    recovered: u64,
    bricked: u64,
}

fn drops<const W: usize>(
    quirks: &[(&'static str, SimConfig); 4],
    drops: &mut Drops,
    totals: &mut Totals,
) {
    for &(name, sim) in quirks {
        for scenario in [Scenario::Confirm, Scenario::Reject] {
            for after in [AfterDrop::Resume, AfterDrop::Reboot] {
                let r = prove_cancel::<W, 4096>(&proof_config(4096, sim, scenario), after, 1);
                println!(
                    "async drop: write {W:>2} B, {name:<14}, {scenario:<8?}, then {after:<6?}: await points {:>4}, dropped {:>4}, recovered {:>4}, bricked {}",
                    r.await_points, r.drop_points, r.recovered, r.bricked
                );
                for f in &r.failures {
                    println!("    FAILED {f}");
                }
                if r.drop_points == 0
                    || r.drop_points != r.await_points
                    || r.recovered != r.drop_points
                {
                    totals.failed_configs += 1;
                }
                drops.points += r.drop_points;
                drops.recovered += r.recovered;
                drops.bricked += r.bricked;
            }
        }
    }
}

pub(super) fn main(quirks: &[(&'static str, SimConfig); 4]) {
    let mut totals = Totals::default();
    cuts::<1>(quirks, &mut totals);
    cuts::<8>(quirks, &mut totals);
    cuts::<32>(quirks, &mut totals);
    let mut d = Drops::default();
    drops::<8>(quirks, &mut d, &mut totals);
    drops::<32>(quirks, &mut d, &mut totals);
    println!(
        "RAM: AsyncUpdater<PendingFlash<&mut Flash>> {} B (on a 64-bit host; a 32-bit MCU is smaller)",
        core::mem::size_of::<AsyncUpdater<PendingFlash<&mut SimFlash<8, 4096>>>>()
    );
    if totals.failed_configs > 0 {
        println!("{} configurations FAILED", totals.failed_configs);
    }
    println!(
        "cut points: {}, recovered: {}, bricked: {}, dropped futures: {}, recovered after drop: {}, bricked after drop: {}",
        totals.cut_points, totals.recovered, totals.bricked, d.points, d.recovered, d.bricked
    );
    if totals.failed_configs > 0 || totals.bricked > 0 || d.bricked > 0 {
        std::process::exit(1);
    }
}
