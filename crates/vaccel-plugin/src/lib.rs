//! # vaccel-plugin: the plugin ABI, the plugin SDK and the loader
//!
//! * [`abi`] — the versioned `#[repr(C)]` contract between the runtime and a plugin shared
//!   object (one exported symbol, `vaccel_plugin_entry`).
//! * [`sdk`] — what a plugin author uses: the [`Plugin`] trait with typed op arguments and
//!   the [`declare_plugin!`] / [`export_plugin!`] macros. Plugin code needs no `unsafe`.
//! * [`host`] and [`loader`] — what the runtime uses: a validated [`PluginHandle`] with safe
//!   methods for every entry point, and `dlopen` with clear refusals.
//! * [`ops`] — the op catalogue's argument layouts and their validation, shared by both
//!   sides so a malformed call gets the same `VACCEL_EINVAL` message wherever it is caught.
//! * [`results`] — what vision ops find (classes, boxes, poses, masks, timings), in the
//!   checked encoding they cross the ABI in.
//! * [`nodes`] — TensorFlow graph node lists, in the checked encoding they cross the ABI in.
//! * [`native`] — opening user libraries and calling exec functions, for the exec plugin.
//! * [`sync`] — locks that outlive a panic, for every crate of the workspace.
//!
//! All of the workspace's `unsafe` that touches plugins lives in this crate.

pub mod abi;
pub mod args;
pub mod host;
pub mod loader;
mod log;
pub mod native;
pub mod nodes;
pub mod ops;
pub mod results;
pub mod sdk;
pub mod sync;
pub mod tensor;
pub mod types;

pub use args::{Args, Element};
pub use host::{
    CallError, ForeignInfo, ForeignPlugin, HostBlob, HostResource, PluginHandle, ResourceTable,
    SessionCtx, zeroed_bytes,
};
pub use loader::{ForeignLoader, LoadError, load, set_foreign_loader};
pub use results::{
    Classification, Detection, ImageOutput, Keypoint, Mask, Pose, Results, TopClass,
};
pub use sdk::{Ctx, Plugin, PluginError};
pub use tensor::{DType, Tensor};
pub use types::{ArgType, OP_MAX, OpSet, OpType, ResourceType, code, plugin_type};
