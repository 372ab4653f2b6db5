//! The `vaccel` command as a user runs it.

use std::process::{Command, Output};

fn vaccel(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vaccel"));
    c.args(args)
        .env_remove("VACCEL_PLUGINS")
        .env_remove("VACCEL_LOG_LEVEL");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("vaccel runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[path = "../../vaccel/tests/support/mod.rs"]
mod support;

fn plugin_so(name: &str) -> String {
    support::plugin_so(name).to_string_lossy().into_owned()
}

#[test]
fn plugins_lists_builtins_with_their_ops() {
    let out = vaccel(&["plugins"], &[]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(s.contains("1. exec "), "{s}");
    assert!(s.contains("2. blas "), "{s}");
    assert!(s.contains("3. noop "), "{s}");
    assert!(s.contains("ops:    noop, exec, exec_with_resource"), "{s}");
    assert!(s.contains("type:   DEBUG (0x100)"), "{s}");
    assert_eq!(s.matches("source: built-in").count(), 3, "{s}");
}

#[test]
fn plugins_shows_a_dynamic_plugin_as_dynamic() {
    let so = plugin_so("noop");
    let out = vaccel(&["plugins"], &[("VACCEL_PLUGINS", &so)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("1. noop "), "{s}");
    assert!(s.contains(&format!("source: dynamic ({so})")), "{s}");
    assert_eq!(
        s.matches("noop ").count(),
        1,
        "the built-in noop is replaced: {s}"
    );
}

#[test]
fn debug_log_names_the_plugin_that_served_each_call() {
    let out = vaccel(&["noop", "-n", "2"], &[("VACCEL_LOG_LEVEL", "4")]);
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("dispatch") && err.contains("plugin=\"exec\""),
        "{err}"
    );
    assert!(text(&out.stdout).contains("ran 2 call(s) on plugin exec"));
}

#[test]
fn bad_plugin_entry_fails_with_its_name() {
    let out = vaccel(
        &["plugins"],
        &[("VACCEL_PLUGINS", "/nonexistent/libvaccel_zz.so")],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("/nonexistent/libvaccel_zz.so: no such file"),
        "{err}"
    );
    let out = vaccel(&["plugins"], &[("VACCEL_LOG_LEVEL", "9")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("VACCEL_LOG_LEVEL=\"9\""));
}

#[test]
fn debug_hint_session_runs_on_noop() {
    let out = vaccel(&["noop", "--hint", "0x100"], &[]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("on plugin noop"));
    let out = vaccel(&["noop", "--hint", "0x2"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no loaded plugin matches session hint 0x2 (GPU)"));
}

/// Build examples/c/mytestlib.c (which calls libvaccel's arg helpers) into `dir`.
/// Also builds libvaccel, which the CLI loads for exec functions.
fn mytestlib(dir: &std::path::Path) -> String {
    support::libvaccel();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = dir.join("libmytestlib.so");
    let st = Command::new("cc")
        .args(["-shared", "-fPIC", "-I"])
        .arg(root.join("crates/vaccel-capi/include"))
        .arg("-o")
        .arg(&out)
        .arg(root.join("examples/c/mytestlib.c"))
        .status()
        .expect("cc runs");
    assert!(st.success());
    out.to_string_lossy().into_owned()
}

#[test]
fn exec_runs_a_function_that_uses_the_c_arg_helpers() {
    let dir = tempfile::tempdir().unwrap();
    let lib = mytestlib(dir.path());
    for extra in [&[][..], &["--resource"][..]] {
        let mut args = vec!["exec", &lib, "mytestfunc", "--in", "i32:21", "--out", "i32"];
        args.extend_from_slice(extra);
        let out = vaccel(&args, &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), "out[0] i32: 42");
    }
}

#[test]
fn exec_failures_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let lib = mytestlib(dir.path());
    let out = vaccel(&["exec", &lib, "myfailingfunc"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("myfailingfunc returned 1"),
        "{}",
        text(&out.stderr)
    );
    let out = vaccel(&["exec", &lib, "nope"], &[]);
    assert!(
        text(&out.stderr).contains("symbol `nope` not found"),
        "{}",
        text(&out.stderr)
    );
    let out = vaccel(&["exec", &lib, "mytestfunc", "--in", "i32:abc"], &[]);
    assert!(
        text(&out.stderr).contains("\"abc\" is not a valid i32"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn sgemm_reports_gflops_and_checks_the_result() {
    let out = vaccel(&["sgemm", "64", "48", "32", "--check"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(
        s.contains("sgemm 64x48x32 on plugin blas") && s.contains("GFLOP/s"),
        "{s}"
    );
    assert!(s.contains("check: matches the reference"), "{s}");
    let out = vaccel(&["sgemm", "0", "4", "4"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("M must be positive"));
}
