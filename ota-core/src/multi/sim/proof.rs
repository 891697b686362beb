//! The power-cut proof of the multi-component transaction: three components (an application
//! and a data partition in slot pairs on the main flash, a radio core behind the
//! [`SimCoprocessor`] on a second flash device, all on one [`Rail`]), one update cycle, a cut
//! at every write and sector erase of either device with every [`Tear`] variant, then reboots
//! through [`decide`] until the cycle finishes.
//!
//! After every boot decision it checks: every component runs the old image or every component
//! runs the new one (never a mix), the bytes in each booted slot and on the co-processor are
//! exactly the image the decision names, the accepted sequence, every floor and the journal
//! record number never go down; and at the end the outcome is the scenario's (all new after a
//! confirm, all old after a reject, an exhausted trial or a co-processor that refuses).
//!
//! ```
//! use ota_core::multi::sim::proof::{prove, MultiProofConfig, MultiScenario};
//! use ota_core::sim::{SimConfig, Tear};
//!
//! let cfg = MultiProofConfig {
//!     sim: SimConfig::default(),
//!     scenario: MultiScenario::Confirm,
//!     tears: &[Tear::Partial],
//!     sizes: [(3000, 5000), (1000, 2000), (2000, 3000)],
//!     chunk: 700,
//!     journal_prefill: 0,
//! };
//! let r = prove::<8, 4096>(&cfg);
//! assert_eq!((r.bricked, r.mixed), (0, 0), "{:?}", r.failures);
//! assert_eq!(r.recovered, r.cut_points);
//! ```

use super::{CoprocError, MultiSigner, Rail, RailFlash, SimCoprocessor};
use crate::digest::ImageDigest;
use crate::manifest::{ProductId, Version};
use crate::multi::MultiError;
use crate::multi::boot::{BootSide, MultiDecision, decide, provision};
use crate::multi::journal::TxJournal;
use crate::multi::layout::{AreaKind, AreaSpec, MultiLayout};
use crate::multi::manifest::{
    AreaId, Component, ComponentId, Dependency, ImageKind, MULTI_FORMAT_VERSION, MultiManifest,
    VersionRange,
};
use crate::multi::transaction::{ImageFacts, TxPhase, TxState};
use crate::multi::updater::MultiUpdater;
use crate::multi::verify::verify_multi;
use crate::sim::proof::test_image;
use crate::sim::{SimConfig, SimError, SimFlash, Tear};
use crate::trust::TrustStore;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The application component.
pub const APP: ComponentId = ComponentId(1);
/// The data partition component.
pub const DATA: ComponentId = ComponentId(2);
/// The radio core component (external, on the second flash device).
pub const RADIO: ComponentId = ComponentId(3);
/// The components in layout order.
pub const COMPONENTS: [ComponentId; 3] = [APP, DATA, RADIO];
/// The sequence of the update manifest.
pub const SEQUENCE: u64 = 2;

/// What the new set does after its trial boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MultiScenario {
    /// Every self-test passes; the application confirms.
    Confirm,
    /// The radio's self-test fails; the application rejects the set.
    Reject,
    /// The application crashes before it can confirm; attempts run out.
    NeverConfirm,
    /// The co-processor never comes up on its new image (`install` refuses).
    ExternalRefuses,
}

/// One proof configuration.
#[derive(Clone, Copy, Debug)]
pub struct MultiProofConfig {
    /// Flash quirks of both devices.
    pub sim: SimConfig,
    /// What the new set does.
    pub scenario: MultiScenario,
    /// Tear variants tried at every cut point.
    pub tears: &'static [Tear],
    /// (old, new) image sizes of the application, data and radio components.
    pub sizes: [(u32, u32); 3],
    /// Download chunk size.
    pub chunk: usize,
    /// Idle journal records written after provisioning (to cross a journal sector change).
    pub journal_prefill: u32,
}

/// The result of [`prove`].
#[derive(Clone, Debug, Default)]
pub struct MultiProofReport {
    /// Cut points tried (operation indices x tear variants).
    pub cut_points: u64,
    /// Runs where every check held and the cycle finished as expected.
    pub recovered: u64,
    /// Runs where a boot found nothing to run or a component's bytes were not the image
    /// the decision named.
    pub bricked: u64,
    /// Runs where a boot ran a mix of old and new components (must be 0).
    pub mixed: u64,
    /// The first few failure descriptions.
    pub failures: Vec<String>,
    /// Writes and sector erases of the uninterrupted cycle (both devices).
    pub cycle_ops: u64,
    /// Bytes programmed in the uninterrupted cycle (both devices).
    pub bytes_written: u64,
    /// Bytes of the new images.
    pub image_bytes: u64,
    /// Journal and co-processor state sector erases in the uninterrupted cycle.
    pub state_erases: u64,
}

#[derive(Debug)]
enum Stop {
    Power,
    Bricked(String),
    Mixed(String),
    Wrong(String),
}

fn stop(rail: &Rail, e: MultiError<SimError, CoprocError>) -> Stop {
    if !rail.is_powered() {
        return Stop::Power;
    }
    Stop::Wrong(format!("unexpected error: {e}"))
}

struct World<const W: usize, const E: usize> {
    rail: Rail,
    main: RailFlash<W, E>,
    coproc: SimCoprocessor<W, E>,
    layout: MultiLayout<3>,
    old: [ImageFacts; 3],
    new: [ImageFacts; 3],
    envelope: Vec<u8>,
    store: TrustStore<1, 2>,
    scenario: MultiScenario,
    seen: Seen,
}

#[derive(Clone, Copy, Default)]
struct Seen {
    accepted: u64,
    floors: [u32; 3],
    record: u32,
}

fn facts(image: &[u8], major: u16) -> ImageFacts {
    ImageFacts {
        version: Version::new(major, 0, 0),
        security_version: u32::from(major),
        image_size: image.len() as u32,
        image_digest: ImageDigest::of(image),
    }
}

fn vendor() -> ProductId {
    crate::sim::release::vendor()
}

fn class() -> ProductId {
    crate::sim::release::class()
}

/// The layout of the proof device for sector size `e`: journal, then the application's and the
/// data partition's slot pairs; the radio is external.
pub fn layout(e: u32, sizes: &[(u32, u32); 3], trial_attempts: u8) -> MultiLayout<3> {
    let sectors = |(a, b): (u32, u32)| a.max(b).div_ceil(e).max(1);
    let app = sectors(sizes[0]) * e;
    let data = sectors(sizes[1]) * e;
    let radio = sectors(sizes[2]) * e;
    let a0 = 2 * e;
    let d0 = a0 + 2 * app;
    MultiLayout {
        journal_offset: 0,
        journal_sectors: 2,
        areas: [
            AreaSpec {
                area: AreaId(1),
                component: APP,
                kind: AreaKind::Slots {
                    a: a0,
                    b: a0 + app,
                    size: app,
                },
            },
            AreaSpec {
                area: AreaId(2),
                component: DATA,
                kind: AreaKind::Slots {
                    a: d0,
                    b: d0 + data,
                    size: data,
                },
            },
            AreaSpec {
                area: AreaId(3),
                component: RADIO,
                kind: AreaKind::External { capacity: radio },
            },
        ],
        trial_attempts,
        erased: 0xFF,
    }
}

/// The update manifest of the proof: every component to version 2, the application needing
/// radio >= 2.0 and the radio needing application >= 2.0 (both sides in one manifest).
pub fn manifest(new: &[ImageFacts; 3]) -> MultiManifest<3> {
    let needs = |c: ComponentId| {
        heapless::Vec::from_iter([Dependency {
            component: c,
            range: VersionRange::at_least(Version::new(2, 0, 0)),
        }])
    };
    let component = |i: usize, id: ComponentId, depends| Component {
        id,
        area: AreaId(id.0),
        kind: ImageKind::Full,
        version: new[i].version,
        security_version: new[i].security_version,
        image_size: new[i].image_size,
        image_digest: new[i].image_digest,
        depends,
    };
    MultiManifest {
        format_version: MULTI_FORMAT_VERSION,
        sequence: SEQUENCE,
        vendor_id: vendor(),
        class_id: class(),
        components: heapless::Vec::from_iter([
            component(0, APP, needs(RADIO)),
            component(1, DATA, heapless::Vec::new()),
            component(2, RADIO, needs(APP)),
        ]),
    }
}

impl<const W: usize, const E: usize> World<W, E> {
    fn new(cfg: &MultiProofConfig) -> Result<Self, String> {
        let rail = Rail::new();
        let mut sim = cfg.sim;
        sim.check_alignment = true;
        let erased_cfg = sim;
        let mut l = layout(E as u32, &cfg.sizes, 2);
        l.erased = erased_cfg.erased;
        let images = |i: usize, new: bool| {
            let (o, n) = cfg.sizes[i];
            test_image(if new { n } else { o }, (i as u8) * 2 + u8::from(new) + 1)
        };
        let old_images: [Vec<u8>; 3] = [images(0, false), images(1, false), images(2, false)];
        let new_images: [Vec<u8>; 3] = [images(0, true), images(1, true), images(2, true)];
        let old = [
            facts(&old_images[0], 1),
            facts(&old_images[1], 1),
            facts(&old_images[2], 1),
        ];
        let new = [
            facts(&new_images[0], 2),
            facts(&new_images[1], 2),
            facts(&new_images[2], 2),
        ];
        let end = match l.areas[1].kind {
            AreaKind::Slots { b, size, .. } => b + size,
            AreaKind::External { .. } => 0,
        };
        let mut flash = SimFlash::<W, E>::new(end as usize / E, erased_cfg);
        for (i, img) in old_images.iter().take(2).enumerate() {
            if let AreaKind::Slots { a, .. } = l.areas[i].kind {
                flash.program(a, img).map_err(|e| format!("factory: {e}"))?;
            }
        }
        let mut main = RailFlash::new(flash, &rail);
        let installed = [(APP, old[0]), (DATA, old[1]), (RADIO, old[2])];
        provision::<_, CoprocError, 3>(&mut main, &l, &installed)
            .map_err(|e| format!("provision: {e}"))?;
        prefill(&mut main, &l, cfg.journal_prefill)?;
        let bank_sectors = cfg.sizes[2].0.max(cfg.sizes[2].1).div_ceil(E as u32).max(1);
        let coproc_flash =
            SimFlash::<W, E>::new(SimCoprocessor::<W, E>::sectors(bank_sectors), erased_cfg);
        let mut coproc =
            SimCoprocessor::provision(RADIO, coproc_flash, &rail, bank_sectors, &old_images[2])
                .map_err(|e| format!("co-processor: {e}"))?;
        coproc.fail_trials = cfg.scenario == MultiScenario::ExternalRefuses;
        let signer = MultiSigner::new(3);
        let store = signer.store().ok_or("store")?;
        let envelope = signer.sign(&manifest(&new));
        Ok(Self {
            rail,
            main,
            coproc,
            layout: l,
            old,
            new,
            envelope,
            store,
            scenario: cfg.scenario,
            seen: Seen::default(),
        })
    }

    /// The side every component of `d` runs, after checking it is one side and the bytes.
    fn check(&mut self, d: &MultiDecision<3>) -> Result<BootSide, Stop> {
        let mut sides = [BootSide::Installed; 3];
        for (i, e) in d.components.iter().enumerate() {
            let (old, new) = (self.old[i], self.new[i]);
            sides[i] = if e.image == new {
                BootSide::Trial
            } else if e.image == old {
                BootSide::Installed
            } else {
                return Err(Stop::Bricked(format!(
                    "{} runs an unknown image",
                    e.component
                )));
            };
            let digest = match (e.slot, self.layout.handle(i)) {
                (Some(slot), Some(h)) => {
                    let base = h.slot_offset(slot).unwrap_or(0) as usize;
                    let bytes = self
                        .main
                        .sim()
                        .contents()
                        .get(base..base + e.image.image_size as usize)
                        .unwrap_or(&[]);
                    ImageDigest::of(bytes)
                }
                _ => self
                    .coproc
                    .running_digest()
                    .map_err(|e| Stop::Bricked(format!("co-processor: {e}")))?,
            };
            if digest != e.image.image_digest {
                return Err(Stop::Bricked(format!(
                    "{} bytes are not the image the decision names (slot {:?})",
                    e.component, e.slot
                )));
            }
        }
        if sides.iter().any(|s| *s != sides[0]) {
            return Err(Stop::Mixed(format!("a mix of old and new: {sides:?}")));
        }
        if d.components.len() != 3 {
            return Err(Stop::Bricked("the decision lacks a component".into()));
        }
        Ok(sides[0])
    }

    fn observe(&mut self, s: &TxState<3>, record: u32) -> Result<(), Stop> {
        let floors: Vec<u32> = s.components.iter().map(|c| c.floor).collect();
        let back = s.accepted_sequence < self.seen.accepted
            || record < self.seen.record
            || floors.iter().zip(self.seen.floors).any(|(f, s)| *f < s);
        if back {
            return Err(Stop::Wrong(format!(
                "state went backwards: accepted {} record {} floors {floors:?}",
                s.accepted_sequence, record
            )));
        }
        self.seen.accepted = s.accepted_sequence;
        self.seen.record = record;
        for (d, f) in self.seen.floors.iter_mut().zip(floors) {
            *d = f;
        }
        Ok(())
    }

    /// One boot: the bootloader's decision, its check, then the application's step.
    fn boot(&mut self, downloads: &Downloads) -> Result<Option<BootSide>, Stop> {
        let d = match decide(&mut self.main, &mut self.coproc, &self.layout) {
            Ok(d) => d,
            Err(e) => return Err(stop(&self.rail, e)),
        };
        let side = self.check(&d)?;
        let rail = self.rail.clone();
        let mut up = MultiUpdater::open(&mut self.main, &mut self.coproc, self.layout)
            .map_err(|e| stop(&rail, e))?;
        let state = up.state().clone();
        let record = up.journal_sequence();
        let r = app_step(
            &mut up,
            &self.envelope,
            &self.store,
            self.scenario,
            d.side,
            downloads,
        );
        drop(up);
        self.observe(&state, record)?;
        match r {
            Ok(true) => Ok(Some(side)),
            Ok(false) => Ok(None),
            Err(AppStop::Error(e)) => Err(stop(&rail, e)),
            Err(AppStop::Wrong(w)) => Err(Stop::Wrong(w)),
        }
    }

    fn expected_final(&self) -> BootSide {
        match self.scenario {
            MultiScenario::Confirm => BootSide::Trial,
            _ => BootSide::Installed,
        }
    }

    fn finish_check(&mut self, side: BootSide) -> Result<(), Stop> {
        if side != self.expected_final() {
            return Err(Stop::Wrong(format!(
                "finished on {side:?}, expected {:?}",
                self.expected_final()
            )));
        }
        Ok(())
    }
}

enum AppStop {
    Error(MultiError<SimError, CoprocError>),
    Wrong(String),
}

impl From<MultiError<SimError, CoprocError>> for AppStop {
    fn from(e: MultiError<SimError, CoprocError>) -> Self {
        Self::Error(e)
    }
}

type Up<'a, const W: usize, const E: usize> =
    MultiUpdater<&'a mut RailFlash<W, E>, &'a mut SimCoprocessor<W, E>, 3>;

/// The application's step after a boot: `Ok(true)` when the cycle is over.
fn app_step<const W: usize, const E: usize>(
    up: &mut Up<'_, W, E>,
    envelope: &[u8],
    store: &TrustStore<1, 2>,
    scenario: MultiScenario,
    side: BootSide,
    downloads: &Downloads,
) -> Result<bool, AppStop> {
    let s = up.state().clone();
    match s.phase {
        TxPhase::Idle if s.accepted_sequence >= SEQUENCE => Ok(true),
        TxPhase::Idle | TxPhase::Staging { .. } | TxPhase::Staged => {
            install(up, envelope, store, downloads)?;
            Ok(false)
        }
        TxPhase::Trial { .. } => {
            if side != BootSide::Trial {
                return Err(AppStop::Wrong(
                    "a trial state booted the installed set".into(),
                ));
            }
            match scenario {
                MultiScenario::Confirm => up.confirm()?,
                MultiScenario::Reject => up.reject(Some(RADIO))?,
                MultiScenario::NeverConfirm => {}
                MultiScenario::ExternalRefuses => {
                    return Err(AppStop::Wrong(
                        "a trial ran although the co-processor refuses".into(),
                    ));
                }
            }
            Ok(false)
        }
        TxPhase::Confirming | TxPhase::Reverting => Err(AppStop::Wrong(format!(
            "the application found phase {} after the bootloader ran",
            s.phase
        ))),
    }
}

fn install<const W: usize, const E: usize>(
    up: &mut Up<'_, W, E>,
    envelope: &[u8],
    store: &TrustStore<1, 2>,
    downloads: &Downloads,
) -> Result<(), AppStop> {
    let ctx = up.context(vendor(), class(), 1_800_000_000);
    let verified =
        verify_multi(envelope, store, &ctx).map_err(|e| AppStop::Wrong(format!("verify: {e}")))?;
    up.begin(&verified)?;
    while let Some(c) = up.next_component() {
        let bytes = downloads
            .images
            .iter()
            .find(|(id, _)| *id == c)
            .map(|(_, b)| b.as_slice())
            .unwrap_or(&[]);
        let mut w = up.stage(c)?;
        for chunk in bytes.chunks(downloads.chunk) {
            w.write(chunk)?;
        }
        w.finish()?;
    }
    up.activate()?;
    Ok(())
}

fn prefill<const W: usize, const E: usize>(
    main: &mut RailFlash<W, E>,
    l: &MultiLayout<3>,
    n: u32,
) -> Result<(), String> {
    let (mut j, s) =
        TxJournal::open::<_, CoprocError, 3>(main, l).map_err(|e| format!("prefill: {e}"))?;
    let s = s.ok_or("prefill: no state")?;
    for _ in 0..n {
        j.commit::<_, CoprocError, 3>(main, &s)
            .map_err(|e| format!("prefill: {e}"))?;
    }
    Ok(())
}

/// The outcome of one run.
fn run<const W: usize, const E: usize>(
    cfg: &MultiProofConfig,
    cut: Option<(u64, Tear)>,
) -> Result<MultiProofReport, Stop> {
    let mut w = World::<W, E>::new(cfg).map_err(Stop::Wrong)?;
    let downloads = Downloads {
        images: (0..3)
            .map(|i| {
                let n = cfg.sizes[i].1;
                (COMPONENTS[i], test_image(n, (i as u8) * 2 + 2))
            })
            .collect(),
        chunk: cfg.chunk.max(1),
    };
    let start_ops = w.rail.ops();
    let start_wear = wear(&w);
    if let Some((n, tear)) = cut {
        w.rail.cut_after(n, tear);
    }
    for _ in 0..16 {
        match w.boot(&downloads) {
            Ok(Some(side)) => {
                w.finish_check(side)?;
                let end = wear(&w);
                return Ok(MultiProofReport {
                    cycle_ops: w.rail.ops() - start_ops,
                    bytes_written: end.0 - start_wear.0,
                    state_erases: end.1 - start_wear.1,
                    image_bytes: cfg.sizes.iter().map(|s| u64::from(s.1)).sum(),
                    ..MultiProofReport::default()
                });
            }
            Ok(None) => {}
            Err(Stop::Power) => w.rail.power_on(),
            Err(e) => return Err(e),
        }
        if cut.is_none() && !w.rail.is_powered() {
            return Err(Stop::Wrong("power lost without a cut".into()));
        }
    }
    Err(Stop::Wrong(
        "the cycle did not finish within 16 boots".into(),
    ))
}

/// Bytes written on both devices, and erases of their state sectors.
fn wear<const W: usize, const E: usize>(w: &World<W, E>) -> (u64, u64) {
    let state = |f: &SimFlash<W, E>| -> u64 {
        f.sector_erases()
            .iter()
            .take(2)
            .map(|&e| u64::from(e))
            .sum()
    };
    let (m, c) = (w.main.sim(), w.coproc.flash().sim());
    (
        m.wear().bytes_written + c.wear().bytes_written,
        state(m) + state(c),
    )
}

/// Runs the uninterrupted cycle, then one run per cut point and tear variant.
pub fn prove<const W: usize, const E: usize>(cfg: &MultiProofConfig) -> MultiProofReport {
    let mut report = match run::<W, E>(cfg, None) {
        Ok(r) => r,
        Err(e) => {
            return MultiProofReport {
                failures: alloc::vec![format!("uninterrupted cycle: {e:?}")],
                bricked: 1,
                ..MultiProofReport::default()
            };
        }
    };
    for n in 0..report.cycle_ops {
        for &tear in cfg.tears {
            report.cut_points += 1;
            let failure = match run::<W, E>(cfg, Some((n, tear))) {
                Ok(_) => {
                    report.recovered += 1;
                    continue;
                }
                Err(Stop::Bricked(s)) => {
                    report.bricked += 1;
                    s
                }
                Err(Stop::Mixed(s)) => {
                    report.mixed += 1;
                    s
                }
                Err(Stop::Wrong(s)) => s,
                Err(Stop::Power) => "power loss escaped".into(),
            };
            if report.failures.len() < 5 {
                report
                    .failures
                    .push(format!("cut after {n} ops, {tear:?}: {failure}"));
            }
        }
    }
    report
}

/// The download server of the proof: the new images and the chunk size.
struct Downloads {
    images: Vec<(ComponentId, Vec<u8>)>,
    chunk: usize,
}
