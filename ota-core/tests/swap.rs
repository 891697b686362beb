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
    booted(major, BootReason::Trial { attempts_left })
}

fn step(f: &mut Flash) -> SwapStep {
    SwapUpdater::open(&mut *f, layout()).unwrap().swap_step()
}

/// `decide`'s answer when it boots version `major` from the primary slot for `reason`.
fn booted(major: u16, reason: BootReason) -> Decision {
    Decision::Boot {
        slot: Slot::A,
        version: Version::new(major, 0, 0),
        reason,
    }
}

/// The old image (1.0.0) booted again after a revert for `why`.
fn reverted(why: Event) -> Decision {
    booted(1, BootReason::Reverted(why))
}

/// A device with the new image (sequence 2, version 2) downloaded and activated.
fn staged() -> Flash {
    let mut f = device();
    stage(&mut f, &new_image(), &new_release(2, 2));
    f
}

/// `f` after one uninterrupted boot, and the flash operations that boot took.
fn booted_once(f: &Flash) -> (Flash, u64) {
    let mut after = f.clone();
    let start = after.ops();
    decide(&mut after).unwrap();
    let ops = after.ops() - start;
    (after, ops)
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
    assert_eq!(decide(&mut f).unwrap(), booted(2, BootReason::Confirmed));
}

#[test]
fn an_interrupted_swap_resumes_at_every_cut() {
    let staged = staged();
    let (_, ops) = booted_once(&staged);
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
        reverted(Event::TrialDigestMismatch)
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
        reverted(Event::TrialDigestMismatch)
    );
    assert_eq!(primary(&f, 5000), &old_image()[..]);
    // Image bytes changed in the staging area after the download was checked.
    let mut f = staged();
    let at = layout().staging as usize + E + 300;
    f.flip_stored(at, 0);
    assert_eq!(
        decide(&mut f).unwrap(),
        reverted(Event::TrialDigestMismatch)
    );
    assert_eq!(primary(&f, 5000), &old_image()[..]);
}

#[test]
fn a_failed_trial_is_reverted_to_the_old_image() {
    // Never confirmed: the attempts run out.
    let mut f = staged();
    assert_eq!(decide(&mut f).unwrap(), trial(1, 2));
    assert_eq!(decide(&mut f).unwrap(), trial(0, 2));
    assert_eq!(decide(&mut f).unwrap(), reverted(Event::AttemptsExhausted));
    assert_eq!(primary(&f, 5000), &old_image()[..]);
    assert!(step(&mut f).is_settled());
    // Rejected by the application: reverted at the next boot.
    let mut f = staged();
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
    assert_eq!(decide(&mut f).unwrap(), reverted(Event::Rejected));
    assert_eq!(primary(&f, 5000), &old_image()[..]);
    // A trial image corrupted in the primary slot is reverted too.
    let mut f = staged();
    assert_eq!(decide(&mut f).unwrap(), trial(1, 2));
    f.flip_stored(layout().primary as usize + 4000, 3);
    assert_eq!(
        decide(&mut f).unwrap(),
        reverted(Event::TrialDigestMismatch)
    );
}

#[test]
fn an_interrupted_revert_resumes() {
    let mut staged = staged();
    decide(&mut staged).unwrap();
    SwapUpdater::open(&mut staged, layout())
        .unwrap()
        .reject()
        .unwrap();
    let (_, ops) = booted_once(&staged);
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
    let mut f = staged();
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
        booted(2, BootReason::Reverted(Event::Rejected))
    );
    let up = SwapUpdater::open(&mut f, layout()).unwrap();
    assert_eq!(up.state().security_floor(), 2);
    assert_eq!(up.state().accepted_sequence(), 4);
    assert_eq!(up.state().phase(), Phase::Idle);
    // The floor survives the loss of the state journal (the confirm record keeps it).
    f.erase(0, 2 * E as u32).unwrap();
    assert_eq!(decide(&mut f).unwrap(), booted(2, BootReason::StateRebuilt));
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
    let staged = staged();
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

/// Offset and record fields (kind, done) of the newest valid progress record, found by
/// reading the progress sectors byte by byte (format 1, see the `swap` module page).
fn newest_progress(f: &Flash) -> Option<(usize, u8, u32)> {
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    let l = layout();
    let start = l.progress_offset as usize;
    let mut best: Option<(u32, usize)> = None;
    for at in (start..start + l.progress_sectors as usize * E).step_by(128) {
        let b = &f.contents()[at..at + 128];
        let word = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        if b[..3] != *b"OS\x01" || crc.checksum(&b[..96]) != word(96) {
            continue;
        }
        let seq = word(4);
        if best.is_none_or(|(s, _)| seq.wrapping_sub(s) as i32 > 0) {
            best = Some((seq, at));
        }
    }
    let at = best?.1;
    let b = &f.contents()[at..at + 12];
    Some((at, b[3], u32::from_le_bytes(b[8..12].try_into().unwrap())))
}

/// After a boot of `f` (possibly resuming), the new image runs as a trial from the primary
/// slot, and a reject brings the old one back.
fn trial_then_revert(f: &mut Flash, attempts_left: u8, why: &str) {
    assert_eq!(decide(f).unwrap(), trial(attempts_left, 2), "{why}");
    assert_eq!(primary(f, 11_000), &new_image()[..], "{why}");
    SwapUpdater::open(&mut *f, layout())
        .unwrap()
        .reject()
        .unwrap();
    assert_eq!(decide(f).unwrap(), reverted(Event::Rejected), "{why}");
    assert_eq!(primary(f, 5000), &old_image()[..], "{why}");
    assert!(step(f).is_settled(), "{why}");
}

/// A bit that rots in the newest progress record never steps the swap back: every one of its
/// 1024 bits is flipped in turn, with the power cut inside the step after it (where redoing
/// the recorded step would destroy that step's source), after the install, and inside the
/// revert; every boot resumes exactly and boots only a verified image.
#[test]
fn a_stored_flip_in_the_newest_progress_record_never_steps_the_swap_back() {
    let staged = staged();
    let (golden, ops) = booted_once(&staged);
    // The cut points two operations into install steps 2 (a primary unit parked: its source,
    // P[1], is being overwritten) and 3 (a new unit brought in: its source, S[2], is being
    // overwritten), and, with one flipped bit each, every cut of the install.
    let mut first_at = [None; 8];
    for k in 0..ops {
        let mut f = staged.clone();
        f.cut_after(k, Tear::Partial);
        assert!(decide(&mut f).is_err());
        f.power_on();
        let Some((at, kind, done)) = newest_progress(&f) else {
            trial_then_revert(&mut f, 1, &format!("cut at {k}"));
            continue;
        };
        if kind == 1 && (done as usize) < first_at.len() && first_at[done as usize].is_none() {
            first_at[done as usize] = Some(k);
        }
        if kind == 1 {
            let bit = (k as usize * 37) % 1024;
            f.flip_stored(at + bit / 8, (bit % 8) as u8);
            trial_then_revert(&mut f, 1, &format!("cut at {k}, bit {bit}"));
        }
    }
    for done in [2usize, 3] {
        let k = first_at[done].expect("the install reaches step 3") + 2;
        let mut cut = staged.clone();
        cut.cut_after(k, Tear::Partial);
        assert!(decide(&mut cut).is_err());
        cut.power_on();
        let (at, kind, d) = newest_progress(&cut).unwrap();
        assert_eq!((kind, d as usize), (1, done), "cut at {k}");
        for bit in 0..1024 {
            let mut f = cut.clone();
            f.flip_stored(at + bit / 8, (bit % 8) as u8);
            trial_then_revert(&mut f, 1, &format!("step {done}, cut at {k}, bit {bit}"));
        }
    }
    // Installed, then a flip in its record: still installed, on trial.
    let (at, kind, _) = newest_progress(&golden).unwrap();
    assert_eq!(kind, 2);
    for bit in (0..1024).step_by(3) {
        let mut f = staged.clone();
        assert_eq!(decide(&mut f).unwrap(), trial(1, 2));
        f.flip_stored(at + bit / 8, (bit % 8) as u8);
        assert!(
            matches!(step(&mut f), SwapStep::Installed { .. }),
            "bit {bit}"
        );
        let mut again = f.clone();
        trial_then_revert(&mut again, 0, &format!("installed, bit {bit}"));
        // ... and the revert cut half way, with a flip in its newest record.
        SwapUpdater::open(&mut f, layout())
            .unwrap()
            .reject()
            .unwrap();
        let before = f.ops();
        let mut full = f.clone();
        decide(&mut full).unwrap();
        let half = (full.ops() - before) / 2;
        f.cut_after(half, Tear::Partial);
        assert!(decide(&mut f).is_err());
        f.power_on();
        let (rat, rkind, _) = newest_progress(&f).unwrap();
        assert_eq!(rkind, 3, "bit {bit}");
        f.flip_stored(rat + bit / 8, (bit % 8) as u8);
        let d = decide(&mut f).unwrap();
        assert!(
            matches!(d, Decision::Boot { version, .. } if version == Version::new(1, 0, 0)),
            "revert, bit {bit}: {d:?}"
        );
        assert_eq!(primary(&f, 5000), &old_image()[..], "revert, bit {bit}");
    }
}

/// The exhaustive swap proof with the stored flip at every cut: one bit of the newest progress
/// record (another bit at every cut point) rots while the power is off.
#[test]
fn the_swap_proof_holds_with_a_progress_flip_at_every_cut() {
    use ota_core::sim::proof::Scenario;
    use ota_core::sim::swap_proof::{SwapProofConfig, prove_swap};
    let layout = SwapLayout {
        journal_offset: 0,
        journal_sectors: 2,
        progress_offset: 0x2000,
        progress_sectors: 2,
        primary: 0x4000,
        staging: 0x7000,
        slot_size: 0x3000,
        trial_attempts: 2,
        erased: 0xFF,
    };
    for scenario in [Scenario::Confirm, Scenario::Reject] {
        let cfg = SwapProofConfig {
            layout,
            erased: 0xFF,
            old_image_len: 3000,
            new_image_len: 5000,
            chunk: 700,
            scenario,
            tears: &[Tear::Partial],
            journal_prefill: 0,
            dense_images: false,
            flip_progress: true,
        };
        let r = prove_swap(&cfg, || SimFlash::<8, 4096>::new(11, SimConfig::default()));
        assert!(
            r.cut_points > 50,
            "{scenario:?}: {} cut points",
            r.cut_points
        );
        assert_eq!(r.bricked, 0, "{scenario:?}: {:?}", r.failures);
        assert_eq!(r.recovered, r.cut_points, "{scenario:?}: {:?}", r.failures);
    }
}
