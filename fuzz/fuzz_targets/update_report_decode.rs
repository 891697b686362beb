//! Update report decoding: arbitrary bytes never panic, whatever decodes re-encodes to exactly
//! the input (one encoding per report), and its LwM2M mapping is total.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ota_core::report::{MAX_ENCODED_LEN, UpdateReport};

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = UpdateReport::decode(data) {
        let mut buf = [0u8; MAX_ENCODED_LEN];
        let len = report.encode(&mut buf).expect("a decoded report re-encodes");
        assert_eq!(&buf[..len], data, "decode -> encode changed the bytes");
        let _ = report.lwm2m();
    }
});
