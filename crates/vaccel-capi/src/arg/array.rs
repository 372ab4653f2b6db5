//! `struct vaccel_arg_array`'s lifecycle and cursor: init, release, new, delete, wrap,
//! clear, position, count.

use super::{CArgArray, array, free_owned};
use crate::state::{CResult, guard, null, obj, obj_mut};
use std::ffi::c_int;
use vaccel_plugin::abi::VaccelArg;
use vaccel_rt::Error;

/// # Safety
/// `a` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_init(
    a: *mut CArgArray,
    initial_capacity: usize,
) -> c_int {
    guard("vaccel_arg_array_init", || {
        // SAFETY: per the contract.
        let arr = unsafe { array(a) }?;
        let args = if initial_capacity == 0 {
            std::ptr::null_mut()
        } else {
            let bytes = initial_capacity
                .checked_mul(size_of::<VaccelArg>())
                .ok_or_else(|| Error::Overflow("initial_capacity".into()))?;
            // SAFETY: malloc of a non-zero size.
            let p = unsafe { libc::malloc(bytes) }.cast::<VaccelArg>();
            if p.is_null() {
                return Err(Error::Invalid("out of memory".into()));
            }
            p
        };
        *arr = CArgArray {
            args,
            count: 0,
            capacity: initial_capacity,
            position: 0,
            owned: true,
        };
        Ok(())
    })
}

fn release(arr: &mut CArgArray) -> CResult {
    if !arr.owned && arr.args.is_null() {
        return Err(Error::Invalid(
            "arg array is not initialised or was already released".into(),
        ));
    }
    for a in arr.slice() {
        free_owned(a);
    }
    if arr.owned && !arr.args.is_null() {
        // SAFETY: allocated by malloc/realloc in this module.
        unsafe { libc::free(arr.args.cast()) };
    }
    *arr = CArgArray {
        args: std::ptr::null_mut(),
        count: 0,
        capacity: 0,
        position: 0,
        owned: false,
    };
    Ok(())
}

/// # Safety
/// `a` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_release(a: *mut CArgArray) -> c_int {
    // SAFETY: per the contract.
    guard("vaccel_arg_array_release", || release(unsafe { array(a) }?))
}

/// # Safety
/// `a` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_new(
    a: *mut *mut CArgArray,
    initial_capacity: usize,
) -> c_int {
    guard("vaccel_arg_array_new", || {
        // SAFETY: per the contract.
        let out = unsafe { obj_mut(a, "array") }?;
        // SAFETY: calloc of a struct.
        let p = unsafe { libc::calloc(1, size_of::<CArgArray>()) }.cast::<CArgArray>();
        if p.is_null() {
            return Err(Error::Invalid("out of memory".into()));
        }
        // SAFETY: fresh zeroed allocation.
        let rc = unsafe { vaccel_arg_array_init(p, initial_capacity) };
        if rc != 0 {
            // SAFETY: allocated above.
            unsafe { libc::free(p.cast()) };
            return Err(Error::Invalid("could not initialise arg array".into()));
        }
        *out = p;
        Ok(())
    })
}

/// # Safety
/// `a` NULL or from `vaccel_arg_array_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_delete(a: *mut CArgArray) -> c_int {
    guard("vaccel_arg_array_delete", || {
        // SAFETY: per the contract.
        release(unsafe { array(a) }?)?;
        // SAFETY: allocated by vaccel_arg_array_new.
        unsafe { libc::free(a.cast()) };
        Ok(())
    })
}

/// # Safety
/// `a` writable; `args` NULL or valid for `count`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_wrap(
    a: *mut CArgArray,
    args: *mut VaccelArg,
    count: usize,
) -> c_int {
    guard("vaccel_arg_array_wrap", || {
        // SAFETY: per the contract.
        let arr = unsafe { array(a) }?;
        if args.is_null() && count > 0 {
            return Err(null("args"));
        }
        *arr = CArgArray {
            args,
            count,
            capacity: count,
            position: 0,
            owned: false,
        };
        Ok(())
    })
}

/// # Safety
/// `a` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_clear(a: *mut CArgArray) {
    guard("vaccel_arg_array_clear", || {
        // SAFETY: per the contract.
        let arr = unsafe { array(a) }?;
        for x in arr.slice() {
            free_owned(x);
        }
        if arr.owned {
            arr.count = 0;
        }
        arr.position = 0;
        Ok(())
    });
}

/// # Safety
/// `a` valid; outputs writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_get_remaining(
    a: *mut CArgArray,
    args: *mut *mut VaccelArg,
    count: *mut usize,
) -> c_int {
    guard("vaccel_arg_array_get_remaining", || {
        // SAFETY: per the contract (all below).
        let (out, c) = unsafe { (obj_mut(args, "args")?, obj_mut(count, "count")?) };
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let arr = unsafe { array(a) }?;
        let pos = arr.position.min(arr.count);
        *c = arr.count - pos;
        // SAFETY: pos <= count, within (or one past) the array.
        *out = if arr.args.is_null() {
            std::ptr::null_mut()
        } else {
            // SAFETY: pointers are NULL or valid for the call (C API contract).
            unsafe { arr.args.add(pos) }
        };
        arr.position = arr.count;
        Ok(())
    })
}

/// # Safety
/// `a` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_remaining_count(a: *const CArgArray) -> usize {
    // SAFETY: per the contract.
    match unsafe { obj(a, "array") } {
        Ok(arr) => arr.count.saturating_sub(arr.position),
        Err(_) => 0,
    }
}

/// # Safety
/// `a` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_position(a: *const CArgArray) -> usize {
    // SAFETY: per the contract.
    unsafe { obj(a, "array") }.map_or(0, |arr| arr.position)
}

/// # Safety
/// `a` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_set_position(a: *mut CArgArray, position: usize) {
    // SAFETY: per the contract.
    if let Ok(arr) = unsafe { array(a) } {
        arr.position = position.min(arr.count);
    }
}

/// # Safety
/// `a` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_reset_position(a: *mut CArgArray) {
    // SAFETY: per the contract.
    if let Ok(arr) = unsafe { array(a) } {
        arr.position = 0;
    }
}

/// # Safety
/// `a` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_count(a: *const CArgArray) -> usize {
    // SAFETY: per the contract.
    unsafe { obj(a, "array") }.map_or(0, |arr| arr.count)
}

/// # Safety
/// `a` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_raw(a: *mut CArgArray) -> *mut VaccelArg {
    // SAFETY: per the contract.
    unsafe { array(a) }.map_or(std::ptr::null_mut(), |arr| arr.args)
}

/// Append `count` args of `src` from `start` to `dest`: viewing the same buffers, or (with
/// `copy`) owned copies of them. `VACCEL_ERANGE` when the range is outside `src`.
///
/// # Safety
/// Both arrays NULL or valid; `src`'s buffers valid for their sizes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_add_range(
    dest: *mut CArgArray,
    src: *const CArgArray,
    start: usize,
    count: usize,
    copy: bool,
) -> c_int {
    guard("vaccel_arg_array_add_range", || {
        // SAFETY: per the contract.
        let s = unsafe { obj(src, "src") }?;
        // SAFETY: per the contract.
        let d = unsafe { array(dest) }?;
        if std::ptr::eq(s, d) {
            return Err(Error::Invalid("src and dest are the same array".into()));
        }
        let end = start
            .checked_add(count)
            .filter(|e| start < s.count && *e <= s.count);
        let Some(end) = end else {
            return Err(Error::OutOfRange(format!(
                "args {start}..{} of an array of {}",
                start.saturating_add(count),
                s.count
            )));
        };
        let taken: Vec<VaccelArg> = (start..end)
            // SAFETY: `src` holds `count` initialised args (an array's invariant).
            .map(|i| unsafe { *s.args.add(i) })
            .collect();
        for (i, a) in taken.iter().enumerate() {
            let mut arg = VaccelArg { owned: false, ..*a };
            if copy && !a.buf.is_null() {
                // SAFETY: the arg's buffer is valid for its size (contract).
                arg.buf = match unsafe { super::dup(a.buf, a.size) } {
                    Ok(p) => p,
                    Err(e) => {
                        undo(d, i);
                        return Err(e);
                    }
                };
                arg.owned = !arg.buf.is_null();
            }
            if let Err(e) = d.push(arg) {
                if arg.owned {
                    // SAFETY: just malloc'ed by dup.
                    unsafe { libc::free(arg.buf) };
                }
                undo(d, i);
                return Err(e);
            }
        }
        Ok(())
    })
}

/// Take back the last `n` args pushed by a failed `add_range`, freeing owned copies.
fn undo(d: &mut CArgArray, n: usize) {
    for _ in 0..n {
        if let Some(last) = d.pop() {
            let mut last = last;
            free_owned(&mut last);
        }
    }
}

/// Append `src`'s args from its position on (see `vaccel_arg_array_add_range`).
///
/// # Safety
/// As `vaccel_arg_array_add_range`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_add_remaining(
    dest: *mut CArgArray,
    src: *const CArgArray,
    copy: bool,
) -> c_int {
    // SAFETY: per the contract.
    let (position, count) = match unsafe { src.as_ref() } {
        Some(s) => (s.position, s.count),
        // SAFETY: per the contract (reports the NULL).
        None => return unsafe { vaccel_arg_array_add_range(dest, src, 0, 0, copy) },
    };
    if position >= count {
        return 0;
    }
    // SAFETY: per the contract.
    unsafe { vaccel_arg_array_add_range(dest, src, position, count - position, copy) }
}

/// Append all of `src`'s args (see `vaccel_arg_array_add_range`).
///
/// # Safety
/// As `vaccel_arg_array_add_range`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_add_all(
    dest: *mut CArgArray,
    src: *const CArgArray,
    copy: bool,
) -> c_int {
    // SAFETY: per the contract.
    match unsafe { src.as_ref() } {
        Some(s) if s.count == 0 => 0,
        // SAFETY: per the contract.
        Some(s) => unsafe { vaccel_arg_array_add_range(dest, src, 0, s.count, copy) },
        // SAFETY: per the contract (reports the NULL).
        None => unsafe { vaccel_arg_array_add_range(dest, src, 0, 0, copy) },
    }
}
