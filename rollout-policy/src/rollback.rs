//! Rollback directives and the anti-flap limit.
//!
//! Why: when a rollout aborts, the devices it updated must go back, and device anti-rollback
//! (a monotonic manifest sequence, see `ota-core`) refuses an older manifest. So the directive
//! names the previous release **re-issued with a fresh sequence number**, says which devices (those offered in this rollout: bucket below the open threshold,
//! plus the include list) and stops further offers. If the aborted release raised the security
//! version, devices that confirmed it will refuse the old image whatever its sequence: then the
//! directive says a fix-forward release is required instead.
//!
//! The fresh sequence comes from the caller's [`SequenceAllocator`], never from arithmetic on
//! the two releases' sequences: `max(from, to) + 1` is the sequence the *next* release would
//! naturally take too, so two manifests could share it and a device that accepted one would
//! refuse the other. A backend keeps one monotonic allocator for every manifest it signs
//! (releases and re-issues alike) and persists it in the same transaction as the abort.
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
    /// The sequence number to re-sign `to`'s manifest with, from the caller's allocator: above
    /// both releases' sequences (so anti-rollback accepts it) and never handed out before.
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

/// Hands out manifest sequence numbers: the backend's single, persisted, monotonic counter.
///
/// Implement it over the database row that also numbers releases, inside the transaction that
/// records the abort; [`MonotonicSequence`] is the in-memory version.
pub trait SequenceAllocator {
    /// Why no sequence could be allocated (e.g. the database refused).
    type Error: core::fmt::Debug + core::fmt::Display;

    /// A sequence number never handed out before and greater than `above`.
    fn allocate(&mut self, above: u64) -> Result<u64, Self::Error>;
}

/// An in-memory [`SequenceAllocator`]: the last sequence handed out (store it to persist it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonotonicSequence {
    /// The last sequence allocated (or signed by other means), 0 for none.
    pub last: u64,
}

/// The sequence space is used up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no manifest sequence is left above {above}; the 64-bit sequence space is exhausted")]
pub struct SequenceExhausted {
    /// The sequence a fresh one had to exceed.
    pub above: u64,
}

impl MonotonicSequence {
    /// Records that `sequence` was used elsewhere (e.g. a release was signed with it).
    pub fn observe(&mut self, sequence: u64) {
        self.last = self.last.max(sequence);
    }
}

impl SequenceAllocator for MonotonicSequence {
    type Error = SequenceExhausted;

    fn allocate(&mut self, above: u64) -> Result<u64, SequenceExhausted> {
        let next = self
            .last
            .max(above)
            .checked_add(1)
            .ok_or(SequenceExhausted { above })?;
        self.last = next;
        Ok(next)
    }
}

impl RollbackDirective {
    /// The directive for aborting `from` in favour of `to`, re-issuing `to` under `sequence`
    /// (allocated by the caller; see [`SequenceAllocator`]).
    pub fn new(
        from: ReleaseRef,
        to: ReleaseRef,
        key: RolloutKey,
        threshold_bp: u16,
        sequence: u64,
    ) -> Self {
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
            sequence,
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
    fn directive_carries_the_allocated_sequence() {
        let key = RolloutKey::new([0; 16]);
        let d = RollbackDirective::new(rel(41, 3), rel(40, 3), key, 10, 57);
        assert_eq!(d.sequence, 57);
        assert_eq!(d.action, RollbackAction::Reinstall);
        assert!(d.stop_offers);
        let d = RollbackDirective::new(rel(41, 4), rel(40, 3), key, 10, 58);
        assert_eq!(d.action, RollbackAction::FixForwardRequired { floor: 4 });
    }

    #[test]
    fn monotonic_allocator_never_repeats() {
        let mut a = MonotonicSequence::default();
        a.observe(41);
        assert_eq!(a.allocate(41), Ok(42));
        // The next release signed from the same allocator cannot take 42 again.
        assert_eq!(a.allocate(41), Ok(43));
        assert_eq!(a.allocate(100), Ok(101));
        a.observe(5);
        assert_eq!(a.last, 101);
        let mut full = MonotonicSequence { last: u64::MAX };
        assert_eq!(full.allocate(1), Err(SequenceExhausted { above: 1 }));
        assert_eq!(
            MonotonicSequence::default().allocate(u64::MAX),
            Err(SequenceExhausted { above: u64::MAX })
        );
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
