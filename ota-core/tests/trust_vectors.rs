//! Fixed test vectors for the trust formats (`tests/vectors/trust/`, described in its README):
//! a delegation record (format 2), a revocation, a freshness record, and the persisted trust
//! record on flash. Regenerate only on a deliberate format change:
//! `OTA_WRITE_VECTORS=1 cargo test -p ota-core --test trust_vectors`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::SigningKey;
use embedded_storage::nor_flash::ReadNorFlash as _;
use ota_core::keys::aes_key_from_hex;
use ota_core::manifest::ProductId;
use ota_core::sign::{sign_delegation, sign_freshness};
use ota_core::sim::{SimConfig, SimFlash};
use ota_core::trust::{
    DELEGATION_FORMAT_VERSION, DelegationAction, DelegationRecord, FRESHNESS_FORMAT_VERSION,
    Freshness, FreshnessRecord, KeyId, TrustError, TrustStore, Validity,
};
use ota_core::trust_journal::{PersistentTrust, RECORD_SIZE, TrustRegion};
use std::path::PathBuf;

/// RFC 8032 section 7.1 test 1 (the root) and test 2 (the delegated key) secret keys.
const ROOT_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const DELEGATE_SEED: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

type Store = TrustStore<1, 2>;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/trust")
}

fn key(seed: &str) -> SigningKey {
    SigningKey::from_bytes(&aes_key_from_hex(seed).unwrap())
}

fn vendor() -> ProductId {
    ProductId::from_text("acme")
}

fn class() -> ProductId {
    ProductId::from_text("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
}

fn store() -> Store {
    Store::for_product(
        &[key(ROOT_SEED).verifying_key().to_bytes()],
        1,
        vendor(),
        class(),
    )
    .unwrap()
}

fn record(seq: u64, action: DelegationAction) -> DelegationRecord {
    DelegationRecord {
        format_version: DELEGATION_FORMAT_VERSION,
        vendor_id: vendor(),
        class_id: class(),
        record_sequence: seq,
        action,
    }
}

fn build() -> Vec<(&'static str, Vec<u8>)> {
    let root = key(ROOT_SEED);
    let grant = record(
        1,
        DelegationAction::Delegate {
            key: key(DELEGATE_SEED).verifying_key().to_bytes(),
            validity: Validity {
                from_sequence: 40,
                until_sequence: None,
                not_before: None,
                not_after: Some(1_900_000_000),
            },
        },
    );
    let revoke = record(
        2,
        DelegationAction::Revoke {
            key_id: KeyId::of(&key(DELEGATE_SEED).verifying_key()),
        },
    );
    let fresh = FreshnessRecord {
        format_version: FRESHNESS_FORMAT_VERSION,
        vendor_id: vendor(),
        class_id: class(),
        freshness_sequence: 1,
        min_delegation_sequence: 1,
        expires_at: 1_900_000_000,
    };
    let grant_env = sign_delegation(&grant, &[&root]).unwrap();
    let fresh_env = sign_freshness(&fresh, &[&root]).unwrap();
    // The persisted record after the grant and the freshness record: the second commit's
    // first copy (the first commit's pair is slots 0 and 1 of the region's first sector).
    let mut flash = SimFlash::<8, 4096>::new(2, SimConfig::default());
    let region = TrustRegion {
        offset: 0,
        sectors: 2,
    };
    let mut t = PersistentTrust::open(&mut flash, region, store()).unwrap();
    t.apply_delegation(&mut flash, &grant_env).unwrap();
    t.apply_freshness(&mut flash, &fresh_env).unwrap();
    let mut rec = vec![0u8; RECORD_SIZE];
    flash.read(2 * RECORD_SIZE as u32, &mut rec).unwrap();
    vec![
        ("delegation-1.bin", grant_env),
        (
            "revocation-2.bin",
            sign_delegation(&revoke, &[&root]).unwrap(),
        ),
        ("freshness-1.bin", fresh_env),
        ("trust-record.bin", rec),
    ]
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("tests/vectors/trust/{name}: {e}"))
}

#[test]
fn checked_in_trust_vectors_match_this_implementation() {
    let v = build();
    if std::env::var_os("OTA_WRITE_VECTORS").is_some() {
        std::fs::create_dir_all(dir()).unwrap();
        for (name, bytes) in &v {
            std::fs::write(dir().join(name), bytes).unwrap();
        }
    }
    for (name, bytes) in &v {
        assert_eq!(
            &read(name),
            bytes,
            "tests/vectors/trust/{name} differs from what this code makes"
        );
    }
}

#[test]
fn checked_in_records_apply_in_order_and_modified_ones_fail() {
    let mut s = store();
    let grant = read("delegation-1.bin");
    for i in 0..grant.len() {
        let mut b = grant.clone();
        b[i] ^= 0x01;
        assert!(
            store().apply_delegation(&b).is_err(),
            "byte {i} modified still applies"
        );
    }
    let r = s.apply_delegation(&grant).unwrap();
    assert_eq!(r.record_sequence, 1);
    s.apply_freshness(&read("freshness-1.bin")).unwrap();
    assert_eq!(
        s.freshness(),
        Some(Freshness {
            sequence: 1,
            min_delegation_sequence: 1,
            expires_at: 1_900_000_000
        })
    );
    assert_eq!(s.delegates().len(), 1);
    s.apply_delegation(&read("revocation-2.bin")).unwrap();
    assert!(s.delegates().is_empty());
    assert_eq!(
        s.apply_delegation(&grant),
        Err(TrustError::StaleRecord { found: 1, last: 2 })
    );
}

#[test]
fn checked_in_trust_record_loads_as_the_state_it_holds() {
    let mut flash = SimFlash::<8, 4096>::new(2, SimConfig::default());
    flash.load(4096, &read("trust-record.bin"));
    let region = TrustRegion {
        offset: 0,
        sectors: 2,
    };
    let t = PersistentTrust::open(&mut flash, region, store()).unwrap();
    assert_eq!(t.journal().generation(), 2);
    assert!(t.journal().is_degraded(), "one copy only was loaded");
    let s = t.store();
    assert_eq!(s.last_record_sequence(), 1);
    assert_eq!(s.freshness().map(|f| f.expires_at), Some(1_900_000_000));
    assert_eq!(
        s.delegates()[0].key.id,
        KeyId::of(&key(DELEGATE_SEED).verifying_key())
    );
    assert_eq!(s.delegates()[0].validity.from_sequence, 40);
    // The same bytes under another root set are foreign: nothing loads.
    let other = Store::for_product(
        &[key(DELEGATE_SEED).verifying_key().to_bytes()],
        1,
        vendor(),
        class(),
    )
    .unwrap();
    let t = PersistentTrust::open(&mut flash, region, other).unwrap();
    assert_eq!(t.journal().generation(), 0);
}
