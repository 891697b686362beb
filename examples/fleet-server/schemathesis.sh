#!/usr/bin/env bash
# Fuzzes the HTTP API from its OpenAPI document with schemathesis for a bounded time:
# no response may be a 5xx, and every response must match the document.
#   examples/fleet-server/schemathesis.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-120}
bin=${FLEET_SERVER_BIN:-target/debug/fleet-server}
[ -x "$bin" ] || cargo build -q -p fleet-server --bin fleet-server
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --http 127.0.0.1:$port --mqtt-listen 127.0.0.1:$mport --data-dir "$dir" \
  --operator-token schemathesis-operator >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 600); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
st run "http://127.0.0.1:$port/openapi.json" \
  --header "Authorization: Bearer schemathesis-operator" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-time "$seconds" --seed 1 --suppress-health-check all --no-color
if grep -qi panick "$dir/server.log"; then
  echo "fleet-server panicked during the fuzz run:"; cat "$dir/server.log"; exit 1
fi
echo "schemathesis: no server error, every response as documented (${seconds} s)"
