#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Sunset notices end to end: wire vector, forged / altered / replayed notices, every lifecycle
//! transition and the never-backwards invariant.

mod common;

use common::{body, day, key, trust, verified};
use ed25519_dalek::{Signer, SigningKey};
use eol_core::device::{DeviceEol, LifecycleError};
use eol_core::notice::{DOMAIN, MAX_BODY_LEN, MAX_SIGNED_LEN, SunsetDate};
use eol_core::prelude::*;
use proptest::prelude::*;

/// Signs arbitrary header+body bytes the way the backend would, for malformed-body tests.
fn sign_raw(body_bytes: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body_bytes.len()).unwrap().to_le_bytes();
    let mut signed = vec![1, len[0], len[1]];
    signed.extend_from_slice(body_bytes);
    let mut msg = DOMAIN.to_vec();
    msg.extend_from_slice(&signed);
    signed.extend_from_slice(&key().sign(&msg).to_bytes());
    signed
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn notice_wire_vector() {
    // Key: SigningKey::from_bytes(&[7; 32]). Ed25519 signatures are deterministic, so the whole
    // notice is a fixed vector.
    let bytes = body(1).sign(&key()).unwrap();
    assert_eq!(
        hex(key().verifying_key().as_bytes()),
        "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c"
    );
    let expected = concat!(
        "01",                                                   // format version 1
        "3900",                                                 // body length 57, u16 little-endian
        "01",                                                   // sequence 1
        "ef9baf05",                                             // vendor 0x00ABCDEF (varint)
        "2a",                                                   // product 42
        "00",                                                   // kind: Update
        "80b1ef8607", // issued_at 1893456000 = 2030-01-01T00:00:00Z
        "b2ac01",     // security_only_from day 22066 = 2030-06-01
        "f4b001",     // end_of_security_updates day 22644 = 2031-12-31
        "f4b001",     // end_of_cloud day 22644
        "01f5b001",   // owner_release Some(day 22645 = 2032-01-01)
        "38",         // keeps_local: local control | local API | data export
        "01030900",   // final_firmware Some(3.9.0)
        "1a",         // export_instructions: 26 bytes of UTF-8
        "68747470733a2f2f6578616d706c652e636f6d2f6578706f7274", // "https://example.com/export"
        // Ed25519 signature over DOMAIN || the 60 bytes above.
        "d8fc86c87c2e29b6d71262d8aac4ad38e7bb55fa5a15d4c16128215a551e5bee",
        "35818b05b85f81d1d39a4163255ecdbe609549c861c84357b12ba7f733fd3403",
    );
    assert_eq!(hex(&bytes), expected);
    assert_eq!(bytes.len(), 3 + 57 + 64);
    assert_eq!(
        SunsetNotice::verify(&bytes, &trust()).unwrap().body(),
        &body(1)
    );
}

#[test]
fn dates_from_policy() {
    let mut policy = SupportPolicy::new(day(2026, 1, 1));
    policy.end_of_sale = Some(day(2030, 6, 1));
    policy.end_of_security_updates = Some(day(2031, 12, 31));
    policy.end_of_cloud_service = Some(day(2031, 12, 31));
    assert_eq!(SunsetDates::from_policy(&policy), Some(body(1).dates));
    let mut no_sale = policy;
    no_sale.end_of_sale = None;
    assert_eq!(SunsetDates::from_policy(&no_sale), None);
}

#[test]
fn verifies_and_exposes_the_body() {
    let v = verified(&body(1));
    assert_eq!(v.body(), &body(1));
}

#[test]
fn forged_notice_is_rejected() {
    let other = SigningKey::from_bytes(&[8; 32]);
    let bytes = body(1).sign(&other).unwrap();
    assert_eq!(
        SunsetNotice::verify(&bytes, &trust()),
        Err(NoticeError::BadSignature)
    );
}

#[test]
fn every_altered_byte_is_rejected() {
    let bytes = body(1).sign(&key()).unwrap();
    // One flip per byte (Ed25519 verification is slow in debug builds; the proptest below
    // flips random bits).
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 1 << (i % 8);
        assert!(
            SunsetNotice::verify(&b, &trust()).is_err(),
            "byte {i} altered and accepted"
        );
    }
}

#[test]
fn truncated_or_extended_notice_is_rejected() {
    let bytes = body(1).sign(&key()).unwrap();
    for n in 0..bytes.len() {
        assert!(SunsetNotice::verify(&bytes[..n], &trust()).is_err());
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        SunsetNotice::verify(&longer, &trust()),
        Err(NoticeError::WrongLength {
            expected: bytes.len(),
            actual: bytes.len() + 1
        })
    );
}

#[test]
fn header_errors_are_typed() {
    let mut bytes = body(1).sign(&key()).unwrap();
    bytes[0] = 2;
    assert_eq!(
        SunsetNotice::verify(&bytes, &trust()),
        Err(NoticeError::UnsupportedVersion {
            found: 2,
            expected: 1
        })
    );
    let mut big = vec![1, 0xFF, 0xFF];
    big.resize(70, 0);
    assert_eq!(
        SunsetNotice::verify(&big, &trust()),
        Err(NoticeError::BodyLength {
            len: 0xFFFF,
            max: MAX_BODY_LEN
        })
    );
    assert_eq!(
        SunsetNotice::verify(&[1, 0], &trust()),
        Err(NoticeError::TooShort { len: 2, min: 68 })
    );
}

#[test]
fn signed_but_malformed_bodies_are_rejected() {
    let good = postcard::to_allocvec(&body(1)).unwrap();
    // Trailing byte inside the signed body.
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(
        SunsetNotice::verify(&sign_raw(&trailing), &trust()),
        Err(NoticeError::TrailingBytes { count: 1 })
    );
    // Non-canonical varint: sequence 1 written as 0x81 0x00.
    let mut noncanon = vec![0x81, 0x00];
    noncanon.extend_from_slice(&good[1..]);
    assert_eq!(
        SunsetNotice::verify(&sign_raw(&noncanon), &trust()),
        Err(NoticeError::NonCanonical)
    );
    // Truncated body.
    assert_eq!(
        SunsetNotice::verify(&sign_raw(&good[..good.len() - 3]), &trust()),
        Err(NoticeError::MalformedBody)
    );
    // Dates out of order, signed anyway.
    let mut b = body(1);
    b.dates.end_of_cloud = day(2030, 1, 1);
    let raw = postcard::to_allocvec(&b).unwrap();
    assert!(matches!(
        SunsetNotice::verify(&sign_raw(&raw), &trust()),
        Err(NoticeError::DatesOutOfOrder { .. })
    ));
    assert!(matches!(
        b.sign(&key()),
        Err(NoticeError::DatesOutOfOrder { .. })
    ));
    // Sequence 0.
    let raw = postcard::to_allocvec(&body(0)).unwrap();
    assert_eq!(
        SunsetNotice::verify(&sign_raw(&raw), &trust()),
        Err(NoticeError::ZeroSequence)
    );
}

#[test]
fn notice_for_another_product_is_rejected() {
    let mut b = body(1);
    b.product.product = 43;
    let err = SunsetNotice::verify(&b.sign(&key()).unwrap(), &trust()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "notice is for product 11259375:43, expected 11259375:42"
    );
}

#[test]
fn replayed_notice_is_rejected() {
    let mut dev = DeviceEol::new();
    let n1 = verified(&body(1));
    let n2 = verified(&body(2));
    let now = day(2030, 2, 1).to_unix();
    dev.apply(&n1, now).unwrap();
    assert_eq!(
        dev.apply(&n1, now),
        Err(LifecycleError::Replayed {
            sequence: 1,
            accepted: 1
        })
    );
    dev.apply(&n2, now).unwrap();
    let err = dev.apply(&n1, now).unwrap_err();
    assert_eq!(
        err.to_string(),
        "notice sequence 1 is not newer than accepted 2"
    );
    assert_eq!(dev.accepted_sequence(), 2);
}

#[test]
fn transition_supported_to_security_only() {
    let mut dev = DeviceEol::new();
    assert_eq!(
        dev.apply(&verified(&body(1)), day(2030, 5, 31).to_unix())
            .unwrap(),
        Lifecycle::Supported
    );
    assert_eq!(dev.tick(day(2030, 6, 1).to_unix()), Lifecycle::SecurityOnly);
    assert!(dev.allows(Capability::CloudSync) && dev.allows(Capability::Ota));
}

#[test]
fn transition_security_only_to_local_only() {
    let mut dev = DeviceEol::new();
    dev.apply(&verified(&body(1)), day(2031, 1, 1).to_unix())
        .unwrap();
    assert_eq!(dev.lifecycle(), Lifecycle::SecurityOnly);
    assert_eq!(
        dev.tick(day(2031, 12, 30).to_unix()),
        Lifecycle::SecurityOnly
    );
    assert_eq!(dev.tick(day(2031, 12, 31).to_unix()), Lifecycle::LocalOnly);
    for c in [
        Capability::CloudSync,
        Capability::RemoteControl,
        Capability::Ota,
    ] {
        assert!(!dev.allows(c), "{c:?}");
    }
    for c in [
        Capability::LocalControl,
        Capability::LocalApi,
        Capability::DataExport,
    ] {
        assert!(dev.allows(c), "{c:?}");
    }
}

#[test]
fn transition_local_only_to_released_to_owner() {
    let mut dev = DeviceEol::new();
    dev.apply(&verified(&body(1)), day(2031, 12, 31).to_unix())
        .unwrap();
    assert_eq!(
        dev.release_to_owner([9; 32], day(2031, 12, 31).to_unix()),
        Err(LifecycleError::OwnerReleaseNotYet {
            opens: day(2032, 1, 1),
            today: day(2031, 12, 31)
        })
    );
    assert_eq!(
        dev.release_to_owner([9; 32], day(2032, 1, 1).to_unix()),
        Ok(Lifecycle::ReleasedToOwner)
    );
    assert_eq!(dev.owner_key(), Some(&[9; 32]));
    assert!(dev.allows(Capability::Ota) && !dev.allows(Capability::CloudSync));
}

#[test]
fn owner_release_needs_an_offer() {
    let mut b = body(1);
    b.owner_release = None;
    let mut dev = DeviceEol::new();
    dev.apply(&verified(&b), day(2033, 1, 1).to_unix()).unwrap();
    assert_eq!(
        dev.release_to_owner([9; 32], day(2033, 1, 1).to_unix()),
        Err(LifecycleError::OwnerReleaseNotOffered)
    );
    assert_eq!(dev.lifecycle(), Lifecycle::LocalOnly);
}

#[test]
fn shortening_is_rejected_unless_shutdown() {
    let mut dev = DeviceEol::new();
    let now = day(2030, 2, 1).to_unix();
    dev.apply(&verified(&body(1)), now).unwrap();
    let mut shorter = body(2);
    shorter.dates.end_of_security_updates = day(2031, 6, 30);
    let err = dev.apply(&verified(&shorter), now).unwrap_err();
    assert_eq!(
        err,
        LifecycleError::ShortensPublished {
            date: SunsetDate::EndOfSecurityUpdates,
            published: day(2031, 12, 31),
            proposed: day(2031, 6, 30),
        }
    );
    assert!(
        err.to_string()
            .contains("only a shutdown notice may shorten it")
    );
    let mut cloud_shorter = body(2);
    cloud_shorter.dates.end_of_cloud = day(2031, 6, 30);
    assert!(matches!(
        dev.apply(&verified(&cloud_shorter), now),
        Err(LifecycleError::ShortensPublished { .. })
    ));
    // Nothing changed by the rejected notices.
    assert_eq!(dev.accepted_sequence(), 1);
    assert_eq!(
        dev.dates().unwrap().end_of_security_updates,
        day(2031, 12, 31)
    );
    // A shutdown notice may shorten, and a device can skip states.
    let mut shutdown = body(3);
    shutdown.kind = NoticeKind::Shutdown;
    shutdown.dates = SunsetDates {
        security_only_from: day(2030, 2, 1),
        end_of_security_updates: day(2030, 2, 1),
        end_of_cloud: day(2030, 2, 1),
    };
    shutdown.owner_release = Some(day(2030, 2, 1));
    assert_eq!(
        dev.apply(&verified(&shutdown), now),
        Ok(Lifecycle::LocalOnly)
    );
}

#[test]
fn extension_is_accepted_but_never_moves_back() {
    let mut first = body(1);
    first.owner_release = None;
    let mut dev = DeviceEol::new();
    dev.apply(&verified(&first), day(2032, 2, 1).to_unix())
        .unwrap();
    assert_eq!(dev.lifecycle(), Lifecycle::LocalOnly);
    let mut longer = body(2);
    longer.dates.end_of_cloud = day(2035, 1, 1);
    longer.dates.end_of_security_updates = day(2035, 1, 1);
    longer.owner_release = Some(day(2035, 1, 1));
    dev.apply(&verified(&longer), day(2032, 2, 1).to_unix())
        .unwrap();
    assert_eq!(dev.lifecycle(), Lifecycle::LocalOnly);
    assert_eq!(dev.dates().unwrap().end_of_cloud, day(2035, 1, 1));
}

#[test]
fn clock_going_back_does_not_revert() {
    let mut dev = DeviceEol::new();
    dev.apply(&verified(&body(1)), day(2032, 1, 1).to_unix())
        .unwrap();
    assert_eq!(dev.tick(0), Lifecycle::LocalOnly);
    assert_eq!(dev.today(), day(2032, 1, 1));
}

#[test]
fn persisted_state_is_small() {
    let mut dev = DeviceEol::new();
    let mut b = body(u32::MAX);
    b.issued_at = u64::MAX;
    b.owner_release = Some(Day(u32::MAX));
    b.final_firmware = Some(FirmwareVersion {
        major: u16::MAX,
        minor: u16::MAX,
        patch: u16::MAX,
    });
    b.dates = SunsetDates {
        security_only_from: Day(u32::MAX),
        end_of_security_updates: Day(u32::MAX),
        end_of_cloud: Day(u32::MAX),
    };
    dev.apply(&verified(&b), u64::MAX).unwrap();
    dev.release_to_owner([0xFF; 32], u64::MAX).unwrap();
    let bytes = postcard::to_allocvec(&dev).unwrap();
    assert!(
        bytes.len() <= DeviceEol::MAX_ENCODED_LEN,
        "{} bytes",
        bytes.len()
    );
    let back: DeviceEol = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, dev);
}

#[test]
fn largest_body_fits() {
    let mut b = body(u32::MAX);
    b.issued_at = u64::MAX;
    b.export_instructions = "x".repeat(200).as_str().try_into().unwrap();
    b.owner_release = Some(Day(u32::MAX));
    b.dates = SunsetDates {
        security_only_from: Day(u32::MAX),
        end_of_security_updates: Day(u32::MAX),
        end_of_cloud: Day(u32::MAX),
    };
    b.final_firmware = Some(FirmwareVersion {
        major: u16::MAX,
        minor: u16::MAX,
        patch: u16::MAX,
    });
    let bytes = b.sign(&key()).unwrap();
    assert!(bytes.len() <= MAX_SIGNED_LEN);
    assert_eq!(SunsetNotice::verify(&bytes, &trust()).unwrap().body(), &b);
}

#[test]
fn every_error_has_a_message() {
    let errors = [
        NoticeError::TooShort { len: 2, min: 68 }.to_string(),
        NoticeError::UnsupportedVersion {
            found: 2,
            expected: 1,
        }
        .to_string(),
        NoticeError::BodyLength { len: 0, max: 320 }.to_string(),
        NoticeError::WrongLength {
            expected: 100,
            actual: 101,
        }
        .to_string(),
        NoticeError::BadSignature.to_string(),
        NoticeError::MalformedBody.to_string(),
        NoticeError::TrailingBytes { count: 1 }.to_string(),
        NoticeError::NonCanonical.to_string(),
        NoticeError::ZeroSequence.to_string(),
        NoticeError::DatesOutOfOrder { what: "x" }.to_string(),
        NoticeError::BodyTooLarge { max: 320 }.to_string(),
        LifecycleError::OwnerReleaseNotOffered.to_string(),
    ];
    for e in errors {
        assert!(e.len() > 20, "{e}");
    }
}

fn arb_notice() -> impl Strategy<Value = NoticeBody> {
    (
        1u32..20,
        any::<bool>(),
        0u32..4000,
        0u32..2000,
        0u32..2000,
        proptest::option::of(0u32..500),
    )
        .prop_map(|(seq, shutdown, start, sec_len, cloud_len, release)| {
            let base = day(2030, 1, 1).0;
            let security_only_from = Day(base + start);
            let mut b = body(seq);
            b.kind = if shutdown {
                NoticeKind::Shutdown
            } else {
                NoticeKind::Update
            };
            b.issued_at = Day(base + start / 2).to_unix();
            b.dates = SunsetDates {
                security_only_from,
                end_of_security_updates: security_only_from.plus_days(sec_len),
                end_of_cloud: security_only_from.plus_days(cloud_len),
            };
            b.owner_release = release.map(|r| security_only_from.plus_days(cloud_len + r));
            b
        })
}

/// A pool of signed and verified notices (signing is slow in debug builds, so the proptest
/// draws orders from a pool instead of signing per case): sequences 1..=8, each as an early
/// update, a late update and a shutdown.
fn pool() -> &'static [(NoticeBody, Vec<u8>, VerifiedNotice)] {
    static POOL: std::sync::OnceLock<Vec<(NoticeBody, Vec<u8>, VerifiedNotice)>> =
        std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let mut out = Vec::new();
        for seq in 1..=8u32 {
            for variant in 0..3u32 {
                let start = day(2030, 1, 1).plus_days(seq * 90 + variant * 40);
                let mut b = body(seq);
                b.kind = if variant == 2 {
                    NoticeKind::Shutdown
                } else {
                    NoticeKind::Update
                };
                b.issued_at = start.minus_days(30).to_unix();
                let len = if variant == 1 { 900 } else { 200 + seq * 50 };
                b.dates = SunsetDates {
                    security_only_from: start,
                    end_of_security_updates: start.plus_days(len),
                    end_of_cloud: start.plus_days(len + variant * 30),
                };
                b.owner_release = (seq % 2 == 0).then(|| start.plus_days(len + 200));
                b.keeps_local = CapabilitySet::from_bits(u8::try_from(seq * 7 + variant).unwrap());
                let bytes = b.sign(&key()).unwrap();
                let v = SunsetNotice::verify(&bytes, &trust()).unwrap();
                out.push((b, bytes, v));
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn lifecycle_never_moves_backwards(
        steps in proptest::collection::vec((0usize..24, 0u64..(3_000 * 86_400), any::<bool>(), 0u64..(2_000 * 86_400)), 1..20),
    ) {
        let mut dev = DeviceEol::new();
        let mut prev_state = dev.lifecycle();
        let mut prev_seq = 0;
        let mut prev_time = 0;
        let base = day(2030, 1, 1).to_unix();
        for &(idx, offset, owner, back) in &steps {
            let now = base + offset;
            let (_, _, v) = &pool()[idx];
            let _ = dev.apply(v, now);
            if owner {
                let _ = dev.release_to_owner([1; 32], now);
            }
            // The clock may also jump back.
            dev.tick(now.saturating_sub(back));
            prop_assert!(dev.lifecycle() >= prev_state);
            prop_assert!(dev.accepted_sequence() >= prev_seq);
            prop_assert!(dev.best_known_time() >= prev_time);
            // Local control survives every state.
            prop_assert!(dev.allows(Capability::LocalControl));
            prev_state = dev.lifecycle();
            prev_seq = dev.accepted_sequence();
            prev_time = dev.best_known_time();
        }
    }

    #[test]
    fn replays_from_the_pool_are_always_rejected(order in proptest::sample::subsequence((0..24).collect::<Vec<usize>>(), 1..24)) {
        let mut dev = DeviceEol::new();
        let now = day(2030, 1, 1).to_unix();
        for &i in &order {
            let (b, _, v) = &pool()[i];
            let accepted = dev.accepted_sequence();
            let first = dev.apply(v, now);
            match first {
                Ok(_) => prop_assert!(b.sequence > accepted),
                Err(LifecycleError::Replayed { .. }) => prop_assert!(b.sequence <= accepted),
                // Only an update is held to dates and final firmware.
                Err(LifecycleError::ShortensPublished { .. } | LifecycleError::FinalFirmwareLowered { .. }) => {
                    prop_assert_eq!(b.kind, NoticeKind::Update)
                }
                // Every notice is held to the owner release and the local plan.
                Err(
                    LifecycleError::OwnerReleaseWithdrawn { .. }
                    | LifecycleError::OwnerReleasePostponed { .. }
                    | LifecycleError::LocalCapabilityRemoved { .. },
                ) => prop_assert!(b.sequence > accepted),
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
            // Re-delivering the same notice never succeeds: a replay once accepted, the same
            // rejection otherwise.
            let again = dev.apply(v, now);
            if first.is_ok() {
                let replayed = matches!(again, Err(LifecycleError::Replayed { .. }));
                prop_assert!(replayed);
            } else {
                prop_assert_eq!(again.err(), first.err());
            }
        }
    }

    #[test]
    fn pool_decodes_unverified(idx in 0usize..24) {
        let (b, bytes, _) = &pool()[idx];
        prop_assert_eq!(&SunsetNotice::decode_unverified(bytes).unwrap(), b);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..450)) {
        let _ = SunsetNotice::verify(&bytes, &trust());
        let _ = SunsetNotice::decode_unverified(&bytes);
    }
}

proptest! {
    // Each case signs or verifies once: few cases keep the debug test run short.
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn altered_notices_never_verify(idx in 0usize..24, pos in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let mut bytes = pool()[idx].1.clone();
        let i = pos.index(bytes.len());
        bytes[i] ^= flip;
        prop_assert!(SunsetNotice::verify(&bytes, &trust()).is_err());
    }

    #[test]
    fn sign_verify_round_trip(n in arb_notice()) {
        let bytes = n.sign(&key()).unwrap();
        let v = SunsetNotice::verify(&bytes, &trust()).unwrap();
        prop_assert_eq!(v.body(), &n);
    }
}
