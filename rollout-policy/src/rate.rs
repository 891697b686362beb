//! Offer pacing inside a stage: a clock-driven rate limit ([`RateLimit`]) and an
//! evidence-driven ramp ([`EvidenceRamp`]).
//!
//! Why: a stage of 10,000 devices offered in one second floods the CDN and, if the release is
//! bad, bricks 10,000 devices before the first report arrives. Ramping the offer rate lets the
//! sequential gates stop a stage part-way. A clock alone ramps as fast for a release whose
//! outcomes lean bad as for a clean one; the evidence ramp lets offers grow only as clean
//! outcomes come back, so the devices still awaiting an outcome when a gate aborts are few.

use serde::{Deserialize, Serialize};

use crate::evidence::Counts;
use crate::time::HOUR;

/// Offers that may await an outcome, grown by clean outcomes: at most
/// `initial_in_flight + clean * per_clean_bp / 10_000` devices of the rollout may have been
/// offered without a final outcome yet, where
/// `clean = succeeded - failure_weight * trial failures` (at least 0) over the whole rollout.
///
/// Why: devices exposed to a bad release when its gate aborts are those that reported (the
/// evidence the gate needed) plus those still in flight. In flight is what pacing controls:
/// with `failure_weight` near the gate's likelihood ratio of one failure to one success (about
/// 110 for a 3x regression of a 0.5% rate), `clean` is a scaled measure of the evidence
/// *against* a regression, so a clean release ramps geometrically while one leaning bad is
/// held to `initial_in_flight` until its gate decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRamp {
    /// Devices that may be in flight whatever the evidence (at least 1, or nothing is ever
    /// offered).
    pub initial_in_flight: u32,
    /// Extra devices in flight per clean outcome, basis points of a device (5,000: one more
    /// for every two clean outcomes).
    pub per_clean_bp: u32,
    /// Clean outcomes one trial failure cancels.
    pub failure_weight: u16,
}

impl EvidenceRamp {
    /// The default plan's ramp ([`crate::plan::Plan::default_stable`]): 10 devices in flight
    /// at first, one more per two clean outcomes, a failure cancelling 110 successes (the
    /// likelihood ratio of one failure to one success for a 3x regression of a 0.5% rate).
    /// A release failing at 0.5% grows its in-flight allowance by about 23% per report cycle;
    /// one failing at 0.9% or more is held near 10 in flight.
    pub const DEFAULT: Self = Self {
        initial_in_flight: 10,
        per_clean_bp: 5_000,
        failure_weight: 110,
    };

    /// The clean-outcome score of `rollout`: successes less `failure_weight` per trial failure.
    pub fn clean(&self, rollout: &Counts) -> u64 {
        u64::from(rollout.succeeded)
            .saturating_sub(u64::from(self.failure_weight).saturating_mul(rollout.failed.trial()))
    }

    /// Devices that may be in flight (offered, no final outcome) given `rollout`'s outcomes.
    pub fn in_flight_cap(&self, rollout: &Counts) -> u64 {
        let grown = u128::from(self.clean(rollout)) * u128::from(self.per_clean_bp) / 10_000;
        u64::from(self.initial_in_flight).saturating_add(grown.min(u128::from(u64::MAX)) as u64)
    }

    /// New offers the ramp allows now: the cap less what is in flight.
    pub fn new_offers(&self, rollout: &Counts) -> u64 {
        let in_flight = u64::from(rollout.offered).saturating_sub(rollout.completed());
        self.in_flight_cap(rollout).saturating_sub(in_flight)
    }
}

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
    fn evidence_ramp_grows_with_clean_outcomes_only() {
        let ramp = EvidenceRamp {
            initial_in_flight: 10,
            per_clean_bp: 5_000,
            failure_weight: 100,
        };
        let mut c = Counts {
            offered: 10,
            ..Counts::default()
        };
        // Nothing back yet: the initial ten are in flight, no more.
        assert_eq!(ramp.new_offers(&c), 0);
        c.succeeded = 10;
        // Ten clean outcomes: cap 10 + 5, none in flight.
        assert_eq!(ramp.in_flight_cap(&c), 15);
        assert_eq!(ramp.new_offers(&c), 15);
        c.offered = 300;
        c.succeeded = 290;
        c.failed.boot_reverted = 1;
        // 290 - 100 clean: cap 10 + 95, 9 in flight.
        assert_eq!(ramp.clean(&c), 190);
        assert_eq!(ramp.new_offers(&c), 105 - 9);
        // Failures beyond the successes: back to the initial allowance.
        c.failed.boot_reverted = 3;
        assert_eq!(ramp.clean(&c), 0);
        assert_eq!(ramp.in_flight_cap(&c), 10);
        // Download failures say nothing about the image and do not slow the ramp.
        c.failed.boot_reverted = 1;
        c.failed.download = 50;
        assert_eq!(ramp.clean(&c), 190);
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
