//! The embedded broker's per-client limits: one client flooding it cannot starve the devices, and it takes
//! no more clients than its limit.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use core::time::Duration;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use fleet_server::broker::Limits;
use fleet_server::device::{Device, DeviceConfig, Note};
use fleet_server::topic::{self, Up};
use rumqttc::{AsyncClient, QoS};
use serde_json::json;

const RATE: u64 = 16 * 1024;
const BURST: u64 = 32 * 1024;

fn external() -> bool {
    if std::env::var("FLEET_TEST_MQTT").is_ok() {
        eprintln!(
            "SKIP: these limits belong to the embedded broker; FLEET_TEST_MQTT names an external one"
        );
        return true;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_client_is_held_to_its_budget_and_devices_keep_reporting() {
    if external() {
        return;
    }
    let h = common::start("guard", |c| {
        c.broker_limits = Limits {
            max_connections: 64,
            bytes_per_s: RATE,
            burst_bytes: BURST,
            ..Limits::default()
        };
    })
    .await;
    let base = common::id_base();
    let ids: Vec<u64> = (1..=3).map(|i| base + i).collect();
    let devices: Vec<_> = ids.iter().map(|id| json!({"id": id})).collect();
    common::register(&h, &devices).await;

    // The flood: one connection, spoofed ids, 40-byte garbage frames, as fast as it can.
    let stop = Arc::new(AtomicBool::new(false));
    let offered = Arc::new(AtomicU64::new(0));
    let mut o = fleet_server::mqtt::options(&h.broker, &format!("flood-{base}"));
    o.set_inflight(1_000);
    let (client, mut ev) = AsyncClient::new(o, 1_000);
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    {
        let (stop, offered) = (stop.clone(), offered.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Relaxed) {
                let topic = topic::up(10_000_000_000 + i % 100_000, Up::Frames);
                if client
                    .publish(topic, QoS::AtMostOnce, false, vec![0x55u8; 40])
                    .await
                    .is_err()
                {
                    return;
                }
                offered.fetch_add(1, Relaxed);
                i += 1;
            }
        });
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Real devices during the flood: 20 heartbeats each, 100 ms apart.
    let committed = Arc::new(Mutex::new(0u64));
    for &id in &ids {
        let (mut dev, mut ev) = Device::connect(&h.broker, id, 1, DeviceConfig::default());
        let committed = committed.clone();
        tokio::spawn(async move {
            let mut sent = 0;
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    e = ev.poll() => match e {
                        Ok(e) => for n in dev.handle(e).await {
                            if matches!(n, Note::Committed(..)) {
                                *committed.lock().unwrap() += 1;
                            }
                        },
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    },
                    _ = tick.tick(), if sent < 20 => { dev.send_heartbeat().await; sent += 1; }
                }
            }
        });
    }
    assert!(
        common::eventually(20, || *committed.lock().unwrap() == 60).await,
        "devices starved: {} of 60 frames committed during the flood",
        committed.lock().unwrap()
    );
    let elapsed = started.elapsed().as_secs_f64();
    let unknown = h
        .running
        .shared
        .fleet
        .lock()
        .unwrap()
        .stats()
        .unknown_sender_messages;
    stop.store(true, Relaxed);
    // Each flood message is at least 40 + 2 + 2 + 36 bytes on the wire.
    let bound = (BURST as f64 + RATE as f64 * (elapsed + 1.0)) / 80.0;
    assert!(unknown > 0, "the flood never reached the service");
    assert!(
        (unknown as f64) <= bound,
        "the flood got {unknown} messages through in {elapsed:.1} s, over the budget's {bound:.0}"
    );
    eprintln!(
        "flood: {} offered by the client, {unknown} reached the service in {elapsed:.1} s",
        offered.load(Relaxed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_past_the_limit_are_closed_at_accept() {
    if external() {
        return;
    }
    // The service's two connections (uplink, downlink) come on top of the limit; one
    // more socket fits.
    let h = common::start("guard-limit", |c| {
        c.broker_limits = Limits {
            max_connections: 1,
            ..Limits::default()
        };
    })
    .await;
    use tokio::io::AsyncReadExt as _;
    let addr = format!("{}:{}", h.broker.host, h.broker.port);
    let mut third = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut fourth = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut buf = [0u8; 8];
    let closed = tokio::time::timeout(Duration::from_secs(5), fourth.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the fourth client was not closed: {closed:?}"
    );
    let open = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(open.is_err(), "the third client was closed: {open:?}");
}
