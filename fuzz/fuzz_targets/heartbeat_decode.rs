//! telemetry-core frame decoding: never panics on any bytes, and every accepted frame is
//! canonical (re-encoding gives back exactly the input bytes).
//!
//! Both format versions: an accepted frame re-encodes in the version it was read in.
//!
//! Input: byte 0 chooses the reference (bit 0: none or the typical heartbeat, line 1 of the
//! workload; bit 1: that heartbeat as boot 12 frame 0, or as boot 13 frame 255, so version 2
//! delta frames naming another boot or sequence are tried), the rest is the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telemetry_core::codec::{
    decode, decode_into, decode_prefix, encode_delta, encode_diagnostics, encode_key,
    encode_time_anchor, v1,
};
use telemetry_core::frame::Frame;
use telemetry_core::heartbeat::{Heartbeat, Interval};

const N: usize = 32;

/// Line 1 of telemetry-core/examples/data/heartbeats-day.jsonl as a key frame.
const LINE1_KEY: [u8; 57] = [
    0x41, 0x0c, 0x00, 0xd2, 0xf2, 0x0f, 0x90, 0x1c, 0x01, 0x02, 0x14, 0xfe, 0x39, 0x09, 0x0a, 0x01,
    0x9c, 0x01, 0x00, 0xc8, 0xf2, 0x04, 0xce, 0x0a, 0xa8, 0xd3, 0x04, 0x8a, 0x97, 0x63, 0x99, 0x01,
    0x07, 0x0c, 0x04, 0x16, 0xfc, 0x11, 0x7b, 0x62, 0x26, 0x00, 0x18, 0x02, 0x02, 0x02, 0x00, 0x80,
    0x88, 0x08, 0x00, 0x00, 0x00, 0x90, 0x1c, 0xf2, 0x07,
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let reference: Option<Heartbeat<N>> = if mode & 1 == 1 {
        decode::<N>(&LINE1_KEY, None)
            .ok()
            .and_then(|f| f.heartbeat().cloned())
            .map(|mut h| {
                if mode & 2 == 2 {
                    h.boot_id = 13;
                    h.seq = 255;
                }
                h
            })
    } else {
        None
    };
    let result = decode::<N>(bytes, reference.as_ref());

    // The in-place decoder agrees with the by-value one.
    let mut out = Heartbeat::<N>::new(0, 0, Interval::default());
    let into = decode_into::<N>(bytes, reference.as_ref(), &mut out);
    match (&result, &into) {
        (Ok(f), Ok((_, rest))) => {
            assert!(rest.is_empty());
            if let Some(h) = f.heartbeat() {
                assert_eq!(h, &out);
            }
        }
        (Err(_), _) => {}
        (Ok(_), Err(e)) => panic!("decode accepted, decode_into refused: {e}"),
    }

    // A prefix decode consumes exactly the accepted frame.
    if let Ok((_, rest)) = decode_prefix::<N>(bytes, reference.as_ref()) {
        assert!(result.is_ok() || !rest.is_empty());
    }

    let Ok(frame) = result else {
        return;
    };
    let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
    let version_1 = bytes.first().is_some_and(|b| b >> 6 == 1);
    let n = match &frame {
        Frame::Key(h) if version_1 => v1::encode_key(h, &mut buf),
        Frame::Key(h) => encode_key(h, &mut buf),
        Frame::Delta(h) => match &reference {
            Some(r) if version_1 => v1::encode_delta(h, r, &mut buf),
            Some(r) => encode_delta(h, r, &mut buf),
            None => panic!("delta frame decoded without a reference"),
        },
        Frame::TimeAnchor(a) => encode_time_anchor(a, &mut buf),
        Frame::Diagnostics(d) => encode_diagnostics(d, &mut buf),
    }
    .expect("a decoded frame re-encodes within MAX_FRAME_LEN");
    assert_eq!(&buf[..n], bytes, "accepted frame is not canonical");
});
