//! The crash test's driver: runs `fleet-server` as a child process, drives a fleet of devices
//! and a stream of rollouts against it, kills it with SIGKILL at random moments, starts it
//! again, and checks after every restart and at the end what must survive. Run it through
//! `crash-test.sh --kills N`, which ends with
//! `crash: kills=N lost_frames=0 lost_decisions=0 duplicate_sequences=0 resumed=N`.
//!
//! - lost frames: heartbeats a device saw acknowledged that are not in the database;
//! - lost decisions: rollout decisions read from the API before a kill that are missing or
//!   different afterwards, plus any audit log that is not a gap-free chain or opens a stage
//!   twice (a decision applied twice);
//! - duplicate sequences: two different manifests devices were offered under one sequence, or
//!   a sequence stored twice;
//! - resumed: restarts after which every rollout stood where it stood before the kill (same or
//!   later state version, same phase when the version is the same), the devices that went
//!   silent were reported offline at once, and the offline alert still fired.

use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine as _;
use clap::Parser;
use fleet_server::client::Api;
use fleet_server::db::{Db, Location};
use fleet_server::device::{Device, DeviceConfig, Note};
use fleet_server::mqtt::BrokerAddr;
use fleet_server::wire::WireVersion;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng as _, SeedableRng as _};
use rollout_policy::plan::{Gate, GateKind, Plan, Stage, StageSize};

/// SIGKILL the service at random points of a rollout and check nothing was lost.
#[derive(Debug, Parser)]
struct Args {
    /// Kills.
    #[arg(long, default_value_t = 10)]
    kills: u32,
    /// The fleet-server binary.
    #[arg(long, default_value = "target/release/fleet-server")]
    server: PathBuf,
    /// PostgreSQL URL (default: SQLite).
    #[arg(long)]
    database: Option<String>,
    /// External broker (default: the service's embedded one, which dies with it).
    #[arg(long)]
    mqtt: Option<String>,
    /// Devices.
    #[arg(long, default_value_t = 200)]
    devices: u64,
    /// Longest time between two kills, milliseconds (uniform from 200).
    #[arg(long, default_value_t = 2_500)]
    max_gap_ms: u64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seconds between the service's fleet snapshots (short, so that most restarts restore
    /// one and replay only the heartbeats after it).
    #[arg(long, default_value = "0.5")]
    snapshot_every: String,
    /// Keep the data directory (the database, the server's log) even when everything passed.
    #[arg(long)]
    keep: bool,
}

const TOKEN: &str = "crash-test-operator";
const SILENT: u64 = 20;
const PLAYBOOK: &str = r#"{"rules": [{"name": "fleet offline",
  "condition": {"threshold": {"metric": "offline_ratio", "op": "above", "trigger": 0.05, "clear": 0.03}},
  "for_s": 1, "severity": "critical", "action": "page_on_call", "component": "device_connectivity",
  "runbook": "crash test"}]}"#;

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

struct Server {
    args: Vec<String>,
    bin: PathBuf,
    child: Option<Child>,
    log: PathBuf,
}

impl Server {
    fn spawn(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&self.bin)
            .args(&self.args)
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        Ok(())
    }

    fn kill(&mut self) -> Result<(), String> {
        if let Some(mut c) = self.child.take() {
            // SIGKILL: no handler runs, nothing is flushed.
            c.kill().map_err(|e| e.to_string())?;
            c.wait().map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

#[derive(Default)]
struct Seen {
    /// (device, boot, seq) acked.
    acked: BTreeSet<(u64, u32, u32)>,
    /// sequence -> envelope digests offered under it.
    offers: BTreeMap<u64, BTreeSet<u64>>,
}

async fn wait_healthy(api: &Api, secs: u64) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if api.get("/healthz").await.is_ok_and(|r| r.status == 200) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "the service did not answer /healthz within {secs} s"
    ))
}

fn plan() -> Plan {
    let mut p = Plan::default_stable();
    p.stages.clear();
    for size in [
        StageSize::Devices(20),
        StageSize::Percent(5_000),
        StageSize::Percent(10_000),
    ] {
        let _ = p.stages.push(Stage {
            size,
            soak_secs: 2,
            min_reported_bp: 8_000,
            min_trials: 0,
            manual_approval: false,
            gates: rollout_policy::plan::GateSet::ALL,
        });
    }
    p.gates.clear();
    let _ = p.gates.push(Gate::enforce(
        GateKind::FailureRatio { max_bp: 2_000 },
        500,
        1_000,
    ));
    let _ = p
        .gates
        .push(Gate::enforce(GateKind::Tripwire { max: 0 }, 1, 2));
    p.rate = None;
    // Every third release is bad: allow the rollbacks that makes (the default stops at 2 a week).
    p.flap = rollout_policy::rollback::FlapLimit {
        max_rollbacks: u8::MAX,
        window_secs: 1,
    };
    p
}

fn is_bad(v: WireVersion) -> bool {
    v.minor % 3 == 2
}

fn release_body(dir: &Path, minor: u16, sequence: u64) -> Result<serde_json::Value, String> {
    use ota_core::manifest::{Manifest, ProductId, Version};
    let pem = std::fs::read_to_string(dir.join("signing.pem")).map_err(|e| e.to_string())?;
    let key = ota_core::keys::signing_key_from_pem(&pem).map_err(|e| e.to_string())?;
    let image = vec![u8::try_from(minor % 250).unwrap_or(0); 2_500];
    let manifest = Manifest {
        format_version: 1,
        sequence,
        vendor_id: ProductId::from_text("acme"),
        class_id: ProductId::from_text("sensor"),
        version: Version::new(1, minor, 0),
        security_version: 1,
        image_size: image.len() as u32,
        image_digest: ota_core::digest::ImageDigest::of(&image),
        encryption: None,
        expires_at: None,
        min_installed_version: None,
        release_notes: heapless::String::new(),
        delta: None,
    };
    let envelope = ota_core::sign::sign_manifest(&manifest, &[&key]).map_err(|e| e.to_string())?;
    let b = base64::engine::general_purpose::STANDARD;
    Ok(
        serde_json::json!({"envelope": b.encode(envelope), "image": b.encode(&image), "chunk_size": 1024}),
    )
}

/// The operator: keeps one rollout going, resumes pauses, starts the next release when done.
struct Operator {
    api: Api,
    dir: PathBuf,
    factory: Option<i64>,
    next_minor: u16,
    /// A release created whose rollout was not started yet.
    pending: Option<i64>,
}

impl Operator {
    async fn release(&mut self, minor: u16) -> Result<i64, String> {
        let s = self
            .api
            .post("/v1/sequences", &serde_json::json!({}))
            .await?;
        let seq = s.json()["sequence"]
            .as_u64()
            .ok_or(format!("no sequence: {}", s.body))?;
        let r = self
            .api
            .post("/v1/releases", &release_body(&self.dir, minor, seq)?)
            .await?;
        r.json()["id"]
            .as_i64()
            .ok_or(format!("release refused: {} {}", r.status, r.body))
    }

    /// One step; errors while the service is down are expected and retried.
    async fn step(&mut self) -> Result<(), String> {
        let factory = match self.factory {
            Some(f) => f,
            None => {
                let f = self.release(0).await?;
                self.factory = Some(f);
                f
            }
        };
        let r = self.api.get("/v1/rollouts").await?;
        let rollouts = r.json()["rollouts"].as_array().cloned().unwrap_or_default();
        if let Some(active) = rollouts
            .iter()
            .find(|r| matches!(r["phase"].as_str(), Some("pending" | "running" | "paused")))
        {
            if active["phase"] == "paused" {
                let id = active["id"].as_i64().unwrap_or(0);
                self.api
                    .post(&format!("/v1/rollouts/{id}/resume"), &serde_json::json!({}))
                    .await?;
            }
            return Ok(());
        }
        // Newest first: the last completed rollout's release is what the fleet runs.
        let previous = rollouts
            .iter()
            .find(|r| r["phase"] == "completed")
            .and_then(|r| r["release_id"].as_i64())
            .unwrap_or(factory);
        let id = match self.pending {
            Some(id) => id,
            None => {
                let id = self.release(self.next_minor).await?;
                self.next_minor += 1;
                self.pending = Some(id);
                id
            }
        };
        let body =
            serde_json::json!({"release_id": id, "previous_release_id": previous, "plan": plan()});
        let r = self.api.post("/v1/rollouts", &body).await?;
        if r.status != 201 {
            return Err(format!("rollout refused: {} {}", r.status, r.body));
        }
        self.pending = None;
        Ok(())
    }
}

/// What the API said about rollouts before a kill.
#[derive(Debug, Default, Clone)]
struct Snapshot {
    /// rollout -> (version, phase)
    rollouts: BTreeMap<i64, (i64, String)>,
    /// (rollout, version) -> action
    decisions: BTreeMap<(i64, i64), String>,
}

async fn snapshot(api: &Api) -> Result<Snapshot, String> {
    let mut s = Snapshot::default();
    let r = api.get("/v1/rollouts").await?;
    if r.status != 200 {
        return Err(format!("rollouts: {}", r.status));
    }
    for ro in r.json()["rollouts"].as_array().cloned().unwrap_or_default() {
        let id = ro["id"].as_i64().unwrap_or(0);
        s.rollouts.insert(
            id,
            (
                ro["version"].as_i64().unwrap_or(0),
                ro["phase"].as_str().unwrap_or("").to_string(),
            ),
        );
        let d = api.get(&format!("/v1/rollouts/{id}/decisions")).await?;
        for dec in d.json()["decisions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            s.decisions.insert(
                (id, dec["state_version"].as_i64().unwrap_or(0)),
                dec["action"].as_str().unwrap_or("").to_string(),
            );
        }
    }
    Ok(s)
}

fn digest64(bytes: &[u8]) -> u64 {
    let d = ota_core::digest::ImageDigest::of(bytes);
    u64::from_le_bytes(d[..8].try_into().unwrap_or([0; 8]))
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        return std::process::ExitCode::FAILURE;
    };
    match runtime.block_on(run(args)) {
        Ok((line, ok)) => {
            println!("{line}");
            if ok {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("crash: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[allow(clippy::too_many_lines)]
async fn run(args: Args) -> Result<(String, bool), String> {
    let dir = std::env::temp_dir().join(format!("fleet-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("playbook.json"), PLAYBOOK).map_err(|e| e.to_string())?;
    let http: SocketAddr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let mut sargs = vec![
        "--http".to_string(),
        http.to_string(),
        "--data-dir".into(),
        dir.display().to_string(),
        "--decide-every".into(),
        "0.5".into(),
        "--sweep-every".into(),
        "0.5".into(),
        "--offline-floor".into(),
        "3".into(),
        "--operator-token".into(),
        TOKEN.into(),
        "--playbook".into(),
        dir.join("playbook.json").display().to_string(),
        "--snapshot-every".into(),
        args.snapshot_every.clone(),
    ];
    let broker = match &args.mqtt {
        Some(url) => {
            sargs.extend(["--mqtt".into(), url.clone()]);
            fleet_server::mqtt::parse_url(url)?
        }
        None => {
            let port = free_port()?;
            sargs.extend(["--mqtt-listen".into(), format!("127.0.0.1:{port}")]);
            BrokerAddr {
                host: "127.0.0.1".into(),
                port,
            }
        }
    };
    let location = match &args.database {
        Some(url) => {
            // A fresh database per run.
            let name = format!("fleet_crash_{}", std::process::id());
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            // Two statements: CREATE DATABASE cannot run inside the implicit transaction of a batch.
            for sql in [
                format!("DROP DATABASE IF EXISTS {name}"),
                format!("CREATE DATABASE {name}"),
            ] {
                client
                    .batch_execute(&sql)
                    .await
                    .map_err(|e| format!("{sql}: {e:?}"))?;
            }
            let (prefix, _) = url.rsplit_once('/').ok_or("database url has no /name")?;
            let u = format!("{prefix}/{name}");
            sargs.extend(["--database".into(), u.clone()]);
            Location::Postgres(u)
        }
        None => Location::Sqlite(dir.join("fleet.db")),
    };
    let mut server = Server {
        args: sargs,
        bin: args.server.clone(),
        child: None,
        log: dir.join("server.log"),
    };
    let api = Api {
        addr: http,
        token: TOKEN.into(),
    };
    server.spawn()?;
    wait_healthy(&api, 30).await?;

    let ids: Vec<u64> = (1..=args.devices).collect();
    let list: Vec<serde_json::Value> = ids
        .iter()
        .map(|i| serde_json::json!({"id": i, "hardware": if i % 2 == 0 { "A" } else { "B" }}))
        .collect();
    let r = api
        .post("/v1/devices", &serde_json::json!({"devices": list}))
        .await?;
    if r.status != 200 {
        return Err(format!("provisioning: {} {}", r.status, r.body));
    }
    let trust = {
        let pem = std::fs::read_to_string(dir.join("signing.pem")).map_err(|e| e.to_string())?;
        ota_core::keys::signing_key_from_pem(&pem)
            .map_err(|e| e.to_string())?
            .verifying_key()
            .to_bytes()
    };
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sending = Arc::new(AtomicBool::new(true));
    let pending: Arc<Mutex<HashMap<u64, usize>>> = Arc::new(Mutex::new(HashMap::new()));
    for &id in &ids {
        let silent = id <= SILENT;
        let config = DeviceConfig {
            trust: Some(trust),
            resend_after: Duration::from_secs(2),
            fails: |id, v| is_bad(v) && id % 2 == 1,
            ..DeviceConfig::default()
        };
        let (mut dev, mut ev) = Device::connect(&broker, id, 1, config);
        let (seen, sending, pending) = (seen.clone(), sending.clone(), pending.clone());
        tokio::spawn(async move {
            let mut beat = tokio::time::interval(Duration::from_millis(500));
            let mut hello = tokio::time::interval(Duration::from_millis(1_000));
            let mut beats = 0u32;
            loop {
                tokio::select! {
                    e = ev.poll() => match e {
                        Ok(e) => {
                            for n in dev.handle(e).await {
                                let mut s = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                                match n {
                                    Note::Committed(b, q, _) => { s.acked.insert((id, b, q)); }
                                    Note::Offered(seq) => { s.offers.entry(seq).or_default(); }
                                    _ => {}
                                }
                            }
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                    },
                    _ = beat.tick() => {
                        if sending.load(Relaxed) && (!silent || beats < 4) {
                            dev.send_heartbeat().await;
                            beats += 1;
                        }
                        dev.resend(false).await;
                        pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, dev.unacked() + dev.unacked_reports());
                    }
                    _ = hello.tick(), if !silent => dev.hello().await,
                }
            }
        });
    }
    let mut operator = Operator {
        api: api.clone(),
        dir: dir.clone(),
        factory: None,
        next_minor: 1,
        pending: None,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let mut resumed = 0u32;
    let (mut from_snapshot, mut replayed) = (0u32, 0u64);
    let mut problems: Vec<String> = Vec::new();
    let mut seen_decisions: BTreeMap<(i64, i64), String> = BTreeMap::new();
    // Let every reporting device check in and the silent ones fall silent, then start.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(6) {
        if warm.elapsed() > Duration::from_secs(3) {
            let _ = operator.step().await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for kill in 1..=args.kills {
        let gap = Duration::from_millis(
            200 + rng.next_u64() % args.max_gap_ms.saturating_sub(200).max(1),
        );
        let until = Instant::now() + gap;
        let mut before = Snapshot::default();
        while Instant::now() < until {
            let _ = operator.step().await;
            if let Ok(s) = snapshot(&api).await {
                before = s;
            }
            tokio::time::sleep(
                Duration::from_millis(100).min(until.saturating_duration_since(Instant::now())),
            )
            .await;
        }
        seen_decisions.extend(before.decisions.clone());
        server.kill()?;
        server.spawn()?;
        wait_healthy(&api, 60).await?;
        let after = snapshot(&api).await?;
        let status = api.get("/v1/status").await?.json();
        if !status["service"]["restored"]["snapshot_watermark"].is_null() {
            from_snapshot += 1;
        }
        replayed += status["service"]["restored"]["heartbeats"]
            .as_u64()
            .unwrap_or(0);
        let mut ok = true;
        for (id, (version, phase)) in &before.rollouts {
            match after.rollouts.get(id) {
                Some((v, p)) if v > version || (v == version && p == phase) => {}
                other => {
                    ok = false;
                    problems.push(format!("kill {kill}: rollout {id} was at version {version} ({phase}), after restart {other:?}"));
                }
            }
        }
        let offline = api.get("/v1/devices?link=offline&limit=1000").await?.json();
        let offline: BTreeSet<u64> = offline["devices"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|d| d["id"].as_u64())
            .collect();
        let missing: Vec<u64> = (1..=SILENT).filter(|d| !offline.contains(d)).collect();
        if !missing.is_empty() {
            ok = false;
            problems.push(format!(
                "kill {kill}: silent devices not offline after restart: {missing:?}"
            ));
        }
        let alerts = api.get("/v1/alerts").await?.json();
        let firing = alerts["rules"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .any(|r| r["name"] == "fleet offline" && r["state"] == "firing");
        if !firing && kill > 1 {
            ok = false;
            problems.push(format!(
                "kill {kill}: the offline alert is not firing after restart"
            ));
        }
        if ok {
            resumed += 1;
        }
        eprintln!(
            "crash: kill {kill}/{} after {} ms: {} rollouts, {} decisions seen, {} frames acked",
            args.kills,
            gap.as_millis(),
            after.rollouts.len(),
            seen_decisions.len(),
            seen.lock().map(|s| s.acked.len()).unwrap_or(0)
        );
    }
    // Drain: stop new heartbeats, wait until every device's frames and reports are acked.
    sending.store(false, Relaxed);
    let drain = Instant::now();
    while drain.elapsed() < Duration::from_secs(60) {
        let left: usize = pending.lock().map(|p| p.values().sum()).unwrap_or(0);
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let left: usize = pending.lock().map(|p| p.values().sum()).unwrap_or(0);
    if left > 0 {
        problems.push(format!("{left} frames or reports still unacked after 60 s"));
    }
    if let Ok(s) = snapshot(&api).await {
        seen_decisions.extend(s.decisions);
    }
    let db = Db::open(&location, 1).await.map_err(|e| e.to_string())?;
    let acked: Vec<(u64, u32, u32)> = seen
        .lock()
        .map(|s| s.acked.iter().copied().collect())
        .unwrap_or_default();
    let stored: BTreeSet<(u64, u32, u32)> = db
        .read(|c| c.query("SELECT device_id, boot_id, seq FROM heartbeats", &[]))
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .filter_map(|r| {
            Some((
                r.u64(0).ok()?,
                u32::try_from(r.int(1).ok()?).ok()?,
                u32::try_from(r.int(2).ok()?).ok()?,
            ))
        })
        .collect();
    let lost_frames = acked.iter().filter(|k| !stored.contains(k)).count();
    let decisions = db
        .read(|c| c.query("SELECT rollout_id, state_version, based_on, action, decision FROM decisions ORDER BY rollout_id, state_version", &[]))
        .await
        .map_err(|e| e.to_string())?;
    let mut stored_decisions: BTreeMap<(i64, i64), String> = BTreeMap::new();
    let mut chains: BTreeMap<i64, Vec<(i64, i64, Option<String>)>> = BTreeMap::new();
    for r in &decisions {
        let (ro, v, b) = (
            r.int(0).unwrap_or(0),
            r.int(1).unwrap_or(0),
            r.int(2).unwrap_or(0),
        );
        stored_decisions.insert((ro, v), r.text(3).unwrap_or_default());
        chains
            .entry(ro)
            .or_default()
            .push((v, b, r.opt_text(4).ok().flatten()));
    }
    let mut lost_decisions = seen_decisions
        .iter()
        .filter(|(k, a)| stored_decisions.get(k) != Some(a))
        .count();
    for (ro, chain) in &chains {
        let mut stages = BTreeSet::new();
        for (i, (v, b, decision)) in chain.iter().enumerate() {
            if *v != i as i64 + 1 || *b != *v - 1 {
                lost_decisions += 1;
                problems.push(format!(
                    "rollout {ro}: decision chain broken at version {v} (based on {b})"
                ));
            }
            let stage = decision
                .as_deref()
                .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                .and_then(|d| d["action"]["Advance"]["stage"].as_u64());
            if let Some(s) = stage
                && !stages.insert(s)
            {
                lost_decisions += 1;
                problems.push(format!("rollout {ro}: stage {s} opened twice"));
            }
        }
    }
    let rows = db
        .read(|c| {
            let releases = c.query("SELECT sequence, envelope FROM releases", &[])?;
            let issued = c.query("SELECT sequence FROM issued_sequences", &[])?;
            let directives = c.query(
                "SELECT sequence FROM directives WHERE sequence IS NOT NULL",
                &[],
            )?;
            Ok::<_, fleet_server::db::DbError>((releases, issued, directives))
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut by_seq: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for r in &rows.0 {
        if let (Ok(s), Ok(e)) = (r.u64(0), r.blob(1)) {
            by_seq.entry(s).or_default().insert(digest64(&e));
        }
    }
    let mut duplicate_sequences = by_seq.values().filter(|d| d.len() > 1).count();
    duplicate_sequences += rows.0.len() - by_seq.len();
    let issued: Vec<u64> = rows.1.iter().filter_map(|r| r.u64(0).ok()).collect();
    duplicate_sequences += issued.len() - issued.iter().collect::<BTreeSet<_>>().len();
    // Every sequence a device was offered belongs to exactly one stored manifest.
    for seq in seen
        .lock()
        .map(|s| s.offers.keys().copied().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if by_seq.get(&seq).is_none_or(|d| d.len() != 1) {
            duplicate_sequences += 1;
            problems.push(format!(
                "devices were offered sequence {seq}, which is not one stored manifest"
            ));
        }
    }
    for r in &rows.2 {
        if let Ok(s) = r.u64(0)
            && !issued.contains(&s)
        {
            duplicate_sequences += 1;
            problems.push(format!(
                "directive sequence {s} did not come from the allocator"
            ));
        }
    }
    let rollouts_done = stored_decisions.len();
    for p in &problems {
        eprintln!("crash: {p}");
    }
    eprintln!(
        "crash: {} frames acked, {} stored; {} decisions recorded over {} rollouts; {} sequences issued; data in {}",
        acked.len(),
        stored.len(),
        rollouts_done,
        chains.len(),
        issued.len(),
        dir.display()
    );
    eprintln!(
        "crash: {from_snapshot} of {} restarts restored a fleet snapshot; {replayed} heartbeats replayed in all",
        args.kills
    );
    server.kill()?;
    let ok = lost_frames == 0
        && lost_decisions == 0
        && duplicate_sequences == 0
        && resumed == args.kills
        && problems.is_empty();
    if ok && !args.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok((
        format!(
            "crash: kills={} lost_frames={lost_frames} lost_decisions={lost_decisions} duplicate_sequences={duplicate_sequences} resumed={resumed}",
            args.kills
        ),
        ok,
    ))
}
