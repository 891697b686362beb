//! Fleet ingest at scale: N simulated devices, frames from the device-side encoder, decoded and
//! applied on one core.
//!
//! ```sh
//! cargo run --release -p telemetry-core --features std --example fleet-ingest -- --devices 1000000
//! cargo run --release -p telemetry-core --features std --example fleet-ingest -- --devices 1000000 --key-every 6
//! ```
//!
//! Each round every device sends one heartbeat (ten standard vitals): key frames as a cellular
//! device sends them, or with `--key-every K` a key frame every K frames and delta frames in
//! between (then the ingest keeps a compact reference for every device). One device in a
//! thousand sends a corrupted frame instead, and one in two hundred reboots between rounds.
//! Devices arrive in a random order each round (`--order random`, the default; `--order
//! provisioning` walks them in id order, which keeps their records in cache and flatters the
//! figure). Encoding happens before the clock starts: the figure is decode + registry update
//! only, timed by the ingesting thread's CPU time where Linux reports it (the wall clock
//! counts other processes' turns on a shared machine; both are printed). The last line is
//! `ingest: devices=N frames=F frames_per_s=X bytes_per_device=B order=O`, where B is
//! everything the ingest holds (records, index, attribute names, delta references) divided
//! by N.

use std::time::Instant;

use telemetry_core::codec::{encode_delta, encode_key};
use telemetry_core::fleet::aggregate::FleetAggregate;
use telemetry_core::fleet::ingest::{Ingest, IngestConfig};
use telemetry_core::fleet::offline::OfflinePolicy;
use telemetry_core::fleet::registry::{DeviceAttributes, Registry};
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::{RebootReason, pack_version, vitals};

const N: usize = 12;
const INTERVAL_S: u64 = 3600;
const START: u64 = 1_764_000_000;

struct Args {
    devices: u64,
    rounds: u32,
    key_every: u32,
    random: bool,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        devices: 1_000_000,
        rounds: 3,
        key_every: 1,
        random: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut text = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let num = |t: String| t.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--devices" => a.devices = num(text()?)?.max(1),
            "--rounds" => a.rounds = u32::try_from(num(text()?)?.max(1)).unwrap_or(u32::MAX),
            "--key-every" => a.key_every = u32::try_from(num(text()?)?.max(1)).unwrap_or(1),
            "--order" => {
                a.random = match text()?.as_str() {
                    "random" => true,
                    "provisioning" => false,
                    o => return Err(format!("--order {o}: expected random or provisioning")),
                }
            }
            other => {
                return Err(format!(
                    "unknown argument {other}; use --devices N --rounds R --key-every K --order random|provisioning"
                ));
            }
        }
    }
    Ok(a)
}

/// The devices in the order their frames arrive this round.
fn arrival_order(devices: u64, round: u32, random: bool) -> Vec<u64> {
    let mut order: Vec<u64> = (0..devices).collect();
    if random {
        // Fisher-Yates with a per-round seed.
        for i in (1..order.len()).rev() {
            let j = (mix(i as u64, round ^ 0x5eed) % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
    }
    order
}

/// SplitMix64 on (device, round): reproducible per-device variation.
fn mix(device: u64, round: u32) -> u64 {
    let mut z = device
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(u64::from(round).wrapping_mul(0xd1b5_4a32_d192_ed03));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn heartbeat(device: u64, boot: u32, seq: u32, round: u32) -> Heartbeat<N> {
    let r = mix(device, round);
    let interval = Interval {
        start_uptime_s: seq * INTERVAL_S as u32,
        len_s: INTERVAL_S as u32,
        wall_start_unix_s: None,
        complete: true,
    };
    let mut hb = Heartbeat::new(boot, seq, interval);
    let pct = 95 - i64::from(round) - (device % 40) as i64;
    let temp = -1500 + (device % 5000) as i64 + (r % 200) as i64;
    let rssi = -60 - (r % 50) as i64;
    let reason = if seq == 0 && boot > 1 {
        RebootReason::Watchdog
    } else {
        RebootReason::PowerOn
    };
    let fw = pack_version(1, 2 + (device % 3) as u8, 0);
    let samples = [
        (
            vitals::BATTERY_MV.id,
            Value::Gauge(Gauge::full(3600, 3800, 3700, 3650 + pct)),
        ),
        (vitals::BATTERY_PCT.id, Value::Gauge(Gauge::last(pct))),
        (vitals::CHARGING.id, Value::State(0)),
        (
            vitals::MEM_FREE.id,
            Value::Gauge(Gauge {
                min: Some(11_000),
                max: None,
                mean: None,
                last: Some(12_288),
            }),
        ),
        (
            vitals::RSSI_DBM.id,
            Value::Gauge(Gauge::full(rssi - 6, rssi + 4, rssi, rssi)),
        ),
        (
            vitals::TEMPERATURE_CENTI_C.id,
            Value::Gauge(Gauge::full(temp - 120, temp + 80, temp, temp + 10)),
        ),
        (
            vitals::UPTIME_S.id,
            Value::Gauge(Gauge::last(i64::from(seq + 1) * INTERVAL_S as i64)),
        ),
        (vitals::REBOOT_REASON.id, Value::State(reason.code())),
        (vitals::CONNECTS.id, Value::Counter(1)),
        (vitals::FIRMWARE_VERSION.id, Value::State(fw)),
    ];
    for (id, v) in samples {
        // Ten samples in increasing id order fit the capacity of twelve.
        let _ = hb.push(id, v);
    }
    hb
}

/// CPU time this thread has run, from Linux's `/proc/thread-self/schedstat` (nanoseconds on
/// the CPU); `None` elsewhere.
fn thread_cpu_s() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

fn main() -> Result<(), String> {
    let a = args()?;
    let devices = a.devices;
    let mut registry = Registry::with_capacity(OfflinePolicy::default(), devices as usize);
    let hardware = ["A", "B", "C"];
    let regions = ["eu-west", "us-east", "ap-south", "sa-east"];
    for d in 0..devices {
        registry
            .provision(
                d,
                &DeviceAttributes {
                    hardware: hardware[(d % 3) as usize].into(),
                    lot: format!("L{}", d % 64),
                    region: regions[(d % 4) as usize].into(),
                },
            )
            .map_err(|e| e.to_string())?;
    }
    // A delta fleet keeps a reference for every device.
    let config = IngestConfig {
        max_references: if a.key_every > 1 { devices as usize } else { 0 },
        enroll_on_key: a.key_every > 1,
    };
    let mut ingest = Ingest::<N>::new(registry, config);

    let mut boots = vec![1u32; devices as usize];
    let mut seqs = vec![0u32; devices as usize];
    let mut frames = Vec::with_capacity(devices as usize * 48);
    let mut ends: Vec<u32> = Vec::with_capacity(devices as usize);
    let mut ids: Vec<u64> = Vec::with_capacity(devices as usize);
    let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
    let (mut total_frames, mut rejected) = (0u64, 0u64);
    let (mut wall_secs, mut cpu_secs) = (0.0f64, 0.0f64);
    for round in 0..a.rounds {
        // Encode this round (not timed).
        frames.clear();
        ends.clear();
        ids.clear();
        for d in arrival_order(devices, round, a.random) {
            let i = d as usize;
            let rebooted = round > 0 && mix(d, round).is_multiple_of(200);
            if rebooted {
                boots[i] += 1;
                seqs[i] = 0;
            }
            let hb = heartbeat(d, boots[i], seqs[i], round);
            let n = if seqs[i].is_multiple_of(a.key_every) || round == 0 {
                encode_key(&hb, &mut buf)
            } else {
                let prev = heartbeat(d, boots[i], seqs[i] - 1, round - 1);
                encode_delta(&hb, &prev, &mut buf)
            }
            .map_err(|e| e.to_string())?;
            seqs[i] += 1;
            ids.push(d);
            let mut frame = &buf[..n];
            if mix(d, round) % 1000 == 1 {
                frame = &buf[..n / 2]; // a corrupted, truncated frame
            }
            frames.extend_from_slice(frame);
            ends.push(u32::try_from(frames.len()).map_err(|e| e.to_string())?);
        }
        let now = START + u64::from(round) * INTERVAL_S;
        let t0 = Instant::now();
        let c0 = thread_cpu_s();
        // Frames arrive in batches (a broker delivers many messages per read).
        let starts = core::iter::once(0).chain(ends.iter().map(|&e| e as usize));
        let batch = ids
            .iter()
            .zip(starts.zip(ends.iter()))
            .map(|(&d, (s, &e))| (d, &frames[s..e as usize]));
        ingest.ingest_many(now, batch, |_, r| rejected += u64::from(r.is_err()));
        wall_secs += t0.elapsed().as_secs_f64();
        if let (Some(c0), Some(c1)) = (c0, thread_cpu_s()) {
            cpu_secs += c1 - c0;
        }
        total_frames += devices;
    }
    // One interval after the last round: every device is within its allowance.
    let last = START + u64::from(a.rounds) * INTERVAL_S;
    let _events = ingest.registry_mut().sweep(last);
    let agg = FleetAggregate::from_registry(ingest.registry());
    let fleet = agg.fleet().ok_or("no fleet aggregate")?;
    println!(
        "fleet: online={} offline={} reboots={} fault_reboots={} bad_frames={} (rejected {rejected})",
        fleet.online, fleet.offline, fleet.reboots, fleet.fault_reboots, fleet.bad_frames
    );
    println!(
        "vitals: battery p50={:.1}% temperature p10={:.1}C rssi p90={:.1}dBm",
        fleet.battery_percent.quantile(0.5).unwrap_or(f64::NAN),
        fleet.temperature_c.quantile(0.1).unwrap_or(f64::NAN),
        fleet.rssi_dbm.quantile(0.9).unwrap_or(f64::NAN),
    );
    println!(
        "encoded: {} bytes in the last round ({:.1} bytes per frame)",
        frames.len(),
        frames.len() as f64 / devices as f64
    );
    // On a shared machine the wall clock also counts time other processes held the core; the
    // thread's own CPU time is what one dedicated core would need.
    let secs = if cpu_secs > 0.0 { cpu_secs } else { wall_secs };
    println!(
        "timing: ingest wall={wall_secs:.3}s cpu={cpu_secs:.3}s ({:.0} frames/s by wall clock); frames_per_s below uses {}",
        total_frames as f64 / wall_secs,
        if cpu_secs > 0.0 {
            "the ingest thread's CPU time"
        } else {
            "the wall clock"
        }
    );
    let frames_per_s = total_frames as f64 / secs;
    let bytes_per_device = ingest.memory_bytes() as f64 / devices as f64;
    println!(
        "references: {} kept, {} too large, {} evicted",
        ingest.references(),
        ingest.stats().references_too_large,
        ingest.stats().references_evicted
    );
    println!(
        "ingest: devices={devices} frames={total_frames} frames_per_s={:.0} bytes_per_device={:.1} order={}",
        frames_per_s,
        bytes_per_device,
        if a.random { "random" } else { "provisioning" }
    );
    Ok(())
}
