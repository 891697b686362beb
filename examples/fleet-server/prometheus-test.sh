#!/usr/bin/env bash
# A real Prometheus scrapes fleet-server's /metrics: starts fleet-server and the demo fleet
# (demo-env.sh), checks the exposition with `promtool check metrics`, runs Prometheus against
# it and asks its HTTP API for sums over the fleet families, which must equal the fleet totals.
# Ends with
#   prometheus: ok devices=N sum_by_hardware=N sum_by_firmware=N frames_total=F sum_frames_by_region=F
# or "SKIP: ..." (exit 0) when prometheus or promtool is not installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    echo "SKIP: prometheus test needs prometheus and promtool (Debian: apt-get install prometheus)"
    exit 0
fi
cargo build --quiet -p fleet-server --bin fleet-server --example demo
. examples/fleet-server/demo-env.sh
start_demo --devices 40 --unseen 3 --offline 2
# The exposition, checked by promtool (lint included).
curl -sf "http://127.0.0.1:$http/metrics" >"$work/metrics.txt"
if ! promtool check metrics <"$work/metrics.txt" >"$work/promtool.txt" 2>&1 || [ -s "$work/promtool.txt" ]; then
    echo "prometheus: FAIL promtool check metrics:"; cat "$work/promtool.txt"; exit 1
fi
pport=$(port)
cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: fleet-server
    static_configs:
      - targets: ["127.0.0.1:$http"]
YML
promtool check config "$work/prometheus.yml" >/dev/null
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$pport" >"$work/prometheus.log" 2>&1 &
pids+=($!)
python3 - "$pport" "$http" "$reader" <<'PY'
import json, sys, time, urllib.parse, urllib.request
pport, http, reader = sys.argv[1:]
def query(q, at=None):
    args = {"query": q} if at is None else {"query": q, "time": f"{at:.3f}"}
    url = f"http://127.0.0.1:{pport}/api/v1/query?" + urllib.parse.urlencode(args)
    r = json.load(urllib.request.urlopen(url, timeout=5))
    if r["status"] != "success":
        raise RuntimeError(r)
    return [float(x["value"][1]) for x in r["data"]["result"]]
def status():
    req = urllib.request.Request(f"http://127.0.0.1:{http}/v1/status", headers={"Authorization": "Bearer " + reader})
    return json.load(urllib.request.urlopen(req, timeout=5))
deadline = time.time() + 60
last = None
while time.time() < deadline:
    try:
        up = query('up{job="fleet-server"}')
        if up == [1.0]:
            devices = status()["devices"]["provisioned"]
            # One instant: every sum over a family equals the unlabelled fleet total.
            t = time.time()
            r = {k: query(v, t - 2) for k, v in {
                "devices": "sum(fleet_devices)",
                "hw": "sum(fleet_devices_by_hardware)",
                "fw": "sum(fleet_devices_by_firmware)",
                "region": "sum(fleet_devices_by_region)",
                "frames": "fleet_frames_total",
                "frames_region": "sum(fleet_frames_by_region_total)",
                "frames_fw": "sum(fleet_frames_by_firmware_total)",
            }.items()}
            last = r
            if all(len(v) == 1 for v in r.values()) and r["frames"][0] > 0:
                ok = r["devices"] == r["hw"] == r["fw"] == r["region"] == [float(devices)] \
                    and r["frames"] == r["frames_region"] == r["frames_fw"]
                if ok:
                    print(f"prometheus: ok devices={devices} sum_by_hardware={r['hw'][0]:.0f} sum_by_firmware={r['fw'][0]:.0f} "
                          f"frames_total={r['frames'][0]:.0f} sum_frames_by_region={r['frames_region'][0]:.0f}")
                    sys.exit(0)
    except (OSError, ValueError, RuntimeError) as e:
        last = repr(e)
    time.sleep(1)
print(f"prometheus: FAIL sums never matched the fleet totals: {last}")
sys.exit(1)
PY
