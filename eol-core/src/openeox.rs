//! OASIS OpenEoX Core 1.0 import and export of the support dates.
//!
//! OpenEoX is the machine-readable way vendors publish end-of-sale and end-of-support dates next
//! to SBOMs and security advisories. A core document (schema
//! `https://docs.oasis-open.org/openeox/v1.0/schema/core.json`) has four required properties,
//! `$schema`, `end_of_life`, `end_of_security_support` and `last_updated`, and two optional ones,
//! `end_of_sales` and `general_availability`; no others. Each date is an RFC 3339 `date-time` or
//! `"tba"` (to be announced); `last_updated` is always a `date-time`.
//!
//! # Mapping to [`SupportPolicy`]
//!
//! | OpenEoX property | policy field | export | import |
//! |---|---|---|---|
//! | `general_availability` | `placed_on_market` | always written | a date sets it; `"tba"` or absent leaves it |
//! | `end_of_sales` | `end_of_sale` | written when declared | a date sets it, `"tba"` clears it, absent leaves it |
//! | `end_of_security_support` | `end_of_security_updates` | the date, or `"tba"` | a date sets it, `"tba"` clears it |
//! | `end_of_life` | `end_of_cloud_service` | the later of the end of security updates and of the cloud service when both are declared, else `"tba"` | a date sets it, `"tba"` clears it |
//!
//! `end_of_life` is "the last day when the particular product is officially supported in any way
//! by the vendor", so for a connected product it is its last day of any service; that is why
//! export writes the later of the two ends and import reads it back as the end of cloud service.
//! Dates are whole UTC days: export writes `YYYY-MM-DDT00:00:00Z`; import takes the UTC day an
//! instant falls on.
//!
//! # Conformance
//!
//! Export and import both hold a document to what the specification requires of an "EoX Core
//! Information": the schema's rules (encoded here; the tests validate output with a JSON Schema
//! validator against our own statement of them and, when its files are present, against the
//! OASIS schema itself), its date and time rules (upper-case `T` and `Z`, the
//! RFC 3339 ABNF, no leap seconds) and its mandatory tests, each failure a typed
//! [`OpenEoxError`]:
//!
//! - 7.1.1 *Inconsistent EoL Date*: `end_of_life` is not earlier than any other date;
//! - 7.1.2 *Date and Time*: every date-time follows the rules above ([`Timestamp::parse`]);
//! - 7.1.3 *Inconsistent GA Date*: `general_availability` is not later than any other date.
//!
//! Comparisons are between instants, so time zones count. The recommended tests (7.2.1, 7.2.2)
//! and the informative one (7.3.1) are [`OpenEoxCore::warnings`]: a document that fails them is
//! still valid. Documents written by eol-core 0.1.0 carry a wrong `$schema`
//! ([`LEGACY_CORE_SCHEMA`]); import reads them, export never writes it.

extern crate std;

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::date::{Day, SECONDS_PER_DAY};
use crate::policy::SupportPolicy;

/// The only `$schema` value the OpenEoX Core 1.0 schema allows; export writes it.
pub const CORE_SCHEMA: &str = "https://docs.oasis-open.org/openeox/v1.0/schema/core.json";
/// The `$schema` eol-core 0.1.0 wrongly wrote (the metaschema's directory); read, never written.
pub const LEGACY_CORE_SCHEMA: &str =
    "https://docs.oasis-open.org/openeox/eox-core/v1.0/schema/core.json";
/// Largest document import reads, in bytes (a core document is a few hundred bytes).
pub const MAX_DOCUMENT_LEN: usize = 64 * 1024;
/// Longest date-time string import reads.
pub const MAX_TIMESTAMP_LEN: usize = 64;

/// An RFC 3339 date-time as OpenEoX restricts it: kept as written, with its instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timestamp {
    text: String,
    secs: u64,
    nanos: u32,
}

impl Timestamp {
    /// Parses a date-time by the OpenEoX Core "Date and Time" rules: RFC 3339 section 5.6
    /// (`YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)`), the separator an upper-case `T`, UTC an
    /// upper-case `Z`, and no leap second (`:60`). Fractions beyond nanoseconds are dropped.
    /// Instants before 1970 are outside what [`Day`] holds and are rejected.
    pub fn parse(s: &str) -> Result<Timestamp, OpenEoxError> {
        let (secs, nanos) = parse_instant(s).map_err(|why| OpenEoxError::Timestamp {
            value: s.chars().take(MAX_TIMESTAMP_LEN).collect(),
            why,
        })?;
        Ok(Timestamp {
            text: s.to_string(),
            secs,
            nanos,
        })
    }

    /// `YYYY-MM-DDThh:mm:ssZ` for unix seconds.
    pub fn from_unix(secs: u64) -> Timestamp {
        let rem = secs % SECONDS_PER_DAY;
        Timestamp {
            text: format!(
                "{}T{:02}:{:02}:{:02}Z",
                Day::from_unix(secs),
                rem / 3600,
                rem / 60 % 60,
                rem % 60
            ),
            secs,
            nanos: 0,
        }
    }

    /// Midnight UTC at the start of `day`, the form export writes dates in.
    pub fn at_day(day: Day) -> Timestamp {
        Timestamp::from_unix(day.to_unix())
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Unix seconds of the instant.
    pub fn unix_secs(&self) -> u64 {
        self.secs
    }

    /// The instant as (unix seconds, nanoseconds), for comparisons across time zones.
    pub fn instant(&self) -> (u64, u32) {
        (self.secs, self.nanos)
    }

    /// The UTC day of the instant.
    pub fn day(&self) -> Day {
        Day::from_unix(self.secs)
    }
}

/// `eox_timestamp_t`: a date-time, or "to be announced".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EoxDate {
    /// Not announced yet (`"tba"`); consumers treat it as later than any date.
    Tba,
    /// Announced.
    At(Timestamp),
}

impl EoxDate {
    /// Midnight UTC of `day`.
    pub fn on(day: Day) -> EoxDate {
        EoxDate::At(Timestamp::at_day(day))
    }

    fn from_option(day: Option<Day>) -> EoxDate {
        day.map_or(EoxDate::Tba, EoxDate::on)
    }

    /// The instant, if announced.
    pub fn timestamp(&self) -> Option<&Timestamp> {
        match self {
            EoxDate::Tba => None,
            EoxDate::At(t) => Some(t),
        }
    }

    /// The UTC day, if announced.
    pub fn day(&self) -> Option<Day> {
        self.timestamp().map(Timestamp::day)
    }

    fn as_str(&self) -> &str {
        match self {
            EoxDate::Tba => "tba",
            EoxDate::At(t) => t.as_str(),
        }
    }

    fn parse(s: &str) -> Result<EoxDate, OpenEoxError> {
        if s == "tba" {
            Ok(EoxDate::Tba)
        } else {
            Timestamp::parse(s).map(EoxDate::At)
        }
    }
}

/// Why an OpenEoX document could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenEoxError {
    /// Not JSON.
    #[error("OpenEoX document is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Longer than [`MAX_DOCUMENT_LEN`].
    #[error("OpenEoX document is {len} bytes, more than the {max} this reader accepts")]
    TooLarge {
        /// Bytes given.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The document is not a JSON object.
    #[error("OpenEoX core document must be a JSON object")]
    NotAnObject,
    /// A property the core schema does not define (it forbids unevaluated properties).
    #[error("OpenEoX core documents have no property {name:?}")]
    UnknownProperty {
        /// The property's name.
        name: String,
    },
    /// A property the core schema requires is absent.
    #[error("OpenEoX core document lacks the required property {name:?}")]
    MissingProperty {
        /// The property's name.
        name: &'static str,
    },
    /// A property that must be a string is not.
    #[error("OpenEoX property {name:?} must be a string")]
    NotAString {
        /// The property's name.
        name: &'static str,
    },
    /// A `$schema` other than the core schema.
    #[error("OpenEoX $schema {found:?} is not {CORE_SCHEMA:?}")]
    UnsupportedSchema {
        /// The value found.
        found: String,
    },
    /// A date-time that breaks the OpenEoX date and time rules (mandatory test 7.1.2).
    #[error(
        "timestamp {value:?} is not an OpenEoX date-time (RFC 3339, upper-case T and Z, no leap second, e.g. 2031-12-31T00:00:00Z): {why}"
    )]
    Timestamp {
        /// The text (at most [`MAX_TIMESTAMP_LEN`] characters of it).
        value: String,
        /// What was wrong.
        why: &'static str,
    },
    /// Mandatory test 7.1.1: a date later than `end_of_life`.
    #[error(
        "OpenEoX mandatory test 7.1.1: {field} {other} is later than end_of_life {end_of_life}"
    )]
    EndOfLifeTooEarly {
        /// The later property.
        field: &'static str,
        /// Its value.
        other: String,
        /// `end_of_life`.
        end_of_life: String,
    },
    /// Mandatory test 7.1.3: a date earlier than `general_availability`.
    #[error(
        "OpenEoX mandatory test 7.1.3: {field} {other} is earlier than general_availability {general_availability}"
    )]
    GeneralAvailabilityTooLate {
        /// The earlier property.
        field: &'static str,
        /// Its value.
        other: String,
        /// `general_availability`.
        general_availability: String,
    },
}

/// A recommended or informative OpenEoX test a valid document fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// Recommended test 7.2.1: `field` is `"tba"` although `end_of_life` has a date.
    TbaWhileEndOfLifeSet {
        /// The property that is `"tba"`.
        field: &'static str,
    },
    /// Recommended test 7.2.2: `general_availability` is `"tba"` although another date is set.
    GeneralAvailabilityTba,
    /// Informative test 7.3.1: `end_of_sales` is after `end_of_security_support`.
    SalesOutlastSecuritySupport,
}

impl core::fmt::Display for Warning {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Warning::TbaWhileEndOfLifeSet { field } => write!(
                f,
                "OpenEoX recommended test 7.2.1: {field} is \"tba\" although end_of_life has a date"
            ),
            Warning::GeneralAvailabilityTba => f.write_str(
                "OpenEoX recommended test 7.2.2: general_availability is \"tba\" although another date is set",
            ),
            Warning::SalesOutlastSecuritySupport => f.write_str(
                "OpenEoX informative test 7.3.1: end_of_sales is after end_of_security_support",
            ),
        }
    }
}

/// An OpenEoX core document. Its `$schema` is always [`CORE_SCHEMA`], so it is not a field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenEoxCore {
    /// Last day of any official support.
    pub end_of_life: EoxDate,
    /// Last day the product can be ordered (optional).
    pub end_of_sales: Option<EoxDate>,
    /// Last day of committed security remediations.
    pub end_of_security_support: EoxDate,
    /// First day the product is available (optional).
    pub general_availability: Option<EoxDate>,
    /// When the document was last changed.
    pub last_updated: Timestamp,
}

/// The properties of a core document, in the sorted order output uses.
const PROPERTIES: [&str; 6] = [
    "$schema",
    "end_of_life",
    "end_of_sales",
    "end_of_security_support",
    "general_availability",
    "last_updated",
];

impl OpenEoxCore {
    /// The document for `policy`, last updated at unix time `updated`; fails when the policy's
    /// dates would break a mandatory test (say, an end of sale after the end of life).
    pub fn from_policy(policy: &SupportPolicy, updated: u64) -> Result<OpenEoxCore, OpenEoxError> {
        let end_of_life = match (policy.end_of_security_updates, policy.end_of_cloud_service) {
            (Some(security), Some(cloud)) => EoxDate::on(security.max(cloud)),
            _ => EoxDate::Tba,
        };
        let doc = OpenEoxCore {
            end_of_life,
            end_of_sales: policy.end_of_sale.map(EoxDate::on),
            end_of_security_support: EoxDate::from_option(policy.end_of_security_updates),
            general_availability: Some(EoxDate::on(policy.placed_on_market)),
            last_updated: Timestamp::from_unix(updated),
        };
        doc.check()?;
        Ok(doc)
    }

    /// Copies the dates into `policy` as the module table says; disclosure flags and
    /// undeclared fields are left as they are.
    pub fn apply_to(&self, policy: &mut SupportPolicy) {
        if let Some(day) = self.general_availability.as_ref().and_then(EoxDate::day) {
            policy.placed_on_market = day;
        }
        if let Some(sales) = &self.end_of_sales {
            policy.end_of_sale = sales.day();
        }
        policy.end_of_security_updates = self.end_of_security_support.day();
        policy.end_of_cloud_service = self.end_of_life.day();
    }

    /// The mandatory tests 7.1.1 and 7.1.3 (7.1.2 holds for every [`Timestamp`]).
    pub fn check(&self) -> Result<(), OpenEoxError> {
        let others = [
            ("end_of_sales", self.end_of_sales.as_ref()),
            (
                "end_of_security_support",
                Some(&self.end_of_security_support),
            ),
            ("general_availability", self.general_availability.as_ref()),
        ];
        if let EoxDate::At(eol) = &self.end_of_life {
            for (field, date) in others {
                if let Some(t) = date.and_then(EoxDate::timestamp)
                    && t.instant() > eol.instant()
                {
                    return Err(OpenEoxError::EndOfLifeTooEarly {
                        field,
                        other: t.as_str().to_string(),
                        end_of_life: eol.as_str().to_string(),
                    });
                }
            }
        }
        if let Some(ga) = self
            .general_availability
            .as_ref()
            .and_then(EoxDate::timestamp)
        {
            let later = [
                ("end_of_life", Some(&self.end_of_life)),
                ("end_of_sales", self.end_of_sales.as_ref()),
                (
                    "end_of_security_support",
                    Some(&self.end_of_security_support),
                ),
            ];
            for (field, date) in later {
                if let Some(t) = date.and_then(EoxDate::timestamp)
                    && t.instant() < ga.instant()
                {
                    return Err(OpenEoxError::GeneralAvailabilityTooLate {
                        field,
                        other: t.as_str().to_string(),
                        general_availability: ga.as_str().to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The recommended tests 7.2.1 and 7.2.2 and the informative test 7.3.1 this document fails.
    pub fn warnings(&self) -> Vec<Warning> {
        let mut out = Vec::new();
        let is_tba = |d: Option<&EoxDate>| matches!(d, Some(EoxDate::Tba));
        if matches!(self.end_of_life, EoxDate::At(_)) {
            let fields = [
                ("end_of_sales", self.end_of_sales.as_ref()),
                (
                    "end_of_security_support",
                    Some(&self.end_of_security_support),
                ),
                ("general_availability", self.general_availability.as_ref()),
            ];
            for (field, date) in fields {
                if is_tba(date) {
                    out.push(Warning::TbaWhileEndOfLifeSet { field });
                }
            }
        }
        let any_date = [
            Some(&self.end_of_life),
            self.end_of_sales.as_ref(),
            Some(&self.end_of_security_support),
        ]
        .into_iter()
        .any(|d| d.and_then(EoxDate::timestamp).is_some());
        if is_tba(self.general_availability.as_ref()) && any_date {
            out.push(Warning::GeneralAvailabilityTba);
        }
        if let (Some(sales), Some(security)) = (
            self.end_of_sales.as_ref().and_then(EoxDate::timestamp),
            self.end_of_security_support.timestamp(),
        ) && sales.instant() > security.instant()
        {
            out.push(Warning::SalesOutlastSecuritySupport);
        }
        out
    }

    /// Pretty JSON with sorted keys, after the mandatory tests.
    pub fn to_json(&self) -> Result<String, OpenEoxError> {
        self.check()?;
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Reads a core document: JSON of at most [`MAX_DOCUMENT_LEN`] bytes, then
    /// [`from_value`](Self::from_value).
    pub fn from_json(json: &str) -> Result<OpenEoxCore, OpenEoxError> {
        if json.len() > MAX_DOCUMENT_LEN {
            return Err(OpenEoxError::TooLarge {
                len: json.len(),
                max: MAX_DOCUMENT_LEN,
            });
        }
        OpenEoxCore::from_value(&serde_json::from_str(json)?)
    }

    /// Reads a core document already parsed as JSON (say, the `core` of a shell statement):
    /// the schema's rules, the date and time rules and the mandatory tests, each failure typed.
    pub fn from_value(value: &Value) -> Result<OpenEoxCore, OpenEoxError> {
        let object = value.as_object().ok_or(OpenEoxError::NotAnObject)?;
        if let Some(name) = object.keys().find(|k| !PROPERTIES.contains(&k.as_str())) {
            return Err(OpenEoxError::UnknownProperty { name: name.clone() });
        }
        let schema = required_str(object, "$schema")?;
        if schema != CORE_SCHEMA && schema != LEGACY_CORE_SCHEMA {
            return Err(OpenEoxError::UnsupportedSchema {
                found: schema.chars().take(200).collect(),
            });
        }
        let date = |name| optional_str(object, name)?.map(EoxDate::parse).transpose();
        let doc = OpenEoxCore {
            end_of_life: EoxDate::parse(required_str(object, "end_of_life")?)?,
            end_of_sales: date("end_of_sales")?,
            end_of_security_support: EoxDate::parse(required_str(
                object,
                "end_of_security_support",
            )?)?,
            general_availability: date("general_availability")?,
            last_updated: Timestamp::parse(required_str(object, "last_updated")?)?,
        };
        doc.check()?;
        Ok(doc)
    }
}

fn optional_str<'a>(
    object: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, OpenEoxError> {
    object
        .get(name)
        .map(|v| v.as_str().ok_or(OpenEoxError::NotAString { name }))
        .transpose()
}

fn required_str<'a>(
    object: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, OpenEoxError> {
    optional_str(object, name)?.ok_or(OpenEoxError::MissingProperty { name })
}

impl Serialize for OpenEoxCore {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("$schema", CORE_SCHEMA)?;
        map.serialize_entry("end_of_life", self.end_of_life.as_str())?;
        if let Some(d) = &self.end_of_sales {
            map.serialize_entry("end_of_sales", d.as_str())?;
        }
        map.serialize_entry(
            "end_of_security_support",
            self.end_of_security_support.as_str(),
        )?;
        if let Some(d) = &self.general_availability {
            map.serialize_entry("general_availability", d.as_str())?;
        }
        map.serialize_entry("last_updated", self.last_updated.as_str())?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for OpenEoxCore {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        OpenEoxCore::from_value(&value).map_err(serde::de::Error::custom)
    }
}

/// The instant of an OpenEoX date-time, or what is wrong with it.
fn parse_instant(s: &str) -> Result<(u64, u32), &'static str> {
    if s.len() > MAX_TIMESTAMP_LEN {
        return Err("longer than 64 characters");
    }
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Result<u32, &'static str> {
        let part = b.get(from..from + len).ok_or("too short")?;
        part.iter().try_fold(0u32, |acc, &c| {
            if c.is_ascii_digit() {
                Ok(acc * 10 + u32::from(c - b'0'))
            } else {
                Err("digit expected")
            }
        })
    };
    let sep = |at: usize, want: u8, what: &'static str| -> Result<(), &'static str> {
        if b.get(at) == Some(&want) {
            Ok(())
        } else {
            Err(what)
        }
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    sep(4, b'-', "'-' expected between year, month and day")?;
    sep(7, b'-', "'-' expected between year, month and day")?;
    sep(
        10,
        b'T',
        "an upper-case 'T' and a time of day expected after the date",
    )?;
    let (h, mi, se) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    sep(13, b':', "':' expected in the time of day")?;
    sep(16, b':', "':' expected in the time of day")?;
    if h > 23 || mi > 59 {
        return Err("time of day out of range");
    }
    if se > 59 {
        return Err("leap seconds are not allowed in OpenEoX");
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(c - b'0');
            }
            i += 1;
        }
        if i == start {
            return Err("fraction digits expected after '.'");
        }
        for _ in (i - start).min(9)..9 {
            nanos *= 10;
        }
    }
    let offset: i64 = match b.get(i) {
        Some(b'Z') if b.len() == i + 1 => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == i + 6 => {
            sep(i + 3, b':', "offset expected as +hh:mm")?;
            let (oh, om) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if oh > 23 || om > 59 {
                return Err("offset out of range");
            }
            let o = i64::from(oh * 3600 + om * 60);
            if *sign == b'+' { o } else { -o }
        }
        _ => return Err("offset 'Z' (upper case) or +hh:mm expected at the end"),
    };
    let day = Day::from_ymd(y, mo, d).map_err(|_| "invalid calendar date, or before 1970")?;
    let local = i64::try_from(day.to_unix()).map_err(|_| "out of range")?
        + i64::from(h * 3600 + mi * 60 + se);
    let secs = u64::try_from(local - offset).map_err(|_| "before 1970")?;
    Ok((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: u32, m: u32, d: u32) -> Day {
        Day::from_ymd(y, m, d).unwrap()
    }

    #[test]
    fn timestamps_keep_text_and_instant() {
        let t = Timestamp::parse("2025-11-25T10:00:00.000-20:30").unwrap();
        assert_eq!(t.as_str(), "2025-11-25T10:00:00.000-20:30");
        assert_eq!(t.day(), day(2025, 11, 26));
        assert_eq!(
            t.unix_secs(),
            day(2025, 11, 26).to_unix() + 6 * 3600 + 30 * 60
        );
        let f = Timestamp::parse("2016-12-31T23:59:59.0123+00:00").unwrap();
        assert_eq!(f.instant().1, 12_300_000);
        let long = Timestamp::parse("2016-12-31T23:59:59.1234567899Z").unwrap();
        assert_eq!(long.instant().1, 123_456_789);
        assert_eq!(
            Timestamp::from_unix(1_780_000_000).as_str(),
            "2026-05-28T20:26:40Z"
        );
    }

    #[test]
    fn date_time_rules_of_openeox() {
        for (s, why) in [
            (
                "2025-12-31 12:00:00Z",
                "an upper-case 'T' and a time of day expected after the date",
            ),
            (
                "2025-12-17t14:00:00Z",
                "an upper-case 'T' and a time of day expected after the date",
            ),
            (
                "2025-11-19T16:00:00z",
                "offset 'Z' (upper case) or +hh:mm expected at the end",
            ),
            (
                "2016-12-31T23:59:60Z",
                "leap seconds are not allowed in OpenEoX",
            ),
            (
                "2031-02-30T00:00:00Z",
                "invalid calendar date, or before 1970",
            ),
            (
                "2031-12-31",
                "an upper-case 'T' and a time of day expected after the date",
            ),
            ("2031-12-31T25:00:00Z", "time of day out of range"),
            (
                "2031-12-31T00:00:00",
                "offset 'Z' (upper case) or +hh:mm expected at the end",
            ),
            (
                "1969-12-31T00:00:00Z",
                "invalid calendar date, or before 1970",
            ),
            ("1970-01-01T00:00:00+01:00", "before 1970"),
            (
                "2031-12-31T00:00:00+0100",
                "offset 'Z' (upper case) or +hh:mm expected at the end",
            ),
            (
                "2031-12-31T00:00:00.Z",
                "fraction digits expected after '.'",
            ),
        ] {
            match Timestamp::parse(s) {
                Err(OpenEoxError::Timestamp { why: got, .. }) => assert_eq!(got, why, "{s}"),
                other => panic!("{s}: {other:?}"),
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn timestamps_round_trip(secs in 0u64..253_402_300_799) {
            let t = Timestamp::from_unix(secs);
            proptest::prop_assert_eq!(Timestamp::parse(t.as_str()).unwrap(), t);
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,80}") {
            let _ = Timestamp::parse(&s);
        }
    }
}
