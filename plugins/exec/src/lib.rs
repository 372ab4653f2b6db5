//! The exec plugin: runs `int fn(struct vaccel_arg *read, size_t nr_read,
//! struct vaccel_arg *write, size_t nr_write)` from a shared library.
//!
//! * `exec` opens the library by path (`VACCEL_EXEC_DLOPEN_MODE=lazy|now`, default `now`)
//!   and caches the handle for the life of the process.
//! * `exec_with_resource` takes the library from a registered LIB resource: its blobs are
//!   written to a private directory (mode 0700) named after their SHA-256, the extra blobs
//!   are opened first as dependencies (`RTLD_GLOBAL`), then the first blob (`RTLD_LOCAL`),
//!   where the symbol is looked up. Loaded resources are cached by content hash, so
//!   re-registering the same bytes costs nothing.
//!
//! The function's return value is the op's result: 0 is success; anything else is returned
//! to the caller as the error code, as upstream vAccel does.

#![forbid(unsafe_code)]

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use vaccel_plugin::native::{BindMode, NativeLibrary};
use vaccel_plugin::sdk::{ExecCall, ExecResourceCall, Host, Result};
use vaccel_plugin::sync::lock;
use vaccel_plugin::{Ctx, OpSet, OpType, Plugin, PluginError, code, plugin_type};

/// A resource's libraries, loaded.
struct LoadedResource {
    primary: NativeLibrary,
    _deps: Vec<NativeLibrary>,
}

/// The plugin.
pub struct Exec {
    mode: BindMode,
    by_path: Mutex<HashMap<PathBuf, Arc<NativeLibrary>>>,
    by_hash: Mutex<HashMap<[u8; 32], Arc<LoadedResource>>>,
}

fn bind_mode_from_env() -> Result<BindMode> {
    match std::env::var("VACCEL_EXEC_DLOPEN_MODE")
        .ok()
        .as_deref()
        .map(str::trim)
    {
        None | Some("") | Some("now") | Some("NOW") => Ok(BindMode::Now),
        Some("lazy") | Some("LAZY") => Ok(BindMode::Lazy),
        Some(other) => Err(PluginError::invalid(format!(
            "VACCEL_EXEC_DLOPEN_MODE={other:?}: expected \"lazy\" or \"now\""
        ))),
    }
}

/// A function's non-zero return is `VACCEL_EBACKEND` (upstream's code), its value in the
/// message.
fn check_status(rc: i32, what: &str) -> Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(PluginError::new(
            code::EBACKEND,
            format!("{what} returned {rc}"),
        ))
    }
}

/// Upstream's codes for what goes wrong before the call: a library that cannot be opened
/// is `VACCEL_EINVAL`, a missing symbol `VACCEL_ENOSYS` (the messages say which and why).
fn as_code(c: i32) -> impl FnOnce(PluginError) -> PluginError {
    move |e| PluginError::new(c, e.message)
}

/// `VACCEL_EXEC_DLCLOSE_ENABLED` (alias `VACCEL_EXEC_DLCLOSE`): close libraries after each
/// call (`1`/`true`) or keep them open (`0`/`false`); unset or unreadable: `default`.
fn dlclose_enabled(default: bool) -> bool {
    let value = std::env::var("VACCEL_EXEC_DLCLOSE_ENABLED")
        .or_else(|_| std::env::var("VACCEL_EXEC_DLCLOSE"))
        .ok();
    match value.as_deref().map(str::trim) {
        Some("1") => true,
        Some("0") => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            tracing::warn!(
                "VACCEL_EXEC_DLCLOSE_ENABLED={v:?}: expected 1/0 or true/false; using {default}"
            );
            default
        }
        None => default,
    }
}

/// A fresh private (0700) directory to unpack one resource's libraries into; removed
/// (with them) when dropped — once opened, a library's code stays mapped without its file,
/// so nothing is left behind however the process ends later.
struct Unpacked(PathBuf);

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn private_dir() -> Result<Unpacked> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = base.join(format!("vaccel-exec-{}-{nanos:x}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| {
            PluginError::new(
                code::EIO,
                format!("cannot create private directory {}: {e}", dir.display()),
            )
        })?;
    Ok(Unpacked(dir))
}

impl Exec {
    fn library(&self, path: &str) -> Result<Arc<NativeLibrary>> {
        let key = PathBuf::from(path);
        if let Some(lib) = lock(&self.by_path).get(&key) {
            return Ok(lib.clone());
        }
        let lib =
            Arc::new(NativeLibrary::open(&key, self.mode, false).map_err(as_code(code::EINVAL))?);
        Ok(lock(&self.by_path).entry(key).or_insert(lib).clone())
    }

    fn resource_library(&self, call: &ExecResourceCall<'_>) -> Result<Arc<LoadedResource>> {
        let blobs: Vec<_> = call.resource.blobs().collect();
        if blobs.is_empty() {
            return Err(PluginError::invalid(format!(
                "resource {} has no blobs",
                call.resource.id
            )));
        }
        // The key covers every blob's name and content (the runtime hashed the contents).
        let mut h = Sha256::new();
        for b in &blobs {
            h.update((b.name.len() as u64).to_le_bytes());
            h.update(b.name.as_bytes());
            h.update(b.sha256);
        }
        let hash: [u8; 32] = h.finalize().into();
        // Held across loading so two threads never unpack the same resource at once.
        let mut cache = lock(&self.by_hash);
        if let Some(r) = cache.get(&hash) {
            return Ok(r.clone());
        }
        // Unpacked for opening only: the directory goes when this returns.
        let unpacked = private_dir()?;
        let dir = &unpacked.0;
        let mut paths = Vec::with_capacity(blobs.len());
        for b in &blobs {
            if b.name.is_empty() || b.name.contains('/') || b.name == "." || b.name == ".." {
                return Err(PluginError::invalid(format!(
                    "resource blob name {:?} is not a plain file name",
                    b.name
                )));
            }
            let p = dir.join(b.name);
            std::fs::write(&p, b.data)
                .map_err(|e| PluginError::new(code::EIO, format!("{}: {e}", p.display())))?;
            paths.push(p);
        }
        // As upstream: the dependencies first, the main library last.
        let (main, deps) = paths.split_last().expect("at least one blob");
        let deps = deps
            .iter()
            .map(|p| NativeLibrary::open(p, self.mode, true).map_err(as_code(code::EINVAL)))
            .collect::<Result<Vec<_>>>()?;
        let primary = NativeLibrary::open(main, self.mode, false).map_err(as_code(code::EINVAL))?;
        tracing::debug!(resource = call.resource.id, dir = %dir.display(), "unpacked LIB resource");
        let loaded = Arc::new(LoadedResource {
            primary,
            _deps: deps,
        });
        cache.insert(hash, loaded.clone());
        Ok(loaded)
    }
}

impl Plugin for Exec {
    fn init(_host: &Host) -> Result<Self> {
        Ok(Exec {
            mode: bind_mode_from_env()?,
            by_path: Mutex::new(HashMap::new()),
            by_hash: Mutex::new(HashMap::new()),
        })
    }

    fn noop(&self, _ctx: &Ctx<'_>) -> Result<()> {
        Ok(())
    }

    fn exec(&self, ctx: &Ctx<'_>, mut call: ExecCall<'_>) -> Result<()> {
        let (library, symbol) = (call.library.as_str(), call.symbol.as_str());
        let lib = self.library(library)?;
        let f = lib.exec_fn(symbol).map_err(as_code(code::ENOSYS))?;
        tracing::debug!(session = ctx.session_id, library, symbol, "exec");
        let rc = f.call(&mut call.read, &mut call.write);
        if dlclose_enabled(false) {
            // Closed when the last call using it lets go.
            lock(&self.by_path).remove(Path::new(library));
        }
        check_status(rc, &format!("{library}:{symbol}"))
    }

    fn exec_with_resource(&self, ctx: &Ctx<'_>, mut call: ExecResourceCall<'_>) -> Result<()> {
        let loaded = self.resource_library(&call)?;
        let f = loaded
            .primary
            .exec_fn(call.symbol)
            .map_err(as_code(code::ENOSYS))?;
        tracing::debug!(
            session = ctx.session_id,
            resource = call.resource.id,
            symbol = call.symbol,
            "exec_with_resource"
        );
        let rc = f.call(&mut call.read, &mut call.write);
        if dlclose_enabled(true) {
            // As upstream, a resource's libraries are closed after each call by default
            // (unpacked again from the cache next time); closed when the last call using
            // them lets go.
            lock(&self.by_hash).retain(|_, r| !Arc::ptr_eq(r, &loaded));
        }
        check_status(
            rc,
            &format!("resource {}:{}", call.resource.id, call.symbol),
        )
    }
}

vaccel_plugin::declare_plugin! {
    plugin: Exec,
    name: "exec",
    description: "runs int fn(read, nr_read, write, nr_write) from shared libraries",
    plugin_type: plugin_type::CPU | plugin_type::SOFTWARE | plugin_type::GENERIC,
    ops: OpSet::of(&[OpType::Noop, OpType::Exec, OpType::ExecWithResource]),
}
