#!/usr/bin/env bash
# The dashboard in a real browser: starts fleet-server with its embedded defaults (embedded
# MQTT broker, SQLite) in a fresh directory, runs the demo fleet against it, and drives
# headless Chromium through every page with chromedriver (browser_test.py). Screenshots go to
# target/browser-screenshots/. Ends with
#   browser: ok pages=N console_errors=0
# or "SKIP: ..." (exit 0) when Chromium or chromedriver is not installed.
# Usage: examples/fleet-server/browser-test.sh   (CHROMIUM=..., CHROMEDRIVER=... to override)
set -euo pipefail
cd "$(dirname "$0")/../.."
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
chromedriver=${CHROMEDRIVER:-$(command -v chromedriver || true)}
if [ -z "$chromium" ] || [ -z "$chromedriver" ]; then
    echo "SKIP: browser test needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver)"
    exit 0
fi
if ! command -v python3 >/dev/null; then
    echo "SKIP: browser test needs python3 to drive chromedriver"
    exit 0
fi
cargo build --quiet -p fleet-server --bin fleet-server --example demo
out=target/browser-screenshots
rm -rf "$out" && mkdir -p "$out"
. examples/fleet-server/demo-env.sh
start_demo
status=0
python3 examples/fleet-server/browser_test.py --base "http://127.0.0.1:$http" --operator "$operator" \
    --reader "$reader" --factory "$factory" --candidate "$candidate" --chromium "$chromium" \
    --chromedriver "$chromedriver" --out "$out" || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- server log"; tail -30 "$work/server.log"; echo "--- demo log"; tail -30 "$work/demo.log"
    exit "$status"
fi
