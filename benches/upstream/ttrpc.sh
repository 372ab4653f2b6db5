#!/usr/bin/env bash
# Upstream's guests against upstream's agent and against ours: a guest built as upstream
# builds it (upstream's libvaccel + vaccel-rust's vaccel-rpc-client, driven by
# benches/upstream/rpc_client.c) checks our agent's answers, then times the smallest RPC
# (UpdateSession) against upstream's vaccel-rpc-agent and against ours, same run,
# alternating rounds.
#
# Usage: benches/upstream/ttrpc.sh VACCEL_RUST_SRC TTRPC_SRC UPSTREAM_PREFIX [ROUNDS] [CALLS]
#   VACCEL_RUST_SRC  a checkout of github.com/nubificus/vaccel-rust
#   TTRPC_SRC        a checkout of github.com/nubificus/ttrpc-rust, branch vaccel-dev (the
#                    fork upstream builds with: messages up to 1 GiB)
#   UPSTREAM_PREFIX  an install of upstream vAccel with its noop plugin (the agent's
#                    plugin; see benches/upstream/p1.sh for building one)
# Both checkouts are copied into a scratch directory and built there (their git
# dependencies pointed at TTRPC_SRC); nothing of them enters this tree. Needs libclang
# (Debian: libclang-14-dev) for vaccel-rust's bindings. The fork sets SO_REUSEPORT on every
# listening socket, which this kernel refuses for Unix sockets (EOPNOTSUPP): the scratch
# copy makes that option best-effort so that upstream's agent can listen on a Unix socket
# too. Both agents are timed on TCP and on Unix sockets.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
vr=${1:?usage: $0 VACCEL_RUST_SRC TTRPC_SRC UPSTREAM_PREFIX [ROUNDS] [CALLS]}
tt=${2:?usage}
up=${3:?usage}
rounds=${4:-5}
calls=${5:-2000}
uplib=$(dirname "$(find "$up" -name 'libvaccel.so.0' | head -1)")
[ -d "$uplib" ] || { echo "no libvaccel.so.0 under $up" >&2; exit 1; }
noop=$(find "$up" -name 'libvaccel-noop.so' | head -1)
[ -n "$noop" ] || { echo "no libvaccel-noop.so under $up" >&2; exit 1; }
export LIBCLANG_PATH=${LIBCLANG_PATH:-$(dirname "$(ls /usr/lib/llvm-*/lib/libclang.so 2>/dev/null | head -1)")}
[ -f "$LIBCLANG_PATH/libclang.so" ] || { echo "libclang not found (apt-get install libclang-14-dev)" >&2; exit 1; }

scratch=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$scratch"; }
trap cleanup EXIT
cp -a "$vr" "$scratch/vr"
cp -a "$tt" "$scratch/ttrpc"
# The git dependencies on the fork become path dependencies; its codegen uses its own
# compiler (the one whose generated services upstream's agent is written against).
for c in vaccel-rpc-agent vaccel-rpc-client vaccel-rpc-proto; do
	sed -i -E "s|ttrpc = \\{ git = \"[^\"]+\", branch = \"[^\"]+\"|ttrpc = { path = \"$scratch/ttrpc\"|; s|ttrpc-codegen = \\{ git = \"[^\"]+\", branch = \"[^\"]+\" \\}|ttrpc-codegen = { path = \"$scratch/ttrpc/ttrpc-codegen\" }|" "$scratch/vr/$c/Cargo.toml"
done
sed -i -E 's|^ttrpc-compiler = .*|ttrpc-compiler = { path = "../compiler" }|' "$scratch/ttrpc/ttrpc-codegen/Cargo.toml"
sed -i 's|    setsockopt(fd, sockopt::ReusePort, &true)?;|    let _ = setsockopt(fd, sockopt::ReusePort, \&true);|' "$scratch/ttrpc/src/common.rs"
echo "== building upstream's vaccel-rpc-agent and vaccel-rpc-client ($(git -C "$vr" rev-parse --short HEAD 2>/dev/null || echo '?'))"
(cd "$scratch/vr" && PKG_CONFIG_PATH="$uplib/pkgconfig" CARGO_TARGET_DIR="$scratch/target" \
	cargo build --release --quiet -p vaccel-rpc-agent -p vaccel-rpc-client)
rel="$scratch/target/release"
cc -O2 -Wall -Wextra -std=c11 -I"$up/include" -I"$rel" -o "$scratch/rpc_client" \
	"$root/benches/upstream/rpc_client.c" "$rel/libvaccel_rpc_client.a" -L"$uplib" -lvaccel -lpthread -ldl -lm
echo "== building ours"
cargo build --release --quiet -p vaccel-agent --manifest-path "$root/Cargo.toml"
cargo build --release --quiet -p vaccel-ttrpc --example ttrpc_guest --manifest-path "$root/Cargo.toml"
ours_bin=${CARGO_TARGET_DIR:-$root/target}/release/vaccel-agent
lean=${CARGO_TARGET_DIR:-$root/target}/release/examples/ttrpc_guest

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
up_port=$(port)
ours_port=$(port)
LD_LIBRARY_PATH="$uplib" VACCEL_PLUGINS="$noop" "$rel/vaccel-rpc-agent" -a "tcp://127.0.0.1:$up_port" \
	>"$scratch/up.log" 2>&1 &
pids+=($!)
LD_LIBRARY_PATH="$uplib" VACCEL_PLUGINS="$noop" "$rel/vaccel-rpc-agent" -a "unix://$scratch/up.sock" \
	>"$scratch/up-unix.log" 2>&1 &
pids+=($!)
"$ours_bin" -a "tcp://127.0.0.1:$ours_port" -a "unix://$scratch/ours.sock" >"$scratch/ours.log" 2>&1 &
pids+=($!)
sleep 1
client() { LD_LIBRARY_PATH="$uplib" VACCEL_RPC_ADDRESS=$1 "$scratch/rpc_client" "${@:2}" 2>/dev/null; }

echo "== upstream's client against our agent"
client "tcp://127.0.0.1:$ours_port" check "${VACCEL_ASSETS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vaccel/assets/v1}/images/rocket.jpg"
echo "== UpdateSession round trips, p50 / p99 µs ($rounds rounds; over TCP upstream's agent gets a tenth of the calls: it is slow there)"
echo "   upstream's client (its libvaccel + vaccel-rpc-client):"
for r in $(seq "$rounds"); do
	a=$(client "tcp://127.0.0.1:$ours_port" bench "$calls")
	b=$(client "tcp://127.0.0.1:$up_port" bench $((calls / 10)))
	c=$(client "unix://$scratch/ours.sock" bench "$calls")
	d=$(client "unix://$scratch/up.sock" bench "$calls")
	echo "   round $r: tcp: ours $a | upstream $b    unix: ours $c | upstream $d"
done
echo "   a lean client (vaccel-ttrpc-guest: one write per request, no I/O thread), Unix:"
for r in $(seq "$rounds"); do
	a=$("$lean" --address "unix://$scratch/ours.sock" bench "$calls")
	b=$("$lean" --address "unix://$scratch/up.sock" bench "$calls")
	echo "   round $r: ours $a | upstream $b"
done
