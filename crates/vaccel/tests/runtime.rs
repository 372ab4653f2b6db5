//! Runtime behaviour through the public API: binding and routing, genop, failure codes,
//! resources, and the loader's refusals of broken plugin files (built here with `cc`).

use std::path::{Path, PathBuf};
use std::process::Command;
use vaccel::{
    ArgType, Args, Config, Error, OpType, Resource, ResourceType, Runtime, Session, code,
    plugin_type,
};

fn runtime(plugins: &[&str]) -> vaccel::Result<Runtime> {
    Runtime::builder()
        .builtin(vaccel_plugin_exec::descriptor())
        .builtin(vaccel_plugin_noop::descriptor())
        .config(Config {
            plugins: plugins.iter().map(|s| s.to_string()).collect(),
            ..Config::default()
        })
        .build()
}

mod support;

fn cc(dir: &Path, name: &str, source: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    let out = dir.join(format!("{name}.so"));
    std::fs::write(&src, source).unwrap();
    let st = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("cc runs");
    assert!(st.success(), "compiling fixture {name}");
    out
}

#[test]
fn default_session_binds_exec_and_never_routes_to_builtin_noop() {
    let rt = runtime(&[]).unwrap();
    let s = Session::new(&rt, 0).unwrap();
    assert_eq!(s.plugin().name(), "exec");
    assert_eq!(s.plugin_for(OpType::Noop).unwrap().name(), "exec");
    // Only the (not explicitly loaded) debug plugin has sgemm: not eligible.
    assert!(s.plugin_for(OpType::BlasSgemm).is_none());
    let mut c = [0f32; 1];
    let e = s
        .sgemm(1, 1, 1, 1.0, &[1.0], 1, &[1.0], 1, 0.0, &mut c, 1)
        .unwrap_err();
    assert_eq!(e.code(), code::ENOTSUP);
    assert_eq!(e.to_string(), "blas_sgemm: no loaded plugin implements it");
}

#[test]
fn debug_hint_binds_noop_which_says_so() {
    let rt = runtime(&[]).unwrap();
    let s = Session::new(&rt, plugin_type::DEBUG).unwrap();
    assert_eq!(s.plugin().name(), "noop");
    let out = s.image_classify(b"not really an image").unwrap();
    // Upstream's dummy text (issue 12; ours said "noop plugin" before): still plainly a dummy.
    assert!(out.text.contains("dummy"), "{}", out.text);
}

#[test]
fn explicit_noop_is_last_resort_not_first_choice() {
    let rt = runtime(&["exec", "noop"]).unwrap();
    let s = Session::new(&rt, 0).unwrap();
    assert_eq!(s.plugin_for(OpType::Exec).unwrap().name(), "exec");
    assert_eq!(s.plugin_for(OpType::BlasSgemm).unwrap().name(), "noop");
}

#[test]
fn a_type_hint_no_plugin_matches_falls_back_to_the_first_local_plugin_but_remote_does_not() {
    let rt = runtime(&[]).unwrap();
    // Upstream's rule (issue 12; this test asserted ENOTSUP before): the first local plugin.
    let s = Session::new(&rt, plugin_type::GPU).unwrap();
    assert_eq!(s.plugin().name(), "exec");
    s.noop().unwrap();
    let e = Session::new(&rt, plugin_type::REMOTE).unwrap_err();
    assert_eq!(e.code(), code::ENOTSUP);
    assert!(e.to_string().contains("hint 0x4000 (REMOTE)"), "{e}");
}

#[test]
fn genop_checks_op_and_args() {
    let rt = runtime(&[]).unwrap();
    let s = Session::new(&rt, 0).unwrap();
    // Missing op arg.
    let e = s.genop(&mut Args::new(), &mut Args::new()).unwrap_err();
    assert_eq!(e.code(), code::EINVAL);
    // Unknown op id.
    let op = 99u8;
    let mut r = Args::new();
    r.scalar(&op);
    let e = s.genop(&mut r, &mut Args::new()).unwrap_err();
    assert_eq!(e.code(), code::ENOTSUP);
    // Noop through genop works.
    let op = OpType::Noop.raw() as u8;
    let mut r = Args::new();
    r.scalar(&op);
    s.genop(&mut r, &mut Args::new()).unwrap();
    // Exec with a wrong arg type names the arg.
    let op = OpType::Exec.raw() as u8;
    let lib = 5i64;
    let mut r = Args::new();
    r.scalar(&op).scalar(&lib).string(c"f");
    let e = s.genop(&mut r, &mut Args::new()).unwrap_err();
    assert_eq!(e.code(), code::EINVAL);
    assert_eq!(
        e.to_string(),
        "exec: read arg 0 (library) must be string, got int64"
    );
}

#[test]
fn exec_of_a_missing_library_is_einval_naming_it() {
    let rt = runtime(&[]).unwrap();
    let s = Session::new(&rt, 0).unwrap();
    let e = s
        .exec(
            "/nonexistent/libx.so",
            "f",
            &mut Args::new(),
            &mut Args::new(),
        )
        .unwrap_err();
    // Upstream's code for a library that cannot be opened (issue 12; ENOENT before).
    assert_eq!(e.code(), code::EINVAL);
    assert!(e.to_string().contains("/nonexistent/libx.so"), "{e}");
}

#[test]
fn exec_and_exec_with_resource_run_real_code() {
    let dir = tempfile::tempdir().unwrap();
    let lib = cc(
        dir.path(),
        "libtriple",
        r#"
        #include <stddef.h>
        #include <stdint.h>
        struct vaccel_arg { void *buf; size_t size; uint32_t type; uint32_t id; _Bool owned; };
        int triple(struct vaccel_arg *r, size_t nr, struct vaccel_arg *w, size_t nw) {
            if (nr != 1 || nw != 1) return 22;
            *(int32_t *)w[0].buf = 3 * *(int32_t *)r[0].buf;
            return 0;
        }
        "#,
    );
    let rt = runtime(&[]).unwrap();
    let s = Session::new(&rt, 0).unwrap();
    let input = 14i32;
    let mut output = 0i32;
    let mut r = Args::new();
    r.scalar(&input);
    let mut w = Args::new();
    w.scalar_mut(&mut output);
    s.exec(lib.to_str().unwrap(), "triple", &mut r, &mut w)
        .unwrap();
    drop(w);
    assert_eq!(output, 42);

    let res = Resource::from_path(&lib, ResourceType::Lib).unwrap();
    // Not registered yet: ENOENT.
    let mut r = Args::new();
    r.scalar(&input);
    let e = s
        .exec_with_resource(&res, "triple", &mut r, &mut Args::new())
        .unwrap_err();
    assert_eq!(e.code(), code::ENOENT);
    s.register(&res).unwrap();
    assert_eq!(s.register(&res).unwrap_err().code(), code::EEXIST);
    assert_eq!(res.check_releasable().unwrap_err().code(), code::EBUSY);
    let mut output = 0i32;
    let mut w = Args::new();
    w.scalar_mut(&mut output);
    s.exec_with_resource(&res, "triple", &mut r, &mut w)
        .unwrap();
    drop(w);
    assert_eq!(output, 42);
    // The function's own failure (EINVAL for a wrong arg count) is EBACKEND, as upstream
    // reports it (issue 12; it was passed through before), with its value in the message.
    let e = s
        .exec_with_resource(&res, "triple", &mut Args::new(), &mut Args::new())
        .unwrap_err();
    assert_eq!(e.code(), code::EBACKEND);
    assert!(e.to_string().contains("returned 22"), "{e}");
    s.unregister(&res).unwrap();
    assert_eq!(s.unregister(&res).unwrap_err().code(), code::ENOENT);
    res.check_releasable().unwrap();
    // The library was unpacked to be opened and removed once mapped: nothing of this
    // process is left in the runtime directory, however it ends (other tests of this
    // binary may be unpacking one right now: those go too).
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let ours = format!("vaccel-exec-{}-", std::process::id());
    let left = || {
        std::fs::read_dir(&base)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(&ours))
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while left() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "unpacked libraries left in {}",
            base.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn release_twice_is_an_error_and_ops_after_release_fail() {
    let rt = runtime(&[]).unwrap();
    let s = Session::new(&rt, 0).unwrap();
    s.release().unwrap();
    assert_eq!(s.release().unwrap_err().code(), code::EINVAL);
    assert!(matches!(s.noop().unwrap_err(), Error::SessionReleased(_)));
}

#[test]
fn profiling_records_ops_when_enabled() {
    let rt = Runtime::builder()
        .builtin(vaccel_plugin_exec::descriptor())
        .config(Config {
            profiling_enabled: true,
            ..Config::default()
        })
        .build()
        .unwrap();
    let s = Session::new(&rt, 0).unwrap();
    for _ in 0..5 {
        s.noop().unwrap();
    }
    let p = s.profile();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].op, OpType::Noop);
    assert_eq!(p[0].count, 5);
}

#[test]
fn dynamic_noop_replaces_builtin_and_is_reported_dynamic() {
    let so = support::plugin_so("noop");
    let rt = runtime(&[so.to_str().unwrap()]).unwrap();
    let noops: Vec<_> = rt.plugins().iter().filter(|p| p.name() == "noop").collect();
    assert_eq!(noops.len(), 1);
    assert!(matches!(
        noops[0].source(),
        vaccel::PluginSource::Dynamic(_)
    ));
    // It was named, so it is first: a default session binds it.
    let s = Session::new(&rt, 0).unwrap();
    assert_eq!(s.plugin().name(), "noop");
    let out = s.image_classify(b"x").unwrap();
    assert!(out.text.contains("dummy"), "{}", out.text);
}

#[test]
fn with_plugins_adds_at_the_lowest_priority_sharing_what_is_loaded() {
    let rt = runtime(&[]).unwrap();
    let before = Session::new(&rt, 0).unwrap();
    let so = support::plugin_so("noop");
    let entry = so.to_str().unwrap().to_string();
    // A built-in's name is not a file: refused, nothing added.
    let e = rt.with_plugins(&["noop".to_string()]).unwrap_err();
    assert_eq!(e.code(), code::ENOENT, "{e}");
    // The dynamic noop has the built-in's name: refused (EEXIST), nothing added.
    let e = rt.with_plugins(std::slice::from_ref(&entry)).unwrap_err();
    assert_eq!(e.code(), code::EEXIST, "{e}");
    assert!(
        e.to_string().contains("already loaded from built-in"),
        "{e}"
    );
    let without_noop = Runtime::builder()
        .builtin(vaccel_plugin_exec::descriptor())
        .build()
        .unwrap();
    let more = without_noop
        .with_plugins(std::slice::from_ref(&entry))
        .unwrap();
    let names: Vec<_> = more.plugins().iter().map(|p| p.name()).collect();
    assert_eq!(names, ["exec", "noop"]);
    assert!(matches!(
        more.plugins()[1].source(),
        vaccel::PluginSource::Dynamic(_)
    ));
    // The same file again is refused before it is loaded twice.
    let e = more.with_plugins(std::slice::from_ref(&entry)).unwrap_err();
    assert_eq!(e.code(), code::EEXIST, "{e}");
    // The new runtime serves through the added plugin; the old one never knew it.
    let s = Session::new(&more, plugin_type::DEBUG).unwrap();
    assert_eq!(s.plugin().name(), "noop");
    assert!(
        Session::new(&without_noop, plugin_type::DEBUG)
            .unwrap()
            .plugin()
            .name()
            != "noop"
    );
    // Sessions of the first runtime keep working (its plugins are shared, not reloaded).
    drop(without_noop);
    s.noop().unwrap();
    before.noop().unwrap();
}

#[test]
fn bad_plugin_entries_are_refused_with_their_names() {
    let e = runtime(&["/nonexistent/libvaccel_gone.so"]).unwrap_err();
    assert_eq!(e.code(), code::ENOENT);
    assert!(
        e.to_string().contains("/nonexistent/libvaccel_gone.so"),
        "{e}"
    );

    let e = runtime(&["nosuchbuiltin"]).unwrap_err();
    assert_eq!(e.code(), code::ENOENT);
    assert!(
        e.to_string().contains("\"nosuchbuiltin\"") && e.to_string().contains("exec, noop"),
        "{e}"
    );

    let e = runtime(&["exec", "exec"]).unwrap_err();
    assert!(e.to_string().contains("exec"), "{e}");
}

#[test]
fn broken_plugin_files_are_elibbad_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    // Not a shared object at all.
    let text = dir.path().join("libtext.so");
    std::fs::write(&text, "this is not an ELF file").unwrap();
    let e = runtime(&[text.to_str().unwrap()]).unwrap_err();
    assert_eq!(e.code(), code::ELIBBAD);
    assert!(
        e.to_string().contains("libtext.so") && e.to_string().contains("cannot load shared object"),
        "{e}"
    );

    // A shared object without the entry symbol.
    let plain = cc(dir.path(), "libplain", "int something(void) { return 1; }");
    let e = runtime(&[plain.to_str().unwrap()]).unwrap_err();
    assert_eq!(e.code(), code::ELIBBAD);
    assert!(
        e.to_string()
            .contains("missing symbol `vaccel_plugin_entry`"),
        "{e}"
    );

    // An upstream C plugin (exports `vaccel_plugin`), in a program without libvaccel to
    // host it (examples/c tests libvaccel serving one).
    let upstream = cc(dir.path(), "libupstream", "int vaccel_plugin = 1;");
    let e = runtime(&[upstream.to_str().unwrap()]).unwrap_err();
    assert_eq!(e.code(), code::ELIBBAD);
    assert!(
        e.to_string().contains("upstream C vAccel plugin")
            && e.to_string()
                .contains("served by programs linked with libvaccel"),
        "{e}"
    );

    // A plugin built for another ABI major.
    let future = cc(
        dir.path(),
        "libfuture",
        r#"
        #include <stdint.h>
        struct desc { uint32_t major, minor, size, type; };
        static const struct desc d = { 99, 3, sizeof(struct desc), 1 };
        const void *vaccel_plugin_entry(void) { return &d; }
        "#,
    );
    let e = runtime(&[future.to_str().unwrap()]).unwrap_err();
    assert_eq!(e.code(), code::ELIBBAD);
    let msg = e.to_string();
    assert!(
        msg.contains("libfuture.so")
            && msg.contains("99.3")
            && msg.contains(&format!(
                "{}.{}",
                vaccel_plugin::abi::ABI_MAJOR,
                vaccel_plugin::abi::ABI_MINOR
            )),
        "{msg}"
    );

    // An entry that returns NULL.
    let null = cc(
        dir.path(),
        "libnull",
        "const void *vaccel_plugin_entry(void) { return 0; }",
    );
    let e = runtime(&[null.to_str().unwrap()]).unwrap_err();
    assert_eq!(e.code(), code::ELIBBAD);
    assert!(e.to_string().contains("returned NULL"), "{e}");
}

#[test]
fn arg_size_mismatch_is_einval() {
    let rt = runtime(&[]).unwrap();
    let s = Session::new(&rt, plugin_type::DEBUG).unwrap();
    let mut out = [0f32; 3];
    // C needs m*ldc = 4 floats; only 3 given.
    let e = s
        .sgemm(
            2,
            2,
            1,
            1.0,
            &[1.0, 2.0],
            1,
            &[1.0, 2.0],
            2,
            0.0,
            &mut out,
            2,
        )
        .unwrap_err();
    assert_eq!(e.code(), code::EINVAL);
    assert!(e.to_string().contains("C holds 3 floats"), "{e}");
    let _ = ArgType::Buffer;
}

#[test]
fn one_session_serves_many_threads_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let lib = cc(
        dir.path(),
        "libsquare",
        r#"
        #include <stddef.h>
        #include <stdint.h>
        struct vaccel_arg { void *buf; size_t size; uint32_t type; uint32_t id; _Bool owned; };
        int square(struct vaccel_arg *r, size_t nr, struct vaccel_arg *w, size_t nw) {
            if (nr != 1 || nw != 1) return 22;
            int64_t v = *(int64_t *)r[0].buf;
            *(int64_t *)w[0].buf = v * v;
            return 0;
        }
        "#,
    );
    let lib = lib.to_str().unwrap().to_string();
    let rt = runtime(&[]).unwrap();
    let s = Session::new(&rt, 0).unwrap();
    std::thread::scope(|scope| {
        for t in 0..4i64 {
            let (s, lib) = (&s, &lib);
            scope.spawn(move || {
                for i in 0..500i64 {
                    let v = t * 1000 + i;
                    let mut out = 0i64;
                    let mut r = Args::new();
                    r.scalar(&v);
                    let mut w = Args::new();
                    w.scalar_mut(&mut out);
                    s.exec(lib, "square", &mut r, &mut w).unwrap();
                    drop(w);
                    assert_eq!(out, v * v);
                }
            });
        }
    });
}

mod probe {
    //! A test plugin that records which sessions it was told were released.
    use std::sync::Mutex;
    use vaccel_plugin::ops::MinmaxArgs;
    use vaccel_plugin::sdk::{Host, Result};
    use vaccel_plugin::{Ctx, OpSet, OpType, Plugin, plugin_type};

    pub static RELEASED: Mutex<Vec<i64>> = Mutex::new(Vec::new());

    pub struct Probe;

    impl Plugin for Probe {
        fn init(_host: &Host) -> Result<Self> {
            Ok(Probe)
        }
        fn session_release(&self, id: i64) -> Result<()> {
            RELEASED.lock().unwrap().push(id);
            Ok(())
        }
        fn minmax(&self, _ctx: &Ctx<'_>, a: MinmaxArgs<'_>) -> Result<()> {
            *a.min = 0.0;
            *a.max = 1.0;
            Ok(())
        }
    }

    vaccel_plugin::declare_plugin! {
        plugin: Probe,
        name: "probe",
        description: "records session releases",
        plugin_type: plugin_type::GPU,
        ops: OpSet::of(&[OpType::Minmax]),
    }
}

#[test]
fn plugins_that_served_a_session_hear_of_its_release() {
    let rt = Runtime::builder()
        .builtin(vaccel_plugin_exec::descriptor())
        .builtin(probe::descriptor())
        .build()
        .unwrap();
    let used = Session::new(&rt, 0).unwrap();
    let unused = Session::new(&rt, 0).unwrap();
    assert_eq!(used.plugin().name(), "exec");
    let mut out = [0.0; 2];
    used.minmax(&[0.5, 0.7], 0, 1, &mut out).unwrap();
    let (u, n) = (used.id(), unused.id());
    used.release().unwrap();
    unused.release().unwrap();
    let released = probe::RELEASED.lock().unwrap().clone();
    assert!(released.contains(&u), "{released:?}");
    assert!(!released.contains(&n), "{released:?}");
}

mod relay {
    //! A test plugin whose errors are relayed (as a transport's are) or its own.
    use vaccel_plugin::sdk::{Host, Result};
    use vaccel_plugin::{Ctx, OpSet, OpType, Plugin, PluginError, code, plugin_type};

    pub struct Relay;

    impl Plugin for Relay {
        fn init(_host: &Host) -> Result<Self> {
            Ok(Relay)
        }
        fn noop(&self, _ctx: &Ctx<'_>) -> Result<()> {
            Err(PluginError::relayed(
                code::EBACKEND,
                "agent at unix:///x: out of memory",
            ))
        }
        fn image_classify(
            &self,
            _ctx: &Ctx<'_>,
            _image: &[u8],
            _k: usize,
        ) -> Result<vaccel_plugin::Classification> {
            Err(PluginError::backend("no model"))
        }
    }

    vaccel_plugin::declare_plugin! {
        plugin: Relay,
        name: "relay",
        description: "relays errors",
        plugin_type: plugin_type::CPU,
        ops: OpSet::of(&[OpType::Noop, OpType::ImageClassify]),
    }
}

#[test]
fn relayed_errors_are_shown_as_they_are_whatever_the_plugin_type() {
    let rt = Runtime::builder()
        .builtin(relay::descriptor())
        .build()
        .unwrap();
    let s = Session::new(&rt, 0).unwrap();
    let relayed = s.noop().unwrap_err();
    assert_eq!(relayed.to_string(), "agent at unix:///x: out of memory");
    assert_eq!(relayed.code(), vaccel::code::EBACKEND);
    let own = s.image_classify(b"x").unwrap_err();
    assert_eq!(
        own.to_string(),
        "image_classify failed in plugin relay: no model"
    );
}

#[test]
fn a_lib_resources_main_library_is_its_last_blob_after_its_dependencies() {
    let dir = tempfile::tempdir().unwrap();
    let dep = cc(dir.path(), "libdep", "int dep_value(void) { return 7; }");
    let main = cc(
        dir.path(),
        "libmainlib",
        r#"
        #include <stddef.h>
        #include <stdint.h>
        struct vaccel_arg { void *buf; size_t size; uint32_t type; uint32_t id; _Bool owned; };
        int seven(struct vaccel_arg *r, size_t nr, struct vaccel_arg *w, size_t nw) {
            (void)r; (void)nr;
            if (nw != 1) return 22;
            *(int32_t *)w[0].buf = 7;
            return 0;
        }
        "#,
    );
    let rt = runtime(&[]).unwrap();
    let s = Session::new(&rt, 0).unwrap();
    let run = |paths: &[&std::path::Path]| {
        let res = Resource::from_paths(paths, ResourceType::Lib).unwrap();
        s.register(&res).unwrap();
        let mut out = 0i32;
        let mut w = Args::new();
        w.scalar_mut(&mut out);
        let r = s.exec_with_resource(&res, "seven", &mut Args::new(), &mut w);
        drop(w);
        s.unregister(&res).unwrap();
        r.map(|()| out)
    };
    // Upstream's order: dependencies first, the main library last.
    assert_eq!(run(&[&dep, &main]).unwrap(), 7);
    // The other way round the symbol is looked up in libdep: missing, ENOSYS.
    let e = run(&[&main, &dep]).unwrap_err();
    assert_eq!(e.code(), code::ENOSYS, "{e}");
}

#[test]
fn the_noop_plugin_gives_upstreams_dummy_outputs() {
    let rt = runtime(&[]).unwrap();
    let s = Session::new(&rt, plugin_type::DEBUG).unwrap();
    assert_eq!(s.plugin().name(), "noop");
    let c = s.image_classify(b"anything").unwrap();
    assert_eq!(c.text, "This is a dummy classification tag!");
    assert_eq!(c.imgname, "This is a dummy imgname!");
    let mut out = [0.0; 3];
    assert_eq!(
        s.minmax(&[5.0, 1.0, 9.0], 0, 10, &mut out).unwrap(),
        (-1.0, 10000.0)
    );
    assert_eq!(out, [5.0, 1.0, 9.0]);
    let (a, b) = ([1.0f32, 2.0], [10.0f32, 20.0]);
    let (mut c, mut add, mut mult) = ([0f32; 2], [0f32; 2], [0f32; 2]);
    s.fpga_mmult(&a, &b, &mut c).unwrap();
    assert_eq!(c, [9.1, 9.1]);
    s.fpga_parallel(&a, &b, &mut add, &mut mult).unwrap();
    assert_eq!((add, mult), ([11.0, 22.0], [1.0, 1.0]));
    // exec echoes the first int arg into the first output.
    let input = [7i32, 8];
    let mut output = [0i32; 2];
    let mut r = Args::new();
    r.slice(&input);
    let mut w = Args::new();
    w.slice_mut(&mut output);
    s.exec("/any/lib.so", "f", &mut r, &mut w).unwrap();
    drop(w);
    assert_eq!(output, [7, 8]);
}

#[test]
fn a_directory_resource_is_read_recursively() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sub/deeper")).unwrap();
    std::fs::write(dir.path().join("a.txt"), b"a").unwrap();
    std::fs::write(dir.path().join("sub/b.txt"), b"bb").unwrap();
    std::fs::write(dir.path().join("sub/deeper/c.txt"), b"ccc").unwrap();
    let r = Resource::from_path(dir.path(), ResourceType::Data).unwrap();
    let names: Vec<&str> = r.blobs().iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        ["a.txt", "b.txt", "c.txt"],
        "path order: a, sub/b, sub/deeper/c"
    );
    assert_eq!(
        r.blob_paths()[2].as_deref(),
        Some(dir.path().join("sub/deeper/c.txt").as_path())
    );
}

/// A one-shot HTTP server on 127.0.0.1 answering every request with `status` and `body`;
/// the URL of `path` on it.
fn serve(status: &'static str, body: &'static [u8], path: &str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut req = [0u8; 2048];
            let _ = s.read(&mut req);
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body);
        }
    });
    format!("http://127.0.0.1:{port}{path}")
}

#[test]
fn a_url_resource_is_downloaded_and_a_failed_download_is_eio_naming_it() {
    let url = serve("200 OK", b"model bytes", "/models/net.onnx?x=1");
    let r = Resource::from_path(&url, ResourceType::Model).unwrap();
    assert_eq!(r.blobs()[0].name, "net.onnx");
    assert_eq!(&*r.blobs()[0].data, b"model bytes");
    assert_eq!(r.blob_paths()[0], None);
    let missing = serve("404 Not Found", b"no", "/gone.bin");
    let e = Resource::from_path(&missing, ResourceType::Data).unwrap_err();
    assert_eq!(e.code(), code::EIO);
    assert!(
        e.to_string().contains(&missing) && e.to_string().contains("404"),
        "{e}"
    );
}
