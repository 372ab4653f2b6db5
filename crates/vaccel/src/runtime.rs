//! [`Runtime`]: the loaded plugins and the configuration. Sessions are created against a
//! runtime; a process usually has one (the C API keeps one per process), tests make as many
//! as they like.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::registry::{Live, LoadedPlugin, PluginSource, Registry};
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
        // Finalise in reverse priority order (each plugin when its last runtime goes).
        while self.registry.plugins.pop().is_some() {}
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
        let mut pending: Vec<Pending> = Vec::new();
        for entry in &self.config.plugins {
            let loaded = if looks_like_file(entry) {
                let p = Pending::load(entry)?;
                let i = builtins
                    .iter()
                    .position(|b| b.as_ref().is_some_and(|b| b.name() == p.handle.name()));
                if let Some(i) = i {
                    tracing::debug!(
                        plugin = p.handle.name(),
                        path = entry.as_str(),
                        "dynamic plugin replaces the built-in of the same name"
                    );
                    builtins[i] = None;
                }
                p
            } else {
                let i = builtins
                    .iter()
                    .position(|b| b.as_ref().is_some_and(|b| b.name() == entry));
                match i.and_then(|i| builtins[i].take()) {
                    Some(handle) => Pending {
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
            check_unique(
                entry,
                pending.iter().map(|p| (p.handle.name(), &p.source)),
                &loaded,
            )?;
            pending.push(loaded);
        }
        pending.extend(builtins.into_iter().flatten().map(|handle| Pending {
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
        for p in pending {
            let loaded = p.init(inner.config.log_level)?;
            inner.registry.plugins.push(loaded);
        }
        Ok(Runtime {
            inner: Arc::new(inner),
        })
    }
}

fn looks_like_file(entry: &str) -> bool {
    entry.contains('/') || entry.contains(".so")
}

/// A plugin loaded but not yet initialised.
struct Pending {
    handle: PluginHandle,
    source: PluginSource,
    explicit: bool,
}

impl Pending {
    /// Load a shared object named in `VACCEL_PLUGINS` (or given to `with_plugins`).
    fn load(entry: &str) -> Result<Pending> {
        Ok(Pending {
            handle: loader::load(Path::new(entry))?,
            source: PluginSource::Dynamic(entry.into()),
            explicit: true,
        })
    }

    fn init(self, log_level: u32) -> Result<LoadedPlugin> {
        let forward_logs = matches!(self.source, PluginSource::Dynamic(_));
        if let Err(e) = self.handle.init(log_level, forward_logs) {
            return Err(Error::PluginInit {
                plugin: self.handle.name().into(),
                code: e.code,
                message: e.message,
            });
        }
        tracing::debug!(plugin = self.handle.name(), version = self.handle.version(), source = %self.source, "plugin loaded");
        Ok(LoadedPlugin {
            handle: Arc::new(Live(self.handle)),
            source: self.source,
            explicit: self.explicit,
        })
    }
}

/// Refuse a second plugin of the same name.
fn check_unique<'a>(
    entry: &str,
    mut loaded: impl Iterator<Item = (&'a str, &'a PluginSource)>,
    new: &Pending,
) -> Result<()> {
    match loaded.find(|(name, _)| *name == new.handle.name()) {
        Some((name, source)) => Err(Error::PluginExists {
            entry: entry.to_owned(),
            name: name.to_owned(),
            from: source.to_string(),
        }),
        None => Ok(()),
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

    /// This runtime with more plugins (shared objects, as `VACCEL_PLUGINS` names them)
    /// loaded after its own, at the lowest priority — upstream's `vaccel_plugin_load`.
    /// The plugins already loaded are shared, not loaded again; sessions of this runtime
    /// keep the plugins they were created with.
    ///
    /// # Errors
    /// As [`RuntimeBuilder::build`]: a file that cannot be loaded or initialised, a name
    /// already loaded; nothing is added then.
    pub fn with_plugins(&self, entries: &[String]) -> Result<Runtime> {
        let mut plugins = self.inner.registry.plugins.clone();
        for entry in entries {
            if !looks_like_file(entry) {
                return Err(Error::PluginEntry {
                    entry: entry.clone(),
                    reason: "not a path to a shared object (built-in plugins are loaded already)"
                        .into(),
                });
            }
            if let Some(p) = plugins
                .iter()
                .find(|p| p.source == PluginSource::Dynamic(entry.into()))
            {
                return Err(Error::PluginExists {
                    entry: entry.clone(),
                    name: p.name().to_owned(),
                    from: p.source.to_string(),
                });
            }
            let p = Pending::load(entry)?;
            check_unique(entry, plugins.iter().map(|p| (p.name(), &p.source)), &p)?;
            plugins.push(p.init(self.inner.config.log_level)?);
        }
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                config: self.inner.config.clone(),
                registry: Registry { plugins },
            }),
        })
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
