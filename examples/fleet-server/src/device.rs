//! A reference device: the device side of the protocol over MQTT, used by the load generator,
//! the crash test and the integration tests (and a model for firmware teams).
//!
//! It keeps every heartbeat until an ack says it was committed or refused; sends delta frames
//! against its previous heartbeat with a key frame every [`DeviceConfig::key_every`] frames;
//! re-sends a frame as a key frame when the service lacks its delta reference; re-sends
//! whatever is unacked after [`DeviceConfig::resend_after`] and after every reconnect; checks in
//! with `up/hello`; verifies an offered envelope with `ota-core` before fetching the payload,
//! checks the payload's digest, and reports the update (`up/report`, also kept until acked).

use core::time::Duration;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ota_core::manifest::Version;
use ota_core::trust::TrustStore;
use ota_core::verify::{DeviceContext, verify};
use rumqttc::{AsyncClient, Event, EventLoop, Packet, QoS};
use telemetry_core::codec::{encode_delta, encode_key};
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::{RebootReason, pack_version, vitals};

use crate::fleet::METRICS;
use crate::mqtt::{self, BrokerAddr};
use crate::topic::{self, Down, Up};
use crate::wire::{
    self, Ack, ChunkRequest, Hello, Offer, Outcome, PayloadKind, RejectReason, Stream, UpFrame,
    UpFrames, UpdateReport, WireVersion,
};

/// How a device behaves.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// A key frame every this many frames (1: key frames only).
    pub key_every: u32,
    /// Re-send unacked frames and reports after this long.
    pub resend_after: Duration,
    /// Firmware it runs at first.
    pub firmware: WireVersion,
    /// Trusted release key (to verify offers); `None`: never update.
    pub trust: Option<[u8; 32]>,
    /// Whether the update to `version` fails its self-test on this device.
    pub fails: fn(u64, WireVersion) -> bool,
    /// Battery points this device loses per heartbeat while running `version` (default 1).
    pub drain: fn(u64, WireVersion) -> i64,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            key_every: 8,
            resend_after: Duration::from_secs(5),
            firmware: WireVersion {
                major: 1,
                minor: 0,
                patch: 0,
            },
            trust: None,
            fails: |_, _| false,
            drain: |_, _| 1,
        }
    }
}

struct Pending {
    hb: Heartbeat<METRICS>,
    bytes: Vec<u8>,
    first_sent: Instant,
    last_sent: Instant,
}

struct Download {
    release: u32,
    sequence: u64,
    version: WireVersion,
    digest: [u8; 32],
    chunk_size: u32,
    chunks: u32,
    received: Vec<Option<Vec<u8>>>,
    asked: Instant,
}

/// What happened to the device (for the caller's bookkeeping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A heartbeat was committed: (boot, seq, publish-to-ack latency in ms).
    Committed(u32, u32, u64),
    /// A frame was refused for good.
    Refused(u32, u32, RejectReason),
    /// An update report was committed.
    ReportCommitted(u64, Outcome),
    /// An offer arrived with this manifest sequence.
    Offered(u64),
    /// A rollback directive arrived with this sequence.
    RollbackDirective(u64),
    /// Now running this version.
    Updated(WireVersion, u64),
}

/// MQTT packets a device (or many) sends over a connection its owner drives: appended here,
/// written by the owner with one `write` per wake-up (the load generator's connections).
#[derive(Debug, Default)]
pub struct WireBuffer {
    /// Encoded packets not written yet.
    pub bytes: Vec<u8>,
    next_pkid: u16,
}

impl WireBuffer {
    fn pkid(&mut self) -> u16 {
        self.next_pkid = if self.next_pkid == u16::MAX {
            1
        } else {
            self.next_pkid + 1
        };
        self.next_pkid
    }

    /// Appends a PUBLISH of `payload` on `topic` (QoS 0 or 1; a QoS 1 one gets the next
    /// packet id; its PUBACK needs no answer).
    pub fn publish(&mut self, topic: &str, qos: QoS, payload: &[u8]) {
        let qos = u8::from(qos != QoS::AtMostOnce);
        let pkid = if qos > 0 { self.pkid() } else { 0 };
        crate::broker::packet::publish_into(topic.as_bytes(), payload, qos, pkid, &mut self.bytes);
    }

    /// Appends a SUBSCRIBE of `filters` at QoS 1.
    pub fn subscribe(&mut self, filters: &[String]) {
        let pkid = self.pkid();
        let list: Vec<_> = filters
            .iter()
            .map(|f| rumqttc::mqttbytes::v4::SubscribeFilter::new(f.clone(), QoS::AtLeastOnce))
            .collect();
        let sub = rumqttc::mqttbytes::v4::Subscribe::new_many(list);
        let mut out = bytes::BytesMut::new();
        let mut sub = sub;
        sub.pkid = pkid;
        if sub.write(&mut out).is_ok() {
            self.bytes.extend_from_slice(&out);
        }
    }
}

/// Where a device's MQTT packets go.
#[derive(Debug, Clone)]
pub enum Link {
    /// A `rumqttc` client whose event loop the caller drives.
    Client(AsyncClient),
    /// A buffer the caller writes to its own connection.
    Buffer(Arc<Mutex<WireBuffer>>),
}

impl Link {
    async fn publish(&self, topic: String, qos: QoS, payload: Vec<u8>) {
        match self {
            Self::Client(c) => {
                let _ = c.publish(topic, qos, false, payload).await;
            }
            Self::Buffer(b) => {
                if let Ok(mut b) = b.lock() {
                    b.publish(&topic, qos, &payload);
                }
            }
        }
    }

    async fn subscribe(&self, filter: String) {
        match self {
            Self::Client(c) => {
                let _ = c.subscribe(filter, QoS::AtLeastOnce).await;
            }
            Self::Buffer(b) => {
                if let Ok(mut b) = b.lock() {
                    b.subscribe(&[filter]);
                }
            }
        }
    }
}

/// One simulated device.
pub struct Device {
    /// Device id.
    pub id: u64,
    config: DeviceConfig,
    client: Link,
    /// Boot id.
    pub boot: u32,
    seq: u32,
    next_msg: u32,
    pending: BTreeMap<u32, Pending>,
    previous: Option<Heartbeat<METRICS>>,
    reports: BTreeMap<u32, (UpdateReport, Instant)>,
    next_report: u32,
    download: Option<Download>,
    /// Running firmware.
    pub running: WireVersion,
    /// Highest manifest sequence accepted.
    pub accepted_sequence: u64,
    battery: i64,
    reboot_cause: Option<RebootReason>,
}

impl Device {
    /// Connects device `id` to the broker; returns it and the event loop to drive.
    #[must_use]
    pub fn connect(
        addr: &BrokerAddr,
        id: u64,
        boot: u32,
        config: DeviceConfig,
    ) -> (Self, EventLoop) {
        let mut o = mqtt::options(addr, &format!("device-{id}"));
        o.set_inflight(64);
        o.set_keep_alive(Duration::from_secs(60));
        let (client, eventloop) = AsyncClient::new(o, 256);
        (Self::with_client(client, id, boot, config), eventloop)
    }

    /// A device that speaks through `client` (a gateway carrying many devices on one connection
    /// drives the event loop and hands each device its own events).
    #[must_use]
    pub fn with_client(client: AsyncClient, id: u64, boot: u32, config: DeviceConfig) -> Self {
        Self::with_link(Link::Client(client), id, boot, config)
    }

    /// A device that speaks through `link`.
    #[must_use]
    pub fn with_link(client: Link, id: u64, boot: u32, config: DeviceConfig) -> Self {
        let running = config.firmware;
        Self {
            id,
            config,
            client,
            boot,
            seq: 0,
            next_msg: 1,
            pending: BTreeMap::new(),
            previous: None,
            reports: BTreeMap::new(),
            next_report: 1,
            download: None,
            running,
            accepted_sequence: 0,
            battery: 100,
            reboot_cause: Some(RebootReason::PowerOn),
        }
    }

    /// Frames waiting for an ack.
    #[must_use]
    pub fn unacked(&self) -> usize {
        self.pending.len()
    }

    /// Update reports waiting for an ack.
    #[must_use]
    pub fn unacked_reports(&self) -> usize {
        self.reports.len()
    }

    /// Subscribes to the device's downlink (call after each connect).
    pub async fn subscribe(&self) {
        self.client.subscribe(topic::down_filter(self.id)).await;
    }

    fn heartbeat(&mut self) -> Heartbeat<METRICS> {
        let interval = Interval {
            start_uptime_s: self.seq * 60,
            len_s: 60,
            wall_start_unix_s: None,
            complete: true,
        };
        let mut hb = Heartbeat::new(self.boot, self.seq, interval);
        let drain = (self.config.drain)(self.id, self.running);
        self.battery = (self.battery - drain).rem_euclid(101);
        let b = self.battery;
        let _ = hb.push(
            vitals::BATTERY_PCT.id,
            Value::Gauge(Gauge::full(b, b, b, b)),
        );
        // Samples go in id order (a push out of order is refused): the reboot reason (12)
        // before the firmware version (16).
        if let Some(reason) = self.reboot_cause.take() {
            let _ = hb.push(vitals::REBOOT_REASON.id, Value::State(reason.code()));
        }
        let r = self.running;
        let fw = pack_version(
            u8::try_from(r.major).unwrap_or(u8::MAX),
            u8::try_from(r.minor).unwrap_or(u8::MAX),
            u8::try_from(r.patch).unwrap_or(u8::MAX),
        );
        let _ = hb.push(vitals::FIRMWARE_VERSION.id, Value::State(fw));
        hb
    }

    /// Measures and sends the next heartbeat (delta or key frame).
    pub async fn send_heartbeat(&mut self) {
        let hb = self.heartbeat();
        let mut buf = [0u8; 1024];
        let key = self.seq.is_multiple_of(self.config.key_every.max(1));
        let n = match (&self.previous, key) {
            (Some(prev), false) => {
                encode_delta(&hb, prev, &mut buf).or_else(|_| encode_key(&hb, &mut buf))
            }
            _ => encode_key(&hb, &mut buf),
        };
        let Ok(n) = n else { return };
        let msg = self.next_msg;
        self.next_msg = self.next_msg.wrapping_add(1);
        self.seq += 1;
        let bytes = buf.get(..n).map(<[u8]>::to_vec).unwrap_or_default();
        self.publish_frames(&[(msg, hb.boot_id, hb.seq, &bytes)])
            .await;
        let now = Instant::now();
        self.previous = Some(hb.clone());
        self.pending.insert(
            msg,
            Pending {
                hb,
                bytes,
                first_sent: now,
                last_sent: now,
            },
        );
    }

    async fn publish_frames(&self, frames: &[(u32, u32, u32, &[u8])]) {
        let mut list = heapless::Vec::new();
        for (msg, boot, seq, bytes) in frames {
            let _ = list.push(UpFrame {
                msg: *msg,
                boot: *boot,
                seq: *seq,
                bytes,
            });
        }
        let payload = wire::encode(&UpFrames { frames: list });
        self.client
            .publish(topic::up(self.id, Up::Frames), QoS::AtLeastOnce, payload)
            .await;
    }

    /// Sends a check-in.
    pub async fn hello(&self) {
        let h = Hello {
            boot: self.boot,
            running: self.running,
            accepted_sequence: self.accepted_sequence,
            security_floor: 0,
            notice_sequence: 0,
        };
        self.client
            .publish(
                topic::up(self.id, Up::Hello),
                QoS::AtLeastOnce,
                wire::encode(&h),
            )
            .await;
    }

    /// Re-sends frames and reports unacked for longer than the resend interval (`all`: every one).
    pub async fn resend(&mut self, all: bool) {
        let now = Instant::now();
        let due: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| all || now.duration_since(p.last_sent) >= self.config.resend_after)
            .map(|(m, _)| *m)
            .take(wire::MAX_FRAMES)
            .collect();
        if !due.is_empty() {
            let frames: Vec<(u32, u32, u32, Vec<u8>)> = due
                .iter()
                .filter_map(|m| {
                    self.pending
                        .get(m)
                        .map(|p| (*m, p.hb.boot_id, p.hb.seq, p.bytes.clone()))
                })
                .collect();
            let refs: Vec<(u32, u32, u32, &[u8])> = frames
                .iter()
                .map(|(m, b, s, f)| (*m, *b, *s, f.as_slice()))
                .collect();
            self.publish_frames(&refs).await;
            for m in &due {
                if let Some(p) = self.pending.get_mut(m) {
                    p.last_sent = now;
                }
            }
        }
        let reports: Vec<UpdateReport> = self
            .reports
            .values_mut()
            .filter(|(_, at)| all || now.duration_since(*at) >= self.config.resend_after)
            .map(|(r, at)| {
                *at = now;
                *r
            })
            .collect();
        for r in reports {
            self.client
                .publish(
                    topic::up(self.id, Up::Report),
                    QoS::AtLeastOnce,
                    wire::encode(&r),
                )
                .await;
        }
        if let Some(d) = &mut self.download
            && now.duration_since(d.asked) >= self.config.resend_after
        {
            d.asked = now;
            self.request_chunks().await;
        }
    }

    async fn report(&mut self, sequence: u64, outcome: Outcome) {
        let r = UpdateReport {
            report: self.next_report,
            sequence,
            outcome,
            running: self.running,
        };
        self.next_report += 1;
        self.reports.insert(r.report, (r, Instant::now()));
        self.client
            .publish(
                topic::up(self.id, Up::Report),
                QoS::AtLeastOnce,
                wire::encode(&r),
            )
            .await;
    }

    async fn request_chunks(&self) {
        let Some(d) = &self.download else { return };
        for (i, c) in d.received.iter().enumerate() {
            if c.is_none() {
                let req = ChunkRequest {
                    release: d.release,
                    kind: PayloadKind::Full,
                    index: u32::try_from(i).unwrap_or(u32::MAX),
                };
                self.client
                    .publish(
                        topic::up(self.id, Up::Chunk),
                        QoS::AtMostOnce,
                        wire::encode(&req),
                    )
                    .await;
            }
        }
    }

    /// Handles one event of the connection; returns what the caller should know.
    pub async fn handle(&mut self, event: Event) -> Vec<Note> {
        match event {
            Event::Incoming(Packet::ConnAck(_)) => {
                self.subscribe().await;
                self.resend(true).await;
                Vec::new()
            }
            Event::Incoming(Packet::Publish(p)) => self.handle_publish(&p.topic, &p.payload).await,
            _ => Vec::new(),
        }
    }

    /// Handles one downlink message (a PUBLISH the broker delivered on `topic`).
    pub async fn handle_publish(&mut self, topic: &str, payload: &[u8]) -> Vec<Note> {
        match topic::parse_down(topic) {
            Some((id, kind)) if id == self.id => self.downlink(kind, payload).await,
            _ => Vec::new(),
        }
    }

    async fn downlink(&mut self, kind: Down, payload: &[u8]) -> Vec<Note> {
        let mut notes = Vec::new();
        match kind {
            Down::Ack => {
                let Ok(ack) = wire::decode::<Ack>(payload, "ack") else {
                    return notes;
                };
                match ack.stream {
                    Stream::Frames => {
                        let now = Instant::now();
                        for m in &ack.accepted {
                            if let Some(p) = self.pending.remove(m) {
                                let ms =
                                    u64::try_from(now.duration_since(p.first_sent).as_millis())
                                        .unwrap_or(u64::MAX);
                                notes.push(Note::Committed(p.hb.boot_id, p.hb.seq, ms));
                            }
                        }
                        for r in &ack.rejected {
                            if r.reason == RejectReason::MissingReference {
                                // Send the same heartbeat again as a key frame.
                                if let Some(p) = self.pending.get_mut(&r.msg) {
                                    let mut buf = [0u8; 1024];
                                    if let Ok(n) = encode_key(&p.hb, &mut buf) {
                                        p.bytes =
                                            buf.get(..n).map(<[u8]>::to_vec).unwrap_or_default();
                                        p.last_sent = Instant::now();
                                        let (bytes, boot, seq) =
                                            (p.bytes.clone(), p.hb.boot_id, p.hb.seq);
                                        self.publish_frames(&[(r.msg, boot, seq, &bytes)]).await;
                                    }
                                }
                            } else if let Some(p) = self.pending.remove(&r.msg) {
                                notes.push(Note::Refused(p.hb.boot_id, p.hb.seq, r.reason));
                            }
                        }
                    }
                    Stream::Reports => {
                        for m in ack
                            .accepted
                            .iter()
                            .chain(ack.rejected.iter().map(|r| &r.msg))
                        {
                            if let Some((r, _)) = self.reports.remove(m) {
                                notes.push(Note::ReportCommitted(r.sequence, r.outcome));
                            }
                        }
                    }
                }
            }
            Down::Offer => {
                let Ok(offer) = wire::decode::<Offer<'_>>(payload, "offer") else {
                    return notes;
                };
                notes.push(Note::Offered(offer.sequence));
                self.offer(&offer).await;
            }
            Down::Chunk => {
                let Ok(chunk) = wire::decode::<wire::Chunk<'_>>(payload, "chunk") else {
                    return notes;
                };
                if let Some(n) = self.chunk(&chunk).await {
                    notes.push(n);
                }
            }
            Down::Rollback => {
                if let Ok(r) = wire::decode::<wire::Rollback>(payload, "rollback") {
                    notes.push(Note::RollbackDirective(r.sequence));
                }
            }
            Down::Notice => {}
        }
        notes
    }

    async fn offer(&mut self, offer: &Offer<'_>) {
        let Some(root) = self.config.trust else {
            return;
        };
        // An offer repeated after the update (or one in progress) is not a new update.
        if offer.sequence <= self.accepted_sequence
            || self
                .download
                .as_ref()
                .is_some_and(|d| d.sequence == offer.sequence)
        {
            return;
        }
        let Ok(store) = TrustStore::<1, 1>::new(&[root], 1) else {
            return;
        };
        let Ok(env) = ota_core::envelope::Envelope::decode(offer.envelope) else {
            return;
        };
        let Ok(manifest) = ota_core::manifest::Manifest::decode(env.payload) else {
            return;
        };
        let ctx = DeviceContext {
            vendor_id: manifest.vendor_id,
            class_id: manifest.class_id,
            last_sequence: self.accepted_sequence,
            security_floor: 0,
            now: crate::clock::now_unix(),
            slot_capacity: 16 * 1024 * 1024,
            installed_version: Version::new(
                self.running.major,
                self.running.minor,
                self.running.patch,
            ),
        };
        let Ok(verified) = verify(offer.envelope, &store, &ctx) else {
            self.report(offer.sequence, Outcome::VerifyFailed).await;
            return;
        };
        let info = verified.image();
        self.download = Some(Download {
            release: offer.release,
            sequence: info.sequence,
            version: WireVersion::from(manifest.version),
            digest: info.image_digest,
            chunk_size: offer.chunk_size,
            chunks: offer.chunks,
            received: vec![None; offer.chunks as usize],
            asked: Instant::now(),
        });
        self.report(offer.sequence, Outcome::Started).await;
        self.request_chunks().await;
    }

    async fn chunk(&mut self, chunk: &wire::Chunk<'_>) -> Option<Note> {
        let d = self.download.as_mut()?;
        if chunk.release != d.release || chunk.bytes.len() > d.chunk_size as usize {
            return None;
        }
        *d.received.get_mut(chunk.index as usize)? = Some(chunk.bytes.to_vec());
        if d.received.iter().any(Option::is_none) || d.chunks == 0 {
            return None;
        }
        let d = self.download.take()?;
        let image: Vec<u8> = d.received.into_iter().flatten().flatten().collect();
        if ota_core::digest::ImageDigest::of(&image) != d.digest {
            self.report(d.sequence, Outcome::VerifyFailed).await;
            return None;
        }
        self.accepted_sequence = self.accepted_sequence.max(d.sequence);
        if (self.config.fails)(self.id, d.version) {
            self.reboot_cause = Some(RebootReason::Watchdog);
            self.boot = self.boot.wrapping_add(1);
            self.seq = 0;
            self.previous = None;
            self.report(d.sequence, Outcome::BootReverted).await;
            return None;
        }
        self.running = d.version;
        self.reboot_cause = Some(RebootReason::Ota);
        self.boot = self.boot.wrapping_add(1);
        self.seq = 0;
        self.previous = None;
        self.report(d.sequence, Outcome::Succeeded).await;
        Some(Note::Updated(d.version, d.sequence))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::packet::{Packet, Publish, decode};
    use bytes::{Bytes, BytesMut};

    #[test]
    fn the_wire_buffer_writes_what_the_broker_reads() {
        let mut w = WireBuffer::default();
        w.publish("fleet/v1/devices/7/up/frames", QoS::AtLeastOnce, b"abc");
        w.publish("t", QoS::AtMostOnce, b"");
        w.subscribe(&["fleet/v1/devices/7/down/+".to_string()]);
        w.publish("u", QoS::AtLeastOnce, b"z");
        let mut buf = BytesMut::from(&w.bytes[..]);
        let publish = |topic: &'static str, qos, pkid, payload: &'static [u8]| {
            Some(Packet::Publish(Publish {
                topic: Bytes::from_static(topic.as_bytes()),
                qos,
                pkid,
                payload: Bytes::from_static(payload),
            }))
        };
        assert_eq!(
            decode(&mut buf, 1_024).unwrap(),
            publish("fleet/v1/devices/7/up/frames", 1, 1, b"abc")
        );
        assert_eq!(decode(&mut buf, 1_024).unwrap(), publish("t", 0, 0, b""));
        assert_eq!(
            decode(&mut buf, 1_024).unwrap(),
            Some(Packet::Subscribe(
                2,
                vec![("fleet/v1/devices/7/down/+".to_string(), 1)]
            ))
        );
        assert_eq!(decode(&mut buf, 1_024).unwrap(), publish("u", 1, 3, b"z"));
        assert!(buf.is_empty(), "{} bytes left", buf.len());
    }
}
