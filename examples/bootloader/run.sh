#!/usr/bin/env bash
# Builds the bootloader example for every target and slot mode (A/B and swap), runs its device
# lifetime under QEMU with the flash persisted in a host file, cuts the power at N points (split
# between the machines and modes) and checks every restart. The last line is
#   boot: ok modes=M cuts=N bricked=B boot_instr=I bare_instr=J flash_bytes=F ram_bytes=R
# Exits non-zero if anything was bricked or any check failed.
#
#   examples/bootloader/run.sh --cuts 50 --faults   # what CI runs
#   examples/bootloader/run.sh --cuts 1000          # the full sweep (BENCHMARKS.md)
#   examples/bootloader/run.sh --cuts 20 --machines mps2-an505 --modes swap --jobs 1
#
# Needs: cargo, the targets thumbv6m-none-eabi, thumbv7em-none-eabihf and
# thumbv8m.main-none-eabihf, qemu-system-arm (7.2 or later, built with TCG plugin support, as
# Debian's is) and a C compiler for the power plugin.
set -euo pipefail
cd "$(dirname "$0")"

for target in thumbv6m-none-eabi thumbv7em-none-eabihf thumbv8m.main-none-eabihf; do
  if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$target"; then
    echo "run.sh: target $target not installed (rustup target add $target)" >&2; exit 1
  fi
done
command -v qemu-system-arm >/dev/null || { echo "run.sh: qemu-system-arm not found (apt-get install qemu-system-arm)" >&2; exit 1; }
qemu-system-arm --help | grep -q -- '-plugin' || { echo "run.sh: this qemu-system-arm has no TCG plugin support" >&2; exit 1; }
CC="${CC:-cc}"
command -v "$CC" >/dev/null || { echo "run.sh: no C compiler ($CC) for the power plugin" >&2; exit 1; }

# Built to a new file and moved into place: a running QEMU may still have the old one mapped.
"$CC" -shared -fPIC -O2 -fvisibility=hidden -Wall -Wextra -Wno-unused-parameter \
  -o plugin/power.so.new plugin/power.c
mv -f plugin/power.so.new plugin/power.so
cargo build --quiet --profile host -p harness
exec ./target/host/harness --plugin plugin/power.so "$@"
