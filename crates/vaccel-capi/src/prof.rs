//! `struct vaccel_prof_region` (include/vaccel/prof.h): user timing regions, recorded only
//! when profiling is enabled (as upstream).

use crate::state::{CResult, c_str, guard, obj, obj_mut, state};
use std::ffi::{c_char, c_int};
use std::sync::OnceLock;
use std::time::Instant;
use vaccel_rt::Error;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct CSample {
    start: u64,
    time: u64,
}

#[repr(C)]
pub struct CRegion {
    name: *mut c_char,
    name_owned: bool,
    nr_entries: usize,
    samples: *mut CSample,
    size: usize,
}

fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn enabled() -> CResult<bool> {
    Ok(state()?.rt.config().profiling_enabled)
}

fn name_of(r: &CRegion) -> String {
    if r.name.is_null() {
        return "(unnamed)".into();
    }
    // SAFETY: region names are NUL-terminated strings (header contract).
    unsafe { std::ffi::CStr::from_ptr(r.name) }
        .to_string_lossy()
        .into_owned()
}

/// # Safety
/// `region` writable; `name` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_prof_region_init(
    region: *mut CRegion,
    name: *const c_char,
) -> c_int {
    guard("vaccel_prof_region_init", || {
        // SAFETY: per the contract (all below).
        let r = unsafe { obj_mut(region, "region") }?;
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        unsafe { c_str(name, "name") }?;
        // SAFETY: NUL-terminated per the contract.
        let copy = unsafe { libc::strdup(name) };
        if copy.is_null() {
            return Err(Error::Invalid("out of memory".into()));
        }
        *r = CRegion {
            name: copy,
            name_owned: true,
            nr_entries: 0,
            samples: std::ptr::null_mut(),
            size: 0,
        };
        Ok(())
    })
}

/// # Safety
/// `region` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_prof_region_release(region: *mut CRegion) -> c_int {
    guard("vaccel_prof_region_release", || {
        // SAFETY: per the contract.
        let r = unsafe { obj_mut(region, "region") }?;
        if !r.samples.is_null() {
            // SAFETY: allocated by realloc in _stop.
            unsafe { libc::free(r.samples.cast()) };
        }
        if r.name_owned && !r.name.is_null() {
            // SAFETY: strdup'd by _init.
            unsafe { libc::free(r.name.cast()) };
            r.name = std::ptr::null_mut();
        }
        r.name_owned = false;
        r.samples = std::ptr::null_mut();
        r.size = 0;
        r.nr_entries = 0;
        Ok(())
    })
}

/// # Safety
/// `region` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_prof_region_start(region: *mut CRegion) -> c_int {
    guard("vaccel_prof_region_start", || {
        // SAFETY: per the contract.
        let r = unsafe { obj_mut(region, "region") }?;
        if !enabled()? {
            return Ok(());
        }
        if r.nr_entries == r.size {
            let cap = r
                .size
                .max(8)
                .checked_mul(2)
                .ok_or_else(|| Error::Overflow("profiling samples".into()))?;
            // SAFETY: samples is NULL or from realloc here.
            let p = unsafe { libc::realloc(r.samples.cast(), cap * size_of::<CSample>()) }
                .cast::<CSample>();
            if p.is_null() {
                return Err(Error::Invalid("out of memory".into()));
            }
            r.samples = p;
            r.size = cap;
        }
        // SAFETY: nr_entries < size; the slot is inside the allocation.
        unsafe {
            r.samples.add(r.nr_entries).write(CSample {
                start: now_ns(),
                time: 0,
            })
        };
        r.nr_entries += 1;
        Ok(())
    })
}

/// # Safety
/// `region` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_prof_region_stop(region: *mut CRegion) -> c_int {
    guard("vaccel_prof_region_stop", || {
        // SAFETY: per the contract.
        let r = unsafe { obj_mut(region, "region") }?;
        if !enabled()? {
            return Ok(());
        }
        if r.nr_entries == 0 || r.samples.is_null() {
            return Err(Error::Invalid(format!(
                "region {}: stop without start",
                name_of(r)
            )));
        }
        // SAFETY: nr_entries > 0 and within the allocation.
        let s = unsafe { &mut *r.samples.add(r.nr_entries - 1) };
        s.time = now_ns().saturating_sub(s.start);
        Ok(())
    })
}

/// # Safety
/// `region` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_prof_region_print(region: *const CRegion) -> c_int {
    guard("vaccel_prof_region_print", || {
        // SAFETY: per the contract.
        let r = unsafe { obj(region, "region") }?;
        if !enabled()? {
            return Ok(());
        }
        let samples: &[CSample] = if r.samples.is_null() {
            &[]
        } else {
            // SAFETY: nr_entries samples are initialised.
            unsafe { std::slice::from_raw_parts(r.samples, r.nr_entries) }
        };
        let total: u64 = samples.iter().map(|s| s.time).sum();
        let mean = total.checked_div(samples.len() as u64).unwrap_or(0);
        println!(
            "[prof] {}: count {} total {} ns mean {} ns",
            name_of(r),
            samples.len(),
            total,
            mean
        );
        Ok(())
    })
}
