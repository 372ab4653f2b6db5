#!/usr/bin/env bash
# Benchmarks (not tests): print each figure next to its baseline from the same run.
# Usage: scripts/bench.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
stage="$root/target/stage-release"
"$root/scripts/install.sh" "$stage"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export PKG_CONFIG_PATH="$stage/lib/pkgconfig"
cc -O2 -Wall -Wextra -Werror -std=c11 $(pkg-config --cflags vaccel) -o "$out/noop_dispatch" \
	"$root/benches/noop_dispatch.c" $(pkg-config --libs vaccel)
cc -O2 -Wall -Wextra -Werror -std=c11 $(pkg-config --cflags vaccel) -o "$out/sgemm" \
	"$root/benches/sgemm.c" $(pkg-config --libs vaccel) -l:libopenblas.so.0
echo "== P1: noop dispatch ($(date -u +%Y-%m-%d), $(nproc) cores)"
LD_LIBRARY_PATH="$stage/lib" "$out/noop_dispatch" "${NOOP_CALLS:-2000000}"
echo "== P9: sgemm through vAccel vs OpenBLAS directly"
LD_LIBRARY_PATH="$stage/lib" "$out/sgemm" 1024 "${SGEMM_ROUNDS:-7}"
LD_LIBRARY_PATH="$stage/lib" "$out/sgemm" 4096 "${SGEMM_ROUNDS_LARGE:-3}"
