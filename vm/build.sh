#!/usr/bin/env bash
# Build the guest: Debian's kernel (uncompressed vmlinux) and an initramfs holding busybox,
# the virtio/vsock modules, the dynamic loader and libraries, and vAccel as installed under
# PREFIX — the same dynamically linked `vaccel` CLI, libvaccel.so and C example programs as
# on the host; in the guest only VACCEL_PLUGINS (the rpc plugin) differs.
#
# Usage: vm/build.sh [PREFIX] [OUT]
#   PREFIX  a vAccel install (scripts/install.sh PREFIX); default: a release install into
#           target/vm-prefix, built now
#   OUT     where vmlinux, initramfs.cpio and the host-side copies of the examples go
#           (default: target/vm)
# Also builds vhost-device-vsock (cached) so that vm/run.sh has all it needs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
prefix=${1:-}
out=${2:-$vm_root/target/vm}
if [ -z "$prefix" ]; then
	prefix="$vm_root/target/vm-prefix"
	"$vm_root/scripts/install.sh" "$prefix" >&2
fi
prefix=$(cd "$prefix" && pwd)
[ -x "$prefix/bin/vaccel" ] && [ -f "$prefix/lib/vaccel/libvaccel_rpc.so" ] || die "no vAccel install under $prefix"
mkdir -p "$out"
out=$(cd "$out" && pwd)
vm_packages
vhost_vsock >/dev/null

# --- kernel: the newest Debian 6.1 kernel package, unpacked once into the cache ---------
modules=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_mmio
	vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport)
pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' 2>/dev/null \
	| awk '{print $1}' | sort -V | tail -1)
if [ -z "$pkg" ]; then
	# No package index (offline): use the newest kernel already in the cache.
	pkg=$(ls "$cache/vm/kernel" 2>/dev/null | sort -V | tail -1)
	[ -n "$pkg" ] || die "no linux-image-6.1.0-*-amd64-unsigned package found (apt-get update?) and none cached"
fi
kdir="$cache/vm/kernel/$pkg"
if [ ! -f "$kdir/.complete" ]; then
	say "fetching kernel $pkg"
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1) || { rm -rf "$tmp"; die "apt-get download $pkg failed"; }
	dpkg -x "$tmp"/*.deb "$tmp/x"
	rm -rf "$kdir" && mkdir -p "$kdir/modules"
	# vmlinuz is a bzImage whose payload is XZ: boot the uncompressed ELF (about twice as
	# fast under TCG). Find the XZ stream and decompress it.
	python3 - "$tmp"/x/boot/vmlinuz-* "$tmp/vmlinux.xz" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
at = data.find(b'\xfd7zXZ\x00')
if at < 0:
    sys.exit('no XZ payload in ' + sys.argv[1])
open(sys.argv[2], 'wb').write(data[at:])
PY
	xz -dc --single-stream <"$tmp/vmlinux.xz" >"$kdir/vmlinux" 2>/dev/null || true
	head -c 4 "$kdir/vmlinux" | grep -q ELF || { rm -rf "$tmp"; die "could not extract vmlinux from $pkg"; }
	for m in "${modules[@]}"; do
		f=$(find "$tmp/x/lib/modules" -name "$m.ko" -o -name "$m.ko.xz" | head -1)
		[ -n "$f" ] || { rm -rf "$tmp"; die "module $m missing from $pkg"; }
		case $f in *.xz) xz -dc "$f" >"$kdir/modules/$m.ko" ;; *) cp "$f" "$kdir/modules/$m.ko" ;; esac
	done
	rm -rf "$tmp"
	touch "$kdir/.complete"
fi
cp "$kdir/vmlinux" "$out/vmlinux"

# --- the C examples, built once against PREFIX; the host runs the same files -------------
[ -f "$assets/.complete" ] || "$vm_root/scripts/assets.sh" >&2
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cflags=$(pkg-config --cflags vaccel)
libs=$(pkg-config --libs vaccel)
mkdir -p "$out/examples"
for ex in noop classify classify_generic sgemm sgemm_generic exec exec_generic torch_inference; do
	cc -O2 -Wall -Wextra -Werror -std=c11 $cflags -o "$out/examples/$ex" "$vm_root/examples/c/$ex.c" $libs
done
# The library the guest asks the host to run (operator-allowed with --allow-exec).
cc -O2 -Wall -Wextra -Werror -std=c11 -shared -fPIC $cflags -o "$out/libmytestlib.so" "$vm_root/examples/c/mytestlib.c"

# --- the initramfs ----------------------------------------------------------------------
say "building the initramfs"
r=$(mktemp -d)
trap 'rm -rf "$r"' EXIT
mkdir -p "$r"/{bin,dev,proc,sys,tmp,lib/modules,jobs,opt/vaccel/{bin,lib/vaccel,examples,data}}
cp /bin/busybox "$r/bin/busybox"
cp "$kdir"/modules/*.ko "$r/lib/modules/"
printf '%s\n' "${modules[@]}" >"$r/lib/modules/order"
install -m 0755 "$vm_root/vm/guest/init" "$r/init"
cp "$vm_root"/vm/guest/jobs/*.sh "$r/jobs/"
# The host's files with their debug sections left out (the code is the same; the release
# profile keeps line tables for profiling, which would triple the guest's size).
slim() { strip --strip-debug -o "$2" "$1"; }
slim "$prefix/bin/vaccel" "$r/opt/vaccel/bin/vaccel"
slim "$prefix/lib/libvaccel.so.0" "$r/opt/vaccel/lib/libvaccel.so.0"
ln -s libvaccel.so.0 "$r/opt/vaccel/lib/libvaccel.so"
slim "$prefix/lib/vaccel/libvaccel_rpc.so" "$r/opt/vaccel/lib/vaccel/libvaccel_rpc.so"
# A guest as upstream builds them: its client speaks ttrpc to the same agent.
slim "$prefix/libexec/vaccel/vaccel-ttrpc-guest" "$r/opt/vaccel/bin/vaccel-ttrpc-guest"
cp "$out"/examples/* "$r/opt/vaccel/examples/"
cp "$assets"/images/{chelsea.png,coffee.png,rocket.jpg} "$r/opt/vaccel/data/"
cp "$assets/models/efficientnet-lite0.onnx" "$assets/labels/imagenet.txt" "$r/opt/vaccel/data/"
# P4's photos at several resolutions (vm/bench), the same files on both sides.
"$prefix/bin/vaccel" bench make-images "$out/p4" >/dev/null
cp "$assets"/images/{chelsea.png,coffee.png,rocket.jpg} "$out/p4/"
mkdir -p "$r/opt/vaccel/data/p4"
cp "$out"/p4/* "$r/opt/vaccel/data/p4/"
# Inputs the guest cannot make without the host's plugins: the preprocessed tensor.
"$prefix/bin/vaccel" preprocess "$assets/images/coffee.png" --out "$r/opt/vaccel/data/coffee.f32" >/dev/null
cp "$r/opt/vaccel/data/coffee.f32" "$out/coffee.f32"
# The dynamic loader and every library the binaries need, at the paths ldd gives.
for elf in "$r"/opt/vaccel/bin/* "$r"/opt/vaccel/examples/* "$r"/opt/vaccel/lib/vaccel/*.so; do
	LD_LIBRARY_PATH="$prefix/lib" ldd "$elf" | awk '/=> \//{print $3} /^\t\//{print $1}'
done | sort -u | while read -r lib; do
	case $lib in "$prefix"/*) continue ;; esac
	mkdir -p "$r$(dirname "$lib")"
	cp -L "$lib" "$r$lib"
done
# Debian's loader path is /lib64/ld-linux-x86-64.so.2 (a link into /lib/x86_64-linux-gnu).
[ -e "$r/lib64/ld-linux-x86-64.so.2" ] || die "the dynamic loader did not make it into the initramfs"
(cd "$r" && find . | cpio -o -H newc --quiet) >"$out/initramfs.cpio"
echo "$prefix" >"$out/prefix"
say "guest ready: $out/vmlinux, $out/initramfs.cpio ($(du -m "$out/initramfs.cpio" | cut -f1) MB), kernel $pkg"
