//! The service's MQTT client: one connection to the broker (embedded or external) that
//! receives every device's uplink and publishes the downlink.
//!
//! Uplink is subscribed with QoS 1 (the broker retries delivery to the service); downlink is
//! QoS 0 (a lost ack, offer or chunk is asked for again by the device, which is why the
//! protocol needs no broker-side sessions). The client reconnects by itself and subscribes again
//! after every connect.

use core::sync::atomic::Ordering::Relaxed;
use core::time::Duration;
use std::sync::Arc;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::topic::{self, Up};

/// Largest MQTT packet either way (a 64-frame message of 1 KiB frames, or a 64 KiB chunk).
pub const MAX_PACKET: usize = 128 * 1024;

/// Where the broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl core::fmt::Display for BrokerAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "mqtt://{}:{}", self.host, self.port)
    }
}

/// Parses `mqtt://host:port` (port 1883 when left out).
///
/// # Errors
/// What is wrong with the URL.
pub fn parse_url(url: &str) -> Result<BrokerAddr, String> {
    let rest = url
        .strip_prefix("mqtt://")
        .ok_or_else(|| format!("broker url {url:?} must start with mqtt:// (TLS: put a local broker or a tunnel in front)"))?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("broker url {url:?}: port {p:?} is not a number 1..=65535"))?,
        ),
        None => (rest, 1883),
    };
    if host.is_empty() || port == 0 {
        return Err(format!("broker url {url:?} needs a host and a port"));
    }
    Ok(BrokerAddr {
        host: host.to_string(),
        port,
    })
}

/// Options for a client of `addr`.
#[must_use]
pub fn options(addr: &BrokerAddr, client_id: &str) -> MqttOptions {
    let mut o = MqttOptions::new(client_id, addr.host.clone(), addr.port);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_max_packet_size(MAX_PACKET, MAX_PACKET);
    o.set_clean_session(true);
    o.set_inflight(1_000);
    o
}

/// Publishes downlink messages without waiting (QoS 0).
#[derive(Clone)]
pub struct Publisher {
    client: AsyncClient,
    metrics: Arc<Metrics>,
}

impl core::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Publisher")
    }
}

impl Publisher {
    /// Queues `payload` on `topic`; `false` when the client's queue is full (counted).
    pub fn send(&self, topic: String, payload: Vec<u8>) -> bool {
        match self
            .client
            .try_publish(topic, QoS::AtMostOnce, false, payload)
        {
            Ok(()) => {
                self.metrics.downlinks.fetch_add(1, Relaxed);
                true
            }
            Err(_) => {
                self.metrics.downlinks_dropped.fetch_add(1, Relaxed);
                false
            }
        }
    }
}

/// One uplink message for the service.
#[derive(Debug, Clone)]
pub struct Uplink {
    /// The device the topic names.
    pub device: u64,
    /// Which message.
    pub kind: Up,
    /// The payload.
    pub payload: bytes::Bytes,
    /// When it arrived (Unix milliseconds).
    pub received_ms: u64,
}

/// Connects the service (with `login` to the embedded broker, see [`crate::broker`]): one connection receives the uplink, a second one publishes the
/// downlink (so that a busy uplink never starves the acks, which one connection's event loop
/// would do); the downlink connection is driven by a task spawned here. Returns the publisher
/// and the uplink client and event loop to drive with [`run`].
#[must_use]
pub fn connect(
    addr: &BrokerAddr,
    client_id: &str,
    login: Option<&crate::broker::Login>,
    metrics: Arc<Metrics>,
) -> (Publisher, AsyncClient, EventLoop) {
    let with_login = |mut o: MqttOptions| {
        if let Some(l) = login {
            o.set_credentials(l.username.clone(), l.password.clone());
        }
        o
    };
    let (client, eventloop) =
        AsyncClient::new(with_login(options(addr, &format!("{client_id}-up"))), 1_024);
    let (down, mut down_loop) = AsyncClient::new(
        with_login(options(addr, &format!("{client_id}-down"))),
        65_536,
    );
    let m = metrics.clone();
    tokio::spawn(async move {
        loop {
            if down_loop.poll().await.is_err() {
                m.mqtt_errors.fetch_add(1, Relaxed);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    });
    (
        Publisher {
            client: down,
            metrics,
        },
        client,
        eventloop,
    )
}

/// Drives the connection: subscribes after each connect and hands every uplink message to
/// `tx` (waiting when the pipeline is full, which pushes back on the broker).
pub async fn run(
    mut eventloop: EventLoop,
    client: AsyncClient,
    tx: mpsc::Sender<Uplink>,
    metrics: Arc<Metrics>,
) {
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                if client
                    .subscribe(topic::UPLINK_FILTER, QoS::AtLeastOnce)
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                metrics.messages.fetch_add(1, Relaxed);
                let Some((device, kind)) = topic::parse_up(&p.topic) else {
                    metrics.malformed_messages.fetch_add(1, Relaxed);
                    continue;
                };
                let up = Uplink {
                    device,
                    kind,
                    payload: p.payload,
                    received_ms: crate::clock::now_millis(),
                };
                if tx.send(up).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(_) => {
                metrics.mqtt_errors.fetch_add(1, Relaxed);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_broker_urls() {
        assert_eq!(
            parse_url("mqtt://127.0.0.1:1884").unwrap(),
            BrokerAddr {
                host: "127.0.0.1".into(),
                port: 1884
            }
        );
        assert_eq!(parse_url("mqtt://broker").unwrap().port, 1883);
        assert!(
            parse_url("mqtts://broker:8883")
                .unwrap_err()
                .contains("mqtt://")
        );
        assert!(parse_url("mqtt://:1883").is_err());
        assert!(parse_url("mqtt://h:99999").unwrap_err().contains("port"));
    }
}
