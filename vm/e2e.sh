#!/usr/bin/env bash
# End-to-end test inside a VM (QEMU; TCG here): the guest runs the C examples and the CLI
# through the rpc plugin over vsock to a vaccel-agent on the host — and, as guests built
# with upstream do, a client of upstream's ttrpc protocol to the same agent — and each
# output must be identical to the same program run on the host in-process. Then: a guest killed in the
# middle of its work leaves no tenant behind in the agent, and a guest whose agent restarts
# gets ESESS once and carries on.
#
# Usage: vm/e2e.sh [--vmm qemu|firecracker] [PREFIX]
#   PREFIX  a vAccel install (default: a release build, see vm/build.sh)
#   --vmm   qemu (vm/run.sh, the default) or firecracker (vm/firecracker/run.sh: needs KVM
#           and a Firecracker binary, see docs/FIRECRACKER.md)
set -uo pipefail
source "$(dirname "$0")/lib.sh"
launcher="$vm_root/vm/run.sh"
if [ "${1:-}" = --vmm ]; then
	case ${2:-} in
	qemu) ;;
	firecracker) launcher="$vm_root/vm/firecracker/run.sh" ;;
	*) die "--vmm must be qemu or firecracker" ;;
	esac
	shift 2
fi
out="$vm_root/target/vm-e2e"
"$vm_root/vm/build.sh" "${1:-}" "$out" || die "building the guest failed"
prefix=$(cat "$out/prefix")
work=$(mktemp -d)
uds="$work/vsock.sock"
lib="$out/libmytestlib.so"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pass=0 fail=0 agent=
ok() { echo "PASS vm $1"; pass=$((pass + 1)); }
bad() { echo "FAIL vm $1: $2"; fail=$((fail + 1)); }
finish() {
	[ -n "$agent" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
	rm -rf "$work"
}
trap finish EXIT

start_agent() {
	VACCEL_LOG_LEVEL=3 "$prefix/bin/vaccel-agent" --vm "e2e=$uds" --metrics "127.0.0.1:$port" \
		--allow-exec "$lib:mytestfunc" --allow-exec "$lib:myfailingfunc" --allow-exec "$lib:no_such_function" \
		2>>"$work/agent.log" &
	agent=$!
	for _ in $(seq 100); do [ -S "${uds}_2048" ] && return 0; sleep 0.1; done
	die "the agent did not start: $(tail -5 "$work/agent.log")"
}
stop_agent() { kill "$agent" 2>/dev/null; wait "$agent" 2>/dev/null; agent=; }
metric() { curl -s "127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# wait_for FILE PATTERN SECONDS
wait_for() { for _ in $(seq $(($3 * 10))); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# section FILE NAME: one case's output (console line endings removed)
section() { tr -d '\r' <"$1" | sed -n "/^=== BEGIN $2\$/,/^=== END $2 /p"; }

start_agent

# --- 1. the same programs, in the guest through vsock and on the host in-process ---------
echo "vm: booting the guest for the end-to-end cases"
timeout 900 "$launcher" --guest "$out" --uds "$uds" --job e2e --timeout 600 \
	--append "vaccel_lib=$lib" >"$work/guest.log" 2>"$work/run.log"
rc=$?
grep -q "^vm: accelerator" "$work/run.log" && sed -n 's/^vm: accelerator: /vm: guest accelerator: /p' "$work/run.log"
if ! tr -d '\r' <"$work/guest.log" | grep -q "^VACCEL-JOB-EXIT 0"; then
	bad "guest job" "exit $rc; console: $(tail -c 1500 "$work/guest.log"); launcher: $(tail -5 "$work/run.log")"
fi
mkdir -p "$work/data"
cp "$assets"/images/{chelsea.png,coffee.png,rocket.jpg} "$assets/models/efficientnet-lite0.onnx" \
	"$assets/labels/imagenet.txt" "$out/coffee.f32" "$work/data/"
(
	# On the host: the same files, in-process (no VACCEL_PLUGINS: the built-in plugins).
	unset VACCEL_PLUGINS VACCEL_RPC_ADDRESS
	export LD_LIBRARY_PATH="$prefix/lib" PATH="$prefix/bin:$PATH"
	d="$work/data" x="$out/examples" vaccel_lib="$lib"
	case_() {
		local name=$1
		shift
		echo "=== BEGIN $name"
		"$@" 2>"$work/host.err"
		local rc=$?
		echo "=== END $name rc=$rc"
		[ $rc = 0 ] || sed 's/^/stderr: /' "$work/host.err" | tail -5
	}
	ttrpc_classify() { "$x/classify" "$@"; }
	ttrpc_model_run() { "$x/torch_inference" "$@"; }
	. "$vm_root/vm/guest/jobs/cases.sh"
) >"$work/host.log"
for name in $(sed -n 's/^case_ \([^ ]*\) .*/\1/p' "$vm_root/vm/guest/jobs/cases.sh"); do
	host=$(section "$work/host.log" "$name")
	guest=$(section "$work/guest.log" "$name")
	if [ -z "$guest" ]; then
		bad "$name" "no output from the guest"
	elif [ "$host" != "$guest" ]; then
		bad "$name" "host and guest differ:
--- host
$host
--- guest
$guest"
	elif ! grep -q "rc=0$" <<<"$host"; then
		bad "$name" "failed on both: $host"
	else
		ok "$name: guest output identical to the host's ($(sed -n 2p <<<"$host" | cut -c1-70))"
	fi
done

# --- 2. a guest killed mid-operation: the agent frees its tenant -------------------------
before=$(grep -c "tenant disconnected" "$work/agent.log")
VACCEL_VM_PIDFILE="$work/qemu.pid" timeout 600 "$launcher" --guest "$out" --uds "$uds" --job loop \
	--timeout 300 >"$work/loop.log" 2>&1 &
runner=$!
tenants=0
if wait_for "$work/loop.log" "VACCEL-LOOP-START" 240; then
	for _ in $(seq 300); do
		tenants=$(metric vaccel_tenants)
		[ "${tenants:-0}" -ge 1 ] && break
		sleep 0.1
	done
	sleep 1
	ops=$(metric 'vaccel_op_duration_ms_count{op="image_classify"}')
	kill -KILL "$(cat "$work/qemu.pid")"
	wait "$runner" 2>/dev/null
	freed=no
	for _ in $(seq 100); do
		[ "$(metric vaccel_tenants)" = 0 ] && [ "$(grep -c "tenant disconnected" "$work/agent.log")" -gt "$before" ] \
			&& freed=yes && break
		sleep 0.1
	done
	line=$(grep "tenant disconnected" "$work/agent.log" | tail -1 | sed 's/^.*INFO //')
	if [ "${tenants:-0}" -ge 1 ] && [ $freed = yes ] && grep -q "sessions=1" <<<"$line"; then
		ok "guest killed mid-classification (the agent had run ${ops:-0} classifications): tenants $tenants -> 0; agent: $line"
	else
		bad "kill" "tenants before ${tenants:-none}, freed $freed; agent log: $(tail -3 "$work/agent.log")"
	fi
else
	kill "$runner" 2>/dev/null
	bad "kill" "the guest's client never started: $(tail -c 1000 "$work/loop.log")"
fi

# --- 3. the agent restarts under a running guest: ESESS, then the next call works --------
timeout 600 "$launcher" --guest "$out" --uds "$uds" --job watch --timeout 300 >"$work/watch.log" 2>&1 &
runner=$!
if wait_for "$work/watch.log" "call 3: ok" 240; then
	stop_agent
	sleep 1.5
	start_agent
	wait "$runner"
	calls=$(tr -d '\r' <"$work/watch.log" | grep "^call ")
	first_err=$(grep -n "error" <<<"$calls" | head -1 | cut -d: -f1)
	if [ -n "$first_err" ] && grep -q "error $((104)):" <<<"$calls" \
		&& tail -n +"$first_err" <<<"$calls" | grep -q ": ok$" && tail -1 <<<"$calls" | grep -q ": ok$"; then
		ok "agent restarted under the guest: $(grep -c ": ok$" <<<"$calls") calls ok, $(grep -c error <<<"$calls") refused ($(grep -m1 error <<<"$calls" | cut -c1-90)), then working again"
	else
		bad "restart" "calls: $(tr '\n' '|' <<<"$calls")"
	fi
else
	kill "$runner" 2>/dev/null
	bad "restart" "the guest's client never ran: $(tail -c 1000 "$work/watch.log")"
fi

# --- 4. every VMM and vsock device the launchers started is gone -------------------------
left=
for _ in $(seq 50); do
	left=$(pgrep -af -- "$out/vmlinux|--uds-path $uds" || true)
	[ -z "$left" ] && break
	sleep 0.1
done
if [ -z "$left" ]; then
	ok "no VMM or vhost-device-vsock process left behind (the killed guest's included)"
else
	bad "clean-up" "still running: $(cut -c1-160 <<<"$left" | tr '\n' '|')"
	pkill -KILL -f -- "$out/vmlinux|--uds-path $uds" || true
fi

echo "vm: $pass passed, $fail failed"
[ $fail = 0 ]
