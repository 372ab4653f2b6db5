#!/usr/bin/env bash
# P1 side by side with upstream vAccel: the same benches/noop_dispatch.c built against
# upstream's C runtime (+ its noop plugin) and against ours, run as alternating processes.
#
# Usage: benches/upstream/p1.sh UPSTREAM_SRC [ROUNDS] [CALLS]
#   UPSTREAM_SRC  a checkout of github.com/nubificus/vaccel with subprojects/slog present
#                 (upstream's meson wrap; fetch kala13x/slog at the wrap's revision into it
#                 and apply subprojects/packagefiles/slog when offline). It is copied into
#                 a scratch directory and built there; nothing of it enters this tree.
# Needs meson and ninja (installed into ~/.cache/vaccel/tools/meson-venv from PyPI when
# missing). Prints each round and the medians; the goal is ours <= 0.8x upstream.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
src=${1:?usage: $0 UPSTREAM_SRC [ROUNDS] [CALLS]}
rounds=${2:-9}
calls=${3:-4000000}
[ -f "$src/meson.build" ] || { echo "$src is not a vAccel checkout" >&2; exit 1; }
[ -d "$src/subprojects/slog" ] || { echo "$src/subprojects/slog is missing (see the usage)" >&2; exit 1; }

tools=${XDG_CACHE_HOME:-$HOME/.cache}/vaccel/tools/meson-venv
if ! command -v meson >/dev/null || ! command -v ninja >/dev/null; then
	if [ ! -x "$tools/bin/meson" ]; then
		echo "== installing meson and ninja into $tools"
		python3 -m venv "$tools"
		"$tools/bin/pip" install -q meson ninja
	fi
	export PATH="$tools/bin:$PATH"
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
echo "== building upstream from $src ($(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?')) in $scratch"
cp -a "$src" "$scratch/src"
# Upstream's version and dist scripts live in a git submodule; stand-ins suffice here.
mkdir -p "$scratch/src/scripts/common"
[ -x "$scratch/src/scripts/common/generate-version.sh" ] || printf '#!/bin/sh\necho 0.8.0\n' >"$scratch/src/scripts/common/generate-version.sh"
[ -x "$scratch/src/scripts/common/dist.sh" ] || printf '#!/bin/sh\nexit 0\n' >"$scratch/src/scripts/common/dist.sh"
chmod +x "$scratch/src/scripts/common/"*.sh
(cd "$scratch/src" && meson setup "$scratch/build" --buildtype=release --prefix="$scratch/prefix" \
	-Dplugin-noop=enabled -Dexamples=disabled -Dtests=disabled --wrap-mode=nodownload >/dev/null &&
	ninja -C "$scratch/build" >/dev/null && ninja -C "$scratch/build" install >/dev/null)
up_lib=$(dirname "$(find "$scratch/prefix" -name 'libvaccel.so' | head -1)")
up_pc=$(dirname "$(find "$scratch/prefix" -name 'vaccel.pc' | head -1)")

echo "== building ours (release)"
"$root/scripts/install.sh" "$root/target/stage-release" >/dev/null
our_lib="$root/target/stage-release/lib"
cflags() { PKG_CONFIG_PATH=$1 pkg-config --cflags vaccel; }
libs() { PKG_CONFIG_PATH=$1 pkg-config --libs vaccel; }
cc -O2 -std=c11 $(cflags "$up_pc") -o "$scratch/p1-upstream" "$root/benches/noop_dispatch.c" $(libs "$up_pc")
cc -O2 -std=c11 $(cflags "$our_lib/pkgconfig") -o "$scratch/p1-ours" "$root/benches/noop_dispatch.c" $(libs "$our_lib/pkgconfig")

per_call() { awk '/via C API/ { print $5 }'; }
echo "== P1 side by side ($(date -u +%Y-%m-%d), $(nproc) cores, $rounds rounds x $calls calls, alternating processes; ns per vaccel_noop)"
up=() ours=()
for i in $(seq "$rounds"); do
	u=$(VACCEL_PLUGINS="$up_lib/libvaccel-noop.so" LD_LIBRARY_PATH="$up_lib" "$scratch/p1-upstream" "$calls" | per_call)
	o=$(LD_LIBRARY_PATH="$our_lib" "$scratch/p1-ours" "$calls" | per_call)
	up+=("$u") ours+=("$o")
	echo "  round $i: upstream $u  ours $o"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mu=$(median "${up[@]}") mo=$(median "${ours[@]}")
echo "  median: upstream $mu ns  ours $mo ns  ratio $(awk -v o="$mo" -v u="$mu" 'BEGIN { printf "%.2f", o / u }')x (goal <= 0.8)"
