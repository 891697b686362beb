//! The power-cut proof: run a whole update cycle, cut the power at every flash operation with
//! every [`Tear`] variant, reboot, and check that the device always boots a verified image.
//!
//! Run it against your own configuration (layout, write and erase sizes, erased value, ECC,
//! image sizes) before you ship:
//!
//! ```
//! use ota_core::layout::Layout;
//! use ota_core::sim::{SimConfig, Tear, proof::{prove, ProofConfig, Scenario}};
//!
//! let layout = Layout {
//!     journal_offset: 0, journal_sectors: 2,
//!     slot_a: 0x2000, slot_b: 0x5000, slot_size: 0x3000, trial_attempts: 2, erased: 0xFF,
//! };
//! let cfg = ProofConfig {
//!     layout,
//!     sim: SimConfig::default(),
//!     old_image_len: 3000,
//!     new_image_len: 5000,
//!     chunk: 700,
//!     scenario: Scenario::Confirm,
//!     tears: &[Tear::Partial],
//!     journal_prefill: 0,
//! };
//! let report = prove::<8, 4096>(&cfg);
//! assert_eq!(report.bricked, 0);
//! assert_eq!(report.recovered, report.cut_points, "{:?}", report.failures);
//! ```
//!
//! After every cut the harness reboots into [`decide`] (verifying signatures against the
//! simulated release key, [`super::release`]) and checks: the booted slot's bytes are exactly
//! the old or the new signed image, matching the version `decide` reported; the accepted
//! sequence and the security floor never go backwards; and, with power staying on, the cycle
//! completes with the outcome the scenario expects.

#[cfg(feature = "async")]
use super::asynch::{Canceller, PendingFlash};
use super::cut::{Failure, Seen, Step, every_cut, is_power_loss};
use super::release::{SimRelease, SimSigner, SimStore};
use super::{SimConfig, SimError, SimFlash, Tear, Wear};
use crate::boot::{BootReason, Decision, decide, provision};
use crate::counter::{MonotonicCounter, NoCounter, SimCounter};
use crate::journal::Journal;
use crate::layout::{Layout, Slot};
use crate::manifest::{ImageInfo, VerifiedManifest};
use crate::medium::block_on;
#[cfg(feature = "async")]
use crate::slots::AsyncUpdater;
use crate::slots::Updater;
use crate::state::{Phase, State};
use crate::update_error::UpdateError;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use embedded_storage::nor_flash::NorFlash;

/// What the new image does after its trial boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Passes its self-test and confirms.
    Confirm,
    /// Fails its self-test and rejects itself.
    Reject,
    /// Never confirms (crashes before it can): the bootloader reverts when attempts run out.
    NeverConfirm,
}

/// One proof configuration.
#[derive(Clone, Copy, Debug)]
pub struct ProofConfig {
    /// The flash map under test.
    pub layout: Layout,
    /// Simulator quirks (erased value, ECC).
    pub sim: SimConfig,
    /// Size of the factory image in slot A.
    pub old_image_len: u32,
    /// Size of the update image.
    pub new_image_len: u32,
    /// Download chunk size.
    pub chunk: usize,
    /// What the new image does.
    pub scenario: Scenario,
    /// Tear variants to try at every cut point.
    pub tears: &'static [Tear],
    /// Idle journal records written after provisioning, before the cycle: set it close to a
    /// multiple of the records per sector so the cycle crosses a journal sector change.
    pub journal_prefill: u32,
}

/// The result of [`prove`].
#[derive(Clone, Debug, Default)]
pub struct ProofReport {
    /// Cut points tried (operation indices × tear variants).
    pub cut_points: u64,
    /// Runs where every check held and the cycle completed as expected.
    pub recovered: u64,
    /// Runs where `decide` found nothing bootable or booted something other than the old or
    /// the new image.
    pub bricked: u64,
    /// The first few failure descriptions.
    pub failures: Vec<String>,
    /// Flash writes and erases of the uninterrupted cycle.
    pub cycle_ops: u64,
    /// Wear of the uninterrupted cycle.
    pub cycle_wear: Wear,
}

/// Deterministic test image bytes, with runs of `0xFF` and `0x00` like real firmware padding.
pub fn test_image(len: u32, seed: u8) -> Vec<u8> {
    let mut x = 0x9E37_79B9_u32 ^ u32::from(seed);
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            match (i / 256) % 5 {
                3 => 0xFF,
                4 if i % 256 < 64 => 0x00,
                _ => x as u8,
            }
        })
        .collect()
}

struct Ctx {
    layout: Layout,
    old: Vec<u8>,
    new: Vec<u8>,
    new_info: ImageInfo,
    old_info: ImageInfo,
    old_release: SimRelease,
    new_release: SimRelease,
    signer: SimSigner,
    store: SimStore,
    chunk: usize,
    scenario: Scenario,
}

impl Ctx {
    fn decide<const W: usize, const E: usize, C: MonotonicCounter>(
        &self,
        f: &mut Flash<W, E>,
        counter: &mut C,
    ) -> Result<Decision, UpdateError<SimError>> {
        decide(
            f,
            &self.layout,
            &self.signer.boot_trust(&self.store),
            counter,
        )
    }

    fn set_new(&mut self, image: Vec<u8>, sequence: u64, major: u16) {
        self.new_release = self.signer.release(&image, sequence, major);
        self.new_info = self.new_release.info;
        self.new = image;
    }
}

type Flash<const W: usize, const E: usize> = SimFlash<W, E>;

fn provisioned<const W: usize, const E: usize>(
    cfg: &ProofConfig,
    ctx: &Ctx,
) -> Result<Flash<W, E>, String> {
    let mut f = Flash::<W, E>::for_layout(&ctx.layout, cfg.sim);
    // Factory programming: erase slot A, write the image.
    let a = ctx.layout.slot_a;
    f.erase(a, a + ctx.layout.slot_size)
        .map_err(|e| format!("{e}"))?;
    f.program(a, &ctx.old).map_err(|e| format!("{e}"))?;
    provision(&mut f, &ctx.layout, Slot::A, &ctx.old_release.envelope, &[])
        .map_err(|e| format!("{e}"))?;
    let (mut journal, state) = Journal::open(&mut f, &ctx.layout).map_err(|e| format!("{e}"))?;
    let state = state.ok_or_else(|| String::from("no state after provisioning"))?;
    for _ in 0..cfg.journal_prefill {
        journal.append(&mut f, &state).map_err(|e| format!("{e}"))?;
    }
    match ctx.decide(&mut f, &mut NoCounter) {
        Ok(Decision::Boot { slot: Slot::A, .. }) => Ok(f),
        other => Err(format!("fresh device did not boot slot A: {other:?}")),
    }
}

fn context(cfg: &ProofConfig) -> Ctx {
    let old = test_image(cfg.old_image_len, 1);
    let new = test_image(cfg.new_image_len, 2);
    let signer = SimSigner::new(1);
    let old_release = signer.release(&old, 1, 1);
    let new_release = signer.release(&new, 2, 2);
    Ctx {
        // The journal's notion of blank follows the simulated part.
        layout: Layout {
            erased: cfg.sim.erased,
            ..cfg.layout
        },
        old_info: old_release.info,
        new_info: new_release.info,
        old_release,
        new_release,
        store: signer.store(),
        signer,
        old,
        new,
        chunk: cfg.chunk.max(1),
        scenario: cfg.scenario,
    }
}

fn check_boot<const W: usize, const E: usize>(
    f: &Flash<W, E>,
    ctx: &Ctx,
    d: &Decision,
) -> Result<(), Failure> {
    let Decision::Boot { slot, version, .. } = *d else {
        return Err(Failure::Bricked(format!("{d:?}")));
    };
    let base = ctx.layout.slot_offset(slot) as usize;
    let image = if version == ctx.old_info.version {
        &ctx.old
    } else if version == ctx.new_info.version {
        &ctx.new
    } else {
        return Err(Failure::Bricked(format!(
            "booted unknown version {version}"
        )));
    };
    if f.contents().get(base..base + image.len()) != Some(image.as_slice()) {
        return Err(Failure::Bricked(format!(
            "slot {slot} does not hold version {version}"
        )));
    }
    Ok(())
}

type Res<T> = Result<T, UpdateError<SimError>>;
type CounterResult = Result<(), <SimCounter as MonotonicCounter>::Error>;

/// The application side's update front end, as [`app_step`] drives it: the blocking
/// [`Updater`] or (feature `async`) the [`AsyncUpdater`], the same steps either way.
trait Front {
    fn state(&self) -> &State;
    fn journal_sequence(&self) -> u32;
    async fn begin(&mut self, manifest: &VerifiedManifest) -> Res<u32>;
    async fn write(&mut self, chunk: &[u8]) -> Res<()>;
    async fn finish(&mut self, envelope: &[u8]) -> Res<()>;
    async fn activate(&mut self) -> Res<()>;
    async fn confirm_with_counter(&mut self, counter: &mut SimCounter) -> Res<CounterResult>;
    async fn reject(&mut self) -> Res<()>;
}

impl<const W: usize, const E: usize> Front for Updater<&mut Flash<W, E>> {
    fn state(&self) -> &State {
        Updater::state(self)
    }
    fn journal_sequence(&self) -> u32 {
        Updater::journal_sequence(self)
    }
    async fn begin(&mut self, manifest: &VerifiedManifest) -> Res<u32> {
        Updater::begin(self, manifest)
    }
    async fn write(&mut self, chunk: &[u8]) -> Res<()> {
        Updater::write(self, chunk)
    }
    async fn finish(&mut self, envelope: &[u8]) -> Res<()> {
        Updater::finish(self, envelope, &[])
    }
    async fn activate(&mut self) -> Res<()> {
        Updater::activate(self)
    }
    async fn confirm_with_counter(&mut self, counter: &mut SimCounter) -> Res<CounterResult> {
        Updater::confirm_with_counter(self, counter)
    }
    async fn reject(&mut self) -> Res<()> {
        Updater::reject(self)
    }
}

#[cfg(feature = "async")]
impl<const W: usize, const E: usize> Front for AsyncUpdater<PendingFlash<&mut Flash<W, E>>> {
    fn state(&self) -> &State {
        AsyncUpdater::state(self)
    }
    fn journal_sequence(&self) -> u32 {
        AsyncUpdater::journal_sequence(self)
    }
    async fn begin(&mut self, manifest: &VerifiedManifest) -> Res<u32> {
        AsyncUpdater::begin(self, manifest).await
    }
    async fn write(&mut self, chunk: &[u8]) -> Res<()> {
        AsyncUpdater::write(self, chunk).await
    }
    async fn finish(&mut self, envelope: &[u8]) -> Res<()> {
        AsyncUpdater::finish(self, envelope, &[]).await
    }
    async fn activate(&mut self) -> Res<()> {
        AsyncUpdater::activate(self).await
    }
    async fn confirm_with_counter(&mut self, counter: &mut SimCounter) -> Res<CounterResult> {
        AsyncUpdater::confirm_with_counter(self, counter).await
    }
    async fn reject(&mut self) -> Res<()> {
        AsyncUpdater::reject(self).await
    }
}

/// How the application side of a run reaches the flash.
#[derive(Clone, Copy, Debug)]
enum App {
    /// The blocking [`Updater`].
    Blocking,
    /// The [`AsyncUpdater`] over [`PendingFlash`], polled by `canceller`.
    #[cfg(feature = "async")]
    Async {
        canceller: Canceller,
        after_drop: AfterDrop,
    },
}

/// What the cancellation proof ([`prove_cancel`]) does after it dropped a future.
#[cfg(feature = "async")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterDrop {
    /// Goes on with the same [`AsyncUpdater`]: its next operation rebuilds the state from
    /// flash (the async recovery path), then the step starts over (`begin` resumes).
    Resume,
    /// Reboots with power on (RAM is lost, a half-done write stays half done): the bootloader's
    /// `decide`, then the blocking [`Updater`] for the rest of the cycle (the blocking recovery
    /// path).
    Reboot,
}

/// One application boot: confirm or reject a trial, or download and activate the update.
/// `resumed`: the same updater runs this step again after a dropped future.
async fn app_step<U: Front>(
    up: &mut U,
    ctx: &Ctx,
    d: &Decision,
    seen: &mut Seen,
    counter: &mut SimCounter,
    resumed: bool,
) -> Res<Step> {
    let wrong = |e: Failure| match e {
        Failure::Bricked(m) | Failure::Wrong(m) => {
            let _ = m;
            UpdateError::Corrupted("state went backwards")
        }
    };
    if let Decision::Boot {
        reason: BootReason::Trial { .. },
        ..
    } = d
    {
        // Resumed after a dropped confirm or reject, the verdict may be recorded already.
        if !resumed || matches!(up.state().phase, Phase::Trial { .. }) {
            match ctx.scenario {
                // A refused counter step (none here: 32 steps) would leave the software floor.
                Scenario::Confirm => up.confirm_with_counter(counter).await?.unwrap_or(()),
                Scenario::Reject => up.reject().await?,
                Scenario::NeverConfirm => {}
            }
        }
        seen.observe(up.state(), up.journal_sequence())
            .map_err(wrong)?;
        return Ok(Step::Reboot);
    }
    let st = *up.state();
    if st.accepted_sequence >= ctx.new_info.sequence && st.phase == Phase::Idle {
        return Ok(Step::Done);
    }
    if matches!(st.phase, Phase::Activated { .. } | Phase::Trial { .. }) {
        return Ok(Step::Reboot);
    }
    let manifest = VerifiedManifest::new_unchecked(ctx.new_info);
    let offset = up.begin(&manifest).await?;
    seen.observe(up.state(), up.journal_sequence())
        .map_err(wrong)?;
    for chunk in ctx
        .new
        .get(offset as usize..)
        .unwrap_or(&[])
        .chunks(ctx.chunk)
    {
        up.write(chunk).await?;
        seen.observe(up.state(), up.journal_sequence())
            .map_err(wrong)?;
    }
    up.finish(&ctx.new_release.envelope).await?;
    seen.observe(up.state(), up.journal_sequence())
        .map_err(wrong)?;
    up.activate().await?;
    seen.observe(up.state(), up.journal_sequence())
        .map_err(wrong)?;
    Ok(Step::Reboot)
}

/// Runs one application boot through the front end `app` says.
fn run_app<const W: usize, const E: usize>(
    f: &mut Flash<W, E>,
    ctx: &Ctx,
    d: &Decision,
    seen: &mut Seen,
    counter: &mut SimCounter,
    app: &mut App,
) -> Res<Step> {
    let running = match d {
        Decision::Boot { slot, .. } => *slot,
        Decision::NoBootableImage { .. } => Slot::A,
    };
    match app {
        App::Blocking => {
            let mut up = Updater::open_running(&mut *f, ctx.layout, running)?;
            block_on(app_step(&mut up, ctx, d, seen, counter, false))
        }
        #[cfg(feature = "async")]
        App::Async {
            canceller,
            after_drop,
        } => {
            let after = *after_drop;
            let r = async_app(f, ctx, d, seen, counter, running, canceller, after);
            if canceller.dropped && after == AfterDrop::Reboot {
                // The rest of the cycle runs on the blocking recovery path.
                *app = App::Blocking;
            }
            r
        }
    }
}

/// Checks that what the updater holds in RAM (state and newest record number) is what a
/// fresh open reads from flash: after a completed step, and right after a resync.
#[cfg(feature = "async")]
fn same_as_on_flash<const W: usize, const E: usize>(
    up: &mut AsyncUpdater<PendingFlash<&mut Flash<W, E>>>,
    ctx: &Ctx,
) -> Res<()> {
    let (state, sequence) = (*up.state(), up.journal_sequence());
    let fresh = Updater::open(&mut *up.flash_mut().0, ctx.layout)?;
    if *fresh.state() != state || fresh.journal_sequence() != sequence {
        return Err(UpdateError::Corrupted(
            "the async updater's state differs from the one on flash",
        ));
    }
    Ok(())
}

/// [`app_step`] through the [`AsyncUpdater`] over [`PendingFlash`], under `c` (which may drop
/// the step's future once, at its chosen await point).
#[cfg(feature = "async")]
#[allow(clippy::too_many_arguments)]
fn async_app<const W: usize, const E: usize>(
    f: &mut Flash<W, E>,
    ctx: &Ctx,
    d: &Decision,
    seen: &mut Seen,
    counter: &mut SimCounter,
    running: Slot,
    c: &mut Canceller,
    after: AfterDrop,
) -> Res<Step> {
    let mut up = loop {
        match c.run(AsyncUpdater::open_running(
            PendingFlash(&mut *f),
            ctx.layout,
            running,
        )) {
            Some(r) => break r?,
            None if after == AfterDrop::Reboot => return Ok(Step::Reboot),
            // `open` only reads: open again.
            None => {}
        }
    };
    let mut resumed = false;
    loop {
        if up.in_doubt() {
            // The state `app_step` looks at first is the one on flash.
            if let Some(r) = c.run(up.resync()) {
                r?;
            }
            same_as_on_flash(&mut up, ctx)?;
        }
        match c.run(app_step(&mut up, ctx, d, seen, counter, resumed)) {
            Some(Ok(step)) => {
                same_as_on_flash(&mut up, ctx)?;
                return Ok(step);
            }
            Some(Err(e)) => return Err(e),
            None if after == AfterDrop::Reboot => return Ok(Step::Reboot),
            None => resumed = true,
        }
    }
}

/// Runs the device from a provisioned flash until the update cycle is over, cutting power as
/// `cuts` says (each `(n, tear)`: after `n` more operations once power is back).
fn run_device<const W: usize, const E: usize>(
    f: &mut Flash<W, E>,
    ctx: &Ctx,
    cuts: &[(u64, Tear)],
    counter: &mut SimCounter,
    app: &mut App,
) -> Result<(), Failure> {
    let mut cuts = cuts.iter();
    if let Some(&(n, t)) = cuts.next() {
        f.cut_after(n, t);
    }
    let mut seen = Seen::default();
    let mut reboot = |f: &mut Flash<W, E>| {
        f.power_on();
        if let Some(&(n, t)) = cuts.next() {
            f.cut_after(n, t);
        }
    };
    for _ in 0..64 {
        let d = match ctx.decide(f, counter) {
            Ok(d) => d,
            Err(e) if is_power_loss(&e) => {
                reboot(f);
                continue;
            }
            Err(e) => return Err(Failure::Wrong(format!("decide failed: {e}"))),
        };
        check_boot(f, ctx, &d)?;
        if let Ok((j, Some(s))) = Journal::open(f, &ctx.layout) {
            seen.observe(&s, j.sequence())?;
        }
        match run_app(f, ctx, &d, &mut seen, counter, app) {
            Ok(Step::Done) => return check_final(f, ctx, counter),
            Ok(Step::Reboot) => {}
            Err(e) if is_power_loss(&e) => reboot(f),
            Err(e) => return Err(Failure::Wrong(format!("application step failed: {e}"))),
        }
    }
    Err(Failure::Wrong(String::from(
        "the update cycle did not finish within 64 boots",
    )))
}

fn check_final<const W: usize, const E: usize>(
    f: &mut Flash<W, E>,
    ctx: &Ctx,
    counter: &SimCounter,
) -> Result<(), Failure> {
    let Ok((_, Some(s))) = Journal::open(f, &ctx.layout) else {
        return Err(Failure::Wrong(String::from("no state at the end")));
    };
    let (version, floor) = match ctx.scenario {
        Scenario::Confirm => (ctx.new_info.version, ctx.new_info.security_version),
        _ => (ctx.old_info.version, ctx.old_info.security_version),
    };
    if s.confirmed_version != version
        || s.security_floor != floor
        || s.accepted_sequence != ctx.new_info.sequence
    {
        return Err(Failure::Wrong(format!("unexpected final state {s:?}")));
    }
    if ctx.scenario == Scenario::Confirm && counter.value() != floor {
        return Err(Failure::Wrong(format!(
            "hardware counter at {} after confirming security version {floor}",
            counter.value()
        )));
    }
    Ok(())
}

/// The exhaustive power-cut proof for one configuration.
pub fn prove<const W: usize, const E: usize>(cfg: &ProofConfig) -> ProofReport {
    prove_with::<W, E>(cfg, App::Blocking)
}

/// [`prove`] through the async front end: the application side runs [`AsyncUpdater`] over
/// [`PendingFlash`] (every operation pending once, writes split in two), the power is cut at
/// every flash operation of that cycle with every tear variant, and the bootloader is the
/// same blocking `decide`.
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub fn prove_async<const W: usize, const E: usize>(cfg: &ProofConfig) -> ProofReport {
    prove_with::<W, E>(
        cfg,
        App::Async {
            canceller: Canceller::default(),
            after_drop: AfterDrop::Resume,
        },
    )
}

fn prove_with<const W: usize, const E: usize>(cfg: &ProofConfig, app: App) -> ProofReport {
    let ctx = context(cfg);
    let mut report = ProofReport::default();
    let base = match provisioned::<W, E>(cfg, &ctx) {
        Ok(f) => f,
        Err(e) => {
            report.failures.push(format!("provisioning failed: {e}"));
            return report;
        }
    };
    let mut golden = base.clone();
    let start_ops = golden.ops();
    let start_wear = golden.wear();
    if let Err(e) = run_device(&mut golden, &ctx, &[], &mut SimCounter::new(32), &mut {
        app
    }) {
        report
            .failures
            .push(format!("uninterrupted cycle failed: {e:?}"));
        return report;
    }
    report.cycle_ops = golden.ops() - start_ops;
    let w = golden.wear();
    report.cycle_wear = Wear {
        erases: w.erases - start_wear.erases,
        writes: w.writes - start_wear.writes,
        bytes_written: w.bytes_written - start_wear.bytes_written,
        reads: w.reads - start_wear.reads,
        read_flips: w.read_flips - start_wear.read_flips,
    };
    let cuts = every_cut(
        report.cycle_ops,
        cfg.tears,
        &mut report.failures,
        |k, tear| {
            let mut f = base.clone();
            run_device(&mut f, &ctx, &[(k, tear)], &mut SimCounter::new(32), &mut {
                app
            })
        },
        |k, tear, e| format!("cut at op {k} ({tear:?}): {e:?}"),
    );
    report.cut_points = cuts.cut_points;
    report.recovered = cuts.recovered;
    report.bricked = cuts.bricked;
    report
}

/// Runs the device with an arbitrary list of power cuts; `Ok` if every check held. The final
/// version may be either image (cuts can use up trial attempts), but must have booted.
pub fn run_with_cuts<const W: usize, const E: usize>(
    cfg: &ProofConfig,
    cuts: &[(u64, Tear)],
) -> Result<(), String> {
    let ctx = context(cfg);
    let mut f = provisioned::<W, E>(cfg, &ctx)?;
    match run_device(
        &mut f,
        &ctx,
        cuts,
        &mut SimCounter::new(32),
        &mut App::Blocking,
    ) {
        Ok(()) => Ok(()),
        Err(Failure::Wrong(m)) if m.starts_with("unexpected final state") => {
            // Repeated cuts may spend every trial attempt; then the old image must be confirmed.
            match Journal::open(&mut f, &ctx.layout) {
                Ok((_, Some(s)))
                    if s.confirmed_version == ctx.old_info.version
                        && s.accepted_sequence == ctx.new_info.sequence =>
                {
                    Ok(())
                }
                _ => Err(m),
            }
        }
        Err(e) => Err(format!("{e:?}")),
    }
}

/// The result of [`prove_cancel`].
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
#[derive(Clone, Debug, Default)]
pub struct CancelReport {
    /// Await points of the uninterrupted cycle through the async front end.
    pub await_points: u64,
    /// Runs tried: one future dropped at each chosen await point.
    pub drop_points: u64,
    /// Runs where every check held and the cycle completed as expected.
    pub recovered: u64,
    /// Runs where `decide` found nothing bootable or booted something other than the old or
    /// the new image.
    pub bricked: u64,
    /// The first few failure descriptions.
    pub failures: Vec<String>,
}

/// The cancellation proof: runs the update cycle through [`AsyncUpdater`] over
/// [`PendingFlash`] and, in one run per await point (every `every`-th one; 1 for all), drops
/// the future running there (an open, a step, a write half done), then recovers as `after`
/// says and checks what [`prove`] checks: every boot runs the old or the new signed image,
/// nothing goes backwards, and the cycle ends as the scenario expects. `cfg.tears` is not
/// used (no power is cut).
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub fn prove_cancel<const W: usize, const E: usize>(
    cfg: &ProofConfig,
    after: AfterDrop,
    every: u64,
) -> CancelReport {
    let ctx = context(cfg);
    let mut report = CancelReport::default();
    let base = match provisioned::<W, E>(cfg, &ctx) {
        Ok(f) => f,
        Err(e) => {
            report.failures.push(format!("provisioning failed: {e}"));
            return report;
        }
    };
    let mut golden = base.clone();
    let mut app = App::Async {
        canceller: Canceller::default(),
        after_drop: after,
    };
    if let Err(e) = run_device(&mut golden, &ctx, &[], &mut SimCounter::new(32), &mut app) {
        report
            .failures
            .push(format!("uninterrupted cycle failed: {e:?}"));
        return report;
    }
    if let App::Async { canceller, .. } = app {
        report.await_points = canceller.awaits;
    }
    let mut k = 1;
    while k <= report.await_points {
        report.drop_points += 1;
        let mut f = base.clone();
        let canceller = Canceller::drop_at(k);
        let mut app = App::Async {
            canceller,
            after_drop: after,
        };
        let r = run_device(&mut f, &ctx, &[], &mut SimCounter::new(32), &mut app);
        let dropped = match app {
            App::Async { canceller, .. } => canceller.dropped,
            // Switched to the blocking recovery path: only after a drop.
            App::Blocking => true,
        };
        match (r, dropped) {
            (Ok(()), true) => report.recovered += 1,
            (Ok(()), false) => {
                if report.failures.len() < 8 {
                    report
                        .failures
                        .push(format!("await point {k} was never reached"));
                }
            }
            (Err(e), _) => {
                if matches!(e, Failure::Bricked(_)) {
                    report.bricked += 1;
                }
                if report.failures.len() < 8 {
                    report
                        .failures
                        .push(format!("dropped at await point {k} ({after:?}): {e:?}"));
                }
            }
        }
        k += every.max(1);
    }
    report
}

/// Wear over many uninterrupted update cycles (each confirmed).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WearReport {
    /// Update cycles run.
    pub cycles: u32,
    /// All bytes written (image, footer, journal) divided by the image bytes.
    pub bytes_per_image_byte: f64,
    /// Journal sector erases per update cycle.
    pub state_erases_per_update: f64,
    /// Most erases of any one journal sector.
    pub max_state_sector_erases: u32,
}

/// Runs `cycles` confirmed updates back to back and measures wear.
pub fn measure_wear<const W: usize, const E: usize>(
    cfg: &ProofConfig,
    cycles: u32,
) -> Result<WearReport, String> {
    let mut ctx = context(cfg);
    ctx.scenario = Scenario::Confirm;
    let mut f = provisioned::<W, E>(cfg, &ctx)?;
    let j0 = ctx.layout.journal_offset as usize / E;
    let jn = ctx.layout.journal_sectors as usize;
    let journal_erases = |f: &Flash<W, E>| -> u64 {
        f.sector_erases()
            .iter()
            .skip(j0)
            .take(jn)
            .map(|&c| u64::from(c))
            .sum()
    };
    let (e0, b0) = (journal_erases(&f), f.wear().bytes_written);
    let mut counter = SimCounter::new(32);
    for i in 0..cycles {
        let seq = u64::from(i) + 2;
        let major = u16::try_from(seq).map_err(|e| format!("{e}"))?;
        let image = test_image(cfg.new_image_len, (i % 200) as u8 + 2);
        if i > 0 {
            ctx.old_info = ctx.new_info;
            ctx.old_release = ctx.new_release.clone();
            ctx.old = core::mem::take(&mut ctx.new);
        }
        ctx.set_new(image, seq, major);
        run_device(&mut f, &ctx, &[], &mut counter, &mut App::Blocking)
            .map_err(|e| format!("cycle {i}: {e:?}"))?;
    }
    let max_state_sector_erases = f
        .sector_erases()
        .iter()
        .skip(j0)
        .take(jn)
        .copied()
        .max()
        .unwrap_or(0);
    Ok(WearReport {
        cycles,
        bytes_per_image_byte: (f.wear().bytes_written - b0) as f64
            / (f64::from(cfg.new_image_len) * f64::from(cycles)),
        state_erases_per_update: (journal_erases(&f) - e0) as f64 / f64::from(cycles),
        max_state_sector_erases,
    })
}
