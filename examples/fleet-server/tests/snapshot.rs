//! Fleet snapshots: written by the live pipeline with the commit of the batch they follow, a
//! restart restores the newest and replays only the heartbeats after its watermark, and that
//! gives the same fleet as replaying the whole history; a snapshot this build cannot read is
//! refused with a typed error and the restore replays everything instead.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
use core::time::Duration;
use std::sync::Arc;

use fleet_server::db::{DbError, Val};
use fleet_server::device::{Device, DeviceConfig};
use fleet_server::fleet::{Fleet, FleetConfig, METRICS};
use fleet_server::persist::{self, Restored, SnapshotError, Source};
use serde_json::json;
use telemetry_core::fleet::registry::DeviceRecord;
use telemetry_core::heartbeat::Heartbeat;

type View = (
    Vec<(DeviceRecord, String, String, String)>,
    Vec<(u64, Heartbeat<METRICS>)>,
);

/// Everything a restore rebuilds, in a comparable form.
fn view(f: &Fleet) -> View {
    let reg = f.registry();
    let mut records: Vec<_> = reg
        .iter()
        .map(|r| {
            (
                *r,
                reg.hardware_name(r.hardware).to_string(),
                reg.lot_name(r.lot).to_string(),
                reg.region_name(r.region).to_string(),
            )
        })
        .collect();
    records.sort_by_key(|(r, ..)| r.id);
    let refs = f
        .reference_entries()
        .into_iter()
        .map(|(d, h)| (d, h.clone()))
        .collect();
    (records, refs)
}

async fn int(h: &common::Harness, sql: &'static str, p: Vec<Val>) -> i64 {
    h.running
        .shared
        .db
        .read(move |c| {
            c.query_opt(sql, &p)
                .map(|r| r.map_or(0, |r| r.int(0).unwrap_or(-1)))
        })
        .await
        .map_err(|e: DbError| e)
        .unwrap()
}

async fn restore(h: &common::Harness, source: Source, now: u64) -> (Fleet, Restored) {
    let (fleet, _, done) = h
        .running
        .shared
        .db
        .read(move |c| persist::restore(c, FleetConfig::default(), 7, now, source))
        .await
        .unwrap();
    (fleet, done)
}

/// Devices sending heartbeats every 20 ms (a delta between key frames) while `sending` holds.
fn run_devices(h: &common::Harness, ids: &[u64], sending: &Arc<AtomicBool>) {
    for &id in ids {
        let (mut dev, mut ev) = Device::connect(&h.broker, id, 3, DeviceConfig::default());
        let sending = sending.clone();
        tokio::spawn(async move {
            // First heartbeat once connected (one sent before the CONNACK is sent again after
            // it: a duplicate).
            let start = tokio::time::Instant::now() + Duration::from_millis(500);
            let mut tick = tokio::time::interval_at(start, Duration::from_millis(20));
            loop {
                tokio::select! {
                    e = ev.poll() => match e {
                        Ok(e) => { dev.handle(e).await; }
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    },
                    _ = tick.tick() => {
                        if sending.load(Relaxed) { dev.send_heartbeat().await; }
                    }
                }
            }
        });
    }
}

/// Waits until the heartbeat count stops moving (the same count three readings in a row, so a
/// stalled commit on a loaded machine is not taken for the end), and returns it.
async fn drained(h: &common::Harness) -> i64 {
    let total_sql = "SELECT CAST(COUNT(*) AS BIGINT) FROM heartbeats";
    let (mut total, mut same) = (-1, 0);
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = int(h, total_sql, vec![]).await;
        if now == total {
            same += 1;
            if same == 3 {
                break;
            }
        } else {
            (total, same) = (now, 0);
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_replays_only_the_tail_and_matches_a_full_replay() {
    let h = common::start("snapshot", |c| c.snapshot_every = Duration::from_secs(1)).await;
    let base = common::id_base();
    let ids: Vec<u64> = (1..=4).map(|i| base + i).collect();
    let devices: Vec<_> = ids
        .iter()
        .map(|id| json!({"id": id, "hardware": "B", "lot": "L1", "region": "eu"}))
        .collect();
    common::register(&h, &devices).await;
    let sending = Arc::new(AtomicBool::new(true));
    run_devices(&h, &ids, &sending);
    let snapshots = || h.running.shared.metrics.snapshots.load(Relaxed);
    // Send until a snapshot is written (the second or later), keep sending a moment for a tail,
    // then stop and let the pipeline drain. A snapshot that lands after the tail (the machine
    // stalled the stop past the next one) leaves no tail: send again for a new one.
    let mut total = 0;
    for attempt in 0.. {
        assert!(attempt < 5, "no snapshot followed by a tail in 5 tries");
        let before = snapshots().max(1);
        sending.store(true, Relaxed);
        assert!(common::eventually(20, || snapshots() > before).await);
        let at = snapshots();
        tokio::time::sleep(Duration::from_millis(300)).await;
        sending.store(false, Relaxed);
        total = drained(&h).await;
        if snapshots() == at {
            break;
        }
    }
    let watermark = int(
        &h,
        "SELECT watermark FROM snapshots WHERE name = 'fleet'",
        vec![],
    )
    .await;
    let tail = int(
        &h,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM heartbeats WHERE id > $1",
        vec![Val::Int(watermark)],
    )
    .await;
    assert!(watermark > 0, "no snapshot was written");
    assert!(
        tail > 0 && tail < total,
        "the test needs a tail: {tail} of {total}"
    );
    assert!(h.running.shared.metrics.snapshots.load(Relaxed) >= 2);

    let now = fleet_server::clock::now_unix();
    let (from_snapshot, done) = restore(&h, Source::Snapshot, now).await;
    assert_eq!(done.snapshot_watermark, Some(watermark));
    assert_eq!(done.snapshot_refused, None);
    assert_eq!(done.heartbeats, tail as u64, "replayed only the tail");
    let (full, all) = restore(&h, Source::History, now).await;
    assert_eq!(all.heartbeats, total as u64);
    assert_eq!(all.snapshot_watermark, None);
    // A re-sent duplicate has no row, so only the live state (and a snapshot of it) counts
    // it (see `persist`); the devices start after their connection is up, so there are none.
    assert_eq!(
        h.running.shared.metrics.duplicate_heartbeats.load(Relaxed),
        0
    );
    let v = view(&from_snapshot);
    assert_eq!(v.0.len(), 4);
    assert!(v.0.iter().all(|(r, hw, ..)| r.frames > 0 && hw == "B"));
    assert_eq!(v.1.len(), 4, "every device has its delta reference back");
    assert_eq!(v, view(&full), "snapshot + tail == full replay");
    // And both are the live fleet (the restore's sweep at `now` changes nothing here: the
    // devices were seen a moment ago).
    assert_eq!(
        v,
        view(&h.running.shared.fleet.lock().unwrap()),
        "restore == live"
    );

    // A snapshot of a format this build does not know: refused with the reason, full replay.
    h.running
        .shared
        .db
        .write(|c| {
            c.execute(
                "UPDATE snapshots SET body = $1 WHERE name = 'fleet'",
                &[Val::from(&[2u8, 0, 0, 0][..])],
            )
        })
        .await
        .map_err(|e: DbError| e)
        .unwrap();
    let (fallback, done) = restore(&h, Source::Snapshot, now).await;
    assert_eq!(done.snapshot_watermark, None);
    assert_eq!(
        done.snapshot_refused.as_deref(),
        Some("fleet snapshot format 2 is not supported by this build: expected 1")
    );
    assert_eq!(done.heartbeats, total as u64);
    assert_eq!(view(&fallback), view(&full));
}

#[test]
fn damaged_or_foreign_snapshots_are_refused_with_what_is_wrong() {
    let config = FleetConfig::default();
    let mut fleet = Fleet::new(config, 1);
    fleet
        .provision(
            5,
            &telemetry_core::fleet::registry::DeviceAttributes::default(),
        )
        .unwrap();
    let good = persist::encode_snapshot(&fleet);
    assert_eq!(good[0], persist::SNAPSHOT_FORMAT);
    let back = persist::decode_snapshot(&good, config, 2).unwrap();
    assert_eq!(view(&back), view(&fleet));

    assert_eq!(
        persist::decode_snapshot(&[], config, 2).err(),
        Some(SnapshotError::Empty)
    );
    let mut foreign = good.clone();
    foreign[0] = 9;
    assert_eq!(
        persist::decode_snapshot(&foreign, config, 2).err(),
        Some(SnapshotError::UnsupportedFormat {
            found: 9,
            expected: 1
        })
    );
    for cut in [1, good.len() / 2, good.len() - 1] {
        assert!(
            matches!(
                persist::decode_snapshot(&good[..cut], config, 2),
                Err(SnapshotError::Malformed(_))
            ),
            "cut at {cut}"
        );
    }
    let mut long = good.clone();
    long.push(0);
    assert!(matches!(
        persist::decode_snapshot(&long, config, 2),
        Err(SnapshotError::Malformed(m)) if m.contains("1 bytes left over")
    ));
    let mut other = config;
    other.offline.floor_s += 1;
    assert!(matches!(
        persist::decode_snapshot(&good, other, 2),
        Err(SnapshotError::PolicyChanged { .. })
    ));
}
