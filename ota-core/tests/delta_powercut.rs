//! Power cuts at every flash operation of a delta apply, with every tear, then a second cut
//! during the resume, then a clean resume: the result is always exact and the base untouched
//! (`ota_core::delta::proof`, which also models the caller's checkpoint log on the same flash,
//! so cuts tear checkpoint writes and the log's erase too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ota_core::delta::io::{Region, TwoFlash};
use ota_core::delta::proof::{self, Rig};
use ota_core::delta::{self, Applier, DiffOptions, PatchHeader};
use ota_core::sim::{SimConfig, SimFlash, Tear};

mod delta_data;

fn lcg(seed: u64, n: usize) -> Vec<u8> {
    delta_data::lcg_bits(seed, n, 5)
}

/// A base and a result that differ by edits, an insertion, a deletion and a moved range.
fn pair() -> (Vec<u8>, Vec<u8>) {
    let old = lcg(7, 40_000);
    let mut new = old.clone();
    for i in (100..new.len()).step_by(997) {
        new[i] = new[i].wrapping_add(3);
    }
    new.splice(9_000..9_000, lcg(8, 1_500));
    new.drain(30_000..30_400);
    let moved = new[2_000..4_000].to_vec();
    new.extend_from_slice(&moved);
    // Incompressible bytes: whole 4 KiB blocks of them are stored, not coded.
    let noise = delta_data::lcg_bits(9, 9_000, 8);
    new.splice(20_000..20_000, noise);
    (old, new)
}

fn patch(old: &[u8], new: &[u8], block_log2: u8) -> Vec<u8> {
    let patch = delta::diff(old, new, &DiffOptions { block_log2 }).unwrap();
    if block_log2 == 12 {
        let stored = (0..)
            .scan(80usize, |at, _| {
                let len = u32::from_le_bytes(patch.get(*at..*at + 4)?.try_into().ok()?);
                *at += 8 + (len & !(1 << 31)) as usize;
                Some(len >> 31)
            })
            .sum::<u32>();
        assert!(stored >= 1, "the proof should cover stored blocks too");
    }
    patch
}

fn prove<const W: usize, const E: usize>(block_log2: u8, cfg: SimConfig) -> proof::ProofReport {
    let (old, new) = pair();
    let p = patch(&old, &new, block_log2);
    let rig = Rig::new(&old, &p, E as u32).unwrap();
    let mut clean = rig.flash::<W, E>(cfg);
    rig.boot(&mut clean).unwrap();
    assert_eq!(rig.result(&clean), new.as_slice());
    proof::prove::<W, E>(&rig, cfg).unwrap()
}

#[test]
fn every_cut_resumes_to_the_exact_result_4k_sectors() {
    let r = prove::<4, 4096>(12, SimConfig::default());
    eprintln!("delta powercut 4/4096: {r:?}");
    assert!(r.cut_points > 250);
    assert_eq!((r.failures, r.first_failure), (0, None));
}

#[test]
fn every_cut_resumes_with_sectors_larger_than_blocks_on_zero_erased_ecc_flash() {
    let cfg = SimConfig {
        erased: 0x00,
        ecc_write_once: true,
        ..SimConfig::default()
    };
    let r = prove::<16, 16384>(12, cfg);
    eprintln!("delta powercut 16/16384 ecc 0x00: {r:?}");
    assert_eq!((r.failures, r.first_failure), (0, None));
}

#[test]
fn a_checkpoint_skips_the_blocks_already_on_flash() {
    let (old, new) = pair();
    let p = patch(&old, &new, 12);
    let rig = Rig::new(&old, &p, 4096).unwrap();
    let mut f = rig.flash::<4, 4096>(SimConfig::default());
    // Cut late: most blocks are done and checkpointed.
    f.cut_after(60, Tear::Partial);
    assert!(rig.boot(&mut f).is_err());
    f.power_on();
    let c = proof::recover(&mut f, 4096, &rig.header).expect("a checkpoint was persisted");
    assert!(c.block > 0 && c.result_offset == c.block * 4096);
    let before = f.wear().bytes_written;
    rig.boot(&mut f).unwrap();
    let rewritten = f.wear().bytes_written - before;
    assert!(
        rewritten < u64::from(rig.header.result_size - c.result_offset) + 1024,
        "resume rewrote {rewritten} bytes"
    );
    assert_eq!(rig.result(&f), new.as_slice());
}

#[test]
fn transient_read_flips_are_caught_at_the_block_and_retried() {
    let (old, new) = pair();
    let p = patch(&old, &new, 12);
    let rig = Rig::new(&old, &p, 4096).unwrap();
    let mut caught = 0;
    for seed in 0..8u64 {
        let cfg = SimConfig {
            read_flip_one_in: Some(150),
            seed: seed * 7 + 1,
            ..SimConfig::default()
        };
        let mut f = rig.flash::<4, 4096>(cfg);
        let mut boots = 0;
        let mut errors = Vec::new();
        while boots < 200 {
            boots += 1;
            match rig.boot(&mut f) {
                Ok(()) => break,
                Err(e) => errors.push(e),
            }
        }
        assert_eq!(
            rig.result(&f),
            new.as_slice(),
            "seed {seed}: wrong result after {boots} boots"
        );
        assert!(rig.base_intact(&f));
        let block_checks = errors
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    proof::BootError::Apply(delta::ApplyError::BlockCheck { .. })
                )
            })
            .count();
        eprintln!(
            "read flips seed {seed}: {boots} boots, {} errors ({block_checks} caught by a block check)",
            errors.len()
        );
        assert!(boots < 200);
        caught += block_checks;
    }
    assert!(
        caught > 0,
        "no flip reached a block check: the test exercised nothing"
    );
}

#[test]
fn base_and_update_area_on_two_flash_devices() {
    let (old, new) = pair();
    let patch = delta::diff(&old, &new, &DiffOptions::default()).unwrap();
    let header = PatchHeader::parse(&patch).unwrap();
    let mut internal = SimFlash::<8, 2048>::new(32, SimConfig::default());
    internal.load(0, &old);
    let mut external = SimFlash::<1, 4096>::new(16, SimConfig::default());
    external.fill_noise();
    let mut io = TwoFlash {
        base_flash: &mut internal,
        base: Region {
            offset: 0,
            len: old.len() as u32,
        },
        output_flash: &mut external,
        output: Region {
            offset: 0,
            len: 64 * 1024,
        },
    };
    let mut a = Applier::begin(&mut io, &header).unwrap();
    a.feed(&mut io, &patch[80..]).unwrap();
    a.finish(&mut io).unwrap();
    assert_eq!(&external.contents()[..new.len()], new.as_slice());
}
