//! Issue 13, trust side: the delegation state on flash. Proven with the simulated flash: a power
//! cut at every operation (every tear, both erased polarities, ECC write-once), stored bit flips,
//! transient read flips, and foreign region contents. The invariant after every reboot: the
//! state is the one before the interrupted change or the one after it; never lost, never rolled
//! back, never wedged (the rest of the script still applies).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ota_core::manifest::ProductId;
use ota_core::sign::sign_delegation;
use ota_core::sim::{SimConfig, SimError, SimFlash, Tear};
use ota_core::trust::{Freshness, KeyId, TrustError, Validity};
use ota_core::trust_journal::{
    PersistentTrust, RegionError, TrustJournal, TrustJournalError, TrustRegion,
};
use ota_core::verify::{SignatureError, VerifyError, verify};

type Flash = SimFlash<8, 4096>;
type Trust = PersistentTrust<3, 4>;

/// Sector 0 is someone else's; the trust region is sectors 1 and 2; sector 3 is after it.
const REGION: TrustRegion = TrustRegion {
    offset: 4096,
    sectors: 2,
};

fn key(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

fn provisioned() -> Store {
    let roots = [root(1), root(2), root(3)].map(|k| k.verifying_key().to_bytes());
    Store::for_product(&roots, 2, vendor(), class()).unwrap()
}

#[derive(Clone, Copy)]
enum Step {
    Delegation,
    Freshness,
}

/// The script: grants, revocations and freshness records, enough commits to wrap the region's
/// ring several times (two record pairs per sector).
fn script() -> &'static [(Step, Vec<u8>)] {
    static SCRIPT: std::sync::OnceLock<Vec<(Step, Vec<u8>)>> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| {
        let d = |r| {
            (
                Step::Delegation,
                sign_delegation(&r, &[&root(1), &root(2)]).unwrap(),
            )
        };
        vec![
            d(delegate(1, &signer(), Validity::UNBOUNDED)),
            (Step::Freshness, freshness(1, 1, FRESH_UNTIL)),
            d(delegate(2, &key(0x71), Validity::UNBOUNDED)),
            d(revoke(3, &signer())),
            (Step::Freshness, freshness(2, 3, FRESH_UNTIL)),
            d(delegate(4, &key(0x72), Validity::UNBOUNDED)),
            d(revoke(5, &key(0x71))),
            d(delegate(6, &key(0x73), Validity::UNBOUNDED)),
            (Step::Freshness, freshness(3, 6, FRESH_UNTIL)),
        ]
    })
}

/// What a state is, comparably.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Summary {
    chain: u64,
    freshness: Option<Freshness>,
    delegates: Vec<KeyId>,
}

fn summary(s: &Store) -> Summary {
    Summary {
        chain: s.last_record_sequence(),
        freshness: s.freshness(),
        delegates: s.delegates().iter().map(|d| d.key.id).collect(),
    }
}

/// The state after each prefix of the script, computed in RAM only.
fn expected() -> Vec<Summary> {
    let mut s = provisioned();
    let mut out = vec![summary(&s)];
    for (step, env) in script() {
        match step {
            Step::Delegation => drop(s.apply_delegation(env).unwrap()),
            Step::Freshness => drop(s.apply_freshness(env).unwrap()),
        }
        out.push(summary(&s));
    }
    out
}

fn apply(
    t: &mut Trust,
    f: &mut Flash,
    step: Step,
    env: &[u8],
) -> Result<(), TrustJournalError<SimError>> {
    match step {
        Step::Delegation => t.apply_delegation(f, env).map(drop),
        Step::Freshness => t.apply_freshness(f, env).map(drop),
    }
}

fn open(f: &mut Flash) -> Trust {
    Trust::open(f, REGION, provisioned()).unwrap()
}

/// Runs the script from `start` with a cut `cut` operations in (if any); after the cut, reboots,
/// checks old-or-new, and finishes the script. Returns the flash.
fn run(cfg: SimConfig, cut: Option<(u64, Tear)>, prepare: impl Fn(&mut Flash)) -> (Flash, u32) {
    let want = expected();
    let mut f = Flash::new(4, cfg);
    prepare(&mut f);
    let mut t = open(&mut f);
    assert_eq!(summary(t.store()), want[0]);
    if let Some((n, tear)) = cut {
        f.cut_after(n, tear);
    }
    let mut cuts = 0;
    for (i, (step, env)) in script().iter().enumerate() {
        match apply(&mut t, &mut f, *step, env) {
            Ok(()) => assert_eq!(summary(t.store()), want[i + 1], "step {i}"),
            Err(TrustJournalError::Flash(SimError::PowerLoss)) => {
                cuts += 1;
                // The store in RAM did not take the change.
                assert_eq!(
                    summary(t.store()),
                    want[i],
                    "step {i}: RAM changed on failure"
                );
                f.power_on();
                t = open(&mut f);
                let got = summary(t.store());
                assert!(
                    got == want[i] || got == want[i + 1],
                    "cut {cut:?} at step {i}: recovered {got:?}, neither {:?} nor {:?}",
                    want[i],
                    want[i + 1]
                );
                if got == want[i] {
                    apply(&mut t, &mut f, *step, env)
                        .unwrap_or_else(|e| panic!("cut {cut:?}, step {i}: wedged: {e}"));
                }
                assert_eq!(summary(t.store()), want[i + 1]);
            }
            Err(e) => panic!("cut {cut:?}, step {i}: {e}"),
        }
    }
    // A reboot at the end holds the final state.
    assert_eq!(summary(open(&mut f).store()), *want.last().unwrap());
    (f, cuts)
}

fn configs() -> Vec<SimConfig> {
    let mut v = Vec::new();
    for erased in [0xFF, 0x00] {
        for ecc_write_once in [false, true] {
            v.push(SimConfig {
                erased,
                ecc_write_once,
                ..SimConfig::default()
            });
        }
    }
    v
}

#[test]
fn a_power_cut_at_every_operation_leaves_old_or_new() {
    let (clean, _) = run(SimConfig::default(), None, |_| {});
    let ops = clean.ops();
    assert!(
        ops >= 18,
        "script too short to wrap the ring: {ops} operations"
    );
    // Wear of the whole script on one power cycle: two writes per commit, one erase per two
    // commits (two record pairs per 4 KiB sector).
    let wear = clean.wear();
    let commits = script().len() as u64;
    assert_eq!(wear.writes, 2 * commits);
    assert_eq!(wear.erases, commits.div_ceil(2));
    println!(
        "trust journal wear: {commits} commits, {} writes, {} sector erases",
        wear.writes, wear.erases
    );
    let mut runs = 0;
    for cfg in configs() {
        for n in 0..ops {
            for tear in Tear::ALL {
                let (_, cuts) = run(cfg, Some((n, tear)), |_| {});
                assert_eq!(cuts, 1, "cut at {n} did not hit");
                runs += 1;
            }
        }
    }
    println!("trust journal: {runs} cut runs over {ops} operations, all old-or-new");
}

#[test]
fn cuts_during_recovery_and_the_next_commit_too() {
    // A second cut right after the first reboot, at every operation of the re-apply.
    let (clean, _) = run(SimConfig::default(), None, |_| {});
    let want = expected();
    for n in (0..clean.ops()).step_by(2) {
        for m in 0..3 {
            let mut f = Flash::new(4, SimConfig::default());
            let mut t = open(&mut f);
            f.cut_after(n, Tear::Noise);
            let mut second_cut = m > 0;
            let mut done = 0;
            while done < script().len() {
                let (step, env) = &script()[done];
                match apply(&mut t, &mut f, *step, env) {
                    Ok(()) => done += 1,
                    Err(TrustJournalError::Flash(SimError::PowerLoss)) => {
                        f.power_on();
                        // Once: a part that loses power every m operations forever cannot
                        // commit anything, which is no wedge.
                        if second_cut {
                            f.cut_after(m, Tear::Partial);
                            second_cut = false;
                        }
                        t = match Trust::open(&mut f, REGION, provisioned()) {
                            Ok(t) => t,
                            Err(e) => panic!("open after cut: {e}"),
                        };
                        let got = summary(t.store());
                        assert!(got == want[done] || got == want[done + 1], "{got:?}");
                        if got == want[done + 1] {
                            done += 1;
                        }
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            f.power_on();
            assert_eq!(summary(open(&mut f).store()), *want.last().unwrap());
        }
    }
}

#[test]
fn after_a_reboot_the_original_grant_does_not_bring_a_revoked_key_back() {
    let mut f = Flash::new(4, SimConfig::default());
    let mut t = open(&mut f);
    for (step, env) in &script()[..5] {
        apply(&mut t, &mut f, *step, env).unwrap();
    }
    // Reboot: a fresh RAM store from firmware, state from flash.
    let mut t = open(&mut f);
    assert_eq!(t.store().last_record_sequence(), 3);
    let grant = &script()[0].1;
    assert_eq!(
        t.apply_delegation(&mut f, grant).unwrap_err(),
        TrustJournalError::Trust(TrustError::StaleRecord { found: 1, last: 3 })
    );
    assert_eq!(
        verify(&signed(&manifest()), t.store(), &device()),
        Err(VerifyError::Signature(SignatureError::UntrustedKey(
            KeyId::of(&signer().verifying_key())
        )))
    );
    // Without the persisted state, the same replay would have worked: what this module is for.
    let mut ram_only = provisioned();
    ram_only.apply_delegation(grant).unwrap();
}

#[test]
fn one_stored_bit_flip_anywhere_never_rolls_the_state_back() {
    let want = expected();
    let (f, _) = run(SimConfig::default(), None, |_| {});
    let base = f.contents().to_vec();
    let start = REGION.offset as usize;
    let end = start + REGION.sectors as usize * 4096;
    let mut checked = 0;
    for bit in (start * 8..end * 8).step_by(5) {
        let mut g = f.clone();
        let byte = bit / 8;
        g.load(byte, &[base[byte] ^ (1 << (bit % 8))]);
        let mut t = open(&mut g);
        assert_eq!(
            summary(t.store()),
            *want.last().unwrap(),
            "flip of bit {bit}"
        );
        checked += 1;
        // And it is not wedged: one more change commits and survives a reboot.
        if bit % 97 == 0 {
            let next = sign_delegation(
                &delegate(7, &key(0x74), Validity::UNBOUNDED),
                &[&root(1), &root(2)],
            )
            .unwrap();
            t.apply_delegation(&mut g, &next).unwrap();
            assert_eq!(open(&mut g).store().last_record_sequence(), 7);
        }
    }
    assert!(checked > 10_000);
}

#[test]
fn transient_read_flips_never_lose_or_roll_back_the_state() {
    let want = expected();
    for seed in 1..=40u64 {
        let cfg = SimConfig {
            read_flip_one_in: Some(25),
            seed,
            ..SimConfig::default()
        };
        let (mut f, _) = run(cfg, None, |_| {});
        for _ in 0..5 {
            assert_eq!(
                summary(open(&mut f).store()),
                *want.last().unwrap(),
                "seed {seed}"
            );
        }
    }
}

#[test]
fn blank_foreign_or_noisy_regions_hold_no_state_and_never_wedge() {
    let want = expected();
    let size = REGION.sectors as usize * 4096;
    for erased in [0xFF, 0x00] {
        for fill in [0x00u8, 0xFF, 0x5A] {
            let cfg = SimConfig {
                erased,
                ecc_write_once: true,
                ..SimConfig::default()
            };
            let (f, _) = run(cfg, None, |f| {
                f.load(REGION.offset as usize, &vec![fill; size])
            });
            assert_eq!(
                summary(
                    &Trust::open(&mut f.clone(), REGION, provisioned())
                        .unwrap()
                        .store()
                        .clone()
                ),
                *want.last().unwrap()
            );
        }
        let cfg = SimConfig {
            erased,
            ..SimConfig::default()
        };
        run(cfg, None, |f| f.fill_noise());
    }
}

#[test]
fn another_products_state_is_not_loaded() {
    let mut f = Flash::new(4, SimConfig::default());
    let roots = [root(1), root(2), root(3)].map(|k| k.verifying_key().to_bytes());
    let other = Store::for_product(&roots, 2, vendor(), ProductId::from_text("sensor-v1")).unwrap();
    let mut t = Trust::open(&mut f, REGION, other).unwrap();
    let mut r = delegate(1, &signer(), Validity::UNBOUNDED);
    r.class_id = ProductId::from_text("sensor-v1");
    t.apply_delegation(&mut f, &sign_delegation(&r, &[&root(1), &root(2)]).unwrap())
        .unwrap();
    assert_eq!(t.journal().generation(), 1);
    // This product's store sees nothing there, and its first commit takes the region over.
    let mut ours = open(&mut f);
    assert_eq!(ours.store().last_record_sequence(), 0);
    assert_eq!(ours.journal().generation(), 0);
    apply(&mut ours, &mut f, script()[0].0, &script()[0].1).unwrap();
    assert_eq!(open(&mut f).store().last_record_sequence(), 1);
}

#[test]
fn a_commit_never_goes_backwards() {
    let mut f = Flash::new(4, SimConfig::default());
    let mut t = open(&mut f);
    for (step, env) in &script()[..4] {
        apply(&mut t, &mut f, *step, env).unwrap();
    }
    let mut store = provisioned();
    let mut j = TrustJournal::open(&mut f, REGION, &mut store).unwrap();
    assert_eq!(store.last_record_sequence(), 3);
    assert!(!j.is_degraded());
    assert_eq!(
        j.commit(&mut f, &provisioned()),
        Err(TrustJournalError::Regression {
            chain: 0,
            freshness: 0,
            persisted_chain: 3,
            persisted_freshness: 1
        })
    );
}

#[test]
fn bad_regions_are_refused_with_the_reason() {
    let mut f = Flash::new(4, SimConfig::default());
    let mut s = provisioned();
    let e = |r| TrustJournal::open(&mut f.clone(), r, &mut s.clone()).unwrap_err();
    assert_eq!(
        e(TrustRegion {
            offset: 0,
            sectors: 1
        }),
        TrustJournalError::Region(RegionError::TooFewSectors(1))
    );
    assert_eq!(
        e(TrustRegion {
            offset: 8,
            sectors: 2
        }),
        TrustJournalError::Region(RegionError::Unaligned {
            offset: 8,
            erase_size: 4096
        })
    );
    assert_eq!(
        e(TrustRegion {
            offset: 8192,
            sectors: 3
        }),
        TrustJournalError::Region(RegionError::OutOfBounds {
            end: 20_480,
            capacity: 16_384
        })
    );
    let mut small = SimFlash::<8, 1024>::new(4, SimConfig::default());
    assert_eq!(
        TrustJournal::open(
            &mut small,
            TrustRegion {
                offset: 0,
                sectors: 2
            },
            &mut s
        )
        .unwrap_err(),
        TrustJournalError::Region(RegionError::Geometry {
            erase_size: 1024,
            slot: 768,
            write_size: 8,
            read_size: 1
        })
    );
    let _ = TrustJournal::open(&mut f, REGION, &mut s).unwrap();
}

#[test]
fn a_single_surviving_copy_is_healed_back_to_two() {
    let want = expected();
    let (clean, _) = run(SimConfig::default(), None, |_| {});
    let slots: Vec<usize> = (0..REGION.sectors as usize)
        .flat_map(|sector| {
            (0..5).map(move |slot| REGION.offset as usize + sector * 4096 + slot * 768)
        })
        .collect();
    let mut healed = 0;
    for at in slots {
        let mut f = clean.clone();
        f.load(at + 100, &[clean.contents()[at + 100] ^ 0x10]);
        let mut t = open(&mut f);
        assert_eq!(summary(t.store()), *want.last().unwrap());
        if !t.journal().is_degraded() {
            assert!(!t.heal(&mut f).unwrap());
            continue;
        }
        assert!(t.heal(&mut f).unwrap());
        healed += 1;
        let generation = t.journal().generation();
        let t = open(&mut f);
        assert!(!t.journal().is_degraded());
        assert_eq!(t.journal().generation(), generation);
        assert_eq!(summary(t.store()), *want.last().unwrap());
    }
    // The newest generation has exactly two copies; flipping either one degrades it.
    assert_eq!(healed, 2);
}
