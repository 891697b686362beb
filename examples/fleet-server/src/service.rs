//! Starting the service: database, keys, tokens, restore, broker, MQTT, pipeline, scheduler,
//! sweeper, HTTP; and the state every part shares.

use core::net::SocketAddr;
use core::sync::atomic::Ordering::Relaxed;
use core::time::Duration;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use telemetry_core::fleet::aggregate::FleetAggregate;
use telemetry_core::fleet::alert::Playbook;
use tokio::sync::{Semaphore, mpsc};

use crate::alerts::{self, AlertBook};
use crate::auth::{self, Role, Tokens};
use crate::db::{Db, DbError, Location, Val};
use crate::fleet::{Fleet, FleetConfig};
use crate::ingest::{self, BatchConfig};
use crate::metrics::{Gauges, Metrics};
use crate::mqtt::{self, BrokerAddr, Publisher, Uplink};
use crate::offers::{self, Cache};
use crate::release::Keys;
use crate::rollout::{self, Applied, RolloutError};
use crate::topic::{self, Down, Up};
use crate::wire::{self, Chunk, ChunkRequest};

/// Which broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerMode {
    /// Start the embedded broker on this address.
    Embedded(SocketAddr),
    /// Use an external broker.
    External(BrokerAddr),
}

/// Everything the service is started with.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP listen address.
    pub http: SocketAddr,
    /// Broker.
    pub broker: BrokerMode,
    /// What the embedded broker allows each client.
    pub broker_limits: crate::broker::Limits,
    /// Database.
    pub database: Location,
    /// Keys and generated tokens live here.
    pub data_dir: PathBuf,
    /// Rollout decisions every this often.
    pub decide_every: Duration,
    /// Offline sweep and alert evaluation every this often.
    pub sweep_every: Duration,
    /// In-memory fleet options.
    pub fleet: FleetConfig,
    /// Ingest batching.
    pub batch: BatchConfig,
    /// A fleet snapshot is written with the first ingest commit after this much time
    /// (restart cost: restore it and replay what came after; see [`crate::persist`]).
    pub snapshot_every: Duration,
    /// Alert rules.
    pub playbook: Playbook,
    /// Operator tokens to add.
    pub operator_tokens: Vec<String>,
    /// Read-only tokens to add.
    pub read_tokens: Vec<String>,
    /// The signing key (PKCS#8 PEM); default `<data-dir>/signing.pem`, generated when missing.
    pub signing_key: Option<PathBuf>,
    /// Release root keys (SPKI PEM); default: the signing key's public half.
    pub trust_keys: Vec<PathBuf>,
    /// Signatures a release needs.
    pub trust_threshold: u8,
    /// MQTT client id of the service.
    pub client_id: String,
}

impl Config {
    /// Defaults: everything embedded under `data_dir`.
    #[must_use]
    pub fn embedded(data_dir: PathBuf) -> Self {
        Self {
            http: SocketAddr::from(([127, 0, 0, 1], 8080)),
            broker: BrokerMode::Embedded(SocketAddr::from(([127, 0, 0, 1], 1883))),
            broker_limits: crate::broker::Limits::default(),
            database: Location::Sqlite(data_dir.join("fleet.db")),
            data_dir,
            decide_every: Duration::from_secs(10),
            sweep_every: Duration::from_secs(5),
            fleet: FleetConfig::default(),
            batch: BatchConfig::default(),
            snapshot_every: Duration::from_secs(60),
            playbook: Playbook::from_json(alerts::DEFAULT_PLAYBOOK)
                .unwrap_or(Playbook { rules: Vec::new() }),
            operator_tokens: Vec::new(),
            read_tokens: Vec::new(),
            signing_key: None,
            trust_keys: Vec::new(),
            trust_threshold: 1,
            client_id: "fleet-server".into(),
        }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The database.
    #[error("database: {0}")]
    Db(#[from] DbError),
    /// Keys or tokens.
    #[error("{0}")]
    Setup(String),
    /// The broker.
    #[error("broker: {0}")]
    Broker(String),
    /// The HTTP listener.
    #[error("cannot listen for HTTP on {addr}: {why}")]
    Http {
        /// The address.
        addr: SocketAddr,
        /// Why.
        why: String,
    },
}

/// State shared by every task.
#[derive(Debug)]
pub struct Shared {
    /// The database.
    pub db: Db,
    /// The in-memory fleet.
    pub fleet: Mutex<Fleet>,
    /// Alerts.
    pub alerts: Mutex<AlertBook>,
    cache: RwLock<Arc<Cache>>,
    /// Release keys.
    pub keys: Arc<Keys>,
    /// Downlink.
    pub publisher: Publisher,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// API tokens.
    pub tokens: RwLock<Tokens>,
    /// What the restore did.
    pub restored: crate::persist::Restored,
    /// Unix seconds of the start.
    pub started_at: u64,
    /// Where the broker is.
    pub broker: String,
}

impl Shared {
    /// The current rollout cache.
    #[must_use]
    pub fn cache(&self) -> Arc<Cache> {
        self.cache
            .read()
            .map_or_else(|_| Arc::new(Cache::default()), |c| c.clone())
    }

    /// Reloads the rollout cache from the database (after any rollout, release or notice change).
    pub async fn refresh_cache(&self) {
        if let Ok(c) = self.db.read(offers::load).await
            && let Ok(mut slot) = self.cache.write()
        {
            *slot = Arc::new(c);
        }
    }

    /// The role of a bearer token.
    #[must_use]
    pub fn role(&self, token: &str) -> Option<Role> {
        self.tokens.read().ok().and_then(|t| t.role(token))
    }

    /// The gauges of `/metrics`.
    #[must_use]
    pub fn gauges(&self) -> Gauges {
        let mut g = Gauges {
            started_at: self.started_at,
            ..Gauges::default()
        };
        if let Ok(f) = self.fleet.lock() {
            let s = f.stats();
            g.devices = f.registry().len() as u64;
            for r in f.registry().iter() {
                match r.link() {
                    telemetry_core::fleet::offline::LinkState::Online => g.online += 1,
                    telemetry_core::fleet::offline::LinkState::Offline => g.offline += 1,
                    _ => {}
                }
            }
            g.references = f.references() as u64;
            g.fleet_bytes = f.memory_bytes() as u64;
            g.undecodable = s.undecodable;
            g.missing_reference = s.missing_reference;
            g.too_large = s.too_large;
            g.unknown_sender_messages = s.unknown_sender_messages;
        }
        if let Ok(a) = self.alerts.lock() {
            g.alerts_firing = a.view().iter().filter(|v| v.state == "firing").count() as u64;
        }
        g
    }
}

/// A running service.
#[derive(Debug)]
pub struct Running {
    /// Shared state (for extra routes and tests).
    pub shared: Arc<Shared>,
    /// The HTTP address bound.
    pub http: SocketAddr,
    /// The HTTP server task.
    pub server: tokio::task::JoinHandle<()>,
    /// The embedded broker, when it runs.
    pub embedded_broker: Option<crate::broker::Started>,
}

fn read_file(path: &Path) -> Result<String, StartError> {
    std::fs::read_to_string(path)
        .map_err(|e| StartError::Setup(format!("cannot read {}: {e}", path.display())))
}

fn write_private(path: &Path, text: &str) -> Result<(), StartError> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    o.mode(0o600);
    o.open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
        .map_err(|e| StartError::Setup(format!("cannot write {}: {e}", path.display())))
}

fn load_keys(config: &Config) -> Result<Keys, StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        StartError::Setup(format!("cannot create {}: {e}", config.data_dir.display()))
    })?;
    let path = config
        .signing_key
        .clone()
        .unwrap_or_else(|| config.data_dir.join("signing.pem"));
    let signing = if path.exists() || config.signing_key.is_some() {
        ota_core::keys::signing_key_from_pem(&read_file(&path)?)
            .map_err(|e| StartError::Setup(format!("{}: {e}", path.display())))?
    } else {
        let key =
            ota_core::keys::generate_signing_key().map_err(|e| StartError::Setup(e.to_string()))?;
        let pem = ota_core::keys::signing_key_to_pem(&key)
            .map_err(|e| StartError::Setup(e.to_string()))?;
        write_private(&path, &pem)?;
        let public = ota_core::keys::verifying_key_to_pem(&key.verifying_key())
            .map_err(|e| StartError::Setup(e.to_string()))?;
        let _ = std::fs::write(config.data_dir.join("signing.pub.pem"), public);
        key
    };
    let mut roots = Vec::new();
    for p in &config.trust_keys {
        let key = ota_core::keys::verifying_key_from_pem(&read_file(p)?)
            .map_err(|e| StartError::Setup(format!("{}: {e}", p.display())))?;
        roots.push(key.to_bytes());
    }
    if roots.is_empty() {
        roots.push(signing.verifying_key().to_bytes());
    }
    Keys::new(&roots, config.trust_threshold, signing).map_err(StartError::Setup)
}

async fn setup_tokens(db: &Db, config: &Config) -> Result<Tokens, StartError> {
    let now = crate::clock::now_unix();
    let mut given: Vec<(String, Role)> = config
        .operator_tokens
        .iter()
        .map(|t| (t.clone(), Role::Operator))
        .chain(config.read_tokens.iter().map(|t| (t.clone(), Role::Read)))
        .collect();
    let existing = db.read(auth::load).await?;
    if given.is_empty() && existing.is_empty() {
        let op = auth::generate().map_err(StartError::Setup)?;
        let rd = auth::generate().map_err(StartError::Setup)?;
        let path = config.data_dir.join("tokens.txt");
        write_private(&path, &format!("operator {op}\nread {rd}\n"))?;
        eprintln!("fleet-server: generated API tokens, see {}", path.display());
        given = vec![(op, Role::Operator), (rd, Role::Read)];
    }
    db.write(move |c| {
        for (t, role) in &given {
            auth::add(c, t, *role, "start-up", now)?;
        }
        auth::load(c)
    })
    .await
    .map_err(StartError::Db)
}

/// A random 64-bit value.
fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = ota_core::keys::random_bytes(&mut b);
    u64::from_le_bytes(b)
}

/// Starts everything; returns once the HTTP listener is bound and the broker is connected to.
///
/// # Errors
/// [`StartError`].
pub async fn start(
    config: Config,
    extra: Option<axum::Router<Arc<Shared>>>,
) -> Result<Running, StartError> {
    let db = Db::open(&config.database, 3).await?;
    let keys = Arc::new(load_keys(&config)?);
    let tokens = setup_tokens(&db, &config).await?;
    let now = crate::clock::now_unix();
    let fleet_config = config.fleet;
    let seed = random_u64();
    let (fleet, offline, restored) = db
        .read(move |c| {
            crate::persist::restore(c, fleet_config, seed, now, crate::persist::Source::Snapshot)
        })
        .await?;
    let mut fleet = fleet;
    fleet.reset_stats();
    let playbook = config.playbook.clone();
    let book = db.read(move |c| alerts::restore(c, playbook)).await?;
    if !offline.is_empty() {
        db.write(move |c| {
            for (device, silent) in &offline {
                offline_event(c, *device, now, *silent)?;
            }
            Ok::<(), DbError>(())
        })
        .await?;
    }
    let (broker, embedded) = match &config.broker {
        BrokerMode::Embedded(listen) => {
            let (listen, limits) = (*listen, config.broker_limits);
            let started = tokio::task::spawn_blocking(move || crate::broker::start(listen, limits))
                .await
                .map_err(|e| StartError::Broker(e.to_string()))?
                .map_err(StartError::Broker)?;
            let addr = BrokerAddr {
                host: started.addr.ip().to_string(),
                port: started.addr.port(),
            };
            (addr, Some(started))
        }
        BrokerMode::External(addr) => (addr.clone(), None),
    };
    let metrics = Arc::new(Metrics::default());
    let (publisher, client, eventloop) = mqtt::connect(
        &broker,
        &config.client_id,
        embedded.as_ref().map(|s| &s.login),
        metrics.clone(),
    );
    let shared = Arc::new(Shared {
        db,
        fleet: Mutex::new(fleet),
        alerts: Mutex::new(book),
        cache: RwLock::new(Arc::new(Cache::default())),
        keys,
        publisher,
        metrics: metrics.clone(),
        tokens: RwLock::new(tokens),
        restored,
        started_at: now,
        broker: broker.to_string(),
    });
    shared.refresh_cache().await;
    let listener = tokio::net::TcpListener::bind(config.http)
        .await
        .map_err(|e| StartError::Http {
            addr: config.http,
            why: e.to_string(),
        })?;
    let http = listener.local_addr().map_err(|e| StartError::Http {
        addr: config.http,
        why: e.to_string(),
    })?;
    let (up_tx, up_rx) = mpsc::channel::<Uplink>(50_000);
    let (chunk_tx, chunk_rx) = mpsc::channel::<Uplink>(1_024);
    let (all_tx, mut all_rx) = mpsc::channel::<Uplink>(50_000);
    tokio::spawn(mqtt::run(eventloop, client, all_tx, metrics.clone()));
    // Chunk requests bypass the pipeline (reads only, dropped when too many are waiting).
    tokio::spawn(async move {
        while let Some(u) = all_rx.recv().await {
            if u.kind == Up::Chunk {
                let _ = chunk_tx.try_send(u);
            } else if up_tx.send(u).await.is_err() {
                return;
            }
        }
    });
    tokio::spawn(ingest::run(
        shared.clone(),
        up_rx,
        config.batch,
        config.snapshot_every,
    ));
    tokio::spawn(serve_chunks(shared.clone(), chunk_rx));
    tokio::spawn(scheduler(shared.clone(), config.decide_every));
    tokio::spawn(sweeper(shared.clone(), config.sweep_every));
    let mut app = crate::api::router();
    if let Some(extra) = extra {
        app = app.merge(extra);
    }
    let app = crate::api::finish(app, shared.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Running {
        shared,
        http,
        server,
        embedded_broker: embedded,
    })
}

fn offline_event(
    c: &mut dyn crate::db::Conn,
    device: u64,
    now: u64,
    silent: u64,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO device_events (device_id, at, kind, detail) VALUES ($1, $2, 'offline', $3)",
        &[
            Val::from(device),
            Val::from(now),
            Val::from(format!("silent for {silent} s")),
        ],
    )?;
    Ok(())
}

async fn serve_chunks(shared: Arc<Shared>, mut rx: mpsc::Receiver<Uplink>) {
    let permits = Arc::new(Semaphore::new(32));
    while let Some(u) = rx.recv().await {
        let admitted = shared.fleet.lock().is_ok_and(|f| f.admitted(u.device));
        let Ok(req) = wire::decode::<ChunkRequest>(&u.payload, "chunk request") else {
            shared.metrics.malformed_messages.fetch_add(1, Relaxed);
            continue;
        };
        if !admitted {
            continue;
        }
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let id = i64::from(req.release);
            let bytes = shared
                .db
                .read(move |c| crate::release::chunk(c, id, req.kind, req.index))
                .await;
            if let Ok(Some(bytes)) = bytes {
                let msg = wire::encode(&Chunk {
                    release: req.release,
                    kind: req.kind,
                    index: req.index,
                    bytes: &bytes,
                });
                shared
                    .publisher
                    .send(topic::down(u.device, Down::Chunk), msg);
            }
        });
    }
}

/// Decides every live rollout once: proposals computed from a read, applied in a write that
/// refuses them if the state moved on in between.
pub async fn decide_once(shared: &Arc<Shared>) {
    let now = crate::clock::now_unix();
    let ids: Vec<i64> = shared
        .cache()
        .rollouts
        .iter()
        .filter(|r| r.row.active())
        .map(|r| r.row.id)
        .collect();
    let mut changed = false;
    for id in ids {
        let Ok(Some(proposal)) = shared.db.read(move |c| rollout::propose(c, id, now)).await else {
            continue;
        };
        let keys = shared.keys.clone();
        match shared
            .db
            .write(move |c| rollout::apply(c, &keys, &proposal))
            .await
        {
            Ok(Applied::Changed { .. }) => {
                shared.metrics.decisions_applied.fetch_add(1, Relaxed);
                changed = true;
            }
            Ok(Applied::Unchanged) => {}
            Err(RolloutError::Stale { .. }) => {
                shared.metrics.decisions_stale.fetch_add(1, Relaxed);
            }
            Err(e) => eprintln!("fleet-server: rollout {id}: {e}"),
        }
    }
    if changed {
        shared.refresh_cache().await;
    }
}

async fn scheduler(shared: Arc<Shared>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        decide_once(&shared).await;
    }
}

/// One offline sweep and alert evaluation.
pub async fn sweep_once(shared: &Arc<Shared>) {
    let now = crate::clock::now_unix();
    let Some((offline, aggregate)) = shared.fleet.lock().ok().map(|mut f| {
        let events = f.registry_mut().sweep(now);
        (events, FleetAggregate::from_registry(f.registry()))
    }) else {
        return;
    };
    let Some((events, states, engine)) = shared.alerts.lock().ok().map(|mut a| {
        let (events, states) = a.evaluate(now, &aggregate);
        (events, states, a.snapshot())
    }) else {
        return;
    };
    let offline: Vec<(u64, u64)> = offline
        .iter()
        .map(|e| (e.device(), e.silent_for_s()))
        .collect();
    let result = shared
        .db
        .write(move |c| {
            for (device, silent) in &offline {
                offline_event(c, *device, now, *silent)?;
            }
            alerts::store(c, &events, &states, &engine, now)
        })
        .await;
    if let Err(e) = result {
        eprintln!("fleet-server: storing offline and alert events failed: {e}");
    }
}

async fn sweeper(shared: Arc<Shared>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        sweep_once(&shared).await;
    }
}
