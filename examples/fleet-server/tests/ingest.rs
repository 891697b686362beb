//! Frames from devices over MQTT: committed, then acknowledged, stored once.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use core::time::Duration;
use std::sync::{Arc, Mutex};

use fleet_server::db::DbError;
use fleet_server::device::{Device, DeviceConfig, Note};
use serde_json::json;

async fn count(h: &common::Harness, sql: &'static str) -> i64 {
    h.running
        .shared
        .db
        .read(move |c| {
            c.query_opt(sql, &[])
                .map(|r| r.map_or(0, |r| r.int(0).unwrap_or(-1)))
        })
        .await
        .map_err(|e: DbError| e)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_are_committed_then_acked_and_stored_once() {
    let h = common::start("ingest", |_| {}).await;
    let base = common::id_base();
    let devices: Vec<serde_json::Value> = (1..=3)
        .map(|i| json!({"id": base + i, "hardware": "B"}))
        .collect();
    common::register(&h, &devices).await;
    let committed = Arc::new(Mutex::new(Vec::new()));
    for id in (1..=3u64).map(|i| base + i) {
        let (mut dev, mut ev) = Device::connect(&h.broker, id, 7, DeviceConfig::default());
        let committed = committed.clone();
        tokio::spawn(async move {
            let mut sent = 0;
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            loop {
                tokio::select! {
                    e = ev.poll() => match e {
                        Ok(e) => for n in dev.handle(e).await {
                            if let Note::Committed(b, s, _) = n {
                                committed.lock().unwrap().push((id, b, s));
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
        common::eventually(20, || committed.lock().unwrap().len() == 60).await,
        "acked {} of 60",
        committed.lock().unwrap().len()
    );
    assert_eq!(
        count(&h, "SELECT CAST(COUNT(*) AS BIGINT) FROM heartbeats").await,
        60
    );
    // Every acked frame is in the database.
    let acked = committed.lock().unwrap().clone();
    for (id, boot, seq) in acked {
        let n = h
            .running
            .shared
            .db
            .read(move |c| {
                c.query_opt(
                    "SELECT CAST(COUNT(*) AS BIGINT) FROM heartbeats WHERE device_id = $1 AND boot_id = $2 AND seq = $3",
                    &[id.into(), boot.into(), seq.into()],
                )
                .map(|r| r.map_or(0, |r| r.int(0).unwrap_or(0)))
            })
            .await
            .unwrap();
        assert_eq!(n, 1, "device {id} boot {boot} seq {seq}");
    }
    let dev = h
        .reader
        .get(&format!("/v1/devices/{}", base + 2))
        .await
        .unwrap();
    assert_eq!(dev.status, 200);
    assert_eq!(dev.json()["device"]["frames"], 20, "{}", dev.body);
    assert_eq!(dev.json()["device"]["link"], "online");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_senders_get_nothing_and_cost_nothing() {
    let h = common::start("unknown", |_| {}).await;
    let stranger = common::id_base() + 99;
    let (mut dev, mut ev) = Device::connect(&h.broker, stranger, 1, DeviceConfig::default());
    let notes = Arc::new(Mutex::new(Vec::new()));
    let n2 = notes.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let mut sent = 0;
        loop {
            tokio::select! {
                e = ev.poll() => if let Ok(e) = e { let got = dev.handle(e).await; n2.lock().unwrap().extend(got) },
                _ = tick.tick(), if sent < 50 => { dev.send_heartbeat().await; sent += 1; }
            }
        }
    });
    let shared = h.running.shared.clone();
    assert!(
        common::eventually(10, || shared
            .fleet
            .lock()
            .unwrap()
            .stats()
            .unknown_sender_messages
            >= 50)
        .await
    );
    assert!(
        notes.lock().unwrap().is_empty(),
        "an unknown device got an answer"
    );
    assert_eq!(h.running.shared.fleet.lock().unwrap().registry().len(), 0);
    assert_eq!(
        count(&h, "SELECT CAST(COUNT(*) AS BIGINT) FROM heartbeats").await,
        0
    );
    let status = h.reader.get("/v1/status").await.unwrap();
    let recent = status.json()["ingest"]["recent_unknown_senders"].clone();
    assert!(
        recent.as_array().unwrap().contains(&json!(stranger)),
        "{}",
        status.body
    );
}
