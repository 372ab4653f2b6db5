#!/usr/bin/env bash
# The whole test suite: formatting, lints, Rust unit + integration tests, the C examples
# against the installed library, and the end-to-end test in a VM (vm/e2e.sh). Installs what
# it needs (Debian packages, vhost-device-vsock, the guest kernel) when missing.
# Usage: scripts/test.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TERM_COLOR=never

need() { command -v "$1" >/dev/null 2>&1; }
missing=()
need cc || missing+=(gcc libc6-dev)
need pkg-config || missing+=(pkg-config)
# The asset converter and the C test runner use Python.
need python3 || missing+=(python3 python3-venv)
# The blas plugin loads OpenBLAS at run time; its tests need it.
ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so\.0' || missing+=(libopenblas0)
if [ ${#missing[@]} -gt 0 ]; then
	echo "== installing ${missing[*]}"
	if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"
	else sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; fi
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo build (plugins as shared objects, for the tests)"
cargo build --workspace --quiet
echo "== cargo test"
cargo test --workspace 2>&1 | tee target/cargo-test.log
echo "== assets (models, labels, photos; cached after the first run)"
scripts/assets.sh
echo "== C examples"
stage="$root/target/stage"
rm -rf "$stage"
scripts/install.sh "$stage" --debug
c_rc=0
examples/c/run-tests.sh "$stage" || c_rc=$?
echo "== VM end-to-end: a QEMU guest runs the same programs through vsock to vaccel-agent"
vm_rc=0
vm/e2e.sh "$stage" || vm_rc=$?
[ $c_rc = 0 ] && [ $vm_rc = 0 ]
