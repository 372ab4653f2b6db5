//! ONNX Runtime, loaded once per process from its shared library (`ort`'s `load-dynamic`),
//! and the loaded-model cache: a model's bytes are hashed (SHA-256) and each distinct model
//! is loaded once, shared by every session that uses it.

use crate::assets;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use vaccel_plugin::{PluginError, code};

/// A loaded model. ONNX Runtime sessions run one call at a time through `ort`'s API, so
/// concurrent callers of the same model take turns.
pub struct Model {
    session: Mutex<Session>,
    /// Input names, in order.
    pub inputs: Vec<String>,
    /// Output names, in order.
    pub outputs: Vec<String>,
}

impl Model {
    /// Lock the session for one run.
    pub fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The process's ONNX Runtime and its models.
pub struct Engine {
    env: ort::environment::Environment,
    threads: usize,
    models: Mutex<HashMap<[u8; 32], Arc<Model>>>,
}

static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();

fn threads_from_env() -> Result<usize, String> {
    match std::env::var("VACCEL_ONNX_THREADS") {
        Err(_) => Ok(1),
        Ok(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=256).contains(n))
            .ok_or_else(|| format!("VACCEL_ONNX_THREADS={v:?}: expected a number from 1 to 256")),
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
        let threads = threads_from_env()?;
        let lib = assets::onnxruntime();
        if !lib.exists() {
            return Err(assets::missing("ONNX Runtime (libonnxruntime.so)", &lib));
        }
        let env = ort::init_from(&lib)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", lib.display()))?
            .with_name("vaccel")
            .build()
            .map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", lib.display()))?;
        tracing::debug!(library = %lib.display(), threads, "ONNX Runtime started");
        Ok(Engine {
            env,
            threads,
            models: Mutex::new(HashMap::new()),
        })
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
        if let Some(m) = self
            .models
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sha256)
        {
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
        let session = Session::builder(&self.env)
            .and_then(|b| Ok(b.with_optimization_level(GraphOptimizationLevel::Level3)?))
            .and_then(|b| Ok(b.with_intra_threads(self.threads)?))
            .and_then(|mut b| b.commit_from_memory(bytes))
            .map_err(|e| {
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
            session: Mutex::new(session),
            inputs,
            outputs,
        });
        tracing::debug!(model = what, "model loaded");
        let mut models = self.models.lock().unwrap_or_else(|e| e.into_inner());
        Ok(models.entry(*sha256).or_insert(model).clone())
    }

    /// Forget a model (the next use loads it again).
    pub fn unload(&self, sha256: &[u8; 32]) -> bool {
        self.models
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(sha256)
            .is_some()
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
