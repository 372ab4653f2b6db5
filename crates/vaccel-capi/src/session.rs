//! The C session functions: `struct vaccel_session` is the caller's; the session itself
//! lives in an id-keyed map (`state.rs`).

use crate::resource::CResource;
use crate::state::{CResult, SESSIONS, guard, guard_value, obj, obj_mut, session_of, state};
use std::ffi::{c_int, c_void};
use vaccel_rt::{Error, Session};

/// `struct vaccel_session` (include/vaccel/session.h).
#[repr(C)]
pub struct CSession {
    pub id: i64,
    pub remote_id: i64,
    pub hint: u32,
    pub priv_: *mut c_void,
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
