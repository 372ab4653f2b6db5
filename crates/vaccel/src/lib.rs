//! # vaccel: the vAccel runtime
//!
//! An application calls one small acceleration API — classify an image, run a model,
//! sgemm, exec a function — and the runtime dispatches each call to a plugin chosen at run
//! time: a compute plugin on a host, or a transport plugin that forwards to a host agent
//! from inside a VM. This crate is that runtime as a Rust library:
//!
//! * [`Runtime`] — configuration ([`Config`], from the environment) and loaded plugins:
//!   built-ins registered by the face (`libvaccel`, the CLI, the agent) plus shared objects
//!   named in `VACCEL_PLUGINS`.
//! * [`Session`] — a client's context, bound to a plugin by its hint; runs ops.
//! * [`Resource`] — libraries, data and models, registrable with sessions.
//! * [`Error`] — one error type; [`Error::code`] is the C API's `VACCEL_E*` code.
//!
//! It knows plugins only through the ABI in `vaccel-plugin`, so it never depends on a
//! plugin's heavy dependencies.
//!
//! ```ignore
//! let rt = vaccel::Runtime::builder().builtin(vaccel_plugin_exec::descriptor()).build()?;
//! let sess = vaccel::Session::new(&rt, 0)?;
//! sess.noop()?;
//! ```

#![forbid(unsafe_code)]

/// The version of upstream vAccel's API this runtime implements, as a literal (for
/// `concat!`); [`UPSTREAM_API_VERSION`] is the same as a constant. `pkg-config --modversion
/// vaccel` and the C header's `VACCEL_VERSION` report it (checked by the C tests), since
/// programs and bindings built for upstream check it.
#[macro_export]
macro_rules! upstream_api_version {
    () => {
        "0.8.0"
    };
}

/// The upstream vAccel API version implemented (see [`upstream_api_version!`]).
pub const UPSTREAM_API_VERSION: &str = upstream_api_version!();

pub mod config;
pub mod error;
pub mod logging;
pub mod prof;
mod registry;
pub mod resource;
pub mod runtime;
pub mod session;

pub use config::Config;
pub use error::{Error, Result};
pub use registry::{LoadedPlugin, PluginSource};
pub use resource::Resource;
pub use runtime::{Runtime, RuntimeBuilder};
pub use session::{Session, genop_op};
pub use vaccel_plugin::ops::ImageOp;
pub use vaccel_plugin::{
    ArgType, Args, Classification, DType, Detection, Element, HostBlob, ImageOutput, OpSet, OpType,
    ResourceType, Tensor, TopClass, code, plugin_type, zeroed_bytes,
};
pub use vaccel_plugin::{nodes, ops, sync};
