//! Calls into `telemetry-core`: aggregate an interval, encode key and delta frames, store and
//! batch them, decode them back, and snapshot the aggregator.

use telemetry_core::aggregate::Aggregator;
use telemetry_core::batch::{MTU_LORAWAN_DR0, fill_packet};
use telemetry_core::codec::{Decoder, Encoder};
use telemetry_core::heartbeat::Heartbeat;
use telemetry_core::metric::vitals;
use telemetry_core::ring::FrameRing;

const N: usize = 8;

/// Runs two intervals through the whole device path; returns a seed-dependent value.
pub(crate) fn exercise(seed: u8) -> u32 {
    let mut agg = Aggregator::<N>::new(3600, 0);
    let (Ok(bat), Ok(con)) = (
        agg.declare(vitals::BATTERY_MV),
        agg.declare(vitals::CONNECTS),
    ) else {
        return 0;
    };
    let mut enc = Encoder::<N>::new(4);
    let mut ring = FrameRing::<256, 8>::new();
    let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
    for seq in 0..2u32 {
        agg.record(bat, 3700 - i64::from(seed) - i64::from(seq));
        agg.record(con, 1);
        let hb = agg.finish(u32::from(seed), seq, (seq + 1) * 3600, None);
        if let Ok(n) = enc.encode(&hb, &mut buf) {
            let _ = ring.push(buf.get(..n).unwrap_or(&[]));
        }
    }
    let mut snap = [0u8; Aggregator::<N>::SNAPSHOT_MAX_LEN];
    let saved = agg.save(&mut snap).unwrap_or(0) as u32;

    let mut packet = [0u8; MTU_LORAWAN_DR0];
    let mut dec = Decoder::<N>::new();
    let mut acc = saved;
    if let Ok(p) = fill_packet(&ring, 0, MTU_LORAWAN_DR0, &mut packet) {
        let mut rest = packet.get(..p.len).unwrap_or(&[]);
        while let Ok((_, r)) = dec.decode_next(rest) {
            acc = acc.wrapping_add(dec.reference().map_or(0, |h| h.len() as u32));
            if r.is_empty() {
                break;
            }
            rest = r;
        }
    }
    acc
}
