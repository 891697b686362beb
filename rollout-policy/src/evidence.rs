//! Evidence: what devices reported, counted per device, for the candidate and for control.
//!
//! Why: peers count attempts (so failures can exceed targets) and count "written to disk" as
//! success (so an A/B fallback stays invisible). Here every count is **per device** (a device
//! that retried three times and then succeeded is one success), success means **confirmed
//! healthy** (booted the new image, confirmed it, and stayed alive for the device soak), and
//! a device silent past the report timeout is counted as a failure (`silent`). Denominators are
//! explicit: `assigned` devices in the open stage, `offered`, and `completed` (a final outcome).

use serde::{Deserialize, Serialize};

/// Failures by kind, per device (a device counts once, under its final failure).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failures {
    /// Download failed for good (network, CDN): the image never ran.
    pub download: u32,
    /// Signature, digest or policy verification failed: the image never ran.
    pub verify: u32,
    /// Writing or activating the slot failed: the image never ran.
    pub install: u32,
    /// Trial boot failed and the bootloader reverted to the previous image (device-side revert).
    pub boot_reverted: u32,
    /// Confirmed, then failed its health checks during the device soak.
    pub health_regression: u32,
    /// No final report within the report timeout.
    pub silent: u32,
}

impl Failures {
    /// All failures.
    pub const fn total(&self) -> u64 {
        self.download as u64
            + self.verify as u64
            + self.install as u64
            + self.boot_reverted as u64
            + self.health_regression as u64
            + self.silent as u64
    }

    /// Failures of the release itself: reverted boots, health regressions and silent devices.
    /// Download, verify and install failures say little about the image and are excluded.
    pub const fn trial(&self) -> u64 {
        self.boot_reverted as u64 + self.health_regression as u64 + self.silent as u64
    }
}

/// Per-device counts for one release over some set of devices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Devices offered the release.
    pub offered: u32,
    /// Devices that started downloading.
    pub started: u32,
    /// Devices confirmed healthy through the device soak.
    pub succeeded: u32,
    /// Devices that failed, by kind.
    pub failed: Failures,
    /// Device-hours run on the release (for the crash rate).
    pub device_hours: u64,
    /// Crashes and faults observed over those device-hours.
    pub crashes: u32,
    /// Devices bricked or boot-looping (also counted under a failure kind; tripwire only).
    pub bricked: u32,
}

impl Counts {
    /// Devices with a final outcome.
    pub const fn completed(&self) -> u64 {
        self.succeeded as u64 + self.failed.total()
    }

    /// Devices whose trial of the image reached a verdict: successes plus trial failures.
    pub const fn trials(&self) -> u64 {
        self.succeeded as u64 + self.failed.trial()
    }
}

/// Everything `decide` looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Devices eligible for the rollout (after targeting).
    pub eligible: u32,
    /// Devices assigned to the open stage and not to an earlier one: the stage's denominator.
    pub stage_assigned: u32,
    /// Counts for the devices of the open stage only.
    pub stage: Counts,
    /// Counts for every device of the rollout so far (all stages, including the open one).
    pub rollout: Counts,
    /// The same counts for the previous release (the control), over a comparable period.
    pub control: Counts,
}

/// Evidence that cannot be right: counts per attempt instead of per device, or mixed-up sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum Inconsistency {
    /// More final outcomes than offers.
    #[error(
        "{completed} devices completed but only {offered} were offered; counts must be per device"
    )]
    CompletedExceedsOffered {
        /// Devices with a final outcome.
        completed: u64,
        /// Devices offered.
        offered: u32,
    },
    /// More devices started than offered.
    #[error("{started} devices started but only {offered} were offered; counts must be per device")]
    StartedExceedsOffered {
        /// Devices started.
        started: u32,
        /// Devices offered.
        offered: u32,
    },
    /// More offers in the stage than devices assigned to it.
    #[error("{offered} devices offered in the stage but only {assigned} assigned to it")]
    OfferedExceedsAssigned {
        /// Devices offered in the stage.
        offered: u32,
        /// Devices assigned to the stage.
        assigned: u32,
    },
    /// The stage's counts exceed the rollout's.
    #[error("the open stage counts {stage} offers but the whole rollout only {rollout}")]
    StageExceedsRollout {
        /// Stage offers.
        stage: u32,
        /// Rollout offers.
        rollout: u32,
    },
    /// More bricked devices than failed devices.
    #[error("{bricked} devices bricked but only {failed} failed")]
    BrickedExceedsFailed {
        /// Bricked devices.
        bricked: u32,
        /// Failed devices.
        failed: u64,
    },
}

fn check_counts(c: &Counts) -> Result<(), Inconsistency> {
    if c.completed() > u64::from(c.offered) {
        return Err(Inconsistency::CompletedExceedsOffered {
            completed: c.completed(),
            offered: c.offered,
        });
    }
    if c.started > c.offered {
        return Err(Inconsistency::StartedExceedsOffered {
            started: c.started,
            offered: c.offered,
        });
    }
    if u64::from(c.bricked) > c.failed.total() {
        return Err(Inconsistency::BrickedExceedsFailed {
            bricked: c.bricked,
            failed: c.failed.total(),
        });
    }
    Ok(())
}

impl Evidence {
    /// Checks that the counts can be per-device counts of nested sets.
    pub fn check(&self) -> Result<(), Inconsistency> {
        check_counts(&self.stage)?;
        check_counts(&self.rollout)?;
        check_counts(&self.control)?;
        if self.stage.offered > self.stage_assigned {
            return Err(Inconsistency::OfferedExceedsAssigned {
                offered: self.stage.offered,
                assigned: self.stage_assigned,
            });
        }
        if self.stage.offered > self.rollout.offered {
            return Err(Inconsistency::StageExceedsRollout {
                stage: self.stage.offered,
                rollout: self.rollout.offered,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_device_checks() {
        let mut e = Evidence::default();
        e.check().unwrap();
        e.stage.offered = 3;
        assert_eq!(
            e.check(),
            Err(Inconsistency::OfferedExceedsAssigned {
                offered: 3,
                assigned: 0
            })
        );
        e.stage_assigned = 3;
        assert_eq!(
            e.check(),
            Err(Inconsistency::StageExceedsRollout {
                stage: 3,
                rollout: 0
            })
        );
        e.rollout.offered = 3;
        e.rollout.succeeded = 2;
        e.rollout.failed.download = 2;
        assert_eq!(
            e.check(),
            Err(Inconsistency::CompletedExceedsOffered {
                completed: 4,
                offered: 3
            })
        );
        e.rollout.failed.download = 1;
        e.rollout.bricked = 2;
        assert!(matches!(
            e.check(),
            Err(Inconsistency::BrickedExceedsFailed { .. })
        ));
        e.rollout.bricked = 0;
        e.check().unwrap();
        assert_eq!(e.rollout.trials(), 2);
        assert_eq!(e.rollout.completed(), 3);
    }
}
