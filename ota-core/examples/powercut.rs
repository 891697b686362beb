//! The exhaustive power-cut proof at full size, and the wear figures.
//!
//! ```sh
//! cargo run --release -p ota-core --features sim --example powercut
//! cargo run --release -p ota-core --features sim --example powercut -- --mode swap
//! ```
//!
//! `--mode swap` runs the same proof for swap mode ([`ota_core::swap`]): one device with 4 KiB
//! sectors, and two devices of unequal geometry (4 KiB internal + 64 KiB external, and 64 KiB
//! internal + 4 KiB external), every quirk and scenario, every cut of the download, the
//! install, the revert and every journal and progress record; for the single device and the
//! 4 KiB + 64 KiB pair, every cut once more with one bit of the newest progress record flipped
//! at the cut (a stored fault); then the swap's wear.
//!
//! For every write size (1, 4, 8, 16, 32 bytes), sector size (4 KiB, 128 KiB), flash quirk
//! (erased 0xFF, erased 0x00, ECC write-once words, a driver that ANDs bits instead of refusing)
//! and scenario (confirm, reject, never confirm), it runs one update cycle, cuts the power at
//! every flash write and erase with every tear variant (skipped, half done, noise, torn inside a
//! word), reboots through the verifying bootloader and checks that the device boots the old or
//! the new signed image and finishes the cycle. The cycle writes every record of the boot chain:
//! the kept envelope, the install footer and the confirm record in the slot trailer, the journal
//! records, and the hardware counter step at confirm (source buffers are checked for alignment). The journal is pre-filled so every cycle also crosses a journal sector change.
//! Then it measures wear over 20 back-to-back updates of a 1 MiB image. The last line is the
//! summary.
//!
//! `-- --mode multi` runs the multi-component transaction proof instead (`powercut/multi.rs`):
//!
//! ```sh
//! cargo run --release -p ota-core --features sim --example powercut -- --mode multi
//! ```
//!
//! `-- --mode reports` runs the update report log's proof (`powercut/reports.rs`):
//!
//! ```sh
//! cargo run --release -p ota-core --features sim --example powercut -- --mode reports
//! ```
//!
//! `-- --mode async` (feature `async`) runs the A/B proof through the async front end
//! (`slots::AsyncUpdater` over `sim::asynch::PendingFlash`, every operation pending once and
//! writes split in two): every cut of the same matrix of write sizes, 4 KiB sectors, quirks and
//! scenarios, then the cancellation proof, which drops the running future at every await point
//! and recovers on the same updater or through a reboot into the blocking path
//! (`powercut/asynch.rs`):
//!
//! ```sh
//! cargo run --release -p ota-core --features sim,async --example powercut -- --mode async
//! ```

use ota_core::layout::{Layout, READ_BACK_BLOCK, RECORD_SIZE, TRAILER_SIZE};
use ota_core::sim::proof::{ProofConfig, Scenario, measure_wear, prove};
use ota_core::sim::{SimConfig, SimFlash, Tear};
use ota_core::slots::Updater;
use ota_core::state::State;

#[cfg(feature = "async")]
#[path = "powercut/asynch.rs"]
mod asynch;
#[path = "powercut/multi.rs"]
mod multi;
#[path = "powercut/reports.rs"]
mod reports;

const SCENARIOS: [Scenario; 3] = [Scenario::Confirm, Scenario::Reject, Scenario::NeverConfirm];

fn quirks() -> [(&'static str, SimConfig); 4] {
    // Every quirk also refuses write buffers not aligned to the write size.
    let base = SimConfig {
        check_alignment: true,
        ..SimConfig::default()
    };
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
        (
            "AND driver",
            SimConfig {
                and_writes: true,
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
        erased: 0xFF,
    }
}

#[derive(Default)]
struct Totals {
    cut_points: u64,
    recovered: u64,
    bricked: u64,
    failed_configs: u32,
}

impl Totals {
    /// Counts one configuration's proof (after its line is printed): prints its failures; it
    /// failed unless it tried cut points and recovered at every one.
    fn count(&mut self, cut_points: u64, recovered: u64, bricked: u64, failures: &[String]) {
        for f in failures {
            println!("    FAILED {f}");
        }
        if cut_points == 0 || recovered != cut_points {
            self.failed_configs += 1;
        }
        self.cut_points += cut_points;
        self.recovered += recovered;
        self.bricked += bricked;
    }
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
            totals.count(r.cut_points, r.recovered, r.bricked, &r.failures);
        }
    }
}

fn wear<const W: usize, const E: usize>(worst: &mut (f64, f64)) {
    let image = 1 << 20;
    let slot_sectors = (image + TRAILER_SIZE as u32).div_ceil(E as u32);
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
    let mode = std::env::args()
        .skip_while(|a| a != "--mode")
        .nth(1)
        .unwrap_or_else(|| String::from("ab"));
    match mode.as_str() {
        "ab" => ab_main(),
        "swap" => swap_mode::main(),
        "multi" => multi::main(&quirks()),
        "reports" => reports::main(&quirks()),
        #[cfg(feature = "async")]
        "async" => asynch::main(&quirks()),
        #[cfg(not(feature = "async"))]
        "async" => {
            eprintln!("--mode async needs the `async` feature: --features sim,async");
            std::process::exit(2);
        }
        other => {
            eprintln!("unknown --mode {other}: expected ab, swap, multi, reports or async");
            std::process::exit(2);
        }
    }
}

fn ab_main() {
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

mod swap_mode {
    use super::{SCENARIOS, Totals, quirks};
    use ota_core::layout::{RECORD_SIZE, TRAILER_SIZE};
    use ota_core::sim::pair::SimPair;
    use ota_core::sim::proof::Scenario;
    use ota_core::sim::swap_proof::{ProofFlash, SwapProofConfig, measure_swap_wear, prove_swap};
    use ota_core::sim::{SimConfig, SimFlash, Tear};
    use ota_core::swap::{SwapLayout, SwapUpdater};

    /// One device: journal, progress journal, primary slot, staging area, in that order.
    fn single(sector: u32, slot_units: u32, progress_sectors: u32) -> SwapLayout {
        let progress = 2 * sector;
        let primary = progress + progress_sectors * sector;
        SwapLayout {
            journal_offset: 0,
            journal_sectors: 2,
            progress_offset: progress,
            progress_sectors,
            primary,
            staging: primary + slot_units * sector,
            slot_size: slot_units * sector,
            trial_attempts: 3,
            erased: 0xFF,
        }
    }

    /// Two devices: the primary device holds only the primary slot; the staging device (at
    /// `base`) the journals and the staging area.
    fn paired(base: u32, unit: u32, slot_units: u32, progress_sectors: u32) -> SwapLayout {
        let progress = base + 2 * unit;
        let staging = progress + progress_sectors * unit;
        SwapLayout {
            journal_offset: base,
            journal_sectors: 2,
            progress_offset: progress,
            progress_sectors,
            primary: 0,
            staging,
            slot_size: slot_units * unit,
            trial_attempts: 3,
            erased: 0xFF,
        }
    }

    fn config(
        layout: SwapLayout,
        erased: u8,
        scenario: Scenario,
        sizes: (u32, u32, usize),
        flip_progress: bool,
    ) -> SwapProofConfig {
        SwapProofConfig {
            layout,
            erased,
            old_image_len: sizes.0,
            new_image_len: sizes.1,
            chunk: sizes.2,
            scenario,
            tears: &Tear::ALL,
            journal_prefill: 4096 / RECORD_SIZE as u32 - 6,
            dense_images: false,
            flip_progress,
        }
    }

    fn run<F: ProofFlash>(
        name: &str,
        layout: SwapLayout,
        sizes: (u32, u32, usize),
        flip_progress: bool,
        totals: &mut Totals,
        make: impl Fn(SimConfig) -> F,
    ) {
        for (quirk, sim) in quirks() {
            for scenario in SCENARIOS {
                let cfg = config(layout, sim.erased, scenario, sizes, flip_progress);
                let r = prove_swap(&cfg, || make(sim));
                println!(
                    "swap: {name:<34}, {quirk:<14}, {scenario:<12?}: cut points {:>5}, recovered {:>5}, bricked {}",
                    r.cut_points, r.recovered, r.bricked
                );
                totals.count(r.cut_points, r.recovered, r.bricked, &r.failures);
            }
        }
    }

    #[derive(Default)]
    struct Worst {
        /// Per update that stays (one swap), images without erased bytes.
        swap_bytes: f64,
        /// The same for images with erased-value padding (not programmed by the swap).
        padded_bytes: f64,
        /// Per update that is reverted (the swap and the copy back).
        revert_bytes: f64,
        erases: u32,
    }

    fn wear<F: ProofFlash>(
        name: &str,
        layout: SwapLayout,
        image: u32,
        worst: &mut Worst,
        make: impl Fn() -> F,
    ) {
        for (scenario, dense) in [
            (Scenario::Confirm, false),
            (Scenario::Confirm, true),
            (Scenario::Reject, true),
        ] {
            let cfg = SwapProofConfig {
                layout,
                erased: 0xFF,
                old_image_len: image,
                new_image_len: image,
                chunk: 4096,
                scenario,
                tears: &[],
                journal_prefill: 0,
                dense_images: dense,
                flip_progress: false,
            };
            let kind = if dense { "dense" } else { "padded" };
            match measure_swap_wear(&cfg, 5, &make) {
                Ok(w) => {
                    println!(
                        "swap wear: {name:<34}, {} KiB {kind:<6} image, {} updates, {scenario:<8?}: bytes written/image {:.4} (whole cycle with the download {:.4}), most erases of one sector per update {}",
                        image / 1024,
                        w.cycles,
                        w.swap_bytes_per_image_byte,
                        w.cycle_bytes_per_image_byte,
                        w.max_sector_erases_per_update
                    );
                    let b = if scenario == Scenario::Confirm && dense {
                        &mut worst.swap_bytes
                    } else if scenario == Scenario::Confirm {
                        &mut worst.padded_bytes
                    } else {
                        &mut worst.revert_bytes
                    };
                    *b = b.max(w.swap_bytes_per_image_byte);
                    worst.erases = worst.erases.max(w.max_sector_erases_per_update);
                }
                Err(e) => {
                    println!("swap wear: {name}: FAILED {e}");
                    worst.swap_bytes = f64::INFINITY;
                    worst.erases = u32::MAX;
                }
            }
        }
    }

    fn sim_flash<const W: usize, const E: usize>(bytes: u32, sim: SimConfig) -> SimFlash<W, E> {
        SimFlash::new((bytes as usize).div_ceil(E), sim)
    }

    fn pair<const W1: usize, const E1: usize, const W2: usize, const E2: usize>(
        primary: u32,
        staging: u32,
        sim: SimConfig,
    ) -> SimPair<W1, E1, W2, E2> {
        match SimPair::new(
            sim_flash::<W1, E1>(primary, sim),
            sim_flash::<W2, E2>(staging, sim),
        ) {
            Ok(p) => p,
            Err(e) => panic!("simulated pair: {e}"),
        }
    }

    const K4: u32 = 4096;
    const K64: u32 = 65_536;

    pub(super) fn main() {
        let mut totals = Totals::default();
        // One device, 4 KiB sectors.
        let l = single(K4, 4, 2);
        let end = l.staging + l.slot_size + K4;
        run(
            "1 device, write 8 B, sector 4 KiB",
            l,
            (5_000, 11_000, 1_000),
            false,
            &mut totals,
            |s| sim_flash::<8, 4096>(end, s),
        );
        run(
            "1 device, write 32 B, sector 4 KiB",
            l,
            (5_000, 11_000, 1_000),
            false,
            &mut totals,
            |s| sim_flash::<32, 4096>(end, s),
        );
        // Every cut again, now with one bit of the newest progress record rotting at the cut.
        run(
            "1 device, write 8 B, + progress flip",
            l,
            (5_000, 11_000, 1_000),
            true,
            &mut totals,
            |s| sim_flash::<8, 4096>(end, s),
        );
        // Internal 4 KiB sectors (write 8 B) + external SPI NOR 64 KiB sectors (write 1 B).
        let l = paired(2 * K64, K64, 2, 2);
        let ext = l.staging + l.slot_size + K64 - 2 * K64;
        run(
            "4 KiB/8 B internal + 64 KiB/1 B ext",
            l,
            (20_000, 70_000, 4_096),
            false,
            &mut totals,
            |s| pair::<8, 4096, 1, 65_536>(2 * K64, ext, s),
        );
        run(
            "4 KiB + 64 KiB ext, + progress flip",
            l,
            (20_000, 70_000, 4_096),
            true,
            &mut totals,
            |s| pair::<8, 4096, 1, 65_536>(2 * K64, ext, s),
        );
        // The reverse: internal 64 KiB sectors (write 16 B) + external 4 KiB (write 4 B).
        run(
            "64 KiB/16 B internal + 4 KiB/4 B ext",
            l,
            (20_000, 70_000, 4_096),
            false,
            &mut totals,
            |s| pair::<16, 65_536, 4, 4096>(2 * K64, ext, s),
        );

        let mut worst = Worst::default();
        let image = 1 << 20;
        let units = (image + TRAILER_SIZE as u32).div_ceil(K4);
        // Progress journal sized at 192 bytes per unit (two 128-byte records per unit fit in
        // the ring more than once), so no progress sector is erased twice per update.
        let l = single(K4, units, (units * 192).div_ceil(K4).max(2));
        let end = l.staging + l.slot_size + K4;
        wear(
            "1 device, write 8 B, sector 4 KiB",
            l,
            image,
            &mut worst,
            || sim_flash::<8, 4096>(end, SimConfig::default()),
        );
        let units = (image + TRAILER_SIZE as u32).div_ceil(K64);
        let l = paired(units * K64, K64, units, 2);
        let ext = l.staging + l.slot_size + K64 - units * K64;
        wear(
            "4 KiB/8 B internal + 64 KiB/1 B ext",
            l,
            image,
            &mut worst,
            || pair::<8, 4096, 1, 65_536>(units * K64, ext, SimConfig::default()),
        );
        wear(
            "64 KiB/16 B internal + 4 KiB/4 B ext",
            l,
            image,
            &mut worst,
            || pair::<16, 65_536, 4, 4096>(units * K64, ext, SimConfig::default()),
        );
        println!(
            "RAM: SwapUpdater<&mut Flash> {} B (on a 64-bit host), largest buffer {} B on the stack",
            core::mem::size_of::<SwapUpdater<&mut SimFlash<8, 4096>>>(),
            ota_core::layout::READ_BACK_BLOCK
        );
        println!(
            "swap wear, worst: {:.4} bytes written/image byte for images without erased bytes, {:.4} with padding (erased words are not programmed), {:.4} for an update reverted (install and copy back)",
            worst.swap_bytes, worst.padded_bytes, worst.revert_bytes
        );
        if totals.failed_configs > 0 {
            println!("{} configurations FAILED", totals.failed_configs);
        }
        println!(
            "cut points: {}, recovered: {}, bricked: {}, bytes written/image: {:.4}, reverted update: {:.4}, most erases of one sector/update: {}",
            totals.cut_points,
            totals.recovered,
            totals.bricked,
            worst.swap_bytes,
            worst.revert_bytes,
            worst.erases
        );
        if totals.failed_configs > 0
            || totals.bricked > 0
            || worst.swap_bytes > 2.1
            || worst.erases > 2
        {
            std::process::exit(1);
        }
    }
}
