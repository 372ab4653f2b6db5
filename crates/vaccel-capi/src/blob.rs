//! Upstream's blob API (`vaccel/blob.h`): a file, a buffer, or a buffer persisted to a file
//! and mapped. The caller's `struct vaccel_blob` holds everything; no library state.

use crate::resource::CBlob;
use crate::state::{CResult, c_str, guard, guard_value, null, obj_mut};
use std::ffi::{CString, c_char, c_int, c_void};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use vaccel_rt::Error;

const FILE: u32 = 0;
const BUFFER: u32 = 1;
const MAPPED: u32 = 2;
const MAX: u32 = 3;

fn c_dup(s: &str) -> CResult<*mut c_char> {
    let c = CString::new(s).map_err(|_| Error::Invalid(format!("{s:?} contains a NUL")))?;
    // SAFETY: a valid C string; checked for NULL.
    let p = unsafe { libc::strdup(c.as_ptr()) };
    if p.is_null() {
        return Err(Error::Invalid("out of memory".into()));
    }
    Ok(p)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map_or_else(|| "blob".into(), |n| n.to_string_lossy().into_owned())
}

/// Map `len` bytes of an open file (`shared`: writes reach the file).
fn map(file: &std::fs::File, len: usize, shared: bool, path: &Path) -> CResult<*mut u8> {
    if len == 0 {
        return Err(Error::Invalid(format!("{} is empty", path.display())));
    }
    let flags = if shared {
        libc::MAP_SHARED
    } else {
        libc::MAP_PRIVATE
    };
    // SAFETY: mapping a file descriptor we hold open for `len` bytes (its size); checked
    // for MAP_FAILED.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            file.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(Error::Io {
            path: path.to_owned(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(p.cast())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// A blob of an existing file (read when its data is asked for).
///
/// # Safety
/// `blob` NULL or writable; `path` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_blob_init(blob: *mut CBlob, path: *const c_char) -> c_int {
    guard("vaccel_blob_init", || {
        // SAFETY: per the contract.
        let b = unsafe { obj_mut(blob, "blob") }?;
        // SAFETY: per the contract.
        let p = PathBuf::from(unsafe { c_str(path, "path") }?);
        if !p.is_file() {
            return Err(Error::Invalid(format!("{} is not a file", p.display())));
        }
        let name = c_dup(&file_name(&p))?;
        *b = CBlob {
            type_: FILE,
            name,
            path: c_dup(&p.to_string_lossy())?,
            path_owned: false,
            data: std::ptr::null_mut(),
            data_owned: false,
            size: 0,
        };
        Ok(())
    })
}

/// A blob of a buffer called `name`: viewed, copied (`own`), or persisted to a file in
/// `dir` (unique with `randomize`, or when the name is taken) and mapped.
///
/// # Safety
/// `blob` NULL or writable; `buf` valid for `size` bytes (for as long as the blob when
/// neither copied nor persisted); strings NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_blob_init_from_buf(
    blob: *mut CBlob,
    buf: *const u8,
    size: usize,
    own: bool,
    name: *const c_char,
    dir: *const c_char,
    randomize: bool,
) -> c_int {
    guard("vaccel_blob_init_from_buf", || {
        // SAFETY: per the contract.
        let b = unsafe { obj_mut(blob, "blob") }?;
        if buf.is_null() || size == 0 {
            return Err(null("buf (or a zero size)"));
        }
        // SAFETY: per the contract.
        let name = unsafe { c_str(name, "name") }?;
        let mut data = buf.cast_mut();
        if own && dir.is_null() {
            // SAFETY: malloc of a non-zero size; checked; `buf` valid for `size`.
            data = unsafe { libc::malloc(size) }.cast();
            if data.is_null() {
                return Err(Error::Invalid("out of memory".into()));
            }
            // SAFETY: both valid for `size` bytes, distinct.
            unsafe { std::ptr::copy_nonoverlapping(buf, data, size) };
        }
        *b = CBlob {
            type_: BUFFER,
            name: c_dup(name)?,
            path: std::ptr::null_mut(),
            path_owned: false,
            data,
            data_owned: own && dir.is_null(),
            size,
        };
        if dir.is_null() {
            return Ok(());
        }
        let fname = CString::new(name).map_err(|_| Error::Invalid("name contains a NUL".into()))?;
        // SAFETY: per the contract; `fname` lives for the call.
        let rc = unsafe { vaccel_blob_persist(b, dir, fname.as_ptr(), randomize) };
        if rc != 0 {
            // SAFETY: strdup'ed just above.
            unsafe { libc::free(b.name.cast()) };
            b.type_ = MAX;
            return Err(Error::Invalid(format!(
                "cannot persist blob {name:?} (code {rc})"
            )));
        }
        Ok(())
    })
}

/// Write the blob's bytes to a new file `filename` in `dir` (unique with `randomize`, or
/// when the name is taken) and map it: the blob becomes MAPPED and owns the file.
///
/// # Safety
/// `blob` NULL or a blob with data; `dir`, `filename` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_blob_persist(
    blob: *mut CBlob,
    dir: *const c_char,
    filename: *const c_char,
    randomize: bool,
) -> c_int {
    guard("vaccel_blob_persist", || {
        // SAFETY: per the contract.
        let b = unsafe { obj_mut(blob, "blob") }?;
        if b.data.is_null() || b.size == 0 || b.type_ >= MAX {
            return Err(Error::Invalid("the blob has no data".into()));
        }
        if !b.path.is_null() {
            return Err(Error::Exists(
                "the blob already has a file; not overwriting".into(),
            ));
        }
        // SAFETY: per the contract.
        let (dir, name) = unsafe { (c_str(dir, "dir")?, c_str(filename, "filename")?) };
        let dir = Path::new(dir);
        if !dir.is_dir() {
            return Err(Error::NoneFound(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        let (path, mut file) = create(dir, name, randomize)?;
        // SAFETY: the blob's data is valid for its size (contract).
        let bytes = unsafe { std::slice::from_raw_parts(b.data, b.size) };
        let mapped = file
            .write_all(bytes)
            .map_err(io(&path))
            .and_then(|()| map(&file, b.size, true, &path));
        let mapped = match mapped {
            Ok(m) => m,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        };
        if b.type_ == BUFFER && b.data_owned {
            // SAFETY: malloc'ed by init_from_buf (owned).
            unsafe { libc::free(b.data.cast()) };
        }
        // SAFETY: NULL or strdup'ed by this module.
        unsafe { libc::free(b.name.cast()) };
        b.name = c_dup(&file_name(&path))?;
        b.path = c_dup(&path.to_string_lossy())?;
        b.path_owned = true;
        b.data = mapped;
        b.data_owned = true;
        b.type_ = MAPPED;
        Ok(())
    })
}

/// A new file `name` in `dir`; with `randomize`, or when `name` is taken, `name.XXXXXX`.
fn create(dir: &Path, name: &str, randomize: bool) -> CResult<(PathBuf, std::fs::File)> {
    let open = |p: &Path| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(p)
    };
    if !randomize {
        let p = dir.join(name);
        match open(&p) {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                tracing::warn!("{} exists: adding a random suffix", p.display());
            }
            Err(e) => return Err(io(&p)(e)),
        }
    }
    for attempt in 0u32..100 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let p = dir.join(format!(
            "{name}.{:06x}",
            (nanos ^ attempt.wrapping_mul(0x9e37)) & 0xff_ffff
        ));
        match open(&p) {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(&p)(e)),
        }
    }
    Err(Error::Exists(format!(
        "no free name for {name} in {}",
        dir.display()
    )))
}

/// Free what the blob holds; a persisted file is removed.
///
/// # Safety
/// `blob` NULL or a blob made by these functions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_blob_release(blob: *mut CBlob) -> c_int {
    guard("vaccel_blob_release", || {
        // SAFETY: per the contract.
        let b = unsafe { obj_mut(blob, "blob") }?;
        if b.type_ >= MAX {
            return Err(Error::Invalid(
                "the blob is not initialised (or already released)".into(),
            ));
        }
        if !b.data.is_null() && b.size > 0 && b.data_owned {
            if b.type_ == MAPPED {
                // SAFETY: mapped by this module for `size` bytes.
                unsafe { libc::munmap(b.data.cast::<c_void>(), b.size) };
            } else if b.type_ == BUFFER {
                // SAFETY: malloc'ed by init_from_buf.
                unsafe { libc::free(b.data.cast()) };
            }
        }
        if !b.path.is_null() && b.path_owned {
            // SAFETY: a NUL-terminated path strdup'ed by this module.
            let p = unsafe { std::ffi::CStr::from_ptr(b.path) }
                .to_string_lossy()
                .into_owned();
            if let Err(e) = std::fs::remove_file(&p) {
                tracing::warn!("cannot remove {p}: {e}");
            }
        }
        // SAFETY: NULL or strdup'ed by this module.
        unsafe {
            libc::free(b.name.cast());
            libc::free(b.path.cast());
        }
        *b = CBlob {
            type_: MAX,
            name: std::ptr::null_mut(),
            path: std::ptr::null_mut(),
            path_owned: false,
            data: std::ptr::null_mut(),
            data_owned: false,
            size: 0,
        };
        Ok(())
    })
}

/// Map a FILE blob's file (a private mapping: writes do not reach the file).
///
/// # Safety
/// `blob` NULL or a blob.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_blob_read(blob: *mut CBlob) -> c_int {
    guard("vaccel_blob_read", || {
        // SAFETY: per the contract.
        let b = unsafe { obj_mut(blob, "blob") }?;
        if b.type_ >= MAX {
            return Err(Error::Invalid("the blob is not initialised".into()));
        }
        if !b.data.is_null() {
            return Ok(());
        }
        if b.path.is_null() {
            return Err(Error::Invalid(
                "the blob has neither data nor a file".into(),
            ));
        }
        // SAFETY: a NUL-terminated path.
        let p = PathBuf::from(
            unsafe { std::ffi::CStr::from_ptr(b.path) }
                .to_string_lossy()
                .into_owned(),
        );
        let file = std::fs::File::open(&p).map_err(io(&p))?;
        let len = file.metadata().map_err(io(&p))?.len();
        let len = usize::try_from(len).map_err(|_| Error::Overflow(p.display().to_string()))?;
        b.data = map(&file, len, false, &p)?;
        b.size = len;
        b.data_owned = true;
        b.type_ = MAPPED;
        Ok(())
    })
}

/// The blob's bytes (read first if needed), their size in `*size`; NULL on failure.
///
/// # Safety
/// `blob` NULL or a blob; `size` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_blob_data(blob: *mut CBlob, size: *mut usize) -> *mut u8 {
    // SAFETY: per the contract.
    let Some(b) = (unsafe { blob.as_mut() }) else {
        return std::ptr::null_mut();
    };
    // SAFETY: per the contract.
    if (b.data.is_null() || b.size == 0) && unsafe { vaccel_blob_read(b) } != 0 {
        return std::ptr::null_mut();
    }
    if !size.is_null() {
        // SAFETY: writable per the contract.
        unsafe { size.write(b.size) };
    }
    b.data
}

/// The blob's file (FILE or MAPPED blobs), else NULL.
///
/// # Safety
/// `blob` NULL or a blob.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_blob_path(blob: *const CBlob) -> *const c_char {
    // SAFETY: per the contract.
    match unsafe { blob.as_ref() } {
        Some(b) if b.type_ == FILE || b.type_ == MAPPED => b.path,
        _ => std::ptr::null(),
    }
}

/// Whether the blob is initialised and has a name and data or a file.
///
/// # Safety
/// `blob` NULL or a blob.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_blob_valid(blob: *const CBlob) -> bool {
    guard_value("vaccel_blob_valid", false, || {
        // SAFETY: per the contract.
        Ok(unsafe { blob.as_ref() }.is_some_and(|b| {
            b.type_ < MAX
                && !b.name.is_null()
                && (!b.path.is_null() || (!b.data.is_null() && b.size > 0))
        }))
    })
}

/// # Safety
/// As `vaccel_blob_init`, `blob` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_blob_new(blob: *mut *mut CBlob, path: *const c_char) -> c_int {
    // SAFETY: per the contract; a fresh zeroed blob.
    unsafe { crate::state::new_with("vaccel_blob_new", blob, |b| vaccel_blob_init(b, path)) }
}

/// # Safety
/// As `vaccel_blob_init_from_buf`, `blob` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_blob_from_buf(
    blob: *mut *mut CBlob,
    buf: *const u8,
    size: usize,
    own: bool,
    name: *const c_char,
    dir: *const c_char,
    randomize: bool,
) -> c_int {
    // SAFETY: per the contract; a fresh zeroed blob.
    unsafe {
        crate::state::new_with("vaccel_blob_from_buf", blob, |b| {
            vaccel_blob_init_from_buf(b, buf, size, own, name, dir, randomize)
        })
    }
}

/// # Safety
/// `blob` NULL or from `vaccel_blob_new` / `vaccel_blob_from_buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_blob_delete(blob: *mut CBlob) -> c_int {
    // SAFETY: per the contract.
    unsafe { crate::state::delete_with(blob, |p| vaccel_blob_release(p)) }
}
