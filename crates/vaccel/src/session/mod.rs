//! [`Session`]: a client's context. It is bound to a plugin chosen from its hint, owns its
//! resource registrations, and runs ops: each op is checked against its argument layout,
//! routed to the plugin chosen for it when the session was created, and timed when
//! profiling is on.

use crate::error::{Error, Result};
use crate::prof::{Profile, Region};
use crate::registry::{LoadedPlugin, Routes};
use crate::resource::Resource;
use crate::runtime::Runtime;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;
use vaccel_plugin::ops;
use vaccel_plugin::{Args, OpType, ResourceTable, SessionCtx};

static NEXT_ID: AtomicI64 = AtomicI64::new(1);
static EMPTY_TABLE: LazyLock<ResourceTable> = LazyLock::new(ResourceTable::empty);

struct SessionInner {
    id: i64,
    /// The id a transport's remote side gave it (0: none).
    remote_id: i64,
    hint: u32,
    rt: Runtime,
    bound: usize,
    routes: Routes,
    /// What calls hand to plugins; replaced whole on (un)registration.
    table: ArcSwap<ResourceTable>,
    /// Whether `table` is non-empty: calls of sessions without resources (most) skip
    /// loading it.
    has_resources: AtomicBool,
    registered: Mutex<Vec<Resource>>,
    profile: Option<Mutex<Profile>>,
    released: AtomicBool,
    /// Plugins (by registry index, below 64) other than the bound one that ran an op for
    /// this session; they hear about its release too.
    served: AtomicU64,
}

/// A session. Clones share it. All methods are thread-safe; ops from several threads run
/// concurrently (plugins must be thread-safe, see docs/PLUGINS.md).
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.inner.id)
            .field("hint", &self.inner.hint)
            .field("plugin", &self.plugin().name())
            .finish()
    }
}

use vaccel_plugin::sync::lock;

impl SessionInner {
    fn plugin_error(
        &self,
        idx: usize,
        what: impl Into<String>,
        e: vaccel_plugin::CallError,
    ) -> Error {
        let plugin = &self.rt.inner.registry.plugins[idx];
        if e.relayed {
            // A message relayed from elsewhere (a transport's agent, its connection)
            // already says what failed where; another prefix would only hide it.
            return Error::Remote {
                plugin: plugin.name().into(),
                code: e.code,
                message: e.message,
            };
        }
        Error::Plugin {
            plugin: plugin.name().into(),
            what: what.into(),
            code: e.code,
            message: e.message,
        }
    }

    fn release(&self) -> Result<()> {
        if self.released.swap(true, Ordering::AcqRel) {
            return Err(Error::SessionReleased(self.id));
        }
        let plugin = &self.rt.inner.registry.plugins[self.bound].handle;
        let resources = std::mem::take(&mut *lock(&self.registered));
        let mut first_err = None;
        for r in &resources {
            lock(&r.inner.sessions).retain(|s| *s != self.id);
            if let Err(e) = plugin.resource_unregister(self.id, r.id()) {
                first_err.get_or_insert(self.plugin_error(self.bound, "resource_unregister", e));
            }
        }
        self.has_resources.store(false, Ordering::Release);
        self.table.store(Arc::new(ResourceTable::empty()));
        if let Err(e) = plugin.session_release(self.id) {
            first_err.get_or_insert(self.plugin_error(self.bound, "session_release", e));
        }
        let served = self.served.load(Ordering::Acquire);
        for (idx, other) in self.rt.inner.registry.plugins.iter().enumerate().take(64) {
            if idx != self.bound
                && served & (1u64 << idx) != 0
                && let Err(e) = other.handle.session_release(self.id)
            {
                first_err.get_or_insert(self.plugin_error(idx, "session_release", e));
            }
        }
        if let Some(p) = &self.profile {
            for r in lock(p).regions() {
                tracing::info!(
                    session = self.id,
                    op = %r.op,
                    count = r.count,
                    total_ns = r.total_ns,
                    mean_ns = r.mean_ns(),
                    min_ns = r.min_ns,
                    max_ns = r.max_ns,
                    "profile"
                );
            }
        }
        tracing::debug!(session = self.id, "session released");
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for SessionInner {
    fn drop(&mut self) {
        if !self.released.load(Ordering::Acquire) {
            let _ = self.release();
        }
    }
}

impl Session {
    /// Create a session bound to the plugin `hint` selects (see the registry's rules).
    ///
    /// # Errors
    /// [`Error::NoPluginForHint`]; the bound plugin's `session_init` failure.
    pub fn new(rt: &Runtime, hint: u32) -> Result<Session> {
        Self::with_id(rt, hint, NEXT_ID.fetch_add(1, Ordering::Relaxed))
    }

    /// The same session rebound by a new hint (upstream's `vaccel_session_update`): it
    /// keeps its id; this one is released. Refused for a session with registered
    /// resources, or on a transport (its remote side cannot be rebound), as upstream.
    ///
    /// # Errors
    /// [`Error::NotOffered`] in those cases; as [`Session::new`] for the new binding.
    pub fn rebind(&self, hint: u32) -> Result<Session> {
        self.check_live()?;
        if self.inner.has_resources.load(Ordering::Acquire) {
            return Err(Error::NotOffered(format!(
                "session {} has registered resources: unregister them before changing its hint",
                self.id()
            )));
        }
        if self.plugin().is_remote() {
            return Err(Error::NotOffered(format!(
                "session {} runs on a remote agent, which cannot rebind it",
                self.id()
            )));
        }
        // Check the new binding before giving up the old one.
        self.inner.rt.inner.registry.bind(hint)?;
        self.release()?;
        Self::with_id(&self.inner.rt, hint, self.id())
    }

    fn with_id(rt: &Runtime, hint: u32, id: i64) -> Result<Session> {
        let registry = &rt.inner.registry;
        let bound = registry.bind(hint)?;
        let routes = registry.routes(bound, hint);
        let plugin = &registry.plugins[bound];
        // As upstream: a transport is told the session's hint without the REMOTE bit (the
        // remote side binds by the rest; REMOTE there would ask for another transport).
        let plugin_hint = if plugin.is_remote() {
            hint & !vaccel_plugin::plugin_type::REMOTE
        } else {
            hint
        };
        plugin
            .handle
            .session_init(id, plugin_hint)
            .map_err(|e| Error::Plugin {
                plugin: plugin.name().into(),
                what: "session_init".into(),
                code: e.code,
                message: e.message,
            })?;
        tracing::debug!(
            session = id,
            hint,
            plugin = plugin.name(),
            "session created"
        );
        let remote_id = plugin.handle.session_remote_id(id).unwrap_or(0);
        Ok(Session {
            inner: Arc::new(SessionInner {
                id,
                remote_id,
                hint,
                rt: rt.clone(),
                bound,
                routes,
                table: ArcSwap::from_pointee(ResourceTable::empty()),
                has_resources: AtomicBool::new(false),
                registered: Mutex::new(Vec::new()),
                profile: rt
                    .config()
                    .profiling_enabled
                    .then(|| Mutex::new(Profile::new())),
                released: AtomicBool::new(false),
                served: AtomicU64::new(0),
            }),
        })
    }

    /// Id (> 0, unique in the process).
    pub fn id(&self) -> i64 {
        self.inner.id
    }

    /// The id the remote side knows it by, for a session on a transport (0 otherwise).
    pub fn remote_id(&self) -> i64 {
        self.inner.remote_id
    }

    /// Hint flags it was created with.
    pub fn hint(&self) -> u32 {
        self.inner.hint
    }

    /// The plugin it is bound to.
    pub fn plugin(&self) -> &LoadedPlugin {
        &self.inner.rt.inner.registry.plugins[self.inner.bound]
    }

    /// The plugin that runs `op` for this session, if any.
    pub fn plugin_for(&self, op: OpType) -> Option<&LoadedPlugin> {
        self.inner.routes[op.raw() as usize]
            .map(|i| &self.inner.rt.inner.registry.plugins[i as usize])
    }

    /// The runtime it belongs to.
    pub fn runtime(&self) -> &Runtime {
        &self.inner.rt
    }

    fn check_live(&self) -> Result<()> {
        if self.inner.released.load(Ordering::Acquire) {
            Err(Error::SessionReleased(self.inner.id))
        } else {
            Ok(())
        }
    }

    fn rebuild_table(&self, registered: &[Resource]) {
        // Registered resources have their data (registering reads it).
        let table = ResourceTable::new(
            registered
                .iter()
                .filter_map(|r| r.host().ok().cloned())
                .collect(),
        );
        self.inner.table.store(Arc::new(table));
        self.inner
            .has_resources
            .store(!registered.is_empty(), Ordering::Release);
    }

    /// Register a resource: the session's plugins can use it from now on.
    ///
    /// # Errors
    /// [`Error::AlreadyRegistered`]; the bound plugin's refusal.
    pub fn register(&self, resource: &Resource) -> Result<()> {
        self.check_live()?;
        // Upstream reads a resource's data at registration: a deferred resource is read
        // now (once, before any lock is taken; its bytes never change after).
        resource.load()?;
        let mut registered = lock(&self.inner.registered);
        if registered.iter().any(|r| r.id() == resource.id()) {
            return Err(Error::AlreadyRegistered {
                resource: resource.id(),
                session: self.id(),
            });
        }
        let host = resource.host()?;
        let plugin = &self.plugin().handle;
        let table = self.inner.table.load();
        let ctx = SessionCtx {
            id: self.id(),
            hint: self.hint(),
            resources: &table,
            args_checked: false,
        };
        plugin.resource_register(&ctx, host).map_err(|e| {
            self.inner
                .plugin_error(self.inner.bound, "resource_register", e)
        })?;
        registered.push(resource.clone());
        lock(&resource.inner.sessions).push(self.id());
        self.rebuild_table(&registered);
        Ok(())
    }

    /// Unregister a resource.
    ///
    /// # Errors
    /// [`Error::NotRegistered`]; the bound plugin's refusal (the resource is unregistered
    /// anyway).
    pub fn unregister(&self, resource: &Resource) -> Result<()> {
        self.check_live()?;
        let mut registered = lock(&self.inner.registered);
        let Some(pos) = registered.iter().position(|r| r.id() == resource.id()) else {
            return Err(Error::NotRegistered {
                resource: resource.id(),
                session: self.id(),
            });
        };
        registered.remove(pos);
        lock(&resource.inner.sessions).retain(|s| *s != self.id());
        self.rebuild_table(&registered);
        self.plugin()
            .handle
            .resource_unregister(self.id(), resource.id())
            .map_err(|e| {
                self.inner
                    .plugin_error(self.inner.bound, "resource_unregister", e)
            })
    }

    /// Whether `resource` is registered with this session.
    pub fn has_resource(&self, resource: &Resource) -> bool {
        lock(&self.inner.registered)
            .iter()
            .any(|r| r.id() == resource.id())
    }

    /// Registered resources.
    pub fn resources(&self) -> Vec<Resource> {
        lock(&self.inner.registered).clone()
    }

    /// Release the session: unregister its resources and tell its plugin. Dropping the
    /// last clone does the same; an explicit release reports errors.
    ///
    /// # Errors
    /// [`Error::SessionReleased`] the second time; a plugin's hook failure.
    pub fn release(&self) -> Result<()> {
        self.inner.release()
    }

    /// Profiling summary (empty unless `VACCEL_PROFILING_ENABLED`).
    pub fn profile(&self) -> Vec<Region> {
        self.inner
            .profile
            .as_ref()
            .map(|p| lock(p).regions())
            .unwrap_or_default()
    }

    /// Run `op` with arguments in its genop layout (see `docs/C-API.md`).
    ///
    /// # Errors
    /// [`Error::Args`] for arguments that do not fit; [`Error::NoPlugin`]; the plugin's
    /// error.
    pub fn call(&self, op: OpType, read: &mut Args<'_>, write: &mut Args<'_>) -> Result<()> {
        self.check_live()?;
        ops::check_args(op, read.as_slice(), write.as_slice())?;
        let Some(idx) = self.inner.routes[op.raw() as usize] else {
            return Err(Error::NoPlugin { op });
        };
        let idx = idx as usize;
        let plugin = &self.inner.rt.inner.registry.plugins[idx];
        if idx != self.inner.bound && idx < 64 {
            let bit = 1u64 << idx;
            // A load on the hot path; the read-modify-write only the first time.
            if self.inner.served.load(Ordering::Relaxed) & bit == 0 {
                self.inner.served.fetch_or(bit, Ordering::AcqRel);
            }
        }
        tracing::debug!(session = self.inner.id, op = %op, plugin = plugin.name(), "dispatch");
        let table = self
            .inner
            .has_resources
            .load(Ordering::Acquire)
            .then(|| self.inner.table.load());
        let ctx = SessionCtx {
            id: self.inner.id,
            hint: self.inner.hint,
            resources: table.as_ref().map_or(&*EMPTY_TABLE, |t| &**t),
            // Checked above, against the layouts this runtime was built with.
            args_checked: true,
        };
        let started = self.inner.profile.as_ref().map(|_| Instant::now());
        let result = plugin.handle.call(&ctx, op, read, write);
        if let (Some(p), Some(t0)) = (&self.inner.profile, started) {
            lock(p).record(op, t0.elapsed());
        }
        result.map_err(|e| self.inner.plugin_error(idx, op.name(), e))
    }

    /// The generic op: `read[0]` holds the op type (an integer of 1, 2, 4 or 8 bytes, as
    /// upstream programs pass it); the rest are that op's arguments.
    ///
    /// # Errors
    /// [`Error::GenopOpArg`], [`Error::UnknownOp`], then as [`Session::call`].
    pub fn genop(&self, read: &mut Args<'_>, write: &mut Args<'_>) -> Result<()> {
        let Some((first, ty, mut rest)) = read.split_first() else {
            return Err(Error::GenopOpArg(
                "read arg 0 (the op type) is missing".into(),
            ));
        };
        let op = genop_op(&first, ty)?;
        self.call(op, &mut rest, write)
    }
}

/// The op a generic call names in its read arg 0 (`bytes`, of type `ty`): an integer of 1,
/// 2, 4 or 8 bytes, as upstream programs pass it.
///
/// # Errors
/// [`Error::GenopOpArg`] for another size, [`Error::UnknownOp`].
pub fn genop_op(bytes: &[u8], ty: u32) -> Result<OpType> {
    let id = match *bytes {
        [a] => u64::from(a),
        [a, b] => u64::from(u16::from_ne_bytes([a, b])),
        [a, b, c, d] => u64::from(u32::from_ne_bytes([a, b, c, d])),
        [a, b, c, d, e, f, g, h] => u64::from_ne_bytes([a, b, c, d, e, f, g, h]),
        _ => {
            return Err(Error::GenopOpArg(format!(
                "read arg 0 (the op type) must be a uint8, got {} bytes of type {ty}",
                bytes.len()
            )));
        }
    };
    u32::try_from(id)
        .ok()
        .and_then(OpType::from_raw)
        .ok_or(Error::UnknownOp { id })
}

mod typed;
