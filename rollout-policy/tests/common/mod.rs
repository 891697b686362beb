//! Fixtures shared by the integration tests: releases, a fleet-wide control, and the evidence
//! of an open stage.
#![allow(dead_code, clippy::unwrap_used)]

use rollout_policy::calendar::ReleaseRef;
use rollout_policy::cohort::RolloutKey;
use rollout_policy::evidence::{Counts, Evidence};
use rollout_policy::plan::Plan;
use rollout_policy::rollback::RollbackHistory;
use rollout_policy::state::RolloutState;
use rollout_policy::time::Timestamp;

/// The start of every test rollout.
pub(crate) const T0: Timestamp = Timestamp(1_800_000_000);

/// A release with security version 1.
pub(crate) fn rel(id: u32, sequence: u64) -> ReleaseRef {
    ReleaseRef {
        id,
        sequence,
        security_version: 1,
    }
}

/// A pending rollout of release 2 (sequence 41) replacing release 1 (sequence 40), salted
/// with `salt`.
pub(crate) fn start_with(plan: &Plan, salt: u8) -> RolloutState {
    RolloutState::start(
        plan,
        RolloutKey::new([salt; 16]),
        rel(2, 41),
        rel(1, 40),
        RollbackHistory::default(),
        T0,
    )
    .unwrap()
}

/// The previous release on 100,000 devices: 0.5% trial failures, 0.001 crashes per hour.
pub(crate) fn control() -> Counts {
    let mut c = Counts {
        offered: 100_000,
        started: 100_000,
        succeeded: 99_500,
        device_hours: 16_800_000,
        crashes: 16_800,
        ..Counts::default()
    };
    c.failed.boot_reverted = 500;
    c
}

/// Evidence for an open stage of `assigned` devices, all offered, `ok` + `fail` reported,
/// with `earlier` devices (all succeeded) from earlier stages, against [`control`].
pub(crate) fn evidence(assigned: u32, ok: u32, fail: u32, earlier: u32) -> Evidence {
    let mut stage = Counts {
        offered: assigned,
        started: assigned,
        succeeded: ok,
        ..Counts::default()
    };
    stage.failed.boot_reverted = fail;
    let mut rollout = stage;
    rollout.offered += earlier;
    rollout.started += earlier;
    rollout.succeeded += earlier;
    rollout.device_hours = u64::from(rollout.offered) * 24;
    rollout.crashes = (rollout.device_hours / 1_000) as u32;
    Evidence {
        eligible: 100_000,
        stage_assigned: assigned,
        stage,
        rollout,
        control: control(),
    }
}
