//! Delta manifests (manifest format version 2): fixed vectors in `tests/vectors/delta_manifest/`
//! over the `small` patch vector, the byte layout, the worst case against the bound, and
//! version 1 manifests still read as before. Regenerate only on a deliberate format change:
//! `OTA_WRITE_VECTORS=1 cargo test -p ota-core --test delta_manifest`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::SigningKey;
use ota_core::delta;
use ota_core::digest::ImageDigest;
use ota_core::envelope::Envelope;
use ota_core::keys::aes_key_from_hex;
use ota_core::manifest::{
    DELTA_MANIFEST_FORMAT_VERSION, DeltaInfo, EncryptionInfo, MAX_MANIFEST_LEN, MAX_RELEASE_NOTES,
    Manifest, ManifestDecodeError, ProductId, Version,
};
use ota_core::segment::{SegmentDecryptor, aes_key_id, encrypt_image};
use ota_core::sign::{SignError, sign_manifest};
use ota_core::trust::{KeyId, TrustStore};
use ota_core::verify::{DeviceContext, ImageVerifier, verify};
use std::path::PathBuf;

/// RFC 8032 section 7.1, test 1 secret key (as in `tests/vectors.rs`).
const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(vectors().join(rel)).unwrap_or_else(|e| panic!("tests/vectors/{rel}: {e}"))
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&aes_key_from_hex(SEED).unwrap())
}

fn aes_key() -> [u8; 32] {
    core::array::from_fn(|i| i as u8)
}

fn manifest() -> Manifest {
    let (base, result, patch) = (
        read("delta/small.base"),
        read("delta/small.result"),
        read("delta/small.patch"),
    );
    Manifest {
        format_version: DELTA_MANIFEST_FORMAT_VERSION,
        sequence: 43,
        vendor_id: ProductId::from_text("acme"),
        class_id: ProductId::from_text("6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        version: Version::new(2, 2, 0),
        security_version: 4,
        image_size: result.len() as u32,
        image_digest: ImageDigest::of(&result),
        encryption: Some(EncryptionInfo {
            key_id: aes_key_id(&aes_key()),
            nonce_prefix: [0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6],
            segment_size: 128,
        }),
        expires_at: None,
        min_installed_version: None,
        release_notes: heapless::String::try_from("delta vector 1").unwrap(),
        delta: Some(DeltaInfo {
            base_size: base.len() as u32,
            base_digest: ImageDigest::of(&base),
            patch_size: patch.len() as u32,
        }),
    }
}

fn build() -> Vec<(&'static str, Vec<u8>)> {
    let m = manifest();
    let bytes = m.to_vec().unwrap();
    let envelope = sign_manifest(&m, &[&key()]).unwrap();
    let md = ImageDigest::of(&bytes);
    let enc = encrypt_image(
        &aes_key(),
        m.encryption.as_ref().unwrap(),
        &md,
        &read("delta/small.patch"),
    )
    .unwrap();
    let expected = format!(
        "key_id {}\nmanifest_sha256 {}\nresult_sha256 {}\nbase_sha256 {}\nenvelope_sha256 {}\npatch_enc_sha256 {}\n",
        KeyId::of(&key().verifying_key()),
        hex(&md),
        hex(&m.image_digest),
        hex(&m.delta.unwrap().base_digest),
        hex(&ImageDigest::of(&envelope)),
        hex(&ImageDigest::of(&enc)),
    );
    vec![
        ("delta_manifest/manifest.bin", bytes),
        ("delta_manifest/envelope.bin", envelope),
        ("delta_manifest/patch.enc", enc),
        ("delta_manifest/expected.txt", expected.into_bytes()),
    ]
}

fn device() -> DeviceContext {
    DeviceContext {
        vendor_id: ProductId::from_text("acme"),
        class_id: ProductId::from_text("6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        last_sequence: 42,
        security_floor: 4,
        now: 1_800_000_000,
        slot_capacity: 8192,
        installed_version: Version::new(2, 1, 0),
    }
}

fn store() -> TrustStore<1, 1> {
    TrustStore::new(&[key().verifying_key().to_bytes()], 1).unwrap()
}

#[test]
fn checked_in_vectors_match_this_implementation() {
    let files = build();
    if std::env::var_os("OTA_WRITE_VECTORS").is_some() {
        std::fs::create_dir_all(vectors().join("delta_manifest")).unwrap();
        for (name, bytes) in &files {
            std::fs::write(vectors().join(name), bytes).unwrap();
        }
    }
    for (name, bytes) in &files {
        assert_eq!(&read(name), bytes, "tests/vectors/{name} differs");
    }
}

#[test]
fn the_manifest_bytes_are_version_1_fields_then_the_delta_fields() {
    let b = read("delta_manifest/manifest.bin");
    assert_eq!(b[0], 0x02, "format version");
    let d = manifest().delta.unwrap();
    // The tail: base_size 6000 = varint f0 2e, the base digest, patch_size 380 = varint fc 02.
    let tail = [&[0xf0, 0x2e][..], &d.base_digest[..], &[0xfc, 0x02][..]].concat();
    assert!(b.ends_with(&tail), "{}", hex(&b));
    // Everything before the tail is exactly a version 1 manifest's encoding, byte 0 aside.
    let v1 = Manifest {
        format_version: 1,
        delta: None,
        ..manifest()
    };
    let mut v1_bytes = v1.to_vec().unwrap();
    v1_bytes[0] = 0x02;
    assert_eq!(&b[..b.len() - tail.len()], &v1_bytes[..]);
    assert_eq!(Manifest::decode(&b).unwrap(), manifest());
}

#[test]
fn the_vector_verifies_decrypts_and_applies_to_its_result() {
    let env = read("delta_manifest/envelope.bin");
    let v = verify(&env, &store(), &device()).unwrap();
    assert_eq!(v.delta(), manifest().delta.as_ref());
    assert_eq!(v.payload_size(), 380);
    assert_eq!(
        Envelope::decode(&env).unwrap().payload,
        &read("delta_manifest/manifest.bin")[..]
    );
    let mut d = SegmentDecryptor::for_manifest(&aes_key(), &v).unwrap();
    let payload = read("delta_manifest/patch.enc");
    let (mut at, mut patch) = (0, Vec::new());
    while let Some(n) = d.next_segment_len() {
        let mut seg = payload[at..at + n].to_vec();
        patch.extend_from_slice(d.decrypt_in_place(&mut seg).unwrap());
        at += n;
    }
    d.finish().unwrap();
    assert_eq!(at, payload.len());
    assert_eq!(patch, read("delta/small.patch"));
    let result = delta::apply_to_vec(&read("delta/small.base"), &patch).unwrap();
    let mut iv = ImageVerifier::new(&v);
    iv.update(&result).unwrap();
    iv.finish().unwrap();
}

#[test]
fn every_modified_or_truncated_vector_fails() {
    let env = read("delta_manifest/envelope.bin");
    for i in 0..env.len() {
        let mut b = env.clone();
        b[i] ^= 0x80;
        assert!(verify(&b, &store(), &device()).is_err(), "byte {i}");
    }
    let m = read("delta_manifest/manifest.bin");
    for n in 0..m.len() {
        assert!(Manifest::decode(&m[..n]).is_err(), "prefix of {n} bytes");
    }
    let mut long = m.clone();
    long.push(0);
    assert_eq!(
        Manifest::decode(&long),
        Err(ManifestDecodeError::TrailingBytes(1))
    );
    // The same bytes named version 1 leave the delta fields unread.
    let mut as_v1 = m.clone();
    as_v1[0] = 1;
    assert_eq!(
        Manifest::decode(&as_v1),
        Err(ManifestDecodeError::TrailingBytes(36))
    );
    // A version 1 manifest named version 2 lacks them.
    let mut v1 = read("manifest.bin");
    v1[0] = 2;
    assert_eq!(Manifest::decode(&v1), Err(ManifestDecodeError::Malformed));
    v1[0] = 3;
    assert_eq!(
        Manifest::decode(&v1),
        Err(ManifestDecodeError::UnsupportedVersion { found: 3 })
    );
}

#[test]
fn version_1_manifests_read_as_before() {
    let m = Manifest::decode(&read("manifest.bin")).unwrap();
    assert_eq!((m.format_version, m.delta), (1, None));
    assert_eq!(m.to_vec().unwrap(), read("manifest.bin"));
    assert_eq!(m.payload_size(), m.image_size);
}

#[test]
fn version_and_delta_must_agree() {
    let v1_with_delta = Manifest {
        format_version: 1,
        ..manifest()
    };
    assert!(v1_with_delta.to_vec().is_err());
    assert_eq!(
        sign_manifest(&v1_with_delta, &[&key()]),
        Err(SignError::FormatVersion(1))
    );
    let v2_without = Manifest {
        delta: None,
        ..manifest()
    };
    assert!(v2_without.to_vec().is_err());
    assert_eq!(
        sign_manifest(&v2_without, &[&key()]),
        Err(SignError::FormatVersion(2))
    );
}

#[test]
fn worst_case_delta_manifest_is_exactly_the_bound() {
    let max = Version {
        major: u16::MAX,
        minor: u16::MAX,
        patch: u16::MAX,
        build: Some(u32::MAX),
    };
    let m = Manifest {
        sequence: u64::MAX,
        version: max,
        security_version: u32::MAX,
        image_size: u32::MAX,
        encryption: Some(EncryptionInfo {
            key_id: [0xff; 8],
            nonce_prefix: [0xff; 7],
            segment_size: u32::MAX,
        }),
        expires_at: Some(u64::MAX),
        min_installed_version: Some(max),
        release_notes: heapless::String::try_from("x".repeat(MAX_RELEASE_NOTES).as_str()).unwrap(),
        delta: Some(DeltaInfo {
            base_size: u32::MAX,
            base_digest: [0xff; 32],
            patch_size: u32::MAX,
        }),
        ..manifest()
    };
    let bytes = m.to_vec().unwrap();
    assert_eq!(bytes.len(), MAX_MANIFEST_LEN);
    assert_eq!(Manifest::decode(&bytes).unwrap(), m);
    assert!(sign_manifest(&m, &[&key()]).is_ok());
}
