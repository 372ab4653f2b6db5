"""A Python binding built the way upstream's (vaccel-python) builds its own: preprocess
<vaccel.h> with the C compiler, keep the declarations of vaccel's headers, drop the
static inline helpers, cdef the rest with CFFI and compile a module against libvaccel.
Then sessions, resources from buffers and files, genop, exec, classify — and, with
"remote", a VACCEL_PLUGIN_REMOTE session — through it.

Usage: python cffi_binding.py BUILD_DIR MYTESTLIB IMAGE [remote]
(PKG_CONFIG_PATH and LD_LIBRARY_PATH name the vaccel install.)
"""

import importlib
import os
import re
import subprocess
import sys

import cffi


def pkg(*args):
    return subprocess.run(["pkg-config", *args, "vaccel"], check=True, capture_output=True, text=True).stdout.split()


def drop_groups(src, start, opening, closing, keep=lambda text: False):
    """Remove each match of `start` and the bracketed group it opens (nested `opening` /
    `closing` counted), unless `keep(text)`; whitespace after a removed group goes too."""
    out, i = [], 0
    while True:
        m = start.search(src, i)
        if not m:
            out.append(src[i:])
            return "".join(out)
        out.append(src[i : m.start()])
        j = src.index(opening, m.start()) + 1
        depth = 1
        while depth:
            depth += {opening: 1, closing: -1}.get(src[j], 0)
            j += 1
        if keep(src[m.start() : j]):
            out.append(src[m.start() : j])
            i = j
            continue
        while j < len(src) and src[j].isspace():
            j += 1
        i = j


def drop_static_inline(src):
    """Remove `static inline` function definitions (brace-matched), as CFFI cannot take them."""
    return drop_groups(src, re.compile(r"\bstatic\s+inline\b"), "{", "}")


def drop_deprecated_attributes(src):
    """Remove `__attribute__((...))` groups that mark something deprecated (CFFI cannot
    parse them); other attributes stay."""
    return drop_groups(src, re.compile(r"__attribute__\s*\("), "(", ")",
                       keep=lambda text: "deprecated" not in text)


def cdef_source():
    """The preprocessed headers, sanitised as the official binding's build does it:
    deprecated attributes and `static inline` functions dropped, then only vAccel's own
    lines, without `extern` declarations, with atomics and mutexes made opaque."""
    cc = os.environ.get("CC", "cc")
    pre = subprocess.run([cc, *pkg("--cflags"), "-E", "-"], input="#include <vaccel.h>\n",
                         check=True, capture_output=True, text=True).stdout
    pre = drop_static_inline(drop_deprecated_attributes(pre))
    keep, ours = [], False
    for line in pre.splitlines():
        if line.startswith("#"):
            m = re.match(r'# \d+ "(.*?)"', line)
            if m:
                ours = "vaccel" in m.group(1)
            continue
        if not ours or re.search(r"\bextern\b", line):
            continue
        if re.search(r"\b(_Atomic|atomic_\w+|pthread_mutex_t)\b", line):
            keep.append(re.match(r"^(\s*)", line).group(1) + "...;")
            continue
        keep.append(line)
    return "\n".join(keep)


def build(build_dir):
    ffi = cffi.FFI()
    ffi.cdef(cdef_source())
    libdirs = [f[2:] for f in pkg("--libs-only-L")]
    incdirs = [f[2:] for f in pkg("--cflags-only-I")]
    ffi.set_source("_vaccel_cffi", "#include <vaccel.h>", libraries=["vaccel"],
                   library_dirs=libdirs, include_dirs=incdirs)
    ffi.compile(tmpdir=build_dir, verbose=False)
    sys.path.insert(0, build_dir)
    return importlib.import_module("_vaccel_cffi")


def main():
    build_dir, mytestlib, image = sys.argv[1:4]
    remote = sys.argv[4:5] == ["remote"]
    mod = build(build_dir)
    ffi, lib = mod.ffi, mod.lib

    def ok(what, cond):
        print(f"{what}: {'yes' if cond else 'NO'}")

    sess = ffi.new("struct vaccel_session *")
    ok("session", lib.vaccel_session_init(sess, 0) == lib.VACCEL_OK and sess.id > 0)
    ok("session is_virtio as expected", bool(sess.is_virtio) == remote)
    ok("noop", lib.vaccel_noop(sess) == lib.VACCEL_OK)

    data = b"some bytes"
    res = ffi.new("struct vaccel_resource *")
    ok("resource from buffer", lib.vaccel_resource_init_from_buf(
        res, data, len(data), lib.VACCEL_RESOURCE_DATA, b"d.bin", True) == lib.VACCEL_OK
       and res.nr_blobs == 1 and ffi.string(res.blobs[0].name) == b"d.bin")
    ok("register", lib.vaccel_resource_register(res, sess) == lib.VACCEL_OK)
    ok("unregister", lib.vaccel_resource_unregister(res, sess) == lib.VACCEL_OK)
    lib.vaccel_resource_release(res)
    fres = ffi.new("struct vaccel_resource *")
    ok("resource from a file, its path",
       lib.vaccel_resource_init(fres, image.encode(), lib.VACCEL_RESOURCE_DATA) == lib.VACCEL_OK
       and ffi.string(fres.paths[0]) == image.encode())
    lib.vaccel_resource_release(fres)

    # genop: noop through the generic entry point.
    op = ffi.new("uint8_t *", lib.VACCEL_OP_NOOP)
    args = ffi.new("struct vaccel_arg[1]")
    args[0].buf, args[0].size, args[0].type = op, 1, lib.VACCEL_ARG_UINT8
    ok("genop noop", lib.vaccel_genop(sess, args, 1, ffi.NULL, 0) == lib.VACCEL_OK)

    # exec: mytestfunc doubles an int32.
    inp, outp = ffi.new("int32_t *", 21), ffi.new("int32_t *", 0)
    r, w = ffi.new("struct vaccel_arg[1]"), ffi.new("struct vaccel_arg[1]")
    r[0].buf, r[0].size, r[0].type = inp, 4, lib.VACCEL_ARG_INT32
    w[0].buf, w[0].size, w[0].type = outp, 4, lib.VACCEL_ARG_INT32
    rc = lib.vaccel_exec(sess, mytestlib.encode(), b"mytestfunc", r, 1, w, 1)
    ok("exec mytestfunc(21) = 42", rc == lib.VACCEL_OK and outp[0] == 42)

    with open(image, "rb") as f:
        img = f.read()
    text, name = ffi.new("unsigned char[256]"), ffi.new("unsigned char[256]")
    rc = lib.vaccel_image_classification(sess, img, text, name, len(img), 256, 256)
    ok("classify", rc == lib.VACCEL_OK and b"%" in ffi.string(text))
    print("classification:", ffi.string(text).decode())
    ok("release", lib.vaccel_session_release(sess) == lib.VACCEL_OK)

    if remote:
        rs = ffi.new("struct vaccel_session *")
        rc = lib.vaccel_session_init(rs, lib.VACCEL_PLUGIN_REMOTE)
        ok("REMOTE session on the agent", rc == lib.VACCEL_OK and rs.is_virtio and rs.remote_id > 0)
        ok("REMOTE noop", rc == lib.VACCEL_OK and lib.vaccel_noop(rs) == lib.VACCEL_OK)
        lib.vaccel_session_release(rs)
    print("enum helpers dropped, constants kept:", lib.VACCEL_OP_MAX, lib.VACCEL_ARG_MAX)


if __name__ == "__main__":
    main()
