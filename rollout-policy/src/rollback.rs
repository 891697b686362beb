//! Rollback directives and the anti-flap limit.
//!
//! Why: when a rollout aborts, the devices it updated must go back, and device anti-rollback
//! (a monotonic manifest sequence, see `ota-core`) refuses an older manifest. So the directive
//! names the previous release **re-issued with a fresh sequence number** above the aborted
//! one's, says which devices (those offered in this rollout: bucket below the open threshold,
//! plus the include list) and stops further offers. If the aborted release raised the security
//! version, devices that confirmed it will refuse the old image whatever its sequence: then the
//! directive says a fix-forward release is required instead.
//!
//! An endless rollout/rollback cycle hurts devices (flash wear, downtime): [`FlapLimit`] caps
//! rollbacks per release line within a time window, after which a new rollout needs an operator.

use serde::{Deserialize, Serialize};

use crate::calendar::ReleaseRef;
use crate::cohort::RolloutKey;
use crate::time::Timestamp;

/// Who goes where after an abort.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackDirective {
    /// The aborted release.
    pub from: ReleaseRef,
    /// The release devices go back to.
    pub to: ReleaseRef,
    /// The sequence number to re-sign `to`'s manifest with: above every sequence the devices
    /// in this rollout have accepted, so anti-rollback accepts it.
    pub sequence: u64,
    /// The rollout key: with `threshold_bp` and the include list it names the devices.
    pub key: RolloutKey,
    /// Devices with a bucket below this (and included devices) were offered `from`.
    pub threshold_bp: u16,
    /// Further offers of `from` stop now (always true; explicit for the reader of a record).
    pub stop_offers: bool,
    /// Reinstall `to`, or fix forward.
    pub action: RollbackAction,
}

/// What the directive asks of the devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RollbackAction {
    /// Install `to`, re-issued with the fresh sequence.
    Reinstall,
    /// `to` has a lower security version than `from`: devices that confirmed `from` raised
    /// their floor to `floor` and will refuse it. Ship a fixed release instead; devices that
    /// never confirmed `from` already run `to`.
    FixForwardRequired {
        /// The security version devices now require.
        floor: u32,
    },
}

impl RollbackDirective {
    /// The directive for aborting `from` in favour of `to`.
    pub fn new(from: ReleaseRef, to: ReleaseRef, key: RolloutKey, threshold_bp: u16) -> Self {
        let action = if to.security_version < from.security_version {
            RollbackAction::FixForwardRequired {
                floor: from.security_version,
            }
        } else {
            RollbackAction::Reinstall
        };
        Self {
            from,
            to,
            sequence: from.sequence.max(to.sequence).saturating_add(1),
            key,
            threshold_bp,
            stop_offers: true,
            action,
        }
    }
}

/// Most rollbacks a release line may take within a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlapLimit {
    /// Rollbacks allowed within the window; the next rollout needs an operator.
    pub max_rollbacks: u8,
    /// The window, seconds.
    pub window_secs: u64,
}

/// Rollbacks of a release line, carried from rollout to rollout in the caller's database.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackHistory {
    /// Rollbacks since `window_start`.
    pub count: u8,
    /// When the current counting window began.
    pub window_start: Timestamp,
}

impl RollbackHistory {
    /// Records a rollback at `now`.
    pub fn record(&mut self, now: Timestamp, limit: &FlapLimit) {
        if self.count == 0 || now.since(self.window_start) >= limit.window_secs {
            self.count = 1;
            self.window_start = now;
        } else {
            self.count = self.count.saturating_add(1);
        }
    }

    /// Rollbacks that still count at `now`.
    pub fn recent(&self, now: Timestamp, limit: &FlapLimit) -> u8 {
        if now.since(self.window_start) >= limit.window_secs {
            0
        } else {
            self.count
        }
    }

    /// Whether a new rollout may start at `now`.
    pub fn allows_start(&self, now: Timestamp, limit: &FlapLimit) -> bool {
        self.recent(now, limit) < limit.max_rollbacks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::DAY;

    fn rel(sequence: u64, security_version: u32) -> ReleaseRef {
        ReleaseRef {
            id: sequence as u32,
            sequence,
            security_version,
        }
    }

    #[test]
    fn directive_uses_fresh_sequence() {
        let d = RollbackDirective::new(rel(41, 3), rel(40, 3), RolloutKey::new([0; 16]), 10);
        assert_eq!(d.sequence, 42);
        assert_eq!(d.action, RollbackAction::Reinstall);
        assert!(d.stop_offers);
        let d = RollbackDirective::new(rel(41, 4), rel(40, 3), RolloutKey::new([0; 16]), 10);
        assert_eq!(d.action, RollbackAction::FixForwardRequired { floor: 4 });
        let d = RollbackDirective::new(rel(u64::MAX, 1), rel(1, 1), RolloutKey::new([0; 16]), 1);
        assert_eq!(d.sequence, u64::MAX);
    }

    #[test]
    fn flap_limit_counts_within_window() {
        let limit = FlapLimit {
            max_rollbacks: 2,
            window_secs: 7 * DAY,
        };
        let mut h = RollbackHistory::default();
        let t = Timestamp(1_000_000);
        assert!(h.allows_start(t, &limit));
        h.record(t, &limit);
        assert!(h.allows_start(t.plus(DAY), &limit));
        h.record(t.plus(DAY), &limit);
        assert!(!h.allows_start(t.plus(2 * DAY), &limit));
        assert_eq!(h.recent(t.plus(2 * DAY), &limit), 2);
        // The window passes: rollouts may start again.
        assert!(h.allows_start(t.plus(7 * DAY), &limit));
        h.record(t.plus(8 * DAY), &limit);
        assert_eq!(h.count, 1);
    }
}
