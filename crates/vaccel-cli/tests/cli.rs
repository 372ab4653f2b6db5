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
    assert!(s.contains("2. onnx "), "{s}");
    assert!(s.contains("3. blas "), "{s}");
    assert!(s.contains("4. noop "), "{s}");
    assert!(s.contains("ops:    noop, exec, exec_with_resource"), "{s}");
    assert!(s.contains("type:   DEBUG (0x100)"), "{s}");
    assert_eq!(s.matches("source: built-in").count(), 4, "{s}");
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
    // A bad value warns, naming it, and its default applies (upstream's rule; issue 12 —
    // this asserted a failure before).
    let out = vaccel(&["plugins"], &[("VACCEL_LOG_LEVEL", "9")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("VACCEL_LOG_LEVEL=\"9\""));
    assert!(text(&out.stderr).contains("using the default"));
}

#[test]
fn debug_hint_session_runs_on_noop() {
    let out = vaccel(&["noop", "--hint", "0x100"], &[]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("on plugin noop"));
    // No GPU plugin: upstream's rule (issue 12; this asserted an error before) is the first
    // local plugin. A REMOTE session with no transport loaded is still an error.
    let out = vaccel(&["noop", "--hint", "0x2"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("on plugin exec"));
    let out = vaccel(&["noop", "--hint", "0x4000"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no loaded plugin matches session hint 0x4000 (REMOTE)"));
}

/// Build examples/c/mytestlib.c (which calls libvaccel's arg helpers) into `dir`.

#[test]
fn exec_runs_a_function_that_uses_the_c_arg_helpers() {
    let dir = tempfile::tempdir().unwrap();
    let lib = support::mytestlib(dir.path());
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
    let lib = support::mytestlib(dir.path());
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

#[test]
fn classify_names_the_photos_right() {
    let assets = support::assets();
    let photo = |n: &str| assets.join("images").join(n).to_string_lossy().into_owned();
    let out = vaccel(
        &[
            "classify",
            &photo("chelsea.png"),
            &photo("coffee.png"),
            &photo("rocket.jpg"),
            "--top",
            "3",
            "--json",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let labels = |i: usize| -> Vec<String> {
        v[i]["top"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["label"].as_str().unwrap().to_string())
            .collect()
    };
    let cat = labels(0);
    for want in ["Egyptian cat", "tiger cat", "tabby, tabby cat"] {
        assert!(
            cat.contains(&want.to_string()),
            "chelsea.png top 3: {cat:?}"
        );
    }
    assert!(["Egyptian cat", "tiger cat", "tabby, tabby cat"].contains(&cat[0].as_str()));
    assert_eq!(labels(1)[0], "espresso");
    assert_eq!(labels(2)[0], "missile");
    assert!(
        v[1]["text"].as_str().unwrap().ends_with("% espresso"),
        "{}",
        v[1]["text"]
    );
}

#[test]
fn classify_shows_where_the_plugin_spent_the_time() {
    let assets = support::assets();
    let photo = assets.join("images/rocket.jpg");
    let out = vaccel(
        &["classify", photo.to_str().unwrap(), "--stages", "--json"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let stages = v[0]["stages_ms"].as_object().expect("stages_ms");
    let total = v[0]["ms"].as_f64().unwrap();
    for stage in ["decode", "preprocess", "inference"] {
        let ms = stages[stage].as_f64().unwrap_or(-1.0);
        assert!(ms > 0.0 && ms < total, "{stage}: {ms} ms of {total}");
    }
}

#[test]
fn detect_finds_the_text_lines_of_a_page() {
    let assets = support::assets();
    let dir = tempfile::tempdir().unwrap();
    let out_png = dir.path().join("boxes.png");
    let page = assets.join("images/page.png");
    let out = vaccel(
        &[
            "detect",
            page.to_str().unwrap(),
            "--out",
            out_png.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    let n = s
        .lines()
        .filter(|l| l.trim_start().starts_with("score"))
        .count();
    assert!(
        (5..=9).contains(&n),
        "page.png has 7 lines of text; found {n}: {s}"
    );
    assert!(std::fs::read(&out_png).unwrap().starts_with(b"\x89PNG"));
}

#[test]
fn a_photo_cut_short_is_refused_not_classified() {
    let assets = support::assets();
    let whole = std::fs::read(assets.join("images/rocket.jpg")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.jpg");
    std::fs::write(&p, &whole[..3000]).unwrap();
    let out = vaccel(&["classify", p.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot decode Jpeg image (3000 bytes): truncated"),
        "{err}"
    );
}

#[test]
fn classify_reports_bad_images_clearly() {
    support::assets();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 3] = [
        ("empty.jpg", b"", "image is empty"),
        ("text.png", b"hello, not a picture", "format not recognised"),
        (
            "cut.jpg",
            &[0xff, 0xd8, 0xff, 0xe0, 0, 16, b'J', b'F', b'I', b'F', 0, 1],
            "cannot decode",
        ),
    ];
    for (name, bytes, want) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let out = vaccel(&["classify", p.to_str().unwrap()], &[]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(
            text(&out.stderr).contains(want),
            "{name}: {}",
            text(&out.stderr)
        );
    }
    let model = dir.path().join("model.onnx");
    std::fs::write(&model, b"PK\x03\x04 this is a zip, not ONNX").unwrap();
    let out = vaccel(
        &[
            "classify",
            "--model",
            model.to_str().unwrap(),
            dir.path().join("text.png").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is not an ONNX model (a zip archive"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn version_names_ours_and_the_upstream_api_we_implement() {
    let out = vaccel(&["--version"], &[]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).trim(),
        format!(
            "vaccel {} (vAccel API {})",
            env!("CARGO_PKG_VERSION"),
            vaccel::UPSTREAM_API_VERSION
        )
    );
}
