//! The update report's power-cut proof: run an update cycle whose application sends and
//! acknowledges every report, cut the power at every flash operation with every [`Tear`]
//! variant, and check the report the flash holds.
//!
//! ```
//! use ota_core::layout::Layout;
//! use ota_core::report::store::ReportRegion;
//! use ota_core::sim::{SimConfig, Tear, proof::Scenario};
//! use ota_core::sim::report_proof::{AckPolicy, ReportProofConfig, prove_reports};
//!
//! let cfg = ReportProofConfig {
//!     layout: Layout {
//!         journal_offset: 0, journal_sectors: 2,
//!         slot_a: 0x2000, slot_b: 0x5000, slot_size: 0x3000, trial_attempts: 2, erased: 0xFF,
//!     },
//!     reports: ReportRegion { offset: 0x8000, sectors: 2 },
//!     sim: SimConfig::default(),
//!     old_image_len: 2000,
//!     new_image_len: 3000,
//!     chunk: 1000,
//!     scenario: Scenario::Confirm,
//!     tears: &[Tear::Partial],
//!     report_prefill: 0,
//!     acks: AckPolicy::AtBoot,
//! };
//! let r = prove_reports::<8, 4096>(&cfg);
//! assert_eq!(r.held, r.cut_points, "{:?}", r.failures);
//! ```
//!
//! Let `Q(j)` be what the flash holds after exactly `j` operations of the uninterrupted cycle:
//! the latest report and whether it is acknowledged, read by a freshly opened updater (no
//! bootloader run in between). The proof checks:
//!
//! - **old or new**: after a cut inside operation `j`, torn in any way, the flash holds `Q(j)`
//!   or `Q(j + 1)`;
//! - **never lost once written**: along `Q(0), Q(1), ...` a report, once there, is only ever
//!   replaced by a later one (ordered by manifest sequence, stage, download offset, trial boots
//!   spent, then acknowledgement): no step goes back, so no report is lost and an acknowledged
//!   report never becomes pending again;
//! - every report the application sent is one of those steps, in order, and the last step is
//!   the cycle's final report, acknowledged unless the application never acknowledges
//!   ([`AckPolicy`]);
//! - after every cut the device goes on (through the verifying bootloader) to the end of the
//!   cycle and holds the scenario's final report (stage and reason; a cut may cost trial
//!   boots), acknowledged.

use super::cut::{Failure, every_cut, is_power_loss};
use super::proof::{Scenario, test_image};
use super::release::{SimRelease, SimSigner, SimStore};
use super::{SimConfig, SimError, SimFlash, Tear};
use crate::boot::{BootReason, Decision, decide, provision};
use crate::counter::NoCounter;
use crate::envelope::EnvelopeError;
use crate::layout::{Layout, Slot};
use crate::manifest::VerifiedManifest;
use crate::report::store::{Ack, ReportRegion};
use crate::report::{Stage, UpdateReport};
use crate::slots::Updater;
use crate::state::Phase;
use crate::update_error::UpdateError;
use crate::verify::VerifyError;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use embedded_storage::nor_flash::NorFlash;

/// One report proof configuration.
#[derive(Clone, Copy, Debug)]
pub struct ReportProofConfig {
    /// The flash map under test.
    pub layout: Layout,
    /// Where the reports are kept.
    pub reports: ReportRegion,
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
    /// Refused-and-acknowledged reports written before the cycle (two records each): set it
    /// so the cycle crosses a report sector change.
    pub report_prefill: u32,
    /// When the application sends and acknowledges its report.
    pub acks: AckPolicy,
}

/// When the application of the proof sends its pending report and records the
/// acknowledgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckPolicy {
    /// After every step it takes (begin, each chunk, finish, activate, confirm or reject) and
    /// at every boot.
    EveryStep,
    /// Once per boot, before anything else: the reports of the steps in between are kept by
    /// the report log alone.
    AtBoot,
    /// Never: every report stays pending.
    Never,
}

/// The result of [`prove_reports`].
#[derive(Clone, Debug, Default)]
pub struct ReportProofReport {
    /// Cut points tried (operation indices × tear variants).
    pub cut_points: u64,
    /// Cut points where every check held.
    pub held: u64,
    /// The first few failure descriptions.
    pub failures: Vec<String>,
    /// Flash writes and erases of the uninterrupted cycle.
    pub cycle_ops: u64,
    /// Distinct report states the flash held along the uninterrupted cycle.
    pub steps: usize,
    /// The reports the application sent in the uninterrupted cycle, in order.
    pub sent: Vec<UpdateReport>,
}

/// What the flash holds: the latest report and whether it is acknowledged.
type View = (Option<UpdateReport>, bool);

type Flash<const W: usize, const E: usize> = SimFlash<W, E>;

struct Ctx {
    layout: Layout,
    region: ReportRegion,
    old: Vec<u8>,
    new: Vec<u8>,
    old_release: SimRelease,
    new_release: SimRelease,
    signer: SimSigner,
    store: SimStore,
    chunk: usize,
    scenario: Scenario,
    acks: AckPolicy,
}

enum End {
    Cut,
    Done,
}

fn context(cfg: &ReportProofConfig) -> Ctx {
    let old = test_image(cfg.old_image_len, 1);
    let new = test_image(cfg.new_image_len, 2);
    let signer = SimSigner::new(1);
    Ctx {
        layout: Layout {
            erased: cfg.sim.erased,
            ..cfg.layout
        },
        region: cfg.reports,
        old_release: signer.release(&old, 1, 1),
        new_release: signer.release(&new, 2, 2),
        store: signer.store(),
        signer,
        old,
        new,
        chunk: cfg.chunk.max(1),
        scenario: cfg.scenario,
        acks: cfg.acks,
    }
}

impl Ctx {
    fn decide<const W: usize, const E: usize>(
        &self,
        f: &mut Flash<W, E>,
    ) -> Result<Decision, UpdateError<SimError>> {
        decide(
            f,
            &self.layout,
            &self.signer.boot_trust(&self.store),
            &mut NoCounter,
        )
    }

    fn open<'f, const W: usize, const E: usize>(
        &self,
        f: &'f mut Flash<W, E>,
        running: Option<Slot>,
    ) -> Result<Updater<&'f mut Flash<W, E>>, UpdateError<SimError>> {
        let up = match running {
            Some(slot) => Updater::open_running(f, self.layout, slot)?,
            None => Updater::open(f, self.layout)?,
        };
        up.with_reports(self.region)
    }
}

fn provisioned<const W: usize, const E: usize>(
    cfg: &ReportProofConfig,
    ctx: &Ctx,
) -> Result<Flash<W, E>, String> {
    let l = &ctx.layout;
    let ends = [
        (l.journal_offset + l.journal_sectors * E as u32) as usize,
        (l.slot_a + l.slot_size) as usize,
        (l.slot_b + l.slot_size) as usize,
        (ctx.region.offset + ctx.region.sectors * E as u32) as usize,
    ];
    let end = ends.iter().copied().max().unwrap_or(0);
    let mut f = Flash::<W, E>::new(end.div_ceil(E), cfg.sim);
    let a = l.slot_a;
    f.erase(a, a + l.slot_size).map_err(|e| format!("{e}"))?;
    f.program(a, &ctx.old).map_err(|e| format!("{e}"))?;
    provision(&mut f, l, Slot::A, &ctx.old_release.envelope, &[]).map_err(|e| format!("{e}"))?;
    let (r0, r1) = (
        ctx.region.offset,
        ctx.region.offset + ctx.region.sectors * E as u32,
    );
    f.erase(r0, r1).map_err(|e| format!("{e}"))?;
    {
        let mut up = ctx.open(&mut f, None).map_err(|e| format!("{e}"))?;
        let refused = VerifyError::Envelope(EnvelopeError::Malformed);
        for _ in 0..cfg.report_prefill {
            let r = up
                .record_refused(&refused, b"not an envelope")
                .map_err(|e| format!("{e}"))?;
            if up.ack_report(&r) != Ok(Ack::Recorded) {
                return Err(String::from("prefill acknowledgement not recorded"));
            }
        }
    }
    match ctx.decide(&mut f) {
        Ok(Decision::Boot { slot: Slot::A, .. }) => Ok(f),
        other => Err(format!("fresh device did not boot slot A: {other:?}")),
    }
}

/// Sends the pending report, if any, and records the backend's acknowledgement (when the
/// policy says so: `at_boot` is the first send of a boot).
fn send<F: NorFlash>(
    up: &mut Updater<F>,
    sent: &mut Vec<UpdateReport>,
    acks: AckPolicy,
    at_boot: bool,
) -> Result<(), UpdateError<F::Error>> {
    let now = match acks {
        AckPolicy::EveryStep => true,
        AckPolicy::AtBoot => at_boot,
        AckPolicy::Never => false,
    };
    if !now {
        return Ok(());
    }
    if let Some(r) = up.pending_report() {
        sent.push(r);
        if up.ack_report(&r)? != Ack::Recorded {
            return Err(UpdateError::Corrupted(
                "a pending report's acknowledgement was refused",
            ));
        }
    }
    Ok(())
}

/// One boot of the application: send the report, then take the next step of the cycle.
fn app_step<const W: usize, const E: usize>(
    f: &mut Flash<W, E>,
    ctx: &Ctx,
    d: &Decision,
    sent: &mut Vec<UpdateReport>,
) -> Result<bool, UpdateError<SimError>> {
    let Decision::Boot { slot, reason, .. } = *d else {
        return Err(UpdateError::Corrupted("nothing bootable"));
    };
    let mut up = ctx.open(f, Some(slot))?;
    send(&mut up, sent, ctx.acks, true)?;
    if let BootReason::Trial { .. } = reason {
        match ctx.scenario {
            Scenario::Confirm => up.confirm()?,
            Scenario::Reject => up.reject()?,
            Scenario::NeverConfirm => {}
        }
        send(&mut up, sent, ctx.acks, false)?;
        return Ok(false);
    }
    let st = *up.state();
    if st.accepted_sequence >= ctx.new_release.info.sequence && st.phase == Phase::Idle {
        return Ok(true);
    }
    if matches!(st.phase, Phase::Activated { .. } | Phase::Trial { .. }) {
        return Ok(false);
    }
    let offset = up.begin(&VerifiedManifest::new_unchecked(ctx.new_release.info))?;
    send(&mut up, sent, ctx.acks, false)?;
    for chunk in ctx
        .new
        .get(offset as usize..)
        .unwrap_or(&[])
        .chunks(ctx.chunk)
    {
        up.write(chunk)?;
        send(&mut up, sent, ctx.acks, false)?;
    }
    up.finish(&ctx.new_release.envelope, &[])?;
    send(&mut up, sent, ctx.acks, false)?;
    up.activate()?;
    send(&mut up, sent, ctx.acks, false)?;
    Ok(false)
}

/// Boots and runs the application until the cycle is done, or (with `stop`) until the first
/// power cut. `cut` arms one cut.
fn run<const W: usize, const E: usize>(
    f: &mut Flash<W, E>,
    ctx: &Ctx,
    cut: Option<(u64, Tear)>,
    stop: bool,
    sent: &mut Vec<UpdateReport>,
) -> Result<End, String> {
    if let Some((n, t)) = cut {
        f.cut_after(n, t);
    }
    for _ in 0..64 {
        let step = ctx.decide(f).and_then(|d| app_step(f, ctx, &d, sent));
        match step {
            Ok(true) => return Ok(End::Done),
            Ok(false) => {}
            Err(e) if is_power_loss(&e) => {
                f.power_on();
                if stop {
                    return Ok(End::Cut);
                }
            }
            Err(e) => return Err(format!("device failed: {e}")),
        }
    }
    Err(String::from("the cycle did not finish within 64 boots"))
}

/// What the flash holds, read by a freshly opened updater.
fn view<const W: usize, const E: usize>(f: &mut Flash<W, E>, ctx: &Ctx) -> Result<View, String> {
    let up = ctx
        .open(f, None)
        .map_err(|e| format!("reopen failed: {e}"))?;
    let latest = up.latest_report();
    Ok((latest, latest.is_some() && up.pending_report().is_none()))
}

/// Orders report states along a cycle.
fn key(v: &View) -> Option<(u64, u8, u32, u8, bool)> {
    let (r, acked) = v;
    r.map(|r| {
        let offset = match r.stage {
            Stage::Downloading { offset } => offset,
            _ => 0,
        };
        (r.sequence, r.stage.code(), offset, r.attempts, *acked)
    })
}

fn check_steps(q: &[View], sent: &[UpdateReport], acks: AckPolicy) -> Result<usize, String> {
    let mut steps: Vec<&View> = Vec::new();
    for v in q {
        if steps.last() != Some(&v) {
            steps.push(v);
        }
    }
    for w in steps.windows(2) {
        let (a, b) = (key(w[0]), key(w[1]));
        if a.is_some() && b <= a {
            return Err(format!(
                "the report went back from {:?} to {:?}",
                w[0], w[1]
            ));
        }
    }
    let mut reports = steps.iter().filter_map(|v| v.0);
    for s in sent {
        if !reports.any(|r| r == *s) {
            return Err(format!(
                "sent report {s:?} is no step of the flash, in order"
            ));
        }
    }
    let acked = acks != AckPolicy::Never;
    match (q.last(), sent.last()) {
        (Some((Some(r), a)), s) if *a == acked && (!acked || s == Some(r)) => Ok(steps.len()),
        other => Err(format!(
            "the cycle does not end at its last report, acknowledged {acked}: {other:?}"
        )),
    }
}

/// The exhaustive report power-cut proof for one configuration.
pub fn prove_reports<const W: usize, const E: usize>(cfg: &ReportProofConfig) -> ReportProofReport {
    let ctx = context(cfg);
    let mut report = ReportProofReport::default();
    let base = match provisioned::<W, E>(cfg, &ctx) {
        Ok(f) => f,
        Err(e) => {
            report.failures.push(format!("provisioning failed: {e}"));
            return report;
        }
    };
    let mut golden = base.clone();
    let mut sent = Vec::new();
    if let Err(e) = run(&mut golden, &ctx, None, false, &mut sent) {
        report
            .failures
            .push(format!("uninterrupted cycle failed: {e}"));
        return report;
    }
    report.cycle_ops = golden.ops() - base.ops();
    let last = match view(&mut golden, &ctx) {
        Ok((Some(r), _)) => r,
        other => {
            report
                .failures
                .push(format!("the cycle ends without a report: {other:?}"));
            return report;
        }
    };
    let mut q = Vec::new();
    for j in 0..=report.cycle_ops {
        let mut f = base.clone();
        let at = if j == report.cycle_ops {
            golden.clone()
        } else {
            match run(&mut f, &ctx, Some((j, Tear::Skip)), true, &mut Vec::new()) {
                Ok(End::Cut) => f,
                other => {
                    let what = other.map(|_| "no cut");
                    report
                        .failures
                        .push(format!("clean cut at op {j}: {what:?}"));
                    return report;
                }
            }
        };
        let mut at = at;
        match view(&mut at, &ctx) {
            Ok(v) => q.push(v),
            Err(e) => {
                report.failures.push(format!("clean cut at op {j}: {e}"));
                return report;
            }
        }
    }
    match check_steps(&q, &sent, cfg.acks) {
        Ok(n) => report.steps = n,
        Err(e) => {
            report.failures.push(e);
            return report;
        }
    }
    let cuts = every_cut(
        report.cycle_ops,
        cfg.tears,
        &mut report.failures,
        |j, tear| {
            let mut f = base.clone();
            let acked = cfg.acks != AckPolicy::Never;
            check_cut(&mut f, &ctx, j, tear, &q, &last, acked).map_err(Failure::Wrong)
        },
        |j, tear, e| format!("cut at op {j} ({tear:?}): {}", e.text()),
    );
    report.cut_points = cuts.cut_points;
    report.held = cuts.recovered;
    report.sent = sent;
    report
}

fn check_cut<const W: usize, const E: usize>(
    f: &mut Flash<W, E>,
    ctx: &Ctx,
    j: u64,
    tear: Tear,
    q: &[View],
    last: &UpdateReport,
    acked: bool,
) -> Result<(), String> {
    match run(f, ctx, Some((j, tear)), true, &mut Vec::new())? {
        End::Cut => {}
        End::Done => return Err(String::from("the cut never came")),
    }
    let v = view(f, ctx)?;
    let (old, new) = (q.get(j as usize), q.get(j as usize + 1));
    if Some(&v) != old && Some(&v) != new {
        return Err(format!(
            "holds {v:?}, neither the old {old:?} nor the new {new:?}"
        ));
    }
    match run(f, ctx, None, false, &mut Vec::new())? {
        End::Done => {}
        End::Cut => return Err(String::from("a cut after the only cut")),
    }
    match view(f, ctx)? {
        (Some(r), a)
            if a == acked
                && (r.sequence, r.stage, r.reason, r.from, r.to)
                    == (last.sequence, last.stage, last.reason, last.from, last.to)
                && r.attempts >= last.attempts =>
        {
            Ok(())
        }
        other => Err(format!(
            "ends with {other:?}, expected {last:?}, acknowledged {acked}"
        )),
    }
}
