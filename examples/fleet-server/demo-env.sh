# Sourced by browser-test.sh and prometheus-test.sh: starts fleet-server with its embedded
# defaults (embedded MQTT broker, SQLite) in a fresh directory and the demo fleet against it.
# Sets: work http mqtt operator reader factory candidate; kills both and removes $work on exit.
# Needs: target/debug/fleet-server and target/debug/examples/demo (cargo build -p fleet-server
# --bin fleet-server --example demo).
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_demo() {
    work=$(mktemp -d -t fleet-demo-XXXXXX)
    http=$(port); mqtt=$(port)
    operator=op-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')
    reader=rd-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')
    target/debug/fleet-server --http "127.0.0.1:$http" --mqtt-listen "127.0.0.1:$mqtt" --data-dir "$work/data" \
        --operator-token "$operator" --read-token "$reader" --decide-every 0.5 --sweep-every 1 --offline-floor 5 \
        >"$work/server.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 600); do
        curl -sf "http://127.0.0.1:$http/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    target/debug/examples/demo --http "127.0.0.1:$http" --mqtt "127.0.0.1:$mqtt" --data-dir "$work/data" \
        --token "$operator" --ready "$work/ready.json" "$@" >"$work/demo.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1200); do
        [ -s "$work/ready.json" ] && break
        sleep 0.1
    done
    if [ ! -s "$work/ready.json" ]; then
        echo "FAIL: the demo fleet did not start"; cat "$work/server.log" "$work/demo.log"; exit 1
    fi
    factory=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["factory"])' "$work/ready.json")
    candidate=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["candidate"])' "$work/ready.json")
}
