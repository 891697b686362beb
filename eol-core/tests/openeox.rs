#![allow(clippy::unwrap_used, clippy::expect_used)]
//! OpenEoX conformance that needs nothing from outside the repository. Every document eol-core
//! writes is validated with the `jsonschema` crate against `tests/openeox/core-rules.schema.json`
//! (our own statement of the OpenEoX Core 1.0 rules a schema can hold), documents of our own
//! shaped like each official example import and round-trip byte for byte, and documents of our
//! own pass or fail each of the specification's tests with the exact error or warning.
//!
//! [`oasis`] runs the checks against the real OASIS schema, examples and test documents, read at
//! run time from `$OPENEOX_DIR` (see the crate README); without them it prints a `SKIP:` line.

#[path = "openeox/oasis.rs"]
mod oasis;

use std::path::{Path, PathBuf};

use eol_core::date::Day;
use eol_core::openeox::{
    CORE_SCHEMA, EoxDate, LEGACY_CORE_SCHEMA, OpenEoxCore, OpenEoxError, Warning,
};
use eol_core::policy::SupportPolicy;
use jsonschema::Validator;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

/// Our own test material (`tests/openeox/`).
fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openeox")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Our encoding of the core rules; `format` is asserted, as OpenEoX requires.
fn rules() -> &'static Validator {
    static V: std::sync::OnceLock<Validator> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        jsonschema::options()
            .should_validate_formats(true)
            .build(&json(&dir().join("core-rules.schema.json")))
            .unwrap()
    })
}

fn errors(validator: &Validator, doc: &Value) -> Vec<String> {
    validator.iter_errors(doc).map(|e| e.to_string()).collect()
}

fn day(y: u32, m: u32, d: u32) -> Day {
    Day::from_ymd(y, m, d).unwrap()
}

fn policy() -> SupportPolicy {
    let mut p = SupportPolicy::new(day(2026, 3, 1));
    p.end_of_sale = Some(day(2029, 3, 1));
    p.end_of_security_updates = Some(day(2031, 3, 1));
    p.end_of_cloud_service = Some(day(2032, 3, 1));
    p
}

fn exported(p: &SupportPolicy) -> Value {
    let text = OpenEoxCore::from_policy(p, 1_780_000_000)
        .unwrap()
        .to_json()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A core document with `$schema` and the given members.
fn core_doc(members: &[(&str, &str)]) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("$schema".into(), Value::from(CORE_SCHEMA));
    for (key, value) in members {
        map.insert((*key).to_string(), Value::from(*value));
    }
    Value::Object(map)
}

/// Changes a schema must reject, each applied to a valid export: the wrong `$schema` eol-core
/// 0.1.0 wrote, dates of forms the schema forbids, an unknown member, a missing required one.
fn invalid_variants() -> Vec<(&'static str, Value)> {
    let base = exported(&policy());
    let mut out = Vec::new();
    for (key, value) in [
        ("$schema", Value::from(LEGACY_CORE_SCHEMA)),
        ("end_of_life", Value::from("2031-12-31 00:00:00Z")),
        ("end_of_life", Value::from("soon")),
        ("end_of_sales", Value::from("2031-02-30T00:00:00Z")),
        ("end_of_security_support", Value::from(20_310_301)),
        ("general_availability", Value::from("TBA")),
        ("last_updated", Value::from("tba")),
        ("extra", Value::from(1)),
    ] {
        let mut doc = base.clone();
        doc[key] = value;
        out.push((key, doc));
    }
    for key in [
        "$schema",
        "end_of_life",
        "end_of_security_support",
        "last_updated",
    ] {
        let mut doc = base.clone();
        doc.as_object_mut().unwrap().remove(key);
        out.push((key, doc));
    }
    out
}

#[test]
fn our_rules_are_strict() {
    // A schema that accepted everything would make the other tests pass.
    for (key, doc) in invalid_variants() {
        assert!(!errors(rules(), &doc).is_empty(), "{key}: {doc}");
    }
    // The OpenEoX date-time rules (mandatory test 7.1.2) the JSON Schema format alone lets by.
    for bad in [
        "2031-12-31t00:00:00Z",
        "2031-12-31T00:00:00z",
        "2016-12-31T23:59:60Z",
    ] {
        let mut doc = exported(&policy());
        doc["end_of_life"] = Value::from(bad);
        assert!(!errors(rules(), &doc).is_empty(), "{bad}");
    }
    // Optional members may be left out, and every date may be "tba" but the last update.
    let minimal = core_doc(&[
        ("end_of_life", "tba"),
        ("end_of_security_support", "tba"),
        ("last_updated", "2026-01-01T00:00:00Z"),
    ]);
    assert_eq!(errors(rules(), &minimal), Vec::<String>::new());
}

#[test]
fn export_is_valid_against_the_rules() {
    let full = exported(&policy());
    assert_eq!(errors(rules(), &full), Vec::<String>::new());
    assert_eq!(full["$schema"], CORE_SCHEMA);
    assert_eq!(full["general_availability"], "2026-03-01T00:00:00Z");
    assert_eq!(full["end_of_sales"], "2029-03-01T00:00:00Z");
    assert_eq!(full["end_of_security_support"], "2031-03-01T00:00:00Z");
    // The last day of any support: the later of security updates and cloud service.
    assert_eq!(full["end_of_life"], "2032-03-01T00:00:00Z");
    assert_eq!(full["last_updated"], "2026-05-28T20:26:40Z");
    // Keys come out sorted, as the specification asks of a library.
    let text = OpenEoxCore::from_policy(&policy(), 0)
        .unwrap()
        .to_json()
        .unwrap();
    let keys: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"')?.split('"').next())
        .collect();
    assert_eq!(
        keys,
        [
            "$schema",
            "end_of_life",
            "end_of_sales",
            "end_of_security_support",
            "general_availability",
            "last_updated"
        ]
    );

    // Undeclared dates: the optional end_of_sales is left out, required ones are "tba".
    let doc = exported(&sparse_policy());
    assert_eq!(errors(rules(), &doc), Vec::<String>::new());
    assert_eq!(doc["end_of_security_support"], "tba");
    assert_eq!(doc["end_of_life"], "tba");
    assert!(doc.get("end_of_sales").is_none());
    let core = OpenEoxCore::from_value(&doc).unwrap();
    assert_eq!(core.warnings(), vec![]);
}

/// A policy that declares only its placing on the market and the end of cloud service.
fn sparse_policy() -> SupportPolicy {
    let mut p = SupportPolicy::new(day(2026, 3, 1));
    p.end_of_cloud_service = Some(day(2032, 3, 1));
    p
}

#[test]
fn export_refuses_dates_that_fail_a_mandatory_test() {
    let mut late_sale = policy();
    late_sale.end_of_sale = Some(day(2033, 1, 1));
    assert!(matches!(
        OpenEoxCore::from_policy(&late_sale, 0),
        Err(OpenEoxError::EndOfLifeTooEarly {
            field: "end_of_sales",
            ..
        })
    ));
    let mut late_launch = policy();
    late_launch.placed_on_market = day(2031, 6, 1);
    late_launch.end_of_sale = None;
    let err = OpenEoxCore::from_policy(&late_launch, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "OpenEoX mandatory test 7.1.3: end_of_security_support 2031-03-01T00:00:00Z is earlier than general_availability 2031-06-01T00:00:00Z"
    );
}

#[test]
fn round_trip_through_json() {
    let doc = OpenEoxCore::from_policy(&policy(), 1_780_000_000).unwrap();
    let back = OpenEoxCore::from_json(&doc.to_json().unwrap()).unwrap();
    assert_eq!(back, doc);
    let mut p = SupportPolicy::new(day(2000, 1, 1));
    back.apply_to(&mut p);
    assert_eq!(p.placed_on_market, day(2026, 3, 1));
    assert_eq!(p.end_of_sale, Some(day(2029, 3, 1)));
    assert_eq!(p.end_of_security_updates, Some(day(2031, 3, 1)));
    assert_eq!(p.end_of_cloud_service, Some(day(2032, 3, 1)));
    // serde round trip too (a core document inside the caller's own JSON).
    let value = serde_json::to_value(&doc).unwrap();
    let again: OpenEoxCore = serde_json::from_value(value).unwrap();
    assert_eq!(again, doc);
}

/// Our documents in `tests/openeox/shapes/`, by file name.
fn shapes() -> Vec<(String, String)> {
    files_in(&dir().join("shapes"))
}

/// (file name, text) of every file in `dir`, sorted by name.
fn files_in(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, read(&path))
        })
        .collect();
    out.sort();
    out
}

/// What a shape document says: the warnings it earns, and (placing, end of sale, end of security
/// updates, end of cloud service) once applied to [`policy`].
type ShapeExpectation = (
    &'static str,
    Vec<Warning>,
    (Day, Option<Day>, Option<Day>, Option<Day>),
);

#[test]
fn documents_shaped_like_the_official_examples_import_and_round_trip() {
    let placed = day(2026, 3, 1);
    let sale = Some(day(2029, 3, 1));
    let mut expected: [ShapeExpectation; 7] = [
        // Every member but general_availability; the end of sale at the last second of its day.
        (
            "all-ends-no-ga.json",
            vec![],
            (
                placed,
                Some(day(2030, 10, 15)),
                Some(day(2033, 3, 31)),
                Some(day(2033, 3, 31)),
            ),
        ),
        // "tba" clears what it names; an absent end_of_sales says nothing.
        ("all-tba.json", vec![], (placed, sale, None, None)),
        (
            "end-of-life-tba.json",
            vec![],
            (placed, sale, Some(day(2031, 9, 30)), None),
        ),
        (
            "security-support-tba.json",
            vec![Warning::TbaWhileEndOfLifeSet {
                field: "end_of_security_support",
            }],
            (placed, sale, None, Some(day(2034, 1, 1))),
        ),
        (
            "two-dates.json",
            vec![],
            (
                placed,
                sale,
                Some(day(2031, 6, 30)),
                Some(day(2032, 12, 31)),
            ),
        ),
        (
            "same-end.json",
            vec![],
            (placed, sale, Some(day(2030, 5, 20)), Some(day(2030, 5, 20))),
        ),
        // Offsets count: written on the 10th, 12th and 11th, all three fall on 11 January UTC,
        // and end_of_life, the earliest local date, is the latest instant.
        (
            "offsets.json",
            vec![],
            (
                placed,
                Some(day(2031, 1, 11)),
                Some(day(2031, 1, 11)),
                Some(day(2031, 1, 11)),
            ),
        ),
    ];
    expected.sort_by_key(|e| e.0);
    let found = shapes();
    assert_eq!(
        found.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        expected.iter().map(|(n, ..)| *n).collect::<Vec<_>>()
    );
    for ((name, text), (_, warnings, dates)) in found.iter().zip(expected) {
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(errors(rules(), &value), Vec::<String>::new(), "{name}");
        let core = OpenEoxCore::from_json(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Re-export is the same bytes: values as written, keys sorted, nothing added.
        assert_eq!(core.to_json().unwrap(), text.trim_end(), "{name}");
        assert_eq!(core.general_availability, None, "{name}");
        assert_eq!(core.warnings(), warnings, "{name}");
        let mut p = policy();
        core.apply_to(&mut p);
        let got = (
            p.placed_on_market,
            p.end_of_sale,
            p.end_of_security_updates,
            p.end_of_cloud_service,
        );
        assert_eq!(got, dates, "{name}");
    }
    let offsets = OpenEoxCore::from_json(&read(&dir().join("shapes/offsets.json"))).unwrap();
    let instant = |d: &EoxDate| d.timestamp().unwrap().instant();
    assert!(instant(&offsets.end_of_life) > instant(&offsets.end_of_security_support));
    assert_eq!(
        instant(&offsets.end_of_life).0,
        day(2031, 1, 11).to_unix() + 5 * 3600
    );
}

/// What the specification's tests make of a document: a mandatory failure is an import error,
/// a recommended or informative one a warning (the exact list of them).
#[derive(Debug)]
enum Verdict {
    /// 7.1.1, naming the later member.
    EndOfLifeTooEarly(&'static str),
    /// 7.1.2, with the offending text.
    BadTimestamp(&'static str),
    /// 7.1.3, naming the earlier member.
    GeneralAvailabilityTooLate(&'static str),
    /// Valid, with exactly these warnings.
    Valid(Vec<Warning>),
}

/// Our own documents for each of the specification's tests, failing and passing.
fn specification_cases() -> Vec<(&'static str, Value, Verdict)> {
    use Verdict::*;
    const UPDATED: (&str, &str) = ("last_updated", "2026-02-02T10:00:00Z");
    let tba_while = |field| Warning::TbaWhileEndOfLifeSet { field };
    let case = |test, members: &[(&str, &str)], verdict| {
        let mut all = members.to_vec();
        if !all.iter().any(|(k, _)| *k == "last_updated") {
            all.push(UPDATED);
        }
        (test, core_doc(&all), verdict)
    };
    vec![
        // 7.1.1 Inconsistent EoL Date: nothing is later than end_of_life.
        case(
            "7.1.1",
            &[
                ("end_of_life", "2030-06-30T12:00:00Z"),
                ("end_of_security_support", "2030-07-01T00:00:00Z"),
            ],
            EndOfLifeTooEarly("end_of_security_support"),
        ),
        case(
            "7.1.1",
            &[
                ("end_of_life", "2030-06-30T12:00:00Z"),
                ("end_of_sales", "2030-06-30T12:00:01Z"),
                ("end_of_security_support", "2030-01-01T00:00:00Z"),
            ],
            EndOfLifeTooEarly("end_of_sales"),
        ),
        case(
            "7.1.1",
            &[
                ("end_of_life", "2030-06-30T12:00:00Z"),
                ("end_of_security_support", "2030-06-01T00:00:00Z"),
                ("general_availability", "2030-06-30T12:00:00.5Z"),
            ],
            EndOfLifeTooEarly("general_availability"),
        ),
        // An earlier local date that is the later instant.
        case(
            "7.1.1",
            &[
                ("end_of_life", "2030-06-30T23:00:00+02:00"),
                ("end_of_security_support", "2030-06-30T22:00:00Z"),
            ],
            EndOfLifeTooEarly("end_of_security_support"),
        ),
        case(
            "7.1.1",
            &[
                ("end_of_life", "2030-06-30T23:00:00-02:00"),
                ("end_of_security_support", "2030-07-01T00:30:00Z"),
            ],
            Valid(vec![]),
        ),
        case(
            "7.1.1",
            &[
                ("end_of_life", "tba"),
                ("end_of_sales", "2041-01-01T00:00:00Z"),
                ("end_of_security_support", "2040-01-01T00:00:00Z"),
            ],
            Valid(vec![Warning::SalesOutlastSecuritySupport]),
        ),
        case(
            "7.1.1",
            &[
                ("end_of_life", "2030-06-30T12:00:00Z"),
                ("end_of_sales", "2030-06-30T12:00:00Z"),
                ("end_of_security_support", "2030-06-30T12:00:00Z"),
                ("general_availability", "2030-06-30T12:00:00Z"),
            ],
            Valid(vec![]),
        ),
        // 7.1.2 Date and Time: RFC 3339 with upper-case T and Z, and no leap second.
        case(
            "7.1.2",
            &[
                ("end_of_life", "2030-06-30 12:00:00Z"),
                ("end_of_security_support", "tba"),
            ],
            BadTimestamp("2030-06-30 12:00:00Z"),
        ),
        case(
            "7.1.2",
            &[
                ("end_of_life", "tba"),
                ("end_of_security_support", "2030-06-30t12:00:00Z"),
            ],
            BadTimestamp("2030-06-30t12:00:00Z"),
        ),
        case(
            "7.1.2",
            &[
                ("end_of_life", "tba"),
                ("end_of_security_support", "tba"),
                ("last_updated", "2026-02-02T10:00:00z"),
            ],
            BadTimestamp("2026-02-02T10:00:00z"),
        ),
        case(
            "7.1.2",
            &[
                ("end_of_life", "tba"),
                ("end_of_sales", "2030-12-31T23:59:60.25+00:00"),
                ("end_of_security_support", "tba"),
            ],
            BadTimestamp("2030-12-31T23:59:60.25+00:00"),
        ),
        case(
            "7.1.2",
            &[
                ("end_of_life", "tba"),
                ("end_of_security_support", "tba"),
                ("general_availability", "2024-01-01T00:00:00+0100"),
            ],
            BadTimestamp("2024-01-01T00:00:00+0100"),
        ),
        case(
            "7.1.2",
            &[
                ("end_of_life", "2030-02-29T00:00:00Z"),
                ("end_of_security_support", "tba"),
            ],
            BadTimestamp("2030-02-29T00:00:00Z"),
        ),
        case(
            "7.1.2",
            &[
                ("end_of_life", "tba"),
                ("end_of_security_support", "2030-06-30"),
            ],
            BadTimestamp("2030-06-30"),
        ),
        case(
            "7.1.2",
            &[
                ("end_of_life", "2032-02-29T08:00:00.123456789+05:45"),
                ("end_of_security_support", "2032-02-28T23:59:59.5Z"),
                ("general_availability", "2028-02-29T00:00:00-08:00"),
            ],
            Valid(vec![]),
        ),
        // 7.1.3 Inconsistent GA Date: nothing is earlier than general_availability.
        case(
            "7.1.3",
            &[
                ("end_of_life", "tba"),
                ("end_of_security_support", "2030-12-31T23:59:59Z"),
                ("general_availability", "2031-01-01T00:00:00Z"),
            ],
            GeneralAvailabilityTooLate("end_of_security_support"),
        ),
        case(
            "7.1.3",
            &[
                ("end_of_life", "tba"),
                ("end_of_sales", "2029-05-05T09:59:59.999Z"),
                ("end_of_security_support", "tba"),
                ("general_availability", "2029-05-05T10:00:00Z"),
            ],
            GeneralAvailabilityTooLate("end_of_sales"),
        ),
        case(
            "7.1.3",
            &[
                ("end_of_life", "2035-01-01T00:00:00Z"),
                ("end_of_security_support", "2030-01-01T00:00:00Z"),
                ("general_availability", "2030-01-01T00:00:00Z"),
            ],
            Valid(vec![]),
        ),
        // 7.2.1 (recommended): no "tba" beside a dated end_of_life.
        case(
            "7.2.1",
            &[
                ("end_of_life", "2035-01-01T00:00:00Z"),
                ("end_of_sales", "tba"),
                ("end_of_security_support", "2034-01-01T00:00:00Z"),
            ],
            Valid(vec![tba_while("end_of_sales")]),
        ),
        case(
            "7.2.1",
            &[
                ("end_of_life", "2035-01-01T00:00:00Z"),
                ("end_of_security_support", "2034-01-01T00:00:00Z"),
                ("general_availability", "tba"),
            ],
            Valid(vec![
                tba_while("general_availability"),
                Warning::GeneralAvailabilityTba,
            ]),
        ),
        case(
            "7.2.1",
            &[
                ("end_of_life", "tba"),
                ("end_of_sales", "tba"),
                ("end_of_security_support", "tba"),
                ("general_availability", "tba"),
            ],
            Valid(vec![]),
        ),
        // 7.2.2 (recommended): general_availability is not "tba" once any other date is set.
        case(
            "7.2.2",
            &[
                ("end_of_life", "tba"),
                ("end_of_sales", "2030-01-01T00:00:00Z"),
                ("end_of_security_support", "tba"),
                ("general_availability", "tba"),
            ],
            Valid(vec![Warning::GeneralAvailabilityTba]),
        ),
        case(
            "7.2.2",
            &[
                ("end_of_life", "tba"),
                ("end_of_security_support", "2030-01-01T00:00:00Z"),
                ("general_availability", "2027-01-01T00:00:00Z"),
            ],
            Valid(vec![]),
        ),
        // 7.3.1 (informative): sales end no later than security support.
        case(
            "7.3.1",
            &[
                ("end_of_life", "2035-01-01T00:00:00Z"),
                ("end_of_sales", "2031-01-01T00:00:01Z"),
                ("end_of_security_support", "2031-01-01T00:00:00Z"),
            ],
            Valid(vec![Warning::SalesOutlastSecuritySupport]),
        ),
        case(
            "7.3.1",
            &[
                ("end_of_life", "2035-01-01T00:00:00Z"),
                ("end_of_sales", "2031-01-01T03:00:00+03:00"),
                ("end_of_security_support", "2031-01-01T00:00:00Z"),
            ],
            Valid(vec![]),
        ),
    ]
}

#[test]
fn specification_tests_pass_and_fail_on_our_documents() {
    for (test, doc, verdict) in specification_cases() {
        let result = OpenEoxCore::from_value(&doc);
        let ok = match (&verdict, &result) {
            (
                Verdict::EndOfLifeTooEarly(want),
                Err(OpenEoxError::EndOfLifeTooEarly { field, .. }),
            )
            | (
                Verdict::GeneralAvailabilityTooLate(want),
                Err(OpenEoxError::GeneralAvailabilityTooLate { field, .. }),
            ) => want == field,
            (Verdict::BadTimestamp(want), Err(OpenEoxError::Timestamp { value, .. })) => {
                want == value
            }
            (Verdict::Valid(want), Ok(core)) => *want == core.warnings(),
            _ => false,
        };
        assert!(ok, "{test} {doc}: want {verdict:?}, got {result:?}");
        // The schema sees forms, not order: it rejects exactly the 7.1.2 failures.
        let schema_ok = errors(rules(), &doc).is_empty();
        assert_eq!(
            schema_ok,
            !matches!(verdict, Verdict::BadTimestamp(_)),
            "{test} {doc}"
        );
        // Whatever imports writes back as it was read.
        if let Ok(core) = result {
            let out: Value = serde_json::from_str(&core.to_json().unwrap()).unwrap();
            assert_eq!(out, doc, "{test}");
        }
    }
}

#[test]
fn import_errors_are_typed() {
    let base = exported(&policy());
    let with = |key: &str, value: Value| {
        let mut doc = base.clone();
        doc[key] = value;
        OpenEoxCore::from_value(&doc).unwrap_err()
    };
    assert!(matches!(
        with("product", Value::from("x")),
        OpenEoxError::UnknownProperty { name } if name == "product"
    ));
    assert!(matches!(
        with("$schema", Value::from("https://example.com/core.json")),
        OpenEoxError::UnsupportedSchema { .. }
    ));
    assert!(matches!(
        with("end_of_life", Value::from(2031)),
        OpenEoxError::NotAString {
            name: "end_of_life"
        }
    ));
    let mut missing = base.clone();
    missing
        .as_object_mut()
        .unwrap()
        .remove("end_of_security_support");
    assert!(matches!(
        OpenEoxCore::from_value(&missing),
        Err(OpenEoxError::MissingProperty {
            name: "end_of_security_support"
        })
    ));
    assert!(matches!(
        OpenEoxCore::from_json("[1]"),
        Err(OpenEoxError::NotAnObject)
    ));
    assert!(matches!(
        OpenEoxCore::from_json("{"),
        Err(OpenEoxError::Json(_))
    ));
    let huge = format!("\"{}\"", "x".repeat(70_000));
    assert!(matches!(
        OpenEoxCore::from_json(&huge),
        Err(OpenEoxError::TooLarge { len: 70_002, .. })
    ));
    // What eol-core 0.1.0 wrote still reads, and is written back with the right $schema.
    let mut legacy = base.clone();
    legacy["$schema"] = Value::from(LEGACY_CORE_SCHEMA);
    let doc = OpenEoxCore::from_value(&legacy).unwrap();
    let out: Value = serde_json::from_str(&doc.to_json().unwrap()).unwrap();
    assert_eq!(out, base);
}

fn arb_policy() -> impl Strategy<Value = SupportPolicy> {
    (
        0u32..20_000,
        proptest::option::of(0u32..8_000),
        proptest::option::of(0u32..8_000),
        proptest::option::of(0u32..8_000),
    )
        .prop_map(|(placed, sale, security, cloud)| {
            let placed = Day(10_000 + placed);
            let mut p = SupportPolicy::new(placed);
            p.end_of_sale = sale.map(|d| placed.plus_days(d));
            p.end_of_security_updates = security.map(|d| placed.plus_days(d));
            p.end_of_cloud_service = cloud.map(|d| placed.plus_days(d));
            p
        })
}

/// Export of `p` either refuses with a mandatory-test error, only when its dates really are out
/// of order, or writes a document every schema in `schemas` accepts and that imports back to the
/// same dates.
fn check_export(
    p: &SupportPolicy,
    updated: u64,
    schemas: &[&Validator],
) -> Result<(), TestCaseError> {
    match OpenEoxCore::from_policy(p, updated) {
        Ok(doc) => {
            let value: Value = serde_json::from_str(&doc.to_json().unwrap()).unwrap();
            for schema in schemas {
                prop_assert_eq!(errors(schema, &value), Vec::<String>::new());
            }
            let back = OpenEoxCore::from_value(&value).unwrap();
            prop_assert_eq!(&back, &doc);
            let mut q = SupportPolicy::new(Day(0));
            back.apply_to(&mut q);
            prop_assert_eq!(q.placed_on_market, p.placed_on_market);
            prop_assert_eq!(q.end_of_sale, p.end_of_sale);
            prop_assert_eq!(q.end_of_security_updates, p.end_of_security_updates);
        }
        Err(
            OpenEoxError::EndOfLifeTooEarly { .. }
            | OpenEoxError::GeneralAvailabilityTooLate { .. },
        ) => {
            let last = p
                .end_of_security_updates
                .zip(p.end_of_cloud_service)
                .map(|(a, b)| a.max(b));
            let dates = [p.end_of_sale, p.end_of_security_updates, last];
            let before_launch = dates.iter().flatten().any(|d| *d < p.placed_on_market);
            let after_end = last.is_some_and(|l| dates.iter().flatten().any(|d| *d > l));
            prop_assert!(before_launch || after_end);
        }
        Err(e) => prop_assert!(false, "unexpected {e}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever the policy, export refuses or writes a document our rules accept.
    #[test]
    fn every_export_is_schema_valid(p in arb_policy(), updated in 0u64..4_000_000_000) {
        check_export(&p, updated, &[rules()])?;
    }
}

/// A date-time that is valid three times in four, else broken in a way OpenEoX forbids.
fn arb_date_time() -> impl Strategy<Value = String> {
    let valid = (
        1970u32..2100,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..60,
        proptest::option::of(0u32..1000),
        prop_oneof![
            Just("Z".to_string()),
            (0u32..24, 0u32..60, any::<bool>())
                .prop_map(|(h, m, plus)| format!("{}{h:02}:{m:02}", if plus { '+' } else { '-' }))
        ],
    )
        .prop_map(|(y, mo, d, h, mi, s, frac, off)| {
            let frac = frac.map_or(String::new(), |f| format!(".{f:03}"));
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{off}")
        });
    prop_oneof![
        3 => valid.clone(),
        1 => (valid, 0usize..5).prop_map(|(t, how)| match how {
            0 => t.replacen('T', " ", 1),
            1 => t.replacen('T', "t", 1),
            2 => t.replace('Z', "z"),
            3 => format!("{}:60{}", &t[..16], &t[19..]),
            _ => format!("{}13{}", &t[..5], &t[7..]),
        }),
    ]
}

/// Documents with the core's members, each present or not, dated, "tba" or junk.
fn arb_document() -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        4 => arb_date_time(),
        1 => Just("tba".to_string()),
        1 => "\\PC{0,30}",
    ];
    let keys = [
        "end_of_life",
        "end_of_sales",
        "end_of_security_support",
        "general_availability",
        "last_updated",
    ];
    (
        proptest::collection::vec(value, 5),
        proptest::collection::vec(0u8..10, 5),
        arb_date_time(),
    )
        .prop_map(move |(values, presence, updated)| {
            let mut map = serde_json::Map::new();
            map.insert("$schema".into(), Value::from(CORE_SCHEMA));
            for ((key, value), p) in keys.iter().zip(values).zip(presence) {
                // Required keys are left out one time in ten, optional ones half the time.
                let required = !key.starts_with("end_of_sales") && !key.starts_with("general");
                if p >= if required { 1 } else { 5 } {
                    let v = if *key == "last_updated" {
                        updated.clone()
                    } else {
                        value
                    };
                    map.insert((*key).to_string(), Value::from(v));
                }
            }
            Value::Object(map)
        })
}

/// `count` documents from [`arb_document`], the same every run.
fn sample_documents(count: usize) -> Vec<Value> {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = arb_document();
    (0..count)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

/// Arbitrary documents with the core's keys never panic the importer, and whatever it accepts
/// our rules accept too. Counted, so the property is not vacuous.
#[test]
fn import_accepts_nothing_the_schema_rejects() {
    let (mut accepted, mut rejected) = (0, 0);
    for doc in sample_documents(2_000) {
        if OpenEoxCore::from_value(&doc).is_ok() {
            assert_eq!(errors(rules(), &doc), Vec::<String>::new(), "{doc}");
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    assert!(
        accepted > 100 && rejected > 100,
        "{accepted} accepted, {rejected} rejected"
    );
}
