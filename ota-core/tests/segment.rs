//! Segmented AES-256-GCM: round trips against the std-side encryptor, and every way a payload
//! can be cut, reordered, swapped or altered is an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ota_core::manifest::EncryptionInfo;
use ota_core::segment::{
    SegmentDecryptor, SegmentError, TAG_LEN, aes_key_id, encrypt_image, encrypted_len,
};
use proptest::prelude::*;

const KEY: [u8; 32] = [0x11; 32];
const DIGEST: [u8; 32] = [0xd1; 32];

fn info(segment_size: u32) -> EncryptionInfo {
    EncryptionInfo {
        key_id: aes_key_id(&KEY),
        nonce_prefix: [1, 2, 3, 4, 5, 6, 7],
        segment_size,
    }
}

/// Splits a payload into its wire segments.
fn segments(payload: &[u8], image_len: usize, seg: usize) -> Vec<Vec<u8>> {
    let n = image_len.div_ceil(seg).max(1);
    let mut out = Vec::new();
    let mut at = 0;
    for i in 0..n {
        let plain = seg.min(image_len - i * seg);
        out.push(payload[at..at + plain + TAG_LEN].to_vec());
        at += plain + TAG_LEN;
    }
    assert_eq!(at, payload.len());
    out
}

fn decrypt_all(segs: &mut [Vec<u8>], image_len: u32, seg: u32) -> Result<Vec<u8>, SegmentError> {
    let mut d = SegmentDecryptor::new(&KEY, &info(seg), image_len, DIGEST)?;
    let mut out = Vec::new();
    for s in segs.iter_mut() {
        out.extend_from_slice(d.decrypt_in_place(s)?);
    }
    d.finish()?;
    Ok(out)
}

fn image(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

proptest! {
    #[test]
    fn round_trips_for_any_size_and_segmenting(len in 0usize..3000, seg in 1u32..700) {
        let img = image(len);
        let payload = encrypt_image(&KEY, &info(seg), &DIGEST, &img).unwrap();
        prop_assert_eq!(payload.len() as u64, encrypted_len(len as u32, seg).unwrap());
        let mut segs = segments(&payload, len, seg as usize);
        prop_assert_eq!(decrypt_all(&mut segs, len as u32, seg).unwrap(), img);
    }

    #[test]
    fn any_flipped_bit_is_caught(len in 1usize..600, seg in 1u32..200, pick in any::<u64>()) {
        let img = image(len);
        let mut payload = encrypt_image(&KEY, &info(seg), &DIGEST, &img).unwrap();
        let bit = (pick % (payload.len() as u64 * 8)) as usize;
        payload[bit / 8] ^= 1 << (bit % 8);
        let mut segs = segments(&payload, len, seg as usize);
        let result = decrypt_all(&mut segs, len as u32, seg);
        prop_assert!(matches!(result, Err(SegmentError::Authentication { .. })), "{:?}", result);
    }
}

#[test]
fn truncation_is_caught() {
    let img = image(1000);
    let payload = encrypt_image(&KEY, &info(256), &DIGEST, &img).unwrap();
    let mut segs = segments(&payload, 1000, 256);
    segs.pop();
    assert_eq!(
        decrypt_all(&mut segs, 1000, 256),
        Err(SegmentError::Truncated {
            received: 3,
            expected: 4
        })
    );
}

#[test]
fn dropped_last_segment_cannot_pose_as_the_last() {
    // Image of exactly 3 full segments, payload cut to 2: a device told the image is 2 segments
    // long (a lying size) still fails, because segment 1 was sealed without the last flag.
    let img = image(768);
    let payload = encrypt_image(&KEY, &info(256), &DIGEST, &img).unwrap();
    let mut segs = segments(&payload, 768, 256);
    segs.pop();
    assert_eq!(
        decrypt_all(&mut segs, 512, 256),
        Err(SegmentError::Authentication { index: 1 })
    );
}

#[test]
fn reordering_is_caught() {
    let img = image(1000);
    let payload = encrypt_image(&KEY, &info(256), &DIGEST, &img).unwrap();
    let mut segs = segments(&payload, 1000, 256);
    segs.swap(0, 1);
    assert_eq!(
        decrypt_all(&mut segs, 1000, 256),
        Err(SegmentError::Authentication { index: 0 })
    );
}

#[test]
fn payload_of_another_manifest_is_caught() {
    let img = image(500);
    let payload = encrypt_image(&KEY, &info(256), &[0xd2; 32], &img).unwrap();
    let mut segs = segments(&payload, 500, 256);
    assert_eq!(
        decrypt_all(&mut segs, 500, 256),
        Err(SegmentError::Authentication { index: 0 })
    );
}

#[test]
fn failed_segment_releases_no_plaintext() {
    let img = vec![0u8; 300];
    let payload = encrypt_image(&KEY, &info(300), &DIGEST, &img).unwrap();
    let mut seg = payload.clone();
    let last = seg.len() - 1;
    seg[last] ^= 1; // the tag
    let mut d = SegmentDecryptor::new(&KEY, &info(300), 300, DIGEST).unwrap();
    assert!(d.decrypt_in_place(&mut seg).is_err());
    assert!(
        seg.iter().all(|&b| b == 0),
        "buffer must be zeroed, not left as ciphertext or plaintext"
    );
    // The decryptor did not advance: the genuine segment still decrypts.
    let mut good = payload.clone();
    assert_eq!(d.decrypt_in_place(&mut good).unwrap(), &img[..]);
    d.finish().unwrap();
}

#[test]
fn trailing_segment_wrong_length_and_wrong_key() {
    let img = image(100);
    let payload = encrypt_image(&KEY, &info(64), &DIGEST, &img).unwrap();
    let mut segs = segments(&payload, 100, 64);
    let mut d = SegmentDecryptor::new(&KEY, &info(64), 100, DIGEST).unwrap();
    let mut short = segs[0][..10].to_vec();
    assert_eq!(
        d.decrypt_in_place(&mut short),
        Err(SegmentError::WrongLength {
            index: 0,
            found: 10,
            expected: 80
        })
    );
    for s in segs.iter_mut() {
        d.decrypt_in_place(s).unwrap();
    }
    let mut extra = vec![0u8; 20];
    assert_eq!(
        d.decrypt_in_place(&mut extra),
        Err(SegmentError::TrailingSegment)
    );
    let other = [0x22; 32];
    assert_eq!(
        SegmentDecryptor::new(&other, &info(64), 100, DIGEST).err(),
        Some(SegmentError::WrongKey {
            found: aes_key_id(&other),
            expected: aes_key_id(&KEY)
        })
    );
    assert_eq!(
        SegmentDecryptor::new(&KEY, &info(0), 100, DIGEST).err(),
        Some(SegmentError::BadSegmentSize(0))
    );
}

#[test]
fn empty_image_is_one_empty_final_segment() {
    let payload = encrypt_image(&KEY, &info(64), &DIGEST, &[]).unwrap();
    assert_eq!(payload.len(), TAG_LEN);
    let mut segs = segments(&payload, 0, 64);
    assert_eq!(decrypt_all(&mut segs, 0, 64).unwrap(), Vec::<u8>::new());
}

/// Issue 13: the release side never takes a caller's nonce prefix by default. `seal_image` draws
/// it, sets it in the manifest, and the signed manifest's digest is the payload's AAD.
#[test]
fn seal_image_draws_a_fresh_prefix_and_binds_the_signed_manifest() {
    use ota_core::envelope::Envelope;
    use ota_core::segment::seal_image;
    let img: Vec<u8> = (0..3000u32).map(|i| (i % 253) as u8).collect();
    let mut prefixes = std::collections::HashSet::new();
    for _ in 0..16 {
        let mut m = ota_core::manifest::Manifest {
            format_version: 1,
            sequence: 3,
            vendor_id: ota_core::manifest::ProductId::from_text("acme"),
            class_id: ota_core::manifest::ProductId::from_text("x"),
            version: ota_core::manifest::Version::new(1, 0, 0),
            security_version: 0,
            image_size: img.len() as u32,
            image_digest: ota_core::digest::ImageDigest::of(&img),
            encryption: None,
            expires_at: None,
            min_installed_version: None,
            release_notes: heapless::String::new(),
            delta: None,
        };
        let payload = seal_image(&KEY, 1024, &mut m, &img).unwrap();
        let enc = m.encryption.unwrap();
        assert_eq!((enc.key_id, enc.segment_size), (aes_key_id(&KEY), 1024));
        prefixes.insert(enc.nonce_prefix);
        let root = ed25519_dalek::SigningKey::from_bytes(&[4; 32]);
        let env = ota_core::sign::sign_manifest(&m, &[&root]).unwrap();
        let digest = ota_core::digest::ImageDigest::of(Envelope::decode(&env).unwrap().payload);
        let mut d = SegmentDecryptor::new(&KEY, &enc, img.len() as u32, digest).unwrap();
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(n) = d.next_segment_len() {
            let mut seg = payload[at..at + n].to_vec();
            out.extend_from_slice(d.decrypt_in_place(&mut seg).unwrap());
            at += n;
        }
        d.finish().unwrap();
        assert_eq!(out, img);
    }
    assert_eq!(prefixes.len(), 16, "a nonce prefix repeated");
    let mut m = ota_core::manifest::Manifest {
        format_version: 1,
        sequence: 3,
        vendor_id: ota_core::manifest::ProductId::from_text("acme"),
        class_id: ota_core::manifest::ProductId::from_text("x"),
        version: ota_core::manifest::Version::new(1, 0, 0),
        security_version: 0,
        image_size: 1,
        image_digest: [0; 32],
        encryption: None,
        expires_at: None,
        min_installed_version: None,
        release_notes: heapless::String::new(),
        delta: None,
    };
    assert_eq!(
        seal_image(&KEY, 0, &mut m, &[1]),
        Err(SegmentError::BadSegmentSize(0))
    );
    assert_eq!(m.encryption, None);
}
