//! The health heartbeat, with the real `telemetry-core` and default features off: declare the
//! vitals once, record an interval of samples, finish the interval into a heartbeat, and encode
//! it as a key frame and, for the next interval, as a delta frame.
//!
//! The build script encodes the same workload ([`crate::workload`]) on the host; each frame the
//! firmware encodes must be byte-identical to the host's, so the device-side encoder is checked
//! without compiling a decoder into the firmware (which would inflate `flash_bytes`).

use crate::clock::InstrClock;
use crate::failure::{Failure, failed};
use crate::workload::{
    BOOT_ID, INTERVALS, KEY_EVERY, METRICS, RECORDS_PER_INTERVAL, declare, record_interval_end,
    record_minutes,
};
use telemetry_core::Heartbeat;
use telemetry_core::aggregate::Aggregator;
use telemetry_core::codec::Encoder;

crate::payload!(
    /// The host's frames for the same workload: per frame, a length byte then the frame.
    HOST_FRAMES = "heartbeat_frames.bin"
);

/// Instruction counts and sizes of the heartbeat.
pub struct HeartbeatFigures {
    /// Recording one sample into the aggregator (mean over an interval's samples).
    pub record_instr: u64,
    /// Finishing an interval into a heartbeat.
    pub finish_instr: u64,
    /// Encoding the first heartbeat (a key frame).
    pub encode_key_instr: u64,
    /// Its size.
    pub key_bytes: usize,
    /// Encoding the second heartbeat (a delta frame against the first).
    pub encode_delta_instr: u64,
    /// Its size.
    pub delta_bytes: usize,
}

/// Runs [`INTERVALS`] intervals of aggregation and encoding.
#[inline(never)]
pub fn run(clock: &InstrClock) -> Result<HeartbeatFigures, Failure> {
    let mut agg = Aggregator::<METRICS>::new(crate::workload::INTERVAL_S, 0);
    let vitals = declare(&mut agg).map_err(failed("heartbeat declare"))?;
    let mut encoder = Encoder::<METRICS>::new(KEY_EVERY);
    let mut frame = [0u8; Heartbeat::<METRICS>::MAX_FRAME_LEN];
    let mut host_frames = HOST_FRAMES.as_slice();
    let mut figures = HeartbeatFigures {
        record_instr: 0,
        finish_instr: 0,
        encode_key_instr: 0,
        key_bytes: 0,
        encode_delta_instr: 0,
        delta_bytes: 0,
    };
    for interval in 0..INTERVALS {
        let ((), record_instr) = clock.measure(|| record_minutes(&mut agg, &vitals, interval));
        figures.record_instr = record_instr / u64::from(RECORDS_PER_INTERVAL);
        let end = record_interval_end(&mut agg, &vitals, interval);

        let (heartbeat, finish_instr) = clock.measure(|| agg.finish(BOOT_ID, interval, end, None));
        figures.finish_instr = finish_instr;
        let (len, encode_instr) = clock.measure(|| encoder.encode(&heartbeat, &mut frame));
        let len = len.map_err(failed("heartbeat encode"))?;
        if interval == 0 {
            (figures.encode_key_instr, figures.key_bytes) = (encode_instr, len);
        } else {
            (figures.encode_delta_instr, figures.delta_bytes) = (encode_instr, len);
        }

        let (&host_len, rest) = host_frames
            .split_first()
            .ok_or_else(|| Failure::new("heartbeat encode", "the host encoded fewer frames"))?;
        let (host, rest) = rest
            .split_at_checked(usize::from(host_len))
            .ok_or_else(|| Failure::new("heartbeat encode", "the host frames are truncated"))?;
        host_frames = rest;
        if frame.get(..len) != Some(host) {
            return Err(Failure::new(
                "heartbeat encode",
                "the frame differs from the host's encoding of the same heartbeat",
            ));
        }
    }
    Ok(figures)
}
