//! Every fleet error says what was wrong and what was expected.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use telemetry_core::DecodeError;
use telemetry_core::fleet::alert::{AlertError, Playbook};
use telemetry_core::fleet::ingest::IngestError;
use telemetry_core::fleet::registry::RegistryError;
use telemetry_core::fleet::sketch::SketchError;

#[test]
fn every_variant_displays_a_useful_message() {
    let json_err = serde_json::from_str::<Playbook>("{").unwrap_err();
    let messages = [
        RegistryError::TooManyValues {
            attribute: "lot",
            value: "L70000".into(),
            limit: 65_535,
        }
        .to_string(),
        RegistryError::Full {
            device: 7,
            held: 4_294_967_295,
        }
        .to_string(),
        SketchError::Mismatch {
            ours: 0.01,
            theirs: 0.02,
        }
        .to_string(),
        SketchError::OutOfRange {
            low: -5000,
            high: 3,
            min_key: -691,
            max_key: 1037,
        }
        .to_string(),
        SketchError::CountMismatch { count: 4, held: 3 }.to_string(),
        SketchError::InvalidConfig {
            relative_accuracy: 2.0,
            min_value: 1.0,
            max_value: 0.5,
        }
        .to_string(),
        AlertError::Parse(json_err).to_string(),
        AlertError::Invalid {
            rule: "r".into(),
            problem: "objective must be between 0 and 1, e.g. 0.999",
        }
        .to_string(),
        IngestError::Decode {
            device: 3,
            error: DecodeError::MissingReference,
            bad_frames: 2,
        }
        .to_string(),
        IngestError::Registry(RegistryError::Full { device: 1, held: 2 }).to_string(),
        SketchError::BadExtremes {
            count: 3,
            min: Some(5.0),
            max: Some(1.0),
        }
        .to_string(),
    ];
    let expected = [
        "attribute lot already has 65535 distinct values; cannot add \"L70000\"",
        "registry holds 4294967295 devices, its cap (Registry::set_max_devices); cannot add device 7",
        "cannot merge a sketch with relative accuracy 0.02 into one with 0.01; both must be built with the same configuration",
        "sketch holds buckets -5000..=3, outside the range -691..=1037 its configuration allows",
        "sketch says it holds 4 values but its buckets hold 3",
        "sketch configuration invalid: relative accuracy 2 must be in 0.0001..=0.5, 0 < min_value 1 < max_value 0.5 finite, spanning at most 131072 buckets",
        "playbook is not valid: EOF while parsing an object at line 1 column 1; expected {\"rules\": [...]} as documented in fleet::alert",
        "rule \"r\" is inconsistent: objective must be between 0 and 1, e.g. 0.999",
        "frame from device 3 rejected (2 bad so far): delta frame needs the previous heartbeat as reference, none was given",
        "registry holds 2 devices, its cap (Registry::set_max_devices); cannot add device 1",
        "sketch holding 3 values has min Some(5.0) and max Some(1.0): expected finite min <= max exactly when it holds values",
    ];
    assert_eq!(messages.len(), expected.len());
    for (got, want) in messages.iter().zip(expected) {
        assert_eq!(got, want);
    }
}
