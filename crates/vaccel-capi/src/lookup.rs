//! Finding the caller's structs again by id or type (upstream's `*_get_by_*`,
//! `vaccel_session_resource(s)_by_*`). The library remembers where each live session and
//! resource struct was initialised — an address it hands back and never dereferences —
//! and forgets it at the release.

use crate::resource::CResource;
use crate::session::CSession;
use crate::state::{CResult, guard, null, obj_mut, session_of, state};
use std::collections::HashMap;
use std::ffi::c_int;
use std::sync::Mutex;
use vaccel_plugin::sync::lock;
use vaccel_rt::{Error, Resource};

static SESSIONS: Mutex<Option<HashMap<i64, usize>>> = Mutex::new(None);
static RESOURCES: Mutex<Option<HashMap<i64, usize>>> = Mutex::new(None);

fn note(map: &Mutex<Option<HashMap<i64, usize>>>, id: i64, at: usize) {
    lock(map).get_or_insert_with(HashMap::new).insert(id, at);
}

fn forget(map: &Mutex<Option<HashMap<i64, usize>>>, id: i64) {
    if let Some(m) = lock(map).as_mut() {
        m.remove(&id);
    }
}

fn find(map: &Mutex<Option<HashMap<i64, usize>>>, id: i64) -> Option<usize> {
    lock(map).as_ref().and_then(|m| m.get(&id).copied())
}

pub(crate) fn note_session(id: i64, at: *const CSession) {
    note(&SESSIONS, id, at as usize);
}
pub(crate) fn forget_session(id: i64) {
    forget(&SESSIONS, id);
}
pub(crate) fn note_resource(id: i64, at: *const CResource) {
    note(&RESOURCES, id, at as usize);
}
pub(crate) fn forget_resource(id: i64) {
    forget(&RESOURCES, id);
}
/// Forget everything (`vaccel_cleanup`).
pub(crate) fn forget_all() {
    *lock(&SESSIONS) = None;
    *lock(&RESOURCES) = None;
}

/// The caller's struct of a live session, by id.
pub(crate) fn session_at(id: i64) -> Option<*mut CSession> {
    find(&SESSIONS, id).map(|a| a as *mut CSession)
}

/// The caller's struct of a live resource, by id.
pub(crate) fn resource_at_id(id: i64) -> Option<*mut CResource> {
    find(&RESOURCES, id).map(|a| a as *mut CResource)
}

fn resource_at(r: &Resource) -> Option<*mut CResource> {
    find(&RESOURCES, r.id()).map(|a| a as *mut CResource)
}

fn type_of(t: u32) -> CResult<vaccel_plugin::ResourceType> {
    vaccel_plugin::ResourceType::from_raw(t)
        .ok_or_else(|| Error::Invalid(format!("resource type {t} is out of range")))
}

/// Store `found` (the caller's structs, by address) as a `malloc`ed array the caller frees.
///
/// # Safety
/// `out` and `nr` writable.
unsafe fn put_array(
    found: Vec<*mut CResource>,
    out: *mut *mut *mut CResource,
    nr: *mut usize,
) -> CResult {
    // SAFETY: writable per the contract.
    unsafe { nr.write(found.len()) };
    if found.is_empty() {
        return Err(Error::NoneFound("no resource of that type".into()));
    }
    // SAFETY: malloc of len pointers; checked for NULL.
    let arr =
        unsafe { libc::malloc(found.len() * size_of::<*mut CResource>()) }.cast::<*mut CResource>();
    if arr.is_null() {
        return Err(Error::Invalid("out of memory".into()));
    }
    for (i, p) in found.into_iter().enumerate() {
        // SAFETY: `arr` holds that many pointers.
        unsafe { arr.add(i).write(p) };
    }
    // SAFETY: writable per the contract.
    unsafe { out.write(arr) };
    Ok(())
}

/// # Safety
/// `sess` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_session_get_by_id(sess: *mut *mut CSession, id: i64) -> c_int {
    guard("vaccel_session_get_by_id", || {
        // SAFETY: per the contract.
        let out = unsafe { obj_mut(sess, "sess") }?;
        let at = find(&SESSIONS, id).ok_or(Error::NotFound {
            what: "session",
            id,
        })?;
        *out = at as *mut CSession;
        Ok(())
    })
}

/// # Safety
/// `res` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_get_by_id(res: *mut *mut CResource, id: i64) -> c_int {
    guard("vaccel_resource_get_by_id", || {
        // SAFETY: per the contract.
        let out = unsafe { obj_mut(res, "res") }?;
        let at = find(&RESOURCES, id).ok_or(Error::NotFound {
            what: "resource",
            id,
        })?;
        *out = at as *mut CResource;
        Ok(())
    })
}

/// Live resources of a type, oldest first, by the caller's structs.
fn live_of_type(t: u32) -> CResult<Vec<*mut CResource>> {
    let t = type_of(t)?;
    let mut found: Vec<(i64, *mut CResource)> = state()?
        .resources
        .with_all(|r| (r.resource_type() == t).then(|| resource_at(r).map(|p| (r.id(), p))))
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    found.sort_by_key(|(id, _)| *id);
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// # Safety
/// `res` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_get_by_type(
    res: *mut *mut CResource,
    type_: u32,
) -> c_int {
    guard("vaccel_resource_get_by_type", || {
        // SAFETY: per the contract.
        let out = unsafe { obj_mut(res, "res") }?;
        *out = *live_of_type(type_)?
            .first()
            .ok_or_else(|| Error::NoneFound(format!("no live resource of type {type_}")))?;
        Ok(())
    })
}

/// # Safety
/// `res` and `nr` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_get_all_by_type(
    res: *mut *mut *mut CResource,
    nr: *mut usize,
    type_: u32,
) -> c_int {
    guard("vaccel_resource_get_all_by_type", || {
        if res.is_null() || nr.is_null() {
            return Err(null("res or nr_found"));
        }
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { put_array(live_of_type(type_)?, res, nr) }
    })
}

/// The caller's structs of the resources registered with a session, in registration
/// order, optionally of one type.
///
/// # Safety
/// `sess` NULL or valid.
unsafe fn registered(sess: *const CSession, t: Option<u32>) -> CResult<Vec<(i64, *mut CResource)>> {
    let t = t.map(type_of).transpose()?;
    // SAFETY: per the contract.
    let s = unsafe { session_of(sess) }?;
    Ok(s.resources()
        .iter()
        .filter(|r| t.is_none_or(|t| r.resource_type() == t))
        .filter_map(|r| resource_at(r).map(|p| (r.id(), p)))
        .collect())
}

/// # Safety
/// `sess` NULL or valid; `res` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_session_resource_by_id(
    sess: *mut CSession,
    res: *mut *mut CResource,
    id: i64,
) -> c_int {
    guard("vaccel_session_resource_by_id", || {
        // SAFETY: per the contract.
        let out = unsafe { obj_mut(res, "res") }?;
        // SAFETY: per the contract.
        let found = unsafe { registered(sess, None) }?;
        *out = found
            .into_iter()
            .find(|(rid, _)| *rid == id)
            .map(|(_, p)| p)
            .ok_or_else(|| {
                Error::NoneFound(format!("resource {id} is not registered with the session"))
            })?;
        Ok(())
    })
}

/// # Safety
/// `sess` NULL or valid; `res` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_session_resource_by_type(
    sess: *mut CSession,
    res: *mut *mut CResource,
    type_: u32,
) -> c_int {
    guard("vaccel_session_resource_by_type", || {
        // SAFETY: per the contract.
        let out = unsafe { obj_mut(res, "res") }?;
        // SAFETY: per the contract.
        let found = unsafe { registered(sess, Some(type_)) }?;
        *out = found.first().map(|(_, p)| *p).ok_or_else(|| {
            Error::NoneFound(format!(
                "no resource of type {type_} is registered with the session"
            ))
        })?;
        Ok(())
    })
}

/// # Safety
/// `sess` NULL or valid; `res`, `nr` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_session_resources_by_type(
    sess: *mut CSession,
    res: *mut *mut *mut CResource,
    nr: *mut usize,
    type_: u32,
) -> c_int {
    guard("vaccel_session_resources_by_type", || {
        if res.is_null() || nr.is_null() {
            return Err(null("resources or nr_found"));
        }
        // SAFETY: per the contract.
        let found = unsafe { registered(sess, Some(type_)) }?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { put_array(found.into_iter().map(|(_, p)| p).collect(), res, nr) }
    })
}

/// Upstream's deprecated name of `vaccel_session_has_resource`.
///
/// # Safety
/// As `vaccel_session_has_resource`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_sess_has_resource(
    sess: *mut CSession,
    res: *mut CResource,
) -> bool {
    // SAFETY: per the contract.
    unsafe { crate::session::vaccel_session_has_resource(sess, res) }
}

/// Upstream's deprecated name of `vaccel_session_init`.
///
/// # Safety
/// As `vaccel_session_init`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_sess_init(sess: *mut CSession, flags: u32) -> c_int {
    // SAFETY: per the contract.
    unsafe { crate::session::vaccel_session_init(sess, flags) }
}

/// Upstream's deprecated name of `vaccel_session_release`.
///
/// # Safety
/// As `vaccel_session_release`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_sess_free(sess: *mut CSession) -> c_int {
    // SAFETY: per the contract.
    unsafe { crate::session::vaccel_session_release(sess) }
}
