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
launcher_options "$@"
fc=${FIRECRACKER:-$(command -v firecracker || true)}
[ -n "$fc" ] && [ -x "$fc" ] || die "no firecracker binary: put it on PATH or set FIRECRACKER (see docs/FIRECRACKER.md)"
[ -w /dev/kvm ] || die "/dev/kvm is missing or not writable: Firecracker needs KVM"
launcher_setup
# Firecracker creates uds_path itself and refuses to start when it exists.
rm -f "$uds"

esc() { printf '%s' "$1" | sed 's/[\\/&"]/\\&/g'; }
sed -e "s/@KERNEL@/$(esc "$(cd "$guest" && pwd)/vmlinux")/" \
	-e "s/@INITRD@/$(esc "$(cd "$guest" && pwd)/initramfs.cpio")/" \
	-e "s/@JOB@/$(esc "$job")/" -e "s/@APPEND@/$(esc "$append")/" \
	-e "s/@CPUS@/$cpus/" -e "s/@MEM@/$mem/" -e "s/@UDS@/$(esc "$uds")/" \
	"$vm_root/vm/firecracker/vm-config.json.in" >"$run/vm-config.json"
say "accelerator: kvm (Firecracker $("$fc" --version 2>/dev/null | head -1 | awk '{print $2}'))"
launcher_boot "$fc" --no-api --config-file "$run/vm-config.json"
