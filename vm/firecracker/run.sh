#!/usr/bin/env bash
# Boot the guest that vm/build.sh made under Firecracker, with a vsock device whose host
# side (uds_path) the agent serves, run one job in it and print the guest's console.
# Needs a host where KVM works and a Firecracker binary (>= 1.8, which describes its
# virtio-mmio devices to the guest through ACPI) on PATH or in $FIRECRACKER.
# See docs/FIRECRACKER.md. Same options as vm/run.sh, so vm/e2e.sh --vmm firecracker works.
#
# Usage: vm/firecracker/run.sh [--job NAME] [--uds PATH | --agent] [--timeout SECONDS]
#                              [--guest DIR] [--append "KERNEL ARGS"] [--mem MB] [--cpus N]
#   --uds      the vsock uds_path; the agent (vaccel-agent --vm NAME=PATH) listens on
#              PATH_2048, where Firecracker forwards the guest's connections to port 2048
#   --agent    start a vaccel-agent for this VM and stop it at the end (extra agent
#              options in VACCEL_AGENT_ARGS)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
job=e2e uds= start_agent=0 timeout=600 guest="$vm_root/target/vm" append= mem=512 cpus=1
while [ $# -gt 0 ]; do
	case $1 in
	--job) job=$2; shift 2 ;;
	--uds) uds=$2; shift 2 ;;
	--agent) start_agent=1; shift ;;
	--timeout) timeout=$2; shift 2 ;;
	--guest) guest=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--accel) shift 2 ;; # always KVM
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
done
fc=${FIRECRACKER:-$(command -v firecracker || true)}
[ -n "$fc" ] && [ -x "$fc" ] || die "no firecracker binary: put it on PATH or set FIRECRACKER (see docs/FIRECRACKER.md)"
[ -w /dev/kvm ] || die "/dev/kvm is missing or not writable: Firecracker needs KVM"
[ -f "$guest/vmlinux" ] && [ -f "$guest/initramfs.cpio" ] || die "no guest in $guest: run vm/build.sh first"
run=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ $start_agent = 1 ]; then
	uds="$run/vsock.sock"
	# shellcheck disable=SC2086
	"$(cat "$guest/prefix")/bin/vaccel-agent" --vm "guest=$uds" ${VACCEL_AGENT_ARGS:-} 2>"$run/agent.log" &
	pids+=($!)
	for _ in $(seq 100); do [ -S "${uds}_2048" ] && break; sleep 0.1; done
	[ -S "${uds}_2048" ] || die "the agent did not start: $(cat "$run/agent.log")"
fi
[ -n "$uds" ] || die "--uds PATH or --agent is required"
[ -S "${uds}_2048" ] || say "warning: nothing listens on ${uds}_2048 yet (start vaccel-agent --vm NAME=$uds)"
# Firecracker creates uds_path itself and refuses to start when it exists.
rm -f "$uds"

esc() { printf '%s' "$1" | sed 's/[\\/&"]/\\&/g'; }
sed -e "s/@KERNEL@/$(esc "$(cd "$guest" && pwd)/vmlinux")/" \
	-e "s/@INITRD@/$(esc "$(cd "$guest" && pwd)/initramfs.cpio")/" \
	-e "s/@JOB@/$(esc "$job")/" -e "s/@APPEND@/$(esc "$append")/" \
	-e "s/@CPUS@/$cpus/" -e "s/@MEM@/$mem/" -e "s/@UDS@/$(esc "$uds")/" \
	"$vm_root/vm/firecracker/vm-config.json.in" >"$run/vm-config.json"
say "accelerator: kvm (Firecracker $("$fc" --version 2>/dev/null | head -1 | awk '{print $2}'))"
set +e
timeout --kill-after=5 "$timeout" "$fc" --no-api --config-file "$run/vm-config.json" </dev/null &
vmm=$!
pids+=($vmm)
echo "$vmm" >"${VACCEL_VM_PIDFILE:-/dev/null}"
wait $vmm
rc=$?
set -e
[ $rc = 124 ] && say "the guest ran past the ${timeout}s limit and was stopped"
exit $rc
