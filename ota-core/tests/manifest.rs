//! Manifest codec: round trips, decode -> encode == input, the worst case fits the bound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ota_core::manifest::{
    EncryptionInfo, MAX_MANIFEST_LEN, MAX_RELEASE_NOTES, Manifest, ManifestDecodeError, ProductId,
    Version,
};
use proptest::prelude::*;

fn version() -> impl Strategy<Value = Version> {
    (
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        any::<Option<u32>>(),
    )
        .prop_map(|(major, minor, patch, build)| Version {
            major,
            minor,
            patch,
            build,
        })
}

fn manifest() -> impl Strategy<Value = Manifest> {
    (
        any::<u64>(),
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        version(),
        any::<u32>(),
        any::<u32>(),
        any::<[u8; 32]>(),
        any::<Option<([u8; 8], [u8; 7], u32)>>(),
        any::<Option<u64>>(),
        proptest::option::of(version()),
        "[a-z \u{e9}]{0,40}",
    )
        .prop_map(
            |(sequence, v, c, version, sv, size, digest, enc, exp, min, notes)| Manifest {
                format_version: 1,
                sequence,
                vendor_id: ProductId(v),
                class_id: ProductId(c),
                version,
                security_version: sv,
                image_size: size,
                image_digest: digest,
                encryption: enc.map(|(key_id, nonce_prefix, segment_size)| EncryptionInfo {
                    key_id,
                    nonce_prefix,
                    segment_size,
                }),
                expires_at: exp,
                min_installed_version: min,
                release_notes: heapless::String::try_from(notes.as_str()).unwrap(),
                delta: None,
            },
        )
}

proptest! {
    #[test]
    fn round_trips_byte_exactly(m in manifest()) {
        let bytes = m.to_vec().unwrap();
        prop_assert!(bytes.len() <= MAX_MANIFEST_LEN);
        let back = Manifest::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.to_vec().unwrap(), bytes);
    }

    #[test]
    fn every_truncation_is_an_error(m in manifest()) {
        let bytes = m.to_vec().unwrap();
        for n in 0..bytes.len() {
            prop_assert!(Manifest::decode(&bytes[..n]).is_err());
        }
    }
}

#[test]
fn worst_case_manifest_fits_the_bound() {
    let max = Version {
        major: u16::MAX,
        minor: u16::MAX,
        patch: u16::MAX,
        build: Some(u32::MAX),
    };
    let m = Manifest {
        format_version: 1,
        sequence: u64::MAX,
        vendor_id: ProductId([0xff; 16]),
        class_id: ProductId([0xff; 16]),
        version: max,
        security_version: u32::MAX,
        image_size: u32::MAX,
        image_digest: [0xff; 32],
        encryption: Some(EncryptionInfo {
            key_id: [0xff; 8],
            nonce_prefix: [0xff; 7],
            segment_size: u32::MAX,
        }),
        expires_at: Some(u64::MAX),
        min_installed_version: Some(max),
        release_notes: heapless::String::try_from("x".repeat(MAX_RELEASE_NOTES).as_str()).unwrap(),
        delta: None,
    };
    let len = m.to_vec().unwrap().len();
    assert_eq!(len, 278);
    assert!(len <= MAX_MANIFEST_LEN);
}

#[test]
fn trailing_bytes_and_overlong_notes_are_rejected() {
    let m = Manifest {
        format_version: 1,
        sequence: 1,
        vendor_id: ProductId([1; 16]),
        class_id: ProductId([2; 16]),
        version: Version::new(1, 0, 0),
        security_version: 0,
        image_size: 0,
        image_digest: [0; 32],
        encryption: None,
        expires_at: None,
        min_installed_version: None,
        release_notes: heapless::String::new(),
        delta: None,
    };
    let mut bytes = m.to_vec().unwrap();
    bytes.push(0);
    assert_eq!(
        Manifest::decode(&bytes),
        Err(ManifestDecodeError::TrailingBytes(1))
    );
    // Notes one byte over the bound: replace the empty notes (length 0, last byte) with 129 bytes.
    bytes.pop();
    bytes.pop();
    bytes.extend_from_slice(&[0x81, 0x01]);
    bytes.extend(core::iter::repeat_n(b'x', MAX_RELEASE_NOTES + 1));
    assert_eq!(
        Manifest::decode(&bytes),
        Err(ManifestDecodeError::Malformed)
    );
}
