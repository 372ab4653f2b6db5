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
echo "== P1: noop dispatch ($(date -u +%Y-%m-%d), $(nproc) cores)"
LD_LIBRARY_PATH="$stage/lib" "$out/noop_dispatch" "${NOOP_CALLS:-2000000}"
