//! The device's persisted end-of-life state and its only two inputs: verified notices and time.
//!
//! [`DeviceEol`] is what firmware stores (postcard, under [`DeviceEol::MAX_ENCODED_LEN`] bytes).
//! It changes only through:
//! - [`DeviceEol::apply`]: a [`VerifiedNotice`] with a newer sequence (replays rejected) that
//!   does not shorten a published end of support or of cloud service, unless it is a
//!   [`NoticeKind::Shutdown`];
//! - [`DeviceEol::tick`]: the device's best known time passing a notice's dates;
//! - [`DeviceEol::release_to_owner`]: the owner installs an update key on or after the
//!   announced owner-release day.
//!
//! The best known time only grows: the largest of every `now` passed in and every accepted
//! notice's `issued_at`, so a reset clock cannot bring back a state. The lifecycle only grows
//! too ([`Lifecycle::advance_to`]).

use serde::{Deserialize, Serialize};

use crate::capability::{Capability, CapabilitySet, gate};
use crate::date::Day;
use crate::lifecycle::Lifecycle;
use crate::notice::{FirmwareVersion, NoticeKind, SunsetDates, VerifiedNotice};

/// Why a verified notice or owner key was not applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// Sequence not newer than the accepted one (a replay or an out-of-order delivery).
    #[error("notice sequence {sequence} is not newer than accepted {accepted}")]
    Replayed {
        /// The notice's sequence.
        sequence: u32,
        /// The last accepted sequence.
        accepted: u32,
    },
    /// A regular notice moved a published end date earlier.
    #[error(
        "notice moves the published {what} from day {published} to day {proposed}; only a shutdown notice may shorten it"
    )]
    ShortensPublished {
        /// Which date.
        what: &'static str,
        /// The published day.
        published: Day,
        /// The proposed earlier day.
        proposed: Day,
    },
    /// No notice offered an owner release.
    #[error("no accepted notice offers an owner release")]
    OwnerReleaseNotOffered,
    /// The owner-release day has not come yet.
    #[error("owner release opens on {opens}, the device's best known day is {today}")]
    OwnerReleaseNotYet {
        /// First day allowed.
        opens: Day,
        /// The device's best known day.
        today: Day,
    },
}

/// A device's end-of-life state, small and serde-encodable for flash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEol {
    lifecycle: Lifecycle,
    accepted_sequence: u32,
    best_known_time: u64,
    dates: Option<SunsetDates>,
    owner_release: Option<Day>,
    keeps_local: CapabilitySet,
    final_firmware: Option<FirmwareVersion>,
    owner_key: Option<[u8; 32]>,
}

impl Default for DeviceEol {
    fn default() -> Self {
        DeviceEol::new()
    }
}

impl DeviceEol {
    /// Upper bound of the postcard encoding (checked by a test against the worst case).
    pub const MAX_ENCODED_LEN: usize = 96;

    /// A device with no notice: `Supported`, every capability.
    pub const fn new() -> DeviceEol {
        DeviceEol {
            lifecycle: Lifecycle::Supported,
            accepted_sequence: 0,
            best_known_time: 0,
            dates: None,
            owner_release: None,
            keeps_local: CapabilitySet::LOCAL,
            final_firmware: None,
            owner_key: None,
        }
    }

    /// Applies a verified notice at device time `now` (unix seconds) and returns the new state.
    ///
    /// Rejects replays (sequence not above the accepted one) and regular notices that shorten
    /// the published end of security updates or of cloud service. Extensions are accepted but
    /// never bring back a state the device has left.
    pub fn apply(
        &mut self,
        notice: &VerifiedNotice,
        now: u64,
    ) -> Result<Lifecycle, LifecycleError> {
        let body = notice.body();
        if body.sequence <= self.accepted_sequence {
            return Err(LifecycleError::Replayed {
                sequence: body.sequence,
                accepted: self.accepted_sequence,
            });
        }
        if let (Some(old), NoticeKind::Update) = (self.dates, body.kind) {
            let new = body.dates;
            if new.end_of_security_updates < old.end_of_security_updates {
                return Err(LifecycleError::ShortensPublished {
                    what: "end of security updates",
                    published: old.end_of_security_updates,
                    proposed: new.end_of_security_updates,
                });
            }
            if new.end_of_cloud < old.end_of_cloud {
                return Err(LifecycleError::ShortensPublished {
                    what: "end of cloud service",
                    published: old.end_of_cloud,
                    proposed: new.end_of_cloud,
                });
            }
        }
        self.accepted_sequence = body.sequence;
        self.dates = Some(body.dates);
        self.owner_release = body.owner_release;
        self.keeps_local = body.keeps_local;
        self.final_firmware = body.final_firmware;
        self.best_known_time = self.best_known_time.max(body.issued_at);
        Ok(self.tick(now))
    }

    /// Advances the lifecycle by time alone and returns it. Call it on boot and periodically.
    pub fn tick(&mut self, now: u64) -> Lifecycle {
        self.best_known_time = self.best_known_time.max(now);
        let today = self.today();
        if let Some(d) = self.dates {
            let due = if today >= d.end_of_cloud {
                Lifecycle::LocalOnly
            } else if today >= d.security_only_from {
                Lifecycle::SecurityOnly
            } else {
                Lifecycle::Supported
            };
            self.lifecycle = self.lifecycle.advance_to(due);
        }
        self.lifecycle
    }

    /// Installs the owner's Ed25519 update key (32 bytes) and moves to `ReleasedToOwner`, on or
    /// after the owner-release day of the accepted notice. Also advances time first.
    pub fn release_to_owner(
        &mut self,
        owner_key: [u8; 32],
        now: u64,
    ) -> Result<Lifecycle, LifecycleError> {
        self.tick(now);
        let opens = self
            .owner_release
            .ok_or(LifecycleError::OwnerReleaseNotOffered)?;
        let today = self.today();
        if today < opens {
            return Err(LifecycleError::OwnerReleaseNotYet { opens, today });
        }
        self.owner_key = Some(owner_key);
        self.lifecycle = self.lifecycle.advance_to(Lifecycle::ReleasedToOwner);
        Ok(self.lifecycle)
    }

    /// The current state.
    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    /// What the device may offer now (see [`crate::capability`]).
    pub fn capabilities(&self) -> CapabilitySet {
        gate(self.lifecycle, self.keeps_local)
    }

    /// Whether the device may offer `cap` now.
    pub fn allows(&self, cap: Capability) -> bool {
        self.capabilities().contains(cap)
    }

    /// The last accepted notice sequence (0: none).
    pub fn accepted_sequence(&self) -> u32 {
        self.accepted_sequence
    }

    /// The best known time, unix seconds.
    pub fn best_known_time(&self) -> u64 {
        self.best_known_time
    }

    /// The best known day.
    pub fn today(&self) -> Day {
        Day::from_unix(self.best_known_time)
    }

    /// Dates of the accepted notice.
    pub fn dates(&self) -> Option<SunsetDates> {
        self.dates
    }

    /// The announced final firmware.
    pub fn final_firmware(&self) -> Option<FirmwareVersion> {
        self.final_firmware
    }

    /// The owner's update key once released.
    pub fn owner_key(&self) -> Option<&[u8; 32]> {
        self.owner_key.as_ref()
    }
}
