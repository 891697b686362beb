//! Envelope and manifest decoding plus full verification, on arbitrary bytes.
//!
//! - decode -> encode == input for envelopes, manifests and delegation records (one canonical
//!   encoding, so no second spelling of a signed manifest is accepted);
//! - `verify` and `apply_delegation` never panic;
//! - a decodable manifest is also re-signed with a trusted key and verified, so the policy checks
//!   after the signature check see fuzzer-chosen manifests too.
#![no_main]

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use ota_core::envelope::Envelope;
use ota_core::manifest::{Manifest, ProductId, Version};
use ota_core::trust::{DelegationRecord, TrustStore};
use ota_core::verify::{DeviceContext, verify};
use std::sync::OnceLock;

fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_bytes(&[7; 32]))
}

fn store() -> &'static TrustStore<2, 2> {
    static STORE: OnceLock<TrustStore<2, 2>> = OnceLock::new();
    STORE.get_or_init(|| {
        let roots = [
            key().verifying_key().to_bytes(),
            SigningKey::from_bytes(&[8; 32]).verifying_key().to_bytes(),
        ];
        TrustStore::new(&roots, 1).unwrap()
    })
}

fn device(seed: u8) -> DeviceContext {
    DeviceContext {
        vendor_id: ProductId::from_text("acme"),
        class_id: ProductId::from_text("sensor-v2"),
        last_sequence: u64::from(seed),
        security_floor: u32::from(seed / 4),
        now: 1_800_000_000,
        slot_capacity: 1 << 20,
        installed_version: Version::new(1, u16::from(seed % 3), 0),
    }
}

fuzz_target!(|data: &[u8]| {
    let seed = data.last().copied().unwrap_or(0);
    let _ = verify(data, store(), &device(seed));
    let _ = store().clone().apply_delegation(data);
    if let Ok(env) = Envelope::decode(data) {
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
            let signed = ota_core::sign::sign_manifest(&m, &[key()]).unwrap();
            let _ = verify(&signed, store(), &device(seed));
        }
        if let Ok(r) = DelegationRecord::decode(env.payload) {
            assert_eq!(
                postcard::to_stdvec(&r).unwrap(),
                env.payload,
                "record re-encodes differently"
            );
        }
    }
    // The same bytes as a bare manifest.
    if let Ok(m) = Manifest::decode(data) {
        assert_eq!(m.to_vec().unwrap(), data, "manifest re-encodes differently");
    }
});
