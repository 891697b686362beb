#!/usr/bin/env bash
# Builds libfleet_ota.a for thumbv7em-none-eabihf, links the C program c/qemu_main.c against it
# with arm-none-eabi-gcc, runs it under QEMU (mps2-an386, Cortex-M4, -icount shift=0) and ends
# with the program's `capi: ok update_instr=U decide_instr=D confirm_instr=C` line.
# Exits non-zero if any build fails, the program fails a step (semihosting exit status), or a
# build with a corrupted manifest signature does not fail at verify.
#
# Needs: cargo, the thumbv7em-none-eabihf target, arm-none-eabi-gcc with newlib
# (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi) and qemu-system-arm.
set -euo pipefail
cd "$(dirname "$0")"

TARGET=thumbv7em-none-eabihf
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
OUT="$CARGO_TARGET_DIR/capi-qemu"
LIB="$CARGO_TARGET_DIR/$TARGET/release/libfleet_ota.a"
CFLAGS=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 -g -std=c11
        -Wall -Wextra -Werror -Wno-unused-function -Wno-unused-const-variable
        -ffunction-sections -fdata-sections -Iinclude -Ic)
QEMU=(qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic
      -semihosting-config enable=on,target=native -icount shift=0)

for tool in qemu-system-arm arm-none-eabi-gcc; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 1; }
done
mkdir -p "$OUT"

echo "--- test vectors (host)"
cargo run --quiet --example make_vectors -- "$OUT/fleet_ota_vectors.h"

echo "--- libfleet_ota.a for $TARGET"
cargo build --quiet --release --lib --target "$TARGET"
size -t "$LIB" 2>/dev/null | tail -n 1 | awk '{print "libfleet_ota.a: text+data+bss of all members " $4 " bytes (before linking drops unused code)"}' || true

link() { # $1: directory of fleet_ota_vectors.h, $2: output ELF
  arm-none-eabi-gcc "${CFLAGS[@]}" -I"$1" -nostartfiles -T c/qemu.ld c/startup.c c/qemu_main.c \
    c/flow.c "$LIB" --specs=nano.specs -lc -lgcc -Wl,--gc-sections -Wl,--no-warn-execstack -o "$2"
}
# Semihosting SYS_WRITE0 output arrives on QEMU's stderr.
run() { timeout 300 "${QEMU[@]}" -kernel "$1"; }

echo "--- C program (arm-none-eabi-gcc)"
link "$OUT" "$OUT/capi.elf"
arm-none-eabi-size "$OUT/capi.elf"

# The same program with the envelope swapped for one whose signature has a flipped bit must
# fail at verify.
echo "--- corrupted signature: the program must fail at verify"
mkdir -p "$OUT/bad"
sed -e 's/^static const uint8_t FV_ENVELOPE\[/static const uint8_t FV_ENVELOPE_GOOD[/' \
    -e 's/^static const uint8_t FV_ENVELOPE_BAD_SIGNATURE\[/static const uint8_t FV_ENVELOPE[/' \
    "$OUT/fleet_ota_vectors.h" > "$OUT/bad/fleet_ota_vectors.h"
link "$OUT/bad" "$OUT/capi-bad.elf"
status=0
bad_log=$(run "$OUT/capi-bad.elf" 2>&1) || status=$?
if [ "$status" = 0 ] || ! grep -q "^capi: FAILED step=verify: FLEET_OTA_ERR_SIGNATURE" <<<"$bad_log"; then
  echo "$bad_log" >&2
  echo "run.sh: the corrupted build did not fail at verify with FLEET_OTA_ERR_SIGNATURE (exit $status)" >&2
  exit 1
fi
grep "^capi: FAILED" <<<"$bad_log"
echo "ok: it failed as it must (exit status $status)"

echo "--- running under QEMU"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
run "$OUT/capi.elf" 2>&1 | tee "$log" || status=$?
if [ "$status" != 0 ]; then
  echo "run.sh: the program exited with status $status" >&2
  exit 1
fi
final=$(tail -n 1 "$log" | tr -d '\r')
case "$final" in
  "capi: ok "*) ;;
  *) echo "run.sh: the program's last line is not 'capi: ok ...'" >&2; exit 1 ;;
esac
