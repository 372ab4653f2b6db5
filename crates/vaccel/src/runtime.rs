//! [`Runtime`]: the loaded plugins and the configuration. Sessions are created against a
//! runtime; a process usually has one (the C API keeps one per process), tests make as many
//! as they like.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::registry::{LoadedPlugin, PluginSource, Registry};
use std::path::Path;
use std::sync::Arc;
use vaccel_plugin::abi::PluginDescriptor;
use vaccel_plugin::{OpType, PluginHandle, loader};

pub(crate) struct RuntimeInner {
    pub(crate) config: Config,
    pub(crate) registry: Registry,
}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        for p in self.registry.plugins.iter().rev() {
            if let Err(e) = p.handle.fini() {
                tracing::warn!(plugin = p.name(), code = e.code, "plugin fini failed");
            }
        }
    }
}

/// The vAccel runtime: configuration plus loaded plugins. Cheap to clone (shared).
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<RuntimeInner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("plugins", &self.inner.registry.plugins)
            .finish()
    }
}

/// Builds a [`Runtime`]: the built-in plugins a face links in, and a configuration.
#[derive(Default)]
pub struct RuntimeBuilder {
    builtins: Vec<&'static PluginDescriptor>,
    config: Config,
}

impl RuntimeBuilder {
    /// Register a built-in plugin (lower priority than those named in `VACCEL_PLUGINS`,
    /// in registration order).
    pub fn builtin(mut self, desc: &'static PluginDescriptor) -> Self {
        self.builtins.push(desc);
        self
    }

    /// Use this configuration (default: [`Config::default`]).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Load and initialise the plugins.
    ///
    /// # Errors
    /// The first plugin that cannot be loaded or initialised, named; a `VACCEL_PLUGINS`
    /// entry that is neither a file nor a built-in; two plugins with the same name.
    pub fn build(self) -> Result<Runtime> {
        let mut builtins: Vec<Option<PluginHandle>> = self
            .builtins
            .iter()
            .map(|d| PluginHandle::from_static(d).map(Some))
            .collect::<Result<_, _>>()?;
        let mut plugins: Vec<LoadedPlugin> = Vec::new();
        for entry in &self.config.plugins {
            let looks_like_file = entry.contains('/') || entry.contains(".so");
            let loaded = if looks_like_file {
                let handle = loader::load(Path::new(entry))?;
                let i = builtins
                    .iter()
                    .position(|b| b.as_ref().is_some_and(|b| b.name() == handle.name()));
                if let Some(i) = i {
                    tracing::debug!(
                        plugin = handle.name(),
                        path = entry.as_str(),
                        "dynamic plugin replaces the built-in of the same name"
                    );
                    builtins[i] = None;
                }
                LoadedPlugin {
                    handle,
                    source: PluginSource::Dynamic(entry.into()),
                    explicit: true,
                }
            } else {
                let i = builtins
                    .iter()
                    .position(|b| b.as_ref().is_some_and(|b| b.name() == entry));
                match i.and_then(|i| builtins[i].take()) {
                    Some(handle) => LoadedPlugin {
                        handle,
                        source: PluginSource::Builtin,
                        explicit: true,
                    },
                    None => {
                        let known: Vec<String> = self
                            .builtins
                            .iter()
                            .filter_map(|d| PluginHandle::from_static(d).ok())
                            .map(|h| h.name().to_owned())
                            .collect();
                        return Err(Error::PluginEntry {
                            entry: entry.clone(),
                            reason: format!(
                                "not a path to a shared object and not a built-in plugin (built-ins: {}; already listed ones count once)",
                                if known.is_empty() {
                                    "none".to_string()
                                } else {
                                    known.join(", ")
                                }
                            ),
                        });
                    }
                }
            };
            if let Some(dup) = plugins.iter().find(|p| p.name() == loaded.name()) {
                return Err(Error::PluginEntry {
                    entry: entry.clone(),
                    reason: format!(
                        "a plugin named {:?} is already loaded from {}",
                        dup.name(),
                        dup.source
                    ),
                });
            }
            plugins.push(loaded);
        }
        plugins.extend(builtins.into_iter().flatten().map(|handle| LoadedPlugin {
            handle,
            source: PluginSource::Builtin,
            explicit: false,
        }));
        // Initialise in priority order; on failure the ones already initialised are
        // finalised by RuntimeInner's drop.
        let mut inner = RuntimeInner {
            config: self.config,
            registry: Registry::default(),
        };
        for p in plugins {
            let forward_logs = matches!(p.source, PluginSource::Dynamic(_));
            if let Err(e) = p.handle.init(inner.config.log_level, forward_logs) {
                return Err(Error::PluginInit {
                    plugin: p.name().into(),
                    code: e.code,
                    message: e.message,
                });
            }
            tracing::debug!(plugin = p.name(), version = p.version(), source = %p.source, "plugin loaded");
            inner.registry.plugins.push(p);
        }
        Ok(Runtime {
            inner: Arc::new(inner),
        })
    }
}

impl Runtime {
    /// Start building a runtime.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Loaded plugins, in priority order.
    pub fn plugins(&self) -> &[LoadedPlugin] {
        &self.inner.registry.plugins
    }

    /// The plugin a session created with `hint` would run `op` on (`None`: no plugin
    /// has it), without creating one — e.g. to learn whether an op would run remotely.
    ///
    /// # Errors
    /// [`crate::Error::NoPluginForHint`], as [`crate::Session::new`] would fail.
    pub fn plugin_for(&self, hint: u32, op: OpType) -> Result<Option<&LoadedPlugin>> {
        let registry = &self.inner.registry;
        let bound = registry.bind(hint)?;
        Ok(registry
            .route(bound, hint, op)
            .map(|i| &registry.plugins[i]))
    }
}
