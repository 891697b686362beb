//! Manifest decoding with the delta fields (manifest format version 2) on arbitrary bytes:
//! never panics; what decodes re-encodes to exactly the input (one canonical spelling of a
//! signed payload); version 2 always carries the delta fields and version 1 never does; the
//! payload size is the patch size for a delta and the image size otherwise.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ota_core::manifest::{DELTA_MANIFEST_FORMAT_VERSION, MAX_MANIFEST_LEN, Manifest};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Manifest::decode(data) else {
        return;
    };
    assert_eq!(
        m.to_vec().unwrap(),
        data,
        "decode -> encode changed the bytes"
    );
    // Decoding itself has no length bound (the envelope enforces it); every valid encoding
    // is at most the bound.
    assert!(
        data.len() <= MAX_MANIFEST_LEN,
        "{} bytes decoded",
        data.len()
    );
    assert_eq!(
        m.delta.is_some(),
        m.format_version == DELTA_MANIFEST_FORMAT_VERSION
    );
    match m.delta {
        Some(d) => assert_eq!(m.payload_size(), d.patch_size),
        None => assert_eq!(m.payload_size(), m.image_size),
    }
});
