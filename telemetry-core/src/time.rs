//! Time without a real-time clock: boot id + uptime stamps, and anchors to wall time.
//!
//! Many devices never know the date. Every heartbeat is stamped with the boot id and device
//! uptime; when the device learns the time (network time, a GNSS fix, a phone), it sends one
//! [`TimeAnchor`] tying that boot's uptime to UTC. The backend then back-fills wall time for every
//! frame of that boot with [`TimeAnchor::wall_time_of`], including frames stored while offline
//! before the anchor was known.

use serde::{Deserialize, Serialize};

/// "At uptime `uptime_s` of boot `boot_id`, UTC was `unix_s`."
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeAnchor {
    /// The boot this anchor belongs to.
    pub boot_id: u32,
    /// Device uptime in seconds when the time was learned.
    pub uptime_s: u32,
    /// Unix time in seconds at that moment.
    pub unix_s: u64,
}

impl TimeAnchor {
    /// Wall time (Unix seconds) of uptime `uptime_s` in boot `boot_id`, or `None` for another
    /// boot (uptime restarts at every boot) or a time before the Unix epoch.
    pub fn wall_time_of(&self, boot_id: u32, uptime_s: u32) -> Option<u64> {
        if boot_id != self.boot_id {
            return None;
        }
        let offset = i64::from(uptime_s) - i64::from(self.uptime_s);
        self.unix_s.checked_add_signed(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_fills_earlier_and_later_stamps() {
        let a = TimeAnchor {
            boot_id: 12,
            uptime_s: 264_034,
            unix_s: 1_795_000_000,
        };
        assert_eq!(a.wall_time_of(12, 260_434), Some(1_795_000_000 - 3_600));
        assert_eq!(a.wall_time_of(12, 267_634), Some(1_795_003_600));
        assert_eq!(a.wall_time_of(11, 267_634), None);
        let early = TimeAnchor {
            boot_id: 1,
            uptime_s: 100,
            unix_s: 10,
        };
        assert_eq!(early.wall_time_of(1, 0), None);
    }
}
