//! Library state (runtime + id-keyed session and resource maps), the panic/error guard
//! every entry point runs in, and the core, session, resource and log functions.

use arc_swap::{ArcSwap, ArcSwapOption};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use vaccel_plugin::{OpType, ResourceType, code};
use vaccel_rt::{Error, Resource, Runtime, Session};

pub(crate) type CResult<T = ()> = Result<T, Error>;

/// `struct vaccel_session` (include/vaccel/session.h).
#[repr(C)]
pub struct CSession {
    pub id: i64,
    pub remote_id: i64,
    pub hint: u32,
    pub priv_: *mut c_void,
}

/// `struct vaccel_resource` (include/vaccel/resource.h).
#[repr(C)]
pub struct CResource {
    pub id: i64,
    pub remote_id: i64,
    pub type_: u32,
    pub nr_blobs: usize,
    pub priv_: *mut c_void,
}

/// Ids are process-unique counters, not attacker-chosen keys: hash them with one multiply
/// instead of SipHash (this lookup is on every op's path).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_i64(&mut self, v: i64) {
        self.0 = (v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Ids<V> = HashMap<i64, V, std::hash::BuildHasherDefault<IdHasher>>;

/// An id-keyed map that readers use without locking: the map is copy-on-write behind an
/// `ArcSwap`, so an op looks its session up with two atomic operations and never waits
/// for (or blocks) a session being created or released elsewhere.
pub(crate) struct IdMap<V> {
    map: ArcSwap<Ids<V>>,
    writer: Mutex<()>,
}

impl<V: Clone> IdMap<V> {
    fn new() -> Self {
        IdMap {
            map: ArcSwap::from_pointee(Ids::default()),
            writer: Mutex::new(()),
        }
    }

    /// Run `f` on the value with this id (no clone, no lock).
    pub(crate) fn with<R>(&self, id: i64, f: impl FnOnce(&V) -> R) -> Option<R> {
        self.map.load().get(&id).map(f)
    }

    fn get(&self, id: i64) -> Option<V> {
        self.with(id, V::clone)
    }

    fn update<R>(&self, f: impl FnOnce(&mut Ids<V>) -> R) -> R {
        let _w = vaccel_plugin::sync::lock(&self.writer);
        let mut next = Ids::clone(&self.map.load());
        let r = f(&mut next);
        self.map.store(Arc::new(next));
        r
    }
}

pub(crate) struct State {
    pub(crate) rt: Runtime,
    resources: IdMap<Resource>,
}

/// Live sessions by id. Apart from the state so that an op finds its session with one
/// lock-free load (a session holds its runtime); emptied by `vaccel_cleanup`.
static SESSIONS: LazyLock<IdMap<Session>> = LazyLock::new(IdMap::new);

static STATE: ArcSwapOption<State> = ArcSwapOption::const_empty();
static STATE_INIT: Mutex<()> = Mutex::new(());

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(msg: String) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

fn build_state() -> CResult<State> {
    Ok(State {
        rt: vaccel_builtins::runtime_from_env()?,
        resources: IdMap::new(),
    })
}

/// The library state, started on first use.
pub(crate) fn state() -> CResult<Arc<State>> {
    if let Some(s) = STATE.load_full() {
        return Ok(s);
    }
    let _init = vaccel_plugin::sync::lock(&STATE_INIT);
    if let Some(s) = STATE.load_full() {
        return Ok(s);
    }
    let s = Arc::new(build_state()?);
    STATE.store(Some(s.clone()));
    Ok(s)
}

/// Run an entry point's body: errors become codes (message kept and logged), panics
/// become `VACCEL_EFAULT` and never cross into C.
pub(crate) fn guard(func: &str, f: impl FnOnce() -> CResult) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => code::OK,
        Ok(Err(e)) => {
            let msg = format!("{func}: {e}");
            tracing::error!("{msg}");
            set_last_error(msg);
            e.code()
        }
        Err(_) => {
            let msg = format!("{func}: internal error (panic); please report it");
            tracing::error!("{msg}");
            set_last_error(msg);
            code::EFAULT
        }
    }
}

/// Like [`guard`] for functions that return a value instead of a code.
pub(crate) fn guard_value<T>(func: &str, fallback: T, f: impl FnOnce() -> CResult<T>) -> T {
    let mut out = None;
    guard(func, || {
        out = Some(f()?);
        Ok(())
    });
    out.unwrap_or(fallback)
}

pub(crate) fn null(what: &str) -> Error {
    Error::Invalid(format!("{what} is NULL"))
}

/// Borrow a C object, refusing NULL.
///
/// # Safety
/// A non-null `p` must point to a valid `T` for `'a` (C API contract).
pub(crate) unsafe fn obj<'a, T>(p: *const T, what: &str) -> CResult<&'a T> {
    // SAFETY: non-null pointers are valid per the contract.
    unsafe { p.as_ref() }.ok_or_else(|| null(what))
}

/// Mutably borrow a C object, refusing NULL.
///
/// # Safety
/// A non-null `p` must point to a valid, exclusively borrowed `T` for `'a`.
pub(crate) unsafe fn obj_mut<'a, T>(p: *mut T, what: &str) -> CResult<&'a mut T> {
    // SAFETY: non-null pointers are valid and exclusive per the contract.
    unsafe { p.as_mut() }.ok_or_else(|| null(what))
}

/// A C string argument, refusing NULL and non-UTF-8.
///
/// # Safety
/// A non-null `p` must point to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn c_str<'a>(p: *const c_char, what: &str) -> CResult<&'a str> {
    if p.is_null() {
        return Err(null(what));
    }
    // SAFETY: non-null and NUL-terminated per the contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| Error::Invalid(format!("{what} is not UTF-8")))
}

impl State {
    pub(crate) fn session(&self, sess: &CSession) -> CResult<Session> {
        SESSIONS.get(sess.id).ok_or(Error::NotFound {
            what: "session",
            id: sess.id,
        })
    }

    pub(crate) fn resource(&self, res: &CResource) -> CResult<Resource> {
        self.resources.get(res.id).ok_or(Error::NotFound {
            what: "resource",
            id: res.id,
        })
    }
}

/// Run `f` on the session behind a C pointer, without cloning or locking.
///
/// # Safety
/// `sess` is NULL or points to a valid `struct vaccel_session`.
pub(crate) unsafe fn with_session(
    sess: *const CSession,
    f: impl FnOnce(&Session) -> CResult,
) -> CResult {
    // SAFETY: per the contract.
    let id = unsafe { obj(sess, "sess") }?.id;
    // A `match`, not `unwrap_or`: an unused error value costs its drop on every call.
    match SESSIONS.with(id, f) {
        Some(r) => r,
        None => Err(Error::NotFound {
            what: "session",
            id,
        }),
    }
}

/// Look up the session behind a C pointer.
///
/// # Safety
/// `sess` is NULL or points to a valid `struct vaccel_session`.
pub(crate) unsafe fn session_of(sess: *const CSession) -> CResult<Session> {
    // SAFETY: per the contract.
    let s = unsafe { obj(sess, "sess") }?;
    state()?.session(s)
}

#[unsafe(no_mangle)]
pub extern "C" fn vaccel_bootstrap() -> c_int {
    guard("vaccel_bootstrap", || state().map(|_| ()))
}

#[unsafe(no_mangle)]
pub extern "C" fn vaccel_cleanup() -> c_int {
    guard("vaccel_cleanup", || {
        let _init = vaccel_plugin::sync::lock(&STATE_INIT);
        if let Some(st) = STATE.swap(None) {
            let sessions: Vec<Session> = SESSIONS.update(|m| m.drain().map(|(_, s)| s).collect());
            for s in sessions {
                let _ = s.release();
            }
            st.resources.update(Ids::clear);
        }
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn vaccel_is_initialized() -> bool {
    STATE.load().is_some()
}

#[unsafe(no_mangle)]
pub extern "C" fn vaccel_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

#[unsafe(no_mangle)]
pub extern "C" fn vaccel_op_type_to_str(op: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        OpType::ALL
            .iter()
            .map(|o| CString::new(o.name()).expect("no NUL in op names"))
            .collect()
    });
    match names.get(op as usize) {
        Some(n) => n.as_ptr(),
        None => c"unknown".as_ptr(),
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn vaccel_log_enabled(level: c_int) -> bool {
    guard_value("vaccel_log_enabled", false, || {
        Ok(level >= 1 && (level as u32) <= state()?.rt.config().log_level)
    })
}

/// # Safety
/// `msg` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_log_write(level: c_int, msg: *const c_char) {
    guard("vaccel_log_write", || {
        state()?;
        if msg.is_null() {
            return Ok(());
        }
        // SAFETY: non-null, NUL-terminated per the contract.
        let text = unsafe { CStr::from_ptr(msg) }.to_string_lossy();
        match level {
            1 => tracing::error!(target: "vaccel::app", "{text}"),
            2 => tracing::warn!(target: "vaccel::app", "{text}"),
            3 => tracing::info!(target: "vaccel::app", "{text}"),
            _ => tracing::debug!(target: "vaccel::app", "{text}"),
        }
        Ok(())
    });
}

// ---- sessions ---------------------------------------------------------------------

/// # Safety
/// `sess` is NULL or points to a writable `struct vaccel_session`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_session_init(sess: *mut CSession, flags: u32) -> c_int {
    guard("vaccel_session_init", || {
        // SAFETY: per the contract.
        session_init(unsafe { obj_mut(sess, "sess") }?, flags)
    })
}

fn session_init(s: &mut CSession, flags: u32) -> CResult {
    let st = state()?;
    let session = Session::new(&st.rt, flags)?;
    s.id = session.id();
    s.remote_id = 0;
    s.hint = flags;
    s.priv_ = std::ptr::null_mut();
    SESSIONS.update(|m| m.insert(session.id(), session));
    Ok(())
}

/// # Safety
/// `sess` is NULL or points to a `struct vaccel_session`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_session_release(sess: *mut CSession) -> c_int {
    guard("vaccel_session_release", || {
        // SAFETY: per the contract.
        session_release(unsafe { obj_mut(sess, "sess") }?)
    })
}

/// Take the session out of the map (so a second release is "not found") and release it.
fn session_release(s: &mut CSession) -> CResult {
    let session = SESSIONS
        .update(|m| m.remove(&s.id))
        .ok_or(Error::NotFound {
            what: "session",
            id: s.id,
        })?;
    s.id = 0;
    session.release()
}

/// # Safety
/// `sess` is NULL or points to a writable `struct vaccel_session *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_session_new(sess: *mut *mut CSession, flags: u32) -> c_int {
    guard("vaccel_session_new", || {
        // SAFETY: per the contract.
        let out = unsafe { obj_mut(sess, "sess") }?;
        // SAFETY: calloc returns zeroed memory or NULL.
        let p = unsafe { libc::calloc(1, size_of::<CSession>()) }.cast::<CSession>();
        // SAFETY: fresh, zeroed, exclusive (or NULL, refused).
        let s = unsafe { obj_mut(p, "allocation") }
            .map_err(|_| Error::Invalid("out of memory".into()))?;
        if let Err(e) = session_init(s, flags) {
            // SAFETY: allocated above with calloc, not published.
            unsafe { libc::free(p.cast()) };
            return Err(e);
        }
        *out = p;
        Ok(())
    })
}

/// # Safety
/// `sess` is NULL or was returned by `vaccel_session_new` and not yet deleted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_session_delete(sess: *mut CSession) -> c_int {
    guard("vaccel_session_delete", || {
        // SAFETY: per the contract.
        let result = session_release(unsafe { obj_mut(sess, "sess") }?);
        if matches!(result, Err(Error::NotFound { .. })) {
            // Not a live session: never free memory we cannot vouch for.
            return result;
        }
        // SAFETY: allocated by vaccel_session_new with calloc; it was live (found above).
        unsafe { libc::free(sess.cast()) };
        result
    })
}

/// # Safety
/// Both are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_session_has_resource(
    sess: *const CSession,
    res: *const CResource,
) -> bool {
    guard_value("vaccel_session_has_resource", false, || {
        // SAFETY: per the contract.
        let s = unsafe { session_of(sess) }?;
        // SAFETY: per the contract.
        let r = unsafe { obj(res, "res") }?;
        Ok(s.resources().iter().any(|x| x.id() == r.id))
    })
}

// ---- resources --------------------------------------------------------------------

fn resource_type(t: u32) -> CResult<ResourceType> {
    ResourceType::from_raw(t).ok_or_else(|| {
        Error::Invalid(format!(
            "resource type {t} is not LIB (0), DATA (1) or MODEL (2)"
        ))
    })
}

fn publish(res: &mut CResource, r: Resource) -> CResult {
    let st = state()?;
    res.id = r.id();
    res.remote_id = 0;
    res.type_ = r.resource_type().raw();
    res.nr_blobs = r.blobs().len();
    res.priv_ = std::ptr::null_mut();
    st.resources.update(|m| m.insert(r.id(), r));
    Ok(())
}

/// # Safety
/// `res` is NULL or writable; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_init(
    res: *mut CResource,
    path: *const c_char,
    type_: u32,
) -> c_int {
    guard("vaccel_resource_init", || {
        // SAFETY: per the contract.
        let r = unsafe { obj_mut(res, "res") }?;
        // SAFETY: per the contract.
        let path = unsafe { c_str(path, "path") }?;
        publish(r, Resource::from_path(path, resource_type(type_)?)?)
    })
}

/// # Safety
/// `res` is NULL or writable; `paths` is NULL or holds `nr_paths` strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_init_multi(
    res: *mut CResource,
    paths: *const *const c_char,
    nr_paths: usize,
    type_: u32,
) -> c_int {
    guard("vaccel_resource_init_multi", || {
        // SAFETY: per the contract.
        let r = unsafe { obj_mut(res, "res") }?;
        if paths.is_null() {
            return Err(null("paths"));
        }
        if nr_paths == 0 {
            return Err(Error::NoPaths);
        }
        // SAFETY: `paths` holds `nr_paths` pointers (contract).
        let ptrs = unsafe { std::slice::from_raw_parts(paths, nr_paths) };
        let list = ptrs
            .iter()
            .enumerate()
            // SAFETY: each is NULL or a NUL-terminated string (contract).
            .map(|(i, p)| unsafe { c_str(*p, &format!("paths[{i}]")) }.map(PathBuf::from))
            .collect::<CResult<Vec<_>>>()?;
        publish(r, Resource::from_paths(&list, resource_type(type_)?)?)
    })
}

/// # Safety
/// `res` writable; `buf` valid for `nr_bytes`; `filename` NULL or a string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_init_from_buf(
    res: *mut CResource,
    buf: *const c_void,
    nr_bytes: usize,
    type_: u32,
    filename: *const c_char,
    _mem_only: bool,
) -> c_int {
    guard("vaccel_resource_init_from_buf", || {
        // SAFETY: per the contract.
        let r = unsafe { obj_mut(res, "res") }?;
        if buf.is_null() {
            return Err(null("buf"));
        }
        // SAFETY: `buf` holds `nr_bytes` bytes (contract).
        let data = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), nr_bytes) }.to_vec();
        // SAFETY: per the contract.
        let name = if filename.is_null() {
            "buffer"
        } else {
            // SAFETY: pointers are NULL or valid for the call (C API contract).
            unsafe { c_str(filename, "filename") }?
        };
        publish(r, Resource::from_buffer(data, resource_type(type_)?, name)?)
    })
}

/// # Safety
/// `res` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_release(res: *mut CResource) -> c_int {
    guard("vaccel_resource_release", || {
        // SAFETY: per the contract.
        resource_release(unsafe { obj_mut(res, "res") }?)
    })
}

fn resource_release(r: &mut CResource) -> CResult {
    let st = state()?;
    st.resources.update(|map| {
        let found = map.get(&r.id).ok_or(Error::NotFound {
            what: "resource",
            id: r.id,
        })?;
        found.check_releasable()?;
        map.remove(&r.id);
        Ok::<(), Error>(())
    })?;
    r.id = 0;
    r.nr_blobs = 0;
    Ok(())
}

/// # Safety
/// `res` is NULL or writable; `path` NULL or a string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_new(
    res: *mut *mut CResource,
    path: *const c_char,
    type_: u32,
) -> c_int {
    guard("vaccel_resource_new", || {
        // SAFETY: per the contract.
        let out = unsafe { obj_mut(res, "res") }?;
        // SAFETY: calloc returns zeroed memory or NULL.
        let p = unsafe { libc::calloc(1, size_of::<CResource>()) }.cast::<CResource>();
        // SAFETY: checked non-null just below before use; fresh and exclusive.
        let r = unsafe { obj_mut(p, "allocation") }
            .map_err(|_| Error::Invalid("out of memory".into()))?;
        // SAFETY: per the contract.
        let made = unsafe { c_str(path, "path") }
            .and_then(|path| Resource::from_path(path, resource_type(type_)?))
            .and_then(|res| publish(r, res));
        if let Err(e) = made {
            // SAFETY: allocated above with calloc, not published.
            unsafe { libc::free(p.cast()) };
            return Err(e);
        }
        *out = p;
        Ok(())
    })
}

/// # Safety
/// `res` is NULL or came from `vaccel_resource_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_delete(res: *mut CResource) -> c_int {
    guard("vaccel_resource_delete", || {
        // SAFETY: per the contract.
        resource_release(unsafe { obj_mut(res, "res") }?)?;
        // SAFETY: allocated by vaccel_resource_new; it was live (released just now).
        unsafe { libc::free(res.cast()) };
        Ok(())
    })
}

/// # Safety
/// Both NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_register(
    res: *mut CResource,
    sess: *mut CSession,
) -> c_int {
    guard("vaccel_resource_register", || {
        // SAFETY: per the contract.
        let r = unsafe { obj(res, "res") }?;
        // SAFETY: per the contract.
        let s = unsafe { session_of(sess) }?;
        s.register(&state()?.resource(r)?)
    })
}

/// # Safety
/// Both NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_unregister(
    res: *mut CResource,
    sess: *mut CSession,
) -> c_int {
    guard("vaccel_resource_unregister", || {
        // SAFETY: per the contract.
        let r = unsafe { obj(res, "res") }?;
        // SAFETY: per the contract.
        let s = unsafe { session_of(sess) }?;
        s.unregister(&state()?.resource(r)?)
    })
}
