#!/usr/bin/env bash
# Boot the guest that vm/build.sh made under QEMU, with a vhost-user vsock device
# (vhost-device-vsock) whose host side is the agent's hybrid-vsock socket, run one job in it
# and print the guest's console. KVM is used where a guest really boots with it (tried once
# per machine and remembered), TCG otherwise; the one used is printed. Every run is bounded
# by a timeout and every process started here is stopped on the way out.
#
# Usage: vm/run.sh [--job NAME] [--uds PATH | --agent] [--timeout SECONDS] [--accel auto|kvm|tcg]
#                  [--guest DIR] [--append "KERNEL ARGS"] [--mem MB] [--cpus N]
#   --job      the guest job, vm/guest/jobs/NAME.sh (default: e2e)
#   --uds      the vsock socket base path the agent serves (vaccel-agent --vm NAME=PATH
#              listens on PATH_2048); the agent must be listening already
#   --agent    start a vaccel-agent for this VM (from the install the guest was built from),
#              stop it at the end; extra agent options in VACCEL_AGENT_ARGS
#   --timeout  wall-clock limit for the whole run (default 600)
# Environment: VACCEL_VM_ACCEL (default for --accel), VACCEL_VSOCK_TX_BUFFER (the vsock
# device's guest -> host buffer, default 262144; see below before raising it).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
launcher_options "$@"
vm_packages
vhost=$(vhost_vsock)
launcher_setup

kernel_args="console=ttyS0 quiet panic=-1 vaccel_job=$job $append"
qemu_base=(qemu-system-x86_64 -nodefaults -nographic -no-reboot -serial stdio -m "${mem}M" -smp "$cpus"
	-kernel "$guest/vmlinux" -initrd "$guest/initramfs.cpio")

# KVM only where a guest really boots with it: /dev/kvm can exist and still fail (nested
# virtualisation here crawls or stops with "KVM internal error"). Tried once, remembered.
kvm_works() {
	[ -w /dev/kvm ] || return 1
	local mark="$cache/vm/kvm-$(uname -r)-$(hostname)"
	[ -f "$mark.yes" ] && return 0
	[ -f "$mark.no" ] && return 1
	mkdir -p "$cache/vm"
	say "trying KVM (once on this machine)"
	if timeout 40 "${qemu_base[@]}" -machine q35,accel=kvm -cpu host -append "console=ttyS0 quiet panic=-1 vaccel_job=probe" \
		</dev/null 2>&1 | grep -q "VACCEL-JOB-EXIT 0"; then
		touch "$mark.yes"
	else
		touch "$mark.no"
		return 1
	fi
}
case $accel in
auto) if kvm_works; then accel=kvm; else accel=tcg; fi ;;
kvm | tcg) ;;
*) die "--accel must be auto, kvm or tcg" ;;
esac
# Under TCG, hide "fast string" support (ERMS/FSRM): the guest kernel and libc then copy
# with ordinary 8/16/32-byte moves instead of rep movsb, which TCG emulates byte by byte.
# Measured here: bytes through a Unix socket inside the guest 57 -> 336 MB/s, uploads
# through vsock 45 -> 123 MB/s, boot 4.5 -> 3.6 s (docs/BENCHMARKS.md, P4).
cpu=max,-erms,-fsrm
[ $accel = kvm ] && cpu=host
say "accelerator: $accel$([ $accel = tcg ] && echo ' (software emulation: the guest CPU is emulated)')"

vhost_sock="$run/vhost.sock"
# The device's buffer for guest -> host bytes is the guest's send credit. 256 KiB (its
# default is 64 KiB) matches the guest kernel's own vsock buffer, which caps that credit
# anyway: uploads 124 -> 175 MB/s under TCG. Larger values stall: the device waits for 3/4
# of its buffer to drain before granting credit, more than the guest will ever send.
"$vhost" --guest-cid 3 --socket "$vhost_sock" --uds-path "$uds" --tx-buffer-size "${VACCEL_VSOCK_TX_BUFFER:-262144}" >"$run/vhost.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$vhost_sock" ] && break; sleep 0.05; done
[ -S "$vhost_sock" ] || die "vhost-device-vsock did not start: $(cat "$run/vhost.log")"

launcher_boot "${qemu_base[@]}" -cpu "$cpu" \
	-machine "q35,accel=$accel,memory-backend=mem" -object "memory-backend-memfd,id=mem,size=${mem}M,share=on" \
	-chardev "socket,id=vv,path=$vhost_sock" -device vhost-user-vsock-pci,chardev=vv \
	-append "$kernel_args"
