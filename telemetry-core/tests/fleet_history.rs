//! History as day-partitioned Parquet, read by DuckDB (the real client) with the documented
//! query; readable firmware versions and states; never overwritten.
#![cfg(feature = "arrow")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use telemetry_core::fleet::arrow::{ExportOptions, UpdateReportRow};
use telemetry_core::fleet::history::{DUCKDB_DAILY_FIRMWARE, HistoryError, HistoryWriter, utc_day};
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::{MetricId, OtaState, RebootReason, pack_version, vitals};

/// 2026-12-01T00:00:00Z.
const DAY1: u64 = 1_796_083_200;

fn root(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("history_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

fn heartbeat(
    seq: u32,
    battery: i64,
    fw: (u8, u8, u8),
    reboot: Option<RebootReason>,
) -> Heartbeat<16> {
    let interval = Interval {
        start_uptime_s: seq * 3600,
        len_s: 3600,
        wall_start_unix_s: None,
        complete: true,
    };
    let mut hb = Heartbeat::new(1, seq, interval);
    hb.push(vitals::BATTERY_PCT.id, Value::Gauge(Gauge::last(battery)))
        .unwrap();
    // Samples go in id order: reboot reason (12), OTA state (15), firmware (16).
    if let Some(r) = reboot {
        hb.push(vitals::REBOOT_REASON.id, Value::State(r.code()))
            .unwrap();
    }
    hb.push(vitals::OTA_STATE.id, Value::State(OtaState::Idle as i64))
        .unwrap();
    hb.push(
        vitals::FIRMWARE_VERSION.id,
        Value::State(pack_version(fw.0, fw.1, fw.2)),
    )
    .unwrap();
    hb.push(MetricId(0x0100), Value::Counter(7)).unwrap();
    hb
}

/// Two days: day 1 all 10 devices on 1.2.0; day 2 devices 0..4 on 1.3.0, the rest on 1.2.0.
fn write(root: &Path) -> telemetry_core::fleet::history::HistorySummary {
    let mut w = HistoryWriter::new(root, "run-1", ExportOptions::default()).unwrap();
    for day in 0..2u64 {
        for device in 0..10u64 {
            for hour in 0..3u64 {
                let fw = if day == 1 && device < 4 {
                    (1, 3, 0)
                } else {
                    (1, 2, 0)
                };
                let battery = 90 - (day * 3 + hour) as i64 - device as i64;
                let t = DAY1 + day * 86_400 + hour * 3600 + device;
                let reboot = (hour == 0 && day == 1 && device < 4).then_some(RebootReason::Ota);
                w.push_heartbeat(
                    device,
                    t,
                    &heartbeat((day * 3 + hour) as u32, battery, fw, reboot),
                )
                .unwrap();
            }
        }
    }
    for device in 0..4u64 {
        w.push_update_report(UpdateReportRow {
            device_id: device,
            at_unix_s: DAY1 + 86_400 + 60,
            rollout_id: Some(3),
            from_version: Some("1.2.0".into()),
            to_version: "1.3.0".into(),
            outcome: if device == 3 {
                "boot_reverted"
            } else {
                "succeeded"
            }
            .into(),
            detail: None,
        })
        .unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn days_and_layout() {
    assert_eq!(utc_day(0), "1970-01-01");
    assert_eq!(utc_day(DAY1), "2026-12-01");
    assert_eq!(utc_day(DAY1 + 86_399), "2026-12-01");
    assert_eq!(utc_day(DAY1 + 86_400), "2026-12-02");
    assert_eq!(utc_day(951_782_400), "2000-02-29");
    let r = root("layout");
    let s = write(&r);
    assert_eq!(s.heartbeats.get("2026-12-01"), Some(&30));
    assert_eq!(s.heartbeats.get("2026-12-02"), Some(&30));
    assert_eq!(s.metrics.get("2026-12-02"), Some(&30));
    assert_eq!(s.update_reports.get("2026-12-02"), Some(&4));
    assert_eq!(s.files.len(), 5);
    for f in &s.files {
        assert!(f.exists(), "{}", f.display());
    }
    assert!(
        r.join("heartbeats/day=2026-12-01/part-run-1.parquet")
            .exists()
    );
    assert!(
        r.join("update_reports/day=2026-12-02/part-run-1.parquet")
            .exists()
    );
    // The same run again is refused, and the files stay as they were.
    let before = std::fs::read(r.join("heartbeats/day=2026-12-01/part-run-1.parquet")).unwrap();
    let mut again = HistoryWriter::new(&r, "run-1", ExportOptions::default()).unwrap();
    let err = again
        .push_heartbeat(1, DAY1, &heartbeat(0, 50, (1, 2, 0), None))
        .unwrap_err();
    assert!(matches!(err, HistoryError::Exists(_)), "{err}");
    assert_eq!(
        before,
        std::fs::read(r.join("heartbeats/day=2026-12-01/part-run-1.parquet")).unwrap()
    );
    assert!(matches!(
        HistoryWriter::new(&r, "../x", ExportOptions::default()),
        Err(HistoryError::BadRunId(_))
    ));
}

fn duckdb(sql: &str) -> Option<Vec<serde_json::Value>> {
    let script = "import duckdb, json, sys\n\
rows = duckdb.sql(sys.argv[1]).fetchall()\n\
print(json.dumps([[str(c) if not isinstance(c, (int, float, str, type(None))) else c for c in r] for r in rows]))\n";
    let out = match Command::new("python3").args(["-c", script, sql]).output() {
        Ok(o) => o,
        Err(e) => {
            println!("SKIP: python3 not found ({e}); DuckDB query not run");
            return None;
        }
    };
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && err.contains("No module named 'duckdb'") {
        println!(
            "SKIP: the duckdb Python package is not installed (pip install duckdb); DuckDB query not run"
        );
        return None;
    }
    assert!(out.status.success(), "duckdb failed: {err}");
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn duckdb_runs_the_documented_query() {
    let r = root("duckdb");
    write(&r);
    let sql = DUCKDB_DAILY_FIRMWARE.replace("{root}", r.to_str().unwrap());
    let Some(rows) = duckdb(&sql) else { return };
    // day, firmware, heartbeats, devices, mean battery
    let want = serde_json::json!([
        ["2026-12-01", "1.2.0", 30, 10, 84.5],
        ["2026-12-02", "1.2.0", 18, 6, 79.5],
        ["2026-12-02", "1.3.0", 12, 4, 84.5],
    ]);
    assert_eq!(serde_json::Value::Array(rows), want);

    // States as words, update reports joined to heartbeats by device and day.
    let root_s = r.to_str().unwrap();
    let Some(rows) = duckdb(&format!(
        "SELECT r.outcome, count(DISTINCT r.device_id), min(h.last_reboot_reason_text), min(h.ota_state_text) \
         FROM read_parquet('{root_s}/update_reports/*/*.parquet', hive_partitioning = true) r \
         JOIN read_parquet('{root_s}/heartbeats/*/*.parquet', hive_partitioning = true) h \
           ON h.device_id = r.device_id AND h.day = r.day AND h.last_reboot_reason_text IS NOT NULL \
         GROUP BY ALL ORDER BY ALL"
    )) else {
        return;
    };
    assert_eq!(
        serde_json::Value::Array(rows),
        serde_json::json!([
            ["boot_reverted", 1, "ota", "idle"],
            ["succeeded", 3, "ota", "idle"]
        ])
    );
    // Unsigned ids and the product-metric table come through too.
    let Some(rows) = duckdb(&format!(
        "SELECT typeof(device_id), count(*), sum(value) FROM read_parquet('{root_s}/metrics/*/*.parquet', hive_partitioning = true) GROUP BY ALL"
    )) else {
        return;
    };
    assert_eq!(
        serde_json::Value::Array(rows),
        serde_json::json!([["UBIGINT", 60, 420]])
    );
}
