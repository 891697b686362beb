//! One hostile sender against real devices: 100,000 spoofed device ids sending garbage and
//! valid key frames as fast as one connection can, while real devices keep reporting delta
//! frames. Measures that the real devices keep being ingested (their deltas decode, nothing of
//! theirs is refused) and what the service's memory does.
//!
//! `cargo run --release -p fleet-server --example hostile -- --spoofed 100000 --seconds 30`
//! ends with `hostile: spoofed_ids=... hostile_messages=... real_frames=... real_refused=0 ...`.

use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use core::time::Duration;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use fleet_server::client::Api;
use fleet_server::device::{Device, DeviceConfig, Note};
use fleet_server::mqtt::BrokerAddr;
use fleet_server::service::{self, BrokerMode, Config};
use fleet_server::topic::{self, Up};
use fleet_server::wire::{self, UpFrame, UpFrames};
use rumqttc::{AsyncClient, QoS};
use telemetry_core::codec::encode_key;
use telemetry_core::heartbeat::{Heartbeat, Interval, Value};
use telemetry_core::metric::vitals;

/// A hostile sender with spoofed ids against real devices.
#[derive(Debug, Parser)]
struct Args {
    /// Spoofed device ids.
    #[arg(long, default_value_t = 100_000)]
    spoofed: u64,
    /// Real devices.
    #[arg(long, default_value_t = 1_000)]
    devices: u64,
    /// Seconds of attack.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Embedded broker port.
    #[arg(long, default_value_t = 18_832)]
    mqtt_port: u16,
    /// External broker (default: the embedded one).
    #[arg(long)]
    mqtt: Option<String>,
    /// Bytes per second each client of the embedded broker may send (0: no limit).
    #[arg(long, default_value_t = 64 * 1024)]
    client_rate: u64,
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<u64>().ok())
            })
        })
        .map_or(0, |k| k * 1024)
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        return std::process::ExitCode::FAILURE;
    };
    match rt.block_on(run(args)) {
        Ok((line, ok)) => {
            println!("{line}");
            if ok {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("hostile: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[derive(Default)]
struct Real {
    committed: AtomicU64,
    refused: AtomicU64,
    max_ms: AtomicU64,
    measuring: AtomicBool,
}

#[allow(clippy::too_many_lines)]
async fn run(args: Args) -> Result<(String, bool), String> {
    let dir = std::env::temp_dir().join(format!("fleet-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = Config::embedded(dir.clone());
    config.http = SocketAddr::from(([127, 0, 0, 1], 0));
    let broker = match &args.mqtt {
        Some(url) => {
            let a = fleet_server::mqtt::parse_url(url)?;
            config.broker = BrokerMode::External(a.clone());
            a
        }
        None => {
            config.broker =
                BrokerMode::Embedded(SocketAddr::from(([127, 0, 0, 1], args.mqtt_port)));
            BrokerAddr {
                host: "127.0.0.1".into(),
                port: args.mqtt_port,
            }
        }
    };
    config.broker_limits.bytes_per_s = args.client_rate;
    config.operator_tokens = vec!["hostile".into()];
    let running = service::start(config, None)
        .await
        .map_err(|e| e.to_string())?;
    let api = Api {
        addr: running.http,
        token: "hostile".into(),
    };
    let ids: Vec<u64> = (1..=args.devices).collect();
    let list: Vec<serde_json::Value> = ids.iter().map(|i| serde_json::json!({"id": i})).collect();
    let r = api
        .post("/v1/devices", &serde_json::json!({"devices": list}))
        .await?;
    if r.status != 200 {
        return Err(format!("provisioning: {}", r.body));
    }
    let real = Arc::new(Real::default());
    let connected = Arc::new(AtomicU64::new(0));
    for &id in &ids {
        let (mut dev, mut ev) = Device::connect(
            &broker,
            id,
            1,
            DeviceConfig {
                key_every: 16,
                ..DeviceConfig::default()
            },
        );
        let (real, connected) = (real.clone(), connected.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500 + id % 97));
            let mut up = false;
            loop {
                tokio::select! {
                    e = ev.poll() => match e {
                        Ok(e) => {
                            if !up && matches!(e, rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) {
                                up = true;
                                connected.fetch_add(1, Relaxed);
                            }
                            for n in dev.handle(e).await {
                                match n {
                                    Note::Committed(_, _, ms) if real.measuring.load(Relaxed) => {
                                        real.committed.fetch_add(1, Relaxed);
                                        real.max_ms.fetch_max(ms, Relaxed);
                                    }
                                    Note::Refused(..) => { real.refused.fetch_add(1, Relaxed); }
                                    _ => {}
                                }
                            }
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                    },
                    _ = tick.tick(), if up => { dev.send_heartbeat().await; dev.resend(false).await; }
                }
            }
        });
    }
    while connected.load(Relaxed) < args.devices {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Baseline: real devices alone.
    real.measuring.store(true, Relaxed);
    tokio::time::sleep(Duration::from_secs(5)).await;
    real.measuring.store(false, Relaxed);
    let baseline = real.committed.swap(0, Relaxed) as f64 / 5.0;
    real.max_ms.store(0, Relaxed);
    let (fleet_before, missing_before) = {
        let f = running.shared.fleet.lock().map_err(|_| "fleet lock")?;
        (f.memory_bytes(), f.stats().missing_reference)
    };
    let rss_before = rss_bytes();
    // The attack: one connection, spoofed ids in turn, garbage and valid key frames.
    let mut o = fleet_server::mqtt::options(&broker, "hostile");
    o.set_inflight(1_000);
    let (client, mut ev) = AsyncClient::new(o, 10_000);
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let attacker = {
        let (stop, sent, spoofed) = (stop.clone(), sent.clone(), args.spoofed);
        tokio::spawn(async move {
            let mut hb = Heartbeat::<8>::new(1, 0, Interval::default());
            let _ = hb.push(vitals::BATTERY_PCT.id, Value::Counter(1));
            let mut key = [0u8; 64];
            let n = encode_key(&hb, &mut key).unwrap_or(0);
            let key = key.get(..n).map(<[u8]>::to_vec).unwrap_or_default();
            let garbage = [0x55u8; 40];
            let mut i = 0u64;
            while !stop.load(Relaxed) {
                let id = 10_000_000_000 + i % spoofed;
                let bytes: &[u8] = if i.is_multiple_of(2) { &garbage } else { &key };
                let mut frames = heapless::Vec::new();
                let _ = frames.push(UpFrame {
                    msg: u32::try_from(i % 1_000_000).unwrap_or(0),
                    boot: 1,
                    seq: 0,
                    bytes,
                });
                let payload = if i.is_multiple_of(7) {
                    vec![0xff; 30]
                } else {
                    wire::encode(&UpFrames { frames })
                };
                if client
                    .publish(topic::up(id, Up::Frames), QoS::AtMostOnce, false, payload)
                    .await
                    .is_err()
                {
                    break;
                }
                sent.fetch_add(1, Relaxed);
                i += 1;
            }
        })
    };
    real.measuring.store(true, Relaxed);
    let t = Instant::now();
    let mut peak_rss = rss_before;
    let mut peak_fleet = fleet_before;
    while t.elapsed() < Duration::from_secs(args.seconds) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        peak_rss = peak_rss.max(rss_bytes());
        if let Ok(f) = running.shared.fleet.lock() {
            peak_fleet = peak_fleet.max(f.memory_bytes());
        }
    }
    real.measuring.store(false, Relaxed);
    stop.store(true, Relaxed);
    let _ = attacker.await;
    let elapsed = t.elapsed().as_secs_f64();
    let during = real.committed.load(Relaxed) as f64 / elapsed;
    let (registry, unknown, missing_after) = {
        let f = running.shared.fleet.lock().map_err(|_| "fleet lock")?;
        (
            f.registry().len(),
            f.stats().unknown_sender_messages,
            f.stats().missing_reference,
        )
    };
    let refused = real.refused.load(Relaxed);
    let hostile = sent.load(Relaxed);
    eprintln!(
        "hostile: real devices {:.0} frames/s alone, {:.0} frames/s under attack; slowest ack {} ms; {} hostile messages ({:.0}/s), {} counted as unknown",
        baseline,
        during,
        real.max_ms.load(Relaxed),
        hostile,
        hostile as f64 / elapsed,
        unknown
    );
    let ok = refused == 0
        && registry as u64 == args.devices
        && peak_fleet == fleet_before
        && during > 0.5 * baseline;
    let _ = std::fs::remove_dir_all(&dir);
    Ok((
        format!(
            "hostile: spoofed_ids={} hostile_messages={hostile} real_devices={} real_frames_per_s={during:.0} (alone {baseline:.0}) real_refused={refused} missing_reference={} registry={registry} fleet_bytes={fleet_before}->{peak_fleet} rss_mb={}->{}",
            args.spoofed,
            args.devices,
            missing_after - missing_before,
            rss_before / 1_048_576,
            peak_rss / 1_048_576
        ),
        ok,
    ))
}
