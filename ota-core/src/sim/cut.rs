//! What the power-cut proofs ([`super::proof`], [`super::swap_proof`] and
//! [`super::report_proof`]) share: the cut-point loop over every operation index and tear
//! variant, a failed run's kind, the application's step result, and the watch on the state
//! that must never go backwards.

use super::{SimError, Tear};
use crate::state::State;
use crate::update_error::UpdateError;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Why one run failed.
#[derive(Debug)]
pub(super) enum Failure {
    /// Nothing bootable, or the booted slot held something other than the old or the new image.
    Bricked(String),
    /// Every boot ran a verified image, but a check did not hold.
    Wrong(String),
}

impl Failure {
    /// The description alone.
    pub(super) fn text(&self) -> &str {
        match self {
            Failure::Bricked(m) | Failure::Wrong(m) => m,
        }
    }
}

/// What the device does after one application boot.
pub(super) enum Step {
    /// Reboots into the bootloader.
    Reboot,
    /// The update cycle is over.
    Done,
}

/// Is this the simulated power loss?
pub(super) fn is_power_loss(e: &UpdateError<SimError>) -> bool {
    matches!(e, UpdateError::Flash(SimError::PowerLoss))
}

/// Accepted sequence, security floor and journal record number seen so far: they must never
/// decrease.
#[derive(Clone, Copy, Default)]
pub(super) struct Seen {
    accepted: u64,
    floor: u32,
    record: u32,
}

impl Seen {
    /// `record` is the journal's newest record number: a completed record never disappears.
    pub(super) fn observe(&mut self, s: &State, record: u32) -> Result<(), Failure> {
        if s.accepted_sequence < self.accepted
            || s.security_floor < self.floor
            || record < self.record
        {
            return Err(Failure::Wrong(format!(
                "state went backwards: accepted {} floor {} record {} after {} {} {}",
                s.accepted_sequence,
                s.security_floor,
                record,
                self.accepted,
                self.floor,
                self.record
            )));
        }
        *self = Seen {
            accepted: s.accepted_sequence,
            floor: s.security_floor,
            record,
        };
        Ok(())
    }
}

/// The tally of [`every_cut`].
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Cuts {
    /// Cut points tried (operation indices × tear variants).
    pub(super) cut_points: u64,
    /// Runs where every check held.
    pub(super) recovered: u64,
    /// Runs that failed with [`Failure::Bricked`].
    pub(super) bricked: u64,
}

/// The cut-point loop: `run(k, tear)` once for every operation index `k` below `ops` and every
/// tear in `tears` (a fresh device cut inside its operation `k`, run to the end and checked);
/// the first failures, eight in all, are pushed to `failures` as `show(k, tear, failure)`.
pub(super) fn every_cut(
    ops: u64,
    tears: &[Tear],
    failures: &mut Vec<String>,
    mut run: impl FnMut(u64, Tear) -> Result<(), Failure>,
    show: impl Fn(u64, Tear, &Failure) -> String,
) -> Cuts {
    let mut cuts = Cuts::default();
    for k in 0..ops {
        for &tear in tears {
            cuts.cut_points += 1;
            match run(k, tear) {
                Ok(()) => cuts.recovered += 1,
                Err(e) => {
                    if matches!(e, Failure::Bricked(_)) {
                        cuts.bricked += 1;
                    }
                    if failures.len() < 8 {
                        failures.push(show(k, tear, &e));
                    }
                }
            }
        }
    }
    cuts
}
