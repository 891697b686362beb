//! The embedded MQTT broker: MQTT 3.1.1 (and 3.1) on one TCP listener, written for this
//! service, for running with no setup.
//!
//! What it does: QoS 0 and 1 publishes, subscriptions with `+` and `#` wildcards, keep-alive,
//! client-id takeover. What it does not: retained messages, wills, persistent sessions (every
//! session is clean; a QoS 1 delivery in flight when a connection ends is not re-sent), QoS 2
//! (granted as QoS 1), TLS and authentication. The device protocol needs none of those: frames
//! stay on the device until the service's application-level ack, and a lost downlink is asked
//! for again. Bind it to loopback (the default) or a private network, or use an external
//! broker (`--mqtt`, e.g. mosquitto) with per-device credentials and ACLs for anything else.
//!
//! # Why not `rumqttd`
//! Until December 2026 this module wrapped `rumqttd` 0.20. At 10,000 clients it failed three
//! ways (BENCHMARKS.md, "fleet-server"): its router, one thread, matches every new subscription
//! against every topic seen and every new topic against every subscription, so connecting
//! 10,000 devices stalled past about 3,000; it has no per-client limits, so the guard in front
//! of it (a proxy with a byte budget per client) cost three descriptors per client and also
//! throttled the service's own connections; and a client that gave up before its CONNACK could
//! poison a lock in its listener so that it accepted nobody.
//!
//! # Design
//! - One task per connection reads, decodes ([`packet`]) and routes; the same task writes,
//!   batching whatever is queued for the client into one `write`. One descriptor per client.
//!   A client's PUBACK waits up to [`Limits::puback_delay`] for other bytes to that client: a
//!   device's PUBACK then goes out with the service's ack of the same frame, one `write` and
//!   one wake-up of the device per frame instead of two.
//!   All tasks run on one thread (`mqtt-broker`): a delivery wakes the receiving task with no
//!   cross-thread wake-up, which measured 18 instead of 26 µs of CPU per message at 10,000
//!   clients on two worker threads.
//! - Routing ([`router`]) walks a tree of topic levels: its cost is the topic's depth.
//! - Every client has a byte budget for what is queued to it ([`Limits::queue_bytes`]; the
//!   service's connections [`Limits::service_queue_bytes`]). A delivery to an ordinary client
//!   that does not fit is dropped (counted in [`Stats::dropped`]); a QoS 1 delivery to the
//!   service waits for room, which holds the publisher's reader (and so its TCP window): the
//!   service pushes back on the devices instead of losing their uplink.
//! - Every client but the service is read through a token bucket of [`Limits::bytes_per_s`]
//!   with a [`Limits::burst_bytes`] allowance: a client over its budget is simply read no
//!   faster (its TCP window closes), which costs the others nothing.
//! - The service's two connections log in with a random password made at [`start`]
//!   ([`Started::login`]): they get no byte limit, the larger queue, and their client ids
//!   cannot be taken over by another client.
//!
//! # Memory bound
//! Per connection: its read buffer (at most one packet, [`crate::mqtt::MAX_PACKET`]), its
//! queue budget, its subscriptions (at most [`MAX_FILTERS`]) and a task. With the defaults
//! and 10,000 clients that is at most 10,000 x (128 KiB + 256 KiB) plus the service's 2 x 16
//! MiB: a bound, not what is used (measured in BENCHMARKS.md).

pub mod packet;
pub mod router;

use core::net::SocketAddr;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use core::time::Duration;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore, mpsc};

use packet::Packet;
use router::{Key, Router};

/// Subscriptions one connection may hold (a gateway of 1,000 devices needs 1,000).
pub const MAX_FILTERS: usize = 4_096;

/// Connections of the service past [`Limits::max_connections`].
const SERVICE_CONNECTIONS: usize = 2;

/// How long a client has to send its CONNECT.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);

/// The most one `write` of a connection carries.
const WRITE_BATCH: usize = 64 * 1024;

/// What the embedded broker allows each client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Clients connected at once, the service's own connections not counted: sockets past
    /// this (and two for the service) are closed as they are accepted, and a client past it
    /// that is not the service is refused at CONNECT.
    pub max_connections: usize,
    /// Sustained bytes per second one client may send (0: no rate limit).
    pub bytes_per_s: u64,
    /// Bytes a client may send at once above the sustained rate.
    pub burst_bytes: u64,
    /// Bytes queued to one client at most (at least one largest packet).
    pub queue_bytes: usize,
    /// Bytes queued to one of the service's connections at most.
    pub service_queue_bytes: usize,
    /// Longest a client's PUBACK waits for other bytes to that client (zero: sent at
    /// once). A device's PUBACK usually goes out in the same `write` as the service's ack
    /// that follows its publish: one `write` (and one wake-up of the device) per frame
    /// instead of two.
    pub puback_delay: Duration,
}

impl Default for Limits {
    /// 64 KiB/s per client (a gateway of 100 devices at 2 heartbeats a second sends about
    /// 12 KiB/s), a 256 KiB burst, 256 KiB queued per client, 16 MiB per service connection,
    /// 10,000 clients, PUBACKs held up to 100 ms.
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            bytes_per_s: 64 * 1024,
            burst_bytes: 256 * 1024,
            queue_bytes: 256 * 1024,
            service_queue_bytes: 16 * 1024 * 1024,
            puback_delay: Duration::from_millis(100),
        }
    }
}

/// The credentials that make a connection one of the service's.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// User name.
    pub username: String,
    /// Password (random per start).
    pub password: String,
}

impl core::fmt::Debug for Login {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Login({}, <password>)", self.username)
    }
}

/// What the broker counts (all since start).
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections open now.
    pub connections: AtomicU64,
    /// Connections past CONNECT now that are not the service's.
    pub clients: AtomicU64,
    /// Connections closed at accept (over [`Limits::max_connections`]).
    pub refused: AtomicU64,
    /// Connections closed for a protocol error or an idle keep-alive.
    pub protocol_errors: AtomicU64,
    /// PUBLISH packets received.
    pub published: AtomicU64,
    /// Deliveries dropped because the subscriber's queue was full.
    pub dropped: AtomicU64,
    /// Subscriptions held now.
    pub subscriptions: AtomicU64,
}

/// A running broker.
#[derive(Debug, Clone)]
pub struct Started {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The service's credentials.
    pub login: Login,
    /// Its counters.
    pub stats: Arc<Stats>,
}

/// What is queued for a client's writer.
#[derive(Debug)]
enum Out {
    /// A packet as it goes on the wire, and what it holds of the budget.
    Packet(Bytes, u32),
    /// The PUBACK of this packet id: written with whatever goes next, or after
    /// [`Limits::puback_delay`].
    PubAck(u16),
    /// A PUBLISH, given its packet id when written.
    Publish {
        topic: Bytes,
        payload: Bytes,
        qos: u8,
        cost: u32,
    },
}

/// A client's queue, bounded in bytes by a semaphore.
#[derive(Debug, Clone)]
struct Outbox {
    tx: mpsc::UnboundedSender<Out>,
    budget: Arc<Semaphore>,
    cap: u32,
    service: bool,
}

impl Outbox {
    fn cost(&self, bytes: usize) -> u32 {
        u32::try_from(bytes + 8).unwrap_or(u32::MAX).min(self.cap)
    }

    /// Queues `p`, waiting for room.
    async fn send(&self, p: Bytes) -> bool {
        let cost = self.cost(p.len());
        match self.budget.acquire_many(cost).await {
            Ok(permit) => permit.forget(),
            Err(_) => return false,
        }
        self.tx.send(Out::Packet(p, cost)).is_ok()
    }

    /// Queues the PUBACK of `pkid` (it waits for room like any packet).
    async fn puback(&self, pkid: u16) -> bool {
        match self.budget.acquire_many(PUBACK_COST).await {
            Ok(permit) => permit.forget(),
            Err(_) => return false,
        }
        self.tx.send(Out::PubAck(pkid)).is_ok()
    }
}

/// What a queued PUBACK holds of its client's budget.
const PUBACK_COST: u32 = 12;

/// A client's place among [`Limits::max_connections`] (the service's connections take none).
struct ClientSlot<'a>(Option<&'a Broker>);

impl<'a> ClientSlot<'a> {
    fn take(broker: &'a Broker, service: bool) -> Option<Self> {
        if service {
            return Some(Self(None));
        }
        let n = broker.stats.clients.fetch_add(1, Relaxed);
        if n >= broker.limits.max_connections as u64 {
            broker.stats.clients.fetch_sub(1, Relaxed);
            return None;
        }
        Some(Self(Some(broker)))
    }
}

impl Drop for ClientSlot<'_> {
    fn drop(&mut self) {
        if let Some(b) = self.0 {
            b.stats.clients.fetch_sub(1, Relaxed);
        }
    }
}

#[derive(Debug)]
struct Session {
    key: Key,
    service: bool,
    kick: Arc<Notify>,
}

#[derive(Debug, Default)]
struct Table {
    router: Router,
    outboxes: HashMap<Key, Outbox>,
}

#[derive(Debug)]
struct Broker {
    limits: Limits,
    login: Login,
    table: RwLock<Table>,
    ids: Mutex<HashMap<String, Session>>,
    stats: Arc<Stats>,
}

/// The soft limit on open files of this process (Linux `/proc/self/limits`).
fn open_file_limit() -> Option<u64> {
    std::fs::read_to_string("/proc/self/limits")
        .ok()?
        .lines()
        .find(|l| l.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

fn random_password() -> Result<String, String> {
    let mut b = [0u8; 16];
    ota_core::keys::random_bytes(&mut b).map_err(|e| e.to_string())?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Starts the broker on `listen` (port 0: any free port) in its own threads and returns once
/// it accepts connections.
///
/// # Errors
/// The address cannot be bound, or the broker's threads cannot start.
pub fn start(listen: SocketAddr, limits: Limits) -> Result<Started, String> {
    let mut limits = limits;
    if let Some(open_files) = open_file_limit() {
        // One descriptor per client, and room for the database, HTTP and the rest.
        let fit = usize::try_from(open_files.saturating_sub(256)).unwrap_or(usize::MAX);
        if fit < limits.max_connections {
            eprintln!(
                "fleet-server: the embedded broker takes {fit} clients, not {}: this process may open {open_files} files (raise `ulimit -n`)",
                limits.max_connections
            );
            limits.max_connections = fit.max(16);
        }
    }
    let broker = Arc::new(Broker {
        limits,
        login: Login {
            username: "fleet-server".into(),
            password: random_password()?,
        },
        table: RwLock::new(Table::default()),
        ids: Mutex::new(HashMap::new()),
        stats: Arc::new(Stats::default()),
    });
    let (tx, rx) = std::sync::mpsc::channel::<Result<SocketAddr, String>>();
    let b = broker.clone();
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            // One thread: a delivery wakes the receiving connection's task on the same
            // thread, with no cross-thread wake-up.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let runtime = match runtime {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(format!("cannot start the broker's runtime: {e}")));
                    return;
                }
            };
            runtime.block_on(async move {
                let bound = bind(listen);
                let listener = match bound {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let addr = listener.local_addr().map_err(|e| e.to_string());
                let _ = tx.send(addr);
                accept(listener, b).await;
            });
        })
        .map_err(|e| format!("cannot start the broker thread: {e}"))?;
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| "the embedded broker did not start within 30 s".to_string())??;
    Ok(Started {
        addr,
        login: broker.login.clone(),
        stats: broker.stats.clone(),
    })
}

fn bind(listen: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    let in_use = |e: std::io::Error| {
        format!(
            "cannot listen for MQTT on {listen}: {e} (choose another address with --mqtt-listen)"
        )
    };
    let socket = if listen.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(in_use)?;
    socket.set_reuseaddr(true).map_err(in_use)?;
    socket.bind(listen).map_err(in_use)?;
    // Room for thousands of devices connecting at once.
    socket.listen(4_096).map_err(in_use)
}

async fn accept(listener: tokio::net::TcpListener, broker: Arc<Broker>) {
    let slots = Arc::new(Semaphore::new(
        broker.limits.max_connections + SERVICE_CONNECTIONS,
    ));
    let mut key: Key = 0;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors or a reset before accept: let the others go on.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            broker.stats.refused.fetch_add(1, Relaxed);
            drop(stream);
            continue;
        };
        key += 1;
        let broker = broker.clone();
        tokio::spawn(async move {
            broker.stats.connections.fetch_add(1, Relaxed);
            let clean = serve(&broker, stream, key).await;
            if !clean {
                broker.stats.protocol_errors.fetch_add(1, Relaxed);
            }
            broker.stats.connections.fetch_sub(1, Relaxed);
            drop(slot);
        });
    }
}

/// Why a connection ended.
#[derive(Debug)]
enum End {
    /// The client closed it, sent DISCONNECT, or the connection failed.
    Closed,
    /// A protocol error or keep-alive timeout.
    Error,
}

/// Reads the next packet into `buf` from `rd`, waiting at most `idle` (if any) for bytes and
/// taking what it reads from `bucket` (if any), sleeping when that is empty; `before_connect`:
/// the packet must be a CONNECT.
async fn next_packet(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    buf: &mut BytesMut,
    idle: Option<Duration>,
    mut bucket: Option<&mut Bucket>,
    before_connect: bool,
) -> Result<Packet, End> {
    loop {
        if before_connect && buf.first().is_some_and(|b| *b != 0x10) {
            // The first packet must be CONNECT: anything else ends the connection at once.
            return Err(End::Error);
        }
        match packet::decode(buf, crate::mqtt::MAX_PACKET) {
            Ok(Some(p)) => return Ok(p),
            Ok(None) => {}
            Err(_) => return Err(End::Error),
        }
        buf.reserve(4_096);
        let read = rd.read_buf(buf);
        let n = match idle {
            Some(d) => tokio::time::timeout(d, read)
                .await
                .map_err(|_| End::Error)?,
            None => read.await,
        };
        let n = match n {
            Ok(0) | Err(_) => return Err(End::Closed),
            Ok(n) => n,
        };
        if let Some(b) = bucket.as_deref_mut() {
            let wait = b.take(n, Instant::now());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
    }
}

async fn refuse(wr: &mut tokio::net::tcp::OwnedWriteHalf, code: u8) -> bool {
    let _ = wr.write_all(&packet::connack(code)).await;
    false
}

/// Serves one connection; `true` when it ended without a protocol error.
async fn serve(broker: &Broker, stream: TcpStream, key: Key) -> bool {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let mut buf = BytesMut::with_capacity(1_024);
    let Ok(Ok(Packet::Connect(connect))) = tokio::time::timeout(
        CONNECT_WITHIN,
        next_packet(&mut rd, &mut buf, None, None, true),
    )
    .await
    else {
        return false;
    };
    let service = match &connect.username {
        Some(u) if *u == broker.login.username => {
            if connect.password.as_deref() != Some(broker.login.password.as_bytes()) {
                // Bad user name or password.
                return refuse(&mut wr, 4).await;
            }
            true
        }
        _ => false,
    };
    let clients = ClientSlot::take(broker, service);
    if clients.is_none() {
        // Server unavailable: the service's slots are not for devices.
        return refuse(&mut wr, 3).await;
    }
    if connect.client_id.is_empty() && !connect.clean_session {
        // Identifier rejected: an empty id needs a clean session.
        return refuse(&mut wr, 2).await;
    }
    let client_id = if connect.client_id.is_empty() {
        format!("~auto-{key}")
    } else {
        connect.client_id.clone()
    };
    let kick = Arc::new(Notify::new());
    let taken = match broker.ids.lock() {
        Ok(mut ids) => match ids.get(&client_id) {
            // Nobody takes over one of the service's connections.
            Some(old) if old.service && !service => true,
            old => {
                if let Some(old) = old {
                    // Takeover: the older connection with this id ends.
                    old.kick.notify_one();
                }
                ids.insert(
                    client_id.clone(),
                    Session {
                        key,
                        service,
                        kick: kick.clone(),
                    },
                );
                false
            }
        },
        Err(_) => true,
    };
    if taken {
        return refuse(&mut wr, 2).await;
    }
    let l = broker.limits;
    let cap = if service {
        l.service_queue_bytes
    } else {
        l.queue_bytes
    }
    .max(crate::mqtt::MAX_PACKET + 1_024);
    let (tx, rx) = mpsc::unbounded_channel();
    let budget = Arc::new(Semaphore::new(cap));
    let outbox = Outbox {
        tx,
        budget: budget.clone(),
        cap: u32::try_from(cap).unwrap_or(u32::MAX),
        service,
    };
    if let Ok(mut t) = broker.table.write() {
        t.outboxes.insert(key, outbox.clone());
    }
    let mut filters: Vec<String> = Vec::new();
    let end = if outbox.send(packet::connack(0)).await {
        let idle = (connect.keep_alive > 0)
            .then(|| Duration::from_millis(u64::from(connect.keep_alive) * 1_500));
        tokio::select! {
            e = read_loop(broker, &mut rd, buf, idle, &outbox, key, &mut filters) => e,
            () = write_loop(rx, &mut wr, budget, if service { Duration::ZERO } else { l.puback_delay }) => End::Closed,
            () = kick.notified() => End::Closed,
        }
    } else {
        End::Closed
    };
    if let Ok(mut t) = broker.table.write() {
        for f in &filters {
            t.router.unsubscribe(key, f);
        }
        t.outboxes.remove(&key);
        broker
            .stats
            .subscriptions
            .store(t.router.filters() as u64, Relaxed);
    }
    if let Ok(mut ids) = broker.ids.lock()
        && ids.get(&client_id).is_some_and(|s| s.key == key)
    {
        ids.remove(&client_id);
    }
    matches!(end, End::Closed)
}

#[allow(clippy::too_many_arguments)]
async fn read_loop(
    broker: &Broker,
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    mut buf: BytesMut,
    idle: Option<Duration>,
    outbox: &Outbox,
    key: Key,
    filters: &mut Vec<String>,
) -> End {
    let l = broker.limits;
    let limited = !outbox.service && l.bytes_per_s > 0;
    let mut bucket = Bucket::new(l.bytes_per_s, l.burst_bytes, Instant::now());
    let mut hits = Vec::new();
    loop {
        let p = match next_packet(rd, &mut buf, idle, limited.then_some(&mut bucket), false).await {
            Ok(p) => p,
            Err(e) => return e,
        };
        match p {
            Packet::Publish(p) => {
                broker.stats.published.fetch_add(1, Relaxed);
                deliver(broker, &p, &mut hits).await;
                if p.qos == 1 && !outbox.puback(p.pkid).await {
                    return End::Closed;
                }
            }
            Packet::PubAck(_) => {}
            Packet::Subscribe(pkid, list) => {
                let mut codes = Vec::with_capacity(list.len());
                if let Ok(mut t) = broker.table.write() {
                    for (f, qos) in list {
                        let known = filters.contains(&f);
                        if !known && filters.len() >= MAX_FILTERS {
                            codes.push(0x80);
                            continue;
                        }
                        let granted = qos.min(1);
                        t.router.subscribe(key, &f, granted);
                        if !known {
                            filters.push(f);
                        }
                        codes.push(granted);
                    }
                    broker
                        .stats
                        .subscriptions
                        .store(t.router.filters() as u64, Relaxed);
                }
                if !outbox.send(packet::suback(pkid, &codes)).await {
                    return End::Closed;
                }
            }
            Packet::Unsubscribe(pkid, list) => {
                if let Ok(mut t) = broker.table.write() {
                    for f in list {
                        t.router.unsubscribe(key, &f);
                        filters.retain(|k| *k != f);
                    }
                    broker
                        .stats
                        .subscriptions
                        .store(t.router.filters() as u64, Relaxed);
                }
                if !outbox.send(packet::unsuback(pkid)).await {
                    return End::Closed;
                }
            }
            Packet::PingReq => {
                if !outbox.send(packet::pingresp()).await {
                    return End::Closed;
                }
            }
            Packet::Disconnect => return End::Closed,
            // A second CONNECT is a protocol violation (MQTT 3.1.1, 3.1.0-2).
            Packet::Connect(_) => return End::Error,
        }
    }
}

/// Queues `p` to every subscriber of its topic (`hits`: scratch space for the matches).
async fn deliver(broker: &Broker, p: &packet::Publish, hits: &mut Vec<(Key, u8)>) {
    // The service's queues when full: waited for after the table's lock is released.
    let mut wait: Vec<(Outbox, u8, u32)> = Vec::new();
    {
        let Ok(t) = broker.table.read() else { return };
        t.router.matches_into(p.topic_str(), hits);
        for &(k, sub_qos) in hits.iter() {
            let Some(ob) = t.outboxes.get(&k) else {
                continue;
            };
            let qos = p.qos.min(sub_qos);
            let cost = ob.cost(p.topic.len() + p.payload.len());
            match ob.budget.try_acquire_many(cost) {
                Ok(permit) => {
                    permit.forget();
                    queue(ob, p, qos, cost);
                }
                // The service's uplink: wait for room (back-pressure on the publisher).
                Err(_) if ob.service && qos == 1 => wait.push((ob.clone(), qos, cost)),
                Err(_) => {
                    broker.stats.dropped.fetch_add(1, Relaxed);
                }
            }
        }
    }
    for (ob, qos, cost) in wait {
        match ob.budget.acquire_many(cost).await {
            Ok(permit) => permit.forget(),
            Err(_) => continue,
        }
        queue(&ob, p, qos, cost);
    }
}

/// Queues `p` to `ob`, whose budget already holds `cost` for it.
fn queue(ob: &Outbox, p: &packet::Publish, qos: u8, cost: u32) {
    let out = Out::Publish {
        topic: p.topic.clone(),
        payload: p.payload.clone(),
        qos,
        cost,
    };
    if ob.tx.send(out).is_err() {
        ob.budget.add_permits(cost as usize);
    }
}

/// Appends `o` to `out`; returns whether it is to go out now (all but a PUBACK).
fn put(o: Out, out: &mut Vec<u8>, pkid: &mut u16, release: &mut usize) -> bool {
    match o {
        Out::Packet(b, cost) => {
            out.extend_from_slice(&b);
            *release += cost as usize;
            true
        }
        Out::PubAck(id) => {
            out.push(0x40);
            out.push(2);
            out.extend_from_slice(&id.to_be_bytes());
            *release += PUBACK_COST as usize;
            false
        }
        Out::Publish {
            topic,
            payload,
            qos,
            cost,
        } => {
            if qos > 0 {
                *pkid = if *pkid == u16::MAX { 1 } else { *pkid + 1 };
            }
            packet::publish_into(&topic, &payload, qos, *pkid, out);
            *release += cost as usize;
            true
        }
    }
}

/// Writes what is queued, as much as is there (up to [`WRITE_BATCH`]) in one `write`; when
/// only PUBACKs are queued, waits up to `puback_delay` for something to go with them.
async fn write_loop(
    mut rx: mpsc::UnboundedReceiver<Out>,
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
    budget: Arc<Semaphore>,
    puback_delay: Duration,
) {
    let mut out = Vec::with_capacity(WRITE_BATCH);
    let mut pkid: u16 = 0;
    while let Some(first) = rx.recv().await {
        out.clear();
        let mut release = 0usize;
        let mut now = put(first, &mut out, &mut pkid, &mut release);
        let mut deadline = None;
        loop {
            while out.len() < WRITE_BATCH {
                match rx.try_recv() {
                    Ok(o) => now |= put(o, &mut out, &mut pkid, &mut release),
                    Err(_) => break,
                }
            }
            if now || out.len() >= WRITE_BATCH || puback_delay.is_zero() {
                break;
            }
            let until = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + puback_delay);
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(o)) => now |= put(o, &mut out, &mut pkid, &mut release),
                Ok(None) | Err(_) => break,
            }
        }
        if wr.write_all(&out).await.is_err() {
            return;
        }
        budget.add_permits(release);
    }
}

/// A token bucket of bytes.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket refilled at `rate` bytes a second up to `burst`.
    #[must_use]
    pub fn new(rate: u64, burst: u64, now: Instant) -> Self {
        Self {
            tokens: burst as f64,
            rate: (rate as f64).max(1.0),
            burst: burst as f64,
            at: now,
        }
    }

    /// Takes `n` bytes at `now`; returns how long to wait before reading more.
    pub fn take(&mut self, n: usize, now: Instant) -> Duration {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst) - n as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_the_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1_000, 4_000, t0);
        assert_eq!(b.take(4_000, t0), Duration::ZERO);
        // 500 bytes over an empty bucket: half a second at 1,000 B/s.
        assert_eq!(b.take(500, t0), Duration::from_millis(500));
        // After that half second plus one more, 1,000 bytes are back.
        let t1 = t0 + Duration::from_millis(1_500);
        assert_eq!(b.take(1_000, t1), Duration::ZERO);
        // A long pause never refills past the burst.
        let t2 = t1 + Duration::from_secs(3_600);
        assert_eq!(b.take(4_000, t2), Duration::ZERO);
        assert!(b.take(1, t2) > Duration::ZERO);
    }
}
