//! One test per attack a device faces (TUF / Uptane names), each asserting the exact check that
//! stops it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ota_core::envelope::{Envelope, EnvelopeError, MAX_ENVELOPE_LEN};
use ota_core::manifest::{ManifestDecodeError, ProductId, Version};
use ota_core::sign::{sign_delegation, sign_manifest, sign_payload};
use ota_core::trust::{KeyId, TrustError, Validity};
use ota_core::verify::{ImageError, ImageVerifier, SignatureError, VerifyError, verify};

#[test]
fn genuine_update_is_accepted() {
    let env = signed(&manifest());
    let v = verify(&env, &store(), &device()).unwrap();
    assert_eq!(v.image().sequence, 5);
    assert_eq!(v.image().image_size, 5000);
    assert_eq!(
        v.image().manifest_digest,
        ota_core::digest::ImageDigest::of(Envelope::decode(&env).unwrap().payload)
    );
    let mut iv = ImageVerifier::new(&v);
    for chunk in image().chunks(333) {
        iv.update(chunk).unwrap();
    }
    iv.finish().unwrap();
}

#[test]
fn arbitrary_software_signed_by_an_unknown_key() {
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[0xee; 32]);
    let env = sign_manifest(&manifest(), &[&attacker]).unwrap();
    assert_eq!(
        verify(&env, &store(), &device()),
        Err(VerifyError::Signature(SignatureError::UntrustedKey(
            KeyId::of(&attacker.verifying_key())
        )))
    );
}

#[test]
fn arbitrary_software_forged_under_a_trusted_key_id() {
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[0xee; 32]);
    let bytes = sign_manifest(&manifest(), &[&attacker]).unwrap();
    let mut env = Envelope::decode(&bytes).unwrap();
    env.signatures[0].key_id = KeyId::of(&signer().verifying_key());
    let forged = env.to_vec().unwrap();
    assert_eq!(
        verify(&forged, &store(), &device()),
        Err(VerifyError::Signature(SignatureError::BadSignature(
            KeyId::of(&signer().verifying_key())
        )))
    );
}

#[test]
fn arbitrary_software_without_signatures() {
    let bytes = signed(&manifest());
    let mut env = Envelope::decode(&bytes).unwrap();
    env.signatures.clear();
    assert_eq!(
        verify(&env.to_vec().unwrap(), &store(), &device()),
        Err(VerifyError::Signature(SignatureError::ThresholdNotMet {
            weight: 0,
            threshold: 2
        }))
    );
}

#[test]
fn wrong_hardware_class() {
    let mut m = manifest();
    m.class_id = ProductId::from_text("sensor-v1");
    // The product's delegated key cannot sign for another class at all...
    assert_eq!(
        verify(&signed(&m), &store(), &device()),
        Err(VerifyError::Signature(SignatureError::KeyOutOfScope {
            key: KeyId::of(&signer().verifying_key())
        }))
    );
    // ...and a manifest the roots themselves signed for another class is still refused.
    let by_roots = sign_manifest(&m, &[&root(1), &root(2)]).unwrap();
    let err = verify(&by_roots, &store(), &device()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::WrongHardware {
            found: m.class_id,
            expected: class()
        }
    );
    assert_eq!(err.check(), "hardware-class");
}

#[test]
fn wrong_vendor() {
    let mut m = manifest();
    m.vendor_id = ProductId::from_text("other-corp");
    assert_eq!(
        verify(&signed(&m), &store(), &device()),
        Err(VerifyError::Signature(SignatureError::KeyOutOfScope {
            key: KeyId::of(&signer().verifying_key())
        }))
    );
    let by_roots = sign_manifest(&m, &[&root(1), &root(2)]).unwrap();
    assert_eq!(
        verify(&by_roots, &store(), &device()),
        Err(VerifyError::WrongVendor {
            found: m.vendor_id,
            expected: vendor()
        })
    );
}

#[test]
fn rollback_below_the_security_floor() {
    let mut m = manifest();
    m.security_version = 2;
    assert_eq!(
        verify(&signed(&m), &store(), &device()),
        Err(VerifyError::Rollback {
            security_version: 2,
            floor: 3
        })
    );
}

#[test]
fn replay_of_an_old_manifest() {
    let env = signed(&manifest_for(&image(), 4));
    let err = verify(&env, &store(), &device()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::Replay {
            sequence: 4,
            last: 4
        }
    );
    assert_eq!(
        err.to_string(),
        "manifest sequence 4 is not newer than accepted 4"
    );
    // The same manifest is fine before it was accepted, and a replay after.
    let ok = signed(&manifest());
    verify(&ok, &store(), &device()).unwrap();
    let after = ota_core::verify::DeviceContext {
        last_sequence: 5,
        ..device()
    };
    assert_eq!(
        verify(&ok, &store(), &after),
        Err(VerifyError::Replay {
            sequence: 5,
            last: 5
        })
    );
}

#[test]
fn freeze_with_an_expired_manifest() {
    let mut m = manifest();
    m.expires_at = Some(NOW);
    assert_eq!(
        verify(&signed(&m), &store(), &device()),
        Err(VerifyError::Expired {
            expires_at: NOW,
            now: NOW
        })
    );
    m.expires_at = None;
    verify(&signed(&m), &store(), &device()).unwrap();
}

#[test]
fn endless_data_declared_larger_than_the_slot() {
    let mut m = manifest();
    m.image_size = 64 * 1024 + 1;
    assert_eq!(
        verify(&signed(&m), &store(), &device()),
        Err(VerifyError::TooLargeForSlot {
            image_size: 65537,
            slot_capacity: 65536
        })
    );
}

#[test]
fn endless_data_streamed_past_the_declared_size() {
    let v = verify(&signed(&manifest()), &store(), &device()).unwrap();
    let mut iv = ImageVerifier::new(&v);
    iv.update(&image()).unwrap();
    assert_eq!(iv.update(&[0]), Err(ImageError::TooLong { declared: 5000 }));
    // The refused byte was not counted: the image still checks out.
    iv.finish().unwrap();
    let mut short = ImageVerifier::new(&v);
    short.update(&image()[..4999]).unwrap();
    assert_eq!(
        short.finish(),
        Err(ImageError::Truncated {
            received: 4999,
            declared: 5000
        })
    );
}

#[test]
fn mix_and_match_image_of_another_manifest() {
    let other: Vec<u8> = image().iter().map(|b| b ^ 1).collect();
    let v = verify(&signed(&manifest()), &store(), &device()).unwrap();
    let mut iv = ImageVerifier::new(&v);
    iv.update(&other).unwrap();
    assert_eq!(iv.finish(), Err(ImageError::DigestMismatch));
}

#[test]
fn mix_and_match_signature_of_another_manifest() {
    let a = Envelope::decode(&signed(&manifest())).unwrap().signatures;
    let b_bytes = signed(&manifest_for(&image(), 6));
    let mut b = Envelope::decode(&b_bytes).unwrap();
    b.signatures = a;
    assert_eq!(
        verify(&b.to_vec().unwrap(), &store(), &device()),
        Err(VerifyError::Signature(SignatureError::BadSignature(
            KeyId::of(&signer().verifying_key())
        )))
    );
}

#[test]
fn key_compromise_below_threshold_cannot_sign_a_manifest() {
    // One stolen root of a 2-of-3 set.
    let env = sign_manifest(&manifest(), &[&root(3)]).unwrap();
    assert_eq!(
        verify(&env, &store(), &device()),
        Err(VerifyError::Signature(SignatureError::ThresholdNotMet {
            weight: 1,
            threshold: 2
        }))
    );
    // Signing twice with the same stolen root counts once.
    let twice = sign_manifest(&manifest(), &[&root(3), &root(3)]).unwrap();
    assert_eq!(
        verify(&twice, &store(), &device()),
        Err(VerifyError::Signature(SignatureError::ThresholdNotMet {
            weight: 1,
            threshold: 2
        }))
    );
    // Two roots together do hold authority.
    let two = sign_manifest(&manifest(), &[&root(3), &root(1)]).unwrap();
    verify(&two, &store(), &device()).unwrap();
}

#[test]
fn key_compromise_below_threshold_cannot_delegate() {
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[0xee; 32]);
    let mut s = store();
    let env = sign_delegation(&delegate(2, &attacker, Validity::UNBOUNDED), &[&root(3)]).unwrap();
    assert_eq!(
        s.apply_delegation(&env),
        Err(TrustError::RootThresholdNotMet {
            valid: 1,
            threshold: 2
        })
    );
    let twice = sign_delegation(
        &delegate(2, &attacker, Validity::UNBOUNDED),
        &[&root(3), &root(3)],
    )
    .unwrap();
    assert_eq!(
        s.apply_delegation(&twice),
        Err(TrustError::RootThresholdNotMet {
            valid: 1,
            threshold: 2
        })
    );
    assert_eq!(s.delegates().len(), 1);
}

#[test]
fn revoked_key() {
    let mut s = store();
    s.apply_delegation(&sign_delegation(&revoke(2, &signer()), &[&root(2), &root(3)]).unwrap())
        .unwrap();
    assert_eq!(
        verify(&signed(&manifest()), &s, &device()),
        Err(VerifyError::Signature(SignatureError::UntrustedKey(
            KeyId::of(&signer().verifying_key())
        )))
    );
    // Replaying the original grant does not bring the key back.
    let grant = sign_delegation(
        &delegate(1, &signer(), Validity::UNBOUNDED),
        &[&root(1), &root(2)],
    )
    .unwrap();
    assert_eq!(
        s.apply_delegation(&grant),
        Err(TrustError::StaleRecord { found: 1, last: 2 })
    );
}

#[test]
fn key_rotation_needs_no_firmware_change() {
    let mut s = store();
    let next = ed25519_dalek::SigningKey::from_bytes(&[0x77; 32]);
    s.apply_delegation(
        &sign_delegation(
            &delegate(2, &next, Validity::UNBOUNDED),
            &[&root(1), &root(3)],
        )
        .unwrap(),
    )
    .unwrap();
    s.apply_delegation(&sign_delegation(&revoke(3, &signer()), &[&root(1), &root(2)]).unwrap())
        .unwrap();
    verify(
        &sign_manifest(&manifest(), &[&next]).unwrap(),
        &s,
        &device(),
    )
    .unwrap();
    assert!(verify(&signed(&manifest()), &s, &device()).is_err());
    assert_eq!(s.last_record_sequence(), 3);
}

#[test]
fn delegated_key_outside_its_validity() {
    let mut s = store();
    let limited = ed25519_dalek::SigningKey::from_bytes(&[0x31; 32]);
    let validity = Validity {
        from_sequence: 10,
        until_sequence: Some(20),
        not_before: None,
        not_after: Some(NOW - 1),
    };
    s.apply_delegation(
        &sign_delegation(&delegate(2, &limited, validity), &[&root(1), &root(2)]).unwrap(),
    )
    .unwrap();
    let id = KeyId::of(&limited.verifying_key());
    assert_eq!(
        verify(
            &sign_manifest(&manifest(), &[&limited]).unwrap(),
            &s,
            &device()
        ),
        Err(VerifyError::Signature(SignatureError::KeyOutOfSequence {
            key: id,
            sequence: 5,
            from: 10,
            until: 20
        }))
    );
    assert_eq!(
        verify(
            &sign_manifest(&manifest_for(&image(), 12), &[&limited]).unwrap(),
            &s,
            &device()
        ),
        Err(VerifyError::Signature(SignatureError::KeyOutOfTime {
            key: id,
            now: NOW,
            not_before: 0,
            not_after: NOW - 1
        }))
    );
}

/// Adds the group order L to `s`: the classic Ed25519 malleation. `verify_strict` must refuse it.
#[test]
fn malleable_signature() {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let bytes = signed(&manifest());
    let mut env = Envelope::decode(&bytes).unwrap();
    let s = &mut env.signatures[0].signature.s;
    let mut carry = 0u16;
    for (b, l) in s.iter_mut().zip(L) {
        let v = u16::from(*b) + u16::from(l) + carry;
        *b = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0);
    assert_eq!(
        verify(&env.to_vec().unwrap(), &store(), &device()),
        Err(VerifyError::Signature(SignatureError::BadSignature(
            KeyId::of(&signer().verifying_key())
        )))
    );
}

#[test]
fn truncated_envelopes_are_rejected() {
    let bytes = signed(&manifest());
    let s = store();
    for n in 0..bytes.len() {
        assert!(
            verify(&bytes[..n], &s, &device()).is_err(),
            "prefix of {n} bytes accepted"
        );
    }
}

#[test]
fn bit_flipped_envelopes_are_rejected() {
    let bytes = signed(&manifest());
    let s = store();
    // Every single bit of the envelope.
    for bit in 0..bytes.len() * 8 {
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        assert!(
            verify(&b, &s, &device()).is_err(),
            "flip of bit {bit} accepted"
        );
    }
}

#[test]
fn oversized_envelope_is_rejected_before_parsing() {
    let big = vec![1u8; MAX_ENVELOPE_LEN + 1];
    let err = verify(&big, &store(), &device()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::Envelope(EnvelopeError::TooLarge {
            len: MAX_ENVELOPE_LEN + 1
        })
    );
    assert_eq!(err.check(), "size");
}

#[test]
fn unknown_manifest_format_version() {
    let mut m = postcard::to_stdvec(&manifest()).unwrap();
    m[0] = 3;
    let env = sign_payload(ota_core::envelope::MANIFEST_DOMAIN, &m, &[&signer()]).unwrap();
    let err = verify(&env, &store(), &device()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::Manifest(ManifestDecodeError::UnsupportedVersion { found: 3 })
    );
    assert_eq!(err.check(), "format-version");
    // Version 2 is the delta manifest: a version 1 body named 2 lacks its delta fields.
    m[0] = 2;
    let env = sign_payload(ota_core::envelope::MANIFEST_DOMAIN, &m, &[&signer()]).unwrap();
    let err = verify(&env, &store(), &device()).unwrap_err();
    assert_eq!(err, VerifyError::Manifest(ManifestDecodeError::Malformed));
    assert_eq!(err.check(), "decode");
}

#[test]
fn non_canonical_manifest_is_rejected_even_when_signed() {
    // The sequence 5 as the two-byte varint [0x85, 0x00].
    let canon = postcard::to_stdvec(&manifest()).unwrap();
    assert_eq!(canon[1], 5);
    let mut m = vec![canon[0], 0x85, 0x00];
    m.extend_from_slice(&canon[2..]);
    let env = sign_payload(ota_core::envelope::MANIFEST_DOMAIN, &m, &[&signer()]).unwrap();
    assert_eq!(
        verify(&env, &store(), &device()),
        Err(VerifyError::Manifest(ManifestDecodeError::NonCanonical))
    );
}

#[test]
fn installed_version_below_the_required_minimum() {
    let mut m = manifest();
    m.min_installed_version = Some(Version::new(1, 1, 1));
    assert_eq!(
        verify(&signed(&m), &store(), &device()),
        Err(VerifyError::InstalledTooOld {
            installed: Version::new(1, 1, 0),
            required: Version::new(1, 1, 1)
        })
    );
}

#[test]
fn a_delegation_is_not_a_manifest() {
    // Root-signed delegation bytes presented as a manifest: wrong domain, wrong format (their
    // first byte, 2, names a delta manifest, whose fields they do not hold).
    let env = sign_delegation(
        &delegate(2, &signer(), Validity::UNBOUNDED),
        &[&root(1), &root(2)],
    )
    .unwrap();
    assert_eq!(
        verify(&env, &store(), &device()),
        Err(VerifyError::Manifest(ManifestDecodeError::Malformed))
    );
    // And a manifest signed by roots cannot be applied as a delegation.
    let m = sign_manifest(&manifest(), &[&root(1), &root(2)]).unwrap();
    // (Its first byte, manifest format 1, reads as the retired unscoped record format.)
    assert_eq!(
        store().apply_delegation(&m),
        Err(TrustError::UnscopedRecord)
    );
}

#[test]
fn every_error_says_what_was_wrong() {
    let id = KeyId([0xab; 8]);
    let errors = [
        VerifyError::Envelope(EnvelopeError::TooLarge { len: 9999 }),
        VerifyError::Envelope(EnvelopeError::UnsupportedVersion { found: 7 }),
        VerifyError::Envelope(EnvelopeError::Malformed),
        VerifyError::Envelope(EnvelopeError::PayloadTooLarge { len: 999 }),
        VerifyError::Envelope(EnvelopeError::TrailingBytes(3)),
        VerifyError::Envelope(EnvelopeError::NonCanonical),
        VerifyError::Manifest(ManifestDecodeError::UnsupportedVersion { found: 9 }),
        VerifyError::Manifest(ManifestDecodeError::Malformed),
        VerifyError::Manifest(ManifestDecodeError::TrailingBytes(1)),
        VerifyError::Manifest(ManifestDecodeError::NonCanonical),
        VerifyError::Signature(SignatureError::UntrustedKey(id)),
        VerifyError::Signature(SignatureError::BadSignature(id)),
        VerifyError::Signature(SignatureError::KeyOutOfSequence {
            key: id,
            sequence: 1,
            from: 2,
            until: 3,
        }),
        VerifyError::Signature(SignatureError::KeyOutOfTime {
            key: id,
            now: 1,
            not_before: 2,
            not_after: 3,
        }),
        VerifyError::Signature(SignatureError::ThresholdNotMet {
            weight: 1,
            threshold: 2,
        }),
        VerifyError::Signature(SignatureError::KeyOutOfScope { key: id }),
        VerifyError::Signature(SignatureError::FreshnessMissing { key: id }),
        VerifyError::Signature(SignatureError::FreshnessExpired {
            key: id,
            expires_at: 5,
            now: 6,
        }),
        VerifyError::Signature(SignatureError::DelegationsBehind {
            key: id,
            have: 1,
            required: 3,
        }),
        VerifyError::WrongVendor {
            found: vendor(),
            expected: class(),
        },
        VerifyError::WrongHardware {
            found: vendor(),
            expected: class(),
        },
        VerifyError::Replay {
            sequence: 1,
            last: 2,
        },
        VerifyError::Rollback {
            security_version: 1,
            floor: 2,
        },
        VerifyError::Expired {
            expires_at: 1,
            now: 2,
        },
        VerifyError::TooLargeForSlot {
            image_size: 2,
            slot_capacity: 1,
        },
        VerifyError::InstalledTooOld {
            installed: Version::new(1, 0, 0),
            required: Version::new(2, 0, 0),
        },
        VerifyError::Encryption(ota_core::segment::SegmentError::BadSegmentSize(0)),
    ];
    // The check name and the exact message of every variant.
    let expected = [
        "size                   envelope: envelope is 9999 bytes, more than the 612-byte limit",
        "format-version         envelope: envelope format version 7 is not supported (expected 1)",
        "decode                 envelope: envelope bytes do not decode as a version-1 envelope (truncated, or more than 4 signatures)",
        "decode                 envelope: envelope payload is 999 bytes, more than the 320-byte limit",
        "decode                 envelope: envelope has 3 trailing bytes after its last signature (expected none)",
        "decode                 envelope: envelope encoding is not canonical (an over-long varint)",
        "format-version         manifest: manifest format version 9 is not supported (expected 1, or 2 for a delta)",
        "decode                 manifest: manifest bytes do not decode as a manifest of the version their first byte names",
        "decode                 manifest: manifest has 1 trailing bytes after its last field (expected none)",
        "decode                 manifest: manifest encoding is not canonical (an over-long varint)",
        "signature              signatures: signature by key abababababababab, which is not a trusted root or delegated key (unknown or revoked)",
        "signature              signatures: signature by key abababababababab does not verify (strict Ed25519) over the manifest",
        "signature              signatures: key abababababababab may sign sequences 2..=3, not 1",
        "signature              signatures: key abababababababab is not valid at device time 1 (window 2..=3)",
        "signature              signatures: valid signatures weigh 1, threshold is 2",
        "signature              signatures: key abababababababab is delegated for this device's product only, not the manifest's",
        "signature              signatures: key abababababababab is delegated, but no freshness record vouches for the delegation state (apply a root-signed freshness record first)",
        "signature              signatures: key abababababababab is delegated, but the freshness record expired at 5 (device time 6); fetch a newer one",
        "signature              signatures: key abababababababab is delegated, but the delegation chain is at 1 and the freshness record requires 3; fetch the missing records",
        "vendor                 manifest vendor 822b33ad-87c1-48a0-a20a-5ba7cd5ebcaa is not this device's vendor a0fa21ef-5853-2a5e-f53f-e9c6f346ead3",
        "hardware-class         manifest hardware class 822b33ad-87c1-48a0-a20a-5ba7cd5ebcaa is not this device's class a0fa21ef-5853-2a5e-f53f-e9c6f346ead3",
        "sequence               manifest sequence 1 is not newer than accepted 2",
        "security-version       security version 1 is below the device floor 2",
        "expiry                 manifest expired at 1, device time is 2",
        "slot-size              image of 2 bytes does not fit the 1-byte slot",
        "min-installed-version  installed version 1.0.0 is older than the required minimum 2.0.0",
        "encryption             manifest encryption parameters: segment size 0 is outside 1..=65536",
    ];
    assert_eq!(errors.len(), expected.len());
    for (e, want) in errors.iter().zip(expected) {
        assert_eq!(format!("{:<22} {e}", e.check()), want);
    }
}

#[test]
fn trust_segment_and_image_errors_say_what_was_wrong() {
    use ota_core::segment::SegmentError;
    let id = KeyId([0xcd; 8]);
    let texts = [
        TrustError::BadThreshold {
            threshold: 4,
            roots: 3,
        }
        .to_string(),
        TrustError::StoreFull { capacity: 4 }.to_string(),
        TrustError::DuplicateRoot(id).to_string(),
        TrustError::BadKey.to_string(),
        TrustError::Envelope(EnvelopeError::Malformed).to_string(),
        TrustError::UnsupportedRecordVersion { found: 3 }.to_string(),
        TrustError::MalformedRecord.to_string(),
        TrustError::StaleRecord { found: 1, last: 2 }.to_string(),
        TrustError::RootThresholdNotMet {
            valid: 1,
            threshold: 2,
        }
        .to_string(),
        TrustError::UnscopedRecord.to_string(),
        TrustError::UnsupportedFreshnessVersion { found: 4 }.to_string(),
        TrustError::SequenceGap {
            found: 4,
            expected: 2,
        }
        .to_string(),
        TrustError::WrongProduct {
            vendor_id: vendor(),
            class_id: class(),
            expected_vendor: class(),
            expected_class: vendor(),
        }
        .to_string(),
        TrustError::NoProductScope.to_string(),
        TrustError::StaleFreshness { found: 1, last: 1 }.to_string(),
        SegmentError::NotEncrypted.to_string(),
        SegmentError::WrongKey {
            found: [1; 8],
            expected: [2; 8],
        }
        .to_string(),
        SegmentError::BadSegmentSize(0).to_string(),
        SegmentError::WrongLength {
            index: 1,
            found: 2,
            expected: 3,
        }
        .to_string(),
        SegmentError::Authentication { index: 4 }.to_string(),
        SegmentError::TrailingSegment.to_string(),
        SegmentError::Truncated {
            received: 1,
            expected: 2,
        }
        .to_string(),
        ImageError::TooLong { declared: 5 }.to_string(),
        ImageError::Truncated {
            received: 1,
            declared: 5,
        }
        .to_string(),
        ImageError::DigestMismatch.to_string(),
        SegmentError::Random.to_string(),
        SegmentError::ImageTooLarge(1 << 33).to_string(),
        SegmentError::ManifestEncode.to_string(),
    ];
    let expected = [
        "threshold 4 cannot be used with 3 root keys (expected 1..=3)",
        "trust store is full (4 keys of this kind); revoke one first",
        "root key cdcdcdcdcdcdcdcd is listed twice",
        "bytes are not a valid Ed25519 public key",
        "delegation envelope: envelope bytes do not decode as a version-1 envelope (truncated, or more than 4 signatures)",
        "delegation record format version 3 is not supported (expected 2)",
        "record bytes do not decode canonically as a record of their format version",
        "delegation record sequence 1 is not newer than accepted 2",
        "record has 1 valid root signatures, threshold is 2",
        "delegation record format version 1 names no product and allows sequence gaps; re-issue it as format version 2",
        "freshness record format version 4 is not supported (expected 1)",
        "delegation record sequence 4 skips the chain: expected 2 next (fetch the missing records first)",
        "record is for vendor 822b33ad-87c1-48a0-a20a-5ba7cd5ebcaa class a0fa21ef-5853-2a5e-f53f-e9c6f346ead3, not this store's product (vendor a0fa21ef-5853-2a5e-f53f-e9c6f346ead3 class 822b33ad-87c1-48a0-a20a-5ba7cd5ebcaa)",
        "this trust store has no product scope (made with `TrustStore::new`); use `TrustStore::for_product` to apply delegation or freshness records",
        "freshness record sequence 1 is not newer than accepted 1",
        "manifest declares no encryption, so there is nothing to decrypt",
        "AES key id [01, 01, 01, 01, 01, 01, 01, 01] is not the manifest's key id [02, 02, 02, 02, 02, 02, 02, 02]",
        "segment size 0 is outside 1..=65536",
        "segment 1 is 2 bytes, expected 3",
        "segment 4 failed authentication (altered, reordered, or not the final segment)",
        "payload continues after its final segment",
        "payload ended after 1 of 2 segments",
        "image continues past its declared 5 bytes",
        "image ended after 1 of 5 declared bytes",
        "image SHA-256 does not match the manifest's digest",
        "the OS random source failed, so no nonce prefix could be drawn",
        "image of 8589934592 bytes is over the 4 GiB a manifest can describe",
        "the manifest does not encode (its digest is the payload's AAD)",
    ];
    assert_eq!(texts.len(), expected.len());
    for (text, want) in texts.iter().zip(expected) {
        assert_eq!(text, want);
    }
}

/// Issue 13: an invalid entry from a key must not stop a later valid entry from the same key
/// from counting (the verifier used to mark the id seen before checking the signature).
#[test]
fn an_invalid_entry_never_shadows_a_valid_one_from_the_same_key() {
    let good = signed(&manifest());
    let mut env = Envelope::decode(&good).unwrap();
    let valid = env.signatures[0];
    let mut forged = valid;
    forged.signature.s[0] ^= 1;
    env.signatures.clear();
    env.signatures.push(forged).unwrap();
    env.signatures.push(valid).unwrap();
    let v = verify(&env.to_vec().unwrap(), &store(), &device()).unwrap();
    assert_eq!(v.image().sequence, 5);

    // The same with roots in a 2-of-3 store: junk by root 1, then root 1 and root 2 for real.
    let two = sign_manifest(&manifest(), &[&root(1), &root(2)]).unwrap();
    let mut env = Envelope::decode(&two).unwrap();
    let mut junk = env.signatures[0];
    junk.signature.r = [0x11; 32];
    env.signatures.insert(0, junk).unwrap();
    verify(&env.to_vec().unwrap(), &store(), &device()).unwrap();

    // Only junk from a key still fails with the exact reason.
    env.signatures.truncate(1);
    assert_eq!(
        verify(&env.to_vec().unwrap(), &store(), &device()),
        Err(VerifyError::Signature(SignatureError::BadSignature(
            KeyId::of(&root(1).verifying_key())
        )))
    );
}

/// Issue 13: the segment size is part of verification, so a manifest the decryptor would
/// refuse never becomes a `VerifiedManifest` (and so never reaches `begin`, which erases).
#[test]
fn verify_refuses_segment_sizes_the_format_forbids() {
    use ota_core::manifest::EncryptionInfo;
    use ota_core::segment::{MAX_SEGMENT_SIZE, SegmentError};
    for bad in [0, MAX_SEGMENT_SIZE + 1, u32::MAX] {
        let mut m = manifest();
        m.encryption = Some(EncryptionInfo {
            key_id: [1; 8],
            nonce_prefix: [2; 7],
            segment_size: bad,
        });
        let err = verify(&signed(&m), &store(), &device()).unwrap_err();
        assert_eq!(
            err,
            VerifyError::Encryption(SegmentError::BadSegmentSize(bad))
        );
        assert_eq!(err.check(), "encryption");
    }
    // The bounds themselves are fine.
    for ok in [1, MAX_SEGMENT_SIZE] {
        let mut m = manifest();
        m.encryption = Some(EncryptionInfo {
            key_id: [1; 8],
            nonce_prefix: [2; 7],
            segment_size: ok,
        });
        verify(&signed(&m), &store(), &device()).unwrap();
    }
}

/// Issue 13: domain separation, tested by signing the very same bytes under the other domain.
#[test]
fn a_signature_under_the_other_domain_never_counts() {
    use ota_core::envelope::{DELEGATION_DOMAIN, MANIFEST_DOMAIN};
    // Manifest bytes signed as if they were a delegation record.
    let bytes = manifest().to_vec().unwrap();
    let env = sign_payload(DELEGATION_DOMAIN, &bytes, &[&signer()]).unwrap();
    assert_eq!(
        verify(&env, &store(), &device()),
        Err(VerifyError::Signature(SignatureError::BadSignature(
            KeyId::of(&signer().verifying_key())
        )))
    );
    let env = sign_payload(DELEGATION_DOMAIN, &bytes, &[&root(1), &root(2)]).unwrap();
    assert_eq!(
        verify(&env, &store(), &device()),
        Err(VerifyError::Signature(SignatureError::BadSignature(
            KeyId::of(&root(1).verifying_key())
        )))
    );
    // And the same manifest bytes under the manifest domain are accepted.
    let env = sign_payload(MANIFEST_DOMAIN, &bytes, &[&signer()]).unwrap();
    verify(&env, &store(), &device()).unwrap();

    // Delegation record bytes signed by the roots under the manifest domain.
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[0xee; 32]);
    let record = delegate(2, &attacker, Validity::UNBOUNDED);
    let record_bytes = postcard::to_stdvec(&record).unwrap();
    let env = sign_payload(MANIFEST_DOMAIN, &record_bytes, &[&root(1), &root(2)]).unwrap();
    assert_eq!(
        store().apply_delegation(&env),
        Err(TrustError::RootThresholdNotMet {
            valid: 0,
            threshold: 2
        })
    );
    let env = sign_payload(DELEGATION_DOMAIN, &record_bytes, &[&root(1), &root(2)]).unwrap();
    store().apply_delegation(&env).unwrap();
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Whatever encryption parameters `verify` accepts, the decryptor accepts too (with the key
    /// the manifest names): `begin` can never erase for a manifest the decryptor then refuses.
    #[test]
    fn every_verified_encryption_is_decryptable(
        segment_size in proptest::prop_oneof![0u32..=8, 65_530u32..=65_540, proptest::prelude::any::<u32>()],
        image_size in 0u32..=65_536,
    ) {
        use ota_core::manifest::EncryptionInfo;
        use ota_core::segment::{SegmentDecryptor, aes_key_id};
        let key = [9u8; 32];
        let mut m = manifest();
        m.image_size = image_size;
        m.encryption = Some(EncryptionInfo { key_id: aes_key_id(&key), nonce_prefix: [3; 7], segment_size });
        let verified = verify(&signed(&m), &store(), &device());
        match verified {
            Ok(v) => { SegmentDecryptor::for_manifest(&key, &v).unwrap(); }
            Err(e) => proptest::prop_assert_eq!(e, VerifyError::Encryption(ota_core::segment::SegmentError::BadSegmentSize(segment_size))),
        }
    }
}
