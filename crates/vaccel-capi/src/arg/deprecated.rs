//! Upstream's deprecated argument-list API (`struct vaccel_arg_list`, `vaccel_args_init`
//! …), kept so older programs and exec functions build. Unlike upstream, writes are
//! bounded by the argument's size.

use super::new_arg;
use crate::state::{CResult, guard, null, obj_mut};
use std::ffi::{c_int, c_void};
use vaccel_plugin::ArgType;
use vaccel_plugin::abi::VaccelArg;
use vaccel_rt::Error;

/// `struct vaccel_arg_list`: upstream's layout (32 bytes).
#[repr(C)]
pub struct CArgList {
    size: u32,
    list: *mut VaccelArg,
    curr_idx: u32,
    idcs_allocated_space: *mut c_int,
}

const _: () = {
    use std::mem::offset_of;
    assert!(size_of::<CArgList>() == 32);
    assert!(offset_of!(CArgList, list) == 8);
    assert!(offset_of!(CArgList, curr_idx) == 16);
    assert!(offset_of!(CArgList, idcs_allocated_space) == 24);
};

type Serializer = Option<unsafe extern "C" fn(*mut c_void, *mut u32) -> *mut c_void>;
type Deserializer = Option<unsafe extern "C" fn(*mut c_void, u32) -> *mut c_void>;

/// A list of `size` args (NULL for 0 or out of memory); free with `vaccel_delete_args`.
#[unsafe(no_mangle)]
pub extern "C" fn vaccel_args_init(size: u32) -> *mut CArgList {
    if size == 0 {
        return std::ptr::null_mut();
    }
    let n = size as usize;
    // SAFETY: callocs of the sizes named; each checked for NULL before use.
    unsafe {
        let l = libc::calloc(1, size_of::<CArgList>()).cast::<CArgList>();
        let list = libc::calloc(n, size_of::<VaccelArg>()).cast::<VaccelArg>();
        let owned = libc::calloc(n, size_of::<c_int>()).cast::<c_int>();
        if l.is_null() || list.is_null() || owned.is_null() {
            libc::free(l.cast());
            libc::free(list.cast());
            libc::free(owned.cast());
            return std::ptr::null_mut();
        }
        l.write(CArgList {
            size,
            list,
            curr_idx: 0,
            idcs_allocated_space: owned,
        });
        l
    }
}

/// Fill the next slot of `l` with `arg` (`owned`: freed by `vaccel_delete_args`).
fn push(l: &mut CArgList, arg: VaccelArg, owned: bool) -> CResult {
    if l.curr_idx >= l.size || l.list.is_null() || l.idcs_allocated_space.is_null() {
        return Err(Error::Invalid(format!(
            "the arg list is full ({} args)",
            l.size
        )));
    }
    let i = l.curr_idx as usize;
    // SAFETY: i < size, the length of both arrays (vaccel_args_init).
    unsafe {
        l.list.add(i).write(arg);
        l.idcs_allocated_space.add(i).write(c_int::from(owned));
    }
    l.curr_idx += 1;
    Ok(())
}

/// # Safety
/// `args` NULL or from `vaccel_args_init`; `buf` valid for `size` bytes while used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_add_serial_arg(
    args: *mut CArgList,
    buf: *mut c_void,
    size: u32,
) -> c_int {
    guard("vaccel_add_serial_arg", || {
        // SAFETY: per the contract.
        let l = unsafe { obj_mut(args, "args") }?;
        if buf.is_null() || size == 0 {
            return Err(null("buf (or a zero size)"));
        }
        push(
            l,
            new_arg(buf, size as usize, ArgType::Raw.raw(), 0, false),
            false,
        )
    })
}

/// The same as `vaccel_add_serial_arg`: an output the callee fills in place.
///
/// # Safety
/// As `vaccel_add_serial_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_expect_serial_arg(
    args: *mut CArgList,
    buf: *mut c_void,
    size: u32,
) -> c_int {
    // SAFETY: per the contract.
    unsafe { vaccel_add_serial_arg(args, buf, size) }
}

/// # Safety
/// `args` NULL or from `vaccel_args_init`; `serializer` returns a malloc'ed buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_add_nonserial_arg(
    args: *mut CArgList,
    buf: *mut c_void,
    type_: u32,
    serializer: Serializer,
) -> c_int {
    guard("vaccel_add_nonserial_arg", || {
        // SAFETY: per the contract.
        let l = unsafe { obj_mut(args, "args") }?;
        let (Some(ser), false) = (serializer, buf.is_null()) else {
            return Err(null("buf or serializer"));
        };
        let mut bytes = 0u32;
        // SAFETY: the caller's serializer, called as its type says.
        let out = unsafe { ser(buf, &mut bytes) };
        if out.is_null() || bytes == 0 {
            // SAFETY: NULL or malloc'ed by the serializer (contract).
            unsafe { libc::free(out) };
            return Err(Error::Invalid("the serializer produced nothing".into()));
        }
        let arg = new_arg(out, bytes as usize, ArgType::Custom.raw(), type_, true);
        push(l, arg, true).inspect_err(|_| {
            // SAFETY: malloc'ed by the serializer, not stored.
            unsafe { libc::free(out) };
        })
    })
}

/// An output of `expected_size` zeroed bytes the library allocates (and frees).
///
/// # Safety
/// `args` NULL or from `vaccel_args_init`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_expect_nonserial_arg(
    args: *mut CArgList,
    expected_size: u32,
) -> c_int {
    guard("vaccel_expect_nonserial_arg", || {
        // SAFETY: per the contract.
        let l = unsafe { obj_mut(args, "args") }?;
        if expected_size == 0 {
            return Err(Error::Invalid("expected_size is 0".into()));
        }
        // SAFETY: calloc of a non-zero size; checked for NULL.
        let buf = unsafe { libc::calloc(1, expected_size as usize) };
        if buf.is_null() {
            return Err(Error::Invalid("out of memory".into()));
        }
        let arg = new_arg(buf, expected_size as usize, ArgType::Raw.raw(), 0, true);
        push(l, arg, true).inspect_err(|_| {
            // SAFETY: calloc'ed just above, not stored.
            unsafe { libc::free(buf) };
        })
    })
}

/// Arg `idx`'s buffer (no bound is known: `idx` must be within the array).
///
/// # Safety
/// `args` NULL or an array holding more than `idx` args.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_extract_serial_arg(
    args: *mut VaccelArg,
    idx: c_int,
) -> *mut c_void {
    match usize::try_from(idx) {
        // SAFETY: idx within the array (contract).
        Ok(i) if !args.is_null() => unsafe { (*args.add(i)).buf },
        _ => std::ptr::null_mut(),
    }
}

/// Arg `idx` through the caller's deserializer.
///
/// # Safety
/// As `vaccel_extract_serial_arg`; `deserializer` callable on the arg's bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_extract_nonserial_arg(
    args: *mut VaccelArg,
    idx: c_int,
    deserializer: Deserializer,
) -> *mut c_void {
    match (usize::try_from(idx), deserializer) {
        (Ok(i), Some(de)) if !args.is_null() => {
            // SAFETY: idx within the array (contract).
            let a = unsafe { *args.add(i) };
            let size = u32::try_from(a.size).unwrap_or(u32::MAX);
            // SAFETY: the caller's deserializer on the arg's own bytes.
            unsafe { de(a.buf, size) }
        }
        _ => std::ptr::null_mut(),
    }
}

/// Copy `buf` into arg `idx` (its size's worth of bytes).
///
/// # Safety
/// `args` as for `vaccel_extract_serial_arg`; `buf` valid for that arg's size.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_write_serial_arg(
    args: *mut VaccelArg,
    idx: c_int,
    buf: *mut c_void,
) -> c_int {
    guard("vaccel_write_serial_arg", || {
        let i = usize::try_from(idx).map_err(|_| Error::Invalid(format!("index {idx}")))?;
        if args.is_null() || buf.is_null() {
            return Err(null("args or buf"));
        }
        // SAFETY: idx within the array (contract).
        let a = unsafe { *args.add(i) };
        if a.size > 0 && !a.buf.is_null() {
            // SAFETY: both valid for the arg's size (contract); raw copy.
            unsafe { std::ptr::copy(buf.cast::<u8>(), a.buf.cast::<u8>(), a.size) };
        }
        Ok(())
    })
}

/// Serialize `buf` into arg `idx` — refused when it does not fit the arg.
///
/// # Safety
/// As `vaccel_write_serial_arg`; `serializer` returns a malloc'ed buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_write_nonserial_arg(
    args: *mut VaccelArg,
    idx: c_int,
    buf: *mut c_void,
    serializer: Serializer,
) -> c_int {
    guard("vaccel_write_nonserial_arg", || {
        let i = usize::try_from(idx).map_err(|_| Error::Invalid(format!("index {idx}")))?;
        let (Some(ser), false, false) = (serializer, args.is_null(), buf.is_null()) else {
            return Err(null("args, buf or serializer"));
        };
        // SAFETY: idx within the array (contract).
        let a = unsafe { *args.add(i) };
        let mut bytes = 0u32;
        // SAFETY: the caller's serializer, called as its type says.
        let out = unsafe { ser(buf, &mut bytes) };
        let fits = !out.is_null() && bytes > 0 && bytes as usize <= a.size && !a.buf.is_null();
        if fits {
            // SAFETY: `bytes` ≤ the arg's size; both buffers valid; raw copy.
            unsafe { std::ptr::copy(out.cast::<u8>(), a.buf.cast::<u8>(), bytes as usize) };
        }
        // SAFETY: NULL or malloc'ed by the serializer.
        unsafe { libc::free(out) };
        if fits {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "the serialized value ({bytes} bytes) does not fit arg {idx} ({} bytes)",
                a.size
            )))
        }
    })
}

/// Free a list from `vaccel_args_init` and the buffers it allocated.
///
/// # Safety
/// `args` NULL or from `vaccel_args_init`, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_delete_args(args: *mut CArgList) -> c_int {
    guard("vaccel_delete_args", || {
        // SAFETY: per the contract.
        let l = unsafe { obj_mut(args, "args") }?;
        for i in 0..l.curr_idx.min(l.size) as usize {
            // SAFETY: i < curr_idx ≤ size: initialised slots of both arrays.
            unsafe {
                if *l.idcs_allocated_space.add(i) != 0 {
                    libc::free((*l.list.add(i)).buf);
                }
            }
        }
        // SAFETY: the arrays and the list were calloc'ed by vaccel_args_init.
        unsafe {
            libc::free(l.list.cast());
            libc::free(l.idcs_allocated_space.cast());
            libc::free(args.cast());
        }
        Ok(())
    })
}
