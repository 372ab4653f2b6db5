//! Plugins built for upstream C vAccel's plugin ABI, served by libvaccel.
//!
//! Such a plugin exports `const struct vaccel_plugin *vaccel_plugin` (built by
//! `VACCEL_PLUGIN(...)`), registers its op functions with `vaccel_plugin_register_ops`
//! from its `init()`, and calls back into the C API (`vaccel_session_resource_by_type`,
//! the log functions, `res->blobs[i]->path`). So only libvaccel can host one: at start it
//! installs [`load`] as the runtime loader's foreign loader, and a shared object in
//! `VACCEL_PLUGINS` that exports `vaccel_plugin` comes here. It is checked (descriptor,
//! vAccel version as upstream does), initialised, and adapted ([`UpstreamPlugin`], a
//! `ForeignPlugin`): the runtime selects and routes it by the same rules as ours and calls
//! it with the op's checked arguments, which `calls.rs` hands to the plugin's function in
//! upstream's signature, with the caller's own `struct vaccel_session` and
//! `struct vaccel_resource`.
//!
//! Loading is serialised: the plugin being initialised is the only one whose ops
//! `vaccel_plugin_register_ops` accepts.

mod calls;

use crate::resource::CResource;
use crate::session::{CListEntry, CSession};
use crate::state::{c_str, guard};
use std::cell::Cell;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use vaccel_plugin::sync::lock;
use vaccel_plugin::{
    Args, CallError, ForeignInfo, ForeignPlugin, HostResource, LoadError, OP_MAX, OpSet, OpType,
    PluginHandle, ResourceType, SessionCtx, code, plugin_type,
};
use vaccel_rt::Error;

/// `struct vaccel_op` (include/vaccel/op.h).
#[repr(C)]
pub struct COp {
    pub type_: u32,
    pub func: *mut c_void,
    pub owner: *mut CPlugin,
}

type HookFn = unsafe extern "C" fn() -> c_int;
type SessionFn = unsafe extern "C" fn(*mut CSession, u32) -> c_int;
type SessionReleaseFn = unsafe extern "C" fn(*mut CSession) -> c_int;
type ResourceFn = unsafe extern "C" fn(*mut CResource, *mut CSession) -> c_int;

/// `struct vaccel_plugin_info` (include/vaccel/plugin.h).
#[repr(C)]
pub struct CPluginInfo {
    pub name: *const c_char,
    pub version: *const c_char,
    pub vaccel_version: *const c_char,
    pub init: Option<HookFn>,
    pub fini: Option<HookFn>,
    pub is_virtio: bool,
    pub type_: u32,
    pub session_init: Option<SessionFn>,
    pub session_release: Option<SessionReleaseFn>,
    pub session_update: Option<SessionFn>,
    pub resource_register: Option<ResourceFn>,
    pub resource_unregister: Option<ResourceFn>,
    pub resource_sync: Option<ResourceFn>,
}

/// `struct vaccel_plugin` (include/vaccel/plugin.h).
#[repr(C)]
pub struct CPlugin {
    pub dl_handle: *mut c_void,
    pub entry: CListEntry,
    pub ops: [*mut COp; OP_MAX as usize],
    pub info: *mut CPluginInfo,
}

// Upstream's sizes and offsets on x86-64 (UPSTREAM-API.md §2); examples/c/layouts.c checks
// the header against the same numbers.
const _: () = {
    use std::mem::offset_of;
    assert!(size_of::<COp>() == 24);
    assert!(size_of::<CPluginInfo>() == 96);
    assert!(offset_of!(CPluginInfo, is_virtio) == 40);
    assert!(offset_of!(CPluginInfo, type_) == 44);
    assert!(offset_of!(CPluginInfo, session_init) == 48);
    assert!(offset_of!(CPluginInfo, resource_sync) == 88);
    assert!(size_of::<CPlugin>() == 224);
    assert!(offset_of!(CPlugin, ops) == 24);
    assert!(offset_of!(CPlugin, info) == 216);
};

/// The vAccel version this library implements, which plugins are checked against
/// (`VACCEL_VERSION` in vaccel.h).
pub(crate) const VACCEL_VERSION: &str = "0.8.0";

/// Skip the version check (`VACCEL_VERSION_IGNORE`, the config's `version_ignore`): set
/// from the configuration before the plugins load.
static VERSION_IGNORE: AtomicBool = AtomicBool::new(false);

pub(crate) fn set_version_ignore(ignore: bool) {
    VERSION_IGNORE.store(ignore, Ordering::Relaxed);
}

/// Install [`load`] as the loader for upstream plugins (once per process).
pub(crate) fn install() {
    vaccel_plugin::set_foreign_loader(load);
}

/// The plugin being initialised and the ops it registered so far (`CPlugin` and op
/// function addresses).
struct Loading {
    plugin: usize,
    funcs: [usize; OP_MAX as usize],
}

static LOADS: Mutex<()> = Mutex::new(());
static LOADING: Mutex<Option<Loading>> = Mutex::new(None);
/// The plugins initialised and not yet finalised (their `CPlugin` addresses): loading
/// one again (the same shared object twice) is refused before its init runs again, as
/// upstream refuses a plugin already registered.
static LIVE: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Parse `X.Y.Z[extra]` or `vX.Y.Z[extra]`, as upstream does.
fn parse_version(v: &str) -> Option<(u32, u32, u32, &str)> {
    let v = v.strip_prefix('v').unwrap_or(v);
    let mut parts = v.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let rest = parts.next()?;
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let patch = rest[..end].parse().ok()?;
    Some((major, minor, patch, &rest[end..]))
}

/// Upstream's check: another major is refused, any other difference is a warning.
fn check_version(name: &str, built_with: Option<&str>) -> Result<(), String> {
    if VERSION_IGNORE.load(Ordering::Relaxed) {
        return Ok(());
    }
    let built_with =
        built_with.ok_or("it sets no vaccel_version (set VACCEL_VERSION_IGNORE=1 to load it)")?;
    let theirs = parse_version(built_with)
        .ok_or_else(|| format!("its vaccel_version {built_with:?} is not a version (X.Y.Z)"))?;
    let ours = parse_version(VACCEL_VERSION).expect("our version parses");
    if theirs.0 != ours.0 {
        return Err(format!(
            "it is incompatible with this vAccel (built with {built_with}, used with {VACCEL_VERSION}); set VACCEL_VERSION_IGNORE=1 to load it anyway"
        ));
    }
    if theirs != ours {
        tracing::warn!(
            "plugin {name} may be incompatible with this vAccel (built with {built_with}, used with {VACCEL_VERSION})"
        );
    }
    Ok(())
}

/// Text of a descriptor string.
///
/// # Safety
/// `p` NULL or a NUL-terminated string.
unsafe fn text(p: *const c_char, what: &str) -> Result<Option<String>, String> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: per the contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map(|s| Some(s.to_owned()))
        .map_err(|_| format!("its {what} is not UTF-8"))
}

fn refused(path: &Path, code: i32, reason: impl Into<String>) -> LoadError {
    LoadError::Foreign {
        path: path.to_owned(),
        reason: reason.into(),
        code,
    }
}

/// The foreign loader: check, initialise and adapt an upstream plugin.
fn load(path: &Path, lib: libloading::Library) -> Result<PluginHandle, LoadError> {
    // SAFETY: `vaccel_plugin` is upstream's `const struct vaccel_plugin *` variable; the
    // symbol's address is the address of that pointer, valid while `lib` is loaded.
    let slot = unsafe { lib.get::<*const *mut CPlugin>(b"vaccel_plugin\0") }.map_err(|e| {
        refused(
            path,
            code::ELIBBAD,
            format!("cannot read `vaccel_plugin`: {e}"),
        )
    })?;
    let slot: *const *mut CPlugin = *slot;
    // SAFETY: non-null symbol address of a pointer variable in the loaded library.
    let plugin = unsafe { slot.as_ref() }
        .copied()
        .unwrap_or(std::ptr::null_mut());
    // SAFETY: a plugin built by `VACCEL_PLUGIN(...)` points at its static `struct
    // vaccel_plugin`, whose `info` points at its static info; both are checked for NULL.
    let info = unsafe { plugin.as_ref() }
        .and_then(|p| unsafe { p.info.as_ref() })
        .ok_or_else(|| {
            refused(
                path,
                code::EINVAL,
                "`vaccel_plugin` is NULL or has no info (build it with VACCEL_PLUGIN(...))",
            )
        })?;
    // SAFETY: the info's strings are NULL or static NUL-terminated strings.
    let (name, version, built_with) = unsafe {
        (
            text(info.name, "name"),
            text(info.version, "version"),
            text(info.vaccel_version, "vaccel_version"),
        )
    };
    let bad = |m: String| refused(path, code::EINVAL, m);
    let name = name
        .map_err(bad)?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| refused(path, code::EINVAL, "the plugin needs a name"))?;
    let version = version
        .map_err(bad)?
        .ok_or_else(|| refused(path, code::EINVAL, format!("plugin {name} needs a version")))?;
    let built_with = built_with.map_err(bad)?;
    let (Some(init), Some(fini)) = (info.init, info.fini) else {
        return Err(refused(
            path,
            code::EINVAL,
            format!("plugin {name} needs an init and a fini function"),
        ));
    };
    check_version(&name, built_with.as_deref())
        .map_err(|m| refused(path, code::EINVAL, format!("plugin {name}: {m}")))?;

    let funcs = {
        let _one_at_a_time = lock(&LOADS);
        if lock(&LIVE).contains(&(plugin as usize)) {
            return Err(refused(
                path,
                code::EEXIST,
                format!("plugin {name} is loaded already"),
            ));
        }
        *lock(&LOADING) = Some(Loading {
            plugin: plugin as usize,
            funcs: [0; OP_MAX as usize],
        });
        // SAFETY: the plugin's init, called once, as upstream does after registering it;
        // it may call vaccel_plugin_register_ops, which records into LOADING.
        let rc = unsafe { init() };
        let loaded = lock(&LOADING).take();
        if rc != code::OK {
            return Err(refused(
                path,
                rc,
                format!("plugin {name}: init() returned {}", describe(rc)),
            ));
        }
        lock(&LIVE).push(plugin as usize);
        loaded.map(|l| l.funcs).unwrap_or_default()
    };
    let mut ops = OpSet::default();
    for (i, f) in funcs.iter().enumerate() {
        if let Some(op) = OpType::from_raw(i as u32).filter(|_| *f != 0) {
            ops.insert(op);
        }
    }
    let plugin_type = info.type_
        | if info.is_virtio {
            plugin_type::REMOTE
        } else {
            0
        };
    let adapted = UpstreamPlugin {
        name: name.clone(),
        plugin: Raw(plugin),
        funcs,
        is_virtio: info.is_virtio,
        fini,
        session_init: info.session_init,
        session_release: info.session_release,
        resource_register: info.resource_register,
        resource_unregister: info.resource_unregister,
    };
    tracing::info!(
        "Registered plugin {name} {version} (upstream plugin ABI, built with vAccel {}) from {}",
        built_with.as_deref().unwrap_or("?"),
        path.display()
    );
    Ok(PluginHandle::foreign(
        ForeignInfo {
            description: format!(
                "upstream C vAccel plugin, built with vAccel {}",
                built_with.as_deref().unwrap_or("(unknown)")
            ),
            name,
            version,
            plugin_type,
            ops,
        },
        Box::new(adapted),
        Some(lib),
    ))
}

fn describe(rc: c_int) -> String {
    match code::name(rc) {
        Some(n) => format!("{n} ({rc})"),
        None => rc.to_string(),
    }
}

/// `vaccel_plugin_register_ops`: record the ops of the plugin being initialised.
///
/// # Safety
/// `ops` NULL or `nr_ops` readable `struct vaccel_op`s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_plugin_register_ops(ops: *mut COp, nr_ops: usize) -> c_int {
    guard("vaccel_plugin_register_ops", || {
        if ops.is_null() || nr_ops == 0 {
            return Err(Error::Invalid("no operations given".into()));
        }
        if nr_ops > OP_MAX as usize {
            return Err(Error::Invalid(format!(
                "{nr_ops} operations: a plugin has at most {OP_MAX}"
            )));
        }
        // SAFETY: non-null, `nr_ops` entries per the contract.
        let ops = unsafe { std::slice::from_raw_parts_mut(ops, nr_ops) };
        let mut loading = lock(&LOADING);
        let Some(l) = loading.as_mut() else {
            return Err(Error::Invalid(
                "ops are registered from a plugin's init(), while libvaccel loads it".into(),
            ));
        };
        // Check them all before recording any.
        for (i, op) in ops.iter().enumerate() {
            if op.owner as usize != l.plugin {
                return Err(Error::Invalid(format!(
                    "op {i}: its owner is not the plugin being loaded (use VACCEL_OP_INIT)"
                )));
            }
            if op.type_ >= OP_MAX {
                return Err(Error::Invalid(format!(
                    "op {i}: type {} is not an op (VACCEL_OP_MAX is {OP_MAX})",
                    op.type_
                )));
            }
            if op.func.is_null() {
                return Err(Error::Invalid(format!("op {i}: its function is NULL")));
            }
        }
        let plugin = l.plugin as *mut CPlugin;
        for op in ops.iter_mut() {
            l.funcs[op.type_ as usize] = op.func as usize;
            // SAFETY: `plugin` is the loading plugin's static struct (checked above to be
            // every op's owner); upstream records each op in it the same way.
            unsafe { (*plugin).ops[op.type_ as usize] = op };
        }
        Ok(())
    })
}

/// `vaccel_plugin_load`: load one more plugin into the running library.
///
/// # Safety
/// `lib` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_plugin_load(lib: *const c_char) -> c_int {
    guard("vaccel_plugin_load", || {
        // SAFETY: per the contract.
        let lib = unsafe { c_str(lib, "lib") }?;
        crate::state::load_plugins(&[lib.to_owned()])
    })
}

/// `vaccel_plugin_parse_and_load`: load each plugin of a `:`-separated list.
///
/// # Safety
/// `lib_str` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_plugin_parse_and_load(lib_str: *const c_char) -> c_int {
    guard("vaccel_plugin_parse_and_load", || {
        // SAFETY: per the contract.
        let list = unsafe { c_str(lib_str, "lib_str") }?;
        let libs: Vec<String> = list
            .split(':')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if libs.is_empty() {
            return Err(Error::Invalid("lib_str names no plugin".into()));
        }
        crate::state::load_plugins(&libs)
    })
}

/// A raw pointer into the plugin's static data, shared between threads as upstream does.
#[derive(Clone, Copy)]
struct Raw<T>(*mut T);
// SAFETY: the pointee is the plugin's static descriptor, only read (upstream shares it
// between threads the same way).
unsafe impl<T> Send for Raw<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Raw<T> {}

/// An upstream plugin, adapted.
struct UpstreamPlugin {
    name: String,
    plugin: Raw<CPlugin>,
    funcs: [usize; OP_MAX as usize],
    is_virtio: bool,
    fini: HookFn,
    session_init: Option<SessionFn>,
    session_release: Option<SessionReleaseFn>,
    resource_register: Option<ResourceFn>,
    resource_unregister: Option<ResourceFn>,
}

thread_local! {
    /// The caller's struct of the session `vaccel_session_init` is creating on this
    /// thread: a REMOTE plugin's `session_init` fills it (`remote_id`, `priv`).
    static INITIALISING: Cell<*mut CSession> = const { Cell::new(std::ptr::null_mut()) };
}

/// Run `f` with `s` known as the session being created on this thread.
pub(crate) fn initialising<R>(s: *mut CSession, f: impl FnOnce() -> R) -> R {
    INITIALISING.with(|c| c.set(s));
    let r = f();
    INITIALISING.with(|c| c.set(std::ptr::null_mut()));
    r
}

fn failed(what: &str, rc: c_int) -> CallError {
    CallError {
        code: rc,
        message: format!(
            "its {what} returned {} (an upstream-ABI plugin)",
            describe(rc)
        ),
        relayed: false,
    }
}

fn result(what: &str, rc: c_int) -> Result<(), CallError> {
    if rc == code::OK {
        Ok(())
    } else {
        Err(failed(what, rc))
    }
}

/// The caller's `struct vaccel_session` of a session, or a stand-in for the call when it
/// has none (a session this library did not create for a C caller).
enum SessionStruct {
    Caller(*mut CSession),
    StandIn(Box<CSession>),
}

impl SessionStruct {
    fn of(id: i64, hint: u32) -> Self {
        if let Some(p) = crate::lookup::session_at(id) {
            return SessionStruct::Caller(p);
        }
        let mut s = CSession::zeroed();
        s.id = id;
        s.hint = hint;
        SessionStruct::StandIn(s)
    }

    fn ptr(&mut self) -> *mut CSession {
        match self {
            SessionStruct::Caller(p) => *p,
            SessionStruct::StandIn(b) => &mut **b,
        }
    }
}

impl ForeignPlugin for UpstreamPlugin {
    fn call(
        &self,
        session: &SessionCtx<'_>,
        op: OpType,
        read: &mut Args<'_>,
        write: &mut Args<'_>,
    ) -> Result<(), CallError> {
        let func = self.funcs[op.raw() as usize] as *mut c_void;
        if func.is_null() {
            return Err(CallError {
                code: code::ENOTSUP,
                message: format!("the upstream plugin {} does not implement {op}", self.name),
                relayed: false,
            });
        }
        let mut sess = SessionStruct::of(session.id, session.hint);
        let resource = |id: i64, kind: ResourceType| -> Result<*mut CResource, CallError> {
            let registered = session.resources.resources().iter().find(|r| r.id == id);
            let at = registered.and_then(|_| crate::lookup::resource_at_id(id));
            let Some(at) = at else {
                return Err(CallError {
                    code: code::ENOENT,
                    message: format!(
                        "{op}: resource {id} is not registered with session {}",
                        session.id
                    ),
                    relayed: false,
                });
            };
            if registered.is_some_and(|r| r.resource_type != kind) {
                return Err(CallError {
                    code: code::EINVAL,
                    message: format!("{op}: resource {id} is not a {kind} resource"),
                    relayed: false,
                });
            }
            Ok(at)
        };
        // SAFETY: `func` is the function the plugin registered for `op`, so it has the
        // op's upstream signature; `Args` keeps every buffer valid for its size and
        // `calls` changes only reported sizes within them; `sess` and the resources are
        // the caller's live structs (or a stand-in that outlives the call).
        let rc = unsafe {
            calls::call(
                func,
                sess.ptr(),
                op,
                read.raw_mut(),
                write.raw_mut(),
                session.args_checked,
                &resource,
            )
        }?;
        result(&op.to_string(), rc)
    }

    fn session_init(&self, session_id: i64, hint: u32) -> Result<(), CallError> {
        // Upstream tells only a VirtIO plugin about sessions (a remote session).
        let (true, Some(f)) = (self.is_virtio, self.session_init) else {
            return Ok(());
        };
        let pending = INITIALISING.with(Cell::get);
        let mut sess = if pending.is_null() {
            SessionStruct::of(session_id, hint)
        } else {
            SessionStruct::Caller(pending)
        };
        let s = sess.ptr();
        // SAFETY: `s` is the caller's struct being initialised on this thread, or a
        // stand-in; upstream sets these before calling the plugin.
        unsafe {
            (*s).id = session_id;
            (*s).hint = hint;
            (*s).is_virtio = true;
            (*s).plugin = self.plugin.0.cast();
        }
        // SAFETY: the plugin's hook with a valid session struct.
        result("session_init", unsafe { f(s, hint) })
    }

    fn session_remote_id(&self, session_id: i64) -> Option<i64> {
        let pending = INITIALISING.with(Cell::get);
        let s = if pending.is_null() {
            crate::lookup::session_at(session_id)?
        } else {
            pending
        };
        // SAFETY: the caller's live session struct (see `session_init`).
        let id = unsafe { (*s).remote_id };
        (id != 0).then_some(id)
    }

    fn session_release(&self, session_id: i64) -> Result<(), CallError> {
        let (true, Some(f)) = (self.is_virtio, self.session_release) else {
            return Ok(());
        };
        let mut sess = SessionStruct::of(session_id, 0);
        // SAFETY: the plugin's hook with the caller's struct (still live: the library
        // releases the session before forgetting it) or a stand-in.
        result("session_release", unsafe { f(sess.ptr()) })
    }

    fn resource_register(
        &self,
        session: &SessionCtx<'_>,
        resource: &HostResource,
    ) -> Result<(), CallError> {
        let Some(f) = self.resource_register else {
            return Ok(());
        };
        self.resource_hook(
            f,
            "resource_register",
            session.id,
            session.hint,
            resource.id,
        )
    }

    fn resource_unregister(&self, session_id: i64, resource_id: i64) -> Result<(), CallError> {
        let Some(f) = self.resource_unregister else {
            return Ok(());
        };
        self.resource_hook(f, "resource_unregister", session_id, 0, resource_id)
    }

    fn fini(&self) -> Result<(), CallError> {
        // SAFETY: the plugin's fini, called once when the last runtime holding it goes.
        let rc = unsafe { (self.fini)() };
        lock(&LIVE).retain(|p| *p != self.plugin.0 as usize);
        result("fini", rc)
    }
}

impl UpstreamPlugin {
    fn resource_hook(
        &self,
        f: ResourceFn,
        what: &str,
        session_id: i64,
        hint: u32,
        resource_id: i64,
    ) -> Result<(), CallError> {
        let Some(res) = crate::lookup::resource_at_id(resource_id) else {
            // Not a C caller's resource: upstream plugins know resources only by struct.
            return Ok(());
        };
        let mut sess = SessionStruct::of(session_id, hint);
        // SAFETY: the plugin's hook with the caller's live structs (or a stand-in
        // session).
        result(what, unsafe { f(res, sess.ptr()) })
    }
}
