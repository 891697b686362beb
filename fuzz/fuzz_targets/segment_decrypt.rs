//! Segmented AES-GCM decryption, fed the way a device is fed, on arbitrary payloads and on an
//! honest payload that the fuzzer reorders, drops, duplicates and truncates.
//!
//! - arbitrary bytes as a payload never authenticate, never panic, and a failed segment leaves
//!   its buffer zeroed;
//! - an honest payload round-trips;
//! - any edit to the honest payload (swap two segments, drop one, duplicate one, cut the byte
//!   stream anywhere, flip a byte) is caught: the device never completes, and every segment it
//!   did release is exactly the image's segment at that index (nothing forged, nothing moved).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ota_core::manifest::EncryptionInfo;
use ota_core::segment::{SegmentDecryptor, SegmentError, TAG_LEN, aes_key_id, encrypt_image};

const KEY: [u8; 32] = [0x42; 32];
const DIGEST: [u8; 32] = [3; 32];

/// Feeds `payload` as a device does: next_segment_len bytes at a time. Returns the released
/// plaintext per segment and whether the payload was accepted completely.
fn feed(info: &EncryptionInfo, image_size: u32, payload: &[u8]) -> (Vec<Vec<u8>>, bool) {
    let mut dec = SegmentDecryptor::new(&KEY, info, image_size, DIGEST).unwrap();
    let mut released = Vec::new();
    let mut at = 0usize;
    while let Some(n) = dec.next_segment_len() {
        let Some(src) = payload.get(at..at + n) else {
            // Truncated inside a segment: the device waits for bytes that never come.
            assert!(matches!(dec.finish(), Err(SegmentError::Truncated { .. })));
            return (released, false);
        };
        let mut buf = src.to_vec();
        match dec.decrypt_in_place(&mut buf) {
            Ok(plain) => released.push(plain.to_vec()),
            Err(_) => {
                assert!(buf.iter().all(|&x| x == 0), "a failed segment left bytes");
                return (released, false);
            }
        }
        at += n;
    }
    // Bytes after the final segment are refused.
    if at != payload.len() {
        let mut extra = payload[at..].to_vec();
        assert_eq!(
            dec.decrypt_in_place(&mut extra),
            Err(SegmentError::TrailingSegment)
        );
        return (released, false);
    }
    (released, dec.finish().is_ok())
}

fuzz_target!(|data: &[u8]| {
    let [a, b, c, n_ops, rest @ ..] = data else {
        return;
    };
    let segment_size = u32::from(*a % 64) + 1;
    let image_size = u32::from(u16::from_le_bytes([*b, *c]) % 2048);
    let info = EncryptionInfo {
        key_id: aes_key_id(&KEY),
        nonce_prefix: [1; 7],
        segment_size,
    };
    let n_ops = usize::from(*n_ops % 8);
    let (ops, body) = rest.split_at((n_ops * 3).min(rest.len()));

    // Arbitrary bytes as a payload: forging GCM is out of reach, so whatever is released must
    // be a genuine encryption of that plaintext at that index (the fuzzer can and does learn
    // genuine segments from the honest encryption below, which uses the same key and nonce).
    let (released, _) = feed(&info, image_size, body);
    if !released.is_empty() {
        let mut genuine = vec![0u8; image_size as usize];
        let seg = segment_size as usize;
        for (k, p) in released.iter().enumerate() {
            genuine[k * seg..k * seg + p.len()].copy_from_slice(p);
        }
        let sealed = encrypt_image(&KEY, &info, &DIGEST, &genuine).unwrap();
        let upto: usize = released.iter().map(|p| p.len() + TAG_LEN).sum();
        assert_eq!(
            &sealed[..upto],
            &body[..upto],
            "a forged segment authenticated"
        );
    }

    // An honest payload for an image made of the body bytes (cycled to image_size).
    let image: Vec<u8> = (0..image_size as usize)
        .map(|i| body.get(i % body.len().max(1)).copied().unwrap_or(i as u8))
        .collect();
    let payload = encrypt_image(&KEY, &info, &DIGEST, &image).unwrap();
    let seg_len = segment_size as usize + TAG_LEN;
    let mut segments: Vec<Vec<u8>> = payload.chunks(seg_len).map(<[u8]>::to_vec).collect();
    let (plain, complete) = feed(&info, image_size, &payload);
    assert!(complete, "honest payload refused");
    assert_eq!(plain.concat(), image);

    // The fuzzer's edits.
    let mut cut: Option<usize> = None;
    for op in ops.chunks_exact(3) {
        let (i, j) = (usize::from(op[1]), usize::from(op[2]));
        let n = segments.len();
        match op[0] % 5 {
            0 if n > 1 => segments.swap(i % n, j % n),
            1 if n > 0 => drop(segments.remove(i % n)),
            2 if n > 0 => {
                let s = segments[i % n].clone();
                segments.insert(j % (n + 1), s);
            }
            3 => cut = Some(usize::from(u16::from_le_bytes([op[1], op[2]]))),
            4 if n > 0 => {
                let s = &mut segments[i % n];
                let len = s.len();
                if len > 0 {
                    s[j % len] ^= 1 << (op[2] % 8);
                }
            }
            _ => {}
        }
    }
    let mut edited = segments.concat();
    if let Some(c) = cut {
        edited.truncate(c);
    }
    let (released, complete) = feed(&info, image_size, &edited);
    if edited == payload {
        assert!(complete);
        assert_eq!(released.concat(), image);
    } else {
        assert!(!complete, "an edited payload was accepted");
        // Whatever was released is the image's own segments, in their own places.
        for (k, p) in released.iter().enumerate() {
            let start = k * segment_size as usize;
            assert_eq!(
                Some(p.as_slice()),
                image.get(start..start + p.len()),
                "segment {k} released other bytes"
            );
        }
    }
});
