//! Envelopes, manifests, delegation and freshness records against a 2-of-3, product-scoped
//! trust store, on arbitrary bytes and on fuzzer-chosen record sequences.
//!
//! Raw mode (first byte < 0x80):
//! - decode -> encode == input for envelopes, manifests, delegation and freshness records (one
//!   canonical encoding, so no second spelling of a signed payload is accepted);
//! - `verify`, `apply_delegation` and `apply_freshness` never panic;
//! - a decodable payload is also re-signed (manifests by the delegated key, by one root, by two
//!   roots; records by two roots) so the checks after the signatures see fuzzer-chosen content;
//!   one root alone never authorizes anything.
//!
//! Chain mode (first byte >= 0x80): the rest is a list of 4-byte operations (delegate, revoke,
//! freshness, verify), each record re-signed by two roots with a fuzzer-nudged sequence, applied
//! to the store and to a reference model written here from the documented rules; every result
//! must match the model (gap-free chain, scope, capacity, freshness, revocation).
#![no_main]

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use ota_core::envelope::Envelope;
use ota_core::manifest::{Manifest, ProductId, Version};
use ota_core::sign::{sign_delegation, sign_freshness, sign_manifest};
use ota_core::trust::{
    DELEGATION_FORMAT_VERSION, DelegationAction, DelegationRecord, FRESHNESS_FORMAT_VERSION,
    FreshnessRecord, KeyId, TrustError, TrustStore, Validity,
};
use ota_core::verify::{DeviceContext, SignatureError, VerifyError, verify};
use std::sync::OnceLock;

type Store = TrustStore<3, 4>;
const NOW: u64 = 1_800_000_000;

fn root(i: usize) -> &'static SigningKey {
    static ROOTS: OnceLock<[SigningKey; 3]> = OnceLock::new();
    &ROOTS.get_or_init(|| [1u8, 2, 3].map(|s| SigningKey::from_bytes(&[s; 32])))[i % 3]
}

/// Candidate delegated keys; key 0 is delegated in the base store.
fn dkey(i: usize) -> &'static SigningKey {
    static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
    &KEYS.get_or_init(|| {
        (0..6u8)
            .map(|s| SigningKey::from_bytes(&[0x40 + s; 32]))
            .collect()
    })[i % 6]
}

fn vendor() -> ProductId {
    ProductId::from_text("acme")
}

fn class() -> ProductId {
    ProductId::from_text("sensor-v2")
}

fn two_roots() -> [&'static SigningKey; 2] {
    [root(0), root(1)]
}

/// Roots 1..3 (2 of 3) for acme/sensor-v2, key 0 delegated (record 1), freshness 1 (chain >= 1,
/// a day from NOW).
fn store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| {
        let roots = [0, 1, 2].map(|i| root(i).verifying_key().to_bytes());
        let mut s = Store::for_product(&roots, 2, vendor(), class()).unwrap();
        s.apply_delegation(&sign_delegation(&grant(1, 0), &two_roots()).unwrap())
            .unwrap();
        s.apply_freshness(&sign_freshness(&fresh(1, 1, NOW + 86_400), &two_roots()).unwrap())
            .unwrap();
        s
    })
}

fn grant(seq: u64, key: usize) -> DelegationRecord {
    DelegationRecord {
        format_version: DELEGATION_FORMAT_VERSION,
        vendor_id: vendor(),
        class_id: class(),
        record_sequence: seq,
        action: DelegationAction::Delegate {
            key: dkey(key).verifying_key().to_bytes(),
            validity: Validity::UNBOUNDED,
        },
    }
}

fn fresh(seq: u64, min: u64, expires_at: u64) -> FreshnessRecord {
    FreshnessRecord {
        format_version: FRESHNESS_FORMAT_VERSION,
        vendor_id: vendor(),
        class_id: class(),
        freshness_sequence: seq,
        min_delegation_sequence: min,
        expires_at,
    }
}

fn device(seed: u8) -> DeviceContext {
    DeviceContext {
        vendor_id: vendor(),
        class_id: class(),
        last_sequence: u64::from(seed),
        security_floor: u32::from(seed / 4),
        now: NOW,
        slot_capacity: 1 << 20,
        installed_version: Version::new(1, u16::from(seed % 3), 0),
    }
}

fn plain_manifest(sequence: u64) -> Manifest {
    Manifest {
        format_version: 1,
        sequence,
        vendor_id: vendor(),
        class_id: class(),
        version: Version::new(2, 0, 0),
        security_version: 1,
        image_size: 10,
        image_digest: [7; 32],
        encryption: None,
        expires_at: None,
        min_installed_version: None,
        release_notes: Default::default(),
        delta: None,
    }
}

fn raw(data: &[u8]) {
    let seed = data.last().copied().unwrap_or(0);
    let s = store();
    let _ = verify(data, s, &device(seed));
    let _ = s.clone().apply_delegation(data);
    let _ = s.clone().apply_freshness(data);
    let Ok(env) = Envelope::decode(data) else {
        if let Ok(m) = Manifest::decode(data) {
            assert_eq!(m.to_vec().unwrap(), data, "manifest re-encodes differently");
        }
        return;
    };
    assert_eq!(
        env.to_vec().unwrap(),
        data,
        "envelope re-encodes differently"
    );
    if let Ok(m) = Manifest::decode(env.payload) {
        assert_eq!(
            m.to_vec().unwrap(),
            env.payload,
            "manifest re-encodes differently"
        );
        let by_delegate = sign_manifest(&m, &[dkey(0)]).unwrap();
        let _ = verify(&by_delegate, s, &device(seed));
        let both = sign_manifest(&m, &two_roots()).unwrap();
        let _ = verify(&both, s, &device(seed));
        // One root of 2-of-3 never authorizes a manifest, whatever it says.
        let one = sign_manifest(&m, &[root(2), root(2)]).unwrap();
        match verify(&one, s, &device(seed)) {
            Err(VerifyError::Signature(SignatureError::ThresholdNotMet { weight: 1, .. })) => {}
            other => panic!("one root: {other:?}"),
        }
    }
    if let Ok(r) = DelegationRecord::decode(env.payload) {
        assert_eq!(
            postcard::to_stdvec(&r).unwrap(),
            env.payload,
            "record re-encodes differently"
        );
        let mut t = s.clone();
        if t.apply_delegation(&sign_delegation(&r, &two_roots()).unwrap())
            .is_ok()
        {
            assert_eq!(t.last_record_sequence(), 2);
            assert_eq!((r.vendor_id, r.class_id), (vendor(), class()));
        }
        let one = sign_delegation(&r, &[root(2)]).unwrap();
        assert!(
            s.clone().apply_delegation(&one).is_err(),
            "one root delegated"
        );
    }
    if let Ok(r) = FreshnessRecord::decode(env.payload) {
        assert_eq!(
            postcard::to_stdvec(&r).unwrap(),
            env.payload,
            "freshness re-encodes differently"
        );
        let _ = s
            .clone()
            .apply_freshness(&sign_freshness(&r, &two_roots()).unwrap());
    }
}

/// The reference model of a product store's dynamic state.
struct Model {
    chain: u64,
    delegates: Vec<usize>,
    freshness: Option<(u64, u64, u64)>,
}

fn chain(ops: &[u8]) {
    let mut s = store().clone();
    let mut model = Model {
        chain: 1,
        delegates: vec![0],
        freshness: Some((1, 1, NOW + 86_400)),
    };
    let mut manifest_seq = 10u64;
    for op in ops.chunks_exact(4).take(24) {
        let [kind, k, nudge, misc] = [op[0], op[1], op[2], op[3]];
        let key = usize::from(k % 6);
        // Sequence next, one back (stale), or one ahead (a gap).
        let seq = (model.chain + 1).saturating_add_signed(i64::from(nudge % 3) - 1);
        match kind % 5 {
            0 | 1 => {
                let record = if kind % 5 == 0 {
                    grant(seq, key)
                } else {
                    DelegationRecord {
                        action: DelegationAction::Revoke {
                            key_id: KeyId::of(&dkey(key).verifying_key()),
                        },
                        ..grant(seq, key)
                    }
                };
                let got = s.apply_delegation(&sign_delegation(&record, &two_roots()).unwrap());
                let expected = if seq <= model.chain {
                    Err(TrustError::StaleRecord {
                        found: seq,
                        last: model.chain,
                    })
                } else if seq != model.chain + 1 {
                    Err(TrustError::SequenceGap {
                        found: seq,
                        expected: model.chain + 1,
                    })
                } else if kind % 5 == 0
                    && !model.delegates.contains(&key)
                    && model.delegates.len() == 4
                {
                    Err(TrustError::StoreFull { capacity: 4 })
                } else {
                    Ok(record)
                };
                assert_eq!(got, expected, "record {record:?}");
                if got.is_ok() {
                    model.chain = seq;
                    if kind % 5 == 0 {
                        if !model.delegates.contains(&key) {
                            model.delegates.push(key);
                        }
                    } else {
                        model.delegates.retain(|d| *d != key);
                    }
                }
            }
            2 => {
                let fseq = model
                    .freshness
                    .map_or(0, |f| f.0)
                    .saturating_add_signed(i64::from(nudge % 3) - 1);
                let min = model.chain.saturating_add_signed(i64::from(misc % 3) - 1);
                let expires = NOW - 2 + u64::from(misc % 5);
                let r = fresh(fseq, min, expires);
                let got = s.apply_freshness(&sign_freshness(&r, &two_roots()).unwrap());
                match model.freshness {
                    Some((held, _, _)) if fseq <= held => assert_eq!(
                        got,
                        Err(TrustError::StaleFreshness {
                            found: fseq,
                            last: held
                        })
                    ),
                    _ => {
                        assert_eq!(got, Ok(r));
                        model.freshness = Some((fseq, min, expires));
                    }
                }
            }
            _ => {
                manifest_seq += 1;
                let m = plain_manifest(manifest_seq);
                let env = sign_manifest(&m, &[dkey(key)]).unwrap();
                let got = verify(&env, &s, &device(0));
                let should = model.delegates.contains(&key)
                    && model
                        .freshness
                        .is_some_and(|(_, min, exp)| NOW < exp && model.chain >= min);
                assert_eq!(got.is_ok(), should, "key {key}: {got:?}");
                if !model.delegates.contains(&key) {
                    assert_eq!(
                        got,
                        Err(VerifyError::Signature(SignatureError::UntrustedKey(
                            KeyId::of(&dkey(key).verifying_key())
                        )))
                    );
                }
            }
        }
        assert_eq!(s.last_record_sequence(), model.chain);
        assert_eq!(s.delegates().len(), model.delegates.len());
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((&mode, ops)) if mode >= 0x80 => chain(ops),
        _ => raw(data),
    }
});
