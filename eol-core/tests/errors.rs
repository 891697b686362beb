#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every error variant prints what was wrong and what was expected.

use eol_core::date::{Day, InvalidDate};
use eol_core::device::LifecycleError;
use eol_core::export::ExportError;
use eol_core::notice::{FirmwareVersion, SunsetDate};
use eol_core::obsolescence::ObsolescenceError;
use eol_core::openeox::{OpenEoxError, Timestamp, Warning};

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
                date: SunsetDate::EndOfCloud,
                published: day,
                proposed: Day(0),
            }
            .to_string(),
            "notice moves the published end of cloud service from 2031-12-31 to 1970-01-01; only a shutdown notice may shorten it",
        ),
        (
            LifecycleError::FinalFirmwareLowered {
                announced: FirmwareVersion {
                    major: 3,
                    minor: 9,
                    patch: 0,
                },
                proposed: FirmwareVersion {
                    major: 3,
                    minor: 8,
                    patch: 1,
                },
            }
            .to_string(),
            "notice lowers the announced final firmware from 3.9.0 to 3.8.1; only a shutdown notice may lower it",
        ),
        (
            LifecycleError::OwnerReleaseWithdrawn { announced: day }.to_string(),
            "notice withdraws the owner release announced for 2031-12-31; no notice may",
        ),
        (
            LifecycleError::OwnerReleasePostponed {
                announced: day,
                proposed: day.plus_days(1),
            }
            .to_string(),
            "notice postpones the owner release announced for 2031-12-31 to 2032-01-01; no notice may",
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
            Timestamp::parse("2031-12-31").unwrap_err().to_string(),
            "timestamp \"2031-12-31\" is not an OpenEoX date-time (RFC 3339, upper-case T and Z, no leap second, e.g. 2031-12-31T00:00:00Z): an upper-case 'T' and a time of day expected after the date",
        ),
        (
            OpenEoxError::MissingProperty {
                name: "end_of_life",
            }
            .to_string(),
            "OpenEoX core document lacks the required property \"end_of_life\"",
        ),
        (
            OpenEoxError::UnknownProperty { name: "x".into() }.to_string(),
            "OpenEoX core documents have no property \"x\"",
        ),
        (
            OpenEoxError::UnsupportedSchema { found: "y".into() }.to_string(),
            "OpenEoX $schema \"y\" is not \"https://docs.oasis-open.org/openeox/v1.0/schema/core.json\"",
        ),
        (
            OpenEoxError::TooLarge {
                len: 70_000,
                max: 65_536,
            }
            .to_string(),
            "OpenEoX document is 70000 bytes, more than the 65536 this reader accepts",
        ),
        (
            OpenEoxError::NotAString {
                name: "last_updated",
            }
            .to_string(),
            "OpenEoX property \"last_updated\" must be a string",
        ),
        (
            OpenEoxError::NotAnObject.to_string(),
            "OpenEoX core document must be a JSON object",
        ),
        (
            OpenEoxError::EndOfLifeTooEarly {
                field: "end_of_sales",
                other: "2033-01-01T00:00:00Z".into(),
                end_of_life: "2032-03-01T00:00:00Z".into(),
            }
            .to_string(),
            "OpenEoX mandatory test 7.1.1: end_of_sales 2033-01-01T00:00:00Z is later than end_of_life 2032-03-01T00:00:00Z",
        ),
        (
            Warning::TbaWhileEndOfLifeSet {
                field: "end_of_sales",
            }
            .to_string(),
            "OpenEoX recommended test 7.2.1: end_of_sales is \"tba\" although end_of_life has a date",
        ),
    ];
    for (got, want) in messages {
        assert_eq!(got, want);
    }
}
