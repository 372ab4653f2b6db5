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
	command -v pgrep >/dev/null || missing+=(procps)
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

# The launchers' common start: a scratch directory $run, processes in $pids stopped and
# reaped on the way out, and (with start_agent=1) a vaccel-agent for this VM from the install
# the guest in $guest was built from, serving $uds = $run/vsock.sock. Uses the launcher's
# variables start_agent, guest and uds.
launcher_setup() {
	run=$(mktemp -d)
	pids=()
	trap launcher_cleanup EXIT
	trap 'exit 130' INT TERM
	if [ "$start_agent" = 1 ]; then
		uds="$run/vsock.sock"
		# shellcheck disable=SC2086
		"$(cat "$guest/prefix")/bin/vaccel-agent" --vm "guest=$uds" ${VACCEL_AGENT_ARGS:-} 2>"$run/agent.log" &
		pids+=($!)
		for _ in $(seq 100); do [ -S "${uds}_2048" ] && break; sleep 0.1; done
		[ -S "${uds}_2048" ] || die "the agent did not start: $(cat "$run/agent.log")"
	fi
	[ -n "$uds" ] || die "--uds PATH or --agent is required"
	[ -S "${uds}_2048" ] || say "warning: nothing listens on ${uds}_2048 yet (start vaccel-agent --vm NAME=$uds)"
}

launcher_cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$run"
}

# The launchers' options (both take the same, so vm/e2e.sh drives either): sets job, uds,
# start_agent, timeout, accel, guest, append, mem, cpus.
launcher_options() {
	job=e2e uds= start_agent=0 timeout=600 accel=${VACCEL_VM_ACCEL:-auto} guest="$vm_root/target/vm"
	append= mem=512 cpus=1
	while [ $# -gt 0 ]; do
		case $1 in
		--job) job=$2; shift 2 ;;
		--uds) uds=$2; shift 2 ;;
		--agent) start_agent=1; shift ;;
		--timeout) timeout=$2; shift 2 ;;
		--accel) accel=$2; shift 2 ;;
		--guest) guest=$2; shift 2 ;;
		--append) append=$2; shift 2 ;;
		--mem) mem=$2; shift 2 ;;
		--cpus) cpus=$2; shift 2 ;;
		-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
		*) die "unknown option $1 (see --help)" ;;
		esac
	done
	[ -f "$guest/vmlinux" ] && [ -f "$guest/initramfs.cpio" ] || die "no guest in $guest: run vm/build.sh first"
}

# launcher_boot CMD...: run the VMM under the time limit (its pid in $VACCEL_VM_PIDFILE
# when set, for tests that kill it) and exit with its status.
launcher_boot() {
	set +e
	timeout --kill-after=5 "$timeout" "$@" </dev/null &
	local vmm=$!
	pids+=($vmm)
	if [ -n "${VACCEL_VM_PIDFILE:-}" ]; then
		# The VMM itself (timeout's child), so that killing it kills the guest and nothing
		# is left behind; timeout's own pid only if the VMM has not started within 2 s.
		local child=
		for _ in $(seq 100); do
			child=$(pgrep -P $vmm | head -1) && [ -n "$child" ] && break
			sleep 0.02
		done
		echo "${child:-$vmm}" >"$VACCEL_VM_PIDFILE"
	fi
	wait $vmm
	local rc=$?
	set -e
	[ $rc = 124 ] && say "the guest ran past the ${timeout}s limit and was stopped"
	exit $rc
}
