//! The power-cut proof for swap mode: one update cycle through [`swap::decide`] and
//! [`SwapUpdater`], cut at every flash operation (download, journal and progress records,
//! every erase and copy of the install and the revert) with every [`Tear`], rebooted, checked.
//!
//! After every boot: the primary slot holds exactly the old or the new signed image, the one
//! `decide` reported; the accepted sequence, the security floor and the journal's record number
//! never go backwards; and with power staying on the cycle ends as the scenario expects, the
//! swap settled.
//!
//! ```
//! use ota_core::sim::{SimConfig, SimFlash, Tear};
//! use ota_core::sim::proof::Scenario;
//! use ota_core::sim::swap_proof::{SwapProofConfig, prove_swap};
//! use ota_core::swap::SwapLayout;
//!
//! let layout = SwapLayout {
//!     journal_offset: 0, journal_sectors: 2, progress_offset: 0x2000, progress_sectors: 2,
//!     primary: 0x4000, staging: 0x7000, slot_size: 0x3000, trial_attempts: 2, erased: 0xFF,
//! };
//! let cfg = SwapProofConfig {
//!     layout, erased: 0xFF, old_image_len: 3000, new_image_len: 5000, chunk: 700,
//!     scenario: Scenario::Reject, tears: &[Tear::Partial], journal_prefill: 0,
//!     dense_images: false, flip_progress: true,
//! };
//! let report = prove_swap(&cfg, || SimFlash::<8, 4096>::new(11, SimConfig::default()));
//! assert_eq!(report.bricked, 0);
//! assert_eq!(report.recovered, report.cut_points, "{:?}", report.failures);
//! ```

use super::cut::{Failure, Seen, Step, every_cut};
use super::pair::SimPair;
use super::proof::{Scenario, test_image};
use super::release::{SimRelease, SimSigner, SimStore};
use super::{SimError, SimFlash, Tear, Wear};
use crate::boot::{BootReason, Decision};
use crate::counter::{MonotonicCounter, NoCounter, SimCounter};
use crate::footer::Aligned;
use crate::journal::Journal;
use crate::layout::{RECORD_SIZE, Slot};
use crate::manifest::{ImageInfo, VerifiedManifest};
use crate::state::Phase;
use crate::swap::progress::{self, ProgressLog};
use crate::swap::{self, Ident, PairError, SwapLayout, SwapStep, SwapUpdater};
use crate::update_error::UpdateError;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use embedded_storage::nor_flash::NorFlash;

/// A simulated flash the swap proof can cut: one [`SimFlash`] or a [`SimPair`].
pub trait ProofFlash: NorFlash + Clone {
    /// Lets `n` more writes or erases complete and interrupts the next.
    fn cut_after(&mut self, n: u64, tear: Tear);
    /// Restores power.
    fn power_on(&mut self);
    /// Writes and erases so far.
    fn ops(&self) -> u64;
    /// Wear so far.
    fn wear(&self) -> Wear;
    /// Erases of every physical sector.
    fn sector_erases(&self) -> Vec<u32>;
    /// Stored bytes at `at`.
    fn bytes_at(&self, at: u32, len: usize) -> Option<&[u8]>;
    /// Is this error the power loss?
    fn is_power_loss(e: &Self::Error) -> bool;
    /// Flips bit `bit` of the stored byte at `at` (a stored fault).
    fn flip_stored(&mut self, at: u32, bit: u8);
}

impl<const W: usize, const E: usize, const R: usize> ProofFlash for SimFlash<W, E, R> {
    fn cut_after(&mut self, n: u64, tear: Tear) {
        SimFlash::cut_after(self, n, tear);
    }
    fn power_on(&mut self) {
        SimFlash::power_on(self);
    }
    fn ops(&self) -> u64 {
        SimFlash::ops(self)
    }
    fn wear(&self) -> Wear {
        SimFlash::wear(self)
    }
    fn sector_erases(&self) -> Vec<u32> {
        SimFlash::sector_erases(self).to_vec()
    }
    fn bytes_at(&self, at: u32, len: usize) -> Option<&[u8]> {
        self.contents().get(at as usize..at as usize + len)
    }
    fn is_power_loss(e: &SimError) -> bool {
        *e == SimError::PowerLoss
    }
    fn flip_stored(&mut self, at: u32, bit: u8) {
        SimFlash::flip_stored(self, at as usize, bit);
    }
}

impl<
    const W1: usize,
    const E1: usize,
    const W2: usize,
    const E2: usize,
    const R1: usize,
    const R2: usize,
> ProofFlash for SimPair<W1, E1, W2, E2, R1, R2>
{
    fn cut_after(&mut self, n: u64, tear: Tear) {
        SimPair::cut_after(self, n, tear);
    }
    fn power_on(&mut self) {
        SimPair::power_on(self);
    }
    fn ops(&self) -> u64 {
        SimPair::ops(self)
    }
    fn wear(&self) -> Wear {
        SimPair::wear(self)
    }
    fn sector_erases(&self) -> Vec<u32> {
        SimPair::sector_erases(self)
    }
    fn bytes_at(&self, at: u32, len: usize) -> Option<&[u8]> {
        self.contents_at(at, len)
    }
    fn is_power_loss(e: &PairError<SimError, SimError>) -> bool {
        matches!(
            e,
            PairError::Primary(SimError::PowerLoss) | PairError::Staging(SimError::PowerLoss)
        )
    }
    fn flip_stored(&mut self, at: u32, bit: u8) {
        SimPair::flip_stored(self, at, bit);
    }
}

/// One swap proof configuration.
#[derive(Clone, Copy, Debug)]
pub struct SwapProofConfig {
    /// The swap flash map under test.
    pub layout: SwapLayout,
    /// The simulated parts' erased value.
    pub erased: u8,
    /// Size of the factory image in the primary slot.
    pub old_image_len: u32,
    /// Size of the update image.
    pub new_image_len: u32,
    /// Download chunk size.
    pub chunk: usize,
    /// What the new image does after it was swapped in.
    pub scenario: Scenario,
    /// Tear variants to try at every cut point.
    pub tears: &'static [Tear],
    /// Idle state records written after provisioning (to cross a journal sector change).
    pub journal_prefill: u32,
    /// Images without any byte equal to `0xFF` or `0x00` (the test images otherwise have
    /// erased-value runs like real firmware padding, which the swap does not program).
    pub dense_images: bool,
    /// After the cut, one bit of the newest swap progress record rots before power returns
    /// (a different bit at every cut point): the cut and a stored flip, the case where a
    /// record stepped back would redo a step whose source is already overwritten.
    pub flip_progress: bool,
}

/// The proof's image bytes for `cfg`.
fn image(cfg: &SwapProofConfig, len: u32, seed: u8) -> Vec<u8> {
    let mut v = test_image(len, seed);
    if cfg.dense_images {
        for b in &mut v {
            if *b == 0xFF || *b == 0x00 {
                *b = 0xA5;
            }
        }
    }
    v
}

/// The result of [`prove_swap`].
#[derive(Clone, Debug, Default)]
pub struct SwapProofReport {
    /// Cut points tried (operation indices × tear variants).
    pub cut_points: u64,
    /// Runs where every check held and the cycle completed as expected.
    pub recovered: u64,
    /// Runs where `decide` found nothing bootable or the primary slot held something else.
    pub bricked: u64,
    /// The first few failure descriptions.
    pub failures: Vec<String>,
    /// Flash writes and erases of the uninterrupted cycle.
    pub cycle_ops: u64,
}

struct Ctx {
    layout: SwapLayout,
    old: Vec<u8>,
    new: Vec<u8>,
    old_release: SimRelease,
    new_release: SimRelease,
    signer: SimSigner,
    store: SimStore,
    chunk: usize,
    scenario: Scenario,
    flip_progress: bool,
}

impl Ctx {
    fn new_info(&self) -> ImageInfo {
        self.new_release.info
    }
    fn old_info(&self) -> ImageInfo {
        self.old_release.info
    }

    fn decide<F: NorFlash, C: MonotonicCounter>(
        &self,
        f: &mut F,
        counter: &mut C,
    ) -> Result<Decision, UpdateError<F::Error>> {
        swap::decide(
            f,
            &self.layout,
            &self.signer.boot_trust(&self.store),
            counter,
        )
    }
}

fn context(cfg: &SwapProofConfig) -> Ctx {
    let old = image(cfg, cfg.old_image_len, 1);
    let new = image(cfg, cfg.new_image_len, 2);
    let signer = SimSigner::new(1);
    Ctx {
        layout: SwapLayout {
            erased: cfg.erased,
            ..cfg.layout
        },
        old_release: signer.release(&old, 1, 1),
        new_release: signer.release(&new, 2, 2),
        store: signer.store(),
        signer,
        old,
        new,
        chunk: cfg.chunk.max(1),
        scenario: cfg.scenario,
        flip_progress: cfg.flip_progress,
    }
}

/// Factory programming through the driver: `bytes` at `at`, the last word padded erased.
fn program<F: NorFlash>(f: &mut F, erased: u8, at: u32, bytes: &[u8]) -> Result<(), F::Error> {
    let w = F::WRITE_SIZE.max(1);
    let mut block = Aligned([0u8; 512]);
    let mut off = at;
    for piece in bytes.chunks(512) {
        let len = piece.len().div_ceil(w) * w;
        block.0.fill(erased);
        if let Some(d) = block.0.get_mut(..piece.len()) {
            d.copy_from_slice(piece);
        }
        f.write(off, block.0.get(..len).unwrap_or(&[]))?;
        off += len as u32;
    }
    Ok(())
}

fn provisioned<F: ProofFlash>(
    cfg: &SwapProofConfig,
    ctx: &Ctx,
    make: &dyn Fn() -> F,
) -> Result<F, String> {
    let mut f = make();
    let l = &ctx.layout;
    let e = |x: F::Error| format!("{x:?}");
    f.erase(l.primary, l.primary + l.slot_size).map_err(e)?;
    program(&mut f, l.erased, l.primary, &ctx.old).map_err(e)?;
    swap::provision(&mut f, l, &ctx.old_release.envelope, &[]).map_err(|x| format!("{x}"))?;
    let slots = l.slots(F::ERASE_SIZE as u32);
    let (mut journal, state) = Journal::open(&mut f, &slots).map_err(|x| format!("{x}"))?;
    let state = state.ok_or_else(|| String::from("no state after provisioning"))?;
    for _ in 0..cfg.journal_prefill {
        journal.append(&mut f, &state).map_err(|x| format!("{x}"))?;
    }
    // The progress journal too is filled to three records short of its first sector's end,
    // so the install crosses a progress sector change.
    let mut log = ProgressLog::open(&mut f, l).map_err(|x| format!("{x}"))?;
    let per_sector = (F::ERASE_SIZE / RECORD_SIZE) as u32;
    for _ in 0..per_sector.saturating_sub(3) {
        log.record(
            &mut f,
            SwapStep::Settled {
                primary: Ident::NONE,
            },
        )
        .map_err(|x| format!("{x}"))?;
    }
    match ctx.decide(&mut f, &mut NoCounter) {
        Ok(Decision::Boot { slot: Slot::A, .. }) => Ok(f),
        other => Err(format!(
            "fresh device did not boot the primary slot: {other:?}"
        )),
    }
}

fn check_boot<F: ProofFlash>(f: &F, ctx: &Ctx, d: &Decision) -> Result<(), Failure> {
    let Decision::Boot { slot, version, .. } = *d else {
        return Err(Failure::Bricked(format!("{d:?}")));
    };
    if slot != Slot::A {
        return Err(Failure::Bricked(format!(
            "booted slot {slot}, not the primary"
        )));
    }
    let image = if version == ctx.old_info().version {
        &ctx.old
    } else if version == ctx.new_info().version {
        &ctx.new
    } else {
        return Err(Failure::Bricked(format!(
            "booted unknown version {version}"
        )));
    };
    if f.bytes_at(ctx.layout.primary, image.len()) != Some(image.as_slice()) {
        return Err(Failure::Bricked(format!(
            "the primary slot does not hold version {version}"
        )));
    }
    Ok(())
}

fn app_step<F: ProofFlash>(
    f: &mut F,
    ctx: &Ctx,
    d: &Decision,
    seen: &mut Seen,
    counter: &mut SimCounter,
) -> Result<Step, UpdateError<F::Error>> {
    let mut up = SwapUpdater::open(&mut *f, ctx.layout)?;
    let wrong = |_: Failure| UpdateError::Corrupted("state went backwards");
    if let Decision::Boot {
        reason: BootReason::Trial { .. },
        ..
    } = d
    {
        match ctx.scenario {
            Scenario::Confirm => up.confirm_with_counter(counter)?.unwrap_or(()),
            Scenario::Reject => up.reject()?,
            Scenario::NeverConfirm => {}
        }
        seen.observe(up.state(), up.journal_sequence())
            .map_err(wrong)?;
        return Ok(Step::Reboot);
    }
    let st = *up.state();
    if st.accepted_sequence >= ctx.new_info().sequence && st.phase == Phase::Idle {
        return Ok(Step::Done);
    }
    if matches!(st.phase, Phase::Activated { .. } | Phase::Trial { .. }) {
        return Ok(Step::Reboot);
    }
    let manifest = VerifiedManifest::new_unchecked(ctx.new_info());
    let offset = up.begin(&manifest)?;
    seen.observe(up.state(), up.journal_sequence())
        .map_err(wrong)?;
    for chunk in ctx
        .new
        .get(offset as usize..)
        .unwrap_or(&[])
        .chunks(ctx.chunk)
    {
        up.write(chunk)?;
    }
    up.finish(&ctx.new_release.envelope, &[])?;
    up.activate()?;
    seen.observe(up.state(), up.journal_sequence())
        .map_err(wrong)?;
    Ok(Step::Reboot)
}

fn run_device<F: ProofFlash>(
    f: &mut F,
    ctx: &Ctx,
    cut: Option<(u64, Tear)>,
    counter: &mut SimCounter,
) -> Result<(), Failure> {
    if let Some((n, t)) = cut {
        f.cut_after(n, t);
    }
    let mut seen = Seen::default();
    let slots = ctx.layout.slots(F::ERASE_SIZE as u32);
    // With `flip_progress`, the one stored flip comes at the cut.
    let mut flip = cut.filter(|_| ctx.flip_progress).map(|(k, _)| k);
    for _ in 0..64 {
        let d = match ctx.decide(f, counter) {
            Ok(d) => d,
            Err(e) if F::is_power_loss_update(&e) => {
                flip_newest_progress(f, ctx, flip.take());
                f.power_on();
                continue;
            }
            Err(e) => return Err(Failure::Wrong(format!("decide failed: {e}"))),
        };
        check_boot(f, ctx, &d)?;
        if let Ok((j, Some(s))) = Journal::open(f, &slots) {
            seen.observe(&s, j.sequence())?;
        }
        match app_step(f, ctx, &d, &mut seen, counter) {
            Ok(Step::Done) => return check_final(f, ctx, counter),
            Ok(Step::Reboot) => {}
            Err(e) if F::is_power_loss_update(&e) => {
                flip_newest_progress(f, ctx, flip.take());
                f.power_on();
            }
            Err(e) => return Err(Failure::Wrong(format!("application step failed: {e}"))),
        }
    }
    Err(Failure::Wrong(String::from(
        "the update cycle did not finish within 64 boots",
    )))
}

/// Flips one bit (chosen by the cut point `k`) of the newest valid progress record, if any.
fn flip_newest_progress<F: ProofFlash>(f: &mut F, ctx: &Ctx, k: Option<u64>) {
    let Some(k) = k else { return };
    let l = &ctx.layout;
    let slots = (l.progress_sectors as usize * F::ERASE_SIZE / RECORD_SIZE) as u32;
    let mut newest: Option<(u32, u32)> = None;
    for i in 0..slots {
        let at = l.progress_offset + i * RECORD_SIZE as u32;
        let Some((seq, _)) = f.bytes_at(at, RECORD_SIZE).and_then(progress::decode) else {
            continue;
        };
        if newest.is_none_or(|(s, _)| seq.wrapping_sub(s) as i32 > 0) {
            newest = Some((seq, at));
        }
    }
    if let Some((_, at)) = newest {
        let bit = (k.wrapping_mul(37) % (RECORD_SIZE as u64 * 8)) as u32;
        f.flip_stored(at + bit / 8, (bit % 8) as u8);
    }
}

trait PowerLossUpdate: ProofFlash {
    fn is_power_loss_update(e: &UpdateError<Self::Error>) -> bool {
        matches!(e, UpdateError::Flash(x) if Self::is_power_loss(x))
    }
}

impl<F: ProofFlash> PowerLossUpdate for F {}

fn check_final<F: ProofFlash>(f: &mut F, ctx: &Ctx, counter: &SimCounter) -> Result<(), Failure> {
    let up = SwapUpdater::open(&mut *f, ctx.layout)
        .map_err(|e| Failure::Wrong(format!("no state at the end: {e}")))?;
    let s = *up.state();
    let step = up.swap_step();
    let (version, floor) = match ctx.scenario {
        Scenario::Confirm => (ctx.new_info().version, ctx.new_info().security_version),
        _ => (ctx.old_info().version, ctx.old_info().security_version),
    };
    if s.confirmed_version != version
        || s.security_floor != floor
        || s.accepted_sequence != ctx.new_info().sequence
        || s.confirmed != Slot::A
        || !step.is_settled()
    {
        return Err(Failure::Wrong(format!(
            "unexpected final state {s:?}, swap {step:?}"
        )));
    }
    if ctx.scenario == Scenario::Confirm && counter.value() != floor {
        return Err(Failure::Wrong(format!(
            "hardware counter at {} after confirming security version {floor}",
            counter.value()
        )));
    }
    Ok(())
}

/// The exhaustive power-cut proof of one swap configuration; `make` builds the blank flash
/// (one device or a [`SimPair`]).
pub fn prove_swap<F: ProofFlash>(cfg: &SwapProofConfig, make: impl Fn() -> F) -> SwapProofReport {
    let ctx = context(cfg);
    let mut report = SwapProofReport::default();
    let base = match provisioned(cfg, &ctx, &make) {
        Ok(f) => f,
        Err(e) => {
            report.failures.push(format!("provisioning failed: {e}"));
            return report;
        }
    };
    let mut golden = base.clone();
    let start = golden.ops();
    if let Err(e) = run_device(&mut golden, &ctx, None, &mut SimCounter::new(32)) {
        report
            .failures
            .push(format!("uninterrupted cycle failed: {}", e.text()));
        return report;
    }
    report.cycle_ops = golden.ops() - start;
    let cuts = every_cut(
        report.cycle_ops,
        cfg.tears,
        &mut report.failures,
        |k, tear| {
            let mut f = base.clone();
            run_device(&mut f, &ctx, Some((k, tear)), &mut SimCounter::new(32))
        },
        |k, tear, e| format!("cut at op {k} ({tear:?}): {}", e.text()),
    );
    report.cut_points = cuts.cut_points;
    report.recovered = cuts.recovered;
    report.bricked = cuts.bricked;
    report
}

/// Wear of back-to-back swap updates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SwapWearReport {
    /// Update cycles run.
    pub cycles: u32,
    /// Bytes the bootloader and the confirm wrote from activation on (the swap's copies, its
    /// progress records, the trial and confirm records) per image byte.
    pub swap_bytes_per_image_byte: f64,
    /// Every byte of the cycle (download included) per image byte.
    pub cycle_bytes_per_image_byte: f64,
    /// The most erases any one physical sector took in one update cycle.
    pub max_sector_erases_per_update: u32,
}

/// Runs `cycles` updates of `scenario` back to back (each a new image) and measures wear.
pub fn measure_swap_wear<F: ProofFlash>(
    cfg: &SwapProofConfig,
    cycles: u32,
    make: impl Fn() -> F,
) -> Result<SwapWearReport, String> {
    let mut ctx = context(cfg);
    let mut f = provisioned(cfg, &ctx, &make)?;
    let mut counter = SimCounter::new(32);
    let (mut swap_bytes, mut all_bytes, mut worst) = (0u64, 0u64, 0u32);
    for i in 0..cycles {
        let seq = u64::from(i) + 2;
        let major = u16::try_from(seq).map_err(|e| format!("{e}"))?;
        let image = image(cfg, cfg.new_image_len, (i % 200) as u8 + 2);
        if i > 0 && ctx.scenario == Scenario::Confirm {
            ctx.old_release = ctx.new_release.clone();
            ctx.old = core::mem::take(&mut ctx.new);
        }
        ctx.new_release = ctx.signer.release(&image, seq, major);
        ctx.new = image;
        let erases0 = f.sector_erases();
        let b0 = f.wear().bytes_written;
        // Download and activate, measured apart from the swap that follows.
        let d = ctx
            .decide(&mut f, &mut counter)
            .map_err(|e| format!("{e:?}"))?;
        let mut seen = Seen::default();
        app_step(&mut f, &ctx, &d, &mut seen, &mut counter).map_err(|e| format!("{e:?}"))?;
        let b1 = f.wear().bytes_written;
        run_device(&mut f, &ctx, None, &mut counter)
            .map_err(|e| format!("cycle {i}: {}", e.text()))?;
        let b2 = f.wear().bytes_written;
        swap_bytes += b2 - b1;
        all_bytes += b2 - b0;
        let most = f
            .sector_erases()
            .iter()
            .zip(erases0.iter().chain(core::iter::repeat(&0)))
            .map(|(a, b)| a - b)
            .max()
            .unwrap_or(0);
        worst = worst.max(most);
    }
    let image_bytes = f64::from(cfg.new_image_len) * f64::from(cycles);
    Ok(SwapWearReport {
        cycles,
        swap_bytes_per_image_byte: swap_bytes as f64 / image_bytes,
        cycle_bytes_per_image_byte: all_bytes as f64 / image_bytes,
        max_sector_erases_per_update: worst,
    })
}
