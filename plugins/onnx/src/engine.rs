//! ONNX Runtime, loaded once per process from its shared library (`ort`'s `load-dynamic`),
//! and the loaded-model cache: a model's bytes are hashed (SHA-256) and each distinct model
//! is loaded once, shared by every session that uses it.

use crate::assets;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use vaccel_plugin::sync::{lock, wait};
use vaccel_plugin::{PluginError, code};

/// A loaded model: a small pool of ONNX Runtime sessions on the same model bytes.
///
/// An ONNX Runtime session runs one call at a time (its `Run` is not safe to call
/// concurrently), so a model shared by many callers would make them take turns on one core.
/// The pool starts with one session and grows, only while callers actually wait, up to
/// `VACCEL_ONNX_SESSIONS` (default: the CPUs divided by `VACCEL_ONNX_THREADS`); each extra
/// session costs the model's size in memory once, not once per client.
pub struct Model {
    pool: Mutex<PoolState>,
    returned: Condvar,
    max: usize,
    /// Where the model's bytes can be read again to grow the pool, for models the plugin
    /// loaded from its own assets (callers of uploaded models pass the bytes they hold).
    file: Option<PathBuf>,
    /// Input names, in order.
    pub inputs: Vec<String>,
    /// Output names, in order.
    pub outputs: Vec<String>,
}

/// A model chosen for a call, with the bytes it was loaded from when the caller holds them
/// (an uploaded model's resource), so that its pool can grow without a copy.
pub struct Chosen<'a> {
    /// The loaded model.
    pub model: Arc<Model>,
    /// Its bytes, for models that came from a resource.
    pub bytes: Option<&'a [u8]>,
}

struct PoolState {
    idle: Vec<Session>,
    /// Sessions in existence (idle, lent out, or being built).
    total: usize,
    /// Building a session failed once (e.g. out of memory): the pool keeps its size.
    stop_growing: bool,
}

/// One session of a model's pool, lent to one run; it goes back to the pool when dropped.
pub struct Lease<'a> {
    model: &'a Model,
    session: Option<Session>,
}

impl Deref for Lease<'_> {
    type Target = Session;
    fn deref(&self) -> &Session {
        self.session
            .as_ref()
            .expect("a lease holds its session until dropped")
    }
}

impl DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut Session {
        self.session
            .as_mut()
            .expect("a lease holds its session until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            self.model.lock().idle.push(s);
            self.model.returned.notify_one();
        }
    }
}

impl Model {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        lock(&self.pool)
    }

    /// A session for one run: an idle one, a new one when all are busy and the pool may
    /// grow (built from `bytes`, or from the model's file), or the next one returned.
    pub fn session(&self, bytes: Option<&[u8]>) -> Lease<'_> {
        let mut pool = self.lock();
        let can_build = bytes.is_some() || self.file.is_some();
        if pool.idle.is_empty() && can_build && !pool.stop_growing && pool.total < self.max {
            pool.total += 1;
            drop(pool);
            match self.build(bytes) {
                Ok(s) => {
                    tracing::debug!(sessions = self.sessions(), "a model's session pool grew");
                    return Lease {
                        model: self,
                        session: Some(s),
                    };
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot add a session to a model's pool; callers share the ones it has");
                    pool = self.lock();
                    pool.total -= 1;
                    pool.stop_growing = true;
                }
            }
        }
        self.wait(pool)
    }

    fn wait<'a>(&'a self, mut pool: MutexGuard<'a, PoolState>) -> Lease<'a> {
        loop {
            if let Some(s) = pool.idle.pop() {
                return Lease {
                    model: self,
                    session: Some(s),
                };
            }
            pool = wait(&self.returned, pool);
        }
    }

    fn build(&self, bytes: Option<&[u8]>) -> Result<Session, String> {
        let engine = Engine::get().map_err(|e| e.to_string())?;
        match (bytes, &self.file) {
            (Some(b), _) => engine.session(b),
            (None, Some(path)) => {
                let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                engine.session(&b)
            }
            (None, None) => Err("no model bytes at hand".into()),
        }
    }

    /// Sessions the pool holds now.
    pub fn sessions(&self) -> usize {
        self.lock().total
    }
}

/// The process's ONNX Runtime and its models.
pub struct Engine {
    env: ort::environment::Environment,
    threads: usize,
    max_sessions: usize,
    models: Mutex<HashMap<[u8; 32], Arc<Model>>>,
}

static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();

fn count_from_env(name: &str, default: usize) -> Result<usize, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=256).contains(n))
            .ok_or_else(|| format!("{name}={v:?}: expected a number from 1 to 256")),
    }
}

impl Engine {
    /// The engine, starting ONNX Runtime on first use.
    ///
    /// # Errors
    /// `ENOTSUP` saying how to install ONNX Runtime when its library cannot be loaded.
    pub fn get() -> Result<&'static Engine, PluginError> {
        ENGINE
            .get_or_init(Self::start)
            .as_ref()
            .map_err(|e| PluginError::new(code::ENOTSUP, e.clone()))
    }

    fn start() -> Result<Engine, String> {
        let threads = count_from_env("VACCEL_ONNX_THREADS", 1)?;
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let max_sessions = count_from_env("VACCEL_ONNX_SESSIONS", (cpus / threads).max(1))?;
        let lib = assets::onnxruntime();
        if !lib.exists() {
            return Err(assets::missing("ONNX Runtime (libonnxruntime.so)", &lib));
        }
        let env = ort::init_from(&lib)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", lib.display()))?
            .with_name("vaccel")
            .build()
            .map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", lib.display()))?;
        tracing::debug!(library = %lib.display(), threads, max_sessions, "ONNX Runtime started");
        Ok(Engine {
            env,
            threads,
            max_sessions,
            models: Mutex::new(HashMap::new()),
        })
    }

    /// The most sessions one model's pool may hold (`VACCEL_ONNX_SESSIONS`).
    pub fn max_sessions(&self) -> usize {
        self.max_sessions
    }

    fn session(&self, bytes: &[u8]) -> Result<Session, String> {
        Session::builder(&self.env)
            .and_then(|b| Ok(b.with_optimization_level(GraphOptimizationLevel::Level3)?))
            .and_then(|b| Ok(b.with_intra_threads(self.threads)?))
            .and_then(|mut b| b.commit_from_memory(bytes))
            .map_err(|e| e.to_string())
    }

    /// The model with these bytes, loading it the first time.
    ///
    /// # Errors
    /// `EINVAL` naming `what` when the bytes are not a model ONNX Runtime accepts.
    pub fn model(
        &self,
        sha256: &[u8; 32],
        bytes: &[u8],
        what: &str,
    ) -> Result<Arc<Model>, PluginError> {
        self.model_from(sha256, bytes, None, what)
    }

    /// The model in the plugin's own file `path` (already read into `bytes`); its pool
    /// grows by reading the file again.
    ///
    /// # Errors
    /// As [`Engine::model`].
    pub fn model_in_file(
        &self,
        sha256: &[u8; 32],
        bytes: &[u8],
        path: PathBuf,
        what: &str,
    ) -> Result<Arc<Model>, PluginError> {
        self.model_from(sha256, bytes, Some(path), what)
    }

    fn model_from(
        &self,
        sha256: &[u8; 32],
        bytes: &[u8],
        file: Option<PathBuf>,
        what: &str,
    ) -> Result<Arc<Model>, PluginError> {
        if let Some(m) = lock(&self.models).get(sha256) {
            return Ok(m.clone());
        }
        if !looks_like_onnx(bytes) {
            return Err(PluginError::new(
                code::ENOTSUP,
                format!(
                    "{what} is not an ONNX model ({}); this plugin runs ONNX models only",
                    describe_format(bytes)
                ),
            ));
        }
        let session = self.session(bytes).map_err(|e| {
            PluginError::invalid(format!("{what}: ONNX Runtime cannot load it: {e}"))
        })?;
        let inputs = session
            .inputs()
            .iter()
            .map(|i| i.name().to_string())
            .collect();
        let outputs = session
            .outputs()
            .iter()
            .map(|o| o.name().to_string())
            .collect();
        let model = Arc::new(Model {
            pool: Mutex::new(PoolState {
                idle: vec![session],
                total: 1,
                stop_growing: false,
            }),
            returned: Condvar::new(),
            max: self.max_sessions,
            file,
            inputs,
            outputs,
        });
        tracing::debug!(model = what, "model loaded");
        let mut models = lock(&self.models);
        Ok(models.entry(*sha256).or_insert(model).clone())
    }

    /// Forget a model (the next use loads it again).
    pub fn unload(&self, sha256: &[u8; 32]) -> bool {
        lock(&self.models).remove(sha256).is_some()
    }
}

/// An ONNX model is a protobuf `ModelProto`; its first field on disk is `ir_version`
/// (field 1, varint: byte 0x08). Cheap check that refuses other formats with a clear error
/// before ONNX Runtime is asked.
fn looks_like_onnx(bytes: &[u8]) -> bool {
    bytes.len() > 16 && bytes[0] == 0x08
}

/// Name the format of a file that is not ONNX, from its magic bytes.
pub fn describe_format(bytes: &[u8]) -> &'static str {
    match bytes {
        [] => "it is empty",
        [0x50, 0x4b, 0x03, 0x04, ..] => "a zip archive, e.g. a TorchScript or PyTorch model",
        [0x80, 0x02..=0x05, ..] => "a Python pickle, e.g. a legacy PyTorch checkpoint",
        [_, _, _, _, b'T', b'F', b'L', b'3', ..] => "a TensorFlow Lite model",
        [0x89, b'P', b'N', b'G', ..] => "a PNG image",
        [0xff, 0xd8, 0xff, ..] => "a JPEG image",
        [0x7f, b'E', b'L', b'F', ..] => "an ELF binary",
        _ => "unrecognised content",
    }
}
