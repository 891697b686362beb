//! One test per attack a device faces (TUF / Uptane names), each asserting the exact check that
//! stops it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ota_core::envelope::{Envelope, EnvelopeError, MAX_ENVELOPE_LEN};
use ota_core::manifest::{ManifestDecodeError, ProductId, Version};
use ota_core::sign::{sign_delegation, sign_manifest, sign_payload};
use ota_core::trust::{DelegationAction, DelegationRecord, KeyId, TrustError, Validity};
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
    let err = verify(&signed(&m), &store(), &device()).unwrap_err();
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
    let revoke = DelegationRecord {
        format_version: 1,
        record_sequence: 2,
        action: DelegationAction::Revoke {
            key_id: KeyId::of(&signer().verifying_key()),
        },
    };
    s.apply_delegation(&sign_delegation(&revoke, &[&root(2), &root(3)]).unwrap())
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
    let revoke = DelegationRecord {
        format_version: 1,
        record_sequence: 3,
        action: DelegationAction::Revoke {
            key_id: KeyId::of(&signer().verifying_key()),
        },
    };
    s.apply_delegation(&sign_delegation(&revoke, &[&root(1), &root(2)]).unwrap())
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
    m[0] = 2;
    let env = sign_payload(ota_core::envelope::MANIFEST_DOMAIN, &m, &[&signer()]).unwrap();
    let err = verify(&env, &store(), &device()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::Manifest(ManifestDecodeError::UnsupportedVersion { found: 2 })
    );
    assert_eq!(err.check(), "format-version");
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
    // Root-signed delegation bytes presented as a manifest: wrong domain, wrong format.
    let env = sign_delegation(
        &delegate(2, &signer(), Validity::UNBOUNDED),
        &[&root(1), &root(2)],
    )
    .unwrap();
    assert!(verify(&env, &store(), &device()).is_err());
    // And a manifest signed by roots cannot be applied as a delegation.
    let m = sign_manifest(&manifest(), &[&root(1), &root(2)]).unwrap();
    assert!(store().apply_delegation(&m).is_err());
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
    ];
    for e in errors {
        let text = e.to_string();
        println!("{:<22} {text}", e.check());
        assert!(text.len() > 20 && !text.contains("invalid"), "{text}");
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
    ];
    for text in texts {
        println!("{text}");
        assert!(text.len() > 20 && !text.contains("invalid"), "{text}");
    }
}
