//! Give libvaccel.so a SONAME so programs record `libvaccel.so.0`, as upstream's does.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libvaccel.so.0");
    println!("cargo:rerun-if-changed=build.rs");
}
