//! Issue 13, trust side: delegation chains that are gap-free and product-scoped, and freshness
//! records that bound how long a withheld revocation keeps a key alive. Every test asserts the
//! exact error variant that stops the attack.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ota_core::envelope::{DELEGATION_DOMAIN, Envelope, FRESHNESS_DOMAIN};
use ota_core::manifest::ProductId;
use ota_core::sign::{sign_delegation, sign_freshness, sign_manifest, sign_payload};
use ota_core::trust::{
    DELEGATION_FORMAT_VERSION, FRESHNESS_FORMAT_VERSION, Freshness, FreshnessPolicy,
    FreshnessRecord, KeyId, TrustError, Validity,
};
use ota_core::verify::{DeviceContext, SignatureError, VerifyError, verify};

fn next_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[0x77; 32])
}

fn id(k: &ed25519_dalek::SigningKey) -> KeyId {
    KeyId::of(&k.verifying_key())
}

fn by_roots(r: &ota_core::trust::DelegationRecord) -> Vec<u8> {
    sign_delegation(r, &[&root(1), &root(3)]).unwrap()
}

#[test]
fn a_dropped_revocation_blocks_the_chain() {
    let mut s = store();
    // Record 2 (the revocation of `signer`) is dropped in transit; record 3 arrives.
    let later = by_roots(&delegate(3, &next_key(), Validity::UNBOUNDED));
    assert_eq!(
        s.apply_delegation(&later),
        Err(TrustError::SequenceGap {
            found: 3,
            expected: 2
        })
    );
    assert_eq!(s.last_record_sequence(), 1);
    // The roots' freshness record, signed after the revocation, says the chain is at 3: the
    // revoked key no longer signs anything on this device, although the revocation never came.
    s.apply_freshness(&freshness(2, 3, FRESH_UNTIL)).unwrap();
    assert_eq!(
        verify(&signed(&manifest()), &s, &device()),
        Err(VerifyError::Signature(SignatureError::DelegationsBehind {
            key: id(&signer()),
            have: 1,
            required: 3
        }))
    );
    // Once the missing records arrive in order, the new key signs and the old one is gone.
    s.apply_delegation(&by_roots(&revoke(2, &signer())))
        .unwrap();
    s.apply_delegation(&later).unwrap();
    verify(
        &sign_manifest(&manifest(), &[&next_key()]).unwrap(),
        &s,
        &device(),
    )
    .unwrap();
    assert_eq!(
        verify(&signed(&manifest()), &s, &device()),
        Err(VerifyError::Signature(SignatureError::UntrustedKey(id(
            &signer()
        ))))
    );
}

#[test]
fn withholding_every_later_record_ends_at_the_freshness_expiry() {
    // The attacker keeps the revocation and every newer freshness record away. The revoked key
    // signs until the held freshness record expires, and not one second longer.
    let s = store();
    let at = |now| DeviceContext { now, ..device() };
    let mut m = manifest();
    m.expires_at = None;
    let env = signed(&m);
    verify(&env, &s, &at(FRESH_UNTIL - 1)).unwrap();
    assert_eq!(
        verify(&env, &s, &at(FRESH_UNTIL)),
        Err(VerifyError::Signature(SignatureError::FreshnessExpired {
            key: id(&signer()),
            expires_at: FRESH_UNTIL,
            now: FRESH_UNTIL
        }))
    );
    // Roots still sign (they are the device's own anchors, not subject to freshness).
    let by_two_roots = sign_manifest(&m, &[&root(1), &root(2)]).unwrap();
    verify(&by_two_roots, &s, &at(FRESH_UNTIL)).unwrap();
}

#[test]
fn a_store_without_freshness_refuses_delegated_signatures() {
    let roots = [root(1), root(2), root(3)].map(|k| k.verifying_key().to_bytes());
    let mut s = Store::for_product(&roots, 2, vendor(), class()).unwrap();
    s.apply_delegation(&by_roots(&delegate(1, &signer(), Validity::UNBOUNDED)))
        .unwrap();
    assert_eq!(
        verify(&signed(&manifest()), &s, &device()),
        Err(VerifyError::Signature(SignatureError::FreshnessMissing {
            key: id(&signer())
        }))
    );
    // The policy is explicit: without it, the chain alone decides.
    let relaxed = s.clone().with_freshness(FreshnessPolicy::NotRequired);
    verify(&signed(&manifest()), &relaxed, &device()).unwrap();
}

#[test]
fn records_of_another_product_are_refused() {
    let mut s = store();
    let mut r = delegate(2, &next_key(), Validity::UNBOUNDED);
    r.class_id = ProductId::from_text("sensor-v1");
    assert_eq!(
        s.apply_delegation(&by_roots(&r)),
        Err(TrustError::WrongProduct {
            vendor_id: vendor(),
            class_id: ProductId::from_text("sensor-v1"),
            expected_vendor: vendor(),
            expected_class: class()
        })
    );
    let f = sign_freshness(
        &FreshnessRecord {
            format_version: FRESHNESS_FORMAT_VERSION,
            vendor_id: ProductId::from_text("other-corp"),
            class_id: class(),
            freshness_sequence: 9,
            min_delegation_sequence: 0,
            expires_at: u64::MAX,
        },
        &[&root(1), &root(2)],
    )
    .unwrap();
    assert_eq!(
        s.apply_freshness(&f),
        Err(TrustError::WrongProduct {
            vendor_id: ProductId::from_text("other-corp"),
            class_id: class(),
            expected_vendor: vendor(),
            expected_class: class()
        })
    );
    assert_eq!(s.last_record_sequence(), 1);
}

#[test]
fn a_delegated_key_signs_only_its_own_product() {
    let mut m = manifest();
    m.class_id = ProductId::from_text("sensor-v1");
    // A device of the other class with the same roots: the key is not its product's delegate.
    let other = DeviceContext {
        class_id: m.class_id,
        ..device()
    };
    assert_eq!(
        verify(&signed(&m), &store(), &other),
        Err(VerifyError::Signature(SignatureError::KeyOutOfScope {
            key: id(&signer())
        }))
    );
}

#[test]
fn an_unscoped_store_takes_no_records() {
    let roots = [root(1), root(2), root(3)].map(|k| k.verifying_key().to_bytes());
    let mut s = Store::new(&roots, 2).unwrap();
    assert_eq!(
        s.apply_delegation(&by_roots(&delegate(1, &signer(), Validity::UNBOUNDED))),
        Err(TrustError::NoProductScope)
    );
    assert_eq!(
        s.apply_freshness(&freshness(1, 0, FRESH_UNTIL)),
        Err(TrustError::NoProductScope)
    );
}

#[test]
fn version_1_records_fail_with_a_clear_error() {
    // A format-1 record as the previous release wrote it: version, sequence, Delegate tag, key,
    // unbounded validity.
    let mut v1 = vec![1u8, 2, 0];
    v1.extend_from_slice(&next_key().verifying_key().to_bytes());
    v1.extend_from_slice(&[0, 0, 0, 0]);
    let env = sign_payload(DELEGATION_DOMAIN, &v1, &[&root(1), &root(2)]).unwrap();
    let err = store().apply_delegation(&env).unwrap_err();
    assert_eq!(err, TrustError::UnscopedRecord);
    assert_eq!(
        err.to_string(),
        "delegation record format version 1 names no product and allows sequence gaps; \
         re-issue it as format version 2"
    );
    let mut v3 = postcard::to_stdvec(&delegate(2, &next_key(), Validity::UNBOUNDED)).unwrap();
    v3[0] = 3;
    let env = sign_payload(DELEGATION_DOMAIN, &v3, &[&root(1), &root(2)]).unwrap();
    assert_eq!(
        store().apply_delegation(&env),
        Err(TrustError::UnsupportedRecordVersion { found: 3 })
    );
    assert_eq!(DELEGATION_FORMAT_VERSION, 2);
}

#[test]
fn freshness_is_replay_protected_and_root_signed() {
    let mut s = store();
    // Replaying the held record, or an older one.
    assert_eq!(
        s.apply_freshness(&freshness(1, 0, u64::MAX)),
        Err(TrustError::StaleFreshness { found: 1, last: 1 })
    );
    // One stolen root of 2-of-3 cannot extend freshness.
    let record = FreshnessRecord {
        format_version: FRESHNESS_FORMAT_VERSION,
        vendor_id: vendor(),
        class_id: class(),
        freshness_sequence: 2,
        min_delegation_sequence: 0,
        expires_at: u64::MAX,
    };
    let one = sign_freshness(&record, &[&root(3), &root(3)]).unwrap();
    assert_eq!(
        s.apply_freshness(&one),
        Err(TrustError::RootThresholdNotMet {
            valid: 1,
            threshold: 2
        })
    );
    // Signed under the delegation domain by two roots: not a freshness signature.
    let bytes = postcard::to_stdvec(&record).unwrap();
    let wrong = sign_payload(DELEGATION_DOMAIN, &bytes, &[&root(1), &root(2)]).unwrap();
    assert_eq!(
        s.apply_freshness(&wrong),
        Err(TrustError::RootThresholdNotMet {
            valid: 0,
            threshold: 2
        })
    );
    let right = sign_payload(FRESHNESS_DOMAIN, &bytes, &[&root(1), &root(2)]).unwrap();
    s.apply_freshness(&right).unwrap();
    assert_eq!(
        s.freshness(),
        Some(Freshness {
            sequence: 2,
            min_delegation_sequence: 0,
            expires_at: u64::MAX
        })
    );
    // A freshness envelope is not a delegation (its first byte, 1, reads as the retired
    // unscoped delegation format), and the reverse.
    assert_eq!(s.apply_delegation(&right), Err(TrustError::UnscopedRecord));
    let grant = by_roots(&delegate(2, &next_key(), Validity::UNBOUNDED));
    assert_eq!(
        s.apply_freshness(&grant),
        Err(TrustError::UnsupportedFreshnessVersion { found: 2 })
    );
}

#[test]
fn an_invalid_root_entry_never_shadows_a_valid_one_in_a_record() {
    let mut s = store();
    let env = by_roots(&delegate(2, &next_key(), Validity::UNBOUNDED));
    let mut e = Envelope::decode(&env).unwrap();
    let mut junk = e.signatures[0];
    junk.signature.s = [0; 32];
    e.signatures.insert(0, junk).unwrap();
    s.apply_delegation(&e.to_vec().unwrap()).unwrap();
    assert_eq!(s.last_record_sequence(), 2);
}

#[test]
fn trust_errors_say_what_was_wrong() {
    let cases = [
        (
            TrustError::SequenceGap {
                found: 5,
                expected: 3,
            },
            "delegation record sequence 5 skips the chain: expected 3 next (fetch the missing records first)",
        ),
        (
            TrustError::StaleFreshness { found: 1, last: 4 },
            "freshness record sequence 1 is not newer than accepted 4",
        ),
        (
            TrustError::UnsupportedFreshnessVersion { found: 7 },
            "freshness record format version 7 is not supported (expected 1)",
        ),
    ];
    for (e, text) in cases {
        assert_eq!(e.to_string(), text);
    }
    let e = SignatureError::DelegationsBehind {
        key: KeyId([0xab; 8]),
        have: 1,
        required: 3,
    };
    assert_eq!(
        e.to_string(),
        "key abababababababab is delegated, but the delegation chain is at 1 and the freshness \
         record requires 3; fetch the missing records"
    );
}
