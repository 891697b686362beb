//! The faults an independent review found (issue 13, boot side), each reproduced first, and the
//! boot-time trust decision: no image boots that the bootloader did not verify itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use embedded_storage::nor_flash::NorFlash;
use ota_core::boot::{BootReason, BootTrust, Decision, SlotStatus, VerifyMode, decide, provision};
use ota_core::counter::{MonotonicCounter, NoCounter, SimCounter};
use ota_core::journal::raw::{Journal, encode};
use ota_core::layout::{Layout, RECORD_SIZE, Slot};
use ota_core::manifest::Version;
use ota_core::sim::proof::test_image;
use ota_core::sim::release::{SimRelease, SimSigner, SimStore};
use ota_core::sim::{SimConfig, SimError, SimFlash, Tear};
use ota_core::slots::Updater;
use ota_core::state::{Event, Phase, State};
use ota_core::update_error::UpdateError;
use ota_core::verify::{DeviceContext, verify};

type F = SimFlash<8, 4096>;

const JOURNAL: usize = 2 * 4096;

fn layout(erased: u8) -> Layout {
    Layout {
        journal_offset: 0,
        journal_sectors: 2,
        slot_a: 0x2000,
        slot_b: 0x5000,
        slot_size: 0x3000,
        trial_attempts: 2,
        erased,
    }
}

/// The device context of an application on a factory device (sequence 1, security version 1,
/// version 1.0.0) with layout `l`.
fn factory_context(l: &Layout) -> DeviceContext {
    DeviceContext {
        vendor_id: ota_core::sim::release::vendor(),
        class_id: ota_core::sim::release::class(),
        last_sequence: 1,
        security_floor: 1,
        now: 1_800_000_000,
        slot_capacity: l.max_image_size(),
        installed_version: Version::new(1, 0, 0),
    }
}

/// Factory programming: `old` into slot A, provisioned as release 1 (security version 1)
/// signed by `signer`.
fn factory<const R: usize>(
    f: &mut SimFlash<8, 4096, R>,
    l: &Layout,
    signer: &SimSigner,
    old: &[u8],
) {
    f.program(l.slot_a, old).unwrap();
    provision(f, l, Slot::A, &signer.release(old, 1, 1).envelope, &[]).unwrap();
}

struct Dev {
    f: F,
    l: Layout,
    signer: SimSigner,
    store: SimStore,
    old: Vec<u8>,
}

impl Dev {
    fn new(sim: SimConfig) -> Self {
        let sim = SimConfig {
            check_alignment: true,
            ..sim
        };
        let l = layout(sim.erased);
        let signer = SimSigner::new(3);
        let store = signer.store();
        let mut f = F::for_layout(&l, sim);
        let old = test_image(4000, 1);
        factory(&mut f, &l, &signer, &old);
        Self {
            f,
            l,
            signer,
            store,
            old,
        }
    }

    fn decide(&mut self) -> Decision {
        let trust = self.signer.boot_trust(&self.store);
        decide(&mut self.f, &self.l, &trust, &mut NoCounter).unwrap()
    }

    fn boot(&mut self) -> (Slot, BootReason) {
        match self.decide() {
            Decision::Boot { slot, reason, .. } => (slot, reason),
            other => panic!("expected a boot, got {other:?}"),
        }
    }

    fn state(&mut self) -> State {
        *Updater::open(&mut self.f, self.l).unwrap().state()
    }

    /// Verifies `rel` as the application would and installs it into the update slot.
    fn install(&mut self, running: Slot, rel: &SimRelease, image: &[u8]) {
        let st = self.state();
        let device = DeviceContext {
            vendor_id: ota_core::sim::release::vendor(),
            class_id: ota_core::sim::release::class(),
            last_sequence: st.accepted_sequence(),
            security_floor: st.security_floor(),
            now: 1_800_000_000,
            slot_capacity: self.l.max_image_size(),
            installed_version: st.confirmed_version(),
        };
        let m = verify(&rel.envelope, &self.store, &device).unwrap();
        let mut up = Updater::open_running(&mut self.f, self.l, running).unwrap();
        let from = up.begin(&m).unwrap() as usize;
        up.write(&image[from..]).unwrap();
        up.finish(&rel.envelope, &[]).unwrap();
        up.activate().unwrap();
    }

    /// Installs a new image (5000 bytes, sequence 2, security version 2) from slot A, and the
    /// next boot runs it as a trial from slot B.
    fn install_new_and_boot_its_trial(&mut self) {
        let new = test_image(5000, 2);
        let rel = self.signer.release(&new, 2, 2);
        self.install(Slot::A, &rel, &new);
        assert_eq!(
            self.boot(),
            (Slot::B, BootReason::Trial { attempts_left: 1 })
        );
    }

    /// A in use, B holding a new image (seq 2, security 2) activated for trial.
    fn activated(sim: SimConfig) -> (Self, Vec<u8>) {
        let mut d = Self::new(sim);
        assert_eq!(d.boot(), (Slot::A, BootReason::Confirmed));
        let new = test_image(6000, 2);
        let rel = d.signer.release(&new, 2, 2);
        d.install(Slot::A, &rel, &new);
        (d, new)
    }

    /// B confirmed (floor 2), A still holding the old image.
    fn confirmed(sim: SimConfig) -> Self {
        let (mut d, _) = Self::activated(sim);
        assert_eq!(d.boot(), (Slot::B, BootReason::Trial { attempts_left: 1 }));
        Updater::open_running(&mut d.f, d.l, Slot::B)
            .unwrap()
            .confirm()
            .unwrap();
        assert_eq!(d.state().security_floor(), 2);
        d
    }

    /// B was a trial that the application rejected; A is confirmed.
    fn rejected(sim: SimConfig) -> Self {
        let (mut d, _) = Self::activated(sim);
        assert_eq!(d.boot(), (Slot::B, BootReason::Trial { attempts_left: 1 }));
        Updater::open_running(&mut d.f, d.l, Slot::B)
            .unwrap()
            .reject()
            .unwrap();
        assert_eq!(d.boot(), (Slot::A, BootReason::Confirmed));
        d
    }

    fn newest_record_at(&mut self) -> usize {
        // The newest record is the valid one with the highest sequence.
        let (j, _) = Journal::open(&mut self.f, &self.l).unwrap();
        let seq = j.sequence();
        (0..JOURNAL / RECORD_SIZE)
            .map(|i| i * RECORD_SIZE)
            .find(|&at| {
                ota_core::journal::raw::decode(&self.f.contents()[at..at + RECORD_SIZE])
                    .is_some_and(|(s, _)| s == seq)
            })
            .unwrap()
    }

    fn wipe_journal(&mut self, byte: u8) {
        self.f.load(0, &[byte; JOURNAL]);
    }
}

fn ecc() -> SimConfig {
    SimConfig {
        ecc_write_once: true,
        ..SimConfig::default()
    }
}

// ---- 1. A journal region that reads blank in the wrong polarity, or refuses writes ----

#[test]
fn a_zero_filled_journal_on_ff_flash_does_not_wedge_decide_or_begin() {
    let mut d = Dev::new(SimConfig::default());
    d.wipe_journal(0x00);
    assert_eq!(d.boot(), (Slot::A, BootReason::StateRebuilt));
    d.install_new_and_boot_its_trial();
}

#[test]
fn an_ff_programmed_journal_on_ecc_flash_does_not_wedge_decide_or_begin() {
    let mut d = Dev::new(ecc());
    // Programmed with 0xFF: reads blank, but every ECC word refuses a second program.
    d.wipe_journal(0xFF);
    assert_eq!(d.boot(), (Slot::A, BootReason::StateRebuilt));
    d.install_new_and_boot_its_trial();
}

#[test]
fn a_zero_filled_journal_on_zero_erased_flash_is_blank_and_usable() {
    let mut d = Dev::new(SimConfig {
        erased: 0x00,
        ..SimConfig::default()
    });
    assert_eq!(d.boot(), (Slot::A, BootReason::Confirmed));
    d.install_new_and_boot_its_trial();
}

#[test]
fn a_record_torn_inside_a_word_on_ecc_flash_does_not_wedge_anything() {
    // Tear every write of a begin in turn inside a word: the next boot and begin still work.
    for k in 0..12 {
        let mut d = Dev::new(ecc());
        let new = test_image(5000, 2);
        let rel = d.signer.release(&new, 2, 2);
        d.f.cut_after(k, Tear::InWord);
        {
            let mut up = Updater::open_running(&mut d.f, d.l, Slot::A).unwrap();
            let m = verify(&rel.envelope, &d.store, &factory_context(&d.l)).unwrap();
            let r = up.begin(&m).and_then(|_| up.write(&new));
            assert!(
                matches!(r, Err(UpdateError::Flash(SimError::PowerLoss)) | Ok(())),
                "{r:?}"
            );
        }
        d.f.power_on();
        assert_eq!(d.boot().0, Slot::A, "cut {k}");
        d.install(Slot::A, &rel, &new);
        assert_eq!(
            d.boot(),
            (Slot::B, BootReason::Trial { attempts_left: 1 }),
            "cut {k}"
        );
    }
}

#[test]
fn a_record_sequence_near_u32_max_does_not_block_writes() {
    let mut d = Dev::new(SimConfig::default());
    let state = d.state();
    d.f.erase(0, JOURNAL as u32).unwrap();
    #[repr(C, align(8))]
    struct Aligned([u8; RECORD_SIZE]);
    let rec = Aligned(encode(u32::MAX - 1, &state));
    d.f.write(0, &rec.0).unwrap();
    let (mut j, s) = Journal::open(&mut d.f, &d.l).unwrap();
    assert_eq!(s, Some(state));
    for i in 0..5u32 {
        let next = State::initial(
            state.confirmed(),
            state.confirmed_version(),
            10 + u64::from(i),
            state.security_floor(),
        );
        j.append(&mut d.f, &next).unwrap();
        let (_, s) = Journal::open(&mut d.f, &d.l).unwrap();
        assert_eq!(
            s.unwrap().accepted_sequence(),
            10 + u64::from(i),
            "append {i}"
        );
    }
    assert_eq!(
        Journal::open(&mut d.f, &d.l).unwrap().0.sequence(),
        3,
        "u32::MAX - 1 then five more: MAX, 0, 1, 2, 3"
    );
}

// ---- 2. Transient read errors never change persistent state ----

#[test]
fn one_transient_read_flip_anywhere_in_decide_never_switches_images_or_records_corruption() {
    let mut d = Dev::confirmed(SimConfig::default());
    let before = d.state();
    let reads_before = d.f.wear().reads;
    assert_eq!(d.boot(), (Slot::B, BootReason::Confirmed));
    let reads = d.f.wear().reads - reads_before;
    assert!(reads > 20, "{reads}");
    for n in 0..reads {
        d.f.flip_read(n);
        assert_eq!(
            d.boot(),
            (Slot::B, BootReason::Confirmed),
            "flip at read {n}"
        );
        let s = d.state();
        assert_eq!(s.confirmed(), before.confirmed(), "flip at read {n}");
        assert_ne!(
            s.last_event(),
            Event::ConfirmedSlotCorrupt,
            "flip at read {n}"
        );
        assert_eq!(s.security_floor(), 2, "flip at read {n}");
    }
}

#[test]
fn one_transient_read_flip_while_checking_a_trial_does_not_revert_it() {
    let (mut probe, _) = Dev::activated(SimConfig::default());
    let reads_before = probe.f.wear().reads;
    probe.boot();
    let reads = probe.f.wear().reads - reads_before;
    for n in 0..reads {
        let (mut d, _) = Dev::activated(SimConfig::default());
        d.f.flip_read(n);
        assert_eq!(
            d.boot(),
            (Slot::B, BootReason::Trial { attempts_left: 1 }),
            "flip at read {n}"
        );
    }
}

#[test]
fn a_stored_flip_in_the_confirmed_image_falls_back_to_the_older_confirmed_image() {
    let mut d = Dev::confirmed(SimConfig::default());
    d.f.flip_stored(d.l.slot_b as usize + 100, 3);
    assert_eq!(d.boot(), (Slot::A, BootReason::ConfirmedSlotCorrupt));
    let s = d.state();
    assert_eq!(s.confirmed(), Slot::A);
    assert_eq!(s.security_floor(), 2, "the floor stays where it was");
}

// ---- 3. The floor never goes down ----

#[test]
fn one_stored_flip_in_the_newest_journal_record_does_not_lower_the_floor() {
    for bit in [0u8, 5] {
        let mut d = Dev::confirmed(SimConfig::default());
        let at = d.newest_record_at();
        d.f.flip_stored(at + 24, bit); // inside the floor field
        let s = d.state();
        assert_eq!(s.security_floor(), 2);
        assert_eq!(
            s.confirmed(),
            Slot::B,
            "the confirm is kept in B's confirm record"
        );
        assert_eq!(d.boot(), (Slot::B, BootReason::Confirmed));
        assert_eq!(d.state().security_floor(), 2);
    }
}

#[test]
fn rebuild_keeps_the_recorded_floor_even_when_it_boots_an_older_image() {
    let mut d = Dev::confirmed(SimConfig::default());
    // B's image rots and the journal is lost: A (security version 1) is all that boots.
    d.f.flip_stored(d.l.slot_b as usize + 7, 1);
    d.wipe_journal(0x00);
    assert_eq!(d.boot(), (Slot::A, BootReason::StateRebuilt));
    let s = d.state();
    assert_eq!(s.confirmed(), Slot::A);
    assert_eq!(s.security_floor(), 2, "not A's security version 1");
    assert!(s.accepted_sequence() >= 2);
}

#[test]
fn a_hardware_counter_is_bumped_only_when_the_security_version_rises() {
    let (mut d, _) = Dev::activated(SimConfig::default());
    let mut c = SimCounter::new(32);
    assert_eq!(d.boot().0, Slot::B);
    Updater::open_running(&mut d.f, d.l, Slot::B)
        .unwrap()
        .confirm_with_counter(&mut c)
        .unwrap()
        .unwrap();
    assert_eq!((c.value(), c.bumps()), (2, 1));
    // A release with the same security version costs no bump.
    let img = test_image(3000, 3);
    let rel = d.signer.release_with_security(&img, 3, 3, 2);
    d.install(Slot::B, &rel, &img);
    assert_eq!(d.boot().0, Slot::A);
    Updater::open_running(&mut d.f, d.l, Slot::A)
        .unwrap()
        .confirm_with_counter(&mut c)
        .unwrap()
        .unwrap();
    assert_eq!((c.value(), c.bumps()), (2, 1));
    // The counter floors a rebuild even when every confirm record is gone.
    let mut c5 = SimCounter::new(32);
    c5.advance_to(5).unwrap();
    d.wipe_journal(0x00);
    let store_trust = d.store.clone();
    let trust = d.signer.boot_trust(&store_trust);
    let mut f = d.f.clone();
    decide(&mut f, &d.l, &trust, &mut c5).unwrap();
    assert_eq!(
        Updater::open(&mut f, d.l).unwrap().state().security_floor(),
        5
    );
}

// ---- 4. Reverts are final ----

#[test]
fn a_rejected_image_never_becomes_confirmed_after_journal_loss() {
    for wipe in [0x00, 0xFF, 0x5A] {
        let mut d = Dev::rejected(SimConfig::default());
        d.wipe_journal(wipe);
        assert_eq!(
            d.boot(),
            (Slot::A, BootReason::StateRebuilt),
            "wipe {wipe:#x}"
        );
        let s = d.state();
        assert_eq!((s.confirmed(), s.phase()), (Slot::A, Phase::Idle));
    }
}

#[test]
fn a_crash_looping_image_never_becomes_confirmed_after_journal_loss() {
    let (mut d, _) = Dev::activated(SimConfig::default());
    assert_eq!(d.boot().0, Slot::B);
    assert_eq!(d.boot().0, Slot::B);
    assert_eq!(
        d.boot(),
        (Slot::A, BootReason::Reverted(Event::AttemptsExhausted))
    );
    d.wipe_journal(0x00);
    assert_eq!(d.boot(), (Slot::A, BootReason::StateRebuilt));
}

#[test]
fn a_rejected_image_boots_only_as_a_trial_when_the_good_slot_reads_corrupt() {
    let mut d = Dev::rejected(SimConfig::default());
    d.f.flip_stored(d.l.slot_a as usize + 11, 6);
    for _ in 0..3 {
        assert_eq!(d.boot(), (Slot::B, BootReason::Trial { attempts_left: 0 }));
        let s = d.state();
        assert_eq!(s.confirmed(), Slot::A, "B is not confirmed by the fallback");
        assert!(matches!(s.phase(), Phase::Trial { .. }));
    }
    // And after journal loss too: a never-confirmed image boots only as a trial.
    d.wipe_journal(0x00);
    assert_eq!(d.boot(), (Slot::B, BootReason::Trial { attempts_left: 1 }));
    assert_eq!(d.state().confirmed(), Slot::A);
    // The application can still confirm it after its own self-test.
    Updater::open_running(&mut d.f, d.l, Slot::B)
        .unwrap()
        .confirm()
        .unwrap();
    assert_eq!(d.boot(), (Slot::B, BootReason::Confirmed));
}

#[test]
fn a_rebuilt_journal_prefers_the_last_confirmed_image() {
    let mut d = Dev::confirmed(SimConfig::default());
    d.wipe_journal(0x00);
    assert_eq!(d.boot(), (Slot::B, BootReason::StateRebuilt));
}

// ---- 5. begin never erases the running slot ----

#[test]
fn begin_refuses_to_erase_the_running_slot() {
    let mut d = Dev::new(SimConfig::default());
    let new = test_image(3000, 2);
    let rel = d.signer.release(&new, 2, 2);
    let m = verify(&rel.envelope, &d.store, &factory_context(&d.l)).unwrap();
    // The journal says A is confirmed, so the update goes to B; but the code runs from B.
    let before = d.f.contents().to_vec();
    let mut up = Updater::open_running(&mut d.f, d.l, Slot::B).unwrap();
    assert_eq!(up.begin(&m), Err(UpdateError::RunningSlot(Slot::B)));
    assert_eq!(d.f.contents(), &before[..], "nothing was written or erased");
}

// ---- 6. The bootloader is the root of trust ----

#[test]
fn an_image_signed_by_another_key_never_boots() {
    let (d, new) = Dev::activated(SimConfig::default());
    // B holds the right image, but its trailer is rewritten (as a provisioning tool or an
    // attacker with flash access would) with a release signed by a key the bootloader does
    // not trust. Provisioning also resets the journal to "B confirmed".
    let rogue = SimSigner::new(99).release(&new, 2, 2);
    let mut f = d.f.clone();
    let t = d.l.slot_b + d.l.max_image_size();
    f.erase(t - t % 4096, d.l.slot_b + d.l.slot_size).unwrap();
    provision(&mut f, &d.l, Slot::B, &rogue.envelope, &[]).unwrap();
    let store_trust = d.store.clone();
    let trust = d.signer.boot_trust(&store_trust);
    assert_eq!(
        ota_core::boot::check_slot(&mut f, &d.l, &trust, Slot::B, None).unwrap(),
        Err(SlotStatus::NotAuthorized)
    );
    // No flag makes it bootable: the bootloader falls back to A, confirmed before.
    assert_eq!(
        decide(&mut f, &d.l, &trust, &mut NoCounter).unwrap(),
        Decision::Boot {
            slot: Slot::A,
            version: Version::new(1, 0, 0),
            reason: BootReason::ConfirmedSlotCorrupt
        }
    );
}

#[test]
fn a_forged_footer_over_a_tampered_image_never_boots() {
    let mut d = Dev::confirmed(SimConfig::default());
    // An attacker with flash access rewrites A's image and leaves its trailer: the kept
    // envelope's signed digest no longer matches.
    let evil = test_image(4000, 66);
    d.f.erase(d.l.slot_a, d.l.slot_a + 0x1000).unwrap();
    d.f.program(d.l.slot_a, &evil).unwrap();
    let store_trust = d.store.clone();
    let trust = d.signer.boot_trust(&store_trust);
    assert_eq!(
        ota_core::boot::check_slot(&mut d.f, &d.l, &trust, Slot::A, None).unwrap(),
        Err(SlotStatus::DigestMismatch)
    );
    // B still verifies and boots; A (tampered) never does, even after journal loss.
    d.f.flip_stored(d.l.slot_b as usize + 1, 0);
    let dec = d.decide();
    assert_eq!(
        dec,
        Decision::NoBootableImage {
            a: SlotStatus::DigestMismatch,
            b: SlotStatus::DigestMismatch
        }
    );
    assert_eq!(d.old.len(), 4000);
}

#[test]
fn an_image_without_a_kept_envelope_never_boots() {
    let mut d = Dev::new(SimConfig::default());
    // Rewrite A's trailer without its manifest envelope: footer, confirm record and image are
    // intact, but nothing signs the image.
    let t = (d.l.slot_a + d.l.max_image_size()) as usize;
    let end = (d.l.slot_a + d.l.slot_size) as usize;
    let saved = d.f.contents()[t - t % 4096..end].to_vec();
    d.f.erase((t - t % 4096) as u32, end as u32).unwrap();
    let skip = t % 4096 + 640;
    d.f.program((t - t % 4096 + skip) as u32, &saved[skip..])
        .unwrap();
    d.f.program((t - t % 4096) as u32, &saved[..t % 4096])
        .unwrap();
    let store_trust = d.store.clone();
    let trust = d.signer.boot_trust(&store_trust);
    assert_eq!(
        ota_core::boot::check_slot(&mut d.f, &d.l, &trust, Slot::A, None).unwrap(),
        Err(SlotStatus::Unsigned)
    );
    assert_eq!(
        d.decide(),
        Decision::NoBootableImage {
            a: SlotStatus::Unsigned,
            b: SlotStatus::NoFooter
        }
    );
}

#[test]
fn a_delegated_signer_boots_with_its_kept_delegation_and_not_without() {
    use ed25519_dalek::SigningKey;
    use ota_core::trust::{DelegationAction, DelegationRecord, Validity};
    let root = SigningKey::from_bytes(&[11; 32]);
    let delegate = SigningKey::from_bytes(&[12; 32]);
    let record = DelegationRecord {
        format_version: ota_core::trust::DELEGATION_FORMAT_VERSION,
        vendor_id: ota_core::sim::release::vendor(),
        class_id: ota_core::sim::release::class(),
        record_sequence: 1,
        action: DelegationAction::Delegate {
            key: delegate.verifying_key().to_bytes(),
            validity: Validity::UNBOUNDED,
        },
    };
    let grant = ota_core::sign::sign_delegation(&record, &[&root]).unwrap();
    // The bootloader's anchors: product-scoped; freshness is an install-time rule (like expiry),
    // so the boot check does not ask for it.
    let store = ota_core::trust::TrustStore::<1, 2>::for_product(
        &[root.verifying_key().to_bytes()],
        1,
        ota_core::sim::release::vendor(),
        ota_core::sim::release::class(),
    )
    .unwrap()
    .with_freshness(ota_core::trust::FreshnessPolicy::NotRequired);
    let trust = BootTrust {
        store: &store,
        vendor_id: ota_core::sim::release::vendor(),
        class_id: ota_core::sim::release::class(),
        now: 1_800_000_000,
        mode: VerifyMode::EveryBoot,
    };
    let image = test_image(3000, 4);
    let manifest = ota_core::manifest::Manifest {
        format_version: 1,
        sequence: 1,
        vendor_id: ota_core::sim::release::vendor(),
        class_id: ota_core::sim::release::class(),
        version: Version::new(1, 0, 0),
        security_version: 1,
        image_size: 3000,
        image_digest: ota_core::digest::ImageDigest::of(&image),
        encryption: None,
        expires_at: None,
        min_installed_version: None,
        release_notes: heapless::String::new(),
        delta: None,
    };
    let env = ota_core::sign::sign_manifest(&manifest, &[&delegate]).unwrap();
    for with_grant in [true, false] {
        let l = layout(0xFF);
        let mut f = F::for_layout(&l, SimConfig::default());
        f.program(l.slot_a, &image).unwrap();
        let grants: Vec<&[u8]> = if with_grant { vec![&grant] } else { vec![] };
        provision(&mut f, &l, Slot::A, &env, &grants).unwrap();
        let got = ota_core::boot::check_slot(&mut f, &l, &trust, Slot::A, None).unwrap();
        if with_grant {
            assert!(got.is_ok(), "{got:?}");
        } else {
            assert_eq!(got, Err(SlotStatus::NotAuthorized));
        }
    }
    // Anchors with no room for delegates (`TrustStore::<1, 0>`, the example bootloader's):
    // the kept grant cannot make the delegate a signer (the check skips reading it), while a
    // root-signed release next to the same grant boots.
    let small = ota_core::trust::TrustStore::<1, 0>::for_product(
        &[root.verifying_key().to_bytes()],
        1,
        ota_core::sim::release::vendor(),
        ota_core::sim::release::class(),
    )
    .unwrap()
    .with_freshness(ota_core::trust::FreshnessPolicy::NotRequired);
    let small_trust = BootTrust {
        store: &small,
        vendor_id: trust.vendor_id,
        class_id: trust.class_id,
        now: trust.now,
        mode: VerifyMode::EveryBoot,
    };
    let by_root = ota_core::sign::sign_manifest(&manifest, &[&root]).unwrap();
    for (env, expected) in [(&env, Err(SlotStatus::NotAuthorized)), (&by_root, Ok(()))] {
        let l = layout(0xFF);
        let mut f = F::for_layout(&l, SimConfig::default());
        f.program(l.slot_a, &image).unwrap();
        provision(&mut f, &l, Slot::A, env, &[&grant]).unwrap();
        let got = ota_core::boot::check_slot(&mut f, &l, &small_trust, Slot::A, None).unwrap();
        assert_eq!(got.map(|_| ()), expected);
    }
}

#[test]
#[cfg_attr(
    feature = "boot-every-boot",
    ignore = "boot-every-boot checks in full whatever the mode"
)]
fn verify_once_checks_the_marker_instead_of_the_image_and_a_forged_marker_falls_back() {
    for key in [None, Some([7u8; 32])] {
        let mut d = Dev::new(SimConfig::default());
        let store_trust = d.store.clone();
        let mut trust = d.signer.boot_trust(&store_trust);
        trust.mode = VerifyMode::VerifyOnce { key };
        let check = |f: &mut F, l: &Layout| {
            let before = f.wear().reads;
            let r = ota_core::boot::check_slot(f, l, &trust, Slot::A, None).unwrap();
            assert!(r.is_ok(), "{r:?}");
            f.wear().reads - before
        };
        let full_reads = check(&mut d.f, &d.l);
        let marked_reads = check(&mut d.f, &d.l);
        assert!(
            marked_reads < full_reads / 2,
            "{marked_reads} reads with the marker, {full_reads} without"
        );
        // The image changes after the marker: the marker only covers the trailer, so this
        // goes unnoticed in verify-once mode (the documented trade-off) ...
        d.f.flip_stored(d.l.slot_a as usize + 3, 2);
        assert!(matches!(
            decide(&mut d.f, &d.l, &trust, &mut NoCounter).unwrap(),
            Decision::Boot { slot: Slot::A, .. }
        ));
        // ... and caught at every boot in the default mode.
        let store_every = d.store.clone();
        let every = d.signer.boot_trust(&store_every);
        assert!(matches!(
            decide(&mut d.f, &d.l, &every, &mut NoCounter).unwrap(),
            Decision::NoBootableImage { .. }
        ));
    }
    // A keyed marker written under another key is not accepted: the full check runs.
    let mut d = Dev::new(SimConfig::default());
    let store_t1 = d.store.clone();
    let mut t1 = d.signer.boot_trust(&store_t1);
    t1.mode = VerifyMode::VerifyOnce { key: Some([1; 32]) };
    decide(&mut d.f, &d.l, &t1, &mut NoCounter).unwrap();
    d.f.flip_stored(d.l.slot_a as usize + 3, 2);
    let store_t2 = d.store.clone();
    let mut t2 = d.signer.boot_trust(&store_t2);
    t2.mode = VerifyMode::VerifyOnce { key: Some([2; 32]) };
    assert!(matches!(
        decide(&mut d.f, &d.l, &t2, &mut NoCounter).unwrap(),
        Decision::NoBootableImage { .. }
    ));
}

/// With `boot-every-boot`, verify-once mode checks in full: the same number of reads at every
/// boot, no marker written, and an image changed after the first boot is caught.
#[test]
#[cfg(feature = "boot-every-boot")]
fn boot_every_boot_checks_verify_once_slots_in_full() {
    let mut d = Dev::new(SimConfig::default());
    let store = d.store.clone();
    let mut trust = d.signer.boot_trust(&store);
    trust.mode = VerifyMode::VerifyOnce { key: None };
    let mut reads = || {
        let before = d.f.wear().reads;
        let r = ota_core::boot::check_slot(&mut d.f, &d.l, &trust, Slot::A, None).unwrap();
        assert!(r.is_ok(), "{r:?}");
        d.f.wear().reads - before
    };
    let (first, second) = (reads(), reads());
    assert_eq!(first, second, "no marker shortens the second check");
    d.f.flip_stored(d.l.slot_a as usize + 3, 2);
    assert!(matches!(
        decide(&mut d.f, &d.l, &trust, &mut NoCounter).unwrap(),
        Decision::NoBootableImage { .. }
    ));
}

#[test]
fn finish_refuses_an_envelope_for_another_image() {
    let mut d = Dev::new(SimConfig::default());
    let new = test_image(3000, 2);
    let rel = d.signer.release(&new, 2, 2);
    let other = d.signer.release(&test_image(3000, 9), 2, 2);
    let m = verify(&rel.envelope, &d.store, &factory_context(&d.l)).unwrap();
    let mut up = Updater::open_running(&mut d.f, d.l, Slot::A).unwrap();
    up.begin(&m).unwrap();
    up.write(&new).unwrap();
    assert_eq!(
        up.finish(&other.envelope, &[]),
        Err(UpdateError::EnvelopeMismatch)
    );
    assert_eq!(
        up.finish(&rel.envelope, &[&[1], &[2], &[3]]),
        Err(UpdateError::TooManyDelegations(3))
    );
    up.finish(&rel.envelope, &[]).unwrap();
}

#[test]
fn the_simulators_stricter_modes_run_a_whole_cycle() {
    for sim in [
        SimConfig {
            and_writes: true,
            ..SimConfig::default()
        },
        SimConfig {
            and_writes: true,
            erased: 0x00,
            ..SimConfig::default()
        },
    ] {
        let mut d = Dev::confirmed(sim);
        assert_eq!(d.boot(), (Slot::B, BootReason::Confirmed));
    }
    // READ_SIZE 16.
    let l = layout(0xFF);
    let signer = SimSigner::new(3);
    let store = signer.store();
    let mut f = SimFlash::<8, 4096, 16>::for_layout(&l, SimConfig::default());
    let old = test_image(4000, 1);
    factory(&mut f, &l, &signer, &old);
    assert!(matches!(
        decide(&mut f, &l, &signer.boot_trust(&store), &mut NoCounter).unwrap(),
        Decision::Boot {
            slot: Slot::A,
            reason: BootReason::Confirmed,
            ..
        }
    ));
}

/// Writes the `journal_recovery` fuzz seeds: provisioned 16 KiB flash images (the fuzz target's
/// layout) in each phase of an update. Run with
/// `FUZZ_SEEDS=fuzz/seeds/journal_recovery cargo test -p ota-core --features sim,std --test faults -- --ignored write_fuzz_seeds`.
#[test]
#[ignore = "writes files; run by hand to refresh the seeds"]
fn write_fuzz_seeds() {
    let Ok(dir) = std::env::var("FUZZ_SEEDS") else {
        return;
    };
    let l = Layout {
        journal_offset: 0,
        journal_sectors: 2,
        slot_a: 0x2000,
        slot_b: 0x3000,
        slot_size: 0x1000,
        trial_attempts: 2,
        erased: 0xFF,
    };
    let signer = SimSigner::new(1);
    let store = signer.store();
    let trust = signer.boot_trust(&store);
    let mut f = F::for_layout(&l, SimConfig::default());
    let old = test_image(1500, 1);
    factory(&mut f, &l, &signer, &old);
    let mut seeds: Vec<(&str, Vec<u8>)> = vec![("provisioned", f.contents().to_vec())];
    let new = test_image(1200, 2);
    let rel = signer.release(&new, 2, 2);
    let m = verify(&rel.envelope, &store, &factory_context(&l)).unwrap();
    {
        let mut up = Updater::open_running(&mut f, l, Slot::A).unwrap();
        up.begin(&m).unwrap();
        up.write(&new[..600]).unwrap();
    }
    seeds.push(("downloading", f.contents().to_vec()));
    {
        let mut up = Updater::open_running(&mut f, l, Slot::A).unwrap();
        let from = up.begin(&m).unwrap() as usize;
        up.write(&new[from..]).unwrap();
        up.finish(&rel.envelope, &[]).unwrap();
        up.activate().unwrap();
    }
    seeds.push(("activated", f.contents().to_vec()));
    decide(&mut f, &l, &trust, &mut NoCounter).unwrap();
    seeds.push(("trial", f.contents().to_vec()));
    let mut rejected = f.clone();
    Updater::open_running(&mut rejected, l, Slot::B)
        .unwrap()
        .reject()
        .unwrap();
    seeds.push(("rejected", rejected.contents().to_vec()));
    Updater::open_running(&mut f, l, Slot::B)
        .unwrap()
        .confirm()
        .unwrap();
    seeds.push(("confirmed", f.contents().to_vec()));
    let mut lost = f.clone();
    lost.load(0, &[0u8; JOURNAL]);
    seeds.push(("journal-lost", lost.contents().to_vec()));
    let mut rot = f.clone();
    rot.flip_stored(0x3000 + 9, 1);
    seeds.push(("confirmed-slot-rot", rot.contents().to_vec()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in seeds {
        assert_eq!(bytes.len(), 0x4000);
        std::fs::write(format!("{dir}/flash-{name}.bin"), bytes).unwrap();
    }
}
