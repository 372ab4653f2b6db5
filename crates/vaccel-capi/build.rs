//! Give libvaccel.so a SONAME so programs record `libvaccel.so.0`, as upstream's does, and
//! compile the one variadic C function (`slog_print`, csrc/slog.c) Rust cannot define.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libvaccel.so.0");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=csrc/slog.c");
    cc::Build::new()
        .file("csrc/slog.c")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("vaccel_slog");
}
