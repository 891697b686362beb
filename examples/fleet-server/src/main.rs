//! `fleet-server`: run the fleet-ops backend.
//!
//! `cargo run --release -p fleet-server` starts it with an embedded MQTT broker on
//! 127.0.0.1:1883, a SQLite database under `./fleet-data`, and the HTTP API on
//! 127.0.0.1:8080. `--mqtt mqtt://host:port` uses an external broker (mosquitto), and
//! `--database postgres://user:pass@host/db` PostgreSQL.

use core::net::SocketAddr;
use core::time::Duration;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fleet_server::db::Location;
use fleet_server::service::{self, BrokerMode, Config};

/// The fleet-ops backend: devices over MQTT, SQLite or PostgreSQL, an HTTP API.
#[derive(Debug, Parser)]
#[command(name = "fleet-server", version)]
struct Args {
    /// HTTP listen address (the API, /openapi.json and /metrics).
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// External MQTT broker, `mqtt://host:port`; without it an embedded broker runs.
    #[arg(long)]
    mqtt: Option<String>,
    /// Listen address of the embedded broker.
    #[arg(long, default_value = "127.0.0.1:1883")]
    mqtt_listen: SocketAddr,
    /// Bytes per second each client of the embedded broker may send (0: no per-client limit).
    #[arg(long, default_value_t = 64 * 1024)]
    mqtt_client_rate: u64,
    /// Clients the embedded broker takes at once.
    #[arg(long, default_value_t = 10_000)]
    mqtt_max_clients: usize,
    /// Database: `postgres://user:pass@host:port/db`, or a SQLite file (default
    /// `<data-dir>/fleet.db`).
    #[arg(long)]
    database: Option<String>,
    /// Directory for the SQLite file, the signing key and generated tokens.
    #[arg(long, default_value = "fleet-data")]
    data_dir: PathBuf,
    /// Seconds between rollout decisions.
    #[arg(long, default_value_t = 10.0)]
    decide_every: f64,
    /// Seconds between offline sweeps and alert evaluations.
    #[arg(long, default_value_t = 5.0)]
    sweep_every: f64,
    /// Operator token to accept (repeatable; also FLEET_OPERATOR_TOKEN).
    #[arg(long)]
    operator_token: Vec<String>,
    /// Read-only token to accept (repeatable; also FLEET_READ_TOKEN).
    #[arg(long)]
    read_token: Vec<String>,
    /// Release signing key (PKCS#8 PEM) for rollback re-issues; default
    /// `<data-dir>/signing.pem`, generated on first start.
    #[arg(long)]
    signing_key: Option<PathBuf>,
    /// Release root public key (SPKI PEM) a release must be signed by (repeatable); default:
    /// the signing key.
    #[arg(long)]
    trust_key: Vec<PathBuf>,
    /// Signatures a release needs.
    #[arg(long, default_value_t = 1)]
    trust_threshold: u8,
    /// Alert playbook (JSON); default: the built-in one.
    #[arg(long)]
    playbook: Option<PathBuf>,
    /// Devices whose delta-frame reference is kept in memory.
    #[arg(long, default_value_t = 100_000)]
    max_references: usize,
    /// Seconds of silence, at least, before a device counts as offline.
    #[arg(long, default_value_t = 30)]
    offline_floor: u64,
    /// Seconds between fleet snapshots (a restart restores the newest and replays only the
    /// heartbeats after it).
    #[arg(long, default_value_t = 60.0)]
    snapshot_every: f64,
    /// Longest wait, milliseconds, for an ingest batch to fill.
    #[arg(long, default_value_t = 20)]
    batch_ms: u64,
}

fn seconds(what: &str, s: f64) -> Result<Duration, String> {
    if s.is_finite() && (0.05..=86_400.0).contains(&s) {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(format!(
            "--{what} {s} must be between 0.05 and 86400 seconds"
        ))
    }
}

fn config(a: Args) -> Result<Config, String> {
    let mut c = Config::embedded(a.data_dir.clone());
    c.http = a.http;
    c.broker = match &a.mqtt {
        Some(url) => BrokerMode::External(fleet_server::mqtt::parse_url(url)?),
        None => BrokerMode::Embedded(a.mqtt_listen),
    };
    c.broker_limits.bytes_per_s = a.mqtt_client_rate;
    c.broker_limits.burst_bytes = c.broker_limits.burst_bytes.max(a.mqtt_client_rate);
    c.broker_limits.max_connections = a.mqtt_max_clients;
    if let Some(db) = &a.database {
        c.database = Location::parse(db);
    }
    c.decide_every = seconds("decide-every", a.decide_every)?;
    c.sweep_every = seconds("sweep-every", a.sweep_every)?;
    c.snapshot_every = seconds("snapshot-every", a.snapshot_every)?;
    c.operator_tokens = a.operator_token;
    c.read_tokens = a.read_token;
    for (var, list) in [
        ("FLEET_OPERATOR_TOKEN", &mut c.operator_tokens),
        ("FLEET_READ_TOKEN", &mut c.read_tokens),
    ] {
        if let Ok(t) = std::env::var(var)
            && !t.is_empty()
        {
            list.push(t);
        }
    }
    c.signing_key = a.signing_key;
    c.trust_keys = a.trust_key;
    c.trust_threshold = a.trust_threshold;
    if let Some(p) = &a.playbook {
        let text =
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        c.playbook = telemetry_core::fleet::alert::Playbook::from_json(&text)
            .map_err(|e| format!("playbook {}: {e}", p.display()))?;
    }
    c.fleet.max_references = a.max_references;
    c.fleet.offline.floor_s = a.offline_floor;
    c.batch.max_wait = Duration::from_millis(a.batch_ms.clamp(1, 1_000));
    Ok(c)
}

fn main() -> ExitCode {
    let config = match config(Args::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fleet-server: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fleet-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let broker = match &config.broker {
            BrokerMode::Embedded(a) => format!("mqtt://{a} (embedded)"),
            BrokerMode::External(a) => a.to_string(),
        };
        let running = match service::start(config, None).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("fleet-server: {e}");
                return ExitCode::FAILURE;
            }
        };
        let s = &running.shared;
        println!(
            "fleet-server: http=http://{} mqtt={} database={} ({}) restored devices={} heartbeats={} snapshot={} in {} ms",
            running.http,
            broker,
            s.db.backend().name(),
            s.db.display_url(),
            s.restored.devices,
            s.restored.heartbeats,
            s.restored
                .snapshot_watermark
                .map_or_else(|| "none".to_string(), |w| format!("up to heartbeat {w}")),
            s.restored.millis
        );
        tokio::select! {
            _ = running.server => ExitCode::FAILURE,
            _ = tokio::signal::ctrl_c() => {
                // Everything acknowledged is committed; nothing else needs flushing.
                println!("fleet-server: stopping");
                ExitCode::SUCCESS
            }
        }
    })
}
