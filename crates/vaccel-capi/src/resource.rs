//! The C resource functions: `struct vaccel_resource` is the caller's; the resource itself
//! lives in an id-keyed map (`state.rs`).

use crate::session::{CListEntry, CSession};
use crate::state::{CResult, c_str, guard, null, obj_mut, session_of, state};
use std::ffi::{c_char, c_int, c_void};
use std::path::PathBuf;
use vaccel_plugin::ResourceType;
use vaccel_rt::{Error, Resource};

/// `struct vaccel_resource` (include/vaccel/resource.h): upstream's layout.
#[repr(C)]
pub struct CResource {
    pub id: i64,
    pub remote_id: i64,
    pub type_: u32,
    pub path_type: u32,
    pub paths: *mut *mut c_char,
    pub nr_paths: usize,
    pub rundir: *mut c_char,
    pub blobs: *mut *mut CBlob,
    pub nr_blobs: usize,
    pub entry: CListEntry,
    pub sessions: CListEntry,
    pub sessions_lock: [i64; 5],
    pub refcount: u32,
    pub plugin_priv: *mut c_void,
}

/// `struct vaccel_blob` (include/vaccel/blob.h): upstream's layout.
#[repr(C)]
pub struct CBlob {
    pub type_: u32,
    pub name: *mut c_char,
    pub path: *mut c_char,
    pub path_owned: bool,
    pub data: *mut u8,
    pub data_owned: bool,
    pub size: usize,
}

// Upstream's sizes and offsets on x86-64 (UPSTREAM-API.md §2).
const _: () = {
    use std::mem::offset_of;
    assert!(size_of::<CResource>() == 152);
    assert!(offset_of!(CResource, path_type) == 20);
    assert!(offset_of!(CResource, paths) == 24);
    assert!(offset_of!(CResource, rundir) == 40);
    assert!(offset_of!(CResource, blobs) == 48);
    assert!(offset_of!(CResource, nr_blobs) == 56);
    assert!(offset_of!(CResource, entry) == 64);
    assert!(offset_of!(CResource, sessions) == 80);
    assert!(offset_of!(CResource, sessions_lock) == 96);
    assert!(offset_of!(CResource, refcount) == 136);
    assert!(offset_of!(CResource, plugin_priv) == 144);
    assert!(size_of::<CBlob>() == 56);
    assert!(offset_of!(CBlob, name) == 8);
    assert!(offset_of!(CBlob, path) == 16);
    assert!(offset_of!(CBlob, path_owned) == 24);
    assert!(offset_of!(CBlob, data) == 32);
    assert!(offset_of!(CBlob, data_owned) == 40);
    assert!(offset_of!(CBlob, size) == 48);
};

const BLOB_FILE: u32 = 0;
const BLOB_BUFFER: u32 = 1;
const PATH_LOCAL_FILE: u32 = 0;
const PATH_LOCAL_DIR: u32 = 1;
const PATH_REMOTE_FILE: u32 = 2;

/// A `malloc`ed copy of `bytes` with a NUL (NULL when out of memory).
fn c_dup(bytes: &[u8]) -> *mut c_char {
    // SAFETY: allocating len + 1 bytes; checked for NULL before writing.
    let p = unsafe { libc::malloc(bytes.len() + 1) }.cast::<u8>();
    if !p.is_null() {
        // SAFETY: `p` holds len + 1 bytes; `bytes` does not overlap a fresh allocation.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
            p.add(bytes.len()).write(0);
        }
    }
    p.cast()
}

/// A `malloc`ed array of `n` pointers from `make` (NULL for none).
fn c_array<T>(n: usize, mut make: impl FnMut(usize) -> *mut T) -> CResult<*mut *mut T> {
    if n == 0 {
        return Ok(std::ptr::null_mut());
    }
    // SAFETY: calloc of n pointers (zeroed: NULL); checked for NULL before use.
    let arr = unsafe { libc::calloc(n, size_of::<*mut T>()) }.cast::<*mut T>();
    if arr.is_null() {
        return Err(Error::Invalid("out of memory".into()));
    }
    for i in 0..n {
        // SAFETY: `arr` holds n pointers.
        unsafe { arr.add(i).write(make(i)) };
    }
    Ok(arr)
}

/// The caller-visible picture of a resource: its paths and, once its data is read, its
/// blobs (names, the files they came from, their bytes — the runtime's copy, valid until
/// the release). A resource made from paths has no blobs until it is first registered,
/// as upstream's.
fn fill_c_fields(res: &mut CResource, r: &Resource) -> CResult {
    let paths = r.paths();
    res.paths = c_array(paths.len(), |i| {
        c_dup(paths[i].as_os_str().as_encoded_bytes())
    })?;
    res.nr_paths = paths.len();
    let is_url = |p: &std::path::PathBuf| {
        p.to_str()
            .is_some_and(|s| s.starts_with("http://") || s.starts_with("https://"))
    };
    res.path_type = match paths {
        _ if paths.iter().any(is_url) => PATH_REMOTE_FILE,
        [one] if one.is_dir() => PATH_LOCAL_DIR,
        _ => PATH_LOCAL_FILE,
    };
    fill_c_blobs(res, r)
}

/// Fill the blob fields once the resource's data is read (nothing before, nor twice).
pub(crate) fn fill_c_blobs(res: &mut CResource, r: &Resource) -> CResult {
    if !res.blobs.is_null() || !r.is_loaded() {
        return Ok(());
    }
    let (blobs, files) = (r.blobs(), r.blob_paths());
    res.blobs = c_array(blobs.len(), |i| {
        // SAFETY: calloc of one zeroed blob; checked for NULL before writing.
        let b = unsafe { libc::calloc(1, size_of::<CBlob>()) }.cast::<CBlob>();
        // SAFETY: fresh, exclusive, or NULL.
        if let Some(blob) = unsafe { b.as_mut() } {
            let file = files.get(i).and_then(Option::as_ref);
            *blob = CBlob {
                type_: if file.is_some() {
                    BLOB_FILE
                } else {
                    BLOB_BUFFER
                },
                name: c_dup(blobs[i].name.as_bytes()),
                path: file.map_or(std::ptr::null_mut(), |f| {
                    c_dup(f.as_os_str().as_encoded_bytes())
                }),
                path_owned: file.is_some(),
                data: blobs[i].data.as_ptr().cast_mut(),
                data_owned: false,
                size: blobs[i].data.len(),
            };
        }
        b
    })?;
    res.nr_blobs = blobs.len();
    Ok(())
}

/// Free what [`fill_c_fields`] allocated and clear the fields.
fn free_c_fields(res: &mut CResource) {
    for i in 0..res.nr_paths {
        if res.paths.is_null() {
            break;
        }
        // SAFETY: `paths` holds `nr_paths` malloc'ed strings (fill_c_fields).
        unsafe { libc::free((*res.paths.add(i)).cast()) };
    }
    for i in 0..res.nr_blobs {
        if res.blobs.is_null() {
            break;
        }
        // SAFETY: `blobs` holds `nr_blobs` calloc'ed blobs with malloc'ed strings.
        unsafe {
            let b = *res.blobs.add(i);
            if let Some(blob) = b.as_ref() {
                libc::free(blob.name.cast());
                libc::free(blob.path.cast());
            }
            libc::free(b.cast());
        }
    }
    // SAFETY: both arrays were malloc'ed by fill_c_fields (or are NULL).
    unsafe {
        libc::free(res.paths.cast());
        libc::free(res.blobs.cast());
    }
    res.paths = std::ptr::null_mut();
    res.nr_paths = 0;
    res.blobs = std::ptr::null_mut();
    res.nr_blobs = 0;
}

pub(crate) fn resource_type(t: u32) -> CResult<ResourceType> {
    ResourceType::from_raw(t).ok_or_else(|| {
        Error::Invalid(format!(
            "resource type {t} is not LIB (0), DATA (1) or MODEL (2)"
        ))
    })
}

pub(crate) fn publish(res: &mut CResource, r: Resource) -> CResult {
    let st = state()?;
    res.id = r.id();
    res.remote_id = 0;
    res.type_ = r.resource_type().raw();
    res.rundir = std::ptr::null_mut();
    res.entry.make_empty();
    res.sessions.make_empty();
    res.sessions_lock = [0; 5];
    res.refcount = 0;
    res.plugin_priv = std::ptr::null_mut();
    (res.paths, res.nr_paths, res.blobs, res.nr_blobs) =
        (std::ptr::null_mut(), 0, std::ptr::null_mut(), 0);
    if let Err(e) = fill_c_fields(res, &r) {
        free_c_fields(res);
        res.id = 0;
        return Err(e);
    }
    crate::lookup::note_resource(r.id(), res);
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
        publish(
            r,
            Resource::from_paths_deferred(&[path], resource_type(type_)?)?,
        )
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
        publish(
            r,
            Resource::from_paths_deferred(&list, resource_type(type_)?)?,
        )
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
    crate::lookup::forget_resource(r.id);
    r.id = 0;
    free_c_fields(r);
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
            .and_then(|path| Resource::from_paths_deferred(&[path], resource_type(type_)?))
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
        let r = unsafe { obj_mut(res, "res") }?;
        // SAFETY: per the contract.
        let s = unsafe { session_of(sess) }?;
        let resource = state()?.resource(r)?;
        s.register(&resource)?;
        // Its data was read at this first registration: the caller's struct shows the
        // blobs from now on.
        fill_c_blobs(r, &resource)?;
        // SAFETY: valid (just looked up); the caller's structs, updated in its call.
        let c = unsafe { obj_mut(sess, "sess") }?;
        counts(r, c, 1);
        Ok(())
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
        let r = unsafe { obj_mut(res, "res") }?;
        // SAFETY: per the contract.
        let s = unsafe { session_of(sess) }?;
        s.unregister(&state()?.resource(r)?)?;
        // SAFETY: valid (just looked up); the caller's structs, updated in its call.
        let c = unsafe { obj_mut(sess, "sess") }?;
        counts(r, c, -1);
        Ok(())
    })
}

/// Keep the caller's counters (`res->refcount`, `sess->resource_counts[type]`) in step
/// with a registration made or undone through them.
fn counts(r: &mut CResource, s: &mut CSession, by: i32) {
    r.refcount = r.refcount.saturating_add_signed(by);
    if let Some(c) = s.resource_counts.get_mut(r.type_ as usize) {
        *c = c.saturating_add_signed(by as isize);
    }
}

/// The number of sessions the resource is registered with (-1 with the error kept for
/// `vaccel_last_error()` when it is not a live resource).
///
/// # Safety
/// `res` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_resource_refcount(res: *const CResource) -> std::ffi::c_long {
    crate::state::guard_value("vaccel_resource_refcount", -1, || {
        // SAFETY: per the contract.
        let r = unsafe { crate::state::obj(res, "res") }?;
        let n = state()?.resource(r)?.sessions().len();
        Ok(std::ffi::c_long::try_from(n).unwrap_or(std::ffi::c_long::MAX))
    })
}
