//! Releases, the routine release calendar and the hotfix lane.
//!
//! Why: maintenance releases go out on a predictable cadence (say monthly) so operators and
//! customers can plan; a security hotfix may skip the calendar, but never the first stage of
//! its plan. Each release carries its notes.

use heapless::String;
use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Capacity of release notes, bytes.
pub const NOTES_CAP: usize = 256;

/// The identity of a release as the devices' anti-rollback sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRef {
    /// Caller's release id.
    pub id: u32,
    /// The manifest sequence number the release was signed with.
    pub sequence: u64,
    /// The manifest security version (anti-rollback floor after confirm).
    pub security_version: u32,
}

/// A release with its notes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// Identity.
    pub reference: ReleaseRef,
    /// Short release notes shown to operators and users.
    pub notes: String<NOTES_CAP>,
}

/// Which lane a release travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lane {
    /// Waits for the next calendar slot.
    Routine,
    /// May start at once; uses the hotfix plan, which keeps the first stage.
    Hotfix,
}

/// A routine cadence: slots every `cadence_secs` from `anchor`, each open for `slot_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseCalendar {
    /// The first slot's start.
    pub anchor: Timestamp,
    /// Time between slot starts (e.g. 30 days); at least 1.
    pub cadence_secs: u64,
    /// How long a slot stays open for starting routine rollouts.
    pub slot_secs: u64,
}

/// When a release may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Admission {
    /// Start now.
    Now,
    /// Wait for the next slot.
    At(Timestamp),
}

impl ReleaseCalendar {
    /// The start of the first slot that is open at or begins after `now`.
    pub fn next_slot(&self, now: Timestamp) -> Timestamp {
        if now <= self.anchor {
            return self.anchor;
        }
        let cadence = self.cadence_secs.max(1);
        let since = now.since(self.anchor);
        let current = self.anchor.plus(since - since % cadence);
        if now.since(current) < self.slot_secs {
            current
        } else {
            current.plus(cadence)
        }
    }

    /// When a release in `lane` may start at `now`: hotfixes now, routine releases in a slot.
    pub fn admit(&self, lane: Lane, now: Timestamp) -> Admission {
        match lane {
            Lane::Hotfix => Admission::Now,
            Lane::Routine => {
                let slot = self.next_slot(now);
                if slot <= now {
                    Admission::Now
                } else {
                    Admission::At(slot)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::DAY;

    #[test]
    fn monthly_slots_and_hotfix_lane() {
        let cal = ReleaseCalendar {
            anchor: Timestamp(10 * DAY),
            cadence_secs: 30 * DAY,
            slot_secs: 2 * DAY,
        };
        assert_eq!(
            cal.admit(Lane::Routine, Timestamp(0)),
            Admission::At(Timestamp(10 * DAY))
        );
        assert_eq!(
            cal.admit(Lane::Routine, Timestamp(11 * DAY)),
            Admission::Now
        );
        assert_eq!(
            cal.admit(Lane::Routine, Timestamp(12 * DAY)),
            Admission::At(Timestamp(40 * DAY))
        );
        assert_eq!(
            cal.admit(Lane::Routine, Timestamp(41 * DAY)),
            Admission::Now
        );
        assert_eq!(cal.admit(Lane::Hotfix, Timestamp(12 * DAY)), Admission::Now);
        let degenerate = ReleaseCalendar {
            anchor: Timestamp(0),
            cadence_secs: 0,
            slot_secs: 0,
        };
        assert_eq!(degenerate.next_slot(Timestamp(5)), Timestamp(6));
    }

    #[test]
    fn release_carries_notes() {
        let mut notes = String::new();
        notes.push_str("Fixes BLE reconnect after sleep").unwrap();
        let r = Release {
            reference: ReleaseRef {
                id: 7,
                sequence: 70,
                security_version: 2,
            },
            notes,
        };
        assert!(r.notes.contains("BLE"));
    }
}
