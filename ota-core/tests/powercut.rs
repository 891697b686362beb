//! The exhaustive power-cut proof at a size that keeps `cargo test` fast; the full matrix runs
//! in `cargo run --release -p ota-core --features sim --example powercut` and in the ignored
//! test below.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ota_core::layout::Layout;
use ota_core::sim::proof::{ProofConfig, ProofReport, Scenario, prove, run_with_cuts};
use ota_core::sim::{SimConfig, Tear};
use proptest::prelude::*;

fn layout(sector: u32, slot_sectors: u32, attempts: u8) -> Layout {
    Layout {
        journal_offset: 0,
        journal_sectors: 2,
        slot_a: 2 * sector,
        slot_b: (2 + slot_sectors) * sector,
        slot_size: slot_sectors * sector,
        trial_attempts: attempts,
        erased: 0xFF,
    }
}

fn cfg(sector: u32, scenario: Scenario, sim: SimConfig, new_len: u32) -> ProofConfig {
    ProofConfig {
        layout: layout(sector, 3, 2),
        // The proof also refuses write buffers not aligned to the write size.
        sim: SimConfig {
            check_alignment: true,
            ..sim
        },
        old_image_len: 2500,
        new_image_len: new_len,
        chunk: 1000,
        scenario,
        tears: &Tear::ALL,
        journal_prefill: 0,
    }
}

fn assert_proved(name: &str, r: &ProofReport) {
    println!(
        "{name}: cut points {}, recovered {}, bricked {}, cycle ops {}",
        r.cut_points, r.recovered, r.bricked, r.cycle_ops
    );
    assert!(r.cut_points > 0, "{name}: {:?}", r.failures);
    assert_eq!(r.bricked, 0, "{name}: {:?}", r.failures);
    assert_eq!(r.recovered, r.cut_points, "{name}: {:?}", r.failures);
}

#[test]
fn every_cut_recovers_for_each_scenario() {
    for scenario in [Scenario::Confirm, Scenario::Reject, Scenario::NeverConfirm] {
        let r = prove::<8, 4096>(&cfg(4096, scenario, SimConfig::default(), 6000));
        assert_proved(&format!("{scenario:?}"), &r);
    }
}

#[test]
fn zero_erased_and_ecc_flash_recover() {
    let zero = SimConfig {
        erased: 0x00,
        ..SimConfig::default()
    };
    assert_proved(
        "erased 0x00",
        &prove::<4, 4096>(&cfg(4096, Scenario::Confirm, zero, 5000)),
    );
    let ecc = SimConfig {
        ecc_write_once: true,
        ..SimConfig::default()
    };
    assert_proved(
        "ECC 32",
        &prove::<32, 4096>(&cfg(4096, Scenario::Confirm, ecc, 5000)),
    );
}

#[test]
fn write_sizes_one_and_sixteen() {
    let c = cfg(4096, Scenario::Confirm, SimConfig::default(), 4097);
    assert_proved("W1", &prove::<1, 4096>(&c));
    assert_proved("W16", &prove::<16, 4096>(&c));
}

#[test]
fn sectors_of_128_kib_with_the_footer_in_the_image_sector() {
    let mut c = cfg(131_072, Scenario::Confirm, SimConfig::default(), 5000);
    c.layout = layout(131_072, 1, 2);
    c.chunk = 2048;
    let r = prove::<32, 131_072>(&c);
    assert_proved("128 KiB", &r);
}

#[test]
fn cuts_across_a_journal_sector_change_recover() {
    // 32 records fit a 4 KiB sector; the cycle writes about ten, so start near the end.
    for prefill in [24, 27, 30] {
        let mut c = cfg(4096, Scenario::Confirm, SimConfig::default(), 6000);
        c.journal_prefill = prefill;
        let r = prove::<8, 4096>(&c);
        assert_proved(&format!("prefill {prefill}"), &r);
        assert!(
            r.cycle_wear.erases > 2,
            "the cycle must erase a journal sector"
        );
    }
}

#[test]
#[ignore = "full size: run with --release -- --ignored, or the powercut example"]
fn full_matrix() {
    for scenario in [Scenario::Confirm, Scenario::Reject, Scenario::NeverConfirm] {
        for erased in [0xFF, 0x00] {
            let sim = SimConfig {
                erased,
                ..SimConfig::default()
            };
            let c = cfg(4096, scenario, sim, 9000);
            assert_proved("1", &prove::<1, 4096>(&c));
            assert_proved("4", &prove::<4, 4096>(&c));
            assert_proved("8", &prove::<8, 4096>(&c));
            assert_proved("16", &prove::<16, 4096>(&c));
            assert_proved("32", &prove::<32, 4096>(&c));
        }
    }
}

fn tear() -> impl Strategy<Value = Tear> {
    prop_oneof![
        Just(Tear::Skip),
        Just(Tear::Partial),
        Just(Tear::Noise),
        Just(Tear::InWord)
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    prop_oneof![
        Just(Scenario::Confirm),
        Just(Scenario::Reject),
        Just(Scenario::NeverConfirm)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Random chunk sizes, random numbers of operations between cuts, several cuts per cycle:
    /// every boot still runs the old or the new image and nothing goes backwards.
    #[test]
    fn random_interleavings_of_operations_and_cuts_keep_the_invariants(
        scenario in scenario(),
        chunk in 1usize..3000,
        new_len in 1u32..9000,
        prefill in 0u32..32,
        cuts in proptest::collection::vec((0u64..40, tear()), 0..5),
    ) {
        let mut c = cfg(4096, scenario, SimConfig::default(), new_len);
        c.chunk = chunk;
        c.journal_prefill = prefill;
        c.layout.trial_attempts = 3;
        prop_assert_eq!(run_with_cuts::<8, 4096>(&c, &cuts), Ok(()));
    }
}
