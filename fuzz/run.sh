#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 10).
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# With a nightly toolchain and cargo-fuzz installed (or FUZZ_ASAN=1, which installs cargo-fuzz),
# targets run under AddressSanitizer via `cargo +nightly fuzz run`. Otherwise they run on stable
# without a sanitizer, built with the same coverage instrumentation `cargo fuzz run -s none` uses.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-10}"
shift || true
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi

use_asan=0
if rustup run nightly rustc --version >/dev/null 2>&1; then
  if [ "${FUZZ_ASAN:-0}" = 1 ] && ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
  fi
  if cargo fuzz --version >/dev/null 2>&1; then use_asan=1; fi
fi

# An explicit --target keeps the instrumentation flags off build scripts and proc macros.
host="$(rustc -vV | sed -n 's/^host: //p')"
total_runs=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  # Seed corpora checked in under seeds/ are copied in first, if present.
  if [ -d "seeds/$t" ]; then cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true; fi
  log="$(mktemp)"
  if [ "$use_asan" = 1 ]; then
    echo "fuzz: $t for ${secs}s (nightly, AddressSanitizer)"
    cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -artifact_prefix="artifacts/$t/" >"$log" 2>&1 || { tail -40 "$log"; echo "fuzz: $t FAILED; reproducer in fuzz/artifacts/$t/"; exit 1; }
  else
    echo "fuzz: $t for ${secs}s (stable, no sanitizer)"
    RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks" \
      cargo build --release --quiet --target "$host" --bin "$t"
    ./target/"$host"/release/"$t" "corpus/$t" -max_total_time="$secs" -artifact_prefix="artifacts/$t/" >"$log" 2>&1 || { tail -40 "$log"; echo "fuzz: $t FAILED; reproducer in fuzz/artifacts/$t/"; exit 1; }
  fi
  runs="$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' | tail -1 || true)"
  echo "fuzz: $t ok, ${runs:-?} execs"
  total_runs=$((total_runs + ${runs:-0}))
  rm -f "$log"
done
echo "fuzz: all ${#targets[@]} targets clean, $total_runs execs in total"
