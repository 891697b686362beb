//! Multi-component transactions: dependency checks, wrong-area refusal, all-or-nothing revert
//! after a failed trial of each component, power cuts, and the manifest and record formats.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ota_core::digest::ImageDigest;
use ota_core::envelope::MANIFEST_DOMAIN;
use ota_core::manifest::{ProductId, Version};
use ota_core::multi::MultiError;
use ota_core::multi::boot::{BootSide, MultiBootReason, MultiDecision, decide, provision};
use ota_core::multi::depends::{DependencyError, check};
use ota_core::multi::layout::{AreaKind, MultiLayout};
use ota_core::multi::manifest::{
    AreaId, Component, ComponentId, Dependency, ImageKind, MULTI_FORMAT_VERSION, MultiManifest,
    MultiManifestError, VersionRange, sign_multi,
};
use ota_core::multi::sim::proof::{
    APP, DATA, MultiProofConfig, MultiScenario, RADIO, layout, manifest, prove,
};
use ota_core::multi::sim::{CoprocError, Rail, RailFlash, SimCoprocessor};
use ota_core::multi::transaction::{ImageFacts, TxEvent, TxPhase};
use ota_core::multi::updater::MultiUpdater;
use ota_core::multi::verify::{MultiVerifyError, VerifiedMulti, verify_multi};
use ota_core::sim::proof::test_image;
use ota_core::sim::release::{class, vendor};
use ota_core::sim::{SimConfig, SimError, SimFlash, Tear};
use ota_core::trust::TrustStore;
use ota_core::verify::SignatureError;

const E: usize = 4096;
type Main = RailFlash<8, E>;
type Coproc = SimCoprocessor<8, E>;
type Err = MultiError<SimError, CoprocError>;

const SIZES: [(u32, u32); 3] = [(3000, 5000), (1500, 2500), (2000, 4000)];

fn root() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7; 32])
}

fn store() -> TrustStore<1, 2> {
    TrustStore::new(&[root().verifying_key().to_bytes()], 1).unwrap()
}

fn facts(image: &[u8], major: u16) -> ImageFacts {
    ImageFacts {
        version: Version::new(major, 0, 0),
        security_version: u32::from(major),
        image_size: image.len() as u32,
        image_digest: ImageDigest::of(image),
    }
}

/// A provisioned three-component device: old images (version 1) everywhere.
struct Device {
    rail: Rail,
    main: Main,
    coproc: Coproc,
    layout: MultiLayout<3>,
    old: [Vec<u8>; 3],
    new: [Vec<u8>; 3],
}

impl Device {
    fn new() -> Self {
        let cfg = SimConfig {
            check_alignment: true,
            ..SimConfig::default()
        };
        let rail = Rail::new();
        let layout = layout(E as u32, &SIZES, 2);
        let old: [Vec<u8>; 3] = core::array::from_fn(|i| test_image(SIZES[i].0, 10 + i as u8));
        let new: [Vec<u8>; 3] = core::array::from_fn(|i| test_image(SIZES[i].1, 20 + i as u8));
        let mut flash = SimFlash::<8, E>::new(16, cfg);
        for (area, image) in layout.areas.iter().zip(&old).take(2) {
            let AreaKind::Slots { a, .. } = area.kind else {
                unreachable!()
            };
            flash.program(a, image).unwrap();
        }
        let mut main = RailFlash::new(flash, &rail);
        let installed = [
            (APP, facts(&old[0], 1)),
            (DATA, facts(&old[1], 1)),
            (RADIO, facts(&old[2], 1)),
        ];
        provision::<_, CoprocError, 3>(&mut main, &layout, &installed).unwrap();
        let coproc = SimCoprocessor::provision(
            RADIO,
            SimFlash::new(SimCoprocessor::<8, E>::sectors(1), cfg),
            &rail,
            1,
            &old[2],
        )
        .unwrap();
        Self {
            rail,
            main,
            coproc,
            layout,
            old,
            new,
        }
    }

    /// A device with the sample transaction (every component to version 2) staged and
    /// activated: the next boot is its trial.
    fn activated() -> Self {
        let mut d = Self::new();
        let m = sample(&d.new_facts());
        d.stage(&m).unwrap();
        d.updater().activate().unwrap();
        d
    }

    fn new_facts(&self) -> [ImageFacts; 3] {
        core::array::from_fn(|i| facts(&self.new[i], 2))
    }

    fn updater(&mut self) -> MultiUpdater<&mut Main, &mut Coproc, 3> {
        MultiUpdater::open(&mut self.main, &mut self.coproc, self.layout).unwrap()
    }

    fn verified(&mut self, m: &MultiManifest<3>) -> Result<VerifiedMulti<3>, MultiVerifyError> {
        let env = sign_multi(m, &[&root()]).unwrap();
        let ctx = self.updater().context(vendor(), class(), 1_800_000_000);
        verify_multi(&env, &store(), &ctx)
    }

    /// Begins `m` and stages every component; does not activate.
    fn stage(&mut self, m: &MultiManifest<3>) -> Result<(), Err> {
        let v = self.verified(m).unwrap();
        let images = self.new.clone();
        let mut up = self.updater();
        up.begin(&v)?;
        while let Some(c) = up.next_component() {
            let i = usize::from(c.0 - 1);
            let mut w = up.stage(c)?;
            assert_eq!(
                w.target().component(),
                c,
                "a writer targets its own component"
            );
            for chunk in images[i].chunks(333) {
                w.write(chunk)?;
            }
            w.finish()?;
        }
        Ok(())
    }

    fn decide(&mut self) -> MultiDecision<3> {
        decide(&mut self.main, &mut self.coproc, &self.layout).unwrap()
    }

    /// Every component runs its old image (bytes checked), or every one its new image.
    fn assert_runs(&mut self, d: &MultiDecision<3>, new: bool) {
        let images = if new { &self.new } else { &self.old };
        let major = if new { 2 } else { 1 };
        for (i, e) in d.components.iter().enumerate() {
            assert_eq!(e.image, facts(&images[i], major), "{}", e.component);
            match e.slot {
                Some(slot) => {
                    let base = self.layout.handle_offset(i, slot);
                    let bytes = &self.main.sim().contents()[base..base + images[i].len()];
                    assert_eq!(bytes, &images[i][..], "{} slot bytes", e.component);
                }
                None => assert_eq!(
                    self.coproc.running_digest().unwrap(),
                    ImageDigest::of(&images[i]),
                    "the co-processor runs the {} radio image",
                    if new { "new" } else { "old" }
                ),
            }
        }
    }

    fn erases(&self) -> u64 {
        self.main.sim().wear().erases + self.coproc.flash().sim().wear().erases
    }
}

/// Slot offsets for the assertions (the test knows the layout it built).
trait SlotOffset {
    fn handle_offset(&self, i: usize, slot: ota_core::layout::Slot) -> usize;
}

impl SlotOffset for MultiLayout<3> {
    fn handle_offset(&self, i: usize, slot: ota_core::layout::Slot) -> usize {
        match self.areas[i].kind {
            AreaKind::Slots { a, b, .. } => match slot {
                ota_core::layout::Slot::A => a as usize,
                ota_core::layout::Slot::B => b as usize,
            },
            AreaKind::External { .. } => unreachable!(),
        }
    }
}

fn sample(new: &[ImageFacts; 3]) -> MultiManifest<3> {
    let mut m = manifest(new);
    m.vendor_id = vendor();
    m.class_id = class();
    m
}

#[test]
fn a_confirmed_transaction_runs_every_new_component() {
    let mut d = Device::activated();
    let trial = d.decide();
    assert_eq!(trial.side, BootSide::Trial);
    assert_eq!(trial.reason, MultiBootReason::Trial { attempts_left: 1 });
    d.assert_runs(&trial, true);
    let mut up = d.updater();
    up.confirm().unwrap();
    assert_eq!(up.state().phase, TxPhase::Idle);
    assert_eq!(up.state().last_event, TxEvent::Confirmed);
    let floors: Vec<u32> = up.state().components.iter().map(|c| c.floor).collect();
    assert_eq!(
        floors,
        [2, 2, 2],
        "every floor rose to its security version"
    );
    let after = d.decide();
    assert_eq!(after.side, BootSide::Installed);
    d.assert_runs(&after, true);
}

#[test]
fn a_failed_trial_of_each_slot_component_reverts_every_component() {
    for (i, c) in [(0usize, APP), (1, DATA)] {
        let mut d = Device::activated();
        // Bit rot in the staged image of this component (slot B) before the trial boot.
        let at = d.layout.handle_offset(i, ota_core::layout::Slot::B) + 17;
        d.main.sim_mut().flip_stored(at, 3);
        let boot = d.decide();
        assert_eq!(boot.side, BootSide::Installed, "{c}");
        assert_eq!(
            boot.reason,
            MultiBootReason::Reverted(TxEvent::TrialImageCorrupt(c))
        );
        d.assert_runs(&boot, false);
        let up = d.updater();
        assert_eq!(up.state().phase, TxPhase::Idle);
        assert!(up.state().components.iter().all(|c| c.pending.is_none()));
        drop(up);
        let again = d.decide();
        d.assert_runs(&again, false);
    }
}

#[test]
fn a_failed_trial_of_the_coprocessor_reverts_every_component() {
    let mut d = Device::activated();
    d.coproc.fail_trials = true;
    let boot = d.decide();
    assert_eq!(
        boot.reason,
        MultiBootReason::Reverted(TxEvent::InstallerRefused(RADIO))
    );
    d.assert_runs(&boot, false);
}

#[test]
fn a_corrupt_coprocessor_staging_bank_is_refused_at_install_and_reverts_everything() {
    let mut d = Device::activated();
    let at = d.coproc.staging_offset().unwrap() as usize + 5;
    d.coproc.flash_mut().sim_mut().flip_stored(at, 0);
    let boot = d.decide();
    assert_eq!(
        boot.reason,
        MultiBootReason::Reverted(TxEvent::InstallerRefused(RADIO))
    );
    d.assert_runs(&boot, false);
}

#[test]
fn a_self_test_failure_of_each_component_reverts_every_component() {
    for c in [APP, DATA, RADIO] {
        let mut d = Device::activated();
        let trial = d.decide();
        d.assert_runs(&trial, true);
        let mut up = d.updater();
        up.reject(Some(c)).unwrap();
        assert_eq!(up.state().last_event, TxEvent::Rejected(Some(c)));
        drop(up);
        let boot = d.decide();
        assert_eq!(boot.side, BootSide::Installed);
        d.assert_runs(&boot, false);
    }
}

#[test]
fn an_unconfirmed_trial_reverts_every_component_when_attempts_run_out() {
    let mut d = Device::activated();
    for left in [1, 0] {
        let t = d.decide();
        assert_eq!(
            t.reason,
            MultiBootReason::Trial {
                attempts_left: left
            }
        );
        d.assert_runs(&t, true);
    }
    let boot = d.decide();
    assert_eq!(
        boot.reason,
        MultiBootReason::Reverted(TxEvent::AttemptsExhausted)
    );
    d.assert_runs(&boot, false);
}

#[test]
fn a_component_aimed_at_another_components_area_is_refused_before_any_erase() {
    let mut d = Device::new();
    let full = sample(&d.new_facts());
    // The radio image aimed at the application's slot pair (mcumgr #152).
    let mut m = full.clone();
    m.components = heapless::Vec::from_iter([full.components[2].clone()]);
    m.components[0].area = AreaId(1);
    let v = d.verified(&m).unwrap();
    let before = d.erases();
    let r = d.updater().begin(&v);
    assert_eq!(
        r,
        Err(MultiError::WrongArea {
            component: RADIO,
            area: AreaId(1),
            owner: APP
        })
    );
    assert_eq!(d.erases(), before, "nothing erased");
    let mut m = full;
    m.components[0].area = AreaId(9);
    let v = d.verified(&m).unwrap();
    assert_eq!(
        d.updater().begin(&v),
        Err(MultiError::UnknownArea {
            component: APP,
            area: AreaId(9)
        })
    );
    assert_eq!(d.updater().state().phase, TxPhase::Idle);
}

#[test]
fn components_are_staged_in_layout_order_through_their_own_writer() {
    let mut d = Device::new();
    let m = sample(&d.new_facts());
    let v = d.verified(&m).unwrap();
    let mut up = d.updater();
    up.begin(&v).unwrap();
    assert_eq!(up.next_component(), Some(APP));
    assert!(matches!(
        up.stage(RADIO),
        Err(MultiError::OutOfOrder {
            expected: Some(APP),
            got: RADIO
        })
    ));
    let mut w = up.stage(APP).unwrap();
    assert!(matches!(
        w.write(&vec![0; 5001]),
        Err(MultiError::WriteBeyondImage {
            component: APP,
            size: 5000,
            ..
        })
    ));
    w.write(&[1; 100]).unwrap();
    assert!(matches!(
        w.finish(),
        Err(MultiError::Incomplete {
            component: APP,
            written: 100,
            expected: 5000
        })
    ));
}

#[test]
fn a_staged_image_that_reads_back_wrong_abandons_the_transaction() {
    let mut d = Device::new();
    let mut m = sample(&d.new_facts());
    m.components[1].image_digest = [9; 32];
    let v = d.verified(&m).unwrap();
    let images = d.new.clone();
    let mut up = d.updater();
    up.begin(&v).unwrap();
    let mut w = up.stage(APP).unwrap();
    w.write(&images[0]).unwrap();
    w.finish().unwrap();
    let mut w = up.stage(DATA).unwrap();
    w.write(&images[1]).unwrap();
    assert_eq!(w.finish(), Err(MultiError::DigestMismatch(DATA)));
    assert_eq!(up.state().phase, TxPhase::Idle);
    assert_eq!(up.state().last_event, TxEvent::StagingDigestMismatch(DATA));
    drop(up);
    let boot = d.decide();
    d.assert_runs(&boot, false);
}

fn dep(c: ComponentId, min: (u16, u16)) -> Dependency {
    Dependency {
        component: c,
        range: VersionRange::at_least(Version::new(min.0, min.1, 0)),
    }
}

#[test]
fn dependencies_met_unmet_and_satisfied_by_the_same_manifest() {
    let mut d = Device::new();
    let new = d.new_facts();
    let installed = d.updater().installed();
    // Met by an installed component: the data partition needs the app >= 1.0 (installed 1.0).
    let mut met = sample(&new);
    met.components = heapless::Vec::from_iter([met.components[1].clone()]);
    met.components[0].depends = heapless::Vec::from_iter([dep(APP, (1, 0))]);
    assert_eq!(check(&met, &installed), Ok(()));
    // Unmet: the app alone needs radio >= 2.0, the radio stays at 1.0.
    let mut unmet = sample(&new);
    unmet.components = heapless::Vec::from_iter([unmet.components[0].clone()]);
    let expected = DependencyError::Unmet {
        component: APP,
        requires: RADIO,
        range: VersionRange::at_least(Version::new(2, 0, 0)),
        found: Version::new(1, 0, 0),
    };
    assert_eq!(check(&unmet, &installed), Err(expected));
    let v = d.verified(&unmet).unwrap();
    let before = d.erases();
    assert_eq!(d.updater().begin(&v), Err(MultiError::Dependency(expected)));
    assert_eq!(d.erases(), before, "checked before anything is erased");
    // Satisfied by the same manifest: app needs radio 2.x and radio needs app 2.x, both in it.
    let both = sample(&new);
    assert_eq!(check(&both, &installed), Ok(()));
    d.stage(&both).unwrap();
    assert_eq!(d.updater().state().phase, TxPhase::Staged);
    // An upper bound excludes: app needs radio < 2.0, the manifest brings 2.0.
    let mut capped = sample(&new);
    capped.components[0].depends[0].range.below = Some(Version::new(2, 0, 0));
    assert!(matches!(
        check(&capped, &installed),
        Err(DependencyError::Unmet { found, .. }) if found == Version::new(2, 0, 0)
    ));
    // A component the device lacks.
    let mut missing = sample(&new);
    missing.components[1].depends = heapless::Vec::from_iter([dep(ComponentId(7), (1, 0))]);
    assert_eq!(
        check(&missing, &installed),
        Err(DependencyError::Missing {
            component: DATA,
            requires: ComponentId(7)
        })
    );
}

#[test]
fn verification_names_the_failed_check() {
    let mut d = Device::new();
    let new = d.new_facts();
    let m = sample(&new);
    // Signed under the single-image manifest domain: never a multi-component signature.
    let mut buf = [0u8; 320];
    let payload = m.encode(&mut buf).unwrap().to_vec();
    let wrong_domain = ota_core::sign::sign_payload(MANIFEST_DOMAIN, &payload, &[&root()]).unwrap();
    let ctx = d.updater().context(vendor(), class(), 1_800_000_000);
    assert!(matches!(
        verify_multi(&wrong_domain, &store(), &ctx),
        Err(MultiVerifyError::Signature(SignatureError::BadSignature(_)))
    ));
    let mut low = m.clone();
    low.components[2].security_version = 0;
    assert_eq!(
        d.verified(&low),
        Err(MultiVerifyError::Rollback {
            component: RADIO,
            security_version: 0,
            floor: 1
        })
    );
    let mut foreign = m.clone();
    foreign.components[1].id = ComponentId(8);
    foreign.components[1].area = AreaId(8);
    assert_eq!(
        d.verified(&foreign),
        Err(MultiVerifyError::UnknownComponent(ComponentId(8)))
    );
    let mut other = m.clone();
    other.class_id = ProductId([3; 16]);
    assert!(matches!(
        d.verified(&other),
        Err(MultiVerifyError::WrongHardware { .. })
    ));
    d.stage(&m).unwrap();
    d.updater().activate().unwrap();
    d.decide();
    d.updater().confirm().unwrap();
    assert_eq!(
        d.verified(&m),
        Err(MultiVerifyError::Replay {
            sequence: 2,
            last: 2
        })
    );
}

#[test]
fn a_power_cut_at_every_operation_never_runs_a_mix() {
    for scenario in [MultiScenario::Confirm, MultiScenario::Reject] {
        let cfg = MultiProofConfig {
            sim: SimConfig::default(),
            scenario,
            tears: &[Tear::Noise],
            sizes: [(1000, 1500), (500, 700), (800, 900)],
            chunk: 400,
            journal_prefill: 4,
        };
        let r = prove::<8, 4096>(&cfg);
        assert!(r.cut_points > 20, "{}", r.cut_points);
        assert_eq!((r.bricked, r.mixed), (0, 0), "{:?}", r.failures);
        assert_eq!(r.recovered, r.cut_points, "{:?}", r.failures);
    }
}

#[test]
fn a_cut_between_a_confirm_record_and_its_hooks_finishes_the_confirm_at_boot() {
    let mut d = Device::activated();
    d.decide();
    // The confirm record is one write; the co-processor's confirm record the next.
    d.rail.cut_after(1, Tear::Skip);
    let r = d.updater().confirm();
    assert_eq!(
        r,
        Err(MultiError::Installer(CoprocError::Flash(
            SimError::PowerLoss
        )))
    );
    d.rail.power_on();
    assert_eq!(d.updater().state().phase, TxPhase::Confirming);
    let boot = d.decide();
    assert_eq!(boot.reason, MultiBootReason::Committed);
    d.assert_runs(&boot, true);
}

// ---- format ----

/// A fixed manifest: two components, one dependency.
fn vector_manifest() -> MultiManifest<4> {
    let c = |id: u8, v: (u16, u16, u16), size: u32, digest: u8| Component {
        id: ComponentId(id),
        area: AreaId(id + 10),
        kind: ImageKind::Full,
        version: Version::new(v.0, v.1, v.2),
        security_version: 3,
        image_size: size,
        image_digest: [digest; 32],
        depends: heapless::Vec::new(),
    };
    let mut app = c(1, (2, 1, 0), 300_000, 0xAA);
    app.depends = heapless::Vec::from_iter([Dependency {
        component: ComponentId(2),
        range: VersionRange {
            min: Version::new(1, 4, 0),
            below: Some(Version::new(2, 0, 0)),
        },
    }]);
    MultiManifest {
        format_version: MULTI_FORMAT_VERSION,
        sequence: 300,
        vendor_id: ProductId([0x11; 16]),
        class_id: ProductId([0x22; 16]),
        components: heapless::Vec::from_iter([app, c(2, (1, 4, 2), 90_000, 0xBB)]),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const VECTOR: &str = "01ac02111111111111111111111111111111112222222222222222222222222222222202010b000201000003e0a712aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0102010400000102000000020c00010402000390bf05bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb00";

#[test]
fn manifest_vector_and_modified_inputs() {
    let m = vector_manifest();
    let mut buf = [0u8; 320];
    let bytes = m.encode(&mut buf).unwrap().to_vec();
    println!(
        "multi manifest vector ({} bytes): {}",
        bytes.len(),
        hex(&bytes)
    );
    assert_eq!(hex(&bytes), VECTOR);
    assert_eq!(MultiManifest::<4>::decode(&bytes), Ok(m.clone()));
    // Trailing byte, truncation, unknown version, over-long varint.
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        MultiManifest::<4>::decode(&longer),
        Err(MultiManifestError::TrailingBytes(1))
    );
    for cut in 1..bytes.len() {
        assert!(MultiManifest::<4>::decode(&bytes[..cut]).is_err(), "{cut}");
    }
    let mut v2 = bytes.clone();
    v2[0] = 2;
    assert_eq!(
        MultiManifest::<4>::decode(&v2),
        Err(MultiManifestError::UnsupportedVersion { found: 2 })
    );
    // Sequence 300 is `ac 02`; spelled `ac 82 00` it is over-long.
    assert_eq!(&bytes[1..3], &[0xAC, 0x02]);
    let mut overlong = vec![bytes[0], 0xAC, 0x82, 0x00];
    overlong.extend_from_slice(&bytes[3..]);
    assert_eq!(
        MultiManifest::<4>::decode(&overlong),
        Err(MultiManifestError::NonCanonical)
    );
    // Capacity: a device with one component slot refuses two.
    assert_eq!(
        MultiManifest::<1>::decode(&bytes),
        Err(MultiManifestError::Malformed)
    );
    // Structure.
    let mut dup = m.clone();
    dup.components[1].id = ComponentId(1);
    let enc = dup.encode(&mut buf).unwrap().to_vec();
    assert_eq!(
        MultiManifest::<4>::decode(&enc),
        Err(MultiManifestError::DuplicateComponent(ComponentId(1)))
    );
    let mut area = m.clone();
    area.components[1].area = AreaId(11);
    let enc = area.encode(&mut buf).unwrap().to_vec();
    assert_eq!(
        MultiManifest::<4>::decode(&enc),
        Err(MultiManifestError::DuplicateArea(AreaId(11)))
    );
    let mut selfdep = m.clone();
    selfdep.components[1].depends = heapless::Vec::from_iter([dep(ComponentId(2), (1, 0))]);
    let enc = selfdep.encode(&mut buf).unwrap().to_vec();
    assert_eq!(
        MultiManifest::<4>::decode(&enc),
        Err(MultiManifestError::SelfDependency(ComponentId(2)))
    );
    let mut empty = m;
    empty.components.clear();
    let enc = empty.encode(&mut buf).unwrap().to_vec();
    assert_eq!(
        MultiManifest::<4>::decode(&enc),
        Err(MultiManifestError::Empty)
    );
}

#[test]
fn the_proof_manifest_fits_the_envelope_with_room() {
    let d = Device::new();
    let m = sample(&d.new_facts());
    let mut buf = [0u8; 320];
    let n = m.encode(&mut buf).unwrap().len();
    println!("three components, one dependency each on two: {n} bytes");
    assert!(n <= 240, "{n}");
}

proptest::proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
        let _ = MultiManifest::<4>::decode(&bytes);
    }

    #[test]
    fn manifests_round_trip(seq in 1u64.., major in 0u16.., size in 0u32.., n in 1usize..=4) {
        let mut m = vector_manifest();
        m.sequence = seq;
        m.components[0].version.major = major;
        m.components[1].image_size = size;
        let template = m.components[1].clone();
        while m.components.len() < n {
            let i = m.components.len() as u8;
            let mut c = template.clone();
            c.id = ComponentId(i + 1);
            c.area = AreaId(i + 11);
            m.components.push(c).unwrap();
        }
        m.components.truncate(n);
        if n == 1 {
            m.components[0].depends.clear();
        }
        let mut buf = [0u8; 320];
        let bytes = m.encode(&mut buf).unwrap().to_vec();
        proptest::prop_assert_eq!(MultiManifest::<4>::decode(&bytes), Ok(m));
    }
}
