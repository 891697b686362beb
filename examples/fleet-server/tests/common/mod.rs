//! Starting a service for a test: a fresh data directory, free ports, SQLite by default;
//! `FLEET_TEST_POSTGRES=postgres://user@host:port/db` runs on a fresh PostgreSQL database
//! instead, `FLEET_TEST_MQTT=mqtt://host:port` against an external broker.
#![allow(
    dead_code,
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used
)]

use core::net::SocketAddr;
use core::time::Duration;
use std::path::PathBuf;

use fleet_server::client::Api;
use fleet_server::db::Location;
use fleet_server::mqtt::BrokerAddr;
use fleet_server::service::{self, BrokerMode, Config, Running};

pub const OPERATOR: &str = "test-operator-token";
pub const READER: &str = "test-read-token";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn temp_dir(name: &str) -> PathBuf {
    let mut b = [0u8; 6];
    ota_core::keys::random_bytes(&mut b).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "fleet-server-test-{name}-{}",
        fleet_server::release::hex(&b)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh database: SQLite in `dir`, or a new PostgreSQL database.
pub async fn database(dir: &std::path::Path) -> Location {
    let Ok(base) = std::env::var("FLEET_TEST_POSTGRES") else {
        return Location::Sqlite(dir.join("fleet.db"));
    };
    let mut b = [0u8; 6];
    ota_core::keys::random_bytes(&mut b).unwrap();
    let name = format!("fleet_t{}", fleet_server::release::hex(&b));
    let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .expect("FLEET_TEST_POSTGRES server reachable");
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    Location::Postgres(format!("{prefix}/{name}"))
}

pub struct Harness {
    pub running: Running,
    pub broker: BrokerAddr,
    pub operator: Api,
    pub reader: Api,
    pub dir: PathBuf,
}

pub async fn start(name: &str, tune: impl FnOnce(&mut Config)) -> Harness {
    let dir = temp_dir(name);
    let mut config = Config::embedded(dir.clone());
    config.database = database(&dir).await;
    config.http = SocketAddr::from(([127, 0, 0, 1], 0));
    let broker = match std::env::var("FLEET_TEST_MQTT") {
        Ok(url) => {
            let addr = fleet_server::mqtt::parse_url(&url).unwrap();
            config.broker = BrokerMode::External(addr.clone());
            addr
        }
        Err(_) => {
            let port = free_port();
            config.broker = BrokerMode::Embedded(SocketAddr::from(([127, 0, 0, 1], port)));
            BrokerAddr {
                host: "127.0.0.1".into(),
                port,
            }
        }
    };
    let mut id = [0u8; 4];
    ota_core::keys::random_bytes(&mut id).unwrap();
    config.client_id = format!("fleet-server-{}", fleet_server::release::hex(&id));
    config.operator_tokens = vec![OPERATOR.into()];
    config.read_tokens = vec![READER.into()];
    config.decide_every = Duration::from_millis(200);
    config.sweep_every = Duration::from_millis(200);
    config.batch.max_wait = Duration::from_millis(5);
    tune(&mut config);
    let running = service::start(config, None).await.unwrap();
    let http = running.http;
    // Let the service's client connect and subscribe.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Harness {
        running,
        broker,
        operator: Api {
            addr: http,
            token: OPERATOR.into(),
        },
        reader: Api {
            addr: http,
            token: READER.into(),
        },
        dir,
    }
}

/// How much longer than on an idle machine a wait may take: CI runs these tests on a loaded
/// 2-core machine, and a wait that holds returns as soon as it holds.
pub const SLACK: u64 = 4;

/// Waits up to `secs` (times [`SLACK`]) for `f` to hold.
pub async fn eventually<F: FnMut() -> bool>(secs: u64, mut f: F) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs * SLACK);
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

/// Waits until every device in `ids` has checked in (see `Api::wait_checked_in`).
pub async fn checked_in(h: &Harness, ids: &[u64]) {
    let within = Duration::from_secs(30 * SLACK);
    if let Err(id) = h.reader.wait_checked_in(ids.iter().copied(), within).await {
        panic!("device {id} never checked in");
    }
}

/// A base for device ids that no concurrent test (sharing an external broker) uses.
pub fn id_base() -> u64 {
    let mut b = [0u8; 4];
    ota_core::keys::random_bytes(&mut b).unwrap();
    (u64::from(u32::from_le_bytes(b)) + 1) * 1_000
}

use std::sync::{Arc, Mutex};

use fleet_server::device::{Device, DeviceConfig, Note};
use fleet_server::wire::WireVersion;

/// What a test device saw.
#[derive(Debug, Default)]
pub struct DeviceLog {
    pub notes: Vec<Note>,
    pub running: Option<WireVersion>,
    pub accepted: u64,
}

/// Runs a device: a heartbeat every `beat_ms`, a hello every `hello_ms`, resends every second.
pub fn spawn_device(
    broker: &BrokerAddr,
    id: u64,
    config: DeviceConfig,
    beat_ms: u64,
    hello_ms: u64,
) -> Arc<Mutex<DeviceLog>> {
    let log = Arc::new(Mutex::new(DeviceLog::default()));
    let (mut dev, mut ev) = Device::connect(broker, id, 1, config);
    let l = log.clone();
    tokio::spawn(async move {
        let mut beat = tokio::time::interval(Duration::from_millis(beat_ms));
        let mut hello = tokio::time::interval(Duration::from_millis(hello_ms));
        let mut resend = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                e = ev.poll() => match e {
                    Ok(e) => {
                        let notes = dev.handle(e).await;
                        let mut g = l.lock().unwrap();
                        g.notes.extend(notes);
                        g.running = Some(dev.running);
                        g.accepted = dev.accepted_sequence;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                },
                _ = beat.tick() => dev.send_heartbeat().await,
                _ = hello.tick() => dev.hello().await,
                _ = resend.tick() => dev.resend(false).await,
            }
        }
    });
    log
}

/// A release signed with the service's key: returns the POST body.
pub fn release_body(
    dir: &std::path::Path,
    version: (u16, u16, u16),
    sequence: u64,
    image: &[u8],
) -> serde_json::Value {
    use base64::Engine as _;
    use ota_core::manifest::{Manifest, ProductId, Version};
    let pem = std::fs::read_to_string(dir.join("signing.pem")).unwrap();
    let key = ota_core::keys::signing_key_from_pem(&pem).unwrap();
    let manifest = Manifest {
        format_version: 1,
        sequence,
        vendor_id: ProductId::from_text("acme"),
        class_id: ProductId::from_text("sensor"),
        version: Version::new(version.0, version.1, version.2),
        security_version: 1,
        image_size: image.len() as u32,
        image_digest: ota_core::digest::ImageDigest::of(image),
        encryption: None,
        expires_at: None,
        min_installed_version: None,
        release_notes: heapless::String::new(),
        delta: None,
    };
    let envelope = ota_core::sign::sign_manifest(&manifest, &[&key]).unwrap();
    let b = base64::engine::general_purpose::STANDARD;
    serde_json::json!({"envelope": b.encode(envelope), "image": b.encode(image), "chunk_size": 1024})
}

/// The service's release key (public half).
pub fn trust(dir: &std::path::Path) -> [u8; 32] {
    let pem = std::fs::read_to_string(dir.join("signing.pem")).unwrap();
    ota_core::keys::signing_key_from_pem(&pem)
        .unwrap()
        .verifying_key()
        .to_bytes()
}

/// Registers `devices` (the `/v1/devices` body's list) as the operator: refused is a failure.
pub async fn register(h: &Harness, devices: &[serde_json::Value]) {
    let r = h
        .operator
        .post("/v1/devices", &serde_json::json!({ "devices": devices }))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Issues a sequence from the allocator and publishes a release of `version` and `image`
/// under it: the release id and its sequence.
pub async fn release(h: &Harness, version: (u16, u16, u16), image: &[u8]) -> (i64, u64) {
    let s = h
        .operator
        .post("/v1/sequences", &serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(s.status, 201, "{}", s.body);
    let seq = s.json()["sequence"].as_u64().unwrap();
    let r = h
        .operator
        .post("/v1/releases", &release_body(&h.dir, version, seq, image))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    (r.json()["id"].as_i64().unwrap(), seq)
}

/// The rollout tests' plan: a stage of 3 devices, then the rest, each soaking 1 s and needing
/// 60 % reported; one enforced failure-ratio gate (pause at 5 %, fail at 10 %); no rate limit.
pub fn two_stage_plan() -> rollout_policy::plan::Plan {
    use rollout_policy::plan::{Gate, GateKind, GateSet, Plan, Stage, StageSize};
    let mut p = Plan::default_stable();
    p.stages.clear();
    for size in [StageSize::Devices(3), StageSize::Percent(10_000)] {
        p.stages
            .push(Stage {
                size,
                soak_secs: 1,
                min_reported_bp: 6_000,
                min_trials: 0,
                manual_approval: false,
                gates: GateSet::ALL,
            })
            .unwrap();
    }
    p.gates.clear();
    p.gates
        .push(Gate::enforce(
            GateKind::FailureRatio { max_bp: 2_000 },
            500,
            1_000,
        ))
        .unwrap();
    p.rate = None;
    p
}
