//! String helpers of the C API (`vaccel/utils/str.h`).

use crate::state::{guard, null};
use std::ffi::{CStr, c_char, c_int};

/// # Safety
/// `s` NULL or a NUL-terminated string; `lower` NULL or writable for `size` bytes;
/// `alloc_lower` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_str_to_lower(
    s: *const c_char,
    lower: *mut c_char,
    size: usize,
    alloc_lower: *mut *mut c_char,
) -> c_int {
    guard("vaccel_str_to_lower", || {
        if s.is_null() {
            return Err(null("str"));
        }
        // SAFETY: non-NULL and NUL-terminated (contract).
        let text = unsafe { CStr::from_ptr(s) }.to_bytes();
        let (dst, n) = if alloc_lower.is_null() {
            if lower.is_null() || size == 0 {
                return Err(null("lower (or its size)"));
            }
            (lower, text.len().min(size - 1))
        } else {
            // SAFETY: allocating len + 1 bytes; checked for NULL below.
            let p = unsafe { libc::malloc(text.len() + 1) }.cast::<c_char>();
            if p.is_null() {
                return Err(vaccel_rt::Error::Invalid("out of memory".into()));
            }
            // SAFETY: writable per the contract.
            unsafe { alloc_lower.write(p) };
            (p, text.len())
        };
        for (i, c) in text[..n].iter().enumerate() {
            // SAFETY: `dst` holds at least n + 1 bytes (checked above).
            unsafe { dst.add(i).write(c.to_ascii_lowercase() as c_char) };
        }
        // SAFETY: as above.
        unsafe { dst.add(n).write(0) };
        Ok(())
    })
}
