#!/usr/bin/env bash
# Builds the embassy application for thumbv7em-none-eabihf, runs it under QEMU (mps2-an386,
# Cortex-M4) with semihosting, and ends with the application's `embassy-app: ok ...` line.
# Exits non-zero if the build fails, if the application reports a failure (semihosting exit
# status) or if its last line is not the `ok` line.
#
# Needs: cargo, the thumbv7em-none-eabihf target (rustup target add thumbv7em-none-eabihf) and
# qemu-system-arm (Debian/Ubuntu: apt-get install qemu-system-arm).
set -euo pipefail
cd "$(dirname "$0")"

TARGET=thumbv7em-none-eabihf
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
ELF="$CARGO_TARGET_DIR/$TARGET/release/embassy-app"

command -v qemu-system-arm >/dev/null || { echo "run.sh: qemu-system-arm not found (apt-get install qemu-system-arm)" >&2; exit 1; }

cargo build --quiet --release --target "$TARGET"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
timeout 120 qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic \
  -semihosting-config enable=on,target=native -kernel "$ELF" | tee "$log" || status=$?
if [ "$status" != 0 ]; then
  echo "run.sh: embassy-app exited with status $status" >&2
  exit 1
fi
case "$(tail -n 1 "$log" | tr -d '\r')" in
  "embassy-app: ok "*) ;;
  *) echo "run.sh: the application's last line is not 'embassy-app: ok ...'" >&2; exit 1 ;;
esac
