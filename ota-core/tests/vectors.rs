//! Fixed test vectors any other implementation can be checked against (`tests/vectors/`,
//! described in its README). Regenerate only on a deliberate format change:
//! `OTA_WRITE_VECTORS=1 cargo test -p ota-core --test vectors`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::SigningKey;
use ota_core::digest::ImageDigest;
use ota_core::envelope::Envelope;
use ota_core::keys::{
    aes_key_from_hex, signing_key_from_pem, signing_key_to_pem, verifying_key_to_pem,
};
use ota_core::manifest::{EncryptionInfo, Manifest, ProductId, Version};
use ota_core::segment::{SegmentDecryptor, aes_key_id, encrypt_image};
use ota_core::sign::sign_manifest;
use ota_core::trust::{KeyId, TrustStore};
use ota_core::verify::{DeviceContext, ImageVerifier, verify};
use std::path::PathBuf;

/// RFC 8032 section 7.1, test 1 secret key.
const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&aes_key_from_hex(SEED).unwrap())
}

fn aes_key() -> [u8; 32] {
    core::array::from_fn(|i| i as u8)
}

fn image() -> Vec<u8> {
    (0..1000u32).map(|i| (i % 256) as u8 ^ 0x5c).collect()
}

fn manifest() -> Manifest {
    let img = image();
    Manifest {
        format_version: 1,
        sequence: 42,
        vendor_id: ProductId::from_text("acme"),
        class_id: ProductId::from_text("6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        version: Version {
            major: 2,
            minor: 1,
            patch: 0,
            build: Some(7),
        },
        security_version: 4,
        image_size: img.len() as u32,
        image_digest: ImageDigest::of(&img),
        encryption: Some(EncryptionInfo {
            key_id: aes_key_id(&aes_key()),
            nonce_prefix: [0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6],
            segment_size: 256,
        }),
        expires_at: Some(1_900_000_000),
        min_installed_version: Some(Version::new(1, 0, 0)),
        release_notes: heapless::String::try_from("test vector 1").unwrap(),
        delta: None,
    }
}

struct Vectors {
    files: Vec<(&'static str, Vec<u8>)>,
}

fn build() -> Vectors {
    let k = key();
    let m = manifest();
    let manifest_bytes = m.to_vec().unwrap();
    let envelope = sign_manifest(&m, &[&k]).unwrap();
    let md = ImageDigest::of(&manifest_bytes);
    let enc = encrypt_image(&aes_key(), m.encryption.as_ref().unwrap(), &md, &image()).unwrap();
    let expected = format!(
        "key_id {}\nmanifest_sha256 {}\nimage_sha256 {}\nenvelope_sha256 {}\nimage_enc_sha256 {}\naes_key_id {}\n",
        KeyId::of(&k.verifying_key()),
        hex(&md),
        hex(&ImageDigest::of(&image())),
        hex(&ImageDigest::of(&envelope)),
        hex(&ImageDigest::of(&enc)),
        hex(&aes_key_id(&aes_key())),
    );
    Vectors {
        files: vec![
            ("signing.pem", signing_key_to_pem(&k).unwrap().into_bytes()),
            (
                "signing.pub.pem",
                verifying_key_to_pem(&k.verifying_key())
                    .unwrap()
                    .into_bytes(),
            ),
            (
                "aes.key",
                ota_core::keys::aes_key_to_hex(&aes_key()).into_bytes(),
            ),
            ("image.bin", image()),
            ("manifest.bin", manifest_bytes),
            ("envelope.bin", envelope),
            ("image.enc", enc),
            ("expected.txt", expected.into_bytes()),
        ],
    }
}

fn device() -> DeviceContext {
    DeviceContext {
        vendor_id: ProductId::from_text("acme"),
        class_id: ProductId::from_text("6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        last_sequence: 41,
        security_floor: 4,
        now: 1_800_000_000,
        slot_capacity: 4096,
        installed_version: Version::new(2, 0, 0),
    }
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("tests/vectors/{name}: {e}"))
}

#[test]
fn checked_in_vectors_match_this_implementation() {
    let v = build();
    if std::env::var_os("OTA_WRITE_VECTORS").is_some() {
        for (name, bytes) in &v.files {
            std::fs::write(dir().join(name), bytes).unwrap();
        }
    }
    for (name, bytes) in &v.files {
        assert_eq!(
            &read(name),
            bytes,
            "tests/vectors/{name} differs from what this code makes"
        );
    }
}

#[test]
fn checked_in_envelope_verifies_and_decrypts() {
    let k = signing_key_from_pem(core::str::from_utf8(&read("signing.pem")).unwrap()).unwrap();
    let store = TrustStore::<1, 1>::new(&[k.verifying_key().to_bytes()], 1).unwrap();
    let env = read("envelope.bin");
    let v = verify(&env, &store, &device()).unwrap();
    assert_eq!(
        v.image().manifest_digest,
        ImageDigest::of(&read("manifest.bin"))
    );
    assert_eq!(
        Envelope::decode(&env).unwrap().payload,
        &read("manifest.bin")[..]
    );
    // Decrypt in place, one 256-byte segment (+16 tag) at a time, and check the digest.
    let aes = aes_key_from_hex(core::str::from_utf8(&read("aes.key")).unwrap()).unwrap();
    let mut d = SegmentDecryptor::for_manifest(&aes, &v).unwrap();
    let mut iv = ImageVerifier::new(&v);
    let payload = read("image.enc");
    let mut at = 0;
    while let Some(n) = d.next_segment_len() {
        let mut seg = payload[at..at + n].to_vec();
        iv.update(d.decrypt_in_place(&mut seg).unwrap()).unwrap();
        at += n;
    }
    assert_eq!(at, payload.len());
    d.finish().unwrap();
    iv.finish().unwrap();
}

#[test]
fn modified_vectors_fail() {
    let k = key();
    let store = TrustStore::<1, 1>::new(&[k.verifying_key().to_bytes()], 1).unwrap();
    let env = read("envelope.bin");
    for i in 0..env.len() {
        let mut b = env.clone();
        b[i] ^= 0x80;
        assert!(
            verify(&b, &store, &device()).is_err(),
            "byte {i} modified still verifies"
        );
    }
    let v = verify(&env, &store, &device()).unwrap();
    let mut payload = read("image.enc");
    payload[700] ^= 1;
    let mut d = SegmentDecryptor::for_manifest(&aes_key(), &v).unwrap();
    let mut at = 0;
    let mut failed = false;
    while let Some(n) = d.next_segment_len() {
        let mut seg = payload[at..at + n].to_vec();
        if d.decrypt_in_place(&mut seg).is_err() {
            failed = true;
            break;
        }
        at += n;
    }
    assert!(failed);
}
