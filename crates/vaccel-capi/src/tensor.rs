//! Framework tensor and buffer helpers (include/vaccel/tensor.h): `vaccel_{torch,tf,tflite}_tensor_*`,
//! `vaccel_{torch,tf}_buffer_*`, `vaccel_tf_node_*`, `vaccel_tf_status_*`. Pure data
//! management on the caller's structs; memory the API allocates comes from `malloc`.
//!
//! Ownership (upstream's rules): `_init`/`_new` copy the dims and leave data unset;
//! `_allocate` also allocates `total_size` zeroed bytes of data, owned by the tensor;
//! `_set_data` points at the caller's data (not owned); `_take_data` hands the data and its
//! ownership to the caller; `_release`/`_delete` free the dims and owned data.

use crate::state::{CResult, c_str, guard, null, obj_mut};
use std::ffi::{c_char, c_int, c_void};
use vaccel_plugin::Tensor;
use vaccel_rt::Error;

fn oom() -> Error {
    Error::Invalid("out of memory".into())
}

/// Copy `n` dims into a fresh malloc'd array.
///
/// # Safety
/// `dims` valid for `n` elements when `n > 0`.
unsafe fn copy_dims<T: Copy>(dims: *const T, n: usize) -> CResult<*mut T> {
    if n == 0 {
        return Ok(std::ptr::null_mut());
    }
    if dims.is_null() {
        return Err(null("dims"));
    }
    let bytes = n
        .checked_mul(size_of::<T>())
        .ok_or_else(|| Error::Overflow("dims".into()))?;
    // SAFETY: malloc of a non-zero size.
    let p = unsafe { libc::malloc(bytes) }.cast::<T>();
    if p.is_null() {
        return Err(oom());
    }
    // SAFETY: both valid for `n` elements; fresh allocation does not overlap.
    unsafe { std::ptr::copy_nonoverlapping(dims, p, n) };
    Ok(p)
}

/// A framework's C tensor, convertible to and from the runtime's [`Tensor`].
pub(crate) trait CTensor: Sized {
    /// Copy out as a runtime tensor.
    ///
    /// # Safety
    /// `data` valid for `size` bytes and `dims` for `nr_dims` values.
    unsafe fn to_tensor(&self) -> Result<Tensor, String>;
    /// A new malloc'd C tensor holding a copy of `t` (owned data; free with `_delete`).
    fn from_tensor(t: &Tensor) -> CResult<*mut Self>;
    /// `_delete`: free a tensor from `from_tensor` or the framework's `_new` / `_allocate`.
    ///
    /// # Safety
    /// `t` came from one of those and is not used again.
    unsafe fn delete(t: *mut Self);
}

// dtype numbers: upstream's enums (include/vaccel/ops/*.h), one table each in
// vaccel_plugin::tensor::framework.
use vaccel_plugin::tensor::framework::{tf, tf_code, tflite, tflite_code, torch, torch_code};

macro_rules! tensor_api {
    ($fw:ident, $T:ident, $nr:ty, $dim:ty, $to_dtype:ident, $to_code:ident) => {
        paste::paste! {
            /// The C tensor struct (layout in include/vaccel/tensor.h).
            #[repr(C)]
            pub struct $T {
                data: *mut c_void,
                size: usize,
                owned: bool,
                nr_dims: $nr,
                dims: *mut $dim,
                data_type: c_int,
            }

            impl CTensor for $T {
                unsafe fn to_tensor(&self) -> Result<Tensor, String> {
                    let dtype = $to_dtype(self.data_type).ok_or_else(|| {
                        format!("{} data type {} is not supported", stringify!($fw), self.data_type)
                    })?;
                    let n = usize::try_from(self.nr_dims).map_err(|_| format!("nr_dims is negative ({})", self.nr_dims))?;
                    if n > 0 && self.dims.is_null() {
                        return Err("dims is NULL".into());
                    }
                    if self.size > 0 && self.data.is_null() {
                        return Err("data is NULL".into());
                    }
                    let dims: Vec<i64> = if n == 0 {
                        Vec::new()
                    } else {
                        // SAFETY: `dims` holds `nr_dims` values (contract).
                        unsafe { std::slice::from_raw_parts(self.dims, n) }.iter().map(|d| i64::from(*d)).collect()
                    };
                    let data = if self.size == 0 {
                        Vec::new()
                    } else {
                        // SAFETY: `data` holds `size` bytes (contract).
                        unsafe { std::slice::from_raw_parts(self.data.cast::<u8>(), self.size) }.to_vec()
                    };
                    Tensor::new(dtype, dims, data)
                }

                fn from_tensor(t: &Tensor) -> CResult<*mut Self> {
                    let code = $to_code(t.dtype).ok_or_else(|| {
                        Error::Invalid(format!("output element type {} has no {} equivalent", t.dtype, stringify!($fw)))
                    })?;
                    let dims = t
                        .dims
                        .iter()
                        .map(|d| <$dim>::try_from(*d).map_err(|_| Error::Overflow(format!("dimension {d}"))))
                        .collect::<CResult<Vec<$dim>>>()?;
                    let nr = <$nr>::try_from(dims.len()).map_err(|_| Error::Overflow("nr_dims".into()))?;
                    let mut out = std::ptr::null_mut();
                    let tensor = [<$fw _new>](&mut out, nr, dims.as_ptr(), code)?;
                    if !t.data.is_empty() {
                        // SAFETY: malloc of a non-zero size.
                        let d = unsafe { libc::malloc(t.data.len()) };
                        if d.is_null() {
                            let _ = [<$fw _release>](tensor);
                            // SAFETY: allocated by _new.
                            unsafe { libc::free(out.cast()) };
                            return Err(oom());
                        }
                        // SAFETY: both valid for `len` bytes, distinct.
                        unsafe { std::ptr::copy_nonoverlapping(t.data.as_ptr(), d.cast::<u8>(), t.data.len()) };
                        tensor.data = d;
                        tensor.size = t.data.len();
                        tensor.owned = true;
                    }
                    Ok(out)
                }

                unsafe fn delete(t: *mut Self) {
                    // SAFETY: per this function's contract.
                    let _ = unsafe { [<vaccel_ $fw _tensor_delete>](t) };
                }
            }

            fn [<$fw _init>](t: &mut $T, nr_dims: $nr, dims: *const $dim, data_type: c_int) -> CResult {
                let n = usize::try_from(nr_dims)
                    .map_err(|_| Error::Invalid(format!("nr_dims is negative ({nr_dims})")))?;
                // SAFETY: dims valid for nr_dims elements (C API contract).
                let copy = unsafe { copy_dims(dims, n) }?;
                *t = $T { data: std::ptr::null_mut(), size: 0, owned: false, nr_dims, dims: copy, data_type };
                Ok(())
            }

            fn [<$fw _release>](t: &mut $T) -> CResult {
                if t.owned && !t.data.is_null() {
                    // SAFETY: owned data was allocated by _allocate with calloc.
                    unsafe { libc::free(t.data) };
                }
                if !t.dims.is_null() {
                    // SAFETY: dims were allocated by _init with malloc.
                    unsafe { libc::free(t.dims.cast()) };
                }
                *t = $T { data: std::ptr::null_mut(), size: 0, owned: false, nr_dims: 0, dims: std::ptr::null_mut(), data_type: 0 };
                Ok(())
            }

            fn [<$fw _new>](out: &mut *mut $T, nr_dims: $nr, dims: *const $dim, data_type: c_int) -> CResult<&'static mut $T> {
                // SAFETY: calloc of one struct.
                let p = unsafe { libc::calloc(1, size_of::<$T>()) }.cast::<$T>();
                // SAFETY: fresh, zeroed, exclusive allocation (or NULL, refused).
                let t = unsafe { p.as_mut() }.ok_or_else(oom)?;
                if let Err(e) = [<$fw _init>](t, nr_dims, dims, data_type) {
                    // SAFETY: allocated above.
                    unsafe { libc::free(p.cast()) };
                    return Err(e);
                }
                *out = p;
                Ok(t)
            }

            #[doc = concat!("`vaccel_", stringify!($fw), "_tensor_init`.")]
            /// # Safety
            /// Pointers NULL or valid (C API contract).
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn [<vaccel_ $fw _tensor_init>](tensor: *mut $T, nr_dims: $nr, dims: *const $dim, data_type: c_int) -> c_int {
                // SAFETY: per the contract.
                guard(concat!("vaccel_", stringify!($fw), "_tensor_init"), || [<$fw _init>](unsafe { obj_mut(tensor, "tensor") }?, nr_dims, dims, data_type))
            }

            #[doc = concat!("`vaccel_", stringify!($fw), "_tensor_release`.")]
            /// # Safety
            /// `tensor` NULL or valid.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn [<vaccel_ $fw _tensor_release>](tensor: *mut $T) -> c_int {
                // SAFETY: per the contract.
                guard(concat!("vaccel_", stringify!($fw), "_tensor_release"), || [<$fw _release>](unsafe { obj_mut(tensor, "tensor") }?))
            }

            #[doc = concat!("`vaccel_", stringify!($fw), "_tensor_new`.")]
            /// # Safety
            /// Pointers NULL or valid.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn [<vaccel_ $fw _tensor_new>](tensor: *mut *mut $T, nr_dims: $nr, dims: *const $dim, data_type: c_int) -> c_int {
                guard(concat!("vaccel_", stringify!($fw), "_tensor_new"), || {
                    // SAFETY: per the contract.
                    [<$fw _new>](unsafe { obj_mut(tensor, "tensor") }?, nr_dims, dims, data_type).map(|_| ())
                })
            }

            #[doc = concat!("`vaccel_", stringify!($fw), "_tensor_allocate`.")]
            /// # Safety
            /// Pointers NULL or valid.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn [<vaccel_ $fw _tensor_allocate>](tensor: *mut *mut $T, nr_dims: $nr, dims: *const $dim, data_type: c_int, total_size: usize) -> c_int {
                guard(concat!("vaccel_", stringify!($fw), "_tensor_allocate"), || {
                    // SAFETY: per the contract.
                    let out = unsafe { obj_mut(tensor, "tensor") }?;
                    let t = [<$fw _new>](out, nr_dims, dims, data_type)?;
                    if total_size > 0 {
                        // SAFETY: calloc of a non-zero size.
                        let d = unsafe { libc::calloc(1, total_size) };
                        if d.is_null() {
                            let _ = [<$fw _release>](t);
                            // SAFETY: allocated by _new above.
                            unsafe { libc::free((*out).cast()) };
                            *out = std::ptr::null_mut();
                            return Err(oom());
                        }
                        t.data = d;
                        t.size = total_size;
                        t.owned = true;
                    }
                    Ok(())
                })
            }

            #[doc = concat!("`vaccel_", stringify!($fw), "_tensor_delete`.")]
            /// # Safety
            /// `tensor` NULL or from `_new` / `_allocate`.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn [<vaccel_ $fw _tensor_delete>](tensor: *mut $T) -> c_int {
                guard(concat!("vaccel_", stringify!($fw), "_tensor_delete"), || {
                    // SAFETY: per the contract.
                    [<$fw _release>](unsafe { obj_mut(tensor, "tensor") }?)?;
                    // SAFETY: allocated by _new with calloc.
                    unsafe { libc::free(tensor.cast()) };
                    Ok(())
                })
            }

            #[doc = concat!("`vaccel_", stringify!($fw), "_tensor_set_data`.")]
            /// # Safety
            /// `tensor` NULL or valid; `data` valid for `size` while the tensor uses it.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn [<vaccel_ $fw _tensor_set_data>](tensor: *mut $T, data: *mut c_void, size: usize) -> c_int {
                guard(concat!("vaccel_", stringify!($fw), "_tensor_set_data"), || {
                    // SAFETY: per the contract.
                    let t = unsafe { obj_mut(tensor, "tensor") }?;
                    if data.is_null() && size > 0 {
                        return Err(null("data"));
                    }
                    if t.owned && !t.data.is_null() && t.data != data {
                        // SAFETY: owned data was allocated by _allocate.
                        unsafe { libc::free(t.data) };
                    }
                    t.data = data;
                    t.size = size;
                    t.owned = false;
                    Ok(())
                })
            }

            #[doc = concat!("`vaccel_", stringify!($fw), "_tensor_take_data`.")]
            /// # Safety
            /// Pointers NULL or valid.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn [<vaccel_ $fw _tensor_take_data>](tensor: *mut $T, data: *mut *mut c_void, size: *mut usize) -> c_int {
                guard(concat!("vaccel_", stringify!($fw), "_tensor_take_data"), || {
                    // SAFETY: per the contract (all three).
                    let (t, d, s) = unsafe { (obj_mut(tensor, "tensor")?, obj_mut(data, "data")?, obj_mut(size, "size")?) };
                    *d = t.data;
                    *s = t.size;
                    t.data = std::ptr::null_mut();
                    t.size = 0;
                    t.owned = false;
                    Ok(())
                })
            }
        }
    };
}

tensor_api!(torch, TorchTensor, i64, i64, torch, torch_code);
tensor_api!(tf, TfTensor, c_int, i64, tf, tf_code);
tensor_api!(tflite, TfliteTensor, c_int, i32, tflite, tflite_code);

macro_rules! buffer_api {
    ($fw:ident, $B:ident, $dt:ty) => {
        paste::paste! {
            /// The C buffer struct (`{ data, size }`).
            #[repr(C)]
            pub struct $B {
                data: *mut $dt,
                size: usize,
            }

            fn [<$fw _buffer_release>](b: &mut $B) {
                if !b.data.is_null() {
                    // SAFETY: _init takes ownership of malloc'd data (upstream contract).
                    unsafe { libc::free(b.data.cast()) };
                }
                b.data = std::ptr::null_mut();
                b.size = 0;
            }

            #[doc = concat!("`vaccel_", stringify!($fw), "_buffer_init`: takes ownership of malloc'd `data`.")]
            /// # Safety
            /// `buffer` NULL or writable; `data` NULL or malloc'd.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn [<vaccel_ $fw _buffer_init>](buffer: *mut $B, data: *mut $dt, size: usize) -> c_int {
                guard(concat!("vaccel_", stringify!($fw), "_buffer_init"), || {
                    // SAFETY: per the contract.
                    *unsafe { obj_mut(buffer, "buffer") }? = $B { data, size };
                    Ok(())
                })
            }

            #[doc = concat!("`vaccel_", stringify!($fw), "_buffer_release`: frees the data.")]
            /// # Safety
            /// `buffer` NULL or valid.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn [<vaccel_ $fw _buffer_release>](buffer: *mut $B) -> c_int {
                guard(concat!("vaccel_", stringify!($fw), "_buffer_release"), || {
                    // SAFETY: per the contract.
                    [<$fw _buffer_release>](unsafe { obj_mut(buffer, "buffer") }?);
                    Ok(())
                })
            }

            #[doc = concat!("`vaccel_", stringify!($fw), "_buffer_new`.")]
            /// # Safety
            /// `buffer` NULL or writable; `data` NULL or malloc'd.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn [<vaccel_ $fw _buffer_new>](buffer: *mut *mut $B, data: *mut $dt, size: usize) -> c_int {
                guard(concat!("vaccel_", stringify!($fw), "_buffer_new"), || {
                    // SAFETY: per the contract.
                    let out = unsafe { obj_mut(buffer, "buffer") }?;
                    // SAFETY: malloc of one struct.
                    let p = unsafe { libc::malloc(size_of::<$B>()) }.cast::<$B>();
                    if p.is_null() {
                        return Err(oom());
                    }
                    // SAFETY: fresh allocation of the right size.
                    unsafe { p.write($B { data, size }) };
                    *out = p;
                    Ok(())
                })
            }

            #[doc = concat!("`vaccel_", stringify!($fw), "_buffer_delete`.")]
            /// # Safety
            /// `buffer` NULL or from `_new`.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn [<vaccel_ $fw _buffer_delete>](buffer: *mut $B) -> c_int {
                guard(concat!("vaccel_", stringify!($fw), "_buffer_delete"), || {
                    // SAFETY: per the contract.
                    [<$fw _buffer_release>](unsafe { obj_mut(buffer, "buffer") }?);
                    // SAFETY: allocated by _new with malloc.
                    unsafe { libc::free(buffer.cast()) };
                    Ok(())
                })
            }

            #[doc = concat!("`vaccel_", stringify!($fw), "_buffer_take_data`: the caller now owns the data.")]
            /// # Safety
            /// Pointers NULL or valid.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn [<vaccel_ $fw _buffer_take_data>](buffer: *mut $B, data: *mut *mut c_void, size: *mut usize) -> c_int {
                guard(concat!("vaccel_", stringify!($fw), "_buffer_take_data"), || {
                    // SAFETY: per the contract (all three).
                    let (b, d, s) = unsafe { (obj_mut(buffer, "buffer")?, obj_mut(data, "data")?, obj_mut(size, "size")?) };
                    *d = b.data.cast();
                    *s = b.size;
                    b.data = std::ptr::null_mut();
                    b.size = 0;
                    Ok(())
                })
            }
        }
    };
}

buffer_api!(torch, TorchBuffer, c_char);
buffer_api!(tf, TfBuffer, c_void);

/// `struct vaccel_tf_node`.
#[repr(C)]
pub struct TfNode {
    name: *mut c_char,
    id: c_int,
}

impl TfNode {
    /// A node naming `name` (borrowed: the caller keeps it alive and frees it).
    pub(crate) fn borrowing(name: &std::ffi::CStr, id: c_int) -> Self {
        TfNode {
            name: name.as_ptr().cast_mut(),
            id,
        }
    }

    /// The node as the runtime carries it.
    ///
    /// # Safety
    /// `name` NULL or a NUL-terminated string.
    pub(crate) unsafe fn to_node(&self) -> Result<vaccel_plugin::nodes::Node, String> {
        if self.name.is_null() {
            return Err("its name is NULL".into());
        }
        // SAFETY: per the contract.
        let name = unsafe { std::ffi::CStr::from_ptr(self.name) }
            .to_str()
            .map_err(|_| "its name is not UTF-8".to_string())?;
        Ok(vaccel_plugin::nodes::Node {
            name: name.to_owned(),
            id: self.id,
        })
    }
}

/// `struct vaccel_tf_status`.
#[repr(C)]
pub struct TfStatus {
    code: u8,
    message: *mut c_char,
}

/// `vaccel_tf_node_init`: copies `name`.
///
/// # Safety
/// `node` NULL or writable; `name` NULL or a string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_tf_node_init(
    node: *mut TfNode,
    name: *const c_char,
    id: c_int,
) -> c_int {
    guard("vaccel_tf_node_init", || {
        // SAFETY: per the contract (both).
        let (n, _) = unsafe { (obj_mut(node, "node")?, c_str(name, "name")?) };
        // SAFETY: NUL-terminated per the contract.
        let copy = unsafe { libc::strdup(name) };
        if copy.is_null() {
            return Err(oom());
        }
        *n = TfNode { name: copy, id };
        Ok(())
    })
}

/// `vaccel_tf_node_release`.
///
/// # Safety
/// `node` NULL or initialised by `vaccel_tf_node_init`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_tf_node_release(node: *mut TfNode) -> c_int {
    guard("vaccel_tf_node_release", || {
        // SAFETY: per the contract.
        let n = unsafe { obj_mut(node, "node") }?;
        if !n.name.is_null() {
            // SAFETY: strdup'd by _init.
            unsafe { libc::free(n.name.cast()) };
        }
        *n = TfNode {
            name: std::ptr::null_mut(),
            id: 0,
        };
        Ok(())
    })
}

impl TfStatus {
    /// No code, no message: what a plugin is handed to fill.
    pub(crate) fn empty() -> Self {
        TfStatus {
            code: 0,
            message: std::ptr::null_mut(),
        }
    }

    /// The message a plugin left (freeing it), if any.
    pub(crate) fn take_message(&mut self) -> Option<String> {
        if self.message.is_null() {
            return None;
        }
        // SAFETY: a plugin sets the message with vaccel_tf_status_init (strdup'd,
        // NUL-terminated), as upstream's plugins do.
        let text = unsafe { std::ffi::CStr::from_ptr(self.message) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: as above: malloc'd by strdup, freed once here.
        unsafe { libc::free(self.message.cast()) };
        self.message = std::ptr::null_mut();
        Some(text)
    }
}

/// Set a status in place: `code`, and a malloc'd copy of `message` (or none).
///
/// # Safety
/// `message` NULL or a NUL-terminated string.
pub(crate) unsafe fn fill_tf_status(s: &mut TfStatus, code: u8, message: *const c_char) {
    s.code = code;
    s.message = if message.is_null() {
        std::ptr::null_mut()
    } else {
        // SAFETY: NUL-terminated per the contract; NULL on allocation failure is fine.
        unsafe { libc::strdup(message) }
    };
}

/// `vaccel_tf_status_init`: copies `message`.
///
/// # Safety
/// `status` NULL or writable; `message` NULL or a string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_tf_status_init(
    status: *mut TfStatus,
    code: u8,
    message: *const c_char,
) -> c_int {
    guard("vaccel_tf_status_init", || {
        // SAFETY: per the contract.
        let s = unsafe { obj_mut(status, "status") }?;
        let copy = if message.is_null() {
            std::ptr::null_mut()
        } else {
            // SAFETY: NUL-terminated per the contract.
            let c = unsafe { libc::strdup(message) };
            if c.is_null() {
                return Err(oom());
            }
            c
        };
        *s = TfStatus {
            code,
            message: copy,
        };
        Ok(())
    })
}

/// `vaccel_tf_status_release`.
///
/// # Safety
/// `status` NULL or initialised by `vaccel_tf_status_init`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_tf_status_release(status: *mut TfStatus) -> c_int {
    guard("vaccel_tf_status_release", || {
        // SAFETY: per the contract.
        let s = unsafe { obj_mut(status, "status") }?;
        if !s.message.is_null() {
            // SAFETY: strdup'd by _init.
            unsafe { libc::free(s.message.cast()) };
        }
        *s = TfStatus {
            code: 0,
            message: std::ptr::null_mut(),
        };
        Ok(())
    })
}

/// # Safety
/// `node` NULL or writable; `name` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_tf_node_new(
    node: *mut *mut TfNode,
    name: *const c_char,
    id: c_int,
) -> c_int {
    // SAFETY: per the contract; the node is a fresh zeroed struct.
    unsafe {
        crate::state::new_with("vaccel_tf_node_new", node, |n| {
            vaccel_tf_node_init(n, name, id)
        })
    }
}

/// # Safety
/// `node` NULL or from `vaccel_tf_node_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_tf_node_delete(node: *mut TfNode) -> c_int {
    // SAFETY: per the contract.
    unsafe { crate::state::delete_with(node, |n| vaccel_tf_node_release(n)) }
}

/// # Safety
/// `status` NULL or writable; `message` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_tf_status_new(
    status: *mut *mut TfStatus,
    code: u8,
    message: *const c_char,
) -> c_int {
    // SAFETY: per the contract; the status is a fresh zeroed struct.
    unsafe {
        crate::state::new_with("vaccel_tf_status_new", status, |s| {
            vaccel_tf_status_init(s, code, message)
        })
    }
}

/// # Safety
/// `status` NULL or from `vaccel_tf_status_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_tf_status_delete(status: *mut TfStatus) -> c_int {
    // SAFETY: per the contract.
    unsafe { crate::state::delete_with(status, |s| vaccel_tf_status_release(s)) }
}
