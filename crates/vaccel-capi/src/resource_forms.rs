//! More ways to make a resource (from blobs; the allocated `_new` forms upstream has for
//! every constructor), and what a resource was made from (`vaccel_resource_directory`),
//! and syncing one back from a remote agent.

use crate::blob::vaccel_blob_data;
use crate::resource::{CBlob, CResource, publish, resource_type};
use crate::session::CSession;
use crate::state::{CResult, guard, null, obj, obj_mut, session_of};
use std::ffi::{CStr, c_char, c_int, c_void};
use vaccel_plugin::HostBlob;
use vaccel_rt::{Error, Resource};

/// A resource from the caller's blobs (their bytes copied; read first when needed).
///
/// # Safety
/// `res` NULL or writable; `blobs` NULL or `nr` pointers to blobs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_init_from_blobs(
    res: *mut CResource,
    blobs: *const *const CBlob,
    nr: usize,
    type_: u32,
) -> c_int {
    guard("vaccel_resource_init_from_blobs", || {
        // SAFETY: per the contract.
        let r = unsafe { obj_mut(res, "res") }?;
        if blobs.is_null() || nr == 0 {
            return Err(null("blobs (or none given)"));
        }
        let mut made = Vec::with_capacity(nr);
        for i in 0..nr {
            // SAFETY: `blobs` holds `nr` pointers (contract).
            let b = unsafe { *blobs.add(i) }.cast_mut();
            // SAFETY: NULL or a blob (contract).
            let blob = unsafe { obj(b, &format!("blobs[{i}]")) }?;
            if blob.name.is_null() {
                return Err(Error::Invalid(format!("blobs[{i}] has no name")));
            }
            // SAFETY: a NUL-terminated name (blob invariant).
            let name = unsafe { CStr::from_ptr(blob.name) }
                .to_string_lossy()
                .into_owned();
            let mut size = 0usize;
            // SAFETY: a blob; reading it maps its file when needed.
            let data = unsafe { vaccel_blob_data(b, &mut size) };
            if data.is_null() {
                return Err(Error::Invalid(format!("blobs[{i}] ({name}) has no data")));
            }
            // SAFETY: the blob's data is valid for `size` bytes.
            let bytes = unsafe { std::slice::from_raw_parts(data, size) };
            made.push(HostBlob::new(name, bytes.into()));
        }
        publish(r, Resource::from_blobs(resource_type(type_)?, made)?)
    })
}

/// # Safety
/// As `vaccel_resource_init_multi`, `res` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_multi_new(
    res: *mut *mut CResource,
    paths: *const *const c_char,
    nr_paths: usize,
    type_: u32,
) -> c_int {
    // SAFETY: per the contract; a fresh zeroed resource.
    unsafe {
        crate::state::new_with("vaccel_resource_multi_new", res, |r| {
            crate::resource::vaccel_resource_init_multi(r, paths, nr_paths, type_)
        })
    }
}

/// # Safety
/// As `vaccel_resource_init_from_buf`, `res` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_from_buf(
    res: *mut *mut CResource,
    buf: *const c_void,
    nr_bytes: usize,
    type_: u32,
    filename: *const c_char,
    mem_only: bool,
) -> c_int {
    // SAFETY: per the contract; a fresh zeroed resource.
    unsafe {
        crate::state::new_with("vaccel_resource_from_buf", res, |r| {
            crate::resource::vaccel_resource_init_from_buf(
                r, buf, nr_bytes, type_, filename, mem_only,
            )
        })
    }
}

/// # Safety
/// As `vaccel_resource_init_from_blobs`, `res` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_from_blobs(
    res: *mut *mut CResource,
    blobs: *const *const CBlob,
    nr: usize,
    type_: u32,
) -> c_int {
    // SAFETY: per the contract; a fresh zeroed resource.
    unsafe {
        crate::state::new_with("vaccel_resource_from_blobs", res, |r| {
            vaccel_resource_init_from_blobs(r, blobs, nr, type_)
        })
    }
}

/// The directory a resource was made from: into `out_path` (`size` bytes) or a new
/// malloc'ed string in `*alloc_path`. `VACCEL_ENOTSUP` for one not made from a directory.
///
/// # Safety
/// `res` NULL or valid; `out_path` NULL or writable for `size`; `alloc_path` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_directory(
    res: *const CResource,
    out_path: *mut c_char,
    size: usize,
    alloc_path: *mut *mut c_char,
) -> c_int {
    guard("vaccel_resource_directory", || -> CResult {
        // SAFETY: per the contract.
        let r = unsafe { obj(res, "res") }?;
        if out_path.is_null() && alloc_path.is_null() {
            return Err(null("out_path and alloc_path"));
        }
        if r.id <= 0 {
            return Err(Error::Invalid("the resource is not initialised".into()));
        }
        if r.path_type != 1 || r.nr_paths == 0 || r.paths.is_null() {
            return Err(Error::NotOffered(
                "the resource was not made from a directory".into(),
            ));
        }
        // SAFETY: paths[0] is a malloc'ed NUL-terminated string (fill_c_fields).
        let dir = unsafe { CStr::from_ptr(*r.paths) };
        if alloc_path.is_null() {
            let bytes = dir.to_bytes_with_nul();
            if bytes.len() > size {
                return Err(Error::Invalid(format!(
                    "the directory takes {} bytes, the buffer holds {size}",
                    bytes.len()
                )));
            }
            // SAFETY: `out_path` writable for `size` ≥ len bytes (contract, checked).
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), out_path.cast::<u8>(), bytes.len())
            };
        } else {
            // SAFETY: a valid C string; checked for NULL.
            let p = unsafe { libc::strdup(dir.as_ptr()) };
            if p.is_null() {
                return Err(Error::Invalid("out of memory".into()));
            }
            // SAFETY: writable per the contract.
            unsafe { alloc_path.write(p) };
        }
        Ok(())
    })
}

/// Bring a resource's blobs up to date with what a remote agent holds. A local session's
/// resource is its own bytes already; syncing from an agent is not offered by this
/// library's protocol (`VACCEL_ENOTSUP`).
///
/// # Safety
/// Both NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_sync(res: *mut CResource, sess: *mut CSession) -> c_int {
    guard("vaccel_resource_sync", || {
        // SAFETY: per the contract.
        let r = unsafe { obj(res, "res") }?;
        // SAFETY: per the contract.
        let s = unsafe { session_of(sess) }?;
        if !s.resources().iter().any(|x| x.id() == r.id) {
            return Err(Error::NoneFound(format!(
                "resource {} is not registered with session {}",
                r.id,
                s.id()
            )));
        }
        if s.plugin().is_remote() {
            return Err(Error::NotOffered(
                "syncing a resource back from the agent is not supported".into(),
            ));
        }
        Ok(())
    })
}
