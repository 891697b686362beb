//! The persistent update state and its transitions.
//!
//! Every change of the update state is one transition of [`State`], and every transition is
//! persisted as one journal record ([`crate::journal`]). The transitions are pure functions here
//! so that the rules live in one place, apart from flash I/O:
//!
//! ```text
//!        begin(manifest)         slot erased            finish() digest ok           activate()
//!   Idle ─────────────▶ Erasing ─────────────▶ Downloading ─────────────────▶ Downloaded ─────────▶ Activated{n}
//!    ▲                  erased(n)             │  checkpoint(offset)                                  │ decide(): boot trial,
//!    │                                        │  finish() digest bad ─▶ Idle                         ▼ n-1 attempts left
//!    │                        ▼                                                     Trial{n-1} ──decide()──▶ Trial{n-2} …
//!    │◀────────── confirm(): confirmed slot := trial, floor raised ◀────────────────────┤
//!    │◀────────── reject(), or decide() with no attempts left or a bad trial digest ◀────┘
//! ```
//!
//! `begin` with the manifest already in progress resumes it instead of starting over.

use crate::digest::Sha256Digest;
use crate::layout::Slot;
use crate::manifest::{ImageInfo, Version};
use serde::{Deserialize, Serialize};

/// Where the update cycle stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// No update in progress; the confirmed slot boots.
    Idle,
    /// The update slot is being erased; every sector before `erased` was erased before this
    /// checkpoint.
    Erasing {
        /// Bytes of the slot erased so far (whole sectors).
        erased: u32,
    },
    /// The pending image is being written to the inactive slot; every byte before `offset` was
    /// written before this checkpoint (and is still checked by reading back at finish).
    Downloading {
        /// Checkpointed progress: the download resumes here.
        offset: u32,
    },
    /// The pending image was read back and its digest matched; its footer is written.
    Downloaded,
    /// The pending image is marked for trial boots but has not booted yet.
    Activated {
        /// Boots it gets.
        attempts: u8,
    },
    /// The bootloader booted the trial image at least once.
    Trial {
        /// Boots left before the bootloader reverts.
        attempts_left: u8,
    },
}

/// The image being installed (from the verified manifest given to `begin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Manifest sequence.
    pub sequence: u64,
    /// Display version.
    pub version: Version,
    /// Anti-rollback counter; confirming raises the floor to it.
    pub security_version: u32,
    /// Plaintext image size.
    pub image_size: u32,
    /// SHA-256 of the plaintext image.
    pub image_digest: Sha256Digest,
}

impl Pending {
    /// The pending-image facts of a verified manifest's image.
    pub const fn from_info(info: &ImageInfo) -> Self {
        Self {
            sequence: info.sequence,
            version: info.version,
            security_version: info.security_version,
            image_size: info.image_size,
            image_digest: info.image_digest,
        }
    }
}

/// The last notable thing that happened, kept so the application can report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// Nothing yet.
    None,
    /// The trial image was confirmed.
    Confirmed,
    /// The application rejected the trial image.
    Rejected,
    /// The trial image used up its boot attempts without being confirmed.
    AttemptsExhausted,
    /// The trial image did not match its recorded digest at boot.
    TrialDigestMismatch,
    /// The downloaded image read back from flash did not match the manifest digest.
    DownloadDigestMismatch,
    /// The confirmed slot failed verification and the other slot was booted instead.
    ConfirmedSlotCorrupt,
    /// The journal held no valid record; the state was rebuilt from the slot footers.
    StateRebuilt,
}

impl Event {
    pub(crate) const fn to_byte(self) -> u8 {
        match self {
            Event::None => 0,
            Event::Confirmed => 1,
            Event::Rejected => 2,
            Event::AttemptsExhausted => 3,
            Event::TrialDigestMismatch => 4,
            Event::DownloadDigestMismatch => 5,
            Event::ConfirmedSlotCorrupt => 6,
            Event::StateRebuilt => 7,
        }
    }

    pub(crate) const fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => Event::None,
            1 => Event::Confirmed,
            2 => Event::Rejected,
            3 => Event::AttemptsExhausted,
            4 => Event::TrialDigestMismatch,
            5 => Event::DownloadDigestMismatch,
            6 => Event::ConfirmedSlotCorrupt,
            7 => Event::StateRebuilt,
            _ => return None,
        })
    }
}

/// The whole persistent state of the update state machine (one journal record's content).
///
/// Read-only outside the crate: the fields are read through accessors, and a new state comes
/// only from [`State::initial`] and the transitions below (the rules of the state machine), so
/// no caller can lower the floor or the accepted sequence by assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Where the update cycle stands.
    pub(crate) phase: Phase,
    /// The slot holding the last confirmed (known-good) image.
    pub(crate) confirmed: Slot,
    /// Display version of the confirmed image.
    pub(crate) confirmed_version: Version,
    /// The image being installed into the other slot, if any.
    pub(crate) pending: Option<Pending>,
    /// The highest manifest sequence of a finished update cycle (confirmed, rejected, reverted
    /// or failed): replay protection, never decreases. A pending update's sequence is above it
    /// and joins it when the cycle ends, so the verifier can check a resumed download's manifest
    /// against this value again. Give it to the verifier as the last accepted sequence.
    pub(crate) accepted_sequence: u64,
    /// Anti-rollback floor: the lowest security version the device accepts. Never decreases.
    pub(crate) security_floor: u32,
    /// The last notable event.
    pub(crate) last_event: Event,
}

/// A transition that the current phase does not allow, or a manifest `begin` refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransitionError {
    /// The operation is not valid in this phase.
    #[error("cannot {op} while the update phase is {phase:?}")]
    WrongPhase {
        /// What was attempted.
        op: &'static str,
        /// The phase it was attempted in.
        phase: Phase,
    },
    /// The manifest sequence is not newer than the last accepted one.
    #[error("manifest sequence {got} is not newer than accepted {accepted}")]
    SequenceNotNewer {
        /// The manifest's sequence.
        got: u64,
        /// The last accepted sequence.
        accepted: u64,
    },
    /// The image's security version is below the anti-rollback floor.
    #[error("image security version {got} is below the device floor {floor}")]
    SecurityVersionTooOld {
        /// The image's security version.
        got: u32,
        /// The device floor.
        floor: u32,
    },
    /// Zero trial attempts would revert without ever booting the image.
    #[error("trial attempts must be at least 1")]
    NoAttempts,
}

impl State {
    /// Where the update cycle stands.
    pub const fn phase(&self) -> Phase {
        self.phase
    }

    /// The slot holding the last confirmed (known-good) image.
    pub const fn confirmed(&self) -> Slot {
        self.confirmed
    }

    /// Display version of the confirmed image.
    pub const fn confirmed_version(&self) -> Version {
        self.confirmed_version
    }

    /// The image being installed into the other slot, if any.
    pub const fn pending(&self) -> Option<Pending> {
        self.pending
    }

    /// The highest manifest sequence of a finished update cycle (confirmed, rejected, reverted
    /// or failed): replay protection, never decreases. Give it to the verifier as the last
    /// accepted sequence ([`DeviceContext::last_sequence`](crate::verify::DeviceContext::last_sequence)).
    pub const fn accepted_sequence(&self) -> u64 {
        self.accepted_sequence
    }

    /// Anti-rollback floor: the lowest security version the device accepts. Never decreases.
    pub const fn security_floor(&self) -> u32 {
        self.security_floor
    }

    /// The last notable event.
    pub const fn last_event(&self) -> Event {
        self.last_event
    }

    /// The state of a device whose confirmed image is `info`, in `slot`.
    pub const fn initial(
        slot: Slot,
        version: Version,
        sequence: u64,
        security_version: u32,
    ) -> Self {
        Self {
            phase: Phase::Idle,
            confirmed: slot,
            confirmed_version: version,
            pending: None,
            accepted_sequence: sequence,
            security_floor: security_version,
            last_event: Event::None,
        }
    }

    /// The slot the pending image goes to (the one that is not confirmed).
    pub const fn update_slot(&self) -> Slot {
        self.confirmed.other()
    }

    /// Is `pending` the update already in progress (so `begin` resumes it)?
    pub fn is_resumable(&self, pending: &Pending) -> bool {
        matches!(
            self.phase,
            Phase::Erasing { .. } | Phase::Downloading { .. } | Phase::Downloaded
        ) && self.pending.as_ref() == Some(pending)
    }

    /// Starts installing `pending` (the caller resumes instead when [`Self::is_resumable`]).
    pub fn begin(&self, pending: Pending) -> Result<Self, TransitionError> {
        if matches!(self.phase, Phase::Activated { .. } | Phase::Trial { .. }) {
            return Err(TransitionError::WrongPhase {
                op: "begin an update",
                phase: self.phase,
            });
        }
        // A pending update is only replaced by a newer one, never by an older one.
        let floor = match &self.pending {
            Some(p) => p.sequence.max(self.accepted_sequence),
            None => self.accepted_sequence,
        };
        if pending.sequence <= floor {
            return Err(TransitionError::SequenceNotNewer {
                got: pending.sequence,
                accepted: floor,
            });
        }
        if pending.security_version < self.security_floor {
            return Err(TransitionError::SecurityVersionTooOld {
                got: pending.security_version,
                floor: self.security_floor,
            });
        }
        Ok(Self {
            phase: Phase::Erasing { erased: 0 },
            pending: Some(pending),
            last_event: Event::None,
            ..*self
        })
    }

    /// Records erase progress, or (with `done`) the end of the erase: the download starts.
    pub fn erased(&self, erased: u32, done: bool) -> Result<Self, TransitionError> {
        match self.phase {
            Phase::Erasing { .. } => Ok(Self {
                phase: if done {
                    Phase::Downloading { offset: 0 }
                } else {
                    Phase::Erasing { erased }
                },
                ..*self
            }),
            phase => Err(TransitionError::WrongPhase {
                op: "record erase progress",
                phase,
            }),
        }
    }

    /// Records download progress.
    pub fn checkpoint(&self, offset: u32) -> Result<Self, TransitionError> {
        match self.phase {
            Phase::Downloading { .. } => Ok(Self {
                phase: Phase::Downloading { offset },
                ..*self
            }),
            phase => Err(TransitionError::WrongPhase {
                op: "record download progress",
                phase,
            }),
        }
    }

    /// The read-back digest matched.
    pub fn downloaded(&self) -> Result<Self, TransitionError> {
        match self.phase {
            Phase::Downloading { .. } => Ok(Self {
                phase: Phase::Downloaded,
                ..*self
            }),
            phase => Err(TransitionError::WrongPhase {
                op: "finish a download",
                phase,
            }),
        }
    }

    /// Marks the downloaded image for `attempts` trial boots.
    pub fn activate(&self, attempts: u8) -> Result<Self, TransitionError> {
        if attempts == 0 {
            return Err(TransitionError::NoAttempts);
        }
        match self.phase {
            Phase::Downloaded => Ok(Self {
                phase: Phase::Activated { attempts },
                ..*self
            }),
            phase => Err(TransitionError::WrongPhase {
                op: "activate",
                phase,
            }),
        }
    }

    /// The bootloader boots the trial image once more (`None` when no attempt is left).
    pub fn boot_trial(&self) -> Option<Self> {
        let left = match self.phase {
            Phase::Activated { attempts } => attempts,
            Phase::Trial { attempts_left } => attempts_left,
            _ => return None,
        };
        let attempts_left = left.checked_sub(1)?;
        Some(Self {
            phase: Phase::Trial { attempts_left },
            ..*self
        })
    }

    /// The trial image passed its self-test: it becomes the confirmed image.
    pub fn confirm(&self) -> Result<Self, TransitionError> {
        match (self.phase, self.pending) {
            (Phase::Trial { .. }, Some(p)) => Ok(Self {
                phase: Phase::Idle,
                confirmed: self.confirmed.other(),
                confirmed_version: p.version,
                pending: None,
                accepted_sequence: self.accepted_sequence.max(p.sequence),
                security_floor: self.security_floor.max(p.security_version),
                last_event: Event::Confirmed,
            }),
            (phase, _) => Err(TransitionError::WrongPhase {
                op: "confirm",
                phase,
            }),
        }
    }

    /// Gives up the pending image; the confirmed slot keeps booting. `why` is recorded, and
    /// the pending sequence counts as accepted (the same manifest is not installed again).
    pub fn revert(&self, why: Event) -> Self {
        let seen = self.pending.map_or(0, |p| p.sequence);
        Self {
            phase: Phase::Idle,
            pending: None,
            accepted_sequence: self.accepted_sequence.max(seen),
            last_event: why,
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(seq: u64, sv: u32) -> Pending {
        Pending {
            sequence: seq,
            version: Version::new(2, 0, 0),
            security_version: sv,
            image_size: 100,
            image_digest: [7; 32],
        }
    }

    #[test]
    fn a_full_cycle_raises_sequence_and_floor() {
        let s = State::initial(Slot::A, Version::new(1, 0, 0), 1, 1);
        let s = s.begin(pending(2, 3)).unwrap();
        assert_eq!(s.accepted_sequence, 1, "joins at the end of the cycle");
        assert_eq!(
            s.begin(pending(2, 3)),
            Err(TransitionError::SequenceNotNewer {
                got: 2,
                accepted: 2
            }),
            "a pending update is resumed, not begun twice"
        );
        assert_eq!(s.phase, Phase::Erasing { erased: 0 });
        assert!(
            s.checkpoint(64).is_err(),
            "no download before the erase is done"
        );
        let s = s.erased(4096, false).unwrap().erased(8192, true).unwrap();
        assert_eq!(s.phase, Phase::Downloading { offset: 0 });
        let s = s
            .checkpoint(64)
            .unwrap()
            .downloaded()
            .unwrap()
            .activate(2)
            .unwrap();
        let s = s.boot_trial().unwrap();
        assert_eq!(s.phase, Phase::Trial { attempts_left: 1 });
        let s = s.confirm().unwrap();
        assert_eq!(
            (s.confirmed, s.security_floor, s.phase),
            (Slot::B, 3, Phase::Idle)
        );
        assert_eq!(s.confirmed_version, Version::new(2, 0, 0));
        assert_eq!(s.accepted_sequence, 2);
    }

    #[test]
    fn stale_or_rolled_back_manifests_are_refused() {
        let s = State::initial(Slot::A, Version::new(1, 0, 0), 5, 4);
        assert_eq!(
            s.begin(pending(5, 4)),
            Err(TransitionError::SequenceNotNewer {
                got: 5,
                accepted: 5
            })
        );
        assert_eq!(
            s.begin(pending(6, 3)),
            Err(TransitionError::SecurityVersionTooOld { got: 3, floor: 4 })
        );
        assert_eq!(
            std::format!("{}", s.begin(pending(5, 4)).unwrap_err()),
            "manifest sequence 5 is not newer than accepted 5"
        );
    }

    #[test]
    fn attempts_run_out_and_confirm_needs_a_booted_trial() {
        let s = State::initial(Slot::A, Version::new(1, 0, 0), 1, 1);
        let s = s.begin(pending(2, 1)).unwrap().erased(0, true).unwrap();
        let s = s.downloaded().unwrap();
        assert!(s.activate(0).is_err());
        let s = s.activate(1).unwrap();
        assert!(s.confirm().is_err(), "never booted: cannot confirm");
        let s = s.boot_trial().unwrap();
        assert_eq!(s.boot_trial(), None);
        let r = s.revert(Event::AttemptsExhausted);
        assert_eq!(
            (r.confirmed, r.pending, r.accepted_sequence),
            (Slot::A, None, 2)
        );
    }
}
