#!/usr/bin/env bash
# Build vAccel and install it under PREFIX (default: ~/.local):
#   PREFIX/lib/libvaccel.so.0 (+ libvaccel.so), libvaccel.a, PREFIX/lib/vaccel/*.so (plugins),
#   PREFIX/include/vaccel.h + vaccel/{,utils/,ops/}*.h, PREFIX/lib/pkgconfig/vaccel.pc, PREFIX/bin/vaccel{,-agent},
#   PREFIX/libexec/vaccel/vaccel-ttrpc-guest (a client of upstream's ttrpc agent protocol).
# Usage: scripts/install.sh [PREFIX] [--debug]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:-$HOME/.local}
profile=release
[ "${2:-}" = "--debug" ] && profile=debug
prefix=$(mkdir -p "$prefix" && cd "$prefix" && pwd)
cd "$root"
flag=--release
[ "$profile" = debug ] && flag=
echo "vaccel: building ($profile)..." >&2
cargo build $flag --quiet -p vaccel-capi -p vaccel-cli -p vaccel-agent -p vaccel-noop-so -p vaccel-exec-so \
	-p vaccel-blas-so -p vaccel-onnx-so -p vaccel-rpc-so
# A guest client of upstream's agent protocol (ttrpc), for checking that an agent serves
# upstream's guests (the VM test runs it in its guest).
cargo build $flag --quiet -p vaccel-ttrpc --example ttrpc_guest
tdir=${CARGO_TARGET_DIR:-$root/target}/$profile
mkdir -p "$prefix/lib/vaccel" "$prefix/lib/pkgconfig" "$prefix/include/vaccel/utils" \
	"$prefix/include/vaccel/ops" "$prefix/bin"
install -m 0755 "$tdir/libvaccel.so" "$prefix/lib/libvaccel.so.0"
ln -sf libvaccel.so.0 "$prefix/lib/libvaccel.so"
install -m 0644 "$tdir/libvaccel.a" "$prefix/lib/libvaccel.a"
install -m 0755 "$tdir"/libvaccel_{noop,exec,blas,onnx,rpc}.so "$prefix/lib/vaccel/"
# Upstream's file names too (libvaccel-<name>.so), for configurations written for it.
for p in noop exec blas onnx rpc; do ln -sf "libvaccel_$p.so" "$prefix/lib/vaccel/libvaccel-$p.so"; done
install -m 0644 crates/vaccel-capi/include/vaccel.h "$prefix/include/"
install -m 0644 crates/vaccel-capi/include/vaccel/*.h "$prefix/include/vaccel/"
install -m 0644 crates/vaccel-capi/include/vaccel/utils/*.h "$prefix/include/vaccel/utils/"
install -m 0644 crates/vaccel-capi/include/vaccel/ops/*.h "$prefix/include/vaccel/ops/"
install -m 0755 "$tdir/vaccel" "$tdir/vaccel-agent" "$prefix/bin/"
mkdir -p "$prefix/libexec/vaccel"
install -m 0755 "$tdir/examples/ttrpc_guest" "$prefix/libexec/vaccel/vaccel-ttrpc-guest"
# The version of upstream's API we implement (what programs and bindings built for upstream
# check), as the CLI reports it: "vaccel OURS (vAccel API X.Y.Z)".
ours=$("$tdir/vaccel" --version)
version=$(sed -n 's/.*(vAccel API \([0-9.]*\)).*/\1/p' <<<"$ours")
[ -n "$version" ] || { echo "vaccel: cannot read the API version from '$ours'" >&2; exit 1; }
cat >"$prefix/lib/pkgconfig/vaccel.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: vaccel
Description: vAccel hardware-acceleration API and runtime (Rust; $ours)
Version: $version
Libs: -L\${libdir} -lvaccel
Libs.private: -lpthread -ldl -lm -lgcc_s
Cflags: -I\${includedir}
PC
echo "vaccel: installed under $prefix" >&2
