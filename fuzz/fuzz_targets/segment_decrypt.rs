//! Segmented AES-GCM decryption on arbitrary payloads never panics and never releases plaintext
//! of a forged segment; an honestly encrypted image always round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ota_core::manifest::EncryptionInfo;
use ota_core::segment::{SegmentDecryptor, aes_key_id, encrypt_image};

const KEY: [u8; 32] = [0x42; 32];

fuzz_target!(|data: &[u8]| {
    let [a, b, c, rest @ ..] = data else {
        return;
    };
    let segment_size = u32::from(*a) + 1;
    let image_size = u32::from(u16::from_le_bytes([*b, *c]));
    let info = EncryptionInfo {
        key_id: aes_key_id(&KEY),
        nonce_prefix: [1; 7],
        segment_size,
    };
    let digest = [3u8; 32];

    // Arbitrary bytes as a payload: every segment must fail (forging GCM is out of reach).
    let mut dec = SegmentDecryptor::new(&KEY, &info, image_size, digest).unwrap();
    let mut at = 0usize;
    while let Some(n) = dec.next_segment_len() {
        let Some(src) = rest.get(at..at + n) else {
            break;
        };
        let mut buf = src.to_vec();
        assert!(
            dec.decrypt_in_place(&mut buf).is_err(),
            "a forged segment authenticated"
        );
        assert!(
            buf.iter().all(|&x| x == 0),
            "a failed segment left bytes in the buffer"
        );
        at += n;
    }

    // The bytes as an image: encrypt, then decrypt (with cut-off and trailing variants).
    let image = rest;
    let payload = encrypt_image(&KEY, &info, &digest, image).unwrap();
    let mut dec = SegmentDecryptor::new(&KEY, &info, image.len() as u32, digest).unwrap();
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(n) = dec.next_segment_len() {
        let mut buf = payload[at..at + n].to_vec();
        out.extend_from_slice(dec.decrypt_in_place(&mut buf).unwrap());
        at += n;
    }
    assert_eq!(at, payload.len());
    let mut extra = vec![0u8; 17];
    assert!(dec.decrypt_in_place(&mut extra).is_err());
    dec.finish().unwrap();
    assert_eq!(out, image);
});
