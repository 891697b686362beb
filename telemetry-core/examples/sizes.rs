//! Prints the encoded size of the heartbeat workload in our frames and in the baselines.
//!
//! `cargo run --release -p telemetry-core --example sizes`
//!
//! Line 1 of `examples/data/heartbeats-day.jsonl` is the typical heartbeat; delta frames are the
//! mean over lines 2-24, each coded against the line before.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "baselines/mod.rs"]
mod baselines;

use baselines::{CAP, heartbeat, lines};
use telemetry_core::codec::{decode, encode_delta, encode_key};
use telemetry_core::heartbeat::Heartbeat;

fn main() {
    let lines = lines();
    let hbs: Vec<Heartbeat<CAP>> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| heartbeat(l, i as u32))
        .collect();
    let mut buf = [0u8; Heartbeat::<CAP>::MAX_FRAME_LEN];

    let key = encode_key(&hbs[0], &mut buf).unwrap();
    assert_eq!(
        decode::<CAP>(&buf[..key], None).unwrap().heartbeat(),
        Some(&hbs[0])
    );
    let mut deltas = Vec::new();
    for w in hbs.windows(2).take(23) {
        let n = encode_delta(&w[1], &w[0], &mut buf).unwrap();
        assert_eq!(
            decode::<CAP>(&buf[..n], Some(&w[0])).unwrap().heartbeat(),
            Some(&w[1])
        );
        deltas.push(n);
    }
    let delta_mean = deltas.iter().sum::<usize>() as f64 / deltas.len() as f64;
    let keys_mean = hbs
        .iter()
        .map(|h| encode_key(h, &mut buf).unwrap())
        .sum::<usize>() as f64
        / hbs.len() as f64;

    let l = &lines[0];
    let mut pbuf = [0u8; 256];
    let postcard = baselines::postcard(&baselines::naive(l), &mut pbuf);
    let json = baselines::json(l).len();
    let cbor = baselines::cbor(l).len();
    let senml = baselines::senml_cbor(l).len();
    let positional = baselines::positional_cbor(l).len();

    println!(
        "Heartbeat workload: {} lines, line 1 is the typical heartbeat",
        lines.len()
    );
    println!();
    println!("| format | bytes (line 1) | vs key frame |");
    println!("|---|---:|---:|");
    let row = |name: &str, n: f64| println!("| {name} | {n:.1} | {:.2}x |", n / key as f64);
    row("telemetry-core key frame", key as f64);
    row("telemetry-core key frame, mean of 24 lines", keys_mean);
    row("telemetry-core delta frame, mean of lines 2-24", delta_mean);
    row("(a) serde_json", json as f64);
    row("(b) CBOR with field names (ciborium)", cbor as f64);
    row("(c) SenML-CBOR, LwM2M 1.1 style", senml as f64);
    row(
        "(d) positional CBOR array (Memfault style)",
        positional as f64,
    );
    row("(e) postcard, naive struct", postcard as f64);
    println!();
    println!(
        "delta frames, lines 2-24: min {} max {} bytes",
        deltas.iter().min().unwrap(),
        deltas.iter().max().unwrap()
    );
    println!(
        "targets: key <= postcard ({}), key <= senml/5 ({}), mean delta <= key/2 ({}): {}",
        key <= postcard,
        key as f64 <= senml as f64 / 5.0,
        delta_mean <= key as f64 / 2.0,
        if key <= postcard && key as f64 <= senml as f64 / 5.0 && delta_mean <= key as f64 / 2.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "max frame for {CAP} metrics: {} bytes",
        Heartbeat::<CAP>::MAX_FRAME_LEN
    );
    println!(
        "bytes: key={key} delta={delta_mean:.1} postcard={postcard} json={json} cbor={cbor} senml_cbor={senml} positional_cbor={positional}"
    );
}
