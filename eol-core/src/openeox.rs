//! OASIS OpenEoX import and export of the support dates.
//!
//! OpenEoX (OASIS OpenEoX Core Schema 1.0) is the machine-readable way vendors publish
//! end-of-sale and end-of-support dates next to SBOMs and security advisories. A core document
//! carries `general_availability`, `end_of_sales`, `end_of_security_support` and `end_of_life`,
//! each an RFC 3339 timestamp or the string `"tba"` (to be announced), and `last_updated`.
//!
//! Mapping to [`SupportPolicy`]:
//!
//! | OpenEoX field | policy field |
//! |---|---|
//! | `general_availability` | `placed_on_market` |
//! | `end_of_sales` | `end_of_sale` |
//! | `end_of_security_support` | `end_of_security_updates` |
//! | `end_of_life` | `end_of_cloud_service` (for a connected product, its end of service) |
//!
//! Dates are whole UTC days: export writes `YYYY-MM-DDT00:00:00Z`; import accepts any RFC 3339
//! timestamp (with `Z` or a `±hh:mm` offset) and takes the UTC day it falls on.

extern crate std;

use std::string::{String, ToString};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::date::{Day, SECONDS_PER_DAY};
use crate::policy::SupportPolicy;

/// The core schema URL written to `$schema`.
pub const CORE_SCHEMA: &str = "https://docs.oasis-open.org/openeox/eox-core/v1.0/schema/core.json";

/// A date field: a day, or "to be announced".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EoxDate {
    /// Not announced yet (`"tba"`).
    Tba,
    /// Announced.
    On(Day),
}

impl EoxDate {
    fn from_option(d: Option<Day>) -> EoxDate {
        d.map_or(EoxDate::Tba, EoxDate::On)
    }

    /// The day, if announced.
    pub fn day(self) -> Option<Day> {
        match self {
            EoxDate::Tba => None,
            EoxDate::On(d) => Some(d),
        }
    }
}

impl Serialize for EoxDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            EoxDate::Tba => s.serialize_str("tba"),
            EoxDate::On(d) => s.serialize_str(&std::format!("{d}T00:00:00Z")),
        }
    }
}

impl<'de> Deserialize<'de> for EoxDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "tba" {
            return Ok(EoxDate::Tba);
        }
        parse_rfc3339_day(&s)
            .map(EoxDate::On)
            .map_err(serde::de::Error::custom)
    }
}

/// Why an OpenEoX document could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenEoxError {
    /// Not valid JSON for the core schema.
    #[error("OpenEoX document is not a valid core document: {0}")]
    Json(#[from] serde_json::Error),
    /// A timestamp that is not RFC 3339.
    #[error("timestamp {value:?} is not RFC 3339 (expected e.g. 2031-12-31T00:00:00Z): {why}")]
    Timestamp {
        /// The text.
        value: String,
        /// What was wrong.
        why: &'static str,
    },
    /// Import needs `general_availability` as a date.
    #[error("general_availability is missing or \"tba\"; expected the placed-on-market date")]
    NoGeneralAvailability,
}

/// An OpenEoX core document (the fields eol-core maps).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenEoxCore {
    /// The schema URL.
    #[serde(rename = "$schema")]
    pub schema: String,
    /// When the document was last changed (RFC 3339).
    pub last_updated: String,
    /// First availability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub general_availability: Option<EoxDate>,
    /// End of sales.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_of_sales: Option<EoxDate>,
    /// End of security support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_of_security_support: Option<EoxDate>,
    /// End of life.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_of_life: Option<EoxDate>,
}

impl OpenEoxCore {
    /// The document for `policy`, last updated at unix time `updated` (undeclared dates: "tba").
    pub fn from_policy(policy: &SupportPolicy, updated: u64) -> OpenEoxCore {
        OpenEoxCore {
            schema: CORE_SCHEMA.to_string(),
            last_updated: format_rfc3339(updated),
            general_availability: Some(EoxDate::On(policy.placed_on_market)),
            end_of_sales: Some(EoxDate::from_option(policy.end_of_sale)),
            end_of_security_support: Some(EoxDate::from_option(policy.end_of_security_updates)),
            end_of_life: Some(EoxDate::from_option(policy.end_of_cloud_service)),
        }
    }

    /// Copies the dates into `policy` (absent or "tba" fields clear the policy's date;
    /// disclosure flags are left as they are).
    pub fn apply_to(&self, policy: &mut SupportPolicy) -> Result<(), OpenEoxError> {
        policy.placed_on_market = self
            .general_availability
            .and_then(EoxDate::day)
            .ok_or(OpenEoxError::NoGeneralAvailability)?;
        policy.end_of_sale = self.end_of_sales.and_then(EoxDate::day);
        policy.end_of_security_updates = self.end_of_security_support.and_then(EoxDate::day);
        policy.end_of_cloud_service = self.end_of_life.and_then(EoxDate::day);
        Ok(())
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> Result<String, OpenEoxError> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Parses JSON (unknown fields, such as product data in a shell document, are ignored).
    pub fn from_json(json: &str) -> Result<OpenEoxCore, OpenEoxError> {
        let doc: OpenEoxCore = serde_json::from_str(json)?;
        parse_rfc3339_secs(&doc.last_updated)?;
        Ok(doc)
    }
}

/// `YYYY-MM-DDThh:mm:ssZ` for unix seconds.
pub fn format_rfc3339(secs: u64) -> String {
    let day = Day::from_unix(secs);
    let rem = secs % SECONDS_PER_DAY;
    std::format!(
        "{day}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The UTC day of an RFC 3339 timestamp.
pub fn parse_rfc3339_day(s: &str) -> Result<Day, OpenEoxError> {
    parse_rfc3339_secs(s).map(Day::from_unix)
}

/// Unix seconds of an RFC 3339 timestamp (fractions dropped; years 1970..=9999).
pub fn parse_rfc3339_secs(s: &str) -> Result<u64, OpenEoxError> {
    let bad = |why| OpenEoxError::Timestamp {
        value: s.to_string(),
        why,
    };
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Result<u32, OpenEoxError> {
        let part = b.get(from..from + len).ok_or(bad("too short"))?;
        part.iter().try_fold(0u32, |acc, &c| {
            if c.is_ascii_digit() {
                Ok(acc * 10 + u32::from(c - b'0'))
            } else {
                Err(bad("digit expected"))
            }
        })
    };
    let sep = |at: usize, want: &[u8], what: &'static str| -> Result<(), OpenEoxError> {
        match b.get(at) {
            Some(c) if want.contains(c) => Ok(()),
            _ => Err(bad(what)),
        }
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    sep(4, b"-", "'-' expected between year, month and day")?;
    sep(7, b"-", "'-' expected between year, month and day")?;
    sep(10, b"Tt ", "'T' and a time of day expected after the date")?;
    let (h, mi, se) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    sep(13, b":", "':' expected in the time of day")?;
    sep(16, b":", "':' expected in the time of day")?;
    if h > 23 || mi > 59 || se > 60 {
        return Err(bad("time of day out of range"));
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err(bad("fraction digits expected"));
        }
    }
    let offset: i64 = match b.get(i) {
        Some(b'Z' | b'z') if b.len() == i + 1 => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == i + 6 => {
            sep(i + 3, b":", "offset expected as +hh:mm")?;
            let (oh, om) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if oh > 23 || om > 59 {
                return Err(bad("offset out of range"));
            }
            let o = i64::from(oh * 3600 + om * 60);
            if *sign == b'+' { o } else { -o }
        }
        _ => return Err(bad("offset Z or +hh:mm expected at the end")),
    };
    let day = Day::from_ymd(y, mo, d).map_err(|_| bad("invalid calendar date"))?;
    let local = i64::try_from(day.to_unix()).map_err(|_| bad("out of range"))?
        + i64::from(h * 3600 + mi * 60 + se.min(59));
    u64::try_from(local - offset).map_err(|_| bad("before 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> SupportPolicy {
        SupportPolicy {
            placed_on_market: Day::from_ymd(2026, 3, 1).unwrap(),
            end_of_sale: Some(Day::from_ymd(2029, 3, 1).unwrap()),
            end_of_security_updates: Some(Day::from_ymd(2031, 3, 1).unwrap()),
            end_of_cloud_service: None,
            expected_use_months: None,
            support_period_published: true,
            end_date_told_at_purchase: true,
        }
    }

    #[test]
    fn export_uses_openeox_field_names() {
        let doc = OpenEoxCore::from_policy(&policy(), 1_780_000_000);
        let v: serde_json::Value = serde_json::from_str(&doc.to_json().unwrap()).unwrap();
        assert_eq!(v["$schema"], CORE_SCHEMA);
        assert_eq!(v["end_of_sales"], "2029-03-01T00:00:00Z");
        assert_eq!(v["end_of_security_support"], "2031-03-01T00:00:00Z");
        assert_eq!(v["end_of_life"], "tba");
        assert_eq!(v["general_availability"], "2026-03-01T00:00:00Z");
        assert_eq!(v["last_updated"], "2026-05-28T20:26:40Z");
    }

    #[test]
    fn round_trip_through_json() {
        let doc = OpenEoxCore::from_policy(&policy(), 1_780_000_000);
        let back = OpenEoxCore::from_json(&doc.to_json().unwrap()).unwrap();
        assert_eq!(back, doc);
        let mut p = SupportPolicy {
            end_of_sale: None,
            ..policy()
        };
        back.apply_to(&mut p).unwrap();
        assert_eq!(p, policy());
    }

    #[test]
    fn imports_other_tools_documents() {
        let json = r#"{
            "$schema": "https://docs.oasis-open.org/openeox/eox-core/v1.0/schema/core.json",
            "last_updated": "2026-07-13T09:30:00.123+02:00",
            "general_availability": "2025-01-15T00:00:00Z",
            "end_of_security_support": "2030-12-31T23:00:00-05:00",
            "end_of_life": "tba",
            "extra": 1
        }"#;
        let doc = OpenEoxCore::from_json(json).unwrap();
        let mut p = policy();
        doc.apply_to(&mut p).unwrap();
        assert_eq!(p.placed_on_market.to_string(), "2025-01-15");
        // 23:00 at -05:00 is 04:00 UTC the next day.
        assert_eq!(p.end_of_security_updates.unwrap().to_string(), "2031-01-01");
        assert_eq!(p.end_of_sale, None);
        assert_eq!(p.end_of_cloud_service, None);
    }

    proptest::proptest! {
        #[test]
        fn timestamps_round_trip(secs in 0u64..253_402_300_799) {
            proptest::prop_assert_eq!(parse_rfc3339_secs(&format_rfc3339(secs)).unwrap(), secs);
        }
    }

    #[test]
    fn rejects_bad_timestamps() {
        for s in [
            "2031-02-30T00:00:00Z",
            "2031-12-31",
            "2031-12-31T25:00:00Z",
            "2031-12-31T00:00:00",
            "1969-12-31T00:00:00Z",
            "2031-12-31T00:00:00+0100",
        ] {
            assert!(parse_rfc3339_secs(s).is_err(), "{s} must be rejected");
        }
        let err =
            OpenEoxCore::from_json(r#"{"$schema":"x","last_updated":"yesterday"}"#).unwrap_err();
        assert!(
            err.to_string().contains("not a valid core document")
                || err.to_string().contains("RFC 3339")
        );
        let doc =
            OpenEoxCore::from_json(r#"{"$schema":"x","last_updated":"2026-01-01T00:00:00Z"}"#)
                .unwrap();
        assert!(matches!(
            doc.apply_to(&mut policy()),
            Err(OpenEoxError::NoGeneralAvailability)
        ));
    }
}
