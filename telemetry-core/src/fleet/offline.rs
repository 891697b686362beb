//! Offline detection from learned report intervals.
//!
//! Devices report at different rates (a mains-powered lock every minute, a sprinkler every
//! hour), so a fixed timeout is either too eager or too slow. Each record learns its own
//! interval from the gaps between frames (see [`super::registry`]); a device is offline once it
//! has been silent for longer than `multiple` times that interval, and never sooner than
//! `floor_s` (so a chatty device does not flap on a short network hiccup).
//!
//! The state machine per device is [`LinkState`]:
//!
//! ```text
//!   Unseen --frame--> Online --silence > allowance (sweep)--> Offline --frame--> Online
//! ```
//!
//! Each transition to Offline yields one [`OfflineEvent::Offline`] (from
//! [`super::registry::Registry::sweep`]) and each return one [`OfflineEvent::Recovered`]
//! (from [`super::registry::Registry::observe`]), both with the silence so far, which is what
//! a support message needs ("your sprinkler hasn't checked in for 2 days").

extern crate std;

use std::format;
use std::string::String;
use std::vec::Vec;

use serde::{Deserialize, Serialize};

use super::registry::{DeviceRecord, Registry};

/// Connectivity state of one device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LinkState {
    /// Known (provisioned or sent a bad frame) but no valid frame yet.
    #[default]
    Unseen,
    /// Reported within its allowance.
    Online,
    /// Silent beyond its allowance.
    Offline,
}

/// When silence becomes "offline".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflinePolicy {
    /// Offline after this many learned intervals of silence.
    pub multiple: u32,
    /// Never offline after less silence than this, seconds.
    pub floor_s: u64,
    /// Interval assumed until a device has sent two frames, seconds.
    pub default_interval_s: u64,
}

impl Default for OfflinePolicy {
    fn default() -> Self {
        Self {
            multiple: 3,
            floor_s: 300,
            default_interval_s: 3600,
        }
    }
}

impl OfflinePolicy {
    /// Seconds of silence `record` may have before it counts as offline.
    #[must_use]
    pub fn allowance_s(&self, record: &DeviceRecord) -> u64 {
        let interval_x16 = match record.interval_x16 {
            0 => self.default_interval_s.saturating_mul(16),
            i => u64::from(i),
        };
        (interval_x16.saturating_mul(u64::from(self.multiple)) / 16).max(self.floor_s)
    }

    /// Whether `record` is overdue at `now`: silent for strictly more than its allowance.
    #[must_use]
    pub fn is_overdue(&self, record: &DeviceRecord, now: u64) -> bool {
        now.saturating_sub(record.last_seen()) > self.allowance_s(record)
    }

    /// How overdue `record` is: silence divided by its learned interval (1.0 = one interval
    /// late). A graded suspicion level for dashboards that sort devices by it.
    #[must_use]
    pub fn suspicion(&self, record: &DeviceRecord, now: u64) -> f64 {
        let interval = record
            .interval_s()
            .unwrap_or(self.default_interval_s as f64)
            .max(1.0);
        now.saturating_sub(record.last_seen()) as f64 / interval
    }
}

/// A device went silent or came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OfflineEvent {
    /// Silent for longer than allowed.
    Offline {
        /// The device.
        device: u64,
        /// Its last frame, Unix seconds.
        last_seen: u64,
        /// Seconds of silence at detection.
        silent_for_s: u64,
    },
    /// Sent a frame after being offline.
    Recovered {
        /// The device.
        device: u64,
        /// Its last frame before the silence, Unix seconds.
        last_seen: u64,
        /// Seconds the device was silent in total.
        silent_for_s: u64,
    },
}

impl OfflineEvent {
    /// The device concerned.
    #[must_use]
    pub fn device(&self) -> u64 {
        match *self {
            Self::Offline { device, .. } | Self::Recovered { device, .. } => device,
        }
    }

    /// Seconds of silence.
    #[must_use]
    pub fn silent_for_s(&self) -> u64 {
        match *self {
            Self::Offline { silent_for_s, .. } | Self::Recovered { silent_for_s, .. } => {
                silent_for_s
            }
        }
    }

    /// A sentence for a customer message, naming the device as the customer knows it:
    /// `"your sprinkler hasn't checked in for 2 days"`.
    #[must_use]
    pub fn customer_notice(&self, device_name: &str) -> String {
        let span = human_duration(self.silent_for_s());
        match self {
            Self::Offline { .. } => format!("your {device_name} hasn't checked in for {span}"),
            Self::Recovered { .. } => {
                format!("your {device_name} is back online after {span} without contact")
            }
        }
    }
}

/// The largest whole unit of `seconds`: "45 seconds", "1 minute", "3 hours", "2 days".
#[must_use]
pub fn human_duration(seconds: u64) -> String {
    let (n, unit) = match seconds {
        s if s >= 86_400 => (s / 86_400, "day"),
        s if s >= 3_600 => (s / 3_600, "hour"),
        s if s >= 60 => (s / 60, "minute"),
        s => (s, "second"),
    };
    let plural = if n == 1 { "" } else { "s" };
    format!("{n} {unit}{plural}")
}

impl Registry {
    /// Marks every online device that is overdue at `now` as offline and returns one
    /// [`OfflineEvent::Offline`] per newly offline device (a device already offline yields
    /// nothing; its [`OfflineEvent::Recovered`] comes with its next frame).
    pub fn sweep(&mut self, now: u64) -> Vec<OfflineEvent> {
        let policy = *self.policy();
        let mut events = Vec::new();
        for r in self.records_mut() {
            if r.link() == LinkState::Online && policy.is_overdue(r, now) {
                r.set_link(LinkState::Offline);
                events.push(OfflineEvent::Offline {
                    device: r.id,
                    last_seen: r.last_seen(),
                    silent_for_s: now.saturating_sub(r.last_seen()),
                });
            }
        }
        events
    }
}
