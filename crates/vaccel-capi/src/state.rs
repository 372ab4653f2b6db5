//! Library state (runtime + id-keyed session and resource maps), the panic/error guard
//! every entry point runs in, and the core and log functions.

use crate::resource::CResource;
use crate::session::CSession;
use arc_swap::{ArcSwap, ArcSwapOption};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use vaccel_plugin::{OpType, code};
use vaccel_rt::{Error, Resource, Runtime, Session};

pub(crate) type CResult<T = ()> = Result<T, Error>;

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

    /// `f` of every value.
    pub(crate) fn with_all<R>(&self, f: impl FnMut(&V) -> R) -> Vec<R> {
        self.map.load().values().map(f).collect()
    }

    pub(crate) fn get(&self, id: i64) -> Option<V> {
        self.with(id, V::clone)
    }

    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut Ids<V>) -> R) -> R {
        let _w = vaccel_plugin::sync::lock(&self.writer);
        let mut next = Ids::clone(&self.map.load());
        let r = f(&mut next);
        self.map.store(Arc::new(next));
        r
    }
}

pub(crate) struct State {
    pub(crate) rt: Runtime,
    /// Shared by the states `vaccel_plugin_load` makes from this one.
    pub(crate) resources: Arc<IdMap<Resource>>,
}

/// Live sessions by id. Apart from the state so that an op finds its session with one
/// lock-free load (a session holds its runtime); emptied by `vaccel_cleanup`.
pub(crate) static SESSIONS: LazyLock<IdMap<Session>> = LazyLock::new(IdMap::new);

static STATE: ArcSwapOption<State> = ArcSwapOption::const_empty();
static STATE_INIT: Mutex<()> = Mutex::new(());

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(msg: String) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

fn build_state(config: Option<vaccel_rt::Config>) -> CResult<State> {
    let config = match config {
        Some(c) => c,
        None => vaccel_builtins::config_from_env(),
    };
    LOG_LEVEL.store(config.log_level, Ordering::Release);
    crate::upstream::install();
    crate::upstream::set_version_ignore(config.version_ignore);
    let rt = vaccel_builtins::runtime_with(config)?;
    crate::config::publish(rt.config());
    let dir = rundir();
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_owned(),
        source,
    })?;
    Ok(State {
        rt,
        resources: Arc::new(IdMap::new()),
    })
}

/// Load more plugins into the running library (`vaccel_plugin_load`): sessions created
/// from now on can use them; the library starts first if it has not.
pub(crate) fn load_plugins(entries: &[String]) -> CResult {
    let current = state()?;
    let _init = vaccel_plugin::sync::lock(&STATE_INIT);
    // The state in force now (another thread may have loaded plugins meanwhile).
    let current = STATE.load_full().unwrap_or(current);
    let rt = current.rt.with_plugins(entries)?;
    STATE.store(Some(Arc::new(State {
        rt,
        resources: current.resources.clone(),
    })));
    Ok(())
}

/// This process's run-time directory, as upstream lays it out:
/// `$XDG_RUNTIME_DIR/vaccel/<random>` (else `/run/user/<uid>/vaccel/<random>`, else under
/// the temporary directory), holding `session.<id>/` directories. Chosen once per
/// process; created at bootstrap, removed at cleanup.
pub(crate) fn rundir() -> &'static std::path::Path {
    &run_dirs().0
}

fn run_dirs() -> &'static (PathBuf, CString) {
    static DIR: OnceLock<(PathBuf, CString)> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .or_else(|| {
                // SAFETY: getuid has no preconditions and cannot fail.
                let uid = unsafe { libc::getuid() };
                Some(PathBuf::from(format!("/run/user/{uid}"))).filter(|p| p.is_dir())
            })
            .unwrap_or_else(std::env::temp_dir);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tag = format!("{:08x}{:06x}", nanos, std::process::id() & 0xff_ffff);
        let dir = base.join("vaccel").join(tag);
        let c = CString::new(dir.as_os_str().as_encoded_bytes()).unwrap_or_default();
        (dir, c)
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
    let s = Arc::new(build_state(None)?);
    STATE.store(Some(s.clone()));
    Ok(s)
}

/// Start the library with `config` (a running library is cleaned up first, as upstream's
/// `vaccel_bootstrap_with_config` reloads).
pub(crate) fn bootstrap_with(config: vaccel_rt::Config) -> CResult {
    let _init = vaccel_plugin::sync::lock(&STATE_INIT);
    cleanup_locked();
    let s = Arc::new(build_state(Some(config))?);
    STATE.store(Some(s));
    Ok(())
}

/// Release everything the program left behind (`STATE_INIT` held).
fn cleanup_locked() {
    if let Some(st) = STATE.swap(None) {
        let sessions: Vec<Session> = SESSIONS.update(|m| m.drain().map(|(_, s)| s).collect());
        for s in sessions {
            let _ = s.release();
        }
        st.resources.update(Ids::clear);
        crate::lookup::forget_all();
        let _ = std::fs::remove_dir_all(rundir());
    }
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
        cleanup_locked();
        Ok(())
    })
}

/// The process's run-time directory (see [`rundir`]); valid for the whole process.
#[unsafe(no_mangle)]
pub extern "C" fn vaccel_rundir() -> *const c_char {
    run_dirs().1.as_ptr()
}

#[unsafe(no_mangle)]
pub extern "C" fn vaccel_is_initialized() -> bool {
    STATE.load().is_some()
}

#[unsafe(no_mangle)]
pub extern "C" fn vaccel_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The op's enum name (`"VACCEL_OP_BLAS_SGEMM"`, `"VACCEL_OP_MAX"` out of range), as
/// upstream's header helper returns it; programs compiled against the headers use that
/// `static inline` helper, this symbol serves binaries built against our 0.1 headers.
#[unsafe(no_mangle)]
pub extern "C" fn vaccel_op_type_to_str(op: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        OpType::ALL
            .iter()
            .map(|o| {
                CString::new(format!("VACCEL_OP_{}", o.name().to_ascii_uppercase()))
                    .expect("no NUL in op names")
            })
            .collect()
    });
    match names.get(op as usize) {
        Some(n) => n.as_ptr(),
        None => c"VACCEL_OP_MAX".as_ptr(),
    }
}

/// The log level in force, set as soon as the configuration is read — before plugins
/// load, so a plugin's `init()` can log (upstream plugins do) without waiting for the
/// library it is part of starting. `u32::MAX`: not started.
static LOG_LEVEL: AtomicU32 = AtomicU32::new(u32::MAX);

/// The log level, starting the library on first use.
fn log_level() -> CResult<u32> {
    match LOG_LEVEL.load(Ordering::Acquire) {
        u32::MAX => Ok(state()?.rt.config().log_level),
        level => Ok(level),
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn vaccel_log_enabled(level: c_int) -> bool {
    guard_value("vaccel_log_enabled", false, || {
        Ok(level >= 1 && (level as u32) <= log_level()?)
    })
}

/// # Safety
/// `msg` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_log_write(level: c_int, msg: *const c_char) {
    guard("vaccel_log_write", || {
        log_level()?;
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

/// `_new`: a calloc'ed `T` initialised by `init` (freed again when that fails), stored in
/// `*out`.
///
/// # Safety
/// `out` NULL or writable; `init` initialises a zeroed `T` in place.
pub(crate) unsafe fn new_with<T>(
    what: &str,
    out: *mut *mut T,
    init: impl FnOnce(*mut T) -> c_int,
) -> c_int {
    if out.is_null() {
        return guard(what, || Err(null("output pointer")));
    }
    // SAFETY: calloc of one zeroed T; checked for NULL.
    let p = unsafe { libc::calloc(1, size_of::<T>()) }.cast::<T>();
    if p.is_null() {
        return guard(what, || Err(Error::Invalid("out of memory".into())));
    }
    let rc = init(p);
    if rc != 0 {
        // SAFETY: calloc'ed just above; `init` failed and kept nothing.
        unsafe { libc::free(p.cast()) };
        return rc;
    }
    // SAFETY: writable per the contract.
    unsafe { out.write(p) };
    0
}

/// `_delete`: `release` it, then free the struct `_new` allocated.
///
/// # Safety
/// `p` NULL or from the matching `_new`.
pub(crate) unsafe fn delete_with<T>(p: *mut T, release: impl FnOnce(*mut T) -> c_int) -> c_int {
    let rc = release(p);
    if rc == 0 {
        // SAFETY: from the matching `_new` (calloc), released just above.
        unsafe { libc::free(p.cast()) };
    }
    rc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exported_op_names_are_the_headers_enum_names() {
        // SAFETY: the function returns static NUL-terminated strings.
        let name = |op| unsafe { CStr::from_ptr(vaccel_op_type_to_str(op)) };
        assert_eq!(name(17).to_str().unwrap(), "VACCEL_OP_BLAS_SGEMM");
        assert_eq!(name(21).to_str().unwrap(), "VACCEL_OP_FPGA_VECTORADD");
        assert_eq!(name(99).to_str().unwrap(), "VACCEL_OP_MAX");
    }
}
