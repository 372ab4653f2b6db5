//! The plugin registry: which plugins are loaded, in what priority order, and how a session
//! is bound and routed.
//!
//! Order: the entries of `VACCEL_PLUGINS` in the order given (shared objects, or names of
//! built-ins), then the remaining built-ins in the order the face registered them. A
//! dynamic plugin with a built-in's name replaces that built-in.
//!
//! Binding (once per session, from its hint — upstream's rules, adapted to built-ins):
//! * `REMOTE` set → the first plugin whose type has `REMOTE`;
//! * other type bits set → the first plugin whose type shares one of them;
//! * no bits → the first plugin in priority order that is not a debug plugin loaded only
//!   as a built-in.
//!
//! Routing (once per session, per op): the bound plugin if it has the op; otherwise the
//! next plugin in priority order that has it. Debug plugins (`noop`) come last, and only
//! when named in `VACCEL_PLUGINS` or asked for with the `DEBUG` hint, so they never answer
//! for an op a real plugin implements. Remote plugins are only used when bound (a call
//! through them needs the remote session their `session_init` created).

use crate::error::{Error, Result};
use std::path::PathBuf;
use std::sync::Arc;
use vaccel_plugin::{OP_MAX, OpSet, OpType, PluginHandle, plugin_type};

/// Where a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// Linked into this program.
    Builtin,
    /// Loaded from a shared object.
    Dynamic(PathBuf),
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::Builtin => f.write_str("built-in"),
            PluginSource::Dynamic(p) => write!(f, "dynamic ({})", p.display()),
        }
    }
}

/// An initialised plugin, finalised (`fini`) when the last runtime holding it goes away
/// (runtimes extended with [`crate::Runtime::with_plugins`] share their plugins).
#[derive(Debug)]
pub(crate) struct Live(pub(crate) PluginHandle);

impl Drop for Live {
    fn drop(&mut self) {
        if let Err(e) = self.0.fini() {
            tracing::warn!(plugin = self.0.name(), code = e.code, "plugin fini failed");
        }
    }
}

impl std::ops::Deref for Live {
    type Target = PluginHandle;
    fn deref(&self) -> &PluginHandle {
        &self.0
    }
}

/// A loaded plugin.
#[derive(Debug, Clone)]
pub struct LoadedPlugin {
    pub(crate) handle: Arc<Live>,
    pub(crate) source: PluginSource,
    /// Named in `VACCEL_PLUGINS`.
    pub(crate) explicit: bool,
}

impl LoadedPlugin {
    /// Name.
    pub fn name(&self) -> &str {
        self.handle.name()
    }
    /// Version.
    pub fn version(&self) -> &str {
        self.handle.version()
    }
    /// Description.
    pub fn description(&self) -> &str {
        self.handle.description()
    }
    /// `VACCEL_PLUGIN_*` bits.
    pub fn plugin_type(&self) -> u32 {
        self.handle.plugin_type()
    }
    /// Ops implemented.
    pub fn ops(&self) -> OpSet {
        self.handle.ops()
    }
    /// Built-in or dynamic.
    pub fn source(&self) -> &PluginSource {
        &self.source
    }
    /// Named in `VACCEL_PLUGINS`.
    pub fn explicit(&self) -> bool {
        self.explicit
    }
    /// ABI (major, minor) it was built for.
    pub fn abi(&self) -> (u32, u32) {
        self.handle.abi()
    }
    fn is_debug(&self) -> bool {
        self.plugin_type() & plugin_type::DEBUG != 0
    }
    /// Whether it is a transport (`REMOTE`): its ops run elsewhere.
    pub fn is_remote(&self) -> bool {
        self.plugin_type() & plugin_type::REMOTE != 0
    }
}

/// Per-op plugin choice for one session: index into the registry, or none.
pub(crate) type Routes = [Option<u16>; OP_MAX as usize];

/// Loaded plugins in priority order.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    pub(crate) plugins: Vec<LoadedPlugin>,
}

impl Registry {
    fn describe(&self) -> String {
        if self.plugins.is_empty() {
            return "none".into();
        }
        self.plugins
            .iter()
            .map(|p| format!("{} ({})", p.name(), plugin_type::describe(p.plugin_type())))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The plugin a session with `hint` binds to.
    pub(crate) fn bind(&self, hint: u32) -> Result<usize> {
        let found = if hint & plugin_type::REMOTE != 0 {
            self.plugins.iter().position(LoadedPlugin::is_remote)
        } else if hint & plugin_type::ALL != 0 {
            self.plugins
                .iter()
                .position(|p| p.plugin_type() & hint != 0)
                .or_else(|| {
                    // As upstream: a type hint no plugin matches falls back to the first
                    // local plugin (then to whatever a hint of 0 would pick).
                    let fallback = self
                        .plugins
                        .iter()
                        .position(|p| !p.is_remote() && (!p.is_debug() || p.explicit))
                        .or_else(|| self.bind(0).ok());
                    if let Some(i) = fallback {
                        tracing::info!(
                            hint,
                            plugin = self.plugins[i].name(),
                            "no plugin of type {}: using the first local plugin",
                            plugin_type::describe(hint)
                        );
                    }
                    fallback
                })
        } else {
            self.plugins
                .iter()
                .position(|p| !p.is_debug() || p.explicit)
        };
        found.ok_or_else(|| Error::NoPluginForHint {
            hint,
            names: plugin_type::describe(hint),
            loaded: self.describe(),
        })
    }

    /// The per-op routes of a session bound to `bound` with `hint`.
    pub(crate) fn routes(&self, bound: usize, hint: u32) -> Routes {
        let mut routes: Routes = [None; OP_MAX as usize];
        for op in OpType::ALL {
            routes[op.raw() as usize] = self.route(bound, hint, *op).map(|i| i as u16);
        }
        routes
    }

    /// The plugin that runs `op` for a session bound to `bound` with `hint`: the bound
    /// one if it has the op, else the first real local plugin that has it, else a debug
    /// plugin when named or asked for.
    pub(crate) fn route(&self, bound: usize, hint: u32, op: OpType) -> Option<usize> {
        let has = |p: &LoadedPlugin| p.ops().contains(op);
        if has(&self.plugins[bound]) {
            return Some(bound);
        }
        let wants_debug = hint & plugin_type::DEBUG != 0;
        self.plugins
            .iter()
            .position(|p| has(p) && !p.is_debug() && !p.is_remote())
            .or_else(|| {
                self.plugins
                    .iter()
                    .position(|p| has(p) && p.is_debug() && (p.explicit || wants_debug))
            })
    }
}
