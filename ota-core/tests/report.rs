//! Update reports: byte vectors, the one-encoding rule, every decode error, the LwM2M mapping,
//! and a round-trip property.
#![allow(missing_docs, clippy::unwrap_used)]

use ota_core::manifest::Version;
use ota_core::report::lwm2m::{State, UpdateResult};
use ota_core::report::{MAX_ENCODED_LEN, Reason, ReportError, Stage, UpdateReport, VerifyCheck};
use proptest::prelude::*;

fn report(stage: Stage, reason: Option<Reason>) -> UpdateReport {
    UpdateReport {
        sequence: 1042,
        stage,
        reason,
        from: Version::new(1, 3, 0),
        to: Version::new(1, 4, 0),
        attempts: 3,
    }
}

fn encode(r: &UpdateReport) -> Vec<u8> {
    let mut buf = [0u8; MAX_ENCODED_LEN];
    let len = r.encode(&mut buf).unwrap();
    buf[..len].to_vec()
}

/// Fixed vectors: each decodes to its report and re-encodes to the same bytes, and each
/// truncation of it is refused as truncated.
#[test]
fn vectors() {
    let cases: [(UpdateReport, &str); 4] = [
        (
            report(Stage::Reverted, Some(Reason::TrialExhausted)),
            "01 07 22 03 92 08 01 03 00 01 04 00",
        ),
        (
            report(Stage::Confirmed, None),
            "01 06 00 03 92 08 01 03 00 01 04 00",
        ),
        (
            UpdateReport {
                stage: Stage::Downloading { offset: 200_000 },
                attempts: 0,
                ..report(Stage::Verified, None)
            },
            "01 02 00 00 92 08 c0 9a 0c 01 03 00 01 04 00",
        ),
        (
            UpdateReport {
                to: Version {
                    build: Some(77),
                    ..Version::new(2, 0, 1)
                },
                attempts: 0,
                ..report(
                    Stage::Received,
                    Some(Reason::Verify(VerifyCheck::Signature)),
                )
            },
            "01 20 04 00 92 08 01 03 00 02 00 01 4d",
        ),
    ];
    for (r, hex) in cases {
        let bytes: Vec<u8> = hex
            .split(' ')
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect();
        assert_eq!(encode(&r), bytes, "{r:?}");
        assert_eq!(UpdateReport::decode(&bytes), Ok(r));
        assert!(bytes.len() <= 16, "a typical report is at most 16 bytes");
        for cut in 0..bytes.len() {
            assert_eq!(
                UpdateReport::decode(&bytes[..cut]),
                Err(ReportError::Truncated { len: cut }),
                "{hex} cut at {cut}"
            );
        }
    }
}

#[test]
fn every_decode_error_is_named() {
    let good = encode(&report(Stage::Reverted, Some(Reason::RejectedBySelfTest)));
    let with = |at: usize, b: u8| {
        let mut v = good.clone();
        v[at] = b;
        v
    };
    assert_eq!(
        UpdateReport::decode(&with(0, 2)),
        Err(ReportError::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    );
    assert_eq!(
        UpdateReport::decode(&with(1, 0x47)),
        Err(ReportError::UnknownFlags(0x40))
    );
    assert_eq!(
        UpdateReport::decode(&with(1, 0x08)),
        Err(ReportError::UnknownStage(8))
    );
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(
        UpdateReport::decode(&trailing),
        Err(ReportError::TrailingBytes { extra: 1 })
    );
    // An over-long sequence (1042 as three bytes) has a second encoding: refused.
    let mut overlong = good[..4].to_vec();
    overlong.extend_from_slice(&[0x92, 0x88, 0x00]);
    overlong.extend_from_slice(&good[6..]);
    assert_eq!(
        UpdateReport::decode(&overlong),
        Err(ReportError::BadNumber { field: "sequence" })
    );
    // A major version above u16.
    let mut big = good[..6].to_vec();
    big.extend_from_slice(&[0x80, 0x80, 0x04, 0x03, 0x00, 0x01, 0x04, 0x00]);
    assert_eq!(
        UpdateReport::decode(&big),
        Err(ReportError::BadNumber { field: "from" })
    );
    // Stage and reason that contradict each other.
    assert_eq!(
        UpdateReport::decode(&with(2, 0)),
        Err(ReportError::MissingReason { stage: 7 })
    );
    let confirmed_with_reason = with(1, 0x06);
    assert_eq!(
        UpdateReport::decode(&confirmed_with_reason),
        Err(ReportError::ReasonOnSuccess)
    );
}

#[test]
fn encode_refuses_contradictions_and_small_buffers() {
    let mut buf = [0u8; MAX_ENCODED_LEN];
    assert_eq!(
        report(Stage::Confirmed, Some(Reason::FlashError)).encode(&mut buf),
        Err(ReportError::ReasonOnSuccess)
    );
    assert_eq!(
        report(Stage::Reverted, None).encode(&mut buf),
        Err(ReportError::MissingReason { stage: 7 })
    );
    assert_eq!(
        report(Stage::Reverted, Some(Reason::Unknown(34))).encode(&mut buf),
        Err(ReportError::BadNumber { field: "reason" })
    );
    assert_eq!(
        report(Stage::Confirmed, None).encode(&mut buf[..11]),
        Err(ReportError::BufferTooSmall { len: 11 })
    );
}

#[test]
fn unknown_reason_codes_survive() {
    let bytes = encode(&report(Stage::Reverted, Some(Reason::Unknown(200))));
    assert_eq!(
        UpdateReport::decode(&bytes).unwrap().reason,
        Some(Reason::Unknown(200))
    );
}

#[test]
fn verify_errors_map_to_their_check() {
    let e = ota_core::verify::VerifyError::Replay {
        sequence: 3,
        last: 4,
    };
    assert_eq!(Reason::from(&e), Reason::Verify(VerifyCheck::Sequence));
    assert_eq!(VerifyCheck::from_name("not-a-check"), VerifyCheck::Other);
}

#[test]
fn lwm2m_mapping() {
    let cases = [
        (
            report(Stage::Verified, None),
            (State::Downloading, UpdateResult::Initial),
        ),
        (
            report(Stage::Downloading { offset: 4096 }, None),
            (State::Downloading, UpdateResult::Initial),
        ),
        (
            report(Stage::Downloaded, None),
            (State::Downloaded, UpdateResult::Initial),
        ),
        (
            report(Stage::Trial, None),
            (State::Updating, UpdateResult::Initial),
        ),
        (
            report(Stage::Confirmed, None),
            (State::Idle, UpdateResult::Success),
        ),
        (
            report(Stage::Received, Some(Reason::Verify(VerifyCheck::SlotSize))),
            (State::Idle, UpdateResult::NotEnoughFlash),
        ),
        (
            report(
                Stage::Downloading { offset: 9 },
                Some(Reason::DigestMismatch),
            ),
            (State::Idle, UpdateResult::IntegrityFailure),
        ),
        (
            report(
                Stage::Received,
                Some(Reason::Verify(VerifyCheck::HardwareClass)),
            ),
            (State::Idle, UpdateResult::UnsupportedPackage),
        ),
        (
            report(
                Stage::Downloading { offset: 9 },
                Some(Reason::DownloadInterrupted),
            ),
            (State::Idle, UpdateResult::ConnectionLost),
        ),
        (
            report(Stage::Verified, Some(Reason::Cancelled)),
            (State::Idle, UpdateResult::Cancelled),
        ),
        (
            report(Stage::Reverted, Some(Reason::TrialExhausted)),
            (State::Idle, UpdateResult::Failed),
        ),
    ];
    for (r, want) in cases {
        assert_eq!(r.lwm2m(), want, "{r:?}");
    }
    assert_eq!(UpdateResult::Cancelled as u8, 10);
    assert_eq!(State::Updating as u8, 3);
}

fn version() -> impl Strategy<Value = Version> {
    (
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        any::<Option<u32>>(),
    )
        .prop_map(|(major, minor, patch, build)| Version {
            major,
            minor,
            patch,
            build,
        })
}

fn stage() -> impl Strategy<Value = Stage> {
    prop_oneof![
        Just(Stage::Received),
        Just(Stage::Verified),
        any::<u32>().prop_map(|offset| Stage::Downloading { offset }),
        Just(Stage::Downloaded),
        Just(Stage::Activated),
        Just(Stage::Trial),
        Just(Stage::Confirmed),
        Just(Stage::Reverted),
    ]
}

proptest! {
    /// Every valid report round-trips, within the bound, and its encoding is the only one:
    /// any single changed byte either fails to decode or decodes to another report.
    #[test]
    fn round_trip(sequence in any::<u64>(), stage in stage(), code in 0u8..=255,
                  from in version(), to in version(), attempts in any::<u8>(), flip in any::<(usize, u8)>()) {
        let reason = Reason::from_code(code);
        let r = UpdateReport { sequence, stage, reason, from, to, attempts };
        let mut buf = [0u8; MAX_ENCODED_LEN];
        match r.encode(&mut buf) {
            Ok(len) => {
                prop_assert!(len <= MAX_ENCODED_LEN);
                prop_assert_eq!(UpdateReport::decode(&buf[..len]), Ok(r));
                let (at, x) = (flip.0 % len, flip.1 | 1);
                buf[at] ^= x;
                if let Ok(other) = UpdateReport::decode(&buf[..len]) {
                    prop_assert_ne!(other, r);
                }
            }
            Err(e) => prop_assert!(r.validate().is_err(), "{e}"),
        }
    }

    /// Arbitrary bytes never panic, and what decodes re-encodes to the same bytes.
    #[test]
    fn decode_is_exact(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
        if let Ok(r) = UpdateReport::decode(&bytes) {
            let mut buf = [0u8; MAX_ENCODED_LEN];
            let len = r.encode(&mut buf).unwrap();
            prop_assert_eq!(&buf[..len], &bytes[..]);
        }
    }
}
