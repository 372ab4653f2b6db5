//! Start and end with the process, as upstream's library does: it bootstraps when it is
//! loaded (unless `VACCEL_BOOTSTRAP_ENABLED` says no) and, at exit, removes its run-time
//! directory (unless `VACCEL_CLEANUP_ENABLED` says no).
//!
//! At exit only the directory goes: libraries the runtime loaded later (ONNX Runtime, the
//! plugins' own) are finalized before this one, so dropping sessions and models then would
//! run their code after their teardown. A remote agent frees a guest's state when the
//! connection closes with the process.

/// Whether an on/off variable is on (unset: `default`; a bad value warns on stderr, as
/// no logger exists yet, and the default applies).
fn enabled(var: &str, default: bool) -> bool {
    match std::env::var(var) {
        Err(_) => default,
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => {
                eprintln!(
                    "vaccel: {var}={v:?} is not 1/0, true/false, yes/no or on/off; using the default"
                );
                default
            }
        },
    }
}

extern "C" fn at_load() {
    if enabled("VACCEL_BOOTSTRAP_ENABLED", true) {
        // A failure is kept for the first call that needs the library (which reports it).
        let _ = crate::state::vaccel_bootstrap();
    }
}

extern "C" fn at_exit() {
    if enabled("VACCEL_CLEANUP_ENABLED", true) && crate::state::vaccel_is_initialized() {
        let _ = std::fs::remove_dir_all(crate::state::rundir());
    }
}

// SAFETY: `.init_array` / `.fini_array` entries are called once by the dynamic loader (or
// the C runtime, for the static library) with no arguments, as these `extern "C" fn()`s
// expect; neither unwinds (panics are caught or cannot happen).
#[used]
#[unsafe(link_section = ".init_array")]
static AT_LOAD: extern "C" fn() = at_load;

// SAFETY: as above.
#[used]
#[unsafe(link_section = ".fini_array")]
static AT_EXIT: extern "C" fn() = at_exit;
