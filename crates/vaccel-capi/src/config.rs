//! `struct vaccel_config` (include/vaccel/config.h): upstream's configuration API. A config
//! is the caller's struct holding malloc'ed copies of its strings; `vaccel_config()` is the
//! one in force, kept current at every bootstrap.

use crate::state::{CResult, guard, obj, obj_mut};
use std::ffi::{CStr, CString, c_char, c_int};
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, Ordering};
use vaccel_rt::Config;

/// `struct vaccel_config`: upstream's layout (32 bytes).
#[repr(C)]
pub struct CConfig {
    pub plugins: *mut c_char,
    pub log_level: u32,
    pub log_file: *mut c_char,
    pub profiling_enabled: bool,
    pub version_ignore: bool,
}

const _: () = {
    use std::mem::offset_of;
    assert!(size_of::<CConfig>() == 32);
    assert!(offset_of!(CConfig, log_level) == 8);
    assert!(offset_of!(CConfig, log_file) == 16);
    assert!(offset_of!(CConfig, profiling_enabled) == 24);
    assert!(offset_of!(CConfig, version_ignore) == 25);
};

/// A malloc'ed copy of `s` (NULL for none or on a NUL inside).
fn c_dup(s: Option<&str>) -> *mut c_char {
    match s.and_then(|s| CString::new(s).ok()) {
        // SAFETY: a valid C string; strdup copies it (NULL when out of memory).
        Some(c) => unsafe { libc::strdup(c.as_ptr()) },
        None => std::ptr::null_mut(),
    }
}

fn text(p: *const c_char) -> Option<String> {
    // SAFETY: config strings are NULL or NUL-terminated (this module's invariant, or the
    // caller's contract for the strings it passes).
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// Fill `c` from `cfg` (malloc'ed strings).
fn fill(c: &mut CConfig, cfg: &Config) {
    let plugins = (!cfg.plugins.is_empty()).then(|| cfg.plugins.join(":"));
    *c = CConfig {
        plugins: c_dup(plugins.as_deref()),
        log_level: cfg.log_level,
        log_file: c_dup(cfg.log_file.as_ref().and_then(|p| p.to_str())),
        profiling_enabled: cfg.profiling_enabled,
        version_ignore: cfg.version_ignore,
    };
}

/// The runtime's configuration a C config describes.
pub(crate) fn to_rust(c: &CConfig) -> Config {
    Config {
        plugins: text(c.plugins)
            .map(|p| {
                p.split(':')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
        log_level: c.log_level.clamp(1, 4),
        log_file: text(c.log_file).map(Into::into),
        profiling_enabled: c.profiling_enabled,
        version_ignore: c.version_ignore,
    }
}

fn free_strings(c: &mut CConfig) {
    // SAFETY: NULL or malloc'ed by this module.
    unsafe {
        libc::free(c.plugins.cast());
        libc::free(c.log_file.cast());
    }
    c.plugins = std::ptr::null_mut();
    c.log_file = std::ptr::null_mut();
}

/// The config in force, as `vaccel_config()` shows it. Each bootstrap publishes a new one;
/// the old ones are kept (a program may still hold the pointer it was given).
static CURRENT: AtomicPtr<CConfig> = AtomicPtr::new(std::ptr::null_mut());
static PUBLISHED: Mutex<Vec<usize>> = Mutex::new(Vec::new());

pub(crate) fn publish(cfg: &Config) {
    let mut c = Box::new(CConfig {
        plugins: std::ptr::null_mut(),
        log_level: 0,
        log_file: std::ptr::null_mut(),
        profiling_enabled: false,
        version_ignore: false,
    });
    fill(&mut c, cfg);
    let p = Box::into_raw(c);
    vaccel_plugin::sync::lock(&PUBLISHED).push(p as usize);
    CURRENT.store(p, Ordering::Release);
}

/// The configuration in force (NULL before the library has started).
#[unsafe(no_mangle)]
pub extern "C" fn vaccel_config() -> *const CConfig {
    CURRENT.load(Ordering::Acquire)
}

/// # Safety
/// `config` NULL or writable; strings NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_config_init(
    config: *mut CConfig,
    plugins: *const c_char,
    log_level: u32,
    log_file: *const c_char,
    profiling_enabled: bool,
    version_ignore: bool,
) -> c_int {
    guard("vaccel_config_init", || {
        // SAFETY: per the contract.
        let c = unsafe { obj_mut(config, "config") }?;
        *c = CConfig {
            plugins: c_dup(text(plugins).as_deref()),
            log_level,
            log_file: c_dup(text(log_file).as_deref()),
            profiling_enabled,
            version_ignore,
        };
        Ok(())
    })
}

/// # Safety
/// `config` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_config_init_from_env(config: *mut CConfig) -> c_int {
    guard("vaccel_config_init_from_env", || {
        // SAFETY: per the contract.
        let c = unsafe { obj_mut(config, "config") }?;
        fill(c, &Config::from_env()?);
        Ok(())
    })
}

/// # Safety
/// `config` NULL or writable; `src` NULL or a config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_config_init_from(
    config: *mut CConfig,
    src: *const CConfig,
) -> c_int {
    guard("vaccel_config_init_from", || {
        // SAFETY: per the contract.
        let s = unsafe { obj(src, "src") }?;
        let copy = CConfig {
            plugins: c_dup(text(s.plugins).as_deref()),
            log_level: s.log_level,
            log_file: c_dup(text(s.log_file).as_deref()),
            profiling_enabled: s.profiling_enabled,
            version_ignore: s.version_ignore,
        };
        // SAFETY: per the contract.
        *unsafe { obj_mut(config, "config") }? = copy;
        Ok(())
    })
}

/// # Safety
/// `config` NULL or a config made by the functions above.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_config_release(config: *mut CConfig) -> c_int {
    guard("vaccel_config_release", || {
        // SAFETY: per the contract.
        free_strings(unsafe { obj_mut(config, "config") }?);
        Ok(())
    })
}

/// # Safety
/// As `vaccel_config_init`, `config` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_config_new(
    config: *mut *mut CConfig,
    plugins: *const c_char,
    log_level: u32,
    log_file: *const c_char,
    profiling_enabled: bool,
    version_ignore: bool,
) -> c_int {
    // SAFETY: per the contract; the config is a fresh zeroed struct.
    unsafe {
        crate::state::new_with("vaccel_config_new", config, |c| {
            vaccel_config_init(
                c,
                plugins,
                log_level,
                log_file,
                profiling_enabled,
                version_ignore,
            )
        })
    }
}

/// # Safety
/// `config` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_config_from_env(config: *mut *mut CConfig) -> c_int {
    // SAFETY: per the contract; the config is a fresh zeroed struct.
    unsafe {
        crate::state::new_with("vaccel_config_from_env", config, |c| {
            vaccel_config_init_from_env(c)
        })
    }
}

/// # Safety
/// `config` NULL or writable; `src` NULL or a config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_config_from(
    config: *mut *mut CConfig,
    src: *const CConfig,
) -> c_int {
    // SAFETY: per the contract; the config is a fresh zeroed struct.
    unsafe {
        crate::state::new_with("vaccel_config_from", config, |c| {
            vaccel_config_init_from(c, src)
        })
    }
}

/// # Safety
/// `config` NULL or from one of the `_new` / `_from` functions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_config_delete(config: *mut CConfig) -> c_int {
    // SAFETY: per the contract.
    unsafe { crate::state::delete_with(config, |p| vaccel_config_release(p)) }
}

/// Log a config's fields at debug level.
///
/// # Safety
/// `config` NULL or a config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_config_print_debug(config: *const CConfig) {
    // SAFETY: per the contract.
    if let Some(c) = unsafe { config.as_ref() } {
        tracing::debug!(
            plugins = text(c.plugins).unwrap_or_default(),
            log_level = c.log_level,
            log_file = text(c.log_file).unwrap_or_default(),
            profiling_enabled = c.profiling_enabled,
            version_ignore = c.version_ignore,
            "config"
        );
    }
}

/// Start (or restart) the library with `config` instead of the environment.
///
/// # Safety
/// `config` NULL or a config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_bootstrap_with_config(config: *const CConfig) -> c_int {
    guard("vaccel_bootstrap_with_config", || -> CResult {
        // SAFETY: per the contract.
        let c = unsafe { obj(config, "config") }?;
        crate::state::bootstrap_with(to_rust(c))
    })
}
