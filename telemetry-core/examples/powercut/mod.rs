//! The flash queue's power-cut proof, shared by the `queue-powercut` example (full size) and
//! `tests/queue_powercut.rs` (a quick run), included with `#[path]`.
//!
//! A workload (online hours that flush with full or partial acknowledgements, offline days
//! that fill the flash and drop frames, `take_dropped`, clean reboots) runs once without cuts;
//! then for every write and erase index and every tear it runs again from the state before that
//! operation's step, cuts the power there, reboots, and checks against a model of what the
//! application was told:
//!
//! - *lost*: a frame whose push returned `Ok`, not acknowledged and not counted as dropped, is
//!   missing (or frames are dropped that are not the oldest);
//! - *duplicated*: a frame whose acknowledgement returned `Ok` is read again, or a frame is read
//!   twice;
//! - the queue must open, `len()` must match, and the run must continue to the end of a tail of
//!   steps with the same checks.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

use std::collections::VecDeque;

use telemetry_core::queue::{FrameQueue, QueueLayout};
use telemetry_core::ring::FrameId;
use telemetry_core::sim::{SimConfig, SimFlash, Tear};

pub mod front;
pub use front::{Front, Res};

/// Frame sectors the proof's queues track.
pub const SECTORS: usize = 16;

#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// Push a frame: a key frame (`0x41`) or a delta frame (`0x51`), `len` bytes, tagged.
    Push {
        tag: u32,
        delta: bool,
        len: usize,
    },
    /// Read a packet of `mtu` bytes from the oldest frame and acknowledge `ack` of its frames
    /// (`usize::MAX`: all).
    Flush {
        mtu: usize,
        ack: usize,
    },
    TakeDropped,
    Reboot,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A deterministic workload of about `days * 30` frames.
pub fn workload(seed: u64, days: u32) -> Vec<Step> {
    let mut r = Rng(seed | 1);
    let mut steps = Vec::new();
    let mut tag = 0u32;
    let mut since_key = 0u32;
    let mut push = |r: &mut Rng, steps: &mut Vec<Step>| {
        let delta = !since_key.is_multiple_of(6);
        since_key += 1;
        let len = if delta {
            10 + r.below(20) as usize
        } else {
            30 + r.below(21) as usize
        };
        steps.push(Step::Push { tag, delta, len });
        tag += 1;
    };
    for _ in 0..days {
        if r.below(10) < 3 {
            // Offline: a burst that may overflow the flash.
            for _ in 0..(60 + r.below(400)) {
                push(&mut r, &mut steps);
            }
        } else {
            for _ in 0..24 {
                push(&mut r, &mut steps);
                if r.below(10) < 7 {
                    let mtu = [51, 244, 1200][r.below(3) as usize];
                    let ack = match r.below(20) {
                        0 => 0,
                        1..=3 => 1 + r.below(3) as usize,
                        _ => usize::MAX,
                    };
                    steps.push(Step::Flush { mtu, ack });
                }
            }
        }
        if r.below(3) == 0 {
            steps.push(Step::TakeDropped);
        }
        if r.below(4) == 0 {
            steps.push(Step::Reboot);
        }
    }
    steps.push(Step::Reboot);
    steps
}

fn frame(tag: u32, delta: bool, len: usize) -> Vec<u8> {
    let mut f = vec![if delta { 0x51 } else { 0x41 }];
    f.extend_from_slice(&tag.to_le_bytes());
    while f.len() < len {
        f.push((tag as u8).wrapping_mul(31).wrapping_add(f.len() as u8));
    }
    f
}

fn tag_of(f: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(f.get(1..5)?.try_into().ok()?))
}

/// What the application was told, and what it may not rely on after a cut.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Pushed with `Ok`, not acknowledged, not dropped: (id, tag, delta, length).
    pending: VecDeque<(u32, u32, bool, usize)>,
    /// Acknowledged with `Ok`: ids below this must never be read again.
    acked_floor: u32,
    /// The queue's dropped total already accounted for.
    dropped_seen: u32,
    reported: u32,
    /// A push cut by the power: its frame may or may not be stored.
    maybe_push: Option<(u32, bool, usize)>,
    /// An acknowledgement cut by the power: may or may not have taken effect.
    maybe_ack: Option<u32>,
    pub frames_pushed: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub lost: u64,
    pub duplicated: u64,
    pub open_failed: u64,
    pub other: u64,
}

impl Tally {
    pub fn clean(&self) -> bool {
        *self == Tally::default()
    }
    fn add(&mut self, o: Tally) {
        self.lost += o.lost;
        self.duplicated += o.duplicated;
        self.open_failed += o.open_failed;
        self.other += o.other;
    }
}

/// One device: flash, queue (if open, through front end `Q`) and model.
#[derive(Clone)]
pub struct World<
    const SIZE: usize,
    const R: usize,
    const W: usize,
    const E: usize,
    Q = FrameQueue<SECTORS>,
> {
    pub flash: Box<SimFlash<SIZE, R, W, E>>,
    pub queue: Option<Q>,
    model: Model,
    layout: QueueLayout,
    pub tally: Tally,
    pub first_problem: Option<String>,
}

fn note(slot: &mut Option<String>, what: String) {
    if slot.is_none() {
        *slot = Some(what);
    }
}

impl<const SIZE: usize, const R: usize, const W: usize, const E: usize, Q: Front<SIZE, R, W, E>>
    World<SIZE, R, W, E, Q>
{
    pub fn new(cfg: SimConfig, layout: QueueLayout, noise: bool) -> Self {
        let mut flash = Box::new(SimFlash::new(cfg));
        if noise {
            flash.fill_noise();
        }
        let mut w = Self {
            flash,
            queue: None,
            model: Model::default(),
            layout,
            tally: Tally::default(),
            first_problem: None,
        };
        w.reopen();
        w
    }

    /// Reboots: the power comes back, RAM is gone, the queue reopens and is checked.
    pub fn reopen(&mut self) {
        self.flash.power_on();
        self.queue = None;
        match Q::open(&mut self.flash, self.layout) {
            Ok(q) => self.queue = Some(q),
            Err(e) => {
                self.tally.open_failed += 1;
                note(&mut self.first_problem, format!("open failed: {e}"));
                return;
            }
        }
        self.check_contents();
    }

    /// After an operation was dropped (its future cancelled) with the power on: the same
    /// queue, not reopened, resyncs and is checked as after a reboot.
    pub fn settle(&mut self) {
        let Some(q) = self.queue.as_mut() else {
            return self.reopen();
        };
        if let Err(e) = q.resync(&mut self.flash) {
            self.tally.other += 1;
            note(&mut self.first_problem, format!("resync failed: {e}"));
            return;
        }
        if q.in_doubt() {
            self.tally.other += 1;
            note(&mut self.first_problem, "in doubt after resync".into());
        }
        self.check_contents();
    }

    /// Reads every frame and compares with the model, resolving what a cut left open.
    fn check_contents(&mut self) {
        let Some(q) = self.queue.as_mut() else { return };
        let floor = q.floor().0;
        let mut frames = Vec::new();
        let mut cursor = telemetry_core::queue::Cursor::default();
        let mut buf = [0u8; 2048];
        loop {
            match q.next(&mut self.flash, &mut cursor, &mut buf) {
                Ok(Some((id, n))) => frames.push((id.0, tag_of(&buf[..n]), buf[..n].to_vec())),
                Ok(None) => break,
                Err(e) => {
                    self.tally.other += 1;
                    note(&mut self.first_problem, format!("read failed: {e}"));
                    return;
                }
            }
        }
        let m = &mut self.model;
        // An acknowledgement cut by the power took effect exactly when the floor passed it.
        if let Some(a) = m.maybe_ack.take()
            && floor > a
        {
            m.acked_floor = m.acked_floor.max(a + 1);
            m.pending.retain(|p| p.0 > a);
        }
        // A push cut by the power: its frame is stored whole, as the newest, or not at all.
        if let Some((tag, delta, len)) = m.maybe_push.take()
            && let Some((id, _, bytes)) = frames.iter().find(|f| f.1 == Some(tag))
        {
            if *bytes != frame(tag, delta, len) || m.pending.back().is_some_and(|p| p.0 >= *id) {
                self.tally.other += 1;
                note(
                    &mut self.first_problem,
                    format!("cut push stored as id {id}, not whole or not newest"),
                );
            }
            m.pending.push_back((*id, tag, delta, len));
        }
        self.account_drops(floor);
        let m = &mut self.model;
        let mut problems = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (id, tag, _) in &frames {
            if *id < m.acked_floor || !tag.is_some_and(|t| seen.insert(t)) {
                self.tally.duplicated += 1;
                problems.push(format!("duplicated frame id {id}"));
            }
        }
        let want: Vec<(u32, Option<u32>)> = m.pending.iter().map(|p| (p.0, Some(p.1))).collect();
        let got: Vec<(u32, Option<u32>)> = frames.iter().map(|f| (f.0, f.1)).collect();
        if want != got {
            let missing = want.iter().filter(|w| !got.contains(w)).count() as u64;
            self.tally.lost += missing;
            if missing == 0 {
                self.tally.other += 1;
            }
            let _ = &problems;
            problems.push(format!("stored {got:?} expected {want:?}"));
        }
        let len = self.queue.as_ref().map_or(0, Q::len);
        if len != self.model.pending.len() {
            self.tally.other += 1;
            problems.push(format!("len {len} but {} stored", self.model.pending.len()));
        }
        if let Some(p) = problems.into_iter().next() {
            note(&mut self.first_problem, p);
        }
    }

    /// Frames below the queue's floor that were not acknowledged must be exactly the ones it
    /// counted as dropped, and the oldest.
    fn account_drops(&mut self, floor: u32) {
        let Some(total) = self.queue.as_ref().map(Q::dropped_total) else {
            return;
        };
        let m = &mut self.model;
        let gone = m.pending.iter().take_while(|p| p.0 < floor).count() as u32;
        let counted = total.wrapping_sub(m.dropped_seen);
        if gone != counted {
            if gone > counted {
                self.tally.lost += u64::from(gone - counted);
            } else {
                self.tally.other += 1;
            }
            note(
                &mut self.first_problem,
                format!("{gone} frames below floor {floor}, {counted} counted dropped"),
            );
        }
        m.pending.retain(|p| p.0 >= floor);
        m.dropped_seen = total;
    }

    /// Runs one step; `Err` when the flash failed (the power went).
    pub fn step(&mut self, s: Step) -> Res<()> {
        if self.queue.is_none() {
            self.reopen();
        }
        let Some(q) = self.queue.as_mut() else {
            return Ok(());
        };
        match s {
            Step::Push { tag, delta, len } => {
                let f = frame(tag, delta, len);
                self.model.maybe_push = Some((tag, delta, len));
                let id = q.push(&mut self.flash, &f)?;
                self.model.maybe_push = None;
                self.model.frames_pushed += 1;
                if self.model.pending.back().is_some_and(|p| p.0 >= id.0) {
                    self.tally.other += 1;
                    note(
                        &mut self.first_problem,
                        format!("push returned id {} not above the newest", id.0),
                    );
                }
                self.model.pending.push_back((id.0, tag, delta, len));
                let floor = q.floor().0;
                self.account_drops(floor);
            }
            Step::Flush { mtu, ack } => {
                let mut out = vec![0u8; mtu];
                let mut cursor = telemetry_core::queue::Cursor::default();
                let p = q.fill_packet(&mut self.flash, &mut cursor, mtu, &mut out)?;
                // The packet is the oldest pending frames, back to back.
                let mut at = 0usize;
                let mut ids = Vec::new();
                let mut wrong = false;
                for (id, tag, delta, len) in self.model.pending.iter().take(p.frames) {
                    wrong |= out.get(at..at + len) != Some(&frame(*tag, *delta, *len)[..]);
                    ids.push(*id);
                    at += len;
                }
                if wrong
                    || at != p.len
                    || ids.len() != p.frames
                    || p.last.map(|l| l.0) != ids.last().copied()
                {
                    self.tally.other += 1;
                    note(
                        &mut self.first_problem,
                        format!(
                            "packet of {} bytes is not the pending frames {:?}",
                            p.len, ids
                        ),
                    );
                }
                let n = ack.min(p.frames).min(ids.len());
                if n > 0 {
                    let through = ids[n - 1];
                    self.model.maybe_ack = Some(through);
                    let q = self.queue.as_mut().unwrap();
                    let done = q.ack_through(&mut self.flash, FrameId(through))?;
                    self.model.maybe_ack = None;
                    if done != n {
                        self.tally.other += 1;
                        note(
                            &mut self.first_problem,
                            format!("ack removed {done}, expected {n}"),
                        );
                    }
                    self.model.acked_floor = self.model.acked_floor.max(through + 1);
                    self.model.pending.retain(|p| p.0 > through);
                    if q.len() != self.model.pending.len() {
                        self.tally.other += 1;
                        note(&mut self.first_problem, "len after ack".into());
                    }
                }
            }
            Step::TakeDropped => {
                let want = q.dropped();
                let n = q.take_dropped(&mut self.flash)?;
                if n != want || q.dropped() != 0 {
                    self.tally.other += 1;
                    note(
                        &mut self.first_problem,
                        format!("take_dropped gave {n}, expected {want}"),
                    );
                }
                self.model.reported += n;
            }
            Step::Reboot => self.reopen(),
        }
        Ok(())
    }
}

/// What the sweep over one flash part found.
#[derive(Debug, Clone, Default)]
pub struct PartReport {
    pub cut_points: u64,
    pub tally: Tally,
    pub frames: u64,
    pub erases: u64,
    pub ops: u64,
    pub first_problem: Option<String>,
}

/// Runs `steps` uncut, then once per (operation index in `stride` steps, tear): cut, reboot,
/// check, run `tail` more steps, reboot, check.
pub fn sweep<const SIZE: usize, const R: usize, const W: usize, const E: usize>(
    cfg: SimConfig,
    layout: QueueLayout,
    steps: &[Step],
    stride: u64,
    tail: usize,
) -> PartReport {
    sweep_with::<FrameQueue<SECTORS>, SIZE, R, W, E>(cfg, layout, steps, stride, tail)
}

/// [`sweep`] through front end `Q`.
pub fn sweep_with<
    Q: Front<SIZE, R, W, E>,
    const SIZE: usize,
    const R: usize,
    const W: usize,
    const E: usize,
>(
    cfg: SimConfig,
    layout: QueueLayout,
    steps: &[Step],
    stride: u64,
    tail: usize,
) -> PartReport {
    let mut report = PartReport::default();
    // The uncut run: figures, and the operation index at which each step starts.
    let mut base = World::<SIZE, R, W, E, Q>::new(cfg, layout, true);
    let start_ops = base.flash.ops();
    let start_erases = base.flash.wear().erases;
    let mut starts = Vec::with_capacity(steps.len() + 1);
    for s in steps {
        starts.push(base.flash.ops());
        if let Err(e) = base.step(*s) {
            base.tally.other += 1;
            note(
                &mut base.first_problem,
                format!("uncut step {s:?} failed: {e}"),
            );
        }
    }
    starts.push(base.flash.ops());
    report.frames = base.model.frames_pushed;
    report.erases = base.flash.wear().erases - start_erases;
    report.ops = base.flash.ops() - start_ops;
    report.tally.add(base.tally);
    report.first_problem = base.first_problem.clone();

    // The cut runs, walking the steps in order with a world kept at each step's start.
    let mut world = World::<SIZE, R, W, E, Q>::new(cfg, layout, true);
    let mut k = 0usize;
    let mut op = starts.first().copied().unwrap_or(0);
    let end = starts.last().copied().unwrap_or(0);
    while op < end {
        while starts.get(k + 1).is_some_and(|&s| s <= op) {
            let _ = world.step(steps[k]);
            k += 1;
        }
        for (t, tear) in Tear::ALL.into_iter().enumerate() {
            let mut w = world.clone();
            w.tally = Tally::default();
            w.first_problem = None;
            w.flash.reseed(op.wrapping_mul(7) + t as u64);
            w.flash.cut_after(op - w.flash.ops(), tear);
            let _ = w.step(steps[k]);
            if w.flash.is_powered() {
                // The cut fell inside a reboot's open (which writes nothing) or the step ended
                // first: nothing to check beyond the normal run.
            }
            w.reopen();
            for s in steps.iter().skip(k + 1).take(tail) {
                if let Err(e) = w.step(*s) {
                    w.tally.other += 1;
                    note(&mut w.first_problem, format!("tail step {s:?} failed: {e}"));
                }
            }
            w.reopen();
            report.cut_points += 1;
            if !w.tally.clean() && report.first_problem.is_none() {
                report.first_problem = Some(format!(
                    "cut at op {op} ({tear:?}) in step {k} {:?}: {}",
                    steps[k],
                    w.first_problem.clone().unwrap_or_default()
                ));
            }
            report.tally.add(w.tally);
        }
        op += stride;
    }
    report
}

/// What the cancellation sweep found.
#[derive(Debug, Clone, Default)]
pub struct CancelReport {
    /// (step, poll count) pairs at which a future was dropped.
    pub cancel_points: u64,
    /// Of those, the ones that left a changing operation in doubt.
    pub in_doubt: u64,
    /// Frames the uncancelled run dropped (the flash filled), and frames it pushed.
    pub dropped: u32,
    pub frames: u64,
    pub tally: Tally,
    pub first_problem: Option<String>,
}

/// Runs `steps` through front end `Q`; at every step (every `stride`-th poll count, starting
/// at `phase`) drops the step's future after that many polls, then either checks the same
/// queue after it resyncs (`reopen == false`) or reboots, runs `tail` more steps and checks
/// again after a reboot.
pub fn cancel_sweep<
    Q: Front<SIZE, R, W, E>,
    const SIZE: usize,
    const R: usize,
    const W: usize,
    const E: usize,
>(
    cfg: SimConfig,
    layout: QueueLayout,
    steps: &[Step],
    stride: u64,
    tail: usize,
    reopen: bool,
) -> CancelReport {
    let mut report = CancelReport::default();
    let mut world = World::<SIZE, R, W, E, Q>::new(cfg, layout, true);
    for (k, s) in steps.iter().enumerate() {
        if !matches!(s, Step::Reboot) {
            let mut polls = (k as u64) % stride.max(1);
            loop {
                let mut w = world.clone();
                w.tally = Tally::default();
                w.first_problem = None;
                if w.queue.is_none() {
                    w.reopen();
                }
                if let Some(q) = w.queue.as_mut() {
                    q.cancel_after_polls(Some(polls));
                }
                let _ = w.step(*s);
                let Some(q) = w.queue.as_mut() else { break };
                q.cancel_after_polls(None);
                if !q.take_cancelled() {
                    // The step finished within the budget: every await point was tried.
                    break;
                }
                report.cancel_points += 1;
                report.in_doubt += u64::from(q.in_doubt());
                if reopen {
                    w.reopen();
                } else {
                    w.settle();
                }
                for t in steps.iter().skip(k + 1).take(tail) {
                    if let Err(e) = w.step(*t) {
                        w.tally.other += 1;
                        note(&mut w.first_problem, format!("tail step {t:?} failed: {e}"));
                    }
                }
                w.reopen();
                if !w.tally.clean() && report.first_problem.is_none() {
                    report.first_problem = Some(format!(
                        "dropped after {polls} polls in step {k} {s:?}: {}",
                        w.first_problem.clone().unwrap_or_default()
                    ));
                }
                report.tally.add(w.tally);
                polls += stride.max(1);
            }
        }
        let _ = world.step(*s);
    }
    report.dropped = world.queue.as_ref().map_or(0, Q::dropped_total);
    report.frames = world.model.frames_pushed;
    report.tally.add(world.tally);
    if report.first_problem.is_none() {
        report.first_problem = world.first_problem;
    }
    report
}
