//! # libvaccel: the vAccel C API
//!
//! The C face of the runtime, source-compatible with upstream vAccel 0.8: the headers in
//! `include/` declare what C programs use, this crate implements it over the `vaccel`
//! runtime with the built-in `exec` and `noop` plugins linked in.
//!
//! Rules every exported function follows (rustls-ffi style):
//! * its body runs inside [`guard`], which catches panics (→ `VACCEL_EFAULT`) and turns
//!   errors into codes, remembering the message for `vaccel_last_error()`;
//! * pointers are checked for NULL before use (→ `VACCEL_EINVAL`);
//! * C structs hold ids, never Rust pointers: sessions and resources live in id-keyed maps,
//!   so a released or forged struct is an error code, never a use-after-free.

// The exported functions are documented in the C headers (include/vaccel/*.h).
#![allow(missing_docs)]

mod arg;
mod blob;
mod config;
mod frameworks;
mod lifecycle;
mod log_compat;
mod lookup;
mod ops;
mod prof;
mod resource;
mod resource_forms;
mod session;
mod state;
mod tensor;
mod text;
mod upstream;

pub use state::{vaccel_bootstrap, vaccel_cleanup, vaccel_is_initialized, vaccel_last_error};
