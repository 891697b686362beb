//! A fixed decode workload for instruction-count profiling (`valgrind --tool=callgrind`):
//! `MODE` iterations of one decode path, so per-frame instruction counts are exact and
//! independent of machine load.
//!
//! `cargo build --release -p telemetry-core --example decode-profile`, then
//! `valgrind --tool=callgrind target/release/examples/decode-profile into 10000`
//! (modes: `into`, `value`, `delta_into`, `delta_value`, `json`, `none`; `into_v1` and
//! `delta_into_v1` decode the same heartbeats from format version 1 frames).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "baselines/mod.rs"]
mod baselines;

use core::hint::black_box;

use baselines::{CAP, Line, heartbeat, lines};
use telemetry_core::codec::{decode, decode_into, encode_delta, encode_key, v1};
use telemetry_core::heartbeat::{Heartbeat, Interval};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "into".into());
    let iters: usize = args.next().map_or(10_000, |s| s.parse().unwrap());
    let lines = lines();
    let hbs: Vec<Heartbeat<CAP>> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| heartbeat(l, i as u32))
        .collect();
    let mut buf = [0u8; Heartbeat::<CAP>::MAX_FRAME_LEN];
    let n = encode_key(&hbs[0], &mut buf).unwrap();
    let key = buf[..n].to_vec();
    let deltas: Vec<Vec<u8>> = hbs
        .windows(2)
        .take(23)
        .map(|w| {
            let n = encode_delta(&w[1], &w[0], &mut buf).unwrap();
            buf[..n].to_vec()
        })
        .collect();
    let n = v1::encode_key(&hbs[0], &mut buf).unwrap();
    let key_v1 = buf[..n].to_vec();
    let deltas_v1: Vec<Vec<u8>> = hbs
        .windows(2)
        .take(23)
        .map(|w| {
            let n = v1::encode_delta(&w[1], &w[0], &mut buf).unwrap();
            buf[..n].to_vec()
        })
        .collect();
    let json = baselines::json(&lines[0]);
    let mut out = Heartbeat::<CAP>::new(0, 0, Interval::default());
    let mut sum = 0usize;
    for _ in 0..iters {
        match mode.as_str() {
            "into" => {
                decode_into::<CAP>(black_box(&key), None, &mut out).unwrap();
                sum += out.len();
            }
            "into_v1" => {
                decode_into::<CAP>(black_box(&key_v1), None, &mut out).unwrap();
                sum += out.len();
            }
            "delta_into_v1" => {
                for (d, r) in deltas_v1.iter().zip(hbs.iter()) {
                    decode_into::<CAP>(black_box(d), Some(r), &mut out).unwrap();
                    sum += out.len();
                }
            }
            "value" => {
                let f = decode::<CAP>(black_box(&key), None).unwrap();
                sum += f.heartbeat().map_or(0, Heartbeat::len);
            }
            "delta_into" => {
                for (d, r) in deltas.iter().zip(hbs.iter()) {
                    decode_into::<CAP>(black_box(d), Some(r), &mut out).unwrap();
                    sum += out.len();
                }
            }
            "delta_value" => {
                for (d, r) in deltas.iter().zip(hbs.iter()) {
                    let f = decode::<CAP>(black_box(d), Some(r)).unwrap();
                    sum += f.heartbeat().map_or(0, Heartbeat::len);
                }
            }
            "json" => {
                let l: Line = serde_json::from_slice(black_box(&json)).unwrap();
                sum += black_box(&l as *const Line as usize) & 1;
            }
            _ => {}
        }
    }
    println!("{mode} x{iters}: {sum}");
}
