//! The delta-apply power-cut proof at full size, on a real firmware pair.
//!
//! ```sh
//! cargo run --release -p ota-core --features sim,std --example delta-powercut [-- DIR]
//! ```
//!
//! `DIR` holds `old.bin` and `new.bin` (default: the `fix-adjacent` pair under
//! `examples/ota-tool/tests/data/firmware/`). The patch is made with the default 64 KiB blocks
//! and, per geometry, power is cut at every flash operation of the apply with every tear, again
//! during the first resume, then the apply resumes cleanly (`ota_core::delta::proof`). One line
//! per geometry, then `delta powercut: cut points: N failures: F`.
//!
//! Then the whole install through the A/B updater (`ota_core::delta::install_proof`): a signed
//! delta manifest, the verifying bootloader at every boot, the result read back, activated and
//! booted as a trial. One line per geometry, then
//! `delta install powercut: cut points: N bricked: B failures: F`.

use ota_core::delta::install_proof::{InstallProofReport, InstallRig, prove_install};
use ota_core::delta::proof::{self, Rig};
use ota_core::delta::{self, DiffOptions};
use ota_core::layout::Layout;
use ota_core::sim::SimConfig;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn core::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../examples/ota-tool/tests/data/firmware/fix-adjacent")
        });
    let old = std::fs::read(dir.join("old.bin"))?;
    let new = std::fs::read(dir.join("new.bin"))?;
    let patch = delta::diff(&old, &new, &DiffOptions::default())?;
    println!(
        "delta powercut: {} -> {} bytes, patch {} bytes",
        old.len(),
        new.len(),
        patch.len()
    );
    let ecc_zero = SimConfig {
        erased: 0x00,
        ecc_write_once: true,
        ..SimConfig::default()
    };
    let mut cuts = 0;
    let mut failures = 0;
    let mut run = |name: &str, r: proof::ProofReport| {
        println!(
            "delta powercut: geometry={name} ops/apply={} cut points: {} failures: {}{}",
            r.ops_per_apply,
            r.cut_points,
            r.failures,
            r.first_failure
                .map_or(String::new(), |(n, t)| format!(" (first at op {n}, {t:?})"))
        );
        cuts += r.cut_points;
        failures += r.failures;
    };
    let rig = Rig::new(&old, &patch, 4096)?;
    run(
        "4/4096",
        proof::prove::<4, 4096>(&rig, SimConfig::default())?,
    );
    let rig = Rig::new(&old, &patch, 128 * 1024)?;
    run(
        "32/131072 ecc erased=0x00",
        proof::prove::<32, { 128 * 1024 }>(&rig, ecc_zero)?,
    );
    println!("delta powercut: cut points: {cuts} failures: {failures}");
    let (mut icuts, mut bricked, mut ifail) = (0, 0, 0);
    let mut report = |name: &str, r: InstallProofReport| {
        println!(
            "delta install powercut: geometry={name} ops/install={} cut points: {} bricked: {} failures: {}{}",
            r.ops_per_install,
            r.cut_points,
            r.bricked,
            r.failures,
            r.first_failure
                .map_or(String::new(), |(n, t)| format!(" (first at op {n}, {t:?})"))
        );
        icuts += r.cut_points;
        bricked += r.bricked;
        ifail += r.failures;
    };
    // Slots of 256 KiB (4 KiB sectors) and 512 KiB (128 KiB sectors): the result, the resume
    // log sector and the trailer's sector.
    let small = Layout {
        journal_offset: 0,
        journal_sectors: 2,
        slot_a: 0x2000,
        slot_b: 0x2000 + 0x40000,
        slot_size: 0x40000,
        trial_attempts: 2,
        erased: 0xFF,
    };
    let rig = InstallRig::new(small, &old, &new, &patch);
    report(
        "4/4096",
        prove_install::<4, 4096>(&rig, SimConfig::default()),
    );
    let big = Layout {
        journal_offset: 0,
        journal_sectors: 2,
        slot_a: 0x40000,
        slot_b: 0x40000 + 0x80000,
        slot_size: 0x80000,
        trial_attempts: 2,
        erased: 0x00,
    };
    let rig = InstallRig::new(big, &old, &new, &patch);
    report(
        "32/131072 ecc erased=0x00",
        prove_install::<32, { 128 * 1024 }>(&rig, ecc_zero),
    );
    println!("delta install powercut: cut points: {icuts} bricked: {bricked} failures: {ifail}");
    if failures > 0 || bricked > 0 || ifail > 0 {
        std::process::exit(1);
    }
    Ok(())
}
