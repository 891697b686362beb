//! The scenario: who runs what when, in simulated hours, from the first release to the sunset.
//!
//! 1. 1.1.0 (good) rolls out through every stage.
//! 2. 1.2.0 (bad) fails the self-test on a share of hardware revision B and drains revision B
//!    batteries; the first stage's evidence aborts it and the rollback directive sends the
//!    devices that took it back to 1.1.0 (re-issued with a fresh sequence number).
//! 3. 1.2.1 (the fix) rolls out fully: devices confirmed on 1.1.0 install it as a patch
//!    against 1.1.0 ([`crate::release::Delta`]), the others as the full image; revision C
//!    devices (swap mode, [`crate::device::SWAP_HW`]) have every update swapped in by their
//!    bootloader.
//! 4. Throughout: power cuts during updates and network drops.
//! 5. A sunset notice: devices move to security-only and then local-only mode, customers are
//!    notified on schedule, and an export bundle is written.
//!
//! Everything is a function of the [`ScenarioConfig`]: the same seed gives the same run.

use crate::progress::Progress;
use crate::release::{BAD, FACTORY, FIX, GOOD, ReleaseId};
use crate::report::{Report, when};
use crate::sunset::{Sunset, write_export};
use crate::world::World;
use std::path::PathBuf;
use std::time::Instant;

/// What to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioConfig {
    /// Fleet size.
    pub devices: u32,
    /// Seed of every random choice.
    pub seed: u64,
    /// Probability that an update session loses power at a random flash operation.
    pub power_cut_rate: f64,
    /// Probability per device and hour that its network drops.
    pub network_drop_rate: f64,
    /// First stage of each rollout, in basis points of the fleet.
    pub first_stage_bp: u16,
    /// Where to write the export bundle: a new or empty directory (default: a fresh directory
    /// under the system temporary directory). An existing export is never overwritten.
    pub export_dir: Option<PathBuf>,
    /// Days from the sunset notice to the end of the cloud service (security-only from half
    /// way).
    pub sunset_days: u32,
}

impl ScenarioConfig {
    /// The README's default run for `devices` devices.
    pub fn new(devices: u32, seed: u64) -> Self {
        Self {
            devices,
            seed,
            power_cut_rate: 0.05,
            network_drop_rate: 0.01,
            first_stage_bp: 100,
            export_dir: None,
            sunset_days: 30,
        }
    }
}

/// Give up after this many simulated days.
const MAX_DAYS: u32 = 200;

/// Runs the scenario and returns its report. `progress` shows simulated time as it passes.
pub fn run(config: &ScenarioConfig, progress: &Progress) -> Result<Report, String> {
    let started = Instant::now();
    let mut world = World::new(config)?;
    let finished = tell(&mut world, progress)?;
    if !finished {
        world.log(format!("stopped after {MAX_DAYS} simulated days"));
    }
    export(&mut world);
    progress.finish();
    Ok(crate::summary::report(world, started.elapsed()))
}

/// The story, phase by phase. `Ok(false)`: the simulated time ran out before its end.
fn tell(w: &mut World, p: &Progress) -> Result<bool, String> {
    Ok(good_release(w, p)? && bad_release(w, p)? && fix_release(w, p)? && sunset(w, p)?)
}

/// Phase 1: 1.1.0 rolls out through every stage.
fn good_release(w: &mut World, p: &Progress) -> Result<bool, String> {
    w.publish(GOOD, FACTORY)?;
    w.doing = "rolling out 1.1.0";
    if !run_until(w, p, |w| completed(w, GOOD))? {
        return Ok(false);
    }
    w.log("1.1.0 completed");
    w.doing = "1.1.0 done";
    Ok(true)
}

/// Phase 2: a day later 1.2.0 starts; its first stage's evidence aborts it, and the devices
/// that took it go back to 1.1.0, re-signed under the rollback directive's fresh sequence number.
fn bad_release(w: &mut World, p: &Progress) -> Result<bool, String> {
    if !wait_hours(w, p, 24)? {
        return Ok(false);
    }
    w.publish(BAD, GOOD)?;
    w.doing = "rolling out 1.2.0";
    if !run_until(w, p, |w| completed(w, BAD) || aborted(w, BAD))? {
        return Ok(false);
    }
    w.doing = "1.2.0 aborted, fixing";
    if completed(w, BAD) {
        w.log("1.2.0 completed (it should not have)");
        return wait_hours(w, p, 0);
    }
    if let Some((id, sequence)) = w.backend.rollback_release() {
        w.catalog.reissue(id, sequence)?;
        w.backend.catalog.reissue(id, sequence)?;
        w.log(format!(
            "1.2.0 aborted; rollback directive: 1.1.0 re-signed with sequence {sequence}"
        ));
    }
    wait_hours(w, p, 48)
}

/// Phase 3: the fix, 1.2.1, rolls out fully.
fn fix_release(w: &mut World, p: &Progress) -> Result<bool, String> {
    w.publish(FIX, GOOD)?;
    w.doing = "rolling out 1.2.1";
    if !run_until(w, p, |w| completed(w, FIX) || aborted(w, FIX))? {
        return Ok(false);
    }
    if completed(w, FIX) {
        w.log("1.2.1 completed");
    } else {
        // The product still reaches its end of life; devices that took 1.2.1 go back to
        // 1.1.0 under the rollback directive, and the report says why.
        w.log("1.2.1 aborted by its gates; the sunset goes ahead on 1.1.0");
    }
    w.doing = "1.2.1 done";
    Ok(true)
}

/// Phase 4: a day later the sunset notice: security-only, then local-only, customers notified on
/// schedule; the story ends a day after the cloud service does.
fn sunset(w: &mut World, p: &Progress) -> Result<bool, String> {
    if !wait_hours(w, p, 24)? {
        return Ok(false);
    }
    let mut s = Sunset::issue(w.hour, w.config.seed, w.config.sunset_days.max(2))?;
    w.log(format!(
        "sunset notice issued: security only from {}, local only from {}",
        when(s.dates.security_only_from),
        when(s.dates.local_only_from)
    ));
    s.notify_due(w.hour, w.config.devices);
    let end = s.dates.local_only_from + 24;
    w.sunset = Some(s);
    w.doing = "sunset";
    run_until(w, p, |w| w.hour >= end)
}

/// Phase 5: after the sunset (or when time ran out during it): the users' data export bundle.
fn export(w: &mut World) {
    if w.sunset.is_none() {
        return;
    }
    let written = crate::export_dir::prepare(w.config.export_dir.as_deref(), w.config.seed)
        .and_then(|dir| write_export(&dir, &crate::summary::export_rows(&w.devices)));
    if let Ok(e) = &written {
        w.log(format!("export bundle written ({} files)", e.files.len()));
    }
    w.export = Some(written);
}

/// Simulates hour after hour until `done` holds after one (`Ok(true)`), or until the
/// simulated time runs out (`Ok(false)`). At least one hour passes.
fn run_until(w: &mut World, p: &Progress, done: impl Fn(&World) -> bool) -> Result<bool, String> {
    loop {
        if w.hour >= MAX_DAYS * 24 {
            return Ok(false);
        }
        w.advance()?;
        p.at(w.hour, w.doing);
        if done(w) {
            return Ok(true);
        }
    }
}

/// Simulates until `hours` have passed since the current hour (at least one).
fn wait_hours(w: &mut World, p: &Progress, hours: u32) -> Result<bool, String> {
    let until = w.hour + hours;
    run_until(w, p, |w| w.hour >= until)
}

fn completed(w: &World, id: ReleaseId) -> bool {
    w.backend.rollout(id).is_some_and(|r| r.completed())
}

fn aborted(w: &World, id: ReleaseId) -> bool {
    w.backend.rollout(id).is_some_and(|r| r.aborted())
}
