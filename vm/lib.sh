# Shared helpers for the vm/ scripts (sourced, not run).
# Everything downloaded or built is cached under $VACCEL_CACHE_DIR (default
# ~/.cache/vaccel, as scripts/assets.sh); nothing depends on the cache being there.

vm_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${VACCEL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vaccel}
assets=${VACCEL_ASSETS_DIR:-$cache/assets/v1}
tools="$cache/tools"
vhost_version=0.3.0

say() { echo "vm: $*" >&2; }
die() { echo "vm: error: $*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages the VM tooling needs: QEMU, a static busybox for the guest, cpio.
vm_packages() {
	local missing=()
	command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
	[ -x /bin/busybox ] && file_is_static /bin/busybox || missing+=(busybox-static)
	command -v cpio >/dev/null || missing+=(cpio)
	command -v xz >/dev/null || missing+=(xz-utils)
	if [ ${#missing[@]} -gt 0 ]; then
		say "installing ${missing[*]}"
		as_root apt-get update -qq
		as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

file_is_static() { ! ldd "$1" >/dev/null 2>&1; }

# vhost-device-vsock (rust-vmm): the vhost-user vsock device QEMU uses here; it speaks
# Firecracker's hybrid-vsock protocol on the host side, which vaccel-agent --vm serves.
vhost_vsock() {
	local bin="$tools/bin/vhost-device-vsock"
	if [ ! -x "$bin" ] || ! "$bin" --version 2>/dev/null | grep -q "$vhost_version"; then
		say "building vhost-device-vsock $vhost_version (cargo install, about 2 minutes, once)"
		cargo install --quiet --locked --root "$tools" vhost-device-vsock --version "$vhost_version" >&2 \
			|| die "cargo install vhost-device-vsock failed"
	fi
	echo "$bin"
}
