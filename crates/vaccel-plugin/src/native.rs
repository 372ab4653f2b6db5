//! Opening user shared libraries and calling exec functions
//! (`int fn(struct vaccel_arg *read, size_t nr_read, struct vaccel_arg *write, size_t nr_write)`).
//!
//! Kept here, with the rest of the crate's `unsafe`, so the exec plugin itself is safe Rust.

use crate::abi::VaccelArg;
use crate::args::Args;
use crate::sdk::PluginError;
use std::ffi::{CString, c_int};
use std::path::{Path, PathBuf};

/// Make libvaccel's C API resolvable by libraries opened later in this process.
///
/// Exec functions call libvaccel's argument helpers (`vaccel_arg_array_wrap`, …). In a C
/// program linked with libvaccel they resolve already; in a process that embeds the Rust
/// runtime instead (the `vaccel` CLI, the agent), libvaccel is loaded once, `RTLD_GLOBAL`,
/// so they do. The helpers touch no runtime state, so this second copy starts nothing.
/// Looked for: already in the process; `libvaccel.so.0` on the loader's search path;
/// `$VACCEL_LIBDIR`; next to the executable; in `../lib` from it.
///
/// # Errors
/// Where it looked, when libvaccel was found nowhere (remembered; later calls repeat it).
pub fn ensure_c_api() -> Result<(), String> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(load_c_api).clone()
}

fn load_c_api() -> Result<(), String> {
    use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
    let this = Library::this();
    // SAFETY: only probing whether the symbol exists in the global scope; never called.
    if unsafe { this.get::<*const u8>(b"vaccel_arg_array_wrap\0") }.is_ok() {
        return Ok(());
    }
    let mut candidates: Vec<PathBuf> = vec![PathBuf::from("libvaccel.so.0")];
    if let Some(dir) = std::env::var_os("VACCEL_LIBDIR") {
        candidates.push(Path::new(&dir).join("libvaccel.so.0"));
        candidates.push(Path::new(&dir).join("libvaccel.so"));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        candidates.push(dir.join("libvaccel.so"));
        candidates.push(dir.join("../lib/libvaccel.so.0"));
    }
    for c in &candidates {
        // SAFETY: loading libvaccel runs no initialiser with side effects (the library
        // starts itself lazily, on first use of a session API).
        if let Ok(lib) = unsafe { Library::open(Some(c), RTLD_NOW | RTLD_GLOBAL) } {
            tracing::debug!(path = %c.display(), "loaded libvaccel for exec functions");
            // Kept for the life of the process: exec'd libraries bind to it.
            std::mem::forget(lib);
            return Ok(());
        }
    }
    Err(format!(
        "libvaccel (the C API exec functions call) is not loaded and was not found at {}",
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// When symbols of an opened library are bound (`VACCEL_EXEC_DLOPEN_MODE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BindMode {
    /// `RTLD_NOW`: resolve everything at open; missing symbols fail early (default).
    #[default]
    Now,
    /// `RTLD_LAZY`: resolve functions at first call.
    Lazy,
}

/// The C signature of an exec function.
type RawExecFn = unsafe extern "C" fn(*mut VaccelArg, usize, *mut VaccelArg, usize) -> c_int;

/// An opened user library.
#[derive(Debug)]
pub struct NativeLibrary {
    lib: libloading::os::unix::Library,
    path: PathBuf,
}

impl NativeLibrary {
    /// Open `path`. `global` makes its symbols available to libraries opened later (used for
    /// a resource's dependency libraries).
    ///
    /// # Errors
    /// `ENOENT` when the file does not exist, `ELIBBAD` when it is not a loadable library.
    pub fn open(path: &Path, mode: BindMode, global: bool) -> Result<Self, PluginError> {
        if (path.is_absolute() || path.components().count() > 1) && !path.exists() {
            return Err(PluginError::not_found(format!(
                "library {}: no such file",
                path.display()
            )));
        }
        use libloading::os::unix::{RTLD_GLOBAL, RTLD_LAZY, RTLD_LOCAL, RTLD_NOW};
        let flags = match mode {
            BindMode::Now => RTLD_NOW,
            BindMode::Lazy => RTLD_LAZY,
        } | if global { RTLD_GLOBAL } else { RTLD_LOCAL };
        let c_api = ensure_c_api();
        // SAFETY: opening a library runs its initialisers. Running user code is what the
        // exec op is for; which libraries may be run is the caller's policy (the agent
        // allow-lists them).
        let lib =
            unsafe { libloading::os::unix::Library::open(Some(path), flags) }.map_err(|e| {
                let hint = match &c_api {
                    Err(why) if e.to_string().contains("undefined symbol: vaccel_") => {
                        format!(" ({why})")
                    }
                    _ => String::new(),
                };
                PluginError::new(
                    crate::code::ELIBBAD,
                    format!("library {}: cannot load: {e}{hint}", path.display()),
                )
            })?;
        Ok(NativeLibrary {
            lib,
            path: path.to_owned(),
        })
    }

    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Look up an exec function.
    ///
    /// # Errors
    /// `EINVAL` for a symbol with a NUL byte, `ENOEXEC`-style `ENOENT` when it is missing.
    pub fn exec_fn(&self, symbol: &str) -> Result<ExecFn<'_>, PluginError> {
        let name = CString::new(symbol)
            .map_err(|_| PluginError::invalid(format!("symbol {symbol:?} contains a NUL byte")))?;
        // SAFETY: the symbol is taken to have the exec signature; that is the contract of the
        // exec op (the caller names a function written for it).
        let f = unsafe { self.lib.get::<RawExecFn>(name.as_bytes_with_nul()) }.map_err(|_| {
            PluginError::not_found(format!(
                "symbol `{symbol}` not found in {}",
                self.path.display()
            ))
        })?;
        Ok(ExecFn { f: *f, _lib: self })
    }
}

/// An exec function, valid while its library is open.
pub struct ExecFn<'lib> {
    f: RawExecFn,
    _lib: &'lib NativeLibrary,
}

impl ExecFn<'_> {
    /// Call it with the caller's arguments; returns the function's own return value.
    pub fn call(&self, read: &mut Args<'_>, write: &mut Args<'_>) -> i32 {
        let (read, write) = (read.as_mut_slice(), write.as_mut_slice());
        // SAFETY: `f` was resolved from a library kept open by `_lib`; the args are
        // `Args`, each buffer valid for its size while they live. The function's
        // behaviour is the exec op's contract.
        unsafe {
            (self.f)(
                read.as_mut_ptr(),
                read.len(),
                write.as_mut_ptr(),
                write.len(),
            )
        }
    }
}
