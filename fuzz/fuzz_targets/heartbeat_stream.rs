//! The stateful decoder over sequences of frames: several devices' `Decoder`s, each fed a
//! stream of frames (valid key and delta frames from an encoder, mutated copies, junk), never
//! panic, and a rejected frame never moves a decoder's reference (a later good delta frame
//! still decodes). Every accepted heartbeat re-encodes to the same bytes.
//!
//! Devices 0-2 encode in format version 2, device 3 in version 1 (`codec::v1`, key frames and
//! deltas by hand), so the decoders see both versions, and every raw record is tried in
//! whichever version its first byte names.
//!
//! Input: records `[op][len][bytes]`; `op` picks the device (low 2 bits) and what the record
//! does (the frame is used as is, or the encoder's next frame for that device is produced
//! from the record's bytes as metric values and then optionally corrupted at one byte).
#![no_main]

use libfuzzer_sys::fuzz_target;
use telemetry_core::codec::{Decoder, Encoder, encode_delta, encode_key, v1};
use telemetry_core::frame::Frame;
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::MetricId;

const N: usize = 8;

/// A heartbeat whose values and layout come from fuzz bytes.
fn heartbeat(seq: u32, bytes: &[u8]) -> Heartbeat<N> {
    let iv = Interval {
        start_uptime_s: seq.wrapping_mul(60),
        len_s: 60 + u32::from(bytes.first().copied().unwrap_or(0) & 3),
        wall_start_unix_s: None,
        complete: true,
    };
    let mut hb = Heartbeat::new(1, seq, iv);
    // Battery, percent, charging, RSSI, temperature, uptime (predicted from the interval),
    // connects, and a product metric.
    let ids = [1u16, 2, 3, 7, 9, 10, 13, 300];
    for (k, &id) in ids.iter().enumerate() {
        let b = bytes.get(k + 1).copied().unwrap_or(0);
        if b & 1 == 0 {
            continue; // metrics come and go
        }
        let v = i64::from(b as i8) * 37;
        let value = match (id, b & 6) {
            (1 | 7 | 9, 0) => Value::Gauge(Gauge::full(v - 3, v + 5, v, v + 1)),
            (1 | 7 | 9, 2) => Value::Gauge(Gauge::last(v)), // reshaped
            (2 | 10, _) => Value::Gauge(Gauge::last(v)),
            (3, _) => Value::State(v),
            (300, _) => Value::Timer {
                total: v,
                count: i64::from(b),
            },
            _ => Value::Counter(v),
        };
        let _ = hb.push(MetricId(id), value);
    }
    hb
}

fuzz_target!(|data: &[u8]| {
    let mut decoders: [Decoder<N>; 4] = Default::default();
    let mut encoders: [Encoder<N>; 4] = core::array::from_fn(|i| Encoder::new(i as u32 + 1));
    let mut seqs = [0u32; 4];
    let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
    let mut out = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
    let mut last_v1: Option<Heartbeat<N>> = None;
    let mut input = data;
    while let [op, len, rest @ ..] = input {
        let n = usize::from(*len).min(rest.len());
        let (bytes, next) = rest.split_at(n);
        input = next;
        let d = usize::from(op & 3);
        let before = decoders[d].reference().cloned();
        let (frame, corrupted): (&[u8], bool) = if op & 4 == 0 {
            (bytes, true)
        } else {
            let hb = heartbeat(seqs[d], bytes);
            seqs[d] = seqs[d].wrapping_add(1);
            let k = if d == 3 {
                // Version 1: a delta against the last heartbeat made, a key frame every 3.
                let k = match &last_v1 {
                    Some(r) if hb.seq % 3 != 0 => v1::encode_delta(&hb, r, &mut buf),
                    _ => v1::encode_key(&hb, &mut buf),
                };
                last_v1 = Some(hb.clone());
                k
            } else {
                encoders[d].encode(&hb, &mut buf)
            };
            let Ok(k) = k else {
                continue;
            };
            let corrupt = op & 8 != 0 && k > 0;
            if corrupt {
                let at = usize::from(op >> 4) % k;
                buf[at] ^= bytes.first().copied().unwrap_or(1) | 1;
            }
            (&buf[..k], corrupt)
        };
        match decoders[d].decode(frame) {
            Ok(f) => {
                // Canonical: the accepted frame re-encodes to the same bytes.
                let version_1 = frame.first().is_some_and(|b| b >> 6 == 1);
                let m = match &f {
                    Frame::Key(h) if version_1 => v1::encode_key(h, &mut out),
                    Frame::Key(h) => encode_key(h, &mut out),
                    Frame::Delta(h) => match &before {
                        Some(r) if version_1 => v1::encode_delta(h, r, &mut out),
                        Some(r) => encode_delta(h, r, &mut out),
                        None => panic!("delta decoded without a reference"),
                    },
                    _ => continue,
                }
                .expect("re-encodes");
                assert_eq!(&out[..m], frame, "not canonical");
                if !corrupted {
                    assert_eq!(decoders[d].reference(), f.heartbeat());
                }
            }
            Err(_) => {
                assert_eq!(
                    decoders[d].reference(),
                    before.as_ref(),
                    "a rejected frame moved the reference"
                );
                // The encoder thinks the frame went out: resynchronise with a key frame.
                encoders[d].force_key();
                if d == 3 {
                    last_v1 = None;
                }
            }
        }
    }
});
