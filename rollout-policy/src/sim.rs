//! Monte-Carlo simulation of a plan against releases of known quality.
//!
//! Why: a gate's error rates are a claim; this module measures them. It rolls a release with a
//! known per-device failure probability out to a simulated fleet, hour by hour, with the plan's
//! stages, soak times and rate limit, and records for each policy whether and when it aborted,
//! whether it paused, and how many devices were offered the release (exposed).
//!
//! # Model
//!
//! - Fleet of `fleet` eligible devices; the stage schedule (sizes, soak, 95% reports) comes
//!   from the schedule plan, driven by the real [`crate::decide::decide`] with the gates
//!   removed, and its offers each hour are [`RolloutState::new_offers`] (the clock's rate
//!   limit and the evidence ramp on the outcomes so far), so every policy sees the same offers
//!   and the same outcomes.
//! - Each offered device has one trial outcome, failed with probability `failure`
//!   (Binomial draws per hourly batch); outcomes are reported one hour after the offer.
//! - Control: the previous release on the whole fleet, trial failures drawn with probability
//!   `control_failure`; crashes for candidate and control are Poisson at the same rate per
//!   device-hour (crash regressions are not simulated, but the crash gate's false aborts are).
//! - A policy that pauses is resumed by its operator at once (a pause is counted, not waited
//!   out); an abort stops that policy and fixes its exposure.
//! - [`Policy::RawThreshold`] is the peers' rule: abort when failed/completed reaches a ratio
//!   after a minimum number of completions, judged every hour on the same counts.
//!
//! Deterministic: the same seed gives the same figures on every platform.

extern crate std;

use std::vec::Vec;

use crate::calendar::ReleaseRef;
use crate::cohort::RolloutKey;
use crate::decide::{Action, decide_explained};
use crate::evidence::{Counts, Evidence};
use crate::plan::{GateSet, MAX_STAGES, Plan};
use crate::rollback::{MonotonicSequence, RollbackHistory};
use crate::state::{Phase, RolloutState};
use crate::time::{HOUR, Timestamp};

/// A small seeded PRNG (SplitMix64) with the draws the simulation needs.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1), never 0 or 1.
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// A Binomial(n, p) draw, exact (geometric gaps between successes; O(n p) work).
    pub fn binomial(&mut self, n: u64, p: f64) -> u64 {
        if p <= 0.0 || n == 0 {
            return 0;
        }
        if p >= 1.0 {
            return n;
        }
        if p > 0.5 {
            return n - self.binomial(n, 1.0 - p);
        }
        let log_q = libm::log1p(-p);
        let (mut count, mut pos) = (0u64, 0u64);
        loop {
            let gap = (libm::log(self.uniform()) / log_q).floor();
            if gap >= (n - pos) as f64 {
                return count;
            }
            pos += gap as u64 + 1;
            count += 1;
            if pos >= n {
                return count;
            }
        }
    }

    /// A Poisson(lambda) draw (multiplication for small means, Hörmann's PTRS otherwise).
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda < 30.0 {
            let limit = libm::exp(-lambda);
            let (mut k, mut prod) = (0u64, self.uniform());
            while prod > limit {
                k += 1;
                prod *= self.uniform();
            }
            return k;
        }
        let slam = libm::sqrt(lambda);
        let loglam = libm::log(lambda);
        let b = 0.931 + 2.53 * slam;
        let a = -0.059 + 0.024_83 * b;
        let invalpha = 1.123_9 + 1.132_8 / (b - 3.4);
        let vr = 0.927_7 - 3.622_4 / (b - 2.0);
        loop {
            let u = self.uniform() - 0.5;
            let v = self.uniform();
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
            if us >= 0.07 && v <= vr {
                return k as u64;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            if libm::log(v) + libm::log(invalpha) - libm::log(a / (us * us) + b)
                <= -lambda + k * loglam - libm::lgamma(k + 1.0)
            {
                return k as u64;
            }
        }
    }
}

/// The simulated world.
#[derive(Clone, Copy, Debug)]
pub struct SimConfig {
    /// Eligible devices.
    pub fleet: u32,
    /// Control release's per-device trial failure probability.
    pub control_failure: f64,
    /// Crashes per device-hour, candidate and control alike.
    pub crash_rate: f64,
    /// Control's device-hours (e.g. the fleet over a week).
    pub control_device_hours: u64,
    /// Rollouts per scenario.
    pub runs: u32,
    /// Seed.
    pub seed: u64,
}

/// A decision policy under test.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // A handful of policies per simulation; boxing buys nothing.
pub enum Policy {
    /// [`decide`](crate::decide::decide) with this plan's gates (the schedule comes from the schedule plan).
    Evidence(Plan),
    /// Abort when failed / completed >= `ratio` after at least `min_completed` completions.
    RawThreshold {
        /// Failure ratio that aborts.
        ratio: f64,
        /// Completions before the rule acts.
        min_completed: u64,
    },
}

/// Figures of one policy over all runs of a scenario.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PolicyStats {
    /// Runs.
    pub runs: u32,
    /// Runs aborted, by the stage open at the abort.
    pub aborted_in_stage: [u32; MAX_STAGES],
    /// Runs with at least one pause.
    pub paused: u32,
    /// Runs completed with no pause and no abort.
    pub completed_unpaused: u32,
    /// Sum over runs of devices offered the release.
    pub exposed_sum: u64,
    /// Sum over the completed runs (no abort) of the hours the rollout took.
    pub completed_hours_sum: u64,
    /// Runs completed without an abort (paused or not).
    pub completed: u32,
}

impl PolicyStats {
    /// Adds another batch of runs (e.g. another seed's) to these figures.
    pub fn merge(&mut self, other: &Self) {
        self.runs += other.runs;
        for (a, b) in self.aborted_in_stage.iter_mut().zip(other.aborted_in_stage) {
            *a += b;
        }
        self.paused += other.paused;
        self.completed_unpaused += other.completed_unpaused;
        self.exposed_sum += other.exposed_sum;
        self.completed_hours_sum += other.completed_hours_sum;
        self.completed += other.completed;
    }

    /// Share of runs aborted.
    pub fn abort_rate(&self) -> f64 {
        self.aborted_in_stage
            .iter()
            .map(|&n| u64::from(n))
            .sum::<u64>() as f64
            / self.n()
    }

    /// Share of runs aborted while one of the first `stages` stages was open.
    pub fn abort_rate_before(&self, stages: usize) -> f64 {
        self.aborted_in_stage
            .iter()
            .take(stages)
            .map(|&n| u64::from(n))
            .sum::<u64>() as f64
            / self.n()
    }

    /// Share of runs completed without pause or abort.
    pub fn unpaused_rate(&self) -> f64 {
        f64::from(self.completed_unpaused) / self.n()
    }

    /// Mean devices offered the release.
    pub fn mean_exposed(&self) -> f64 {
        self.exposed_sum as f64 / self.n()
    }

    /// Mean hours from the first offer to completion, over the runs that completed.
    pub fn mean_completion_hours(&self) -> f64 {
        self.completed_hours_sum as f64 / f64::from(self.completed.max(1))
    }

    fn n(&self) -> f64 {
        f64::from(self.runs.max(1))
    }
}

struct Track {
    stopped: bool,
    paused: bool,
}

/// Simulates `config.runs` rollouts of a release failing with probability `failure`, following
/// `schedule` (its gates are ignored), and returns one [`PolicyStats`] per policy.
pub fn simulate(
    config: &SimConfig,
    schedule: &Plan,
    failure: f64,
    policies: &[Policy],
) -> Vec<PolicyStats> {
    let mut stats = std::vec![PolicyStats::default(); policies.len()];
    let mut master_plan = schedule.clone();
    master_plan.gates.clear();
    for st in master_plan.stages.iter_mut() {
        st.gates = GateSet::NONE;
    }
    let mut sequences = MonotonicSequence::default();
    let fleet = u64::from(config.fleet);
    for run in 0..config.runs {
        let mut rng = Rng::new(config.seed ^ (u64::from(run) << 20) ^ failure.to_bits());
        let release = ReleaseRef {
            id: 2,
            sequence: 2,
            security_version: 1,
        };
        let previous = ReleaseRef {
            id: 1,
            sequence: 1,
            security_version: 1,
        };
        let t0 = Timestamp(1_800_000_000);
        let key = RolloutKey::new(run.to_le_bytes().repeat(4).try_into().unwrap_or([0; 16]));
        let Ok(mut master) = RolloutState::start(
            &master_plan,
            key,
            release,
            previous,
            RollbackHistory::default(),
            t0,
        ) else {
            continue;
        };
        let mut ev = Evidence {
            eligible: config.fleet,
            ..Evidence::default()
        };
        let control_fail = rng.binomial(fleet, config.control_failure);
        ev.control = Counts {
            offered: config.fleet,
            started: config.fleet,
            succeeded: (fleet - control_fail) as u32,
            device_hours: config.control_device_hours,
            crashes: rng.poisson(config.crash_rate * config.control_device_hours as f64) as u32,
            ..Counts::default()
        };
        ev.control.failed.boot_reverted = control_fail as u32;
        let mut tracks: Vec<Track> = policies
            .iter()
            .map(|_| Track {
                stopped: false,
                paused: false,
            })
            .collect();
        let mut now = t0;
        let mut prev_target = 0u32;
        let mut pending = (0u64, 0u64); // (offered last hour, of which fail)
        let mut completed = false;
        let mut hours = 0u64;
        // Bounded: a rollout of the default plan takes about 100 hours.
        for hour in 0..10_000u32 {
            hours = u64::from(hour);
            // Last hour's offers report; the devices running the release add device-hours.
            let (n, f) = pending;
            for c in [&mut ev.stage, &mut ev.rollout] {
                c.succeeded += (n - f) as u32;
                c.failed.boot_reverted += f as u32;
            }
            let running = u64::from(ev.rollout.offered);
            ev.rollout.device_hours += running;
            ev.rollout.crashes += rng.poisson(config.crash_rate * running as f64) as u32;
            // Master decision on the evidence reported so far.
            let d = decide_explained(&master_plan, &master, &ev, now, false);
            let stage = match master.phase {
                Phase::Running { stage, .. } | Phase::Paused { stage, .. } => stage,
                _ => 0,
            };
            // Policies judge the same evidence.
            for ((p, tr), st) in policies.iter().zip(tracks.iter_mut()).zip(stats.iter_mut()) {
                if tr.stopped || matches!(master.phase, Phase::Pending) {
                    continue;
                }
                let abort = match p {
                    Policy::Evidence(plan) => {
                        let pd = decide_explained(plan, &master, &ev, now, false);
                        match pd.action {
                            Action::Abort { .. } => true,
                            Action::Pause { .. } => {
                                tr.paused = true;
                                false
                            }
                            _ => false,
                        }
                    }
                    Policy::RawThreshold {
                        ratio,
                        min_completed,
                    } => {
                        let done = ev.rollout.completed();
                        done >= *min_completed
                            && ev.rollout.failed.total() as f64 >= ratio * done as f64
                    }
                };
                if abort {
                    tr.stopped = true;
                    if let Some(slot) = st.aborted_in_stage.get_mut(usize::from(stage)) {
                        *slot += 1;
                    }
                    st.exposed_sum += u64::from(ev.rollout.offered);
                }
            }
            if tracks.iter().all(|t| t.stopped) {
                break;
            }
            match d.action {
                Action::Advance {
                    stage,
                    target_devices,
                    ..
                } => {
                    if master.apply(&master_plan, &d, now, &mut sequences).is_err() {
                        break;
                    }
                    let prev = if stage == 0 { 0 } else { prev_target };
                    ev.stage_assigned = target_devices.saturating_sub(prev);
                    prev_target = target_devices;
                    ev.stage = Counts::default();
                }
                Action::Complete => {
                    completed = true;
                    break;
                }
                _ => {}
            }
            // New offers go out; they report in an hour.
            let new = u64::from(master.new_offers(&master_plan, &ev, now.plus(HOUR)));
            let fails = rng.binomial(new, failure);
            for c in [&mut ev.stage, &mut ev.rollout] {
                c.offered += new as u32;
                c.started += new as u32;
            }
            pending = (new, fails);
            now = now.plus(HOUR);
        }
        for (tr, st) in tracks.iter().zip(stats.iter_mut()) {
            st.runs += 1;
            if tr.paused {
                st.paused += 1;
            }
            if !tr.stopped {
                st.exposed_sum += u64::from(ev.rollout.offered);
                if completed {
                    st.completed += 1;
                    st.completed_hours_sum += hours;
                    if !tr.paused {
                        st.completed_unpaused += 1;
                    }
                }
            }
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_and_poisson_means() {
        let mut r = Rng::new(1);
        let n = 20_000;
        let mean = (0..n).map(|_| r.binomial(1_000, 0.015)).sum::<u64>() as f64 / n as f64;
        assert!((mean - 15.0).abs() < 0.15, "{mean}");
        let mean = (0..n).map(|_| r.binomial(100, 0.9)).sum::<u64>() as f64 / n as f64;
        assert!((mean - 90.0).abs() < 0.1, "{mean}");
        let mean = (0..n).map(|_| r.poisson(7.0)).sum::<u64>() as f64 / n as f64;
        assert!((mean - 7.0).abs() < 0.1, "{mean}");
        let mean = (0..n).map(|_| r.poisson(400.0)).sum::<u64>() as f64 / n as f64;
        assert!((mean - 400.0).abs() < 1.0, "{mean}");
        // The variance of a Binomial(1000, 0.015) is 14.775.
        let xs: Vec<f64> = (0..n).map(|_| r.binomial(1_000, 0.015) as f64).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
        assert!((var - 14.775).abs() < 0.6, "{var}");
    }
}
