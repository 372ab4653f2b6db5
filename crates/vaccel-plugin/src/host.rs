//! The runtime's side of the ABI: [`PluginHandle`], a validated plugin descriptor with safe
//! methods for each entry point, and [`ResourceTable`], the per-session resource view that
//! calls hand to plugins.

use crate::abi::{
    ABI_MAJOR, ABI_MINOR, AbiBlob, AbiResource, CallContext, ERROR_MESSAGE_CAP, ERROR_RELAYED,
    ErrorMessage, HostApi, PluginDescriptor,
};
use crate::args::Args;
use crate::types::{OpSet, OpType, ResourceType, code};
use std::ffi::{CStr, c_char, c_int};
use std::mem::MaybeUninit;
use std::sync::Arc;

/// A failed plugin entry point: the vAccel code it returned and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// The code the plugin returned (non-zero).
    pub code: i32,
    /// What the plugin said (may be empty).
    pub message: String,
    /// The plugin relayed the message from elsewhere (`ERROR_RELAYED`): it already says
    /// where the error happened.
    pub relayed: bool,
}

/// Why a descriptor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescriptorError {
    /// Built for another ABI major.
    #[error(
        "plugin ABI {plugin_major}.{plugin_minor} is incompatible with runtime ABI {ABI_MAJOR}.{ABI_MINOR}"
    )]
    AbiMismatch {
        /// Plugin's major.
        plugin_major: u32,
        /// Plugin's minor.
        plugin_minor: u32,
    },
    /// Something required is missing or malformed.
    #[error("malformed plugin descriptor: {0}")]
    Malformed(String),
}

/// A plugin of another ABI that the face which loaded it adapts in-process — upstream C
/// vAccel's plugins in libvaccel (`crates/vaccel-capi/src/upstream/`). The runtime calls
/// it exactly where it would call a descriptor's entry points, with the same arguments,
/// already checked against the op's layout.
pub trait ForeignPlugin: Send + Sync {
    /// Run `op` for a session.
    ///
    /// # Errors
    /// The code and message of the failure.
    fn call(
        &self,
        session: &SessionCtx<'_>,
        op: OpType,
        read: &mut Args<'_>,
        write: &mut Args<'_>,
    ) -> Result<(), CallError>;
    /// A session bound to it was created.
    ///
    /// # Errors
    /// The code and message of the failure.
    fn session_init(&self, _session_id: i64, _hint: u32) -> Result<(), CallError> {
        Ok(())
    }
    /// The id the remote side gave a session (a transport's), if any.
    fn session_remote_id(&self, _session_id: i64) -> Option<i64> {
        None
    }
    /// A session it served is going away.
    ///
    /// # Errors
    /// The code and message of the failure.
    fn session_release(&self, _session_id: i64) -> Result<(), CallError> {
        Ok(())
    }
    /// A resource was registered with a session bound to it.
    ///
    /// # Errors
    /// The code and message of the failure.
    fn resource_register(
        &self,
        _session: &SessionCtx<'_>,
        _resource: &HostResource,
    ) -> Result<(), CallError> {
        Ok(())
    }
    /// A resource was unregistered from a session bound to it.
    ///
    /// # Errors
    /// The code and message of the failure.
    fn resource_unregister(&self, _session_id: i64, _resource_id: i64) -> Result<(), CallError> {
        Ok(())
    }
    /// Finalise it (once, when the runtime goes away).
    ///
    /// # Errors
    /// The code and message of the failure.
    fn fini(&self) -> Result<(), CallError>;
}

/// What the runtime knows of a foreign plugin: the same facts a descriptor gives.
#[derive(Debug, Clone)]
pub struct ForeignInfo {
    /// Name (unique among loaded plugins).
    pub name: String,
    /// Version.
    pub version: String,
    /// One-line description (e.g. which ABI it was built for).
    pub description: String,
    /// `VACCEL_PLUGIN_*` bits.
    pub plugin_type: u32,
    /// Ops it serves.
    pub ops: OpSet,
}

enum Entry {
    /// Our ABI: a validated descriptor.
    Abi(*const PluginDescriptor),
    /// Another ABI, adapted in-process; already initialised when loaded.
    Foreign(Box<dyn ForeignPlugin>),
}

/// A plugin's descriptor, validated, with its strings copied out — or a foreign plugin
/// adapted in-process ([`ForeignPlugin`]).
pub struct PluginHandle {
    entry: Entry,
    name: String,
    version: String,
    description: String,
    plugin_type: u32,
    ops: OpSet,
    abi: (u32, u32),
    // Keeps the shared object mapped while the descriptor is in use; dropped last.
    _library: Option<libloading::Library>,
}

// SAFETY: the descriptor is immutable and `Sync` (see abi.rs); the library handle is only
// kept alive, never used, so the handle can move and be shared between threads. Plugins
// promise (ABI contract, docs/PLUGINS.md) that their entry points are thread-safe.
unsafe impl Send for PluginHandle {}
// SAFETY: as above.
unsafe impl Sync for PluginHandle {}

fn c_text(p: *const c_char, what: &str) -> Result<String, DescriptorError> {
    if p.is_null() {
        return Err(DescriptorError::Malformed(format!("{what} is NULL")));
    }
    // SAFETY: the descriptor contract says strings are static and NUL-terminated; `p` is
    // non-null.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map(str::to_owned)
        .map_err(|_| DescriptorError::Malformed(format!("{what} is not UTF-8")))
}

impl PluginHandle {
    /// Validate a statically linked (built-in) plugin's descriptor.
    ///
    /// # Errors
    /// [`DescriptorError`] when the ABI major differs or a required field is missing.
    pub fn from_static(desc: &'static PluginDescriptor) -> Result<Self, DescriptorError> {
        // SAFETY: a `&'static` reference is valid forever.
        unsafe { Self::from_raw(desc, None) }
    }

    /// Validate a descriptor from a loaded shared object, keeping the library alive.
    ///
    /// # Safety
    /// `desc` must be non-null and point to a `PluginDescriptor` that stays valid while
    /// `library` is loaded (it came from that library's entry function).
    pub(crate) unsafe fn from_raw(
        desc: *const PluginDescriptor,
        library: Option<libloading::Library>,
    ) -> Result<Self, DescriptorError> {
        // The ABI major/minor are the first two fields in every version of the layout, so
        // they are read before anything else.
        // SAFETY: the caller guarantees `desc` points to a readable descriptor.
        let d = unsafe { &*desc };
        if d.abi_major != ABI_MAJOR {
            return Err(DescriptorError::AbiMismatch {
                plugin_major: d.abi_major,
                plugin_minor: d.abi_minor,
            });
        }
        if (d.struct_size as usize) < std::mem::offset_of!(PluginDescriptor, reserved) {
            return Err(DescriptorError::Malformed(format!(
                "struct_size {} is smaller than ABI {ABI_MAJOR}.0 requires",
                d.struct_size
            )));
        }
        let name = c_text(d.name, "name")?;
        if name.is_empty() {
            return Err(DescriptorError::Malformed("name is empty".into()));
        }
        let version = c_text(d.version, "version")?;
        let description = if d.description.is_null() {
            String::new()
        } else {
            c_text(d.description, "description")?
        };
        for (present, what) in [
            (d.init.is_some(), "init"),
            (d.fini.is_some(), "fini"),
            (d.call.is_some(), "call"),
        ] {
            if !present {
                return Err(DescriptorError::Malformed(format!(
                    "required entry point `{what}` is NULL"
                )));
            }
        }
        Ok(PluginHandle {
            entry: Entry::Abi(desc),
            name,
            version,
            description,
            plugin_type: d.plugin_type,
            ops: OpSet(d.ops & OpSet::all().0),
            abi: (d.abi_major, d.abi_minor),
            _library: library,
        })
    }

    /// A foreign plugin, already initialised, keeping its shared object loaded.
    pub fn foreign(
        info: ForeignInfo,
        plugin: Box<dyn ForeignPlugin>,
        library: Option<libloading::Library>,
    ) -> Self {
        PluginHandle {
            entry: Entry::Foreign(plugin),
            name: info.name,
            version: info.version,
            description: info.description,
            plugin_type: info.plugin_type,
            ops: OpSet(info.ops.0 & OpSet::all().0),
            abi: (0, 0),
            _library: library,
        }
    }

    /// Our ABI's descriptor, or the foreign plugin.
    fn entry(&self) -> Result<&PluginDescriptor, &dyn ForeignPlugin> {
        match &self.entry {
            // SAFETY: validated at construction; the library that holds it is kept alive
            // by self.
            Entry::Abi(desc) => Ok(unsafe { &**desc }),
            Entry::Foreign(p) => Err(p.as_ref()),
        }
    }

    /// Whether it is a foreign plugin (another ABI, adapted in-process).
    pub fn is_foreign(&self) -> bool {
        matches!(self.entry, Entry::Foreign(_))
    }

    /// Plugin name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Plugin version.
    pub fn version(&self) -> &str {
        &self.version
    }
    /// One-line description.
    pub fn description(&self) -> &str {
        &self.description
    }
    /// `VACCEL_PLUGIN_*` bits.
    pub fn plugin_type(&self) -> u32 {
        self.plugin_type
    }
    /// Ops it implements.
    pub fn ops(&self) -> OpSet {
        self.ops
    }
    /// Our ABI (major, minor) it was built for; (0, 0) for a foreign plugin.
    pub fn abi(&self) -> (u32, u32) {
        self.abi
    }

    /// Call `init` with the runtime's services.
    ///
    /// # Errors
    /// The plugin's code and message.
    pub fn init(&self, log_level: u32, forward_logs: bool) -> Result<(), CallError> {
        let Ok(desc) = self.entry() else {
            // A foreign plugin was initialised by its loader (its ops are known only then).
            return Ok(());
        };
        let host = HostApi {
            struct_size: size_of::<HostApi>() as u32,
            abi_major: ABI_MAJOR,
            abi_minor: ABI_MINOR,
            log_level,
            log: if forward_logs { Some(host_log) } else { None },
            reserved: [std::ptr::null(); 8],
        };
        let init = desc.init.expect("validated at construction");
        // SAFETY: `init` is a validated entry point; `host` and the message buffer live for
        // the call.
        with_error(|err| unsafe { init(&host, err) })
    }

    /// Call `fini`.
    ///
    /// # Errors
    /// The plugin's code.
    pub fn fini(&self) -> Result<(), CallError> {
        let desc = match self.entry() {
            Ok(desc) => desc,
            Err(foreign) => return foreign.fini(),
        };
        let fini = desc.fini.expect("validated at construction");
        // SAFETY: validated entry point with no arguments.
        let rc = unsafe { fini() };
        if rc == 0 {
            Ok(())
        } else {
            Err(CallError {
                code: rc,
                message: String::new(),
                relayed: false,
            })
        }
    }

    /// Run `op` for a session.
    ///
    /// # Errors
    /// The plugin's code and message.
    pub fn call(
        &self,
        session: &SessionCtx<'_>,
        op: OpType,
        read: &mut Args<'_>,
        write: &mut Args<'_>,
    ) -> Result<(), CallError> {
        let desc = match self.entry() {
            Ok(desc) => desc,
            Err(foreign) => return foreign.call(session, op, read, write),
        };
        let ctx = session.context();
        let call = desc.call.expect("validated at construction");
        let r = read.as_mut_slice();
        let w = write.as_mut_slice();
        // SAFETY: `call` is a validated entry point; `ctx` and the resource table it points
        // into live for the call; `Args` guarantees every buffer is valid for its size.
        with_error(|err| unsafe {
            call(
                &ctx,
                op.raw(),
                r.as_mut_ptr(),
                r.len(),
                w.as_mut_ptr(),
                w.len(),
                err,
            )
        })
    }

    /// Tell the plugin a session bound to it was created (no-op without the hook).
    ///
    /// # Errors
    /// The plugin's code and message.
    pub fn session_init(&self, session_id: i64, hint: u32) -> Result<(), CallError> {
        let desc = match self.entry() {
            Ok(desc) => desc,
            Err(foreign) => return foreign.session_init(session_id, hint),
        };
        match desc.session_init {
            // SAFETY: optional entry point present in a validated descriptor.
            Some(f) => with_error(|err| unsafe { f(session_id, hint, err) }),
            None => Ok(()),
        }
    }

    /// The id a transport's remote side gave a session, if the plugin says (ABI 1.1).
    pub fn session_remote_id(&self, session_id: i64) -> Option<i64> {
        let d = match self.entry() {
            Ok(d) => d,
            Err(foreign) => return foreign.session_remote_id(session_id),
        };
        let covered = d.struct_size as usize
            >= std::mem::offset_of!(PluginDescriptor, session_remote_id) + size_of::<usize>();
        let f = d
            .session_remote_id
            .filter(|_| covered && d.abi_minor >= 1)?;
        // SAFETY: an entry point of a validated descriptor that declares it (ABI 1.1).
        Some(unsafe { f(session_id) }).filter(|id| *id != 0)
    }

    /// Tell the plugin a session is being released (no-op without the hook).
    ///
    /// # Errors
    /// The plugin's code and message.
    pub fn session_release(&self, session_id: i64) -> Result<(), CallError> {
        let desc = match self.entry() {
            Ok(desc) => desc,
            Err(foreign) => return foreign.session_release(session_id),
        };
        match desc.session_release {
            // SAFETY: optional entry point present in a validated descriptor.
            Some(f) => with_error(|err| unsafe { f(session_id, err) }),
            None => Ok(()),
        }
    }

    /// Tell the plugin a resource was registered with a session bound to it.
    ///
    /// # Errors
    /// The plugin's code and message.
    pub fn resource_register(
        &self,
        session: &SessionCtx<'_>,
        resource: &HostResource,
    ) -> Result<(), CallError> {
        let desc = match self.entry() {
            Ok(desc) => desc,
            Err(foreign) => return foreign.resource_register(session, resource),
        };
        let Some(f) = desc.resource_register else {
            return Ok(());
        };
        let blobs = abi_blobs(resource);
        let abi = AbiResource {
            id: resource.id,
            resource_type: resource.resource_type.raw(),
            blobs: blobs.as_ptr(),
            nr_blobs: blobs.len(),
        };
        let ctx = session.context();
        // SAFETY: optional entry point present in a validated descriptor; `ctx`, `abi` and
        // the blobs it points to live for the call.
        with_error(|err| unsafe { f(&ctx, &abi, err) })
    }

    /// Tell the plugin a resource was unregistered.
    ///
    /// # Errors
    /// The plugin's code and message.
    pub fn resource_unregister(&self, session_id: i64, resource_id: i64) -> Result<(), CallError> {
        let desc = match self.entry() {
            Ok(desc) => desc,
            Err(foreign) => return foreign.resource_unregister(session_id, resource_id),
        };
        match desc.resource_unregister {
            // SAFETY: optional entry point present in a validated descriptor.
            Some(f) => with_error(|err| unsafe { f(session_id, resource_id, err) }),
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for PluginHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHandle")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("plugin_type", &self.plugin_type)
            .finish()
    }
}

/// Run an entry point with a fresh message buffer and turn its code into a result.
fn with_error(f: impl FnOnce(*mut ErrorMessage) -> c_int) -> Result<(), CallError> {
    let mut msg = MaybeUninit::<ErrorMessage>::uninit();
    let p = msg.as_mut_ptr();
    // SAFETY: writing the `len` field of our own (uninitialised) buffer through a raw
    // pointer; the bytes stay uninitialised and are only read up to `len`.
    unsafe { std::ptr::addr_of_mut!((*p).len).write(0) };
    // SAFETY: as above, the `flags` field.
    unsafe { std::ptr::addr_of_mut!((*p).flags).write(0) };
    let rc = f(p);
    if rc == code::OK {
        return Ok(());
    }
    // SAFETY: `len` was initialised above and the plugin may only have raised it after
    // writing that many bytes (ABI contract); it is clamped to the buffer size.
    let len = (unsafe { (*p).len } as usize).min(ERROR_MESSAGE_CAP);
    // SAFETY: the first `len` bytes were written by the plugin (see above).
    let bytes =
        unsafe { std::slice::from_raw_parts(std::ptr::addr_of!((*p).bytes).cast::<u8>(), len) };
    // SAFETY: initialised above; a plugin may only have set flags it knows.
    let flags = unsafe { (*p).flags };
    Err(CallError {
        code: rc,
        message: String::from_utf8_lossy(bytes).into_owned(),
        relayed: flags & ERROR_RELAYED != 0,
    })
}

/// The log callback handed to dynamically loaded plugins: their log lines enter the
/// runtime's `tracing` subscriber under the `vaccel::plugin` target.
unsafe extern "C" fn host_log(level: u32, msg: *const u8, len: usize) {
    if msg.is_null() {
        return;
    }
    // SAFETY: the plugin passes `len` readable bytes at `msg` (ABI contract).
    let bytes = unsafe { std::slice::from_raw_parts(msg, len) };
    let text = String::from_utf8_lossy(bytes);
    let _ = std::panic::catch_unwind(|| match level {
        1 => tracing::error!(target: "vaccel::plugin", "{text}"),
        2 => tracing::warn!(target: "vaccel::plugin", "{text}"),
        3 => tracing::info!(target: "vaccel::plugin", "{text}"),
        _ => tracing::debug!(target: "vaccel::plugin", "{text}"),
    });
}

/// One blob as the runtime holds it.
#[derive(Debug, Clone)]
pub struct HostBlob {
    /// File name (no directories).
    pub name: String,
    /// Contents.
    pub data: Arc<[u8]>,
    /// SHA-256 of `data`.
    pub sha256: [u8; 32],
}

/// A zero-filled shared buffer of `len` bytes for receiving a blob in place. It is
/// allocated zeroed, so its pages cost nothing until written (no separate fill pass, no
/// copy from a `Vec` into the `Arc`).
pub fn zeroed_bytes(len: usize) -> Arc<[u8]> {
    let zeroed = Arc::<[u8]>::new_zeroed_slice(len);
    // SAFETY: the allocation is zero-filled, and all-zero bytes are valid `u8` values.
    unsafe { zeroed.assume_init() }
}

impl HostBlob {
    /// A blob, hashing its contents once.
    pub fn new(name: String, data: Arc<[u8]>) -> Self {
        use sha2::Digest;
        let sha256 = sha2::Sha256::digest(&data).into();
        HostBlob { name, data, sha256 }
    }
}

/// One resource as the runtime holds it.
#[derive(Debug, Clone)]
pub struct HostResource {
    /// Resource id.
    pub id: i64,
    /// Type.
    pub resource_type: ResourceType,
    /// Blobs.
    pub blobs: Arc<[HostBlob]>,
}

fn abi_blobs(r: &HostResource) -> Box<[AbiBlob]> {
    r.blobs
        .iter()
        .map(|b| AbiBlob {
            name: b.name.as_ptr(),
            name_len: b.name.len(),
            data: b.data.as_ptr(),
            len: b.data.len(),
            sha256: b.sha256,
        })
        .collect()
}

/// The resources registered with a session, laid out for plugins. Immutable: the runtime
/// builds a new table when registrations change and swaps it in, so a call in flight keeps
/// the table it started with.
pub struct ResourceTable {
    resources: Vec<HostResource>,
    _blobs: Vec<Box<[AbiBlob]>>,
    abi: Vec<AbiResource>,
}

// SAFETY: the raw pointers in `_blobs` and `abi` point into heap data owned by
// `resources` (Arc'd blob bytes and names), which is never mutated after construction; so
// the table is as thread-safe as the owned data.
unsafe impl Send for ResourceTable {}
// SAFETY: as above.
unsafe impl Sync for ResourceTable {}

impl ResourceTable {
    /// Lay out `resources` for plugins.
    pub fn new(resources: Vec<HostResource>) -> Self {
        let blobs: Vec<Box<[AbiBlob]>> = resources.iter().map(abi_blobs).collect();
        let abi = resources
            .iter()
            .zip(&blobs)
            .map(|(r, b)| AbiResource {
                id: r.id,
                resource_type: r.resource_type.raw(),
                blobs: b.as_ptr(),
                nr_blobs: b.len(),
            })
            .collect();
        ResourceTable {
            resources,
            _blobs: blobs,
            abi,
        }
    }

    /// An empty table.
    pub fn empty() -> Self {
        Self::new(Vec::new())
    }

    /// The resources.
    pub fn resources(&self) -> &[HostResource] {
        &self.resources
    }
}

/// The calling session, as plugin calls see it.
pub struct SessionCtx<'a> {
    /// Session id.
    pub id: i64,
    /// Hint flags.
    pub hint: u32,
    /// Registered resources.
    pub resources: &'a ResourceTable,
    /// Set only when this call's arguments passed [`crate::ops::check_args`]: the plugin
    /// is told so (with the layouts' fingerprint) and need not check them again.
    pub args_checked: bool,
}

impl SessionCtx<'_> {
    fn context(&self) -> CallContext {
        CallContext {
            struct_size: size_of::<CallContext>() as u32,
            session_hint: self.hint,
            session_id: self.id,
            resources: self.resources.abi.as_ptr(),
            nr_resources: self.resources.abi.len(),
            layouts_checked: if self.args_checked {
                crate::ops::LAYOUTS
            } else {
                0
            },
            reserved: [std::ptr::null(); 3],
        }
    }
}
