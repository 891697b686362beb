//! Maintenance windows in device-local time, with per-device jitter ("update at night").
//!
//! Why: devices should install when nobody uses them, and not all at 02:00:00 sharp. Local time
//! here is DST-free arithmetic: the device (or its record) carries its current UTC offset in
//! minutes, and local time is `UTC + offset`. Whoever knows the time zone updates the offset
//! when daylight saving changes; this module never consults a time-zone database, so the result
//! is the same on every platform.

use serde::{Deserialize, Serialize};

use crate::time::{DAY, Timestamp};

/// Minutes per day.
pub const MINUTES_PER_DAY: u16 = 1_440;

/// A daily window in device-local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    /// Local start, minutes after midnight (0..1440).
    pub start_minute: u16,
    /// Length in minutes (1..=1440); may run past midnight.
    pub duration_minutes: u16,
    /// Per-device start offsets are spread over `0..jitter_minutes` (less than the duration).
    pub jitter_minutes: u16,
}

/// A device's offset from UTC in minutes (e.g. +60 for CET, -300 for EST), within ±18 h.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UtcOffset(pub i16);

impl UtcOffset {
    /// Minutes after local midnight at `t`.
    pub fn local_minute(self, t: Timestamp) -> u16 {
        let offset = i64::from(self.0.clamp(-18 * 60, 18 * 60)) * 60;
        let local = i128::from(t.0) + i128::from(offset);
        (local.rem_euclid(i128::from(DAY)) / 60) as u16
    }
}

impl MaintenanceWindow {
    /// Whether the window is well formed: start below 1440, duration 1..=1440, jitter below
    /// the duration.
    pub fn is_valid(&self) -> bool {
        self.start_minute < MINUTES_PER_DAY
            && (1..=MINUTES_PER_DAY).contains(&self.duration_minutes)
            && self.jitter_minutes < self.duration_minutes
    }

    /// Whether a device with UTC offset `offset` and jitter `jitter` (from
    /// [`crate::cohort::jitter_minutes`], reduced modulo the window's jitter span) may install
    /// at `now`. Its window opens `jitter` minutes after the shared start and closes with it.
    pub fn is_open(&self, now: Timestamp, offset: UtcOffset, jitter: u16) -> bool {
        if !self.is_valid() {
            return false;
        }
        let jitter = jitter % self.jitter_minutes.max(1);
        let start = (self.start_minute + jitter) % MINUTES_PER_DAY;
        let len = self.duration_minutes - jitter;
        let minute = offset.local_minute(now);
        let into = (minute + MINUTES_PER_DAY - start) % MINUTES_PER_DAY;
        len == MINUTES_PER_DAY || into < len
    }

    /// The first instant at or after `now` (to the minute) when the window is open for this
    /// device; `now` itself when it is open, `None` when the window is invalid.
    pub fn next_open(&self, now: Timestamp, offset: UtcOffset, jitter: u16) -> Option<Timestamp> {
        if !self.is_valid() {
            return None;
        }
        if self.is_open(now, offset, jitter) {
            return Some(now);
        }
        let jitter = jitter % self.jitter_minutes.max(1);
        let start = (self.start_minute + jitter) % MINUTES_PER_DAY;
        let minute = offset.local_minute(now);
        let wait = u64::from((start + MINUTES_PER_DAY - minute) % MINUTES_PER_DAY);
        // Back to the start of the current minute, then forward to the window start.
        Some(Timestamp(now.0 - now.0 % 60).plus(wait * 60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-03-29T00:30:00Z, a Sunday on which Europe switches to summer time.
    const T: Timestamp = Timestamp(1_774_744_200);

    #[test]
    fn local_minute_is_offset_arithmetic() {
        assert_eq!(UtcOffset(0).local_minute(T), 30);
        assert_eq!(UtcOffset(60).local_minute(T), 90);
        assert_eq!(UtcOffset(120).local_minute(T), 150);
        // West of UTC wraps to the previous local day.
        assert_eq!(UtcOffset(-300).local_minute(T), 1_440 - 270);
        assert_eq!(UtcOffset(0).local_minute(Timestamp(0)), 0);
    }

    #[test]
    fn window_over_midnight_with_jitter() {
        let w = MaintenanceWindow {
            start_minute: 23 * 60,
            duration_minutes: 180,
            jitter_minutes: 60,
        };
        // 00:30 local, inside 23:00..02:00.
        assert!(w.is_open(T, UtcOffset(0), 0));
        // Jitter 45: opens at 23:45, still open at 00:30.
        assert!(w.is_open(T, UtcOffset(0), 45));
        // 02:30 local (CEST after the switch): closed; next opening 23:00 local.
        assert!(!w.is_open(T, UtcOffset(120), 0));
        let next = w.next_open(T, UtcOffset(120), 0).unwrap();
        assert_eq!(UtcOffset(120).local_minute(next), 23 * 60);
        assert_eq!(next.since(T), (20 * 60 + 30) * 60);
        // With jitter 30 the device's own window opens at 23:30.
        let next = w.next_open(T, UtcOffset(120), 30).unwrap();
        assert_eq!(UtcOffset(120).local_minute(next), 23 * 60 + 30);
        assert_eq!(w.next_open(T, UtcOffset(0), 0), Some(T));
    }

    #[test]
    fn invalid_windows_never_open() {
        let w = MaintenanceWindow {
            start_minute: 1_440,
            duration_minutes: 10,
            jitter_minutes: 0,
        };
        assert!(!w.is_open(T, UtcOffset(0), 0));
        assert_eq!(w.next_open(T, UtcOffset(0), 0), None);
        let w = MaintenanceWindow {
            start_minute: 0,
            duration_minutes: 10,
            jitter_minutes: 10,
        };
        assert!(!w.is_valid());
    }

    #[test]
    fn whole_day_window_is_always_open() {
        let w = MaintenanceWindow {
            start_minute: 0,
            duration_minutes: 1_440,
            jitter_minutes: 0,
        };
        for m in 0..1_440u64 {
            assert!(w.is_open(Timestamp(m * 60), UtcOffset(-480), 0));
        }
    }
}
