#!/usr/bin/env bash
# History any engine can query: runs fleet-server and the demo fleet (demo-env.sh) with a
# rollout, exports the database with `--example export-history` into day-partitioned Parquet,
# and has DuckDB count the rows and read the readable columns. Ends with
#   history: duckdb ok heartbeats=N update_reports=M firmware=[...]
# or "SKIP: ..." (exit 0) when the duckdb Python package is not installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! python3 -c 'import duckdb' >/dev/null 2>&1; then
    echo "SKIP: history test needs the duckdb Python package (pip install duckdb)"
    exit 0
fi
cargo build --quiet -p fleet-server --bin fleet-server --example demo
cargo build --quiet -p fleet-server --features history --example export-history
. examples/fleet-server/demo-env.sh
start_demo --devices 30 --unseen 0 --offline 0
# A rollout so that update reports exist: one stage, every device.
plan='{"channel": "Stable", "flap": {"max_rollbacks": 2, "window_secs": 604800}, "rate": null, "window": null,
  "gates": [{"alpha_bp": 500, "baseline": null, "kind": {"FailureRatio": {"max_bp": 5000}}, "min_control_samples": 0,
             "min_events": 0, "min_samples": 0, "mode": "Enforce", "pause_alpha_bp": 1000}],
  "stages": [{"gates": 255, "manual_approval": false, "min_reported_bp": 6000, "min_trials": 0,
              "size": {"Percent": 10000}, "soak_secs": 1}]}'
curl -sf -H "Authorization: Bearer $operator" -H 'Content-Type: application/json' \
    -d "{\"release_id\": $candidate, \"previous_release_id\": $factory, \"plan\": $plan}" \
    "http://127.0.0.1:$http/v1/rollouts" >/dev/null
sleep 8
target/debug/examples/export-history --database "$work/data/fleet.db" --out "$work/history" --run ci | tee "$work/export.txt"
python3 - "$work/history" "$work/export.txt" <<'PY'
import re, sys, duckdb
root, export = sys.argv[1], open(sys.argv[2]).read()
want = {k: int(v) for k, v in re.findall(r"(heartbeats|update_reports)=(\d+)", export)}
# The query documented in telemetry_core::fleet::history.
daily = duckdb.sql(f"""
SELECT day, firmware_version_text AS firmware, count(*) AS heartbeats, count(DISTINCT device_id) AS devices,
       round(avg(battery_pct_last), 1) AS mean_battery_pct
FROM read_parquet('{root}/heartbeats/*/*.parquet', hive_partitioning = true)
GROUP BY ALL ORDER BY day, firmware""").fetchall()
hb = sum(r[2] for r in daily)
reports = duckdb.sql(f"SELECT count(*) FROM read_parquet('{root}/update_reports/*/*.parquet', hive_partitioning = true)").fetchall()[0][0] \
    if want.get("update_reports") else 0
firmware = sorted({r[1] for r in daily if r[1]})
if hb != want["heartbeats"] or reports != want.get("update_reports", 0) or hb == 0 or reports == 0 or "1.0.0" not in firmware:
    print(f"history: FAIL duckdb read heartbeats={hb} update_reports={reports} firmware={firmware}, the export said {want}")
    sys.exit(1)
print(f"history: duckdb ok heartbeats={hb} update_reports={reports} firmware={firmware}")
PY
