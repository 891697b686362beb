//! The C heartbeat encoder's frames are byte-identical to telemetry-core's own encoder and
//! decode back to the samples C passed in, key frames and delta frames alike.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

use fleet_ota::heartbeat::*;
use fleet_ota::status::FleetOtaStatus;
use telemetry_core::codec::{Decoder, Encoder};
use telemetry_core::frame::Frame;
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::MetricId;

const N: usize = FLEET_OTA_HEARTBEAT_MAX_METRICS;

#[repr(C, align(8))]
struct Storage([u8; FLEET_OTA_HEARTBEAT_ENCODER_STORAGE_SIZE]);

fn samples(i: i64) -> Vec<FleetOtaSample> {
    vec![
        FleetOtaSample {
            id: 1,
            kind: FLEET_OTA_METRIC_GAUGE,
            gauge_fields: FLEET_OTA_GAUGE_MIN | FLEET_OTA_GAUGE_MAX | FLEET_OTA_GAUGE_LAST,
            values: [3600 - i, 3700, 0, 3650 - i],
        },
        FleetOtaSample {
            id: 9,
            kind: FLEET_OTA_METRIC_COUNTER,
            gauge_fields: 0,
            values: [12 + i, 0, 0, 0],
        },
        FleetOtaSample {
            id: 20,
            kind: FLEET_OTA_METRIC_STATE,
            gauge_fields: 0,
            values: [-3, 0, 0, 0],
        },
        FleetOtaSample {
            id: 0x100,
            kind: FLEET_OTA_METRIC_TIMER,
            gauge_fields: 0,
            values: [5000 * i, 4, 0, 0],
        },
    ]
}

fn expected(i: i64, seq: u32) -> Heartbeat<N> {
    let interval = Interval {
        start_uptime_s: 3600 * seq,
        len_s: 3600,
        wall_start_unix_s: Some(1_795_000_000 + 3600 * u64::from(seq)),
        complete: true,
    };
    let mut hb = Heartbeat::new(7, seq, interval);
    let g = Gauge {
        min: Some(3600 - i),
        max: Some(3700),
        mean: None,
        last: Some(3650 - i),
    };
    hb.push(MetricId(1), Value::Gauge(g)).unwrap();
    hb.push(MetricId(9), Value::Counter(12 + i)).unwrap();
    hb.push(MetricId(20), Value::State(-3)).unwrap();
    hb.push(
        MetricId(0x100),
        Value::Timer {
            total: 5000 * i,
            count: 4,
        },
    )
    .unwrap();
    hb
}

#[test]
fn c_frames_match_the_rust_encoder_and_decode_to_the_same_samples() {
    let mut storage = Storage([0; FLEET_OTA_HEARTBEAT_ENCODER_STORAGE_SIZE]);
    let mut enc = core::ptr::null_mut();
    // SAFETY: the storage is ours, large and aligned enough, and outlives the handle.
    let st = unsafe {
        fleet_ota_heartbeat_encoder_open(
            storage.0.as_mut_ptr().cast(),
            storage.0.len(),
            4,
            &mut enc,
        )
    };
    assert_eq!(st, FleetOtaStatus::FLEET_OTA_OK);
    let mut rust = Encoder::<N>::new(4);
    let mut decoder = Decoder::<N>::new();
    let (mut keys, mut deltas) = (0, 0);
    for seq in 0..10u32 {
        let i = i64::from(seq % 3);
        let header = FleetOtaHeartbeat {
            boot_id: 7,
            seq,
            start_uptime_s: 3600 * seq,
            len_s: 3600,
            has_wall_start: 1,
            complete: 1,
            continued: 0,
            wall_start_unix_s: 1_795_000_000 + 3600 * u64::from(seq),
        };
        let s = samples(i);
        let mut frame = [0u8; FLEET_OTA_HEARTBEAT_MAX_FRAME_LEN];
        let mut len = 0usize;
        // SAFETY: every pointer is to a live value of the right type and length.
        let st = unsafe {
            fleet_ota_heartbeat_encode(
                enc,
                &header,
                s.as_ptr(),
                s.len(),
                frame.as_mut_ptr(),
                frame.len(),
                &mut len,
            )
        };
        assert_eq!(st, FleetOtaStatus::FLEET_OTA_OK);
        let want = expected(i, seq);
        let mut reference = [0u8; FLEET_OTA_HEARTBEAT_MAX_FRAME_LEN];
        let n = rust.encode(&want, &mut reference).unwrap();
        assert_eq!(&frame[..len], &reference[..n], "frame {seq}");
        match decoder.decode(&frame[..len]).unwrap() {
            Frame::Key(hb) => {
                keys += 1;
                assert_eq!(hb, want);
            }
            Frame::Delta(hb) => {
                deltas += 1;
                assert_eq!(hb, want);
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert_eq!((keys, deltas), (3, 7), "a key frame every 4");
    // SAFETY: `enc` is the open handle.
    let closed = unsafe { fleet_ota_heartbeat_encoder_close(enc) };
    assert_eq!(closed, FleetOtaStatus::FLEET_OTA_OK);
}
