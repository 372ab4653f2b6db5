//! The C session functions: `struct vaccel_session` is the caller's; the session itself
//! lives in an id-keyed map (`state.rs`).

use crate::resource::CResource;
use crate::state::{CResult, SESSIONS, guard, guard_value, obj, obj_mut, session_of, state};
use std::ffi::{c_char, c_int, c_void};
use vaccel_rt::{Error, Session};

/// `struct vaccel_list_entry` (include/vaccel/list.h).
#[repr(C)]
pub struct CListEntry {
    pub next: *mut CListEntry,
    pub prev: *mut CListEntry,
}

impl CListEntry {
    /// An empty list: the head points to itself.
    pub(crate) fn make_empty(&mut self) {
        let me: *mut CListEntry = self;
        self.next = me;
        self.prev = me;
    }
}

/// Upstream's `PATH_MAX`, the size of `vaccel_session.rundir`.
const RUNDIR_LEN: usize = 4096;

/// `struct vaccel_session` (include/vaccel/session.h): upstream's layout.
#[repr(C)]
pub struct CSession {
    pub id: i64,
    pub remote_id: i64,
    pub hint: u32,
    pub is_virtio: bool,
    pub rundir: [c_char; RUNDIR_LEN],
    pub entry: CListEntry,
    pub resources: [CListEntry; 3],
    pub resource_counts: [usize; 3],
    pub resources_lock: [i64; 5],
    pub plugin: *mut c_void,
    pub priv_: *mut c_void,
}

// Upstream's sizes and offsets on x86-64 (UPSTREAM-API.md §2); examples/c/layouts.c checks
// the header against the same numbers.
const _: () = {
    use std::mem::offset_of;
    assert!(size_of::<CSession>() == 4264);
    assert!(offset_of!(CSession, hint) == 16);
    assert!(offset_of!(CSession, is_virtio) == 20);
    assert!(offset_of!(CSession, rundir) == 21);
    assert!(offset_of!(CSession, entry) == 4120);
    assert!(offset_of!(CSession, resources) == 4136);
    assert!(offset_of!(CSession, resource_counts) == 4184);
    assert!(offset_of!(CSession, resources_lock) == 4208);
    assert!(offset_of!(CSession, plugin) == 4248);
    assert!(offset_of!(CSession, priv_) == 4256);
};

impl CSession {
    /// An empty struct (ids 0, empty lists), boxed: a stand-in where a plugin needs one.
    pub(crate) fn zeroed() -> Box<Self> {
        let mut s = Box::new(CSession {
            id: 0,
            remote_id: 0,
            hint: 0,
            is_virtio: false,
            rundir: [0; RUNDIR_LEN],
            entry: CListEntry {
                next: std::ptr::null_mut(),
                prev: std::ptr::null_mut(),
            },
            resources: std::array::from_fn(|_| CListEntry {
                next: std::ptr::null_mut(),
                prev: std::ptr::null_mut(),
            }),
            resource_counts: [0; 3],
            resources_lock: [0; 5],
            plugin: std::ptr::null_mut(),
            priv_: std::ptr::null_mut(),
        });
        s.reset();
        s
    }

    /// Empty lists, no plugin, no private data (before a session is created in it).
    fn reset(&mut self) {
        self.entry.make_empty();
        for list in &mut self.resources {
            list.make_empty();
        }
        self.resource_counts = [0; 3];
        self.resources_lock = [0; 5];
        self.plugin = std::ptr::null_mut();
        self.priv_ = std::ptr::null_mut();
        self.remote_id = 0;
        self.is_virtio = false;
    }
}

/// Copy `text` into a C `char` array, truncated, NUL-terminated.
fn put_c_text(dst: &mut [c_char], text: &[u8]) {
    let n = text.len().min(dst.len().saturating_sub(1));
    for (d, s) in dst.iter_mut().zip(&text[..n]) {
        *d = *s as c_char;
    }
    if let Some(end) = dst.get_mut(n) {
        *end = 0;
    }
}

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
    s.reset();
    // An upstream REMOTE plugin's session_init fills the caller's struct (remote_id,
    // priv), as upstream's does.
    let target: *mut CSession = s;
    let session = crate::upstream::initialising(target, || Session::new(&st.rt, flags))?;
    let dir = crate::state::rundir().join(format!("session.{}", session.id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        let _ = session.release();
        return Err(Error::Io {
            path: dir,
            source: e,
        });
    }
    s.id = session.id();
    s.remote_id = session.remote_id();
    s.hint = flags;
    s.is_virtio = session.plugin().is_remote();
    put_c_text(&mut s.rundir, dir.as_os_str().as_encoded_bytes());
    crate::lookup::note_session(session.id(), s);
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
    // Released while the struct is still known: a plugin's release hook is handed it.
    let released = session.release();
    crate::lookup::forget_session(s.id);
    s.id = 0;
    s.resource_counts = [0; 3];
    let dir = crate::state::rundir().join(format!("session.{}", session.id()));
    let _ = std::fs::remove_dir_all(dir);
    released
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

/// Rebind a session by a new hint, keeping its id (`VACCEL_ENOTSUP` with registered
/// resources or on a remote agent, as upstream).
///
/// # Safety
/// `sess` NULL or a live session struct.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_session_update(sess: *mut CSession, flags: u32) -> c_int {
    guard("vaccel_session_update", || {
        // SAFETY: per the contract.
        let s = unsafe { obj_mut(sess, "sess") }?;
        let old = SESSIONS.get(s.id).ok_or(Error::NotFound {
            what: "session",
            id: s.id,
        })?;
        let new = old.rebind(flags)?;
        s.hint = flags;
        s.is_virtio = new.plugin().is_remote();
        SESSIONS.update(|m| m.insert(new.id(), new));
        Ok(())
    })
}

/// Upstream's deprecated name of `vaccel_session_update`.
///
/// # Safety
/// As `vaccel_session_update`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_sess_update(sess: *mut CSession, flags: u32) -> c_int {
    // SAFETY: per the contract.
    unsafe { vaccel_session_update(sess, flags) }
}
