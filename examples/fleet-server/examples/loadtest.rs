//! Load generator: many devices over MQTT on loopback against the service, measuring committed
//! frames per second and publish-to-commit latency (from the publish until the ack, which the
//! service sends only after the database commit).
//!
//! `cargo run --release -p fleet-server --example loadtest -- --devices 10000 --seconds 60`
//! ends with `load: devices=N frames_per_s=F p99_ms=P database=sqlite|postgres`.
//!
//! The service (embedded broker unless `--mqtt`, SQLite unless `--database`) runs in this
//! process; the devices run in a child process of the same binary, each with its own MQTT
//! connection (a process may hold 20,000 descriptors on our machines, and broker and devices
//! each need one per connection), or `--per-connection K` devices per connection as a gateway
//! would. Each device sends heartbeats at `--rate` per second (delta frames, a key frame every
//! 8) from a random phase. The figure counts frames acked within the
//! measured window; afterwards the devices stop sending, wait for the acks in flight, and the
//! parent checks that every acked frame is in the database.
//!
//! The device model is [`fleet_server::device::Device`] (the one the tests and the crash test
//! drive over `rumqttc`); here each connection is a minimal MQTT 3.1.1 client of our own on
//! one thread ([`Link::Buffer`]): what its devices send in one wake-up goes out in one
//! `write`, which keeps the generator's CPU per frame well below the service's.
//!
//! Besides the result line, stderr gets the CPU of each of the service's threads over the
//! measured window, per frame the service decoded in it, and the devices' CPU per frame.

use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use core::time::Duration;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use fleet_server::client::Api;
use fleet_server::db::Location;
use fleet_server::device::{Device, DeviceConfig, Link, Note, WireBuffer};
use fleet_server::persist;
use fleet_server::service::{self, BrokerMode, Config};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng as _, SeedableRng as _};

/// Load generator for fleet-server.
#[derive(Debug, Parser)]
struct Args {
    /// Devices (one MQTT connection each, or see `--per-connection`).
    #[arg(long, default_value_t = 10_000)]
    devices: u64,
    /// Seconds measured.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Heartbeats per device per second.
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
    /// A key frame every this many frames.
    #[arg(long, default_value_t = 8)]
    key_every: u32,
    /// Devices sharing one MQTT connection (a gateway); 1: a connection per device.
    #[arg(long, default_value_t = 1)]
    per_connection: u64,
    /// PostgreSQL URL (default: SQLite in a fresh directory).
    #[arg(long)]
    database: Option<String>,
    /// External broker (default: the embedded one).
    #[arg(long)]
    mqtt: Option<String>,
    /// Embedded broker port.
    #[arg(long, default_value_t = 18_831)]
    mqtt_port: u16,
    /// Bytes per second each client of the embedded broker may send (0: no limit).
    #[arg(long, default_value_t = 64 * 1024)]
    client_rate: u64,
    /// Longest the embedded broker holds a device's PUBACK for its next write (ms; 0: none).
    #[arg(long, default_value_t = 100)]
    puback_delay_ms: u64,
    /// Clients the embedded broker takes at once.
    #[arg(long, default_value_t = 10_000)]
    max_clients: usize,
    /// Seed of the devices' phases.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Internal: run only the devices, against this broker (the child process).
    #[arg(long, hide = true)]
    devices_against: Option<String>,
    /// Internal: the child's first device id.
    #[arg(long, hide = true, default_value_t = 0)]
    base: u64,
}

const MAX_MS: usize = 60_000;

/// CPU seconds this process used so far (user + system).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.get(s.rfind(')')? + 2..)?.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            let t = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(t / 100.0)
        })
        .unwrap_or(0.0)
}

/// CPU seconds per thread name of this process (user + system), largest first.
fn thread_cpu() -> Vec<(String, f64)> {
    let mut by_name: std::collections::BTreeMap<String, f64> = std::collections::BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for t in dir.flatten() {
            let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
                continue;
            };
            let name = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            let Some(rest) = stat.rfind(')').and_then(|i| stat.get(i + 2..)) else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
                + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            *by_name.entry(name.trim().to_string()).or_default() += ticks / 100.0;
        }
    }
    let mut v: Vec<(String, f64)> = by_name.into_iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v
}

/// `thread_cpu` now minus `before`, as one line.
fn thread_cpu_line(before: &[(String, f64)]) -> String {
    thread_cpu()
        .iter()
        .map(|(n, s)| {
            let b = before.iter().find(|(m, _)| m == n).map_or(0.0, |x| x.1);
            (n.clone(), s - b)
        })
        .filter(|(_, s)| *s >= 0.05)
        .map(|(n, s)| format!("{n} {s:.1}s"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `thread_cpu` now minus `before`, per frame (`frames` in the same time), as one line.
fn thread_cpu_per_frame(before: &[(String, f64)], frames: u64) -> String {
    let mut total = 0.0;
    let mut parts: Vec<String> = thread_cpu()
        .iter()
        .map(|(n, s)| {
            let b = before.iter().find(|(m, _)| m == n).map_or(0.0, |x| x.1);
            (n.clone(), s - b)
        })
        .filter(|(_, s)| *s >= 0.05)
        .map(|(n, s)| {
            total += s;
            format!("{n} {s:.1}s {:.1}us", s * 1e6 / frames.max(1) as f64)
        })
        .collect();
    parts.push(format!(
        "all {total:.1}s {:.1}us per frame ({frames} frames decoded)",
        total * 1e6 / frames.max(1) as f64
    ));
    parts.join(", ")
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    // The device process on one thread: its connections wake each other with no
    // cross-thread wake-ups (the service keeps the multi-threaded runtime).
    let runtime = if args.devices_against.is_some() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    let Ok(runtime) = runtime else {
        return std::process::ExitCode::FAILURE;
    };
    let result = if args.devices_against.is_some() {
        runtime.block_on(devices(args))
    } else {
        runtime.block_on(run(args))
    };
    match result {
        Ok(line) => {
            println!("{line}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadtest: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The service side: start, provision, run the device process, check the database.
async fn run(args: Args) -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!("fleet-loadtest-{}", std::process::id()));
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
            fleet_server::mqtt::BrokerAddr {
                host: "127.0.0.1".into(),
                port: args.mqtt_port,
            }
        }
    };
    if let Some(db) = &args.database {
        config.database = Location::parse(db);
    }
    config.broker_limits.bytes_per_s = args.client_rate;
    config.broker_limits.max_connections = args.max_clients;
    config.broker_limits.puback_delay = Duration::from_millis(args.puback_delay_ms);
    config.operator_tokens = vec!["loadtest".into()];
    let config_fleet = config.fleet;
    config.client_id = format!("fleet-server-loadtest-{}", std::process::id());
    let running = service::start(config, None)
        .await
        .map_err(|e| e.to_string())?;
    let backend = running.shared.db.backend().name();
    let api = Api {
        addr: running.http,
        token: "loadtest".into(),
    };
    // Ids unique per run, so that a reused PostgreSQL database does not collide.
    let base = 1_000_000_000 + u64::from(std::process::id()) * 100_000;
    let ids: Vec<u64> = (0..args.devices).map(|i| base + i).collect();
    for chunk in ids.chunks(10_000) {
        let list: Vec<serde_json::Value> = chunk
            .iter()
            .map(|id| {
                let hardware = ["A", "B", "C"]
                    .get((*id % 3) as usize)
                    .copied()
                    .unwrap_or("A");
                serde_json::json!({"id": id, "hardware": hardware})
            })
            .collect();
        let r = api
            .post("/v1/devices", &serde_json::json!({"devices": list}))
            .await?;
        if r.status != 200 {
            return Err(format!("provisioning failed: {} {}", r.status, r.body));
        }
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let cpu0 = cpu_seconds();
    let threads0 = thread_cpu();
    let mut child = tokio::process::Command::new(exe)
        .args([
            "--devices-against".to_string(),
            broker.to_string(),
            "--base".into(),
            base.to_string(),
            "--devices".into(),
            args.devices.to_string(),
            "--seconds".into(),
            args.seconds.to_string(),
            "--rate".into(),
            args.rate.to_string(),
            "--key-every".into(),
            args.key_every.to_string(),
            "--seed".into(),
            args.seed.to_string(),
            "--per-connection".into(),
            args.per_connection.to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start the device process: {e}"))?;
    // The child says on stdout when its measured window starts and ends: this process's
    // threads' CPU over exactly that window.
    let mut window: Option<(Vec<(String, f64)>, u64)> = None;
    let mut window_line = String::new();
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        use tokio::io::AsyncBufReadExt as _;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            if l == "measure: start" {
                window = Some((thread_cpu(), running.shared.metrics.frames.load(Relaxed)));
            } else if l == "measure: end" {
                if let Some((before, frames0)) = &window {
                    let frames = running.shared.metrics.frames.load(Relaxed) - frames0;
                    window_line = thread_cpu_per_frame(before, frames);
                }
            } else {
                line = l;
            }
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("the device process: {e}"))?;
    let service_cpu = cpu_seconds() - cpu0;
    eprintln!(
        "loadtest: service threads' CPU over the device run: {}",
        thread_cpu_line(&threads0)
    );
    if !window_line.is_empty() {
        eprintln!("loadtest: service threads' CPU in the measured window: {window_line}");
    }
    if !status.success() {
        return Err(format!("the device process failed: {line}"));
    }
    let field = |name: &str| -> Result<f64, String> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .and_then(|v| v.parse().ok())
            .ok_or(format!("no {name} in {line:?}"))
    };
    let (frames_per_s, p99, acked) = (
        field("frames_per_s")?,
        field("p99_ms")?,
        field("acked")? as i64,
    );
    let stored = running
        .shared
        .db
        .read(|c| {
            c.query_opt("SELECT CAST(COUNT(*) AS BIGINT) FROM heartbeats", &[])
                .map(|r| r.map_or(0, |r| r.int(0).unwrap_or(0)))
        })
        .await
        .map_err(|e| e.to_string())?;
    let m = &running.shared.metrics;
    let text = m.render(&running.shared.gauges());
    let metric = |name: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
            .unwrap_or(0.0)
    };
    eprintln!(
        "loadtest: CPU per acked frame over the whole run: service (broker {}, database in process) {:.1} us, devices {:.1} us",
        if args.mqtt.is_some() {
            "external"
        } else {
            "embedded"
        },
        service_cpu * 1e6 / (acked.max(1) as f64),
        field("cpu_s")? * 1e6 / (acked.max(1) as f64)
    );
    eprintln!(
        "loadtest: {acked} frames acked in all, {stored} stored; service: {} messages, {} commits, mean receive-to-commit {:.0} ms, {} downlinks ({} dropped)",
        m.messages.load(Relaxed),
        m.commits.load(Relaxed),
        1000.0 * metric("fleet_server_receive_to_commit_seconds_sum ")
            / metric("fleet_server_receive_to_commit_seconds_count ").max(1.0),
        m.downlinks.load(Relaxed),
        m.downlinks_dropped.load(Relaxed)
    );
    if stored < acked {
        return Err(format!("{acked} frames acked but only {stored} stored"));
    }
    // What a restart costs now: the newest snapshot and the tail, against the whole history.
    let (fleet_config, now) = (config_fleet, fleet_server::clock::now_unix());
    for source in [persist::Source::Snapshot, persist::Source::History] {
        let started = Instant::now();
        let done = running
            .shared
            .db
            .read(move |c| persist::restore(c, fleet_config, 1, now, source))
            .await
            .map_err(|e| e.to_string())?
            .2;
        eprintln!(
            "loadtest: restart from {source:?}: {} heartbeats replayed, snapshot {} B up to {:?}, {} ms",
            done.heartbeats,
            done.snapshot_bytes,
            done.snapshot_watermark,
            started.elapsed().as_millis()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(format!(
        "load: devices={} frames_per_s={frames_per_s:.0} p99_ms={p99} database={backend}",
        args.devices
    ))
}

struct Stats {
    measuring: AtomicBool,
    sending: AtomicBool,
    committed: AtomicU64,
    committed_total: AtomicU64,
    refused: AtomicU64,
    unacked: AtomicU64,
    connected: AtomicU64,
    latency: Vec<AtomicU64>,
}

impl Stats {
    fn p99(&self) -> u64 {
        let total: u64 = self.latency.iter().map(|b| b.load(Relaxed)).sum();
        let target = (total as f64 * 0.99).ceil() as u64;
        let mut seen = 0;
        for (ms, b) in self.latency.iter().enumerate() {
            seen += b.load(Relaxed);
            if seen >= target {
                return ms as u64;
            }
        }
        MAX_MS as u64
    }

    fn note(&self, n: Note) {
        match n {
            Note::Committed(_, _, ms) => {
                self.committed_total.fetch_add(1, Relaxed);
                if self.measuring.load(Relaxed) {
                    self.committed.fetch_add(1, Relaxed);
                    if let Some(b) = self.latency.get((ms as usize).min(MAX_MS)) {
                        b.fetch_add(1, Relaxed);
                    }
                }
            }
            Note::Refused(..) => {
                self.refused.fetch_add(1, Relaxed);
            }
            _ => {}
        }
    }
}

/// The earliest of `due` (far in the future when there is none).
fn next_due(due: &[tokio::time::Instant]) -> tokio::time::Instant {
    due.iter()
        .min()
        .copied()
        .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3_600))
}

/// Connects to the broker as `client_id` (clean session, no keep-alive: the devices send
/// twice a second) and waits for its CONNACK.
async fn mqtt_connect(
    broker: &fleet_server::mqtt::BrokerAddr,
    client_id: &str,
    buf: &mut bytes::BytesMut,
) -> Result<tokio::net::TcpStream, String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect((broker.host.as_str(), broker.port))
        .await
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let mut connect = rumqttc::Connect::new(client_id);
    connect.keep_alive = 0;
    let mut out = bytes::BytesMut::new();
    connect.write(&mut out).map_err(|e| e.to_string())?;
    stream.write_all(&out).await.map_err(|e| e.to_string())?;
    buf.clear();
    loop {
        match rumqttc::Packet::read(buf, fleet_server::mqtt::MAX_PACKET) {
            Ok(rumqttc::Packet::ConnAck(a)) if a.code == rumqttc::ConnectReturnCode::Success => {
                return Ok(stream);
            }
            Ok(p) => return Err(format!("expected a CONNACK, got {p:?}")),
            Err(rumqttc::Error::InsufficientBytes(_)) => {}
            Err(e) => return Err(e.to_string()),
        }
        if stream.read_buf(buf).await.map_err(|e| e.to_string())? == 0 {
            return Err("the broker closed the connection before its CONNACK".into());
        }
    }
}

/// Writes what the devices queued in `wire`, in one `write`.
async fn flush(
    stream: &mut tokio::net::TcpStream,
    wire: &std::sync::Mutex<WireBuffer>,
    spare: &mut Vec<u8>,
) -> bool {
    use tokio::io::AsyncWriteExt as _;
    spare.clear();
    if let Ok(mut w) = wire.lock() {
        core::mem::swap(&mut w.bytes, spare);
    }
    spare.is_empty() || stream.write_all(spare).await.is_ok()
}

/// One gateway's state: its devices, their next heartbeats, the connection's outgoing bytes.
struct Gateway {
    devices: Vec<Device>,
    index: std::collections::HashMap<u64, usize>,
    due: Vec<tokio::time::Instant>,
    wire: Arc<std::sync::Mutex<WireBuffer>>,
    period: Duration,
    stats: Arc<Stats>,
    /// Frames unacked at the last count (what this gateway adds to `Stats::unacked`).
    unacked: u64,
    /// Devices counted in `Stats::connected`.
    counted: bool,
}

impl Gateway {
    /// Serves one connection until it fails.
    async fn serve(&mut self, mut stream: tokio::net::TcpStream, mut buf: bytes::BytesMut) {
        use tokio::io::AsyncReadExt as _;
        let mut spare = Vec::new();
        let filters: Vec<String> = self
            .devices
            .iter()
            .map(|d| fleet_server::topic::down_filter(d.id))
            .collect();
        let mut subacks = 0usize;
        if let Ok(mut w) = self.wire.lock() {
            for chunk in filters.chunks(100) {
                w.subscribe(chunk);
                subacks += 1;
            }
        }
        for d in &mut self.devices {
            d.resend(true).await;
        }
        let mut next_resend = tokio::time::Instant::now() + Duration::from_secs(1);
        loop {
            if !flush(&mut stream, &self.wire, &mut spare).await {
                return;
            }
            let sending = subacks == 0 && self.stats.sending.load(Relaxed);
            let wake = if sending {
                next_due(&self.due).min(next_resend)
            } else {
                next_resend
            };
            tokio::select! {
                n = stream.read_buf(&mut buf) => {
                    if !matches!(n, Ok(n) if n > 0) {
                        return;
                    }
                    loop {
                        match rumqttc::Packet::read(&mut buf, fleet_server::mqtt::MAX_PACKET) {
                            Ok(rumqttc::Packet::Publish(p)) => {
                                let target = fleet_server::topic::parse_down(&p.topic)
                                    .and_then(|(id, _)| self.index.get(&id).copied());
                                if let Some(d) = target.and_then(|i| self.devices.get_mut(i)) {
                                    for n in d.handle_publish(&p.topic, &p.payload).await {
                                        self.stats.note(n);
                                    }
                                }
                            }
                            Ok(rumqttc::Packet::SubAck(_)) => {
                                subacks = subacks.saturating_sub(1);
                                if subacks == 0 && !self.counted {
                                    self.counted = true;
                                    self.stats.connected.fetch_add(self.devices.len() as u64, Relaxed);
                                }
                            }
                            Ok(_) => {}
                            Err(rumqttc::Error::InsufficientBytes(_)) => break,
                            Err(_) => return,
                        }
                    }
                }
                () = tokio::time::sleep_until(wake) => {
                    let now = tokio::time::Instant::now();
                    if sending {
                        for (d, t) in self.devices.iter_mut().zip(self.due.iter_mut()) {
                            if *t <= now {
                                d.send_heartbeat().await;
                                *t += self.period;
                                if *t < now { *t = now + self.period; }
                            }
                        }
                    }
                    if now >= next_resend {
                        next_resend = now + Duration::from_secs(1);
                        self.count_unacked(true).await;
                    }
                }
            }
        }
    }

    /// Re-sends what is overdue (`resend`) and updates this gateway's share of the unacked count.
    async fn count_unacked(&mut self, resend: bool) {
        let mut unacked = 0u64;
        for d in &mut self.devices {
            if resend {
                d.resend(false).await;
            }
            unacked += d.unacked() as u64;
        }
        if unacked > self.unacked {
            self.stats
                .unacked
                .fetch_add(unacked - self.unacked, Relaxed);
        } else {
            self.stats
                .unacked
                .fetch_sub(self.unacked - unacked, Relaxed);
        }
        self.unacked = unacked;
    }
}

/// One MQTT connection carrying `ids` devices (a gateway; one device: a device's own
/// connection): routes each downlink message to its device, sends each device's heartbeats at
/// its own phase. The connection is our own minimal client (the devices' packets are
/// appended to one buffer and written with one `write` per wake-up); the device model is
/// `fleet_server::device::Device`, the same as over `rumqttc`.
fn spawn_gateway(
    broker: &fleet_server::mqtt::BrokerAddr,
    ids: Vec<(u64, Duration)>,
    delay: Duration,
    period: Duration,
    key_every: u32,
    stats: Arc<Stats>,
) {
    let broker = broker.clone();
    let first = ids.first().map_or(0, |(id, _)| *id);
    let client_id = format!("gateway-{first}");
    let config = DeviceConfig {
        key_every,
        resend_after: Duration::from_secs(10),
        ..DeviceConfig::default()
    };
    let wire = Arc::new(std::sync::Mutex::new(WireBuffer::default()));
    let devices: Vec<Device> = ids
        .iter()
        .map(|(id, _)| Device::with_link(Link::Buffer(wire.clone()), *id, 1, config.clone()))
        .collect();
    let index: std::collections::HashMap<u64, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i))
        .collect();
    tokio::spawn(async move {
        // Connect in waves: a burst of thousands of SYNs overflows the listener's backlog.
        tokio::time::sleep(delay).await;
        let start = tokio::time::Instant::now() + Duration::from_secs(2);
        let mut g = Gateway {
            devices,
            index,
            due: ids.iter().map(|(_, phase)| start + *phase).collect(),
            wire,
            period,
            stats,
            unacked: 0,
            counted: false,
        };
        let mut buf = bytes::BytesMut::with_capacity(4_096);
        loop {
            match mqtt_connect(&broker, &client_id, &mut buf).await {
                Ok(stream) => g.serve(stream, core::mem::take(&mut buf)).await,
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
            // What was queued for the lost connection goes again after the reconnect.
            if let Ok(mut w) = g.wire.lock() {
                w.bytes.clear();
            }
            g.count_unacked(false).await;
        }
    });
}

/// The device process: connects every device, measures, reports one line on stdout.
async fn devices(args: Args) -> Result<String, String> {
    let broker = fleet_server::mqtt::parse_url(args.devices_against.as_deref().unwrap_or(""))?;
    let stats = Arc::new(Stats {
        measuring: AtomicBool::new(false),
        sending: AtomicBool::new(true),
        committed: AtomicU64::new(0),
        committed_total: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        unacked: AtomicU64::new(0),
        connected: AtomicU64::new(0),
        latency: (0..=MAX_MS).map(|_| AtomicU64::new(0)).collect(),
    });
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let period = Duration::from_secs_f64(1.0 / args.rate.max(0.001));
    let per = args.per_connection.max(1);
    let all: Vec<(u64, Duration)> = (0..args.devices)
        .map(|i| {
            let phase = period.mul_f64(f64::from(rng.next_u32()) / f64::from(u32::MAX));
            (args.base + i, phase)
        })
        .collect();
    for (g, chunk) in all.chunks(per as usize).enumerate() {
        // About 1,000 devices' connections a second.
        let delay = Duration::from_millis((g as u64 * per) / 100 * 100);
        spawn_gateway(
            &broker,
            chunk.to_vec(),
            delay,
            period,
            args.key_every,
            stats.clone(),
        );
    }
    let t0 = Instant::now();
    let mut shown = 0;
    while stats.connected.load(Relaxed) < args.devices {
        if t0.elapsed() > Duration::from_secs(180) {
            eprintln!(
                "loadtest: connected={} of devices={}",
                stats.connected.load(Relaxed),
                args.devices
            );
            return Err(format!(
                "only {} of {} devices connected in 180 s",
                stats.connected.load(Relaxed),
                args.devices
            ));
        }
        if t0.elapsed().as_secs() >= shown + 10 {
            shown = t0.elapsed().as_secs();
            eprintln!(
                "loadtest: {shown} s: connected={} of devices={}",
                stats.connected.load(Relaxed),
                args.devices
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "loadtest: connected={} of devices={} in {:.1} s; warming up 10 s",
        stats.connected.load(Relaxed),
        args.devices,
        t0.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    stats.measuring.store(true, Relaxed);
    println!("measure: start");
    let threads0 = thread_cpu();
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    for s in 1..=args.seconds {
        tokio::time::sleep_until(tokio::time::Instant::from_std(
            start + Duration::from_secs(s),
        ))
        .await;
        if s % 10 == 0 || s == args.seconds {
            eprintln!(
                "loadtest: {s} s: {} frames committed, {:.0}/s, p99 {} ms, unacked {}",
                stats.committed.load(Relaxed),
                stats.committed.load(Relaxed) as f64 / start.elapsed().as_secs_f64(),
                stats.p99(),
                stats.unacked.load(Relaxed)
            );
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    stats.measuring.store(false, Relaxed);
    println!("measure: end");
    let committed = stats.committed.load(Relaxed);
    eprintln!(
        "loadtest: devices' CPU in the measured {elapsed:.0} s: {:.1} us per committed frame; threads: {}",
        (cpu_seconds() - cpu0) * 1e6 / (committed.max(1) as f64),
        thread_cpu_line(&threads0)
    );
    let p99 = stats.p99();
    stats.sending.store(false, Relaxed);
    let drain = Instant::now();
    while stats.unacked.load(Relaxed) > 0 && drain.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(format!(
        "devices: frames_per_s={:.1} p99_ms={p99} acked={} refused={} unacked={} cpu_s={:.2}",
        committed as f64 / elapsed,
        stats.committed_total.load(Relaxed),
        stats.refused.load(Relaxed),
        stats.unacked.load(Relaxed),
        cpu_seconds()
    ))
}
