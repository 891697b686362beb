//! Sunset notice decoding: arbitrary bytes never panic, and whatever decodes is the canonical
//! encoding (decode -> encode gives back exactly the signed part of the input).
#![no_main]

use eol_core::ed25519_dalek::SigningKey;
use eol_core::notice::{HEADER_LEN, MAX_BODY_LEN, NoticeTrust, ProductId, SunsetNotice};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let trust = NoticeTrust {
        key: SigningKey::from_bytes(&[7; 32]).verifying_key(),
        product: ProductId {
            vendor: 0x00AB_CDEF,
            product: 42,
        },
    };
    let verified = SunsetNotice::verify(data, &trust);
    if let Ok(body) = SunsetNotice::decode_unverified(data) {
        let mut buf = [0u8; HEADER_LEN + MAX_BODY_LEN];
        let len = body
            .encode_unsigned(&mut buf)
            .expect("a decoded body re-encodes");
        assert_eq!(
            &buf[..len],
            &data[..len],
            "decode -> encode changed the bytes"
        );
        assert_eq!(data.len(), len + 64, "trailing bytes were accepted");
        if let Ok(v) = verified {
            assert_eq!(v.body(), &body);
        }
    } else {
        assert!(verified.is_err(), "verify accepted what decode rejected");
    }
});
