//! The embedded MQTT broker (`rumqttd`), for running with no setup, behind a guard that gives
//! every client its own budget.
//!
//! MQTT 3.1.1 on one TCP listener, no TLS and no authentication: bind it to loopback (the
//! default) or a private network, or use an external broker (`--mqtt`) with per-device
//! credentials and ACLs for anything else.
//!
//! # Why a guard
//! `rumqttd` 0.20 has no per-client limits: it reads a client as fast as the client writes, and
//! every uplink message of every device lands in the one log of the service's wildcard
//! subscription, which keeps the newest 3 x 4 MiB. One connection flooding it (measured: about
//! 600,000 messages a second from one `rumqttc` client) pushes the real devices' messages out
//! of that log before the service reads them, so they starve, and the broker's memory grows
//! (1.5 GB in 30 s). So clients do not talk to `rumqttd` directly: the guard accepts them, at
//! most [`Limits::max_connections`] at once, and copies each one's bytes to `rumqttd` (on a
//! private loopback port) through a token bucket of [`Limits::bytes_per_s`] with a
//! [`Limits::burst_bytes`] allowance. A client over its budget is simply read no faster (its
//! TCP window closes), which costs the others nothing. Downlink is copied unthrottled.
//! `rumqttd` itself refuses packets over [`crate::mqtt::MAX_PACKET`].
//!
//! The guard also gives every TCP connection its own MQTT client id (the client's id, `~`,
//! a connection number) before `rumqttd` sees it. `rumqttd` 0.20 keeps a last-will handle per
//! client id; a connection that fails before its CONNACK is written (the client gave up
//! waiting) leaves a dead handle behind, and the next CONNECT with that id panics the broker's
//! listener task while it holds a lock, which poisons the lock: from then on every new
//! connection panics and the broker accepts nobody (found by the load test: 40 of 100 gateway
//! connections up, then 2,321 panics). Any client could do that on purpose. With an id per
//! connection no CONNECT ever meets an old handle. What is lost: a reconnecting client does
//! not take over its older connection (that one ends at its keep-alive), and sessions do not
//! persist across connections, which this protocol never uses (clean sessions, acks in the
//! application).
//!
//! The price: two more file descriptors per client in this process (the client's socket is
//! joined by the guard's and `rumqttd`'s ends of the private connection).
//!
//! # Scale
//! `rumqttd` 0.20's router (one thread) matches every new subscription against every topic it
//! has seen and every new topic against every subscription, and keeps a log per subscription:
//! with one subscription and about three topics per device, the cost of connecting devices
//! grows with the square of their number. BENCHMARKS.md has the figures; an external broker
//! (mosquitto) is the supported path past a few thousand devices.

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use rumqttd::{Config, ConnectionSettings, RouterConfig, ServerSettings};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// What the embedded broker allows each client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Clients connected at once; more are closed as they are accepted.
    pub max_connections: usize,
    /// Sustained bytes per second one client may send (0: no rate limit).
    pub bytes_per_s: u64,
    /// Bytes a client may send at once above the sustained rate.
    pub burst_bytes: u64,
}

impl Default for Limits {
    /// 64 KiB/s per client (a gateway of 100 devices at 2 heartbeats a second sends about
    /// 12 KiB/s), a 256 KiB burst, 10,000 clients.
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            bytes_per_s: 64 * 1024,
            burst_bytes: 256 * 1024,
        }
    }
}

fn config(listen: SocketAddr, max_connections: usize) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: crate::mqtt::MAX_PACKET,
        max_inflight_count: 1_000,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "v4".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };
    Config {
        id: 0,
        router: RouterConfig {
            max_connections,
            max_outgoing_packet_count: 1_000,
            // The broker keeps what it routes in per-subscription logs of these segments: this
            // bounds what it holds per subscription (a subscriber that falls further behind
            // loses the oldest messages, which devices re-send since they are not acked).
            max_segment_size: 4 * 1024 * 1024,
            max_segment_count: 3,
            ..RouterConfig::default()
        },
        v4: Some(HashMap::from([("v4".to_string(), server)])),
        ..Config::default()
    }
}

fn wait_listening(addr: SocketAddr, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "{what} did not accept connections on {addr} within 10 s"
    ))
}

fn start_rumqttd(listen: SocketAddr, max_connections: usize) -> Result<(), String> {
    let config = config(listen, max_connections);
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            if let Err(e) = broker.start() {
                eprintln!("fleet-server: embedded broker stopped: {e}");
            }
        })
        .map_err(|e| format!("cannot start the broker thread: {e}"))?;
    wait_listening(listen, "the embedded broker")
}

/// Starts the broker on `listen` in its own threads and waits until it accepts connections.
///
/// # Errors
/// The address cannot be bound, or the broker did not come up within 10 s.
pub fn start(listen: SocketAddr, limits: Limits) -> Result<(), String> {
    let in_use = || {
        format!(
            "cannot listen for MQTT on {listen}: the address is in use or not local (choose another with --mqtt-listen)"
        )
    };
    let mut limits = limits;
    if let Some(open_files) = open_file_limit() {
        // Three descriptors per client, and room for the database, HTTP and the rest.
        let fit = usize::try_from(open_files.saturating_sub(1_024) / 3).unwrap_or(usize::MAX);
        if fit < limits.max_connections {
            eprintln!(
                "fleet-server: the embedded broker takes {fit} clients, not {}: this process may open {open_files} files and each client needs 3 (raise `ulimit -n`, or use an external broker)",
                limits.max_connections
            );
            limits.max_connections = fit.max(16);
        }
    }
    let public = std::net::TcpListener::bind(listen).map_err(|_| in_use())?;
    // rumqttd binds by address: find a free private port, then give it to rumqttd.
    let private = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("cannot find a private port for the embedded broker: {e}"))?;
    // Room for the service's own two connections past the clients.
    start_rumqttd(private, limits.max_connections + 16)?;
    public
        .set_nonblocking(true)
        .map_err(|e| format!("MQTT listener on {listen}: {e}"))?;
    std::thread::Builder::new()
        .name("mqtt-guard".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(rt) => rt.block_on(guard(public, private, limits)),
                Err(e) => eprintln!("fleet-server: the MQTT guard cannot start: {e}"),
            }
        })
        .map_err(|e| format!("cannot start the MQTT guard thread: {e}"))?;
    wait_listening(listen, "the embedded broker's guard")
}

/// Accepts clients and joins each to `rumqttd` within its budget.
async fn guard(public: std::net::TcpListener, private: SocketAddr, limits: Limits) {
    let Ok(listener) = TcpListener::from_std(public) else {
        eprintln!("fleet-server: the MQTT guard cannot use its listener");
        return;
    };
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut number = 0u64;
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of descriptors or a reset before accept: let the others go on.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(client);
            continue;
        };
        number += 1;
        tokio::spawn(async move {
            let _slot = slot;
            let _ = client.set_nodelay(true);
            let (mut client_rx, mut client_tx) = client.into_split();
            // The first packet within 10 s, or the slot goes back.
            let first = tokio::time::timeout(CONNECT_WITHIN, read_connect(&mut client_rx)).await;
            let Ok(Some((connect, rest))) = first else {
                return;
            };
            let Some(connect) = unique_client_id(&connect, number) else {
                return;
            };
            let Ok(broker) = TcpStream::connect(private).await else {
                return;
            };
            let _ = broker.set_nodelay(true);
            let (mut broker_rx, mut broker_tx) = broker.into_split();
            if broker_tx.write_all(&connect).await.is_err()
                || broker_tx.write_all(&rest).await.is_err()
            {
                return;
            }
            let up = throttled_copy(client_rx, broker_tx, limits);
            let down = tokio::io::copy(&mut broker_rx, &mut client_tx);
            // Either side closing ends the pair.
            tokio::select! {
                _ = up => {}
                _ = down => {}
            }
        });
    }
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

/// How long a client has to send its CONNECT.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);

/// The remaining length of an MQTT packet whose fixed header starts `bytes`: (header length,
/// remaining length), or `None` while incomplete. `Err` for a length over four bytes.
fn fixed_header(bytes: &[u8]) -> Result<Option<(usize, usize)>, ()> {
    let mut len = 0usize;
    for i in 0..4 {
        let Some(&b) = bytes.get(1 + i) else {
            return Ok(None);
        };
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((2 + i, len)));
        }
    }
    Err(())
}

fn remaining_length(mut len: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (len % 128) as u8;
        len /= 128;
        if len == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads the client's first packet whole: (the packet, bytes read after it). `None` when the
/// client closes, sends something else than CONNECT, or more than [`crate::mqtt::MAX_PACKET`].
async fn read_connect(from: &mut tokio::net::tcp::OwnedReadHalf) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 1_024];
    loop {
        if let Some(&first) = buf.first()
            && first != 0x10
        {
            return None;
        }
        if let Some((header, len)) = fixed_header(&buf).ok()? {
            if len > crate::mqtt::MAX_PACKET {
                return None;
            }
            if buf.len() >= header + len {
                let rest = buf.split_off(header + len);
                return Some((buf, rest));
            }
        }
        let n = from.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(chunk.get(..n)?);
    }
}

/// The CONNECT packet `packet` with its client id made unique by `number` (MQTT 3.1 and
/// 3.1.1; an empty id, which `rumqttd` replaces by a fresh one, and other protocol levels
/// pass unchanged). `None` when it does not parse as a CONNECT.
#[must_use]
pub fn unique_client_id(packet: &[u8], number: u64) -> Option<Vec<u8>> {
    let (header, len) = fixed_header(packet).ok()??;
    let body = packet.get(header..header + len)?;
    let u16_at = |i: usize| -> Option<usize> {
        Some(usize::from(u16::from_be_bytes([
            *body.get(i)?,
            *body.get(i + 1)?,
        ])))
    };
    let name_len = u16_at(0)?;
    let level = *body.get(2 + name_len)?;
    // Name, level, flags, keep-alive; then the client id.
    let id_at = 2 + name_len + 4;
    let id_len = u16_at(id_at)?;
    let id = body.get(id_at + 2..id_at + 2 + id_len)?;
    if !matches!(level, 3 | 4) || id.is_empty() {
        return Some(packet.to_vec());
    }
    let mut new_id = id.to_vec();
    new_id.extend_from_slice(format!("~{number}").as_bytes());
    let new_len = u16::try_from(new_id.len()).ok()?;
    let mut new_body = Vec::with_capacity(body.len() + 24);
    new_body.extend_from_slice(body.get(..id_at)?);
    new_body.extend_from_slice(&new_len.to_be_bytes());
    new_body.extend_from_slice(&new_id);
    new_body.extend_from_slice(body.get(id_at + 2 + id_len..)?);
    let mut out = vec![*packet.first()?];
    remaining_length(new_body.len(), &mut out);
    out.extend_from_slice(&new_body);
    Some(out)
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

async fn throttled_copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    limits: Limits,
) {
    let size = usize::try_from(limits.burst_bytes)
        .unwrap_or(usize::MAX)
        .clamp(1_024, 16 * 1_024);
    let mut buf = vec![0u8; size];
    let mut bucket = Bucket::new(limits.bytes_per_s, limits.burst_bytes, Instant::now());
    let limited = limits.bytes_per_s > 0;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if to.write_all(buf.get(..n).unwrap_or(&[])).await.is_err() {
            return;
        }
        let wait = bucket.take(n, Instant::now());
        if limited && !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connects_get_an_id_per_connection_and_keep_everything_else() {
        use bytes::BytesMut;
        use rumqttc::mqttbytes::v4::{Connect, LastWill, Login, Packet};
        let mut c = Connect::new("device-42");
        c.keep_alive = 33;
        c.login = Some(Login::new("user", "pass"));
        c.last_will = Some(LastWill::new(
            "w/t",
            vec![1u8; 300],
            rumqttc::QoS::AtLeastOnce,
            false,
        ));
        let mut buf = BytesMut::new();
        c.write(&mut buf).unwrap();
        let out = unique_client_id(&buf, 77).unwrap();
        let mut parsed = BytesMut::from(&out[..]);
        let Packet::Connect(back) = Packet::read(&mut parsed, 1 << 20).unwrap() else {
            panic!("not a connect");
        };
        assert_eq!(back.client_id, "device-42~77");
        assert_eq!(
            (back.keep_alive, back.login, back.last_will),
            (33, c.login, c.last_will)
        );
        assert!(parsed.is_empty());
        // An empty id (rumqttd assigns one) and non-CONNECT bytes.
        let mut buf = BytesMut::new();
        Connect::new("").write(&mut buf).unwrap();
        assert_eq!(unique_client_id(&buf, 1).as_deref(), Some(&buf[..]));
        assert_eq!(unique_client_id(&[0x10, 0x05, 0, 4, b'M'], 1), None);
        assert_eq!(
            unique_client_id(&[0x10, 0xff, 0xff, 0xff, 0xff, 0x7f], 1),
            None
        );
    }

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
