//! Shared fixture: three roots (2 of 3), one delegated signing key, a product, a device.
#![allow(dead_code, unreachable_pub)]

use ed25519_dalek::SigningKey;
use ota_core::manifest::{Manifest, ProductId, Version};
use ota_core::sign::{sign_delegation, sign_freshness, sign_manifest};
use ota_core::trust::{
    DELEGATION_FORMAT_VERSION, DelegationAction, DelegationRecord, FRESHNESS_FORMAT_VERSION,
    FreshnessRecord, KeyId, TrustStore, Validity,
};
use ota_core::verify::DeviceContext;

pub type Store = TrustStore<3, 4>;

pub fn root(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[i; 32])
}

pub fn signer() -> SigningKey {
    SigningKey::from_bytes(&[0x5a; 32])
}

pub fn vendor() -> ProductId {
    ProductId::from_text("acme")
}

pub fn class() -> ProductId {
    ProductId::from_text("sensor-v2")
}

pub fn image() -> Vec<u8> {
    (0..5000u32).map(|i| (i * 31 % 251) as u8).collect()
}

pub const NOW: u64 = 1_800_000_000;

pub fn manifest_for(image: &[u8], sequence: u64) -> Manifest {
    Manifest {
        format_version: 1,
        sequence,
        vendor_id: vendor(),
        class_id: class(),
        version: Version::new(1, 2, 3),
        security_version: 3,
        image_size: image.len() as u32,
        image_digest: ota_core::digest::ImageDigest::of(image),
        encryption: None,
        expires_at: Some(NOW + 86_400),
        min_installed_version: Some(Version::new(1, 0, 0)),
        release_notes: heapless::String::try_from("fixes the sensor drift").unwrap(),
        delta: None,
    }
}

pub fn manifest() -> Manifest {
    manifest_for(&image(), 5)
}

pub fn device() -> DeviceContext {
    DeviceContext {
        vendor_id: vendor(),
        class_id: class(),
        last_sequence: 4,
        security_floor: 3,
        now: NOW,
        slot_capacity: 64 * 1024,
        installed_version: Version::new(1, 1, 0),
    }
}

pub fn delegate(record_sequence: u64, key: &SigningKey, validity: Validity) -> DelegationRecord {
    DelegationRecord {
        format_version: DELEGATION_FORMAT_VERSION,
        vendor_id: vendor(),
        class_id: class(),
        record_sequence,
        action: DelegationAction::Delegate {
            key: key.verifying_key().to_bytes(),
            validity,
        },
    }
}

pub fn revoke(record_sequence: u64, key: &SigningKey) -> DelegationRecord {
    DelegationRecord {
        format_version: DELEGATION_FORMAT_VERSION,
        vendor_id: vendor(),
        class_id: class(),
        record_sequence,
        action: DelegationAction::Revoke {
            key_id: KeyId::of(&key.verifying_key()),
        },
    }
}

/// A freshness record for the fixture's product, signed by roots 1 and 2.
pub fn freshness(sequence: u64, min_delegation_sequence: u64, expires_at: u64) -> Vec<u8> {
    sign_freshness(
        &FreshnessRecord {
            format_version: FRESHNESS_FORMAT_VERSION,
            vendor_id: vendor(),
            class_id: class(),
            freshness_sequence: sequence,
            min_delegation_sequence,
            expires_at,
        },
        &[&root(1), &root(2)],
    )
    .unwrap()
}

/// When the fixture's freshness record expires: a week after `NOW`.
pub const FRESH_UNTIL: u64 = NOW + 7 * 86_400;

/// Roots 1..=3 (threshold 2), scoped to the fixture's product, with `signer()` delegated by
/// roots 1 and 2 (record 1) and a freshness record (1, chain at least 1, until
/// `FRESH_UNTIL`). Built once, cloned: debug-build signature checks are slow.
pub fn store() -> Store {
    static STORE: std::sync::OnceLock<Store> = std::sync::OnceLock::new();
    STORE.get_or_init(build_store).clone()
}

fn build_store() -> Store {
    let roots = [root(1), root(2), root(3)].map(|k| k.verifying_key().to_bytes());
    let mut s = Store::for_product(&roots, 2, vendor(), class()).unwrap();
    let env = sign_delegation(
        &delegate(1, &signer(), Validity::UNBOUNDED),
        &[&root(1), &root(2)],
    )
    .unwrap();
    s.apply_delegation(&env).unwrap();
    s.apply_freshness(&freshness(1, 1, FRESH_UNTIL)).unwrap();
    s
}

pub fn signed(m: &Manifest) -> Vec<u8> {
    sign_manifest(m, &[&signer()]).unwrap()
}
