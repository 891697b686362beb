//! Swap mode: the install resumes after a power cut, a forged or tampered staged image is
//! never swapped in or booted, a failed trial is reverted to the old image, the floor never
//! goes down, and the misuse and geometry errors are typed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};
use ota_core::boot::{BootReason, Decision, SlotStatus};
use ota_core::counter::NoCounter;
use ota_core::layout::{LayoutError, Slot};
use ota_core::manifest::{VerifiedManifest, Version};
use ota_core::sim::pair::SimPair;
use ota_core::sim::proof::test_image;
use ota_core::sim::release::{SimRelease, SimSigner};
use ota_core::sim::{SimConfig, SimError, SimFlash, Tear};
use ota_core::state::{Event, Phase, TransitionError};
use ota_core::swap::{self, FlashPair, Ident, PairError, SwapLayout, SwapStep, SwapUpdater};
use ota_core::update_error::UpdateError;
use ota_core::verify::{DeviceContext, verify};

const E: usize = 4096;
type Flash = SimFlash<8, E>;

fn layout() -> SwapLayout {
    SwapLayout {
        journal_offset: 0,
        journal_sectors: 2,
        progress_offset: 0x2000,
        progress_sectors: 2,
        primary: 0x4000,
        staging: 0x8000,
        slot_size: 0x4000,
        trial_attempts: 2,
        erased: 0xFF,
    }
}

fn signer() -> SimSigner {
    SimSigner::new(1)
}

fn old_image() -> Vec<u8> {
    test_image(5000, 1)
}

fn new_image() -> Vec<u8> {
    test_image(11_000, 2)
}

fn decide<F: NorFlash>(f: &mut F) -> Result<Decision, UpdateError<F::Error>> {
    let store = signer().store();
    swap::decide(f, &layout(), &signer().boot_trust(&store), &mut NoCounter)
}

fn primary(f: &Flash, len: usize) -> &[u8] {
    let at = layout().primary as usize;
    &f.contents()[at..at + len]
}

/// A provisioned device running the old image (sequence 1, security version 1).
fn device() -> Flash {
    let cfg = SimConfig {
        check_alignment: true,
        ..SimConfig::default()
    };
    let mut f = Flash::new(0xD000 / E, cfg);
    f.program(layout().primary, &old_image()).unwrap();
    let rel = signer().release(&old_image(), 1, 1);
    swap::provision(&mut f, &layout(), &rel.envelope, &[]).unwrap();
    assert!(matches!(
        decide(&mut f).unwrap(),
        Decision::Boot {
            slot: Slot::A,
            reason: BootReason::Confirmed,
            ..
        }
    ));
    f
}

/// `rel` verified by an application that trusts `by` (and checks no replay or floor: the
/// state machine's own refusals are under test).
fn verified(rel: &SimRelease, by: &SimSigner) -> VerifiedManifest {
    let device = DeviceContext {
        vendor_id: ota_core::sim::release::vendor(),
        class_id: ota_core::sim::release::class(),
        last_sequence: 0,
        security_floor: 0,
        now: 1_800_000_000,
        slot_capacity: 1 << 20,
        installed_version: Version::new(0, 0, 0),
    };
    verify(&rel.envelope, &by.store(), &device).unwrap()
}

/// Downloads `image` with `rel` (as verified by an application trusting `by`, with the kept
/// envelope `envelope`) and activates it.
fn stage_by(f: &mut Flash, image: &[u8], rel: &SimRelease, by: &SimSigner, envelope: &[u8]) {
    let mut up = SwapUpdater::open(&mut *f, layout()).unwrap();
    assert_eq!(up.begin(&verified(rel, by)).unwrap(), 0);
    for c in image.chunks(700) {
        up.write(c).unwrap();
    }
    up.finish(envelope, &[]).unwrap();
    up.activate().unwrap();
}

fn stage(f: &mut Flash, image: &[u8], rel: &SimRelease) {
    stage_by(f, image, rel, &signer(), &rel.envelope);
}

fn new_release(seq: u64, major: u16) -> SimRelease {
    signer().release(&new_image(), seq, major)
}

fn trial(attempts_left: u8, major: u16) -> Decision {
    Decision::Boot {
        slot: Slot::A,
        version: Version::new(major, 0, 0),
        reason: BootReason::Trial { attempts_left },
    }
}

fn step(f: &mut Flash) -> SwapStep {
    SwapUpdater::open(&mut *f, layout()).unwrap().swap_step()
}

#[test]
fn a_confirmed_swap_runs_the_new_image_from_the_primary_slot() {
    let mut f = device();
    let rel = new_release(2, 2);
    stage(&mut f, &new_image(), &rel);
    assert_eq!(decide(&mut f).unwrap(), trial(1, 2));
    assert_eq!(primary(&f, 11_000), &new_image()[..]);
    let at = layout().staging as usize;
    assert_eq!(
        &f.contents()[at..at + 5000],
        &old_image()[..],
        "the old image is parked"
    );
    let new = Ident {
        sequence: 2,
        digest: rel.info.image_digest,
    };
    assert!(matches!(step(&mut f), SwapStep::Installed { new: n, .. } if n == new));
    let mut up = SwapUpdater::open(&mut f, layout()).unwrap();
    up.confirm().unwrap();
    assert_eq!(up.state().security_floor(), 2);
    assert_eq!(up.state().confirmed(), Slot::A);
    assert_eq!(up.swap_step(), SwapStep::Settled { primary: new });
    assert_eq!(
        decide(&mut f).unwrap(),
        Decision::Boot {
            slot: Slot::A,
            version: Version::new(2, 0, 0),
            reason: BootReason::Confirmed
        }
    );
}

#[test]
fn an_interrupted_swap_resumes_at_every_cut() {
    let rel = new_release(2, 2);
    let mut staged = device();
    stage(&mut staged, &new_image(), &rel);
    let mut golden = staged.clone();
    let start = golden.ops();
    decide(&mut golden).unwrap();
    let ops = golden.ops() - start;
    assert!(ops > 8, "the install is {ops} operations");
    for k in 0..ops {
        for tear in Tear::ALL {
            let mut f = staged.clone();
            f.cut_after(k, tear);
            assert_eq!(
                decide(&mut f),
                Err(UpdateError::Flash(SimError::PowerLoss)),
                "cut at {k}"
            );
            f.power_on();
            assert_eq!(
                decide(&mut f).unwrap(),
                trial(1, 2),
                "cut at {k} ({tear:?})"
            );
            assert_eq!(
                primary(&f, 11_000),
                &new_image()[..],
                "cut at {k} ({tear:?})"
            );
            assert!(matches!(step(&mut f), SwapStep::Installed { .. }));
        }
    }
}

#[test]
fn a_forged_staged_image_is_never_swapped_in_or_booted() {
    let mut f = device();
    let forged = SimSigner::new(9).release(&new_image(), 2, 2);
    stage_by(
        &mut f,
        &new_image(),
        &forged,
        &SimSigner::new(9),
        &forged.envelope,
    );
    let writes = f.wear().bytes_written;
    assert_eq!(
        decide(&mut f).unwrap(),
        Decision::Boot {
            slot: Slot::A,
            version: Version::new(1, 0, 0),
            reason: BootReason::Reverted(Event::TrialDigestMismatch)
        }
    );
    assert_eq!(primary(&f, 5000), &old_image()[..]);
    assert!(
        f.wear().bytes_written - writes <= 256,
        "only the state record is written, nothing is swapped"
    );
    assert!(step(&mut f).is_settled());
    // The verdict is final: later boots keep the old image.
    assert!(matches!(
        decide(&mut f).unwrap(),
        Decision::Boot {
            reason: BootReason::Confirmed,
            ..
        }
    ));
}

#[test]
fn a_tampered_signature_or_image_is_never_swapped_in() {
    // A flipped signature byte in the kept envelope.
    let mut f = device();
    let rel = new_release(2, 2);
    let mut env = rel.envelope.clone();
    let last = env.len() - 1;
    env[last] ^= 0x01;
    stage_by(&mut f, &new_image(), &rel, &signer(), &env);
    assert_eq!(
        decide(&mut f).unwrap(),
        Decision::Boot {
            slot: Slot::A,
            version: Version::new(1, 0, 0),
            reason: BootReason::Reverted(Event::TrialDigestMismatch)
        }
    );
    assert_eq!(primary(&f, 5000), &old_image()[..]);
    // Image bytes changed in the staging area after the download was checked.
    let mut f = device();
    stage(&mut f, &new_image(), &rel);
    let at = layout().staging as usize + E + 300;
    f.flip_stored(at, 0);
    assert_eq!(
        decide(&mut f).unwrap(),
        Decision::Boot {
            slot: Slot::A,
            version: Version::new(1, 0, 0),
            reason: BootReason::Reverted(Event::TrialDigestMismatch)
        }
    );
    assert_eq!(primary(&f, 5000), &old_image()[..]);
}

#[test]
fn a_failed_trial_is_reverted_to_the_old_image() {
    let rel = new_release(2, 2);
    // Never confirmed: the attempts run out.
    let mut f = device();
    stage(&mut f, &new_image(), &rel);
    assert_eq!(decide(&mut f).unwrap(), trial(1, 2));
    assert_eq!(decide(&mut f).unwrap(), trial(0, 2));
    assert_eq!(
        decide(&mut f).unwrap(),
        Decision::Boot {
            slot: Slot::A,
            version: Version::new(1, 0, 0),
            reason: BootReason::Reverted(Event::AttemptsExhausted)
        }
    );
    assert_eq!(primary(&f, 5000), &old_image()[..]);
    assert!(step(&mut f).is_settled());
    // Rejected by the application: reverted at the next boot.
    let mut f = device();
    stage(&mut f, &new_image(), &rel);
    assert_eq!(decide(&mut f).unwrap(), trial(1, 2));
    let mut up = SwapUpdater::open(&mut f, layout()).unwrap();
    up.reject().unwrap();
    assert_eq!(
        up.begin(&verified(&new_release(3, 3), &signer())),
        Err(UpdateError::SwapUnsettled(
            "the installed image is neither confirmed nor reverted"
        )),
        "the parked image is the only copy of the old one until the revert"
    );
    assert_eq!(
        decide(&mut f).unwrap(),
        Decision::Boot {
            slot: Slot::A,
            version: Version::new(1, 0, 0),
            reason: BootReason::Reverted(Event::Rejected)
        }
    );
    assert_eq!(primary(&f, 5000), &old_image()[..]);
    // A trial image corrupted in the primary slot is reverted too.
    let mut f = device();
    stage(&mut f, &new_image(), &rel);
    assert_eq!(decide(&mut f).unwrap(), trial(1, 2));
    f.flip_stored(layout().primary as usize + 4000, 3);
    assert_eq!(
        decide(&mut f).unwrap(),
        Decision::Boot {
            slot: Slot::A,
            version: Version::new(1, 0, 0),
            reason: BootReason::Reverted(Event::TrialDigestMismatch)
        }
    );
}

#[test]
fn an_interrupted_revert_resumes() {
    let rel = new_release(2, 2);
    let mut staged = device();
    stage(&mut staged, &new_image(), &rel);
    decide(&mut staged).unwrap();
    SwapUpdater::open(&mut staged, layout())
        .unwrap()
        .reject()
        .unwrap();
    let mut golden = staged.clone();
    let start = golden.ops();
    decide(&mut golden).unwrap();
    let ops = golden.ops() - start;
    for k in 0..ops {
        for tear in Tear::ALL {
            let mut f = staged.clone();
            f.cut_after(k, tear);
            assert!(decide(&mut f).is_err());
            f.power_on();
            let d = decide(&mut f).unwrap();
            assert!(
                matches!(d, Decision::Boot { version, .. } if version == Version::new(1, 0, 0)),
                "cut at {k} ({tear:?}): {d:?}"
            );
            assert_eq!(primary(&f, 5000), &old_image()[..], "cut at {k} ({tear:?})");
        }
    }
}

#[test]
fn the_floor_never_goes_down() {
    let mut f = device();
    let rel = new_release(2, 2);
    stage(&mut f, &new_image(), &rel);
    decide(&mut f).unwrap();
    SwapUpdater::open(&mut f, layout())
        .unwrap()
        .confirm()
        .unwrap();
    decide(&mut f).unwrap();
    // An image below the floor is refused before anything is erased.
    let low = signer().release_with_security(&old_image(), 3, 3, 1);
    let mut up = SwapUpdater::open(&mut f, layout()).unwrap();
    assert_eq!(
        up.begin(&verified(&low, &signer())),
        Err(UpdateError::Transition(
            TransitionError::SecurityVersionTooOld { got: 1, floor: 2 }
        ))
    );
    // A later update that is reverted keeps the floor.
    let third = signer().release(&test_image(9000, 3), 4, 3);
    stage(&mut f, &test_image(9000, 3), &third);
    assert_eq!(decide(&mut f).unwrap(), trial(1, 3));
    SwapUpdater::open(&mut f, layout())
        .unwrap()
        .reject()
        .unwrap();
    assert_eq!(
        decide(&mut f).unwrap(),
        Decision::Boot {
            slot: Slot::A,
            version: Version::new(2, 0, 0),
            reason: BootReason::Reverted(Event::Rejected)
        }
    );
    let up = SwapUpdater::open(&mut f, layout()).unwrap();
    assert_eq!(up.state().security_floor(), 2);
    assert_eq!(up.state().accepted_sequence(), 4);
    assert_eq!(up.state().phase(), Phase::Idle);
    // The floor survives the loss of the state journal (the confirm record keeps it).
    f.erase(0, 2 * E as u32).unwrap();
    assert_eq!(
        decide(&mut f).unwrap(),
        Decision::Boot {
            slot: Slot::A,
            version: Version::new(2, 0, 0),
            reason: BootReason::StateRebuilt
        }
    );
    assert_eq!(
        SwapUpdater::open(&mut f, layout())
            .unwrap()
            .state()
            .security_floor(),
        2
    );
}

#[test]
fn one_transient_read_flip_during_the_install_changes_nothing() {
    let rel = new_release(2, 2);
    let mut staged = device();
    stage(&mut staged, &new_image(), &rel);
    let mut golden = staged.clone();
    let reads0 = golden.wear().reads;
    decide(&mut golden).unwrap();
    let reads = golden.wear().reads - reads0;
    for n in (0..reads).step_by(5) {
        let mut f = staged.clone();
        f.flip_read(n);
        assert_eq!(decide(&mut f).unwrap(), trial(1, 2), "flip at read {n}");
        assert_eq!(primary(&f, 11_000), &new_image()[..], "flip at read {n}");
        let at = layout().staging as usize;
        assert_eq!(
            &f.contents()[at..at + 5000],
            &old_image()[..],
            "flip at read {n}"
        );
    }
}

#[test]
fn nothing_verifiable_is_no_bootable_image_not_a_panic() {
    let mut f = device();
    f.fill_noise();
    let d = decide(&mut f).unwrap();
    assert!(
        matches!(d, Decision::NoBootableImage { a, .. } if a != SlotStatus::Valid),
        "{d:?}"
    );
}

#[test]
fn layouts_and_pairs_name_their_defect() {
    // The spare unit below the download slot overlaps the primary slot.
    let mut l = layout();
    l.staging = 0x7000;
    assert_eq!(
        l.validate(1, 8, E, 0xD000),
        Err(LayoutError::Overlap("primary", "staging"))
    );
    let mut l = layout();
    l.progress_sectors = 1;
    assert_eq!(
        l.validate(1, 8, E, 0xD000),
        Err(LayoutError::TooFewJournalSectors(1))
    );
    let mut l = layout();
    l.staging = 0x9000;
    assert_eq!(
        l.validate(1, 8, E, 0xD000),
        Err(LayoutError::OutOfBounds {
            what: "slot B",
            end: 0xE000,
            capacity: 0xD000
        })
    );
    assert_eq!(layout().validate(1, 8, E, 0xD000), Ok(()));

    let a = SimFlash::<8, 4096>::new(4, SimConfig::default());
    let b = SimFlash::<8, 3072>::new(4, SimConfig::default());
    assert_eq!(
        FlashPair::new(a.clone(), b).err(),
        Some(PairError::Geometry(
            "one erase size must be a multiple of the other"
        ))
    );
    let big = SimFlash::<1, 65_536>::new(2, SimConfig::default());
    assert_eq!(
        FlashPair::new(a.clone(), big.clone()).err(),
        Some(PairError::Geometry(
            "the primary capacity must be a multiple of the larger erase size"
        ))
    );
    let mut p = FlashPair::new(SimFlash::<8, 4096>::new(16, SimConfig::default()), big).unwrap();
    assert_eq!(
        <FlashPair<SimFlash<8, 4096>, SimFlash<1, 65_536>> as NorFlash>::ERASE_SIZE,
        65_536
    );
    assert_eq!(p.staging_base(), 0x10000);
    assert_eq!(
        p.read(0xFFF8, &mut [0; 16]),
        Err(PairError::CrossesDevices {
            offset: 0xFFF8,
            len: 16,
            boundary: 0x10000
        })
    );
    p.write(0x10000, &[0; 8]).unwrap();
    assert_eq!(p.devices().1.contents()[..8], [0; 8]);
}

#[test]
fn a_pair_of_unequal_devices_swaps_and_cuts_stop_both() {
    // 4 KiB internal primary, 64 KiB external staging with the journals.
    let k64 = 0x10000u32;
    let l = SwapLayout {
        journal_offset: 2 * k64,
        journal_sectors: 2,
        progress_offset: 4 * k64,
        progress_sectors: 2,
        primary: 0,
        staging: 6 * k64,
        slot_size: 2 * k64,
        trial_attempts: 2,
        erased: 0xFF,
    };
    let mut f = SimPair::<8, 4096, 1, 65_536>::new(
        SimFlash::new(32, SimConfig::default()),
        SimFlash::new(7, SimConfig::default()),
    )
    .unwrap();
    let old = test_image(20_000, 1);
    let new = test_image(70_000, 2);
    let mut pad = old.clone();
    pad.resize(old.len().div_ceil(8) * 8, 0xFF);
    f.write(0, &pad).unwrap();
    let rel_old = signer().release(&old, 1, 1);
    swap::provision(&mut f, &l, &rel_old.envelope, &[]).unwrap();
    let store = signer().store();
    let trust = signer().boot_trust(&store);
    let rel = signer().release(&new, 2, 2);
    let mut up = SwapUpdater::open(&mut f, l).unwrap();
    up.begin(&verified(&rel, &signer())).unwrap();
    up.write(&new).unwrap();
    up.finish(&rel.envelope, &[]).unwrap();
    up.activate().unwrap();
    let primary_erases: u32 = f.devices().0.sector_erases().iter().sum();
    f.cut_after(40, Tear::Noise);
    assert!(swap::decide(&mut f, &l, &trust, &mut NoCounter).is_err());
    f.power_on();
    assert_eq!(
        swap::decide(&mut f, &l, &trust, &mut NoCounter).unwrap(),
        trial(1, 2)
    );
    assert_eq!(&f.devices().0.contents()[..70_000], &new[..]);
    let staged = 6 * k64 as usize - 2 * k64 as usize;
    assert_eq!(&f.devices().1.contents()[staged..staged + 20_000], &old[..]);
    // Every 4 KiB sector of the 128 KiB primary slot was erased by the install: at most twice
    // (the interrupted unit is erased again).
    let erases = f.devices().0.sector_erases();
    assert!(erases.iter().all(|&e| e <= 2), "{erases:?}");
    assert!(erases.iter().sum::<u32>() >= primary_erases + 32);
}
