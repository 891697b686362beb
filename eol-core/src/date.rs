//! Calendar days without a date library.
//!
//! Support periods, notices and schedules speak in whole days (UTC). A [`Day`] counts days since
//! 1970-01-01 in a `u32`, so it is small on the wire, cheap on a device and has no time zone.
//! Device time is unix seconds (`u64`), converted with [`Day::from_unix`].
//!
//! The civil-date conversion is the proleptic Gregorian calendar computed in 400-year eras
//! (146 097 days each), with years starting on 1 March so the leap day is the last day of the
//! computed year. Years 1970..=9999 are supported.

use core::fmt;

use serde::{Deserialize, Serialize};

/// Seconds in one day.
pub const SECONDS_PER_DAY: u64 = 86_400;

/// Days from 0000-03-01 (the start of a computed era) to 1970-01-01.
const EPOCH_SHIFT: u64 = 719_468;
/// Days in a 400-year Gregorian era.
const DAYS_PER_ERA: u64 = 146_097;

/// A calendar day (UTC), counted from 1970-01-01 = `Day(0)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Day(pub u32);

/// A year, month or day outside the supported calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("date {year:04}-{month:02}-{day:02} is not a valid calendar date in 1970..=9999")]
pub struct InvalidDate {
    /// The year given.
    pub year: u32,
    /// The month given.
    pub month: u32,
    /// The day of month given.
    pub day: u32,
}

impl Day {
    /// The day holding unix time `secs`.
    pub fn from_unix(secs: u64) -> Day {
        Day(u32::try_from(secs / SECONDS_PER_DAY).unwrap_or(u32::MAX))
    }

    /// Unix seconds at the start (00:00 UTC) of this day.
    pub fn to_unix(self) -> u64 {
        u64::from(self.0) * SECONDS_PER_DAY
    }

    /// The day for a civil date, or an error for an impossible one (month 13, 30 February, ...).
    pub fn from_ymd(year: u32, month: u32, day: u32) -> Result<Day, InvalidDate> {
        let bad = InvalidDate { year, month, day };
        if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(bad);
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(bad);
        }
        // Shift so the computed year starts in March.
        let y = u64::from(if month <= 2 { year - 1 } else { year });
        let era = y / 400;
        let year_of_era = y - era * 400;
        let m = u64::from(month);
        let month_from_march = if m > 2 { m - 3 } else { m + 9 };
        let day_of_year = (153 * month_from_march + 2) / 5 + u64::from(day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        let days = era * DAYS_PER_ERA + day_of_era - EPOCH_SHIFT;
        u32::try_from(days).map(Day).map_err(|_| bad)
    }

    /// The civil date `(year, month, day)` of this day.
    pub fn to_ymd(self) -> (u32, u32, u32) {
        let z = u64::from(self.0) + EPOCH_SHIFT;
        let era = z / DAYS_PER_ERA;
        let day_of_era = z - era * DAYS_PER_ERA;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        };
        let year = year_of_era + era * 400 + u64::from(month <= 2);
        // Bounded by u32::MAX days: the year fits in u32.
        (year as u32, month as u32, day as u32)
    }

    /// `n` days later (saturating).
    pub fn plus_days(self, n: u32) -> Day {
        Day(self.0.saturating_add(n))
    }

    /// `n` days earlier (saturating at 1970-01-01).
    pub fn minus_days(self, n: u32) -> Day {
        Day(self.0.saturating_sub(n))
    }

    /// The same day of month `months` calendar months earlier; a day that does not exist in
    /// the target month (31 March minus one month) becomes that month's last day.
    pub fn minus_months(self, months: u32) -> Day {
        let (y, m, d) = self.to_ymd();
        let total = (y * 12 + (m - 1)).saturating_sub(months);
        let (ty, tm) = (total / 12, total % 12 + 1);
        if ty < 1970 {
            return Day(0);
        }
        let td = d.min(days_in_month(ty, tm));
        Day::from_ymd(ty, tm, td).unwrap_or(Day(0))
    }

    /// The same day of month `months` calendar months later (clamped to the month's end).
    pub fn plus_months(self, months: u32) -> Day {
        let (y, m, d) = self.to_ymd();
        let total = y * 12 + (m - 1) + months;
        let (ty, tm) = (total / 12, total % 12 + 1);
        let td = d.min(days_in_month(ty, tm));
        Day::from_ymd(ty, tm, td).unwrap_or(Day(u32::MAX))
    }

    /// Whole days from `self` to `later` (negative if `later` is earlier).
    pub fn days_until(self, later: Day) -> i64 {
        i64::from(later.0) - i64::from(self.0)
    }
}

/// Whether `year` is a Gregorian leap year.
pub fn is_leap_year(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days in `month` (1..=12) of `year`; 0 for an invalid month.
pub fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// ISO 8601 `YYYY-MM-DD`.
impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.to_ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(Day::from_ymd(1970, 1, 1).unwrap(), Day(0));
        assert_eq!(Day::from_ymd(2000, 3, 1).unwrap(), Day(11_017));
        assert_eq!(Day::from_ymd(2024, 2, 29).unwrap(), Day(19_782));
        assert_eq!(
            Day::from_ymd(2027, 12, 11).unwrap().to_unix(),
            1_828_483_200
        );
        assert_eq!(
            Day::from_unix(1_828_483_200 + 86_399).to_string(),
            "2027-12-11"
        );
        assert_eq!(Day(19_782).to_ymd(), (2024, 2, 29));
        assert_eq!(Day(19_782).to_string(), "2024-02-29");
    }

    #[test]
    fn invalid_dates_are_rejected() {
        assert!(Day::from_ymd(2023, 2, 29).is_err());
        assert!(Day::from_ymd(2024, 13, 1).is_err());
        assert!(Day::from_ymd(2024, 4, 31).is_err());
        assert!(Day::from_ymd(1969, 12, 31).is_err());
        assert!(Day::from_ymd(2024, 1, 0).is_err());
    }

    #[test]
    fn month_arithmetic_clamps_to_month_end() {
        let d = Day::from_ymd(2025, 3, 31).unwrap();
        assert_eq!(d.minus_months(1).to_string(), "2025-02-28");
        assert_eq!(d.minus_months(12).to_string(), "2024-03-31");
        assert_eq!(
            Day::from_ymd(2024, 2, 29)
                .unwrap()
                .plus_months(12)
                .to_string(),
            "2025-02-28"
        );
        assert_eq!(Day(10).minus_months(5), Day(0));
    }

    proptest::proptest! {
        #[test]
        fn ymd_round_trip(n in 0u32..2_932_896) {
            let (y, m, d) = Day(n).to_ymd();
            proptest::prop_assert_eq!(Day::from_ymd(y, m, d).unwrap(), Day(n));
        }
    }
}
