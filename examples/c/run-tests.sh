#!/usr/bin/env bash
# Build every C example against an installed vAccel (headers + libvaccel via pkg-config)
# with -Wall -Wextra -Werror, run each, and check its output.
# Usage: examples/c/run-tests.sh PREFIX   (PREFIX as given to scripts/install.sh)
set -uo pipefail
prefix=${1:?usage: run-tests.sh PREFIX}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export LD_LIBRARY_PATH="$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cflags=$(pkg-config --cflags vaccel) || { echo "pkg-config cannot find vaccel under $prefix"; exit 1; }
libs=$(pkg-config --libs vaccel)
pass=0 fail=0

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# build NAME [extra cc args]
build() {
	local name=$1; shift
	if ! cc -Wall -Wextra -Werror -std=c11 $cflags "$@" -o "$out/$name" "$here/$name.c" $libs 2>"$out/$name.cc.log"; then
		bad "build $name" "$(cat "$out/$name.cc.log")"
		return 1
	fi
}

# expect NAME PATTERN... : the last run's stdout must contain each pattern
expect() {
	local name=$1; shift
	for pat in "$@"; do
		if ! grep -qF -- "$pat" "$out/$name.out"; then
			bad "$name" "output lacks \"$pat\"; got: $(tr '\n' '|' <"$out/$name.out")"
			return
		fi
	done
	ok "$name"
}

# run NAME ARGS... : run it; non-zero exit fails the test
run() {
	local name=$1; shift
	if ! "$out/$name" "$@" >"$out/$name.out" 2>"$out/$name.err"; then
		bad "$name" "exit $?; stderr: $(tail -c 600 "$out/$name.err")"
		return 1
	fi
}

# The header, pkg-config and the CLI agree on the upstream API version we implement
# (bindings built for upstream require pkg-config's to be at least 0.8.0).
printf '#include <stdio.h>\n#include <vaccel.h>\nint main(void) { puts(VACCEL_VERSION); return 0; }\n' >"$out/version.c"
if cc -Wall -Wextra -Werror -std=c11 $cflags -o "$out/version" "$out/version.c" $libs; then
	header=$("$out/version") pc=$(pkg-config --modversion vaccel)
	cli=$("$prefix/bin/vaccel" --version | sed -n 's/.*(vAccel API \(.*\))/\1/p')
	if [ "$header" = "$pc" ] && [ "$pc" = "$cli" ] && [ "$(printf '%s\n' 0.8.0 "$pc" | sort -V | head -1)" = 0.8.0 ]; then
		ok "API version: VACCEL_VERSION, pkg-config and vaccel --version all say $pc"
	else
		bad "API version" "header '$header', pkg-config '$pc', CLI '$cli'"
	fi
else
	bad "API version" "cannot build a program printing VACCEL_VERSION"
fi

cc -Wall -Wextra -Werror -std=c11 -shared -fPIC $cflags -o "$out/libmytestlib.so" "$here/mytestlib.c" \
	&& ok "build libmytestlib.so" || bad "build libmytestlib.so" "compile error"
lib="$out/libmytestlib.so"

build noop && run noop 10 && expect noop "Initialized session with id: " "noop: 10 call(s) ok"
build exec && run exec "$lib" 3 && expect exec "exec: mytestfunc(21) = 42" \
	"myfailingfunc returned VACCEL_EBACKEND" "missing symbol returned VACCEL_ENOSYS"
build exec_generic && run exec_generic "$lib" && expect exec_generic "exec_generic: mytestfunc(21) = 42" \
	"wrong symbol type returned VACCEL_EINVAL: vaccel_genop: exec: read arg 1 (symbol) must be string, got int32" \
	"unknown op returned VACCEL_ENOTSUP"
build exec_with_resource && run exec_with_resource "$lib" && expect exec_with_resource "registered: yes" \
	"exec_with_resource: mytestfunc(50) = 100" "release while registered: VACCEL_EBUSY" "double release: error, error"
build arg_array && run arg_array && expect arg_array "count: 5" "int32: -7" "doubles: 3, last 3.5" \
	"range: 2 args, views: yes; remaining: 3; all: 5, owned copies: yes" "range past the end: VACCEL_ERANGE" \
	"string: hello" "bool: true" "point: (3, 4)" "after set: 99" "wrong type: VACCEL_EINVAL" \
	"past the end: VACCEL_EINVAL" "NULL array: VACCEL_EINVAL" "second release: VACCEL_EINVAL" "NULL session: VACCEL_EINVAL"

build tensors && run tensors && expect tensors "torch tensor: 4 dims, [1,3,224,224], 602112 bytes, owned=1" \
	"take_data: ok, 602112 bytes, tensor now empty: yes" "tflite tensor: 2 dims, 16 bytes, owned=0" \
	"tf node: serving_default_input/0, status 0 ok" "NULL tensor: VACCEL_EINVAL" "negative dims: VACCEL_EINVAL" \
	"torch_model_load: VACCEL_ENOTSUP (not an ONNX model)" "tf node/status new: out 3, 2 failed" \
	"tf node/status delete: ok"

if build sgemm && run sgemm && build sgemm_generic && run sgemm_generic; then
	typed=$(head -1 "$out/sgemm.out")
	if [ "$(head -1 "$out/sgemm_generic.out")" = "$typed" ] && grep -q "checksum=" <<<"$typed"; then
		ok "sgemm typed and genop give identical output ($typed)"
	else
		bad "sgemm typed vs genop" "$typed vs $(head -1 "$out/sgemm_generic.out")"
	fi
	expect sgemm_generic "short C: VACCEL_EINVAL: " "C holds 3197 floats but m=64 n=48 k=32"
fi

# Real classification and detection on the sample photos (scripts/assets.sh fetched them).
assets=${VACCEL_ASSETS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vaccel/assets/v1}
if [ -f "$assets/.complete" ]; then
	img="$assets/images"
	if build classify && build classify_generic; then
		for pair in "chelsea.png:cat" "coffee.png:espresso" "rocket.jpg:missile"; do
			photo=${pair%%:*} want=${pair#*:}
			if run classify "$img/$photo" 2 && run classify_generic "$img/$photo"; then
				typed=$(cat "$out/classify.out") generic=$(cat "$out/classify_generic.out")
				if [ "$typed" = "$generic" ] && grep -q "^classification tags: [0-9.]*% .*$want" <<<"$typed"; then
					ok "classify $photo: $typed (typed = genop)"
				else
					bad "classify $photo" "typed: $typed; genop: $generic"
				fi
			fi
		done
	fi
	if "$prefix/bin/vaccel" preprocess "$img/coffee.png" --out "$out/coffee.f32" >/dev/null 2>"$out/pre.err" \
		&& build torch_inference && run torch_inference "$assets/models/efficientnet-lite0.onnx" "$out/coffee.f32" "$assets/labels/imagenet.txt"; then
		expect torch_inference "torch output: 2 dims [1, 1000], float=1" "torch top-1: espresso" \
			"tflite agrees: yes (status 0)" "wrong shape: VACCEL_EINVAL"
	fi
	build detect && run detect "$img/page.png" && expect detect "detection image: " "segmentation: VACCEL_ENOTSUP"
	if [ -f "$(sed -n 's/^detection image: //p' "$out/detect.out")" ]; then ok "detect wrote its annotated image"; else bad "detect" "annotated image missing"; fi
else
	bad "classify/detect" "no assets in $assets (run scripts/assets.sh)"
fi

build names && run names && expect names "VACCEL_OP_BLAS_SGEMM: yes" "BLAS_SGEMM: yes" \
	"image_classify: yes" "noop: yes" "VACCEL_OP_MAX: yes" "VACCEL_ARG_FLOAT32_ARRAY: yes" "WARN: yes" \
	"model: yes" "VACCEL_BLOB_BUFFER: yes" "REMOTE_FILE: yes" "VACCEL_PLUGIN_REMOTE: yes" \
	"VACCEL_PLUGIN_MAX: yes" "constants: 30 5 65536 24 3 3" "0.8.0: yes" "mix: yes" "mixed: yes" \
	"NULL string: VACCEL_EINVAL"
if build lifecycle && run lifecycle && expect lifecycle "initialized at start: yes" "rundir exists: yes"; then
	dir=$(sed -n 's/^rundir: //p' "$out/lifecycle.out")
	if [ -n "$dir" ] && [ ! -e "$dir" ]; then ok "the rundir is gone after exit"; else bad "lifecycle" "$dir left behind"; fi
	VACCEL_BOOTSTRAP_ENABLED=0 run lifecycle && expect lifecycle "initialized at start: no" "rundir exists: no"
	VACCEL_CLEANUP_ENABLED=0 run lifecycle
	dir=$(sed -n 's/^rundir: //p' "$out/lifecycle.out")
	if [ -d "$dir" ]; then ok "VACCEL_CLEANUP_ENABLED=0 keeps the rundir"; rm -rf "$dir"; else bad "lifecycle" "cleanup disabled, yet $dir is gone"; fi
fi
build arg_list && run arg_list && expect arg_list "full list refuses more: yes" "serial: 21" \
	"nonserial: 3 4 (custom type 7)" "written: 42, 5 6" "too big for the arg: VACCEL_EINVAL" "delete: ok" "empty list: NULL"
mkdir -p "$out/blobs" && echo data >"$out/blobs/one.txt"
build blob && run blob "$here/blob.c" "$out/blobs" && expect blob "file: type MAPPED" "path given back: yes" \
	"file data read: yes" "view shares, copy owns: yes" \
	"persisted: type MAPPED, name kept.bin, on disk: yes, same bytes: yes" "a taken name gets a suffix: yes" \
	"persist twice: VACCEL_EEXIST" "valid: yes" "release removes the file: yes" "released is not valid: yes" \
	"release twice: VACCEL_EINVAL" "no name: VACCEL_EINVAL"
# A local web server for the URL resource (Python's, on a free port of 127.0.0.1).
web_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$web_port" --bind 127.0.0.1 --directory "$out/blobs" >/dev/null 2>&1 &
web_pid=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$web_port") 2>/dev/null && break; sleep 0.1; done
build resource_forms && run resource_forms "$out/blobs" "http://127.0.0.1:$web_port/one.txt" \
	&& expect resource_forms "from blobs: yes (copied)" \
	"from_buf (allocated): yes" "multi_new of a directory: yes (its data is read at register)" \
	"directory: yes" "directory, allocated: yes" "data read at register: yes" "file gone by register: VACCEL_ENOENT" \
	"directory of a buffer resource: VACCEL_ENOTSUP" "sync, local: ok" "sync, not registered: VACCEL_ENOENT" \
	"from a URL: yes (downloaded at register)" "downloaded blob name: one.txt"
kill "$web_pid" 2>/dev/null; wait "$web_pid" 2>/dev/null
if build slog && VACCEL_LOG_LEVEL=3 run slog; then
	if grep -qF "slog error: 42 3.50 text 1234567890123" "$out/slog.err" && grep -qF "slog info: ok" "$out/slog.err" \
		&& grep -qF "macro info: 7" "$out/slog.err"; then ok "slog_print (variadic) reaches the logger"
	else bad "slog" "stderr: $(tail -c 400 "$out/slog.err")"; fi
fi
build config && run config && expect config "init: plugins exec:noop, level 2, profiling 1" \
	"copy owns its strings: yes" "in force: plugins exec:noop, profiling 1; prof enabled: yes" \
	"session after bootstrap: ok" "restarted: prof enabled: no, old session: gone" "from env: ok" \
	"NULL config: VACCEL_EINVAL"
build prof && VACCEL_PROFILING_ENABLED=1 run prof && expect prof "enabled: yes" "unknown name: VACCEL_EINVAL" \
	"entries: load 1, run 3" "buffer: 2 regions, first line \"[prof] load\"" "second line starts: [prof] run" \
	"[prof] run: total_time: "
build lookup && run lookup && expect lookup "session by id is the caller's struct: yes" \
	"unknown session id: ENOENT: yes" "resource by id: yes" "oldest resource of a type: yes" \
	"all resources of a type: yes" "none of a type: ENOENT: yes" "the session's LIB resource, with its blob: yes" \
	"the session's resource by id: yes" "a resource not registered with it: ENOENT: yes" \
	"the session's resources of a type: yes" "deprecated has_resource: yes" \
	"released sessions are not found: yes" "released resources are not found: yes" \
	"update rebinds, keeping the id: yes" "deprecated update: yes" "update with registered resources: ENOTSUP: yes"
build layouts && run layouts "$here/layouts.c" && expect layouts \
	"local session: id, hint, not virtio, no remote id: yes" \
	"session rundir is a directory named session.<id>: yes" "session rundir is under vaccel_rundir(): yes" \
	"resource lists are empty lists: yes" "file resource: its path: yes" \
	"file resource: no blobs before it is registered (its data is read then): yes" \
	"file resource: its blob (type, path, size, data, name): yes" \
	"buffer resource: its blob (type, name, size, bytes): yes" "register counts the registration: yes" \
	"unregister uncounts it: yes" "release frees and clears the fields: yes" \
	"a second release is an error: yes" "session release removes its rundir: yes"

build misuse && run misuse && expect misuse "noop on forged session: VACCEL_ENOENT" \
	"release forged session: VACCEL_ENOENT" "delete forged session: VACCEL_ENOENT" "NULL session init: VACCEL_EINVAL" \
	"NULL resource path: VACCEL_EINVAL" "missing resource file: VACCEL_ENOENT" "bad resource type: VACCEL_EINVAL" \
	"register forged resource: VACCEL_ENOENT" "negative sgemm dims: VACCEL_EINVAL" "register: VACCEL_OK" \
	"register again: VACCEL_EEXIST" "unregister from other session: VACCEL_ENOENT" \
	"sgemm with NULL matrices: VACCEL_EINVAL" "classify a non-image: VACCEL_EINVAL" \
	"fpga vadd, no plugin for it: VACCEL_ENOTSUP" "fpga parallel, overlapping outputs: VACCEL_EINVAL" \
	"fpga arraycopy, NULL output: VACCEL_EINVAL" "fpga mmult, misaligned: VACCEL_EINVAL" \
	"opencv, no plugin for it: VACCEL_ENOTSUP" "torch_sgemm, no plugin for it: VACCEL_ENOTSUP" \
	"torch_sgemm, NULL operand: VACCEL_EINVAL" \
	"genop with negative count: VACCEL_EINVAL" "genop with NULL args: VACCEL_EINVAL" \
	"release session holding a resource: VACCEL_OK" "resource now free: VACCEL_OK" \
	"noop on released session: VACCEL_ENOENT" "delete heap session: VACCEL_OK" \
	"cleanup: VACCEL_OK, initialized after: no" "bootstrap again: VACCEL_OK"

# The exec plugin loaded from its shared object runs the same functions (and the function's
# calls into libvaccel's arg helpers resolve).
if VACCEL_PLUGINS="$prefix/lib/vaccel/libvaccel_exec.so" "$out/exec" "$lib" >"$out/exec.out" 2>"$out/exec.err"; then
	expect exec "exec: mytestfunc(21) = 42"
else
	bad "exec with dynamic exec plugin" "$(cat "$out/exec.err")"
fi

# A plugin written for upstream's plugin ABI (examples/plugins/example), built the way
# upstream's plugin authors build theirs, loads next to ours and serves its ops; the
# loader refuses what upstream refuses.
# plugin NAME [cc args]: build libvaccel-NAME.so from the example's source.
plugin() {
	local name=$1; shift
	cc -Wall -Wextra -Werror -std=c11 -shared -fPIC $cflags "$@" -o "$out/libvaccel-$name.so" \
		"$here/../plugins/example/vaccel.c" $libs 2>"$out/$name.cc.log" \
		|| { bad "build plugin $name" "$(cat "$out/$name.cc.log")"; return 1; }
}
up_expect=("noop: VACCEL_OK" "classify: VACCEL_OK, text as computed: yes, image name: example.out" \
	"sgemm: VACCEL_OK, C as computed: yes" "minmax: VACCEL_OK, min -3.0 max 12.0, clamped: yes" \
	"fpga_vadd: VACCEL_OK, sums: yes" "fpga_mmult, not registered: VACCEL_ENOTSUP" \
	"exec: VACCEL_OK, 3 * 7 = 21" "exec failing in the plugin: VACCEL_EBACKEND" \
	"exec_with_resource: VACCEL_OK, blobs seen: 1" "genop fpga_vadd: VACCEL_OK, sums: yes" \
	"torch_model_load: VACCEL_OK" "torch_model_run: VACCEL_OK, output doubled: yes" \
	"tflite_model_run: VACCEL_OK, status 0, output doubled: yes" \
	"torch_sgemm: VACCEL_OK, product as computed: yes" "tf_model_run: VACCEL_OK, nodes used: yes" \
	"tf_model_run, unknown output node: VACCEL_EINVAL, status says: yes" \
	"register_ops outside init: VACCEL_EINVAL" "release: VACCEL_OK" "cleanup: VACCEL_OK")
if plugin example && build upstream_plugin; then
	ex="$out/libvaccel-example.so"
	VACCEL_LOG_LEVEL=3 VACCEL_PLUGINS="$ex" run upstream_plugin "$lib" && expect upstream_plugin "${up_expect[@]}"
	for pat in "[example] init: 12 ops registered" "Registered plugin example 1.0.0 (upstream plugin ABI" \
		"[example] noop for session" "registered with session" "[example] fini after 2 resource registration(s)" \
		"exec failed in plugin example: its exec returned VACCEL_EBACKEND"; do
		grep -qF -- "$pat" "$out/upstream_plugin.err" || { bad "upstream plugin logs" "stderr lacks \"$pat\": $(tail -c 600 "$out/upstream_plugin.err")"; break; }
	done && ok "upstream plugin: its log lines, its resource hook and its fini, through libvaccel"
	run upstream_plugin "$lib" load "$ex" && expect upstream_plugin "vaccel_plugin_load: VACCEL_OK" \
		"loading it again: VACCEL_EEXIST" \
		"parse_and_load of a missing file: VACCEL_ENOENT, of an empty list: VACCEL_EINVAL" "${up_expect[@]}"
	# refused NAME PATTERN [env...]: with that plugin, the program fails saying PATTERN.
	refused() {
		local name=$1 pat=$2; shift 2
		if env "$@" VACCEL_PLUGINS="$out/libvaccel-$name.so" "$out/upstream_plugin" "$lib" >"$out/r.out" 2>"$out/r.err"; then
			bad "plugin $name refused" "it loaded; $(tr '\n' '|' <"$out/r.out")"
		elif grep -qF -- "$pat" "$out/r.err"; then ok "plugin $name refused: $pat"
		else bad "plugin $name refused" "stderr lacks \"$pat\": $(tail -c 400 "$out/r.err")"; fi
	}
	plugin example-v1 -DEXAMPLE_VACCEL_VERSION='"1.0.0"' \
		&& refused example-v1 "incompatible with this vAccel (built with 1.0.0, used with 0.8.0)" \
		&& VACCEL_VERSION_IGNORE=1 VACCEL_PLUGINS="$out/libvaccel-example-v1.so" run upstream_plugin "$lib" \
		&& expect upstream_plugin "${up_expect[@]}"
	plugin example-initfail -DEXAMPLE_INIT_FAILS && refused example-initfail "init() returned VACCEL_EBACKEND"
	plugin example-badop -DEXAMPLE_BAD_OP && refused example-badop "op 6: type 77 is not an op"
	# The CLI cannot host one (the plugin calls into libvaccel): it says so.
	if VACCEL_PLUGINS="$ex" "$prefix/bin/vaccel" plugins >/dev/null 2>"$out/cli.err"; then
		bad "CLI with an upstream plugin" "it ran"
	elif grep -qF "served by programs linked with libvaccel" "$out/cli.err"; then ok "CLI refuses an upstream plugin, saying why"
	else bad "CLI with an upstream plugin" "$(tail -c 400 "$out/cli.err")"; fi
fi

# Upstream's own plugins (noop, exec), built from an upstream vAccel checkout against our
# headers, serve our example programs unchanged. Needs the checkout (VACCEL_UPSTREAM_SRC);
# CI has none, so it says it skipped.
if [ -z "${VACCEL_UPSTREAM_SRC:-}" ]; then
	echo "SKIP upstream's noop and exec plugins: set VACCEL_UPSTREAM_SRC to an upstream vAccel checkout"
else
	for p in noop exec; do
		cc -shared -fPIC -std=gnu11 $cflags -o "$out/libvaccel-up$p.so" "$VACCEL_UPSTREAM_SRC/plugins/$p/vaccel.c" $libs \
			2>"$out/up$p.cc.log" || bad "build upstream's $p plugin" "$(tail -c 400 "$out/up$p.cc.log")"
	done
	VACCEL_PLUGINS="$out/libvaccel-upexec.so" run exec "$lib" && expect exec "exec: mytestfunc(21) = 42" \
		"myfailingfunc returned VACCEL_EBACKEND" "missing symbol returned VACCEL_ENOSYS"
	VACCEL_PLUGINS="$out/libvaccel-upexec.so" run exec_with_resource "$lib" \
		&& expect exec_with_resource "exec_with_resource: mytestfunc(50) = 100"
	VACCEL_PLUGINS="$out/libvaccel-upnoop.so" run noop 3 && expect noop "noop: 3 call(s) ok"
	VACCEL_PLUGINS="$out/libvaccel-upnoop.so" run classify "$here/noop.c" \
		&& expect classify "classification tags: This is a dummy classification tag!"
fi

# Every header stands alone, as C11 and (with a C++ compiler) as C++, warnings as errors.
hdr_bad=()
for h in $(cd "$prefix/include" && find vaccel -name '*.h' | sort) vaccel.h; do
	printf '#include <%s>\n' "$h" | cc -x c -std=c11 -Wall -Wextra -Werror $cflags -fsyntax-only - 2>>"$out/hdr.log" || hdr_bad+=("$h (C)")
	if command -v c++ >/dev/null; then
		printf '#include <%s>\n' "$h" | c++ -x c++ -std=c++17 -Wall -Wextra -Werror $cflags -fsyntax-only - 2>>"$out/hdr.log" || hdr_bad+=("$h (C++)")
	fi
done
if [ ${#hdr_bad[@]} -eq 0 ]; then ok "every header compiles on its own"; else bad "headers" "${hdr_bad[*]}: $(head -c 600 "$out/hdr.log")"; fi

# C++ programs can include the headers too (skipped, and said so, without a C++ compiler).
if ! command -v c++ >/dev/null; then
	echo "SKIP C++ include and link: no C++ compiler installed"
elif echo '#include <vaccel.h>
int main() { struct vaccel_session s; return vaccel_session_init(&s, 0) || vaccel_session_release(&s); }' \
	| c++ -x c++ -std=c++20 -Wall -Wextra -Werror $cflags -o "$out/cxx" - $libs 2>"$out/cxx.log" && "$out/cxx"; then
	ok "C++ include and link"
else
	bad "C++ include and link" "$(cat "$out/cxx.log" 2>/dev/null)"
fi

# A Python binding built as upstream's is (CFFI over the preprocessed headers), in its own
# virtualenv under the cache (cffi and setuptools from PyPI, installed on first use).
py=""
venv="${XDG_CACHE_HOME:-$HOME/.cache}/vaccel/venv-cffi"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import cffi, setuptools' 2>/dev/null; then
	py="$venv/bin/python"
elif python3 -m venv "$venv" >/dev/null 2>&1 && "$venv/bin/pip" install -q cffi setuptools >"$out/pip.log" 2>&1; then
	py="$venv/bin/python"
else
	bad "python binding" "cannot set up a virtualenv with cffi: $(tail -c 400 "$out/pip.log" 2>/dev/null)"
fi
py_expect=("session: yes" "session is_virtio as expected: yes" "noop: yes" "resource from buffer: yes" \
	"register: yes" "unregister: yes" "resource from a file, its path: yes" "genop noop: yes" \
	"exec mytestfunc(21) = 42: yes" "classify: yes" "release: yes")
if [ -n "$py" ] && [ -f "$assets/.complete" ]; then
	mkdir -p "$out/cffi"
	if "$py" "$here/../python/cffi_binding.py" "$out/cffi" "$lib" "$assets/images/chelsea.png" >"$out/python.out" 2>"$out/python.err"; then
		expect python "${py_expect[@]}" "classification: 38.300% Egyptian cat"
	else
		bad "python binding" "$(tail -c 600 "$out/python.err")"
	fi
fi

# The same programs through a vaccel-agent (rpc plugin) over unix and tcp: identical output.
if [ -x "$prefix/bin/vaccel-agent" ] && [ -f "$assets/.complete" ]; then
	agent_pids=()
	sock="$out/agent.sock"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	allow=()
	for f in mytestfunc myfailingfunc no_such_function; do allow+=(--allow-exec "$lib:$f"); done
	"$prefix/bin/vaccel-agent" -a "unix://$sock" "${allow[@]}" 2>"$out/agent-unix.log" & agent_pids+=($!)
	"$prefix/bin/vaccel-agent" -a "tcp://127.0.0.1:$port" "${allow[@]}" 2>"$out/agent-tcp.log" & agent_pids+=($!)
	for _ in $(seq 100); do [ -S "$sock" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
	img="$assets/images"
	cases=(
		"noop 5"
		"exec $lib"
		"exec_generic $lib"
		"classify $img/chelsea.png"
		"classify_generic $img/rocket.jpg"
		"detect $img/page.png"
		"sgemm"
		"sgemm_generic"
		"torch_inference $assets/models/efficientnet-lite0.onnx $out/coffee.f32 $assets/labels/imagenet.txt"
	)
	for remote in "unix://$sock" "tcp://127.0.0.1:$port"; do
		for c in "${cases[@]}"; do
			set -- $c
			name=$1; shift
			# stdout only: the logs on stderr carry timestamps.
			local_out=$("$out/$name" "$@" 2>/dev/null)
			remote_out=$(VACCEL_PLUGINS="$prefix/lib/vaccel/libvaccel_rpc.so" VACCEL_RPC_ADDRESS="$remote" "$out/$name" "$@" 2>/dev/null)
			if [ "$local_out" = "$remote_out" ]; then
				ok "remote ${remote%%:*} $name: identical output"
			else
				bad "remote ${remote%%:*} $name" "local: $(tr '\n' '|' <<<"$local_out") remote: $(tr '\n' '|' <<<"$remote_out")"
			fi
		done
	done
	# The Python binding through the agent, with a REMOTE session too.
	if [ -n "$py" ]; then
		if VACCEL_PLUGINS="$prefix/lib/vaccel/libvaccel_rpc.so" VACCEL_RPC_ADDRESS="unix://$sock" \
			"$py" "$here/../python/cffi_binding.py" "$out/cffi" "$lib" "$img/chelsea.png" remote >"$out/python.out" 2>"$out/python.err"; then
			expect python "${py_expect[@]}" "REMOTE session on the agent: yes" "REMOTE noop: yes"
		else
			bad "python binding, remote" "$(tail -c 600 "$out/python.err")"
		fi
	fi
	# A REMOTE session, as upstream programs make it: bound to the transport, the agent
	# told the hint without the REMOTE bit, is_virtio set, the agent's id in remote_id.
	if VACCEL_PLUGINS="$prefix/lib/vaccel/libvaccel_rpc.so" VACCEL_RPC_ADDRESS="unix://$sock" \
		"$out/layouts" "$here/layouts.c" remote >"$out/layouts.out" 2>"$out/layouts.err"; then
		expect layouts "default session on the transport: virtio, with its remote id: yes" \
			"REMOTE session: on the agent, with its remote id: yes" "REMOTE session runs ops: yes"
	else
		bad "layouts remote" "$(tr '\n' '|' <"$out/layouts.out") $(tail -c 400 "$out/layouts.err")"
	fi
	kill "${agent_pids[@]}" 2>/dev/null
	wait "${agent_pids[@]}" 2>/dev/null
fi

# The rpc plugin pointed at something that is not our agent (here a socket that accepts
# and stays silent, as upstream's ttrpc agent does with our hello) fails fast, naming it.
silent="$out/silent.sock"
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)
conns = [s.accept() for _ in range(2)]; time.sleep(30)' "$silent" 2>/dev/null &
silent_pid=$!
for _ in $(seq 50); do [ -S "$silent" ] && break; sleep 0.1; done
start=$(date +%s%N)
VACCEL_PLUGINS="$prefix/lib/vaccel/libvaccel_rpc.so" VACCEL_RPC_ADDRESS="unix://$silent" VACCEL_RPC_HANDSHAKE_TIMEOUT=0.5 \
	timeout 20 "$out/noop" 1 >"$out/silent.out" 2>"$out/silent.err"
rc=$? took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qF "did not answer the vAccel handshake within 0.5 s" "$out/silent.err"; then
	ok "rpc plugin at a silent socket: an error naming it after ${took_ms} ms, not a hang"
else
	bad "rpc plugin at a silent socket" "exit $rc after ${took_ms} ms; stderr: $(tail -c 400 "$out/silent.err")"
fi
kill "$silent_pid" 2>/dev/null; wait "$silent_pid" 2>/dev/null

# The noop plugin loaded dynamically answers for a DEBUG session... and says so.
if VACCEL_PLUGINS="$prefix/lib/vaccel/libvaccel_noop.so" "$out/noop" 1 >"$out/noop.out" 2>"$out/noop.err"; then
	expect noop "noop: 1 call(s) ok"
else
	bad "noop with dynamic noop plugin" "$(cat "$out/noop.err")"
fi

# Our plugins answer to upstream's file names too.
if VACCEL_PLUGINS="$prefix/lib/vaccel/libvaccel-noop.so" "$out/noop" 1 >"$out/noop.out" 2>"$out/noop.err"; then
	expect noop "noop: 1 call(s) ok"
else
	bad "noop as libvaccel-noop.so" "$(cat "$out/noop.err")"
fi

# A bad VACCEL_PLUGINS entry fails every call with a message naming it, never a crash.
VACCEL_PLUGINS=/nonexistent/libvaccel_x.so "$out/noop" 1 >"$out/noop.out" 2>"$out/noop.err"
rc=$?
if [ $rc -eq 1 ] && grep -qF "/nonexistent/libvaccel_x.so" "$out/noop.err"; then
	ok "bad VACCEL_PLUGINS entry is reported"
else
	bad "bad VACCEL_PLUGINS entry" "exit $rc; stderr: $(cat "$out/noop.err")"
fi

# Static linking works too.
if cc -Wall -Wextra -Werror -std=c11 $cflags -o "$out/noop_static" "$here/noop.c" \
	"$prefix/lib/libvaccel.a" -lpthread -ldl -lm -lgcc_s 2>"$out/static.log" && "$out/noop_static" 2 | grep -qF "noop: 2 call(s) ok"; then
	ok "static libvaccel.a"
else
	bad "static libvaccel.a" "$(cat "$out/static.log")"
fi

echo "examples: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
