//! The sensor task: records an hour of vitals per interval into telemetry-core's aggregator,
//! finishes each interval into a heartbeat and encodes it (a key frame, then delta frames
//! against the previous one), and hands the frame to the store task over a channel.

use embassy_futures::yield_now;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Sender;
use telemetry_core::Heartbeat;
use telemetry_core::aggregate::{Aggregator, DeclareError, Slot};
use telemetry_core::codec::Encoder;
use telemetry_core::metric::vitals;

/// Metrics declared.
pub const METRICS: usize = 6;
/// Bytes of the largest frame.
pub const MAX_FRAME: usize = Heartbeat::<METRICS>::MAX_FRAME_LEN;
/// Interval length, seconds.
const INTERVAL_S: u32 = 3600;
/// A key frame every this many frames.
const KEY_EVERY: u32 = 12;
/// Boot id the heartbeats carry.
const BOOT_ID: u32 = 3;

/// An encoded heartbeat on its way to the store task.
#[derive(Clone, Copy)]
pub struct Frame {
    /// Interval sequence number.
    pub seq: u32,
    /// Bytes used in `bytes`.
    pub len: usize,
    /// The frame.
    pub bytes: [u8; MAX_FRAME],
}

impl Frame {
    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

/// The channel between the sensor and the store task.
pub type FrameSender = Sender<'static, CriticalSectionRawMutex, Frame, 4>;

struct Vitals {
    battery: Slot,
    rssi: Slot,
    temperature: Slot,
    uptime: Slot,
    connects: Slot,
}

fn declare(agg: &mut Aggregator<METRICS>) -> Result<Vitals, DeclareError> {
    Ok(Vitals {
        battery: agg.declare(vitals::BATTERY_MV)?,
        rssi: agg.declare(vitals::RSSI_DBM)?,
        temperature: agg.declare(vitals::TEMPERATURE_CENTI_C)?,
        uptime: agg.declare(vitals::UPTIME_S)?,
        connects: agg.declare(vitals::CONNECTS)?,
    })
}

/// Encodes `intervals` heartbeats and sends them; a failure is reported as a frame of length 0.
#[embassy_executor::task]
pub async fn run(tx: FrameSender, intervals: u32) {
    let mut agg = Aggregator::<METRICS>::new(INTERVAL_S, 0);
    let Ok(v) = declare(&mut agg) else {
        tx.send(Frame {
            seq: 0,
            len: 0,
            bytes: [0; MAX_FRAME],
        })
        .await;
        return;
    };
    let mut encoder = Encoder::<METRICS>::new(KEY_EVERY);
    for seq in 0..intervals {
        for minute in 0..60u32 {
            let i = i64::from(seq * 60 + minute);
            agg.record(v.battery, 3_900 - i / 5);
            agg.record(v.rssi, -72 - (i % 11));
            agg.record(v.temperature, 2_200 + (i % 17) * 4);
            agg.record(v.connects, i64::from(minute == 0));
            if minute % 15 == 0 {
                // Other work runs while the sensor waits for its next reading.
                yield_now().await;
            }
        }
        let end = (seq + 1) * INTERVAL_S;
        agg.record(v.uptime, i64::from(end));
        let hb = agg.finish(BOOT_ID, seq, end, None);
        let mut frame = Frame {
            seq,
            len: 0,
            bytes: [0; MAX_FRAME],
        };
        frame.len = encoder.encode(&hb, &mut frame.bytes).unwrap_or(0);
        tx.send(frame).await;
    }
}
