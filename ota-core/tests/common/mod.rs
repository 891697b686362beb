//! Shared fixture: three roots (2 of 3), one delegated signing key, a product, a device.
#![allow(dead_code, unreachable_pub)]

use ed25519_dalek::SigningKey;
use ota_core::manifest::{Manifest, ProductId, Version};
use ota_core::sign::{sign_delegation, sign_manifest};
use ota_core::trust::{DelegationAction, DelegationRecord, TrustStore, Validity};
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
        format_version: 1,
        record_sequence,
        action: DelegationAction::Delegate {
            key: key.verifying_key().to_bytes(),
            validity,
        },
    }
}

/// Roots 1..=3 (threshold 2), with `signer()` delegated by roots 1 and 2 (built once, cloned:
/// debug-build signature checks are slow).
pub fn store() -> Store {
    static STORE: std::sync::OnceLock<Store> = std::sync::OnceLock::new();
    STORE.get_or_init(build_store).clone()
}

fn build_store() -> Store {
    let roots = [root(1), root(2), root(3)].map(|k| k.verifying_key().to_bytes());
    let mut s = Store::new(&roots, 2).unwrap();
    let env = sign_delegation(
        &delegate(1, &signer(), Validity::UNBOUNDED),
        &[&root(1), &root(2)],
    )
    .unwrap();
    s.apply_delegation(&env).unwrap();
    s
}

pub fn signed(m: &Manifest) -> Vec<u8> {
    sign_manifest(m, &[&signer()]).unwrap()
}
