//! The `extern "C"` side of a plugin: the descriptor, one shim per entry point (each
//! catches panics and turns errors into a code plus a message), and the macros that
//! declare and export a plugin.

use super::dispatch::dispatch;
use super::{Ctx, Host, Plugin, PluginError, ResourceView, Result, raw_slice};
use crate::abi::{
    ABI_MAJOR, ABI_MINOR, AbiResource, CallContext, ERROR_MESSAGE_CAP, ERROR_RELAYED, ErrorMessage,
    HostApi, PluginDescriptor, VaccelArg,
};
use crate::types::{OpSet, OpType, ResourceType, code};
use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// Where a declared plugin keeps its one instance. Implemented by `declare_plugin!`.
pub trait Slot: Plugin {
    /// The instance slot.
    fn slot() -> &'static OnceLock<Self>;
}

/// Build a descriptor for `P` (used by `declare_plugin!`). Strings must end with a NUL.
pub const fn descriptor<P: Slot>(
    name: &'static str,
    version: &'static str,
    description: &'static str,
    plugin_type: u32,
    ops: OpSet,
) -> PluginDescriptor {
    assert!(ends_with_nul(name) && ends_with_nul(version) && ends_with_nul(description));
    PluginDescriptor {
        abi_major: ABI_MAJOR,
        abi_minor: ABI_MINOR,
        struct_size: size_of::<PluginDescriptor>() as u32,
        plugin_type,
        name: name.as_ptr().cast(),
        version: version.as_ptr().cast(),
        description: description.as_ptr().cast(),
        ops: ops.0,
        init: Some(init_shim::<P>),
        fini: Some(fini_shim::<P>),
        call: Some(call_shim::<P>),
        session_init: Some(session_init_shim::<P>),
        session_release: Some(session_release_shim::<P>),
        resource_register: Some(resource_register_shim::<P>),
        resource_unregister: Some(resource_unregister_shim::<P>),
        session_remote_id: Some(session_remote_id_shim::<P>),
        reserved: [std::ptr::null(); 7],
    }
}

const fn ends_with_nul(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && b[b.len() - 1] == 0
}

/// Run `f`, turning errors and panics into a code plus a message in `err`.
fn guard(err: *mut ErrorMessage, f: impl FnOnce() -> Result<()>) -> c_int {
    let result = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(PluginError::backend(format!("plugin panicked: {what}")))
    });
    match result {
        Ok(()) => code::OK,
        Err(e) => {
            set_message(err, &e);
            if e.code == code::OK {
                code::EBACKEND
            } else {
                e.code
            }
        }
    }
}

/// The runtime's ABI minor version, learned at `init`: [`ErrorMessage::flags`] exists
/// from 1.1 on.
static HOST_MINOR: AtomicU32 = AtomicU32::new(0);

fn set_message(err: *mut ErrorMessage, e: &PluginError) {
    if err.is_null() {
        return;
    }
    let msg = e.message.as_str();
    if e.relayed && HOST_MINOR.load(Ordering::Relaxed) >= 1 {
        // SAFETY: non-null, the runtime's buffer for this call; a runtime of ABI ≥ 1.1
        // passes one with the `flags` field.
        unsafe { std::ptr::addr_of_mut!((*err).flags).write(ERROR_RELAYED) };
    }
    let mut n = msg.len().min(ERROR_MESSAGE_CAP);
    while n > 0 && !msg.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: `err` is the runtime's message buffer for this call (ABI contract), non-null;
    // we write `n <= ERROR_MESSAGE_CAP` bytes, then the length.
    unsafe {
        std::ptr::copy_nonoverlapping(
            msg.as_ptr(),
            std::ptr::addr_of_mut!((*err).bytes).cast::<u8>(),
            n,
        );
        std::ptr::addr_of_mut!((*err).len).write(n as u32);
    }
}

fn instance<P: Slot>() -> Result<&'static P> {
    P::slot()
        .get()
        .ok_or_else(|| PluginError::new(code::ENODEV, "plugin used before init"))
}

unsafe extern "C" fn init_shim<P: Slot>(host: *const HostApi, err: *mut ErrorMessage) -> c_int {
    guard(err, || {
        let (log_level, log) = if host.is_null() {
            (1, None)
        } else {
            // SAFETY: non-null host API from the runtime, valid for the call.
            let h = unsafe { &*host };
            if h.abi_major == ABI_MAJOR {
                HOST_MINOR.store(h.abi_minor, Ordering::Relaxed);
            }
            (h.log_level, h.log)
        };
        if let Some(log) = log {
            crate::log::forward_to_host(log, log_level);
        }
        if P::slot().get().is_none() {
            let plugin = P::init(&Host {
                abi: (ABI_MAJOR, ABI_MINOR),
                log_level,
            })?;
            let _ = P::slot().set(plugin);
        }
        Ok(())
    })
}

unsafe extern "C" fn fini_shim<P: Slot>() -> c_int {
    guard(std::ptr::null_mut(), || {
        if let Some(p) = P::slot().get() {
            p.fini();
        }
        Ok(())
    })
}

unsafe extern "C" fn session_init_shim<P: Slot>(
    id: i64,
    hint: u32,
    err: *mut ErrorMessage,
) -> c_int {
    guard(err, || instance::<P>()?.session_init(id, hint))
}

unsafe extern "C" fn session_remote_id_shim<P: Slot>(id: i64) -> i64 {
    catch_unwind(|| P::slot().get().and_then(|p| p.remote_session_id(id)))
        .ok()
        .flatten()
        .unwrap_or(0)
}

unsafe extern "C" fn session_release_shim<P: Slot>(id: i64, err: *mut ErrorMessage) -> c_int {
    guard(err, || instance::<P>()?.session_release(id))
}

unsafe extern "C" fn resource_register_shim<P: Slot>(
    ctx: *const CallContext,
    res: *const AbiResource,
    err: *mut ErrorMessage,
) -> c_int {
    guard(err, || {
        if res.is_null() {
            return Err(PluginError::invalid("resource_register: NULL resource"));
        }
        // SAFETY: ABI contract: valid for the call.
        let ctx = unsafe { Ctx::from_raw(ctx) };
        // SAFETY: non-null and valid for the call (ABI contract).
        let r = unsafe { &*res };
        let view = ResourceView {
            id: r.id,
            resource_type: ResourceType::from_raw(r.resource_type),
            // SAFETY: ABI contract: `blobs` is valid for `nr_blobs`.
            blobs: unsafe { raw_slice(r.blobs, r.nr_blobs) },
        };
        instance::<P>()?.resource_register(&ctx, &view)
    })
}

unsafe extern "C" fn resource_unregister_shim<P: Slot>(
    sid: i64,
    rid: i64,
    err: *mut ErrorMessage,
) -> c_int {
    guard(err, || instance::<P>()?.resource_unregister(sid, rid))
}

unsafe extern "C" fn call_shim<P: Slot>(
    ctx: *const CallContext,
    op: u32,
    read: *mut VaccelArg,
    nr_read: usize,
    write: *mut VaccelArg,
    nr_write: usize,
    err: *mut ErrorMessage,
) -> c_int {
    guard(err, || {
        let plugin = instance::<P>()?;
        let op = OpType::from_raw(op)
            .ok_or_else(|| PluginError::new(code::ENOTSUP, format!("unknown op id {op}")))?;
        // SAFETY: ABI contract: the context and arrays are valid for the call.
        let ctx = unsafe { Ctx::from_raw(ctx) };
        // SAFETY: as above.
        let read = unsafe { raw_slice_mut(read, nr_read) };
        // SAFETY: as above.
        let write = unsafe { raw_slice_mut(write, nr_write) };
        // SAFETY: as above: every arg's buffer is valid for its size for the call.
        unsafe { dispatch(plugin, &ctx, op, read, write) }
    })
}

/// # Safety
/// `p` valid and exclusive for `len` elements (or `len == 0`), for `'a`.
unsafe fn raw_slice_mut<'a, T>(p: *mut T, len: usize) -> &'a mut [T] {
    if len == 0 || p.is_null() {
        &mut []
    } else {
        // SAFETY: per the function's contract.
        unsafe { std::slice::from_raw_parts_mut(p, len) }
    }
}

/// Declare a plugin: generates its descriptor and `pub fn descriptor()`, which the runtime
/// faces register as a built-in and [`crate::export_plugin!`] exports from a `cdylib`.
///
/// ```ignore
/// vaccel_plugin::declare_plugin! {
///     plugin: MyPlugin,
///     name: "mine",
///     description: "does things",
///     plugin_type: vaccel_plugin::plugin_type::CPU,
///     ops: vaccel_plugin::OpSet::of(&[vaccel_plugin::OpType::Noop]),
/// }
/// ```
#[macro_export]
macro_rules! declare_plugin {
    (
        plugin: $ty:ty,
        name: $name:literal,
        description: $desc:literal,
        plugin_type: $ptype:expr,
        ops: $ops:expr $(,)?
    ) => {
        const _: () = {
            static SLOT: ::std::sync::OnceLock<$ty> = ::std::sync::OnceLock::new();
            impl $crate::sdk::Slot for $ty {
                fn slot() -> &'static ::std::sync::OnceLock<Self> {
                    &SLOT
                }
            }
        };

        static VACCEL_PLUGIN_DESCRIPTOR: $crate::abi::PluginDescriptor =
            $crate::sdk::descriptor::<$ty>(
                concat!($name, "\0"),
                concat!(env!("CARGO_PKG_VERSION"), "\0"),
                concat!($desc, "\0"),
                $ptype,
                $ops,
            );

        /// This plugin's descriptor (register it as a built-in, or export it).
        pub fn descriptor() -> &'static $crate::abi::PluginDescriptor {
            &VACCEL_PLUGIN_DESCRIPTOR
        }
    };
}

/// Export a declared plugin from a `cdylib` crate as `vaccel_plugin_entry`. Use it once per
/// shared object, in a crate of its own (two in one binary would clash).
#[macro_export]
macro_rules! export_plugin {
    ($descriptor:path) => {
        /// The vAccel plugin entry point.
        #[unsafe(no_mangle)]
        pub extern "C" fn vaccel_plugin_entry() -> *const $crate::abi::PluginDescriptor {
            $descriptor()
        }
    };
}
