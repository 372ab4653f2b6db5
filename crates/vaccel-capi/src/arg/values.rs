//! Adding, reading and replacing a `struct vaccel_arg_array`'s values: raw, numbers,
//! strings, buffers, custom (validated) and serialized.

use super::{CArgArray, Deserializer, Serializer, Validator, array, new_arg};
use crate::state::{CResult, guard, null, obj_mut};
use std::ffi::{c_char, c_int, c_void};
use vaccel_plugin::ArgType;
use vaccel_plugin::abi::VaccelArg;
use vaccel_rt::Error;
/// # Safety
/// `a` valid; `buf` valid for `size` while the array is used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_add_raw(
    a: *mut CArgArray,
    buf: *mut c_void,
    size: usize,
) -> c_int {
    // SAFETY: per the contract.
    guard("vaccel_arg_array_add_raw", || {
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        unsafe { array(a) }?.push(new_arg(buf, size, ArgType::Raw.raw(), 0, false))
    })
}

/// # Safety
/// `a` valid; outputs writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_get_raw(
    a: *mut CArgArray,
    buf: *mut *mut c_void,
    size: *mut usize,
) -> c_int {
    guard("vaccel_arg_array_get_raw", || {
        // SAFETY: per the contract (all below).
        let (b, s) = unsafe { (obj_mut(buf, "buf")?, obj_mut(size, "size")?) };
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let arg = unsafe { array(a) }?.next(None)?;
        *b = arg.buf;
        *s = arg.size;
        Ok(())
    })
}

/// Copy `size` bytes from `src` into the next arg of type `ty` (which must be large enough);
/// its size becomes `size`.
///
/// # Safety
/// `src` valid for `size` bytes; the arg's buffer valid for its size.
unsafe fn set_bytes(
    arr: &mut CArgArray,
    ty: Option<ArgType>,
    src: *const c_void,
    size: usize,
    exact: bool,
) -> CResult {
    if src.is_null() && size > 0 {
        return Err(null("value"));
    }
    let pos = arr.position;
    let arg = arr.next(ty)?;
    if (exact && arg.size != size) || arg.size < size || (arg.buf.is_null() && size > 0) {
        return Err(Error::Invalid(format!(
            "arg {pos} holds {} bytes; cannot set {size} bytes",
            arg.size
        )));
    }
    if size > 0 {
        // SAFETY: both valid for `size` bytes; C callers do not pass overlapping buffers
        // (copy handles overlap anyway).
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        unsafe { std::ptr::copy(src.cast::<u8>(), arg.buf.cast::<u8>(), size) };
    }
    arg.size = size;
    Ok(())
}

/// # Safety
/// `a` valid; `buf` valid for `size`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_set_raw(
    a: *mut CArgArray,
    buf: *mut c_void,
    size: usize,
) -> c_int {
    // SAFETY: per the contract.
    guard("vaccel_arg_array_set_raw", || unsafe {
        set_bytes(array(a)?, None, buf, size, false)
    })
}

/// Whether a buffer of C `bool`s holds only 0 and 1.
///
/// # Safety
/// `p` valid for `n` bytes.
unsafe fn bools_ok(p: *const c_void, n: usize) -> bool {
    if n == 0 || p.is_null() {
        return true;
    }
    // SAFETY: per the contract.
    unsafe { std::slice::from_raw_parts(p.cast::<u8>(), n) }
        .iter()
        .all(|b| *b <= 1)
}

macro_rules! typed {
    ($($name:ident: $ctype:ty => $scalar:ident, $arr:ident;)*) => { paste::paste! { $(
        /// # Safety
        /// `a` valid; `value` valid while the array is used.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn [<vaccel_arg_array_add_ $name>](a: *mut CArgArray, value: *mut $ctype) -> c_int {
            guard(concat!("vaccel_arg_array_add_", stringify!($name)), || {
                if value.is_null() { return Err(null("value")); }
                // SAFETY: per the contract.
                unsafe { array(a) }?.push(new_arg(value.cast(), size_of::<$ctype>(), ArgType::$scalar.raw(), 0, false))
            })
        }

        /// # Safety
        /// `a` valid; `values` valid for `count` while the array is used.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn [<vaccel_arg_array_add_ $name _array>](a: *mut CArgArray, values: *mut $ctype, count: usize) -> c_int {
            guard(concat!("vaccel_arg_array_add_", stringify!($name), "_array"), || {
                if values.is_null() && count > 0 { return Err(null("values")); }
                let size = count.checked_mul(size_of::<$ctype>()).ok_or_else(|| Error::Overflow("count".into()))?;
                // SAFETY: per the contract.
                unsafe { array(a) }?.push(new_arg(values.cast(), size, ArgType::$arr.raw(), 0, false))
            })
        }

        /// # Safety
        /// `a` valid; `value` writable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn [<vaccel_arg_array_get_ $name>](a: *mut CArgArray, value: *mut $ctype) -> c_int {
            guard(concat!("vaccel_arg_array_get_", stringify!($name)), || {
                // SAFETY: per the contract (all below).
                let out = unsafe { obj_mut(value, "value") }?;
                // SAFETY: pointers are NULL or valid for the call (C API contract).
                let arr = unsafe { array(a) }?;
                let pos = arr.position;
                let arg = arr.next(Some(ArgType::$scalar))?;
                if arg.size != size_of::<$ctype>() || arg.buf.is_null() {
                    return Err(Error::Invalid(format!("arg {pos} has size {}, expected {}", arg.size, size_of::<$ctype>())));
                }
                // SAFETY: pointers are NULL or valid for the call (C API contract).
                if ArgType::$scalar == ArgType::Bool && !unsafe { bools_ok(arg.buf, arg.size) } {
                    return Err(Error::Invalid(format!("arg {pos} is not a valid bool")));
                }
                // SAFETY: size checked; unaligned read is fine for any buffer.
                *out = unsafe { arg.buf.cast::<$ctype>().read_unaligned() };
                Ok(())
            })
        }

        /// # Safety
        /// `a` valid; outputs writable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn [<vaccel_arg_array_get_ $name _array>](a: *mut CArgArray, values: *mut *mut $ctype, count: *mut usize) -> c_int {
            guard(concat!("vaccel_arg_array_get_", stringify!($name), "_array"), || {
                // SAFETY: per the contract (all below).
                let (v, c) = unsafe { (obj_mut(values, "values")?, obj_mut(count, "count")?) };
                // SAFETY: pointers are NULL or valid for the call (C API contract).
                let arr = unsafe { array(a) }?;
                let pos = arr.position;
                let arg = arr.next(Some(ArgType::$arr))?;
                if arg.size % size_of::<$ctype>() != 0 {
                    return Err(Error::Invalid(format!("arg {pos} has size {}, not a multiple of {}", arg.size, size_of::<$ctype>())));
                }
                // SAFETY: pointers are NULL or valid for the call (C API contract).
                if ArgType::$arr == ArgType::BoolArray && !unsafe { bools_ok(arg.buf, arg.size) } {
                    return Err(Error::Invalid(format!("arg {pos} holds a value that is not a bool")));
                }
                *v = arg.buf.cast();
                *c = arg.size / size_of::<$ctype>();
                Ok(())
            })
        }

        /// # Safety
        /// `a` valid; `value` readable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn [<vaccel_arg_array_set_ $name>](a: *mut CArgArray, value: *mut $ctype) -> c_int {
            guard(concat!("vaccel_arg_array_set_", stringify!($name)), || {
                if value.is_null() { return Err(null("value")); }
                // SAFETY: per the contract.
                unsafe { set_bytes(array(a)?, Some(ArgType::$scalar), value.cast(), size_of::<$ctype>(), true) }
            })
        }

        /// # Safety
        /// `a` valid; `values` readable for `count`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn [<vaccel_arg_array_set_ $name _array>](a: *mut CArgArray, values: *mut $ctype, count: usize) -> c_int {
            guard(concat!("vaccel_arg_array_set_", stringify!($name), "_array"), || {
                let size = count.checked_mul(size_of::<$ctype>()).ok_or_else(|| Error::Overflow("count".into()))?;
                // SAFETY: per the contract.
                unsafe { set_bytes(array(a)?, Some(ArgType::$arr), values.cast(), size, false) }
            })
        }
    )* } };
}

typed! {
    int8: i8 => Int8, Int8Array;
    int16: i16 => Int16, Int16Array;
    int32: i32 => Int32, Int32Array;
    int64: i64 => Int64, Int64Array;
    uint8: u8 => Uint8, Uint8Array;
    uint16: u16 => Uint16, Uint16Array;
    uint32: u32 => Uint32, Uint32Array;
    uint64: u64 => Uint64, Uint64Array;
    float: f32 => Float32, Float32Array;
    double: f64 => Float64, Float64Array;
    bool: u8 => Bool, BoolArray;
    char: c_char => Char, CharArray;
    uchar: u8 => Uchar, UcharArray;
}

/// # Safety
/// `a` valid; `s` NUL-terminated, valid while the array is used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_add_string(a: *mut CArgArray, s: *mut c_char) -> c_int {
    guard("vaccel_arg_array_add_string", || {
        if s.is_null() {
            return Err(null("str"));
        }
        // SAFETY: NUL-terminated per the contract.
        let len = unsafe { libc::strlen(s) } + 1;
        // SAFETY: per the contract.
        unsafe { array(a) }?.push(new_arg(s.cast(), len, ArgType::String.raw(), 0, false))
    })
}

/// # Safety
/// `a` valid; `s` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_get_string(
    a: *mut CArgArray,
    s: *mut *mut c_char,
) -> c_int {
    guard("vaccel_arg_array_get_string", || {
        // SAFETY: per the contract (all below).
        let out = unsafe { obj_mut(s, "str") }?;
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let arr = unsafe { array(a) }?;
        let pos = arr.position;
        let arg = arr.next(Some(ArgType::String))?;
        // SAFETY: the arg's buffer is valid for its size.
        let terminated = !arg.buf.is_null()
            // SAFETY: pointers are NULL or valid for the call (C API contract).
            && unsafe { std::slice::from_raw_parts(arg.buf.cast::<u8>(), arg.size) }.contains(&0);
        if !terminated {
            return Err(Error::Invalid(format!(
                "arg {pos} is not a NUL-terminated string"
            )));
        }
        *out = arg.buf.cast();
        Ok(())
    })
}

/// # Safety
/// `a` valid; `s` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_set_string(a: *mut CArgArray, s: *mut c_char) -> c_int {
    guard("vaccel_arg_array_set_string", || {
        if s.is_null() {
            return Err(null("str"));
        }
        // SAFETY: NUL-terminated per the contract.
        let len = unsafe { libc::strlen(s) } + 1;
        // SAFETY: per the contract.
        unsafe { set_bytes(array(a)?, Some(ArgType::String), s.cast(), len, false) }
    })
}

/// # Safety
/// `a` valid; `buf` valid for `size` while the array is used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_add_buffer(
    a: *mut CArgArray,
    buf: *mut c_void,
    size: usize,
) -> c_int {
    guard("vaccel_arg_array_add_buffer", || {
        if buf.is_null() && size > 0 {
            return Err(null("buf"));
        }
        // SAFETY: per the contract.
        unsafe { array(a) }?.push(new_arg(buf, size, ArgType::Buffer.raw(), 0, false))
    })
}

/// # Safety
/// `a` valid; outputs writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_get_buffer(
    a: *mut CArgArray,
    buf: *mut *mut c_void,
    size: *mut usize,
) -> c_int {
    guard("vaccel_arg_array_get_buffer", || {
        // SAFETY: per the contract (all below).
        let (b, s) = unsafe { (obj_mut(buf, "buf")?, obj_mut(size, "size")?) };
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let arg = unsafe { array(a) }?.next(Some(ArgType::Buffer))?;
        *b = arg.buf;
        *s = arg.size;
        Ok(())
    })
}

/// # Safety
/// `a` valid; `buf` valid for `size`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_set_buffer(
    a: *mut CArgArray,
    buf: *mut c_void,
    size: usize,
) -> c_int {
    // SAFETY: per the contract.
    guard("vaccel_arg_array_set_buffer", || unsafe {
        set_bytes(array(a)?, Some(ArgType::Buffer), buf, size, false)
    })
}

/// # Safety
/// `buf` valid for `size`; `validator` NULL or a valid function.
unsafe fn validate(validator: Validator, buf: *const c_void, size: usize, id: u32) -> CResult {
    match validator {
        // SAFETY: per the contract.
        Some(f) if !unsafe { f(buf, size, id) } => Err(Error::Invalid(format!(
            "custom arg of type id {id} ({size} bytes) failed its validator"
        ))),
        _ => Ok(()),
    }
}

/// # Safety
/// `a` valid; `buf` valid for `size` while the array is used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_add_custom(
    a: *mut CArgArray,
    custom_id: u32,
    buf: *mut c_void,
    size: usize,
    validator: Validator,
) -> c_int {
    guard("vaccel_arg_array_add_custom", || {
        // SAFETY: per the contract.
        unsafe { validate(validator, buf, size, custom_id) }?;
        // SAFETY: per the contract.
        unsafe { array(a) }?.push(new_arg(buf, size, ArgType::Custom.raw(), custom_id, false))
    })
}

fn check_custom(arg: &VaccelArg, pos: usize, expected: u32) -> CResult {
    if arg.custom_type_id != expected {
        return Err(Error::Invalid(format!(
            "arg {pos} has custom type id {}, expected {expected}",
            arg.custom_type_id
        )));
    }
    Ok(())
}

/// # Safety
/// `a` valid; outputs writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_get_custom(
    a: *mut CArgArray,
    expected_id: u32,
    buf: *mut *mut c_void,
    size: *mut usize,
    validator: Validator,
) -> c_int {
    guard("vaccel_arg_array_get_custom", || {
        // SAFETY: per the contract (all below).
        let (b, s) = unsafe { (obj_mut(buf, "buf")?, obj_mut(size, "size")?) };
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let arr = unsafe { array(a) }?;
        let pos = arr.position;
        let arg = arr.next(Some(ArgType::Custom))?;
        check_custom(arg, pos, expected_id)?;
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        unsafe { validate(validator, arg.buf, arg.size, expected_id) }?;
        *b = arg.buf;
        *s = arg.size;
        Ok(())
    })
}

/// # Safety
/// `a` valid; `buf` valid for `size`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_set_custom(
    a: *mut CArgArray,
    expected_id: u32,
    buf: *mut c_void,
    size: usize,
    validator: Validator,
) -> c_int {
    guard("vaccel_arg_array_set_custom", || {
        // SAFETY: per the contract (all below).
        unsafe { validate(validator, buf, size, expected_id) }?;
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let arr = unsafe { array(a) }?;
        let pos = arr.position;
        let id = arr.slice().get(pos).map(|x| x.custom_type_id);
        if let Some(id) = id
            && id != expected_id
        {
            return Err(Error::Invalid(format!(
                "arg {pos} has custom type id {id}, expected {expected_id}"
            )));
        }
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        unsafe { set_bytes(arr, Some(ArgType::Custom), buf, size, false) }
    })
}

/// Serialize with the caller's function into a malloc'd buffer.
///
/// # Safety
/// `serializer` NULL or valid; `data` valid for `data_size`.
unsafe fn serialize(
    serializer: Serializer,
    data: *const c_void,
    data_size: usize,
    id: u32,
) -> CResult<(*mut c_void, usize)> {
    let f = serializer.ok_or_else(|| null("serializer"))?;
    let mut buf: *mut c_void = std::ptr::null_mut();
    let mut size = 0usize;
    // SAFETY: the caller's serializer, called as its type says.
    let rc = unsafe { f(data, data_size, id, &mut buf, &mut size) };
    if rc != 0 {
        return Err(Error::Plugin {
            plugin: "application".into(),
            what: "serializer".into(),
            code: rc,
            message: format!("returned {rc}"),
        });
    }
    if buf.is_null() && size > 0 {
        return Err(Error::Invalid("serializer returned a NULL buffer".into()));
    }
    Ok((buf, size))
}

/// # Safety
/// `a` valid; `data` valid for `data_size`; `serializer` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_add_serialized(
    a: *mut CArgArray,
    type_: u32,
    custom_id: u32,
    data: *const c_void,
    data_size: usize,
    serializer: Serializer,
) -> c_int {
    guard("vaccel_arg_array_add_serialized", || {
        // SAFETY: per the contract (all below).
        let arr = unsafe { array(a) }?;
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let (buf, size) = unsafe { serialize(serializer, data, data_size, custom_id) }?;
        let pushed = arr.push(new_arg(buf, size, type_, custom_id, true));
        if pushed.is_err() {
            // SAFETY: the serializer allocated it with malloc (contract).
            unsafe { libc::free(buf) };
        }
        pushed
    })
}

/// # Safety
/// `a` valid; `data` writable for `expected_size`; `deserializer` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_get_serialized(
    a: *mut CArgArray,
    expected_type: u32,
    expected_custom_id: u32,
    data: *mut c_void,
    expected_size: usize,
    deserializer: Deserializer,
) -> c_int {
    guard("vaccel_arg_array_get_serialized", || {
        let f = deserializer.ok_or_else(|| null("deserializer"))?;
        if data.is_null() {
            return Err(null("data"));
        }
        let ty = ArgType::from_raw(expected_type)
            .ok_or_else(|| Error::Invalid(format!("unknown arg type {expected_type}")))?;
        // SAFETY: per the contract.
        let arr = unsafe { array(a) }?;
        let pos = arr.position;
        let arg = arr.next(Some(ty))?;
        if ty == ArgType::Custom {
            check_custom(arg, pos, expected_custom_id)?;
        }
        // SAFETY: the caller's deserializer, called as its type says.
        let rc = unsafe { f(arg.buf, arg.size, arg.custom_type_id, expected_size, data) };
        if rc != 0 {
            return Err(Error::Plugin {
                plugin: "application".into(),
                what: "deserializer".into(),
                code: rc,
                message: format!("returned {rc}"),
            });
        }
        Ok(())
    })
}

/// # Safety
/// `a` valid; `data` valid for `data_size`; `serializer` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_arg_array_set_serialized(
    a: *mut CArgArray,
    expected_type: u32,
    expected_custom_id: u32,
    data: *mut c_void,
    data_size: usize,
    serializer: Serializer,
) -> c_int {
    guard("vaccel_arg_array_set_serialized", || {
        let ty = ArgType::from_raw(expected_type)
            .ok_or_else(|| Error::Invalid(format!("unknown arg type {expected_type}")))?;
        // SAFETY: per the contract (all below).
        let arr = unsafe { array(a) }?;
        if ty == ArgType::Custom {
            let pos = arr.position;
            if let Some(arg) = arr.slice().get(pos) {
                check_custom(arg, pos, expected_custom_id)?;
            }
        }
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let (buf, size) = unsafe { serialize(serializer, data, data_size, expected_custom_id) }?;
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let r = unsafe { set_bytes(arr, Some(ty), buf, size, false) };
        // SAFETY: allocated by the serializer with malloc (contract).
        unsafe { libc::free(buf) };
        r
    })
}
