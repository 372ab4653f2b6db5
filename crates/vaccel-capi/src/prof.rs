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
pub unsafe extern "C" fn vaccel_prof_region_stop(region: *const CRegion) -> c_int {
    guard("vaccel_prof_region_stop", || {
        // SAFETY: per the contract.
        let r = unsafe { obj(region, "region") }?;
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

/// Whether profiling regions record (`VACCEL_PROFILING_ENABLED`).
#[unsafe(no_mangle)]
pub extern "C" fn vaccel_prof_enabled() -> bool {
    crate::state::guard_value("vaccel_prof_enabled", false, enabled)
}

/// The regions of a caller's array.
///
/// # Safety
/// `regions` NULL or valid for `n` regions.
unsafe fn regions<'a>(regions: *mut CRegion, n: c_int) -> CResult<&'a mut [CRegion]> {
    if regions.is_null() {
        return Err(crate::state::null("regions"));
    }
    let n = usize::try_from(n).map_err(|_| Error::Invalid(format!("{n} regions")))?;
    // SAFETY: valid for n regions (contract).
    Ok(unsafe { std::slice::from_raw_parts_mut(regions, n) })
}

/// The last region called `name` (as upstream picks it).
///
/// # Safety
/// `name` NULL or NUL-terminated.
unsafe fn by_name(all: &mut [CRegion], name: *const c_char) -> CResult<&mut CRegion> {
    // SAFETY: per the contract.
    let want = unsafe { c_str(name, "name") }?;
    all.iter_mut()
        .rev()
        .find(|r| name_of(r) == want)
        .ok_or_else(|| Error::Invalid(format!("no profiling region named {want:?}")))
}

/// Reset every region of an array for recording (names kept).
///
/// # Safety
/// `r` NULL or valid for `n` regions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_prof_regions_init(r: *mut CRegion, n: c_int) -> c_int {
    guard("vaccel_prof_regions_init", || {
        if !enabled()? {
            return Ok(());
        }
        // SAFETY: per the contract.
        for region in unsafe { regions(r, n) }? {
            (region.samples, region.size, region.nr_entries) = (std::ptr::null_mut(), 0, 0);
        }
        Ok(())
    })
}

/// Free every region's samples (names kept).
///
/// # Safety
/// `r` NULL or valid for `n` regions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_prof_regions_release(r: *mut CRegion, n: c_int) -> c_int {
    guard("vaccel_prof_regions_release", || {
        if !enabled()? {
            return Ok(());
        }
        // SAFETY: per the contract.
        for region in unsafe { regions(r, n) }? {
            // SAFETY: samples are NULL or realloc'ed by _start.
            unsafe { libc::free(region.samples.cast()) };
            (region.samples, region.size, region.nr_entries) = (std::ptr::null_mut(), 0, 0);
        }
        Ok(())
    })
}

/// # Safety
/// `r` NULL or valid for `n` regions; `name` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_prof_regions_start_by_name(
    r: *mut CRegion,
    n: c_int,
    name: *const c_char,
) -> c_int {
    // SAFETY: per the contract; the region found is the caller's.
    unsafe {
        with_named("vaccel_prof_regions_start_by_name", r, n, name, |x| {
            vaccel_prof_region_start(x)
        })
    }
}

/// # Safety
/// As [`vaccel_prof_regions_start_by_name`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_prof_regions_stop_by_name(
    r: *mut CRegion,
    n: c_int,
    name: *const c_char,
) -> c_int {
    // SAFETY: per the contract; the region found is the caller's.
    unsafe {
        with_named("vaccel_prof_regions_stop_by_name", r, n, name, |x| {
            vaccel_prof_region_stop(x)
        })
    }
}

/// Run `f` on the last region of the array called `name` (nothing while profiling is off).
///
/// # Safety
/// `r` NULL or valid for `n` regions; `name` NULL or NUL-terminated.
unsafe fn with_named(
    what: &str,
    r: *mut CRegion,
    n: c_int,
    name: *const c_char,
    f: impl FnOnce(*mut CRegion) -> c_int,
) -> c_int {
    if !matches!(enabled(), Ok(true)) {
        return 0;
    }
    let mut at: *mut CRegion = std::ptr::null_mut();
    let found = guard(what, || {
        // SAFETY: per the contract.
        at = unsafe { by_name(regions(r, n)?, name) }?;
        Ok(())
    });
    if found != 0 { found } else { f(at) }
}

/// The lines `print_all` shows: `[prof] NAME: total_time: T nsec nr_entries: N` for each
/// region with samples.
fn summaries(all: &[CRegion]) -> Vec<String> {
    all.iter()
        .filter(|r| r.nr_entries > 0 && !r.samples.is_null())
        .map(|r| {
            // SAFETY: nr_entries samples are initialised (recorded by _start).
            let samples = unsafe { std::slice::from_raw_parts(r.samples, r.nr_entries) };
            let total: u64 = samples.iter().map(|s| s.time).sum();
            format!(
                "[prof] {}: total_time: {total} nsec nr_entries: {}",
                name_of(r),
                r.nr_entries
            )
        })
        .collect()
}

/// # Safety
/// `r` NULL or valid for `n` regions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_prof_regions_print_all(r: *mut CRegion, n: c_int) -> c_int {
    guard("vaccel_prof_regions_print_all", || {
        if !enabled()? {
            return Ok(());
        }
        // SAFETY: per the contract.
        for line in summaries(unsafe { regions(r, n) }?) {
            println!("{line}");
        }
        Ok(())
    })
}

/// With `buf` NULL: the bytes the summaries take (each line NUL-terminated). Otherwise a
/// `malloc`ed buffer of `len` bytes, stored in `*buf`, gets as many whole lines as fit;
/// returns the number of regions (upstream's convention). 0 when profiling is off;
/// `-VACCEL_E*` on errors.
///
/// # Safety
/// `buf` NULL or writable; `r` NULL or valid for `n` regions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_prof_regions_print_all_to_buf(
    buf: *mut *mut c_char,
    len: usize,
    r: *mut CRegion,
    n: c_int,
) -> c_int {
    let mut result = 0;
    let rc = guard("vaccel_prof_regions_print_all_to_buf", || {
        if !enabled()? {
            return Ok(());
        }
        // SAFETY: per the contract.
        let lines = summaries(unsafe { regions(r, n) }?);
        let need: usize = lines.iter().map(|l| l.len() + 1).sum();
        if buf.is_null() {
            result = c_int::try_from(need).unwrap_or(c_int::MAX);
            return Ok(());
        }
        // SAFETY: malloc of len bytes (at least 1); checked for NULL.
        let out = unsafe { libc::malloc(len.max(1)) }.cast::<u8>();
        if out.is_null() {
            return Err(Error::Invalid("out of memory".into()));
        }
        let mut at = 0;
        for l in &lines {
            if at + l.len() + 1 > len {
                break;
            }
            // SAFETY: at + len(l) + 1 <= len bytes of the allocation.
            unsafe {
                std::ptr::copy_nonoverlapping(l.as_ptr(), out.add(at), l.len());
                out.add(at + l.len()).write(0);
            }
            at += l.len() + 1;
        }
        if at == 0 {
            // SAFETY: at least one byte allocated.
            unsafe { out.write(0) };
        }
        // SAFETY: writable per the contract.
        unsafe { buf.write(out.cast()) };
        result = n;
        Ok(())
    });
    if rc == 0 { result } else { -rc }
}
