#!/usr/bin/env bash
# Builds the firmware image pairs that `--example delta-sizes` measures, from this repository's
# own history: examples/firmware-qemu (and examples/no-std-check) for thumbv7em-none-eabihf at
# given commits, as raw binaries (objcopy -O binary).
#
#   examples/ota-tool/examples/delta-pairs.sh [OUT_DIR]     (default: target/delta-pairs)
#
# Each pair is OUT_DIR/NAME/{old,new}.bin. Sources are exported with `git archive` (no worktree
# is registered), built with one shared CARGO_TARGET_DIR. The three reported pairs are checked in
# under examples/ota-tool/tests/data/firmware/; this script makes them again, plus further pairs
# the delta encoder was tested on but that are not reported.
set -euo pipefail
root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
out="${1:-$root/target/delta-pairs}"
work="$root/target/delta-pairs-build"
TARGET=thumbv7em-none-eabihf
export CARGO_TARGET_DIR="$work/cargo-target"
mkdir -p "$out" "$work"
objcopy="$(command -v arm-none-eabi-objcopy || command -v llvm-objcopy || true)"
[ -n "$objcopy" ] || { echo "delta-pairs: need arm-none-eabi-objcopy or llvm-objcopy" >&2; exit 1; }

# build COMMIT EXAMPLE OPT-LEVEL DEST.bin
build() {
  local commit="$1" example="$2" opt="$3" dest="$4"
  if [ -s "$dest" ]; then return; fi
  local src="$work/src-$commit"
  if [ ! -d "$src" ]; then
    mkdir -p "$src"
    git -C "$root" archive "$commit" | tar -x -C "$src"
  fi
  echo "delta-pairs: $example at $commit, opt-level $opt -> $dest" >&2
  (cd "$src/examples/$example" &&
    CARGO_PROFILE_RELEASE_OPT_LEVEL="$opt" cargo build --quiet --release --target "$TARGET")
  "$objcopy" -O binary "$CARGO_TARGET_DIR/$TARGET/release/$example" "$dest"
}

pair() { # NAME OLD_COMMIT NEW_COMMIT EXAMPLE OLD_OPT NEW_OPT
  mkdir -p "$out/$1"
  build "$2" "$4" "$5" "$out/$1/old.bin"
  build "$3" "$4" "$6" "$out/$1/new.bin"
}

# Reported pairs.
pair fix-adjacent 151a41c a19f08f firmware-qemu s s    # one small ota-core change, adjacent commits
pair span-30      f6549c4 cdd23f8 firmware-qemu s s    # 30 commits apart
pair opt-s-to-z   1b4d711 1b4d711 firmware-qemu s z    # same source, another opt-level
if [ "${REPORTED_ONLY:-0}" = 1 ]; then exit 0; fi
# Further pairs, used in testing and not reported.
pair t-adjacent-2 94e91c8 8b9581e firmware-qemu s s
pair t-span-12    7b498a3 1b4d711 firmware-qemu s s
pair t-opt-s-to-3 1b4d711 1b4d711 firmware-qemu s 3
pair t-nostd-span cc4b12f 1b4d711 no-std-check  z z
pair t-span-40    1300583 d1b86f8 firmware-qemu s s
