//! `struct vaccel_arg` and `struct vaccel_arg_array` helpers (include/vaccel/arg.h).
//!
//! They work on the caller's structs in place and touch no runtime state, so exec'd
//! functions can use them in any process that links libvaccel. Memory the API allocates
//! (array storage, copied or serialized buffers) comes from `malloc` and is freed by the
//! matching release.

use crate::state::{CResult, guard, null, obj_mut};
use std::ffi::{c_int, c_void};
use vaccel_plugin::ArgType;
use vaccel_plugin::abi::VaccelArg;
use vaccel_rt::Error;

/// `struct vaccel_arg_array`.
#[repr(C)]
pub struct CArgArray {
    args: *mut VaccelArg,
    count: usize,
    capacity: usize,
    position: usize,
    owned: bool,
}

type Validator = Option<unsafe extern "C" fn(*const c_void, usize, u32) -> bool>;
type Serializer =
    Option<unsafe extern "C" fn(*const c_void, usize, u32, *mut *mut c_void, *mut usize) -> c_int>;
type Deserializer =
    Option<unsafe extern "C" fn(*const c_void, usize, u32, usize, *mut c_void) -> c_int>;

fn free_owned(a: &mut VaccelArg) {
    if a.owned && !a.buf.is_null() {
        // SAFETY: owned buffers were allocated by this library with malloc.
        unsafe { libc::free(a.buf) };
    }
    a.buf = std::ptr::null_mut();
    a.owned = false;
}

impl CArgArray {
    fn slice(&mut self) -> &mut [VaccelArg] {
        if self.args.is_null() || self.count == 0 {
            return &mut [];
        }
        // SAFETY: `args` holds `count` initialised args (maintained by these functions, or
        // given to `wrap` by the caller).
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        unsafe { std::slice::from_raw_parts_mut(self.args, self.count) }
    }

    fn push(&mut self, arg: VaccelArg) -> CResult {
        if !self.owned && !self.args.is_null() {
            return Err(Error::Invalid("cannot add to a wrapped arg array".into()));
        }
        if self.count == self.capacity {
            let cap = self
                .capacity
                .max(4)
                .checked_mul(2)
                .ok_or_else(|| Error::Overflow("arg array".into()))?;
            let bytes = cap
                .checked_mul(size_of::<VaccelArg>())
                .ok_or_else(|| Error::Overflow("arg array".into()))?;
            // SAFETY: `args` is NULL or was allocated by malloc/realloc here.
            let p = unsafe { libc::realloc(self.args.cast(), bytes) }.cast::<VaccelArg>();
            if p.is_null() {
                return Err(Error::Invalid("out of memory growing arg array".into()));
            }
            self.args = p;
            self.capacity = cap;
            self.owned = true;
        }
        // SAFETY: count < capacity after growing; the slot is within the allocation.
        unsafe { self.args.add(self.count).write(arg) };
        self.count += 1;
        Ok(())
    }

    /// Take the last arg off (undoing a push).
    fn pop(&mut self) -> Option<VaccelArg> {
        let last = self.count.checked_sub(1)?;
        let arg = self.slice()[last];
        self.count = last;
        Some(arg)
    }

    /// The arg at `position`, checked against `ty` (None: any type), then advance.
    fn next(&mut self, ty: Option<ArgType>) -> CResult<&mut VaccelArg> {
        let pos = self.position;
        let count = self.count;
        let Some(actual) = self.slice().get(pos).map(|a| a.arg_type) else {
            return Err(Error::Invalid(format!(
                "no arg at position {pos} (array holds {count})"
            )));
        };
        if let Some(t) = ty
            && actual != t.raw()
        {
            return Err(Error::Invalid(format!(
                "arg {pos} is {}, expected {}",
                ArgType::describe_raw(actual),
                t.name()
            )));
        }
        self.position += 1;
        Ok(&mut self.slice()[pos])
    }
}

/// # Safety
/// `a` NULL or a valid, exclusive `struct vaccel_arg_array`.
unsafe fn array<'a>(a: *mut CArgArray) -> CResult<&'a mut CArgArray> {
    // SAFETY: per the contract.
    unsafe { obj_mut(a, "array") }
}

fn new_arg(buf: *mut c_void, size: usize, ty: u32, custom: u32, owned: bool) -> VaccelArg {
    VaccelArg {
        buf,
        size,
        arg_type: ty,
        custom_type_id: custom,
        owned,
    }
}

/// Copy `size` bytes into a fresh malloc'd buffer.
///
/// # Safety
/// `buf` valid for `size` bytes (or size 0).
unsafe fn dup(buf: *const c_void, size: usize) -> CResult<*mut c_void> {
    if size == 0 {
        return Ok(std::ptr::null_mut());
    }
    if buf.is_null() {
        return Err(null("buf"));
    }
    // SAFETY: malloc of a non-zero size.
    let p = unsafe { libc::malloc(size) };
    if p.is_null() {
        return Err(Error::Invalid("out of memory".into()));
    }
    // SAFETY: both valid for `size` bytes, distinct allocations.
    unsafe { std::ptr::copy_nonoverlapping(buf.cast::<u8>(), p.cast::<u8>(), size) };
    Ok(p)
}

// ---- single args ---------------------------------------------------------------

/// # Safety
/// `arg` writable; `buf` valid for `size`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_init(
    arg: *mut VaccelArg,
    buf: *const c_void,
    size: usize,
    type_: u32,
    custom_id: u32,
) -> c_int {
    guard("vaccel_arg_init", || {
        // SAFETY: per the contract.
        let a = unsafe { obj_mut(arg, "arg") }?;
        // SAFETY: per the contract.
        *a = new_arg(unsafe { dup(buf, size) }?, size, type_, custom_id, true);
        Ok(())
    })
}

/// # Safety
/// `arg` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_init_from_buf(
    arg: *mut VaccelArg,
    buf: *mut c_void,
    size: usize,
    type_: u32,
    custom_id: u32,
) -> c_int {
    guard("vaccel_arg_init_from_buf", || {
        // SAFETY: per the contract.
        let a = unsafe { obj_mut(arg, "arg") }?;
        *a = new_arg(buf, size, type_, custom_id, false);
        Ok(())
    })
}

/// # Safety
/// `arg` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_release(arg: *mut VaccelArg) -> c_int {
    guard("vaccel_arg_release", || {
        // SAFETY: per the contract.
        let a = unsafe { obj_mut(arg, "arg") }?;
        free_owned(a);
        a.size = 0;
        Ok(())
    })
}

/// # Safety
/// `arg` writable; `buf` valid for `size`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_new(
    arg: *mut *mut VaccelArg,
    buf: *const c_void,
    size: usize,
    type_: u32,
    custom_id: u32,
) -> c_int {
    guard("vaccel_arg_new", || {
        // SAFETY: per the contract.
        let out = unsafe { obj_mut(arg, "arg") }?;
        // SAFETY: per the contract.
        let data = unsafe { dup(buf, size) }?;
        // SAFETY: malloc of a struct.
        let p = unsafe { libc::malloc(size_of::<VaccelArg>()) }.cast::<VaccelArg>();
        if p.is_null() {
            // SAFETY: from dup (malloc) or NULL.
            unsafe { libc::free(data) };
            return Err(Error::Invalid("out of memory".into()));
        }
        // SAFETY: fresh allocation of the right size.
        unsafe { p.write(new_arg(data, size, type_, custom_id, true)) };
        *out = p;
        Ok(())
    })
}

/// # Safety
/// `arg` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_from_buf(
    arg: *mut *mut VaccelArg,
    buf: *mut c_void,
    size: usize,
    type_: u32,
    custom_id: u32,
) -> c_int {
    guard("vaccel_arg_from_buf", || {
        // SAFETY: per the contract.
        let out = unsafe { obj_mut(arg, "arg") }?;
        // SAFETY: malloc of a struct.
        let p = unsafe { libc::malloc(size_of::<VaccelArg>()) }.cast::<VaccelArg>();
        if p.is_null() {
            return Err(Error::Invalid("out of memory".into()));
        }
        // SAFETY: fresh allocation of the right size.
        unsafe { p.write(new_arg(buf, size, type_, custom_id, false)) };
        *out = p;
        Ok(())
    })
}

/// # Safety
/// `arg` NULL or from `vaccel_arg_new` / `vaccel_arg_from_buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_delete(arg: *mut VaccelArg) -> c_int {
    guard("vaccel_arg_delete", || {
        // SAFETY: per the contract.
        free_owned(unsafe { obj_mut(arg, "arg") }?);
        // SAFETY: allocated with malloc by _new / _from_buf.
        unsafe { libc::free(arg.cast()) };
        Ok(())
    })
}

mod array;
mod deprecated;
mod values;
