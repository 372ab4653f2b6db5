//! The plugin loader: `dlopen` a shared object, find its entry symbol, validate the
//! descriptor. Every refusal names the file and says why.
//!
//! A shared object that exports upstream C vAccel's `vaccel_plugin` instead is handed to
//! the foreign loader a face installed ([`set_foreign_loader`]): libvaccel adapts such
//! plugins in-process, since they call back into its C API. Without one it is refused,
//! saying so.

use crate::abi::{ABI_MAJOR, ABI_MINOR, ENTRY_SYMBOL, EntryFn, UPSTREAM_SYMBOL};
use crate::host::{DescriptorError, PluginHandle};
use crate::types::code;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Loads a shared object that exports upstream's `vaccel_plugin`: given its path and the
/// opened library, it returns the adapted plugin, initialised.
pub type ForeignLoader = fn(&Path, libloading::Library) -> Result<PluginHandle, LoadError>;

static FOREIGN_LOADER: OnceLock<ForeignLoader> = OnceLock::new();

/// Install the loader for upstream C vAccel plugins (libvaccel does, once). Returns false
/// if one was installed already.
pub fn set_foreign_loader(loader: ForeignLoader) -> bool {
    FOREIGN_LOADER.set(loader).is_ok()
}

/// Why a plugin file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The path does not exist.
    #[error("plugin {path}: no such file")]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// `dlopen` refused it (not a shared object, wrong architecture, missing dependency).
    #[error("plugin {path}: cannot load shared object: {reason}")]
    Open {
        /// The path.
        path: PathBuf,
        /// `dlerror()` text.
        reason: String,
    },
    /// An upstream C vAccel plugin, in a program that cannot host one: it exports
    /// `vaccel_plugin`, not our entry symbol, and calls back into libvaccel's C API.
    #[error(
        "plugin {path}: this is an upstream C vAccel plugin (it exports `vaccel_plugin`); such plugins are served by programs linked with libvaccel (the C API, Python); this program loads plugins of the vAccel Rust plugin ABI {ABI_MAJOR}.{ABI_MINOR} (symbol `vaccel_plugin_entry`)"
    )]
    Upstream {
        /// The path.
        path: PathBuf,
    },
    /// An upstream C vAccel plugin that the foreign loader refused.
    #[error("plugin {path}: {reason}")]
    Foreign {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
        /// The vAccel code (`EINVAL` for a bad descriptor or version, the plugin's own
        /// code when its `init` failed).
        code: i32,
    },
    /// No entry symbol.
    #[error("plugin {path}: missing symbol `vaccel_plugin_entry`; not a vAccel plugin")]
    MissingEntry {
        /// The path.
        path: PathBuf,
    },
    /// The entry function returned NULL.
    #[error("plugin {path}: `vaccel_plugin_entry` returned NULL")]
    NullDescriptor {
        /// The path.
        path: PathBuf,
    },
    /// The descriptor was refused.
    #[error("plugin {path}: {source}")]
    Descriptor {
        /// The path.
        path: PathBuf,
        /// Why.
        source: DescriptorError,
    },
}

impl LoadError {
    /// The vAccel error code: `ENOENT` for a missing file, `ELIBBAD` otherwise.
    pub fn code(&self) -> i32 {
        match self {
            LoadError::NotFound { .. } => code::ENOENT,
            LoadError::Foreign { code, .. } => *code,
            LoadError::Open { .. }
            | LoadError::Upstream { .. }
            | LoadError::MissingEntry { .. }
            | LoadError::NullDescriptor { .. }
            | LoadError::Descriptor { .. } => code::ELIBBAD,
        }
    }
}

/// Load the plugin at `path` (a path, or a bare soname searched the `dlopen` way).
///
/// The library is opened `RTLD_NOW | RTLD_LOCAL`: unresolved symbols fail here, with a
/// message, instead of in the middle of a call, and plugins cannot see each other's symbols.
///
/// # Errors
/// [`LoadError`] naming the file and the reason.
pub fn load(path: &Path) -> Result<PluginHandle, LoadError> {
    let is_path = path.components().count() > 1 || path.is_absolute();
    if is_path && !path.exists() {
        return Err(LoadError::NotFound {
            path: path.to_owned(),
        });
    }
    let flags = libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL;
    // SAFETY: loading a shared object runs its initialisers. Which files are loaded is the
    // operator's choice (VACCEL_PLUGINS), the same trust as upstream vAccel's dlopen.
    let lib = unsafe { libloading::os::unix::Library::open(Some(path), flags) }.map_err(|e| {
        LoadError::Open {
            path: path.to_owned(),
            reason: dl_reason(&e),
        }
    })?;
    let lib: libloading::Library = lib.into();
    // SAFETY: the symbol is declared by the ABI as `EntryFn`; its type is checked by
    // contract (a wrong type is caught by the ABI version check on what it returns).
    let entry = match unsafe { lib.get::<EntryFn>(ENTRY_SYMBOL) } {
        Ok(sym) => *sym,
        Err(_) => {
            // SAFETY: only probing for the symbol's existence; it is never called.
            let upstream = unsafe { lib.get::<*const u8>(UPSTREAM_SYMBOL) }.is_ok();
            return Err(if upstream {
                if let Some(foreign) = FOREIGN_LOADER.get() {
                    return foreign(path, lib);
                }
                LoadError::Upstream {
                    path: path.to_owned(),
                }
            } else {
                LoadError::MissingEntry {
                    path: path.to_owned(),
                }
            });
        }
    };
    // SAFETY: the entry function takes no arguments and returns a pointer to a static
    // descriptor inside the library, which `lib` keeps mapped.
    let desc = unsafe { entry() };
    if desc.is_null() {
        return Err(LoadError::NullDescriptor {
            path: path.to_owned(),
        });
    }
    // SAFETY: `desc` is non-null and points into `lib`, which the handle keeps alive.
    unsafe { PluginHandle::from_raw(desc, Some(lib)) }.map_err(|source| LoadError::Descriptor {
        path: path.to_owned(),
        source,
    })
}

fn dl_reason(e: &libloading::Error) -> String {
    // libloading wraps dlerror() text; show only that.
    let s = e.to_string();
    s.strip_prefix("dlopen failed: ")
        .map(str::to_owned)
        .unwrap_or(s)
}
