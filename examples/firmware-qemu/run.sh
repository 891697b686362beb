#!/usr/bin/env bash
# Builds the firmware for thumbv7em-none-eabihf, runs it under QEMU (mps2-an386, Cortex-M4) with
# deterministic instruction counting, and ends with the firmware's `firmware: ok ...` line.
# Exits non-zero if the build fails, if any firmware step fails (semihosting exit status), or if
# a deliberately corrupted build does not fail.
#
# Needs: cargo, the thumbv7em-none-eabihf target (rustup target add thumbv7em-none-eabihf) and
# qemu-system-arm (Debian/Ubuntu: apt-get install qemu-system-arm).
set -euo pipefail
cd "$(dirname "$0")"

TARGET=thumbv7em-none-eabihf
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
ELF="$CARGO_TARGET_DIR/$TARGET/release/firmware-qemu"
# -icount shift=0: one virtual nanosecond per instruction, so SysTick counts instructions.
QEMU=(qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic
      -semihosting-config enable=on,target=native -icount shift=0)

command -v qemu-system-arm >/dev/null || { echo "run.sh: qemu-system-arm not found (apt-get install qemu-system-arm)" >&2; exit 1; }
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$TARGET"; then
  echo "run.sh: target $TARGET not installed (rustup target add $TARGET)" >&2; exit 1
fi

build() { cargo build --quiet --release --target "$TARGET"; }
run() { timeout 120 "${QEMU[@]}" -kernel "$ELF"; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# A corrupted build must fail, at the step that checks what was corrupted.
expect_failure() { # $1: what to corrupt, $2: the step that must catch it
  echo "--- corrupted build (FIRMWARE_CORRUPT=$1): must fail at step $2"
  FIRMWARE_CORRUPT="$1" build
  local status=0
  run >"$log" 2>&1 || status=$?
  if [ "$status" = 0 ] || ! grep -q "^firmware: FAILED step=$2:" "$log"; then
    cat "$log" >&2
    echo "run.sh: the build with FIRMWARE_CORRUPT=$1 did not fail at step $2 (exit status $status)" >&2
    exit 1
  fi
  grep "^firmware: FAILED" "$log"
  echo "ok: it failed as it must (exit status $status)"
}
expect_failure image decrypt
expect_failure signature verify

echo "--- building firmware"
build

echo "--- running firmware under QEMU"
status=0
run | tee "$log" || status=$?
if [ "$status" != 0 ]; then
  echo "run.sh: firmware exited with status $status" >&2
  exit 1
fi
final=$(tail -n 1 "$log" | tr -d '\r')
case "$final" in
  "firmware: ok "*) ;;
  *) echo "run.sh: the firmware's last line is not 'firmware: ok ...'" >&2; exit 1 ;;
esac
