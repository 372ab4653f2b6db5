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
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;
use vaccel_plugin::ops::{self, ImageOp};
use vaccel_plugin::tensor::TENSOR_TYPE_ID;
use vaccel_plugin::{
    ArgType, Args, Classification, ImageOutput, OpType, ResourceTable, SessionCtx, Tensor,
};

static NEXT_ID: AtomicI64 = AtomicI64::new(1);
static EMPTY_TABLE: LazyLock<ResourceTable> = LazyLock::new(ResourceTable::empty);

struct SessionInner {
    id: i64,
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

fn cstring(what: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Invalid(format!("{what} {s:?} contains a NUL byte")))
}

impl SessionInner {
    fn plugin_error(
        &self,
        idx: usize,
        what: impl Into<String>,
        e: vaccel_plugin::CallError,
    ) -> Error {
        let plugin = &self.rt.inner.registry.plugins[idx];
        if plugin.plugin_type() & vaccel_plugin::plugin_type::REMOTE != 0 {
            // A transport's message already says what failed where (on the agent, or the
            // connection itself); another prefix would only hide it.
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
        let registry = &rt.inner.registry;
        let bound = registry.bind(hint)?;
        let routes = registry.routes(bound, hint);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let plugin = &registry.plugins[bound];
        plugin
            .handle
            .session_init(id, hint)
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
        Ok(Session {
            inner: Arc::new(SessionInner {
                id,
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
        let table = ResourceTable::new(registered.iter().map(|r| r.inner.host.clone()).collect());
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
        let mut registered = lock(&self.inner.registered);
        if registered.iter().any(|r| r.id() == resource.id()) {
            return Err(Error::AlreadyRegistered {
                resource: resource.id(),
                session: self.id(),
            });
        }
        let plugin = &self.plugin().handle;
        let table = self.inner.table.load();
        let ctx = SessionCtx {
            id: self.id(),
            hint: self.hint(),
            resources: &table,
        };
        plugin
            .resource_register(&ctx, &resource.inner.host)
            .map_err(|e| {
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
        let idx = self.inner.routes[op.raw() as usize].ok_or(Error::NoPlugin { op })? as usize;
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
        let id = match first.len() {
            1 => u64::from(first[0]),
            2 => u64::from(u16::from_ne_bytes([first[0], first[1]])),
            4 => u64::from(u32::from_ne_bytes(first[..4].try_into().expect("4 bytes"))),
            8 => u64::from_ne_bytes(first[..8].try_into().expect("8 bytes")),
            n => {
                return Err(Error::GenopOpArg(format!(
                    "read arg 0 (the op type) must be a uint8, got {n} bytes of type {ty}"
                )));
            }
        };
        let op = u32::try_from(id)
            .ok()
            .and_then(OpType::from_raw)
            .ok_or(Error::UnknownOp { id })?;
        self.call(op, &mut rest, write)
    }

    /// `noop`.
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn noop(&self) -> Result<()> {
        self.call(OpType::Noop, &mut Args::new(), &mut Args::new())
    }

    /// `exec`: call `symbol` in `library` with the function's own arguments.
    ///
    /// # Errors
    /// As [`Session::call`]; a non-zero return of the function is the error's code.
    pub fn exec(
        &self,
        library: &str,
        symbol: &str,
        read: &mut Args<'_>,
        write: &mut Args<'_>,
    ) -> Result<()> {
        let lib = cstring("library", library)?;
        let sym = cstring("symbol", symbol)?;
        let mut r = Args::with_capacity(2 + read.len());
        r.string(&lib).string(&sym).extend_from(read);
        self.call(OpType::Exec, &mut r, write)
    }

    /// `exec_with_resource`: call `symbol` in a registered LIB resource.
    ///
    /// # Errors
    /// As [`Session::exec`]; `ENOENT` when `library` is not registered with this session.
    pub fn exec_with_resource(
        &self,
        library: &Resource,
        symbol: &str,
        read: &mut Args<'_>,
        write: &mut Args<'_>,
    ) -> Result<()> {
        let sym = cstring("symbol", symbol)?;
        let id = library.id();
        let mut r = Args::with_capacity(2 + read.len());
        r.scalar(&id).string(&sym).extend_from(read);
        self.call(OpType::ExecWithResource, &mut r, write)
    }

    /// `image_classify` on encoded image bytes (JPEG, PNG …): the best class, as upstream's
    /// text, plus the ranked list.
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn image_classify(&self, image: &[u8]) -> Result<Classification> {
        self.image_classify_top(image, 1)
    }

    /// `image_classify` ranking the `top_k` best classes (1–1000).
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn image_classify_top(&self, image: &[u8], top_k: usize) -> Result<Classification> {
        let k = i32::try_from(top_k)
            .map_err(|_| Error::Invalid(format!("top_k {top_k} is too large")))?;
        let mut text = vec![0u8; 4096];
        let mut name = vec![0u8; 1024];
        // Room for k lines of index, score and a label of up to ~240 bytes.
        let mut top = vec![0u8; top_k.saturating_mul(256).clamp(256, 1 << 20)];
        let mut r = Args::new();
        r.bytes(image, ArgType::Buffer).scalar(&k);
        let mut w = Args::new();
        w.bytes_mut(&mut name, ArgType::UcharArray)
            .bytes_mut(&mut text, ArgType::UcharArray)
            .bytes_mut(&mut top, ArgType::UcharArray);
        self.call(OpType::ImageClassify, &mut r, &mut w)?;
        drop(w);
        Ok(Classification {
            text: c_text(&text),
            imgname: c_text(&name),
            top: Classification::parse_top(&c_text(&top)),
        })
    }

    /// `image_detect` / `_segment` / `_pose` / `_depth`: the output image name and, for
    /// detection, the boxes found.
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn image_op(&self, op: ImageOp, image: &[u8]) -> Result<ImageOutput> {
        let mut name = vec![0u8; 4096];
        let mut results = vec![0u8; 1 << 20];
        let mut r = Args::new();
        r.bytes(image, ArgType::Buffer);
        let mut w = Args::new();
        w.bytes_mut(&mut name, ArgType::UcharArray)
            .bytes_mut(&mut results, ArgType::UcharArray);
        self.call(op.op(), &mut r, &mut w)?;
        drop(w);
        Ok(ImageOutput {
            imgname: c_text(&name),
            detections: ImageOutput::parse_results(&c_text(&results)),
        })
    }

    /// Prepare a registered MODEL resource for runs (`torch_model_load`).
    ///
    /// # Errors
    /// As [`Session::call`]; `ENOTSUP` naming the format when no plugin can run it.
    pub fn model_load(&self, model: &Resource) -> Result<()> {
        self.model_op(OpType::TorchModelLoad, model.id())
    }

    /// Release a loaded model (`tflite_model_unload`; the framework ids are
    /// interchangeable for the onnx plugin).
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn model_unload(&self, model: &Resource) -> Result<()> {
        self.model_op(OpType::TfliteModelUnload, model.id())
    }

    /// Run a registered model: tensors in, its first `nr_outputs` outputs out
    /// (`torch_model_run`).
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn model_run(
        &self,
        model: &Resource,
        inputs: &[Tensor],
        nr_outputs: usize,
    ) -> Result<Vec<Tensor>> {
        self.tensor_run(OpType::TorchModelRun, model.id(), inputs, nr_outputs)
    }

    /// A model load / unload op by id (the C API's framework entry points).
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn model_op(&self, op: OpType, model_id: i64) -> Result<()> {
        let mut r = Args::with_capacity(1);
        r.scalar(&model_id);
        self.call(op, &mut r, &mut Args::new())
    }

    /// A model run op by id. Output buffers start at 1 MiB each; if the plugin reports
    /// `ERANGE` with the sizes it needs, the call is repeated once with those.
    ///
    /// # Errors
    /// As [`Session::call`]; [`Error::Backend`] for a malformed output tensor.
    pub fn tensor_run(
        &self,
        op: OpType,
        model_id: i64,
        inputs: &[Tensor],
        nr_outputs: usize,
    ) -> Result<Vec<Tensor>> {
        let encoded: Vec<Vec<u8>> = inputs.iter().map(Tensor::encode).collect();
        let mut capacity = vec![1usize << 20; nr_outputs];
        for attempt in 0..2 {
            let mut bufs: Vec<Vec<u8>> = capacity.iter().map(|c| vec![0u8; *c]).collect();
            let mut r = Args::with_capacity(1 + encoded.len());
            r.scalar(&model_id);
            for e in &encoded {
                r.custom(e, TENSOR_TYPE_ID);
            }
            let mut w = Args::with_capacity(nr_outputs);
            for b in bufs.iter_mut() {
                w.custom_mut(b, TENSOR_TYPE_ID);
            }
            let result = self.call(op, &mut r, &mut w);
            let sizes: Vec<usize> = w.as_slice().iter().map(|a| a.size).collect();
            drop(w);
            match result {
                Ok(()) => {
                    return bufs
                        .iter()
                        .zip(&sizes)
                        .enumerate()
                        .map(|(i, (b, n))| {
                            Tensor::decode(&b[..(*n).min(b.len())]).map_err(|m| {
                                Error::Backend(format!("{op}: output tensor {i} is malformed: {m}"))
                            })
                        })
                        .collect();
                }
                Err(e) if e.code() == vaccel_plugin::code::ERANGE && attempt == 0 => {
                    capacity = sizes
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("the second attempt returns")
    }

    /// Row-major `C = alpha·A·B + beta·C` (`blas_sgemm`).
    ///
    /// # Errors
    /// As [`Session::call`]; dimensions that do not fit the slices are `EINVAL`.
    #[allow(clippy::too_many_arguments)]
    pub fn sgemm(
        &self,
        m: i64,
        n: i64,
        k: i64,
        alpha: f32,
        a: &[f32],
        lda: i64,
        b: &[f32],
        ldb: i64,
        beta: f32,
        c: &mut [f32],
        ldc: i64,
    ) -> Result<()> {
        let mut r = Args::with_capacity(10);
        r.scalar(&m)
            .scalar(&n)
            .scalar(&k)
            .scalar(&alpha)
            .slice(a)
            .scalar(&lda)
            .slice(b)
            .scalar(&ldb)
            .scalar(&beta)
            .scalar(&ldc);
        let mut w = Args::with_capacity(1);
        w.slice_mut(c);
        self.call(OpType::BlasSgemm, &mut r, &mut w)
    }

    /// `minmax`: returns (min, max); `output` receives the processed values.
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn minmax(
        &self,
        input: &[f64],
        low: i32,
        high: i32,
        output: &mut [f64],
    ) -> Result<(f64, f64)> {
        let n = i32::try_from(input.len())
            .map_err(|_| Error::Overflow("minmax input length".into()))?;
        let (mut min, mut max) = (0f64, 0f64);
        let mut r = Args::with_capacity(4);
        r.slice(input).scalar(&n).scalar(&low).scalar(&high);
        let mut w = Args::with_capacity(3);
        w.slice_mut(output)
            .scalar_mut(&mut min)
            .scalar_mut(&mut max);
        self.call(OpType::Minmax, &mut r, &mut w)?;
        drop(w);
        Ok((min, max))
    }
}

fn c_text(buf: &[u8]) -> String {
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
