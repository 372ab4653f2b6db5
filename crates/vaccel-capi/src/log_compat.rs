//! `slog_print`, exported for binaries built against upstream's log macros. Rust cannot
//! define a C-variadic function on stable, and a cdylib exports only Rust items, so the
//! exported symbol is a naked function that jumps — registers and stack untouched, as a
//! variadic call left them — to the C body in csrc/slog.c.

use std::ffi::{c_char, c_int};

unsafe extern "C" {
    fn vaccel_slog_print_impl(flag: c_int, new_line: u8, fmt: *const c_char, ...);
}

/// `void slog_print(int flag, uint8_t new_line, const char *fmt, ...)`.
///
/// # Safety
/// Called as the C variadic function it stands for: `fmt` NULL or a printf format whose
/// conversions match the arguments.
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slog_print() {
    // A tail jump: the callee sees exactly the caller's variadic call.
    core::arch::naked_asm!("jmp {}", sym vaccel_slog_print_impl)
}

/// As the x86-64 `slog_print`.
///
/// # Safety
/// As the x86-64 `slog_print`.
#[cfg(target_arch = "aarch64")]
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slog_print() {
    core::arch::naked_asm!("b {}", sym vaccel_slog_print_impl)
}

/// Set up logging (it is set up when the library starts; this starts it).
#[unsafe(no_mangle)]
pub extern "C" fn vaccel_log_init() -> c_int {
    crate::state::guard("vaccel_log_init", || crate::state::state().map(|_| ()))
}

/// Logging stays set up for the life of the process (the logger cannot be taken down);
/// succeeds, as upstream's does.
#[unsafe(no_mangle)]
pub extern "C" fn vaccel_log_shutdown() -> c_int {
    0
}
