//! Exports the stored history, heartbeats and update reports, as day-partitioned Parquet
//! (`telemetry_core::fleet::history`), for DuckDB, Spark or DataFusion to query directly.
//!
//! ```sh
//! cargo run -p fleet-server --features history --example export-history -- \
//!     --database fleet-data/fleet.db --out history
//! ```
//!
//! Heartbeats are rebuilt from the stored decoded vitals (battery, charging, temperature,
//! signal, firmware, reboot cause), not from the frames, so the export needs no delta
//! references; update reports get the version they tried to install from the releases table.
//! Reads in pages of `--page` rows by id, so memory stays bounded; one run writes one file per
//! table and day named `part-<run>.parquet` and never overwrites one. Ends with
//! `history: heartbeats=N update_reports=M days=D files=F out=DIR`.

use std::path::PathBuf;

use clap::Parser;
use fleet_server::db::{Db, DbError, Location, Val};
use telemetry_core::fleet::arrow::{ExportOptions, UpdateReportRow};
use telemetry_core::fleet::history::HistoryWriter;
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::{ChargingState, RebootReason, vitals};

/// Export fleet-server's history as Parquet.
#[derive(Debug, Parser)]
struct Args {
    /// `postgres://...` or a SQLite file.
    #[arg(long, default_value = "fleet-data/fleet.db")]
    database: String,
    /// The history directory (created; existing files are never overwritten).
    #[arg(long, default_value = "history")]
    out: PathBuf,
    /// Run id in the file names (default: the Unix time).
    #[arg(long)]
    run: Option<String>,
    /// Rows read per query.
    #[arg(long, default_value_t = 10_000)]
    page: i64,
}

fn reason_of(name: &str) -> Option<RebootReason> {
    Some(match name {
        "power_on" => RebootReason::PowerOn,
        "watchdog" => RebootReason::Watchdog,
        "brownout" => RebootReason::Brownout,
        "fault" => RebootReason::Fault,
        "ota" => RebootReason::Ota,
        "user" => RebootReason::User,
        "other" => RebootReason::Other,
        _ => return None,
    })
}

/// A heartbeat from one stored row (columns as selected in `run`), samples in id order.
fn heartbeat(r: &fleet_server::db::Row) -> Result<(u64, u64, Heartbeat<16>), DbError> {
    let (device, boot, seq, at) = (r.u64(0)?, r.u64(1)?, r.u64(2)?, r.u64(3)?);
    let interval = Interval {
        start_uptime_s: 0,
        len_s: 0,
        wall_start_unix_s: None,
        complete: false,
    };
    let mut hb = Heartbeat::new(
        u32::try_from(boot).unwrap_or(u32::MAX),
        u32::try_from(seq).unwrap_or(u32::MAX),
        interval,
    );
    let gauge = |v: i64| Value::Gauge(Gauge::last(v));
    let mut samples = Vec::new();
    if let Some(mv) = r.opt_int(5)? {
        samples.push((vitals::BATTERY_MV.id, gauge(mv)));
    }
    if let Some(p) = r.opt_int(4)? {
        samples.push((vitals::BATTERY_PCT.id, gauge(p)));
    }
    if let Some(c) = r.opt_int(6)? {
        let state = if c != 0 {
            ChargingState::Charging
        } else {
            ChargingState::Discharging
        };
        samples.push((vitals::CHARGING.id, Value::State(state as i64)));
    }
    if let Some(dbm) = r.opt_int(8)? {
        samples.push((vitals::RSSI_DBM.id, gauge(dbm)));
    }
    if let Some(dc) = r.opt_int(7)? {
        samples.push((vitals::TEMPERATURE_CENTI_C.id, gauge(dc * 10)));
    }
    if let Some(reason) = r.opt_text(10)?.as_deref().and_then(reason_of) {
        samples.push((vitals::REBOOT_REASON.id, Value::State(reason.code())));
    }
    if let Some(fw) = r.opt_int(9)? {
        samples.push((vitals::FIRMWARE_VERSION.id, Value::State(fw & 0x00ff_ffff)));
    }
    samples.sort_by_key(|(id, _)| id.0);
    for (id, v) in samples {
        // Sixteen slots hold the seven vitals above; ids are sorted, so no push fails.
        let _ = hb.push(id, v);
    }
    Ok((device, at, hb))
}

async fn run(args: Args) -> Result<String, String> {
    let db = Db::open(&Location::parse(&args.database), 1)
        .await
        .map_err(|e| format!("{}: {e}", args.database))?;
    let run = args
        .run
        .unwrap_or_else(|| format!("export-{}", fleet_server::clock::now_unix()));
    let mut w =
        HistoryWriter::new(&args.out, &run, ExportOptions::default()).map_err(|e| e.to_string())?;
    let page = args.page.clamp(1, 1_000_000);
    let mut last = 0i64;
    loop {
        let rows = db
            .read(move |c| {
                c.query(
                    "SELECT device_id, boot_id, seq, received_at, battery_pct, battery_mv, charging, temperature_dc, rssi_dbm, firmware, reboot_cause, id \
                     FROM heartbeats WHERE id > $1 ORDER BY id LIMIT $2",
                    &[Val::Int(last), Val::Int(page)],
                )
            })
            .await
            .map_err(|e| e.to_string())?;
        let Some(end) = rows.last() else { break };
        last = end.int(11).map_err(|e| e.to_string())?;
        for r in &rows {
            let (device, at, hb) = heartbeat(r).map_err(|e| e.to_string())?;
            w.push_heartbeat(device, at, &hb)
                .map_err(|e| e.to_string())?;
        }
    }
    let mut last = 0i64;
    loop {
        let rows = db
            .read(move |c| {
                c.query(
                    "SELECT u.device_id, u.at, u.outcome, u.running_version, r.version, u.id, \
                       (SELECT MAX(ro.id) FROM rollouts ro WHERE ro.release_id = r.id) \
                     FROM update_reports u LEFT JOIN releases r ON r.sequence = u.sequence \
                     WHERE u.id > $1 ORDER BY u.id LIMIT $2",
                    &[Val::Int(last), Val::Int(page)],
                )
            })
            .await
            .map_err(|e| e.to_string())?;
        let Some(end) = rows.last() else { break };
        last = end.int(5).map_err(|e| e.to_string())?;
        for r in &rows {
            let row = (|| {
                Ok::<_, DbError>(UpdateReportRow {
                    device_id: r.u64(0)?,
                    at_unix_s: r.u64(1)?,
                    rollout_id: r.opt_int(6)?,
                    from_version: None,
                    to_version: r.opt_text(4)?.unwrap_or_else(|| "unknown".to_string()),
                    outcome: r.text(2)?,
                    detail: Some(format!("running {} after the attempt", r.text(3)?)),
                })
            })()
            .map_err(|e| e.to_string())?;
            w.push_update_report(row).map_err(|e| e.to_string())?;
        }
    }
    let s = w.finish().map_err(|e| e.to_string())?;
    let days: std::collections::BTreeSet<&String> =
        s.heartbeats.keys().chain(s.update_reports.keys()).collect();
    Ok(format!(
        "history: heartbeats={} update_reports={} days={} files={} out={}",
        s.heartbeats.values().sum::<u64>(),
        s.update_reports.values().sum::<u64>(),
        days.len(),
        s.files.len(),
        args.out.display()
    ))
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
        Ok(line) => {
            println!("{line}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("export-history: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
