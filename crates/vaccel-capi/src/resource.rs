//! The C resource functions: `struct vaccel_resource` is the caller's; the resource itself
//! lives in an id-keyed map (`state.rs`).

use crate::session::CSession;
use crate::state::{CResult, c_str, guard, null, obj, obj_mut, session_of, state};
use std::ffi::{c_char, c_int, c_void};
use std::path::PathBuf;
use vaccel_plugin::ResourceType;
use vaccel_rt::{Error, Resource};

/// `struct vaccel_resource` (include/vaccel/resource.h).
#[repr(C)]
pub struct CResource {
    pub id: i64,
    pub remote_id: i64,
    pub type_: u32,
    pub nr_blobs: usize,
    pub priv_: *mut c_void,
}

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
