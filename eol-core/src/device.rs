//! The device's persisted end-of-life state and its only two inputs: verified notices and time.
//!
//! [`DeviceEol`] is what firmware stores (postcard, under [`DeviceEol::MAX_ENCODED_LEN`] bytes).
//! It changes only through:
//! - [`DeviceEol::apply`]: a [`VerifiedNotice`] with a newer sequence (replays rejected) that
//!   keeps every promise earlier notices made, unless it is a [`NoticeKind::Shutdown`]; the
//!   rules are listed there, each with its error;
//! - [`DeviceEol::tick`]: the device's best known time passing a notice's dates;
//! - [`DeviceEol::release_to_owner`]: the owner installs an update key on or after the
//!   announced owner-release day.
//!
//! The best known time only grows: the largest of every `now` passed in and of the time evidence
//! of accepted notices, so a reset clock cannot bring back a state. A notice's `issued_at` is
//! evidence with a bound: an `Update` moves the best known time at most
//! [`MAX_NOTICE_CLOCK_LEAD_SECS`] past what the device already knew (its best known time or the
//! `now` it was applied with, whichever is later); only a `Shutdown` sets it without bound. The
//! lifecycle only grows too ([`Lifecycle::advance_to`]).
//!
//! Notices are not a clock: a device without a time source of its own learns at most the lead per
//! notice from them, which errs towards keeping capabilities, never towards ending them early.

use serde::{Deserialize, Serialize};

use crate::capability::{Capability, CapabilitySet, gate};
use crate::date::{Day, SECONDS_PER_DAY};
use crate::lifecycle::Lifecycle;
use crate::notice::{
    FirmwareVersion, NoticeBody, NoticeKind, SunsetDate, SunsetDates, VerifiedNotice,
};

/// How far one `Update` notice's `issued_at` may move the device's best known time past what
/// the device already knew: one day.
///
/// The lead lets a notice correct a clock that drifted or lost a little time; it also bounds
/// what a careless or compromised backend can do with a wrong `issued_at` (say, 2040): the
/// device's day moves at most one day, so a transition comes at most one day early.
pub const MAX_NOTICE_CLOCK_LEAD_SECS: u64 = SECONDS_PER_DAY;

/// Why a verified notice or owner key was not applied. A rejected notice changes nothing.
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
    /// An `Update` notice moved a published date earlier.
    #[error(
        "notice moves the published {date} from {published} to {proposed}; only a shutdown notice may shorten it"
    )]
    ShortensPublished {
        /// Which date.
        date: SunsetDate,
        /// The published day.
        published: Day,
        /// The proposed earlier day.
        proposed: Day,
    },
    /// An `Update` notice announced an earlier final firmware than the one announced before.
    #[error(
        "notice lowers the announced final firmware from {announced} to {proposed}; only a shutdown notice may lower it"
    )]
    FinalFirmwareLowered {
        /// The announced final firmware.
        announced: FirmwareVersion,
        /// The proposed lower one.
        proposed: FirmwareVersion,
    },
    /// A notice dropped the owner release an earlier notice announced.
    #[error("notice withdraws the owner release announced for {announced}; no notice may")]
    OwnerReleaseWithdrawn {
        /// The announced owner-release day.
        announced: Day,
    },
    /// A notice moved the announced owner release later.
    #[error(
        "notice postpones the owner release announced for {announced} to {proposed}; no notice may"
    )]
    OwnerReleasePostponed {
        /// The announced owner-release day.
        announced: Day,
        /// The proposed later day.
        proposed: Day,
    },
    /// A notice's plan no longer keeps a capability an earlier plan promised to keep locally.
    #[error(
        "notice removes {capability:?} from what stays local after the cloud; a plan may only add to it"
    )]
    LocalCapabilityRemoved {
        /// The first promised capability the new plan drops.
        capability: Capability,
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
    /// The first notice sets the plan. Every later one is checked against what the accepted
    /// notices promised, in this order, and rejected as a whole (nothing changes) at the first
    /// rule it breaks:
    ///
    /// | rule | applies to | error |
    /// |---|---|---|
    /// | sequence above the accepted one | every notice | [`LifecycleError::Replayed`] |
    /// | no date earlier (security-only start, end of security updates, end of cloud) | `Update` | [`LifecycleError::ShortensPublished`] |
    /// | announced final firmware not lowered (dropping it is allowed: more updates may come) | `Update` | [`LifecycleError::FinalFirmwareLowered`] |
    /// | announced owner release kept | every notice | [`LifecycleError::OwnerReleaseWithdrawn`] |
    /// | announced owner release not later (earlier is allowed) | every notice | [`LifecycleError::OwnerReleasePostponed`] |
    /// | what stays local after the cloud only grows | every notice | [`LifecycleError::LocalCapabilityRemoved`] |
    ///
    /// A `Shutdown` notice is what its name says: the one notice that may shorten, by moving
    /// dates earlier, lowering the final firmware and setting the device's clock from its
    /// `issued_at` without the [`MAX_NOTICE_CLOCK_LEAD_SECS`] bound. It still cannot take back
    /// the owner release or a local capability: ending early is a reason to give owners more.
    ///
    /// Extensions are accepted but never bring back a state the device has left. Because a
    /// notice's owner release may not come before its end of cloud ([`NoticeBody::check`]), an
    /// `Update` can extend the cloud only up to an announced owner-release day.
    pub fn apply(
        &mut self,
        notice: &VerifiedNotice,
        now: u64,
    ) -> Result<Lifecycle, LifecycleError> {
        let body = notice.body();
        self.check_promises(body)?;
        let evidence = self.notice_time(body, now);
        self.accepted_sequence = body.sequence;
        self.dates = Some(body.dates);
        self.owner_release = body.owner_release;
        self.keeps_local = body.keeps_local;
        self.final_firmware = body.final_firmware;
        self.best_known_time = self.best_known_time.max(evidence);
        Ok(self.tick(now))
    }

    /// The rules of [`apply`](Self::apply), without changing anything.
    fn check_promises(&self, body: &NoticeBody) -> Result<(), LifecycleError> {
        if body.sequence <= self.accepted_sequence {
            return Err(LifecycleError::Replayed {
                sequence: body.sequence,
                accepted: self.accepted_sequence,
            });
        }
        let Some(published) = self.dates else {
            // The first notice: nothing promised yet.
            return Ok(());
        };
        if body.kind == NoticeKind::Update {
            for date in SunsetDate::ALL {
                let (was, proposed) = (published.get(date), body.dates.get(date));
                if proposed < was {
                    return Err(LifecycleError::ShortensPublished {
                        date,
                        published: was,
                        proposed,
                    });
                }
            }
            if let (Some(announced), Some(proposed)) = (self.final_firmware, body.final_firmware)
                && proposed < announced
            {
                return Err(LifecycleError::FinalFirmwareLowered {
                    announced,
                    proposed,
                });
            }
        }
        if let Some(announced) = self.owner_release {
            match body.owner_release {
                None => return Err(LifecycleError::OwnerReleaseWithdrawn { announced }),
                Some(proposed) if proposed > announced => {
                    return Err(LifecycleError::OwnerReleasePostponed {
                        announced,
                        proposed,
                    });
                }
                Some(_) => {}
            }
        }
        let kept = body.keeps_local.kept_after_cloud();
        let promised = self.keeps_local.kept_after_cloud();
        if let Some(capability) = promised.iter().find(|c| !kept.contains(*c)) {
            return Err(LifecycleError::LocalCapabilityRemoved { capability });
        }
        Ok(())
    }

    /// The time evidence a notice applied at `now` gives: a shutdown's `issued_at` as it is, an
    /// update's at most [`MAX_NOTICE_CLOCK_LEAD_SECS`] past the later of the best known time and
    /// `now`.
    fn notice_time(&self, body: &NoticeBody, now: u64) -> u64 {
        match body.kind {
            NoticeKind::Shutdown => body.issued_at,
            NoticeKind::Update => body.issued_at.min(
                self.best_known_time
                    .max(now)
                    .saturating_add(MAX_NOTICE_CLOCK_LEAD_SECS),
            ),
        }
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

    /// The announced owner-release day.
    pub fn owner_release(&self) -> Option<Day> {
        self.owner_release
    }

    /// The accepted degradation plan: what stays after the cloud
    /// ([`CapabilitySet::kept_after_cloud`] of the notice's `keeps_local`).
    pub fn kept_after_cloud(&self) -> CapabilitySet {
        self.keeps_local.kept_after_cloud()
    }

    /// Whether the best known day has reached the published end of security updates: the moment
    /// EU CRA Art. 13(19), second subparagraph, asks the product to tell its user that "their
    /// product with digital elements has reached the end of its support period", where that is
    /// technically feasible. Firmware with a display or an app channel shows it from then on.
    pub fn support_period_ended(&self) -> bool {
        self.dates
            .is_some_and(|d| self.today() >= d.end_of_security_updates)
    }

    /// The owner's update key once released.
    pub fn owner_key(&self) -> Option<&[u8; 32]> {
        self.owner_key.as_ref()
    }
}
