//! The fleet side under hostile input: a flood of spoofed ids cannot grow memory without bound
//! or take the delta references of real devices; the index hash is keyed.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use telemetry_core::codec::{Encoder, encode_key};
use telemetry_core::fleet::ingest::{Ingest, IngestConfig, IngestError};
use telemetry_core::fleet::offline::OfflinePolicy;
use telemetry_core::fleet::registry::{DeviceAttributes, Registry, RegistryError};
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::vitals;

const N: usize = 8;

fn hb(boot: u32, seq: u32, pct: i64) -> Heartbeat<N> {
    let iv = Interval {
        start_uptime_s: seq * 600,
        len_s: 600,
        wall_start_unix_s: None,
        complete: true,
    };
    let mut h = Heartbeat::new(boot, seq, iv);
    h.push(
        vitals::BATTERY_MV.id,
        Value::Gauge(Gauge::full(3600, 3800, 3700, 3650 + pct)),
    )
    .unwrap();
    h.push(vitals::BATTERY_PCT.id, Value::Gauge(Gauge::last(pct)))
        .unwrap();
    h.push(vitals::CONNECTS.id, Value::Counter(1)).unwrap();
    h
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn one_hundred_thousand_spoofed_ids_do_not_starve_real_devices() {
    const REAL: u64 = 300;
    const SPOOFED: u64 = 100_000;
    let mut registry = Registry::new(OfflinePolicy::default());
    registry.set_max_devices(20_000);
    for d in 0..REAL {
        registry.provision(d, &DeviceAttributes::default()).unwrap();
    }
    let config = IngestConfig {
        max_references: 1_000,
        enroll_on_key: true,
    };
    let mut ingest = Ingest::<N>::new(registry, config);
    let mut encoders: Vec<Encoder<N>> = (0..REAL).map(|_| Encoder::new(8)).collect();
    let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
    let mut rng = Rng(99);
    let mut spoofed_sent = 0u64;
    let mut full = 0u64;
    let mut real_deltas = 0u64;
    for round in 0..25u32 {
        for d in 0..REAL {
            let n = encoders[d as usize]
                .encode(&hb(1, round, 90 - i64::from(round)), &mut buf)
                .unwrap();
            real_deltas += u64::from(buf[0] >> 4 & 3 == 1);
            // Every real frame decodes, key or delta, whatever the flood did before it.
            ingest
                .ingest(d, 1_000 + u64::from(round) * 600, &buf[..n])
                .unwrap_or_else(|e| panic!("real device {d} round {round}: {e}"));
            // Between two real frames, up to 14 frames from spoofed ids (14): valid key frames (which
            // do make records, up to the registry's cap), deltas with no reference, garbage.
            for _ in 0..14 {
                if spoofed_sent == SPOOFED {
                    break;
                }
                let id = 1_000_000 + spoofed_sent;
                spoofed_sent += 1;
                let r = match rng.next() % 3 {
                    0 => {
                        let k = encode_key(&hb(7, 0, 50), &mut buf).unwrap();
                        ingest.ingest(id, 1_000, &buf[..k])
                    }
                    1 => ingest.ingest(id, 1_000, &[0x5d, 1, 0]),
                    _ => ingest.ingest(id, 1_000, &rng.next().to_le_bytes()),
                };
                if let Err(IngestError::Registry(RegistryError::Full { .. })) = r {
                    full += 1;
                }
            }
        }
    }
    assert_eq!(spoofed_sent, SPOOFED);
    assert!(real_deltas > 6000, "{real_deltas} real delta frames");
    let reg = ingest.registry();
    // Bounded: records stop at the cap; refused ids are counted, not stored.
    assert_eq!(reg.len(), 20_000);
    assert!(full > 10_000, "{full} refused at the cap");
    assert!(
        reg.unknown_bad_frames() > 60_000,
        "{}",
        reg.unknown_bad_frames()
    );
    assert!(ingest.references() <= 1_000);
    assert!(
        ingest.memory_bytes() < 20_000 * 100 + 1_000 * 64 + 50_000,
        "{}",
        ingest.memory_bytes()
    );
    for d in 0..REAL {
        let r = reg.get(d).unwrap();
        assert_eq!((r.frames, r.bad_frames), (25, 0), "device {d}");
    }
    assert!(ingest.stats().references_evicted > 1_000);
}

#[test]
fn a_bad_frame_from_an_unknown_id_makes_no_record() {
    let mut reg = Registry::new(OfflinePolicy::default());
    for id in 0..10_000u64 {
        assert_eq!(reg.record_bad_frame(id).unwrap(), 0);
    }
    assert!(reg.is_empty());
    assert_eq!(reg.unknown_bad_frames(), 10_000);
}
