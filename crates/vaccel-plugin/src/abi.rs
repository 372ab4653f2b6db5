//! The plugin ABI: the `#[repr(C)]` structures a plugin shared object and the runtime
//! exchange. This file is the contract; `docs/PLUGINS.md` describes it in prose.
//!
//! A plugin exports one symbol, [`ENTRY_SYMBOL`] (`vaccel_plugin_entry`), a function that
//! returns a pointer to a static [`PluginDescriptor`]. The descriptor carries the ABI
//! version it was built for; the loader refuses a different major version. Minor versions
//! only ever add fields at the end of structures whose `struct_size` says how much of them
//! the other side knows, or use the reserved slots.
//!
//! Every operation travels through one entry point, [`PluginDescriptor::call`], as an op id
//! plus read and write argument arrays in the layout of upstream vAccel's generic op
//! (`struct vaccel_arg`). So a new op never changes the ABI, transports forward calls
//! without knowing them, and `exec` functions receive exactly the arrays C programs built.

use std::ffi::{c_char, c_int, c_void};

/// ABI major version. A plugin built for another major is refused.
pub const ABI_MAJOR: u32 = 1;
/// ABI minor version: additions only.
pub const ABI_MINOR: u32 = 1;

/// Name of the one symbol every plugin shared object exports (NUL-terminated).
pub const ENTRY_SYMBOL: &[u8] = b"vaccel_plugin_entry\0";

/// Name of upstream C vAccel's plugin symbol: such a library goes to the foreign loader
/// (`crate::loader::set_foreign_loader`).
pub const UPSTREAM_SYMBOL: &[u8] = b"vaccel_plugin\0";

/// `struct vaccel_arg`: one argument. Field names and order are upstream's and are ABI.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct VaccelArg {
    /// Argument bytes (caller's memory; write args receive results in place).
    pub buf: *mut c_void,
    /// Number of valid bytes at `buf`.
    pub size: usize,
    /// An [`crate::ArgType`] value.
    pub arg_type: u32,
    /// Application type id when `arg_type` is CUSTOM.
    pub custom_type_id: u32,
    /// True when `buf` was allocated by the vAccel API (with `malloc`) and is freed by it.
    pub owned: bool,
}

impl VaccelArg {
    /// An argument viewing `bytes` (not owned).
    pub fn from_slice(bytes: &[u8], arg_type: crate::ArgType) -> Self {
        VaccelArg {
            buf: bytes.as_ptr() as *mut c_void,
            size: bytes.len(),
            arg_type: arg_type.raw(),
            custom_type_id: 0,
            owned: false,
        }
    }

    /// An argument viewing a mutable byte region (not owned).
    pub fn from_mut_slice(bytes: &mut [u8], arg_type: crate::ArgType) -> Self {
        VaccelArg {
            buf: bytes.as_mut_ptr() as *mut c_void,
            size: bytes.len(),
            arg_type: arg_type.raw(),
            custom_type_id: 0,
            owned: false,
        }
    }

    /// An empty argument of a type.
    pub fn empty(arg_type: crate::ArgType) -> Self {
        VaccelArg {
            buf: std::ptr::null_mut(),
            size: 0,
            arg_type: arg_type.raw(),
            custom_type_id: 0,
            owned: false,
        }
    }
}

/// Maximum bytes of an error message a plugin can hand back per call.
pub const ERROR_MESSAGE_CAP: usize = 256;

/// Where a plugin writes why a call failed. The runtime owns it; the plugin writes at most
/// `ERROR_MESSAGE_CAP` bytes of UTF-8 into `bytes` and sets `len`.
#[repr(C)]
pub struct ErrorMessage {
    /// Bytes written.
    pub len: u32,
    /// Message bytes (not NUL-terminated).
    pub bytes: [u8; ERROR_MESSAGE_CAP],
    /// [`ERROR_RELAYED`] … (ABI 1.1; a plugin writes it only to a runtime of minor ≥ 1,
    /// which sets it to 0 before each call).
    pub flags: u32,
}

/// [`ErrorMessage::flags`]: the message was relayed from elsewhere (a remote agent, a
/// transport's connection) and already says where the error happened; the runtime shows
/// it as it is instead of prefixing the op and this plugin's name.
pub const ERROR_RELAYED: u32 = 1;

/// One blob of a resource, as a plugin sees it: a name and immutable bytes. Host paths are
/// never shown to plugins.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct AbiBlob {
    /// Blob name (a file name, not a path), UTF-8, not NUL-terminated.
    pub name: *const u8,
    /// Length of `name`.
    pub name_len: usize,
    /// Blob bytes.
    pub data: *const u8,
    /// Length of `data`.
    pub len: usize,
    /// SHA-256 of `data`, computed once by the runtime (content address, cache key).
    pub sha256: [u8; 32],
}

/// A resource registered with the calling session.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct AbiResource {
    /// Resource id (> 0).
    pub id: i64,
    /// A [`crate::ResourceType`] value.
    pub resource_type: u32,
    /// Blobs, in resource order.
    pub blobs: *const AbiBlob,
    /// Number of blobs.
    pub nr_blobs: usize,
}

/// What the runtime tells a plugin about the call it makes.
#[repr(C)]
pub struct CallContext {
    /// `size_of::<CallContext>()` as the runtime built it.
    pub struct_size: u32,
    /// Session hint flags.
    pub session_hint: u32,
    /// Calling session id.
    pub session_id: i64,
    /// Resources registered with the session.
    pub resources: *const AbiResource,
    /// Number of resources.
    pub nr_resources: usize,
    /// ABI 1.1: the fingerprint of the op layouts (`crate::ops::LAYOUTS`) the runtime
    /// checked this call's arguments against, or 0 when it did not check them. A plugin
    /// built from the same layouts need not check them again. (A reserved slot in 1.0,
    /// always null there.)
    pub layouts_checked: usize,
    /// Reserved for minor versions; null.
    pub reserved: [*const c_void; 3],
}

/// Services the runtime offers a plugin, handed to `init`.
#[repr(C)]
pub struct HostApi {
    /// `size_of::<HostApi>()` as the runtime built it.
    pub struct_size: u32,
    /// Runtime ABI major.
    pub abi_major: u32,
    /// Runtime ABI minor.
    pub abi_minor: u32,
    /// Most verbose level the runtime logs (1 error … 4 debug).
    pub log_level: u32,
    /// Write a log line through the runtime's logger: level 1–4, UTF-8 bytes.
    pub log: Option<unsafe extern "C" fn(level: u32, msg: *const u8, len: usize)>,
    /// Reserved for minor versions; null.
    pub reserved: [*const c_void; 8],
}

/// `init(host, err) -> code`: called once after loading.
pub type InitFn = unsafe extern "C" fn(host: *const HostApi, err: *mut ErrorMessage) -> c_int;
/// `fini() -> code`: called once before unloading.
pub type FiniFn = unsafe extern "C" fn() -> c_int;
/// `call(ctx, op, read, nr_read, write, nr_write, err) -> code`: run one op.
pub type CallFn = unsafe extern "C" fn(
    ctx: *const CallContext,
    op: u32,
    read: *mut VaccelArg,
    nr_read: usize,
    write: *mut VaccelArg,
    nr_write: usize,
    err: *mut ErrorMessage,
) -> c_int;
/// `session_init(session_id, hint, err) -> code`: a session bound to this plugin was created.
pub type SessionInitFn =
    unsafe extern "C" fn(session_id: i64, hint: u32, err: *mut ErrorMessage) -> c_int;
/// `session_remote_id(session_id) -> id`: the remote side's id for a session, 0 for none.
pub type SessionRemoteIdFn = unsafe extern "C" fn(session_id: i64) -> i64;
/// `session_release(session_id, err) -> code`: that session is going away.
pub type SessionReleaseFn = unsafe extern "C" fn(session_id: i64, err: *mut ErrorMessage) -> c_int;
/// `resource_register(ctx, resource, err) -> code`: a resource was registered with a session
/// bound to this plugin.
pub type ResourceRegisterFn = unsafe extern "C" fn(
    ctx: *const CallContext,
    resource: *const AbiResource,
    err: *mut ErrorMessage,
) -> c_int;
/// `resource_unregister(session_id, resource_id, err) -> code`.
pub type ResourceUnregisterFn =
    unsafe extern "C" fn(session_id: i64, resource_id: i64, err: *mut ErrorMessage) -> c_int;

/// The descriptor a plugin exports. Strings are static, NUL-terminated UTF-8.
#[repr(C)]
pub struct PluginDescriptor {
    /// ABI major the plugin was built for.
    pub abi_major: u32,
    /// ABI minor the plugin was built for.
    pub abi_minor: u32,
    /// `size_of::<PluginDescriptor>()` as the plugin built it.
    pub struct_size: u32,
    /// `VACCEL_PLUGIN_*` type bits.
    pub plugin_type: u32,
    /// Plugin name (short, unique).
    pub name: *const c_char,
    /// Plugin version (semver).
    pub version: *const c_char,
    /// One-line description.
    pub description: *const c_char,
    /// Ops implemented, as an [`crate::OpSet`] bit mask.
    pub ops: u64,
    /// Required.
    pub init: Option<InitFn>,
    /// Required.
    pub fini: Option<FiniFn>,
    /// Required.
    pub call: Option<CallFn>,
    /// Optional.
    pub session_init: Option<SessionInitFn>,
    /// Optional.
    pub session_release: Option<SessionReleaseFn>,
    /// Optional.
    pub resource_register: Option<ResourceRegisterFn>,
    /// Optional.
    pub resource_unregister: Option<ResourceUnregisterFn>,
    /// Optional, ABI 1.1 (a reserved, null slot in 1.0): the id a transport's remote side
    /// gave a session (`remote_id` of upstream's `struct vaccel_session`), 0 for none.
    pub session_remote_id: Option<SessionRemoteIdFn>,
    /// Reserved for minor versions; null.
    pub reserved: [*const c_void; 7],
}

// SAFETY: a descriptor is immutable after construction and its pointers refer to static,
// immutable data (strings) or functions, so sharing it between threads is sound.
unsafe impl Sync for PluginDescriptor {}
// SAFETY: as above; nothing in it is tied to a thread.
unsafe impl Send for PluginDescriptor {}

/// The type of the exported entry function.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginDescriptor;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vaccel_arg_layout_matches_c() {
        // struct vaccel_arg { void *buf; size_t size; enum type; uint32_t custom_type_id; bool owned; }
        assert_eq!(std::mem::size_of::<VaccelArg>(), 32);
        assert_eq!(std::mem::offset_of!(VaccelArg, size), 8);
        assert_eq!(std::mem::offset_of!(VaccelArg, arg_type), 16);
        assert_eq!(std::mem::offset_of!(VaccelArg, custom_type_id), 20);
        assert_eq!(std::mem::offset_of!(VaccelArg, owned), 24);
    }
}
