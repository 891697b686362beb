#!/usr/bin/env bash
# SIGKILL fleet-server at random points during rollouts with devices reporting, restart it each
# time, and check that nothing acknowledged was lost. Ends with
#   crash: kills=N lost_frames=0 lost_decisions=0 duplicate_sequences=0 resumed=N
# Usage: examples/fleet-server/crash-test.sh --kills N [--database postgres://...] [--mqtt mqtt://...] [--seed S]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p fleet-server --bin fleet-server --example crash
exec target/release/examples/crash --server target/release/fleet-server "$@"
