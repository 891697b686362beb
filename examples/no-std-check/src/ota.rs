//! Calls into `ota-core`: the device-side verification path on the checked-in test vectors.

use ota_core::digest::ImageDigest;
use ota_core::manifest::{ProductId, Version};
use ota_core::segment::SegmentDecryptor;
use ota_core::trust::TrustStore;
use ota_core::verify::{DeviceContext, ImageVerifier, verify};

/// `ota-core/tests/vectors/envelope.bin`: a manifest signed by the RFC 8032 test-1 key.
static ENVELOPE: &[u8] = include_bytes!("../../../ota-core/tests/vectors/envelope.bin");
/// `ota-core/tests/vectors/image.enc`: its image, segmented AES-256-GCM, 256-byte segments.
static PAYLOAD: &[u8] = include_bytes!("../../../ota-core/tests/vectors/image.enc");
/// RFC 8032 test-1 public key (the vectors' only root).
const ROOT: [u8; 32] = [
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1,
    0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
];

/// Verifies the envelope, decrypts the payload one segment at a time in a 272-byte buffer, and
/// checks the image digest. Returns 1 on success (0 on any failure), plus a digest byte.
pub(crate) fn exercise(seed: u8) -> u32 {
    let d = ImageDigest::of(&[seed; 64]);
    let Ok(store) = TrustStore::<1, 2>::new(&[ROOT], 1) else {
        return 0;
    };
    let device = DeviceContext {
        vendor_id: ProductId::from_text("acme"),
        class_id: ProductId::from_text("6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        last_sequence: u64::from(seed) % 8,
        security_floor: 4,
        now: 1_800_000_000,
        slot_capacity: 4096,
        installed_version: Version::new(2, 0, 0),
    };
    let Ok(verified) = verify(core::hint::black_box(ENVELOPE), &store, &device) else {
        return 0;
    };
    let key: [u8; 32] = core::array::from_fn(|i| i as u8);
    let Ok(mut dec) = SegmentDecryptor::for_manifest(&key, &verified) else {
        return 0;
    };
    let mut image = ImageVerifier::new(&verified);
    let mut buf = [0u8; 256 + 16];
    let mut at = 0usize;
    while let Some(n) = dec.next_segment_len() {
        let (Some(src), Some(dst)) = (PAYLOAD.get(at..at + n), buf.get_mut(..n)) else {
            return 0;
        };
        dst.copy_from_slice(src);
        match dec.decrypt_in_place(dst) {
            Ok(plain) => {
                if image.update(plain).is_err() {
                    return 0;
                }
            }
            Err(_) => return 0,
        }
        at += n;
    }
    let ok = dec.finish().is_ok() && image.finish().is_ok();
    u32::from(ok) + u32::from(d[0])
}
