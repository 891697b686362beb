#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every error variant prints what was wrong and what was expected.

use eol_core::date::{Day, InvalidDate};
use eol_core::device::LifecycleError;
use eol_core::export::ExportError;
use eol_core::obsolescence::ObsolescenceError;
use eol_core::openeox::{OpenEoxError, parse_rfc3339_secs};

#[test]
fn every_variant_displays() {
    let day = Day::from_ymd(2031, 12, 31).unwrap();
    let messages = [
        (
            InvalidDate {
                year: 2023,
                month: 2,
                day: 29,
            }
            .to_string(),
            "date 2023-02-29 is not a valid calendar date in 1970..=9999",
        ),
        (
            LifecycleError::Replayed {
                sequence: 3,
                accepted: 5,
            }
            .to_string(),
            "notice sequence 3 is not newer than accepted 5",
        ),
        (
            LifecycleError::ShortensPublished {
                what: "end of cloud service",
                published: day,
                proposed: Day(0),
            }
            .to_string(),
            "notice moves the published end of cloud service from day 2031-12-31 to day 1970-01-01; only a shutdown notice may shorten it",
        ),
        (
            LifecycleError::OwnerReleaseNotOffered.to_string(),
            "no accepted notice offers an owner release",
        ),
        (
            LifecycleError::OwnerReleaseNotYet {
                opens: day,
                today: Day(0),
            }
            .to_string(),
            "owner release opens on 2031-12-31, the device's best known day is 1970-01-01",
        ),
        (
            ExportError::BadName {
                name: "../x".into(),
                why: "no paths",
            }
            .to_string(),
            "export file name \"../x\" rejected: no paths",
        ),
        (
            ExportError::Io {
                path: "/nope".into(),
                source: std::io::Error::other("denied"),
            }
            .to_string(),
            "export I/O error on /nope: denied",
        ),
        (
            ExportError::BadSumsLine { line: 2 }.to_string(),
            "SHA256SUMS line 2 is malformed, expected \"<64 hex digits>  <file name>\"",
        ),
        (
            ObsolescenceError::Confidence(1.5).to_string(),
            "confidence 1.5 must be greater than 0 and less than 1",
        ),
        (
            ObsolescenceError::StorageLoss(-0.5).to_string(),
            "storage loss -0.5 must be at least 0 and less than 1",
        ),
        (
            ObsolescenceError::TooLarge(2e12).to_string(),
            "expected replacements 2000000000000 exceed the supported 1e12",
        ),
        (
            parse_rfc3339_secs("2031-12-31").unwrap_err().to_string(),
            "timestamp \"2031-12-31\" is not RFC 3339 (expected e.g. 2031-12-31T00:00:00Z): 'T' and a time of day expected after the date",
        ),
        (
            OpenEoxError::NoGeneralAvailability.to_string(),
            "general_availability is missing or \"tba\"; expected the placed-on-market date",
        ),
    ];
    for (got, want) in messages {
        assert_eq!(got, want);
    }
}
