//! Rate limits inside a stage: devices per hour with an exponential ramp.
//!
//! Why: a stage of 10,000 devices offered in one second floods the CDN and, if the release is
//! bad, bricks 10,000 devices before the first report arrives. Ramping the offer rate lets the
//! sequential gates stop a stage part-way.

use serde::{Deserialize, Serialize};

use crate::time::HOUR;

/// Offers per hour, starting at `initial_per_hour` and doubling every `doubling_hours` until
/// `max_per_hour`. `doubling_hours == 0` means a flat rate of `initial_per_hour`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Offers allowed in the first hour of a stage.
    pub initial_per_hour: u32,
    /// Hours between doublings (0: no ramp).
    pub doubling_hours: u16,
    /// Ceiling on offers per hour.
    pub max_per_hour: u32,
}

impl RateLimit {
    /// The offer rate (devices per hour) during whole hour `hour` (0-based) of a stage.
    pub fn rate_in_hour(&self, hour: u64) -> u64 {
        let initial = u64::from(self.initial_per_hour);
        let max = u64::from(self.max_per_hour.max(self.initial_per_hour));
        if self.doubling_hours == 0 {
            return initial;
        }
        let doublings = hour / u64::from(self.doubling_hours);
        if doublings >= 63 {
            return max;
        }
        initial.saturating_mul(1u64 << doublings).min(max)
    }

    /// Cumulative offers allowed `elapsed_secs` after the stage opened (partial hours pro rata).
    /// Bounded work: at most 64 loop steps, then the flat ceiling in closed form.
    pub fn allowed_after(&self, elapsed_secs: u64) -> u64 {
        let hours = elapsed_secs / HOUR;
        let part = elapsed_secs % HOUR;
        let mut total = 0u64;
        let mut h = 0u64;
        while h < hours {
            let r = self.rate_in_hour(h);
            if r >= u64::from(self.max_per_hour) || self.doubling_hours == 0 || h >= 64 {
                total = total.saturating_add(r.saturating_mul(hours - h));
                h = hours;
                break;
            }
            total = total.saturating_add(r);
            h += 1;
        }
        total.saturating_add(self.rate_in_hour(h).saturating_mul(part) / HOUR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_doubles_then_caps() {
        let r = RateLimit {
            initial_per_hour: 50,
            doubling_hours: 1,
            max_per_hour: 1_000,
        };
        assert_eq!(r.rate_in_hour(0), 50);
        assert_eq!(r.rate_in_hour(1), 100);
        assert_eq!(r.rate_in_hour(4), 800);
        assert_eq!(r.rate_in_hour(5), 1_000);
        assert_eq!(r.rate_in_hour(500), 1_000);
        assert_eq!(r.allowed_after(0), 0);
        assert_eq!(r.allowed_after(HOUR / 2), 25);
        assert_eq!(r.allowed_after(3 * HOUR), 350);
        assert_eq!(
            r.allowed_after(7 * HOUR),
            50 + 100 + 200 + 400 + 800 + 1_000 + 1_000
        );
        assert!(r.allowed_after(u64::MAX) > 5_000_000_000_000_000_000);
    }

    #[test]
    fn flat_rate() {
        let r = RateLimit {
            initial_per_hour: 10,
            doubling_hours: 0,
            max_per_hour: 0,
        };
        assert_eq!(r.allowed_after(10 * HOUR + HOUR / 10), 101);
    }
}
