//! Generic model ops: load / run / unload of a session's ONNX MODEL resource, tensors in,
//! tensors out. Behind upstream's Torch, TFLite and TF entry points alike (the plugin
//! decides by content, not by which framework the caller named): any other format gets a
//! clear `VACCEL_ENOTSUP` naming it.
//!
//! Loaded models are shared through the engine's content-hash cache; each session's
//! loads are counted, and models no session holds any more are kept only among the most
//! recent few (see [`Holds`]).

use crate::engine::{Chosen, Engine};
use ort::value::{DynValue, TensorElementType, ValueType};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use vaccel_plugin::sdk::ResourceView;
use vaccel_plugin::sync::lock;
use vaccel_plugin::{DType, OpType, PluginError, Tensor, code};

/// Which sessions hold which models (by content hash). A model nobody holds stays loaded
/// while it is among the most recent `VACCEL_ONNX_IDLE_MODELS` (default 4) such models:
/// reloading costs far more than keeping it, and freed model memory is rarely returned to
/// the system anyway; older idle models are dropped from the cache.
pub struct Holds {
    by_model: Mutex<HashMap<[u8; 32], HashSet<i64>>>,
    idle: Mutex<std::collections::VecDeque<[u8; 32]>>,
    max_idle: usize,
}

impl Default for Holds {
    fn default() -> Self {
        let max_idle = std::env::var("VACCEL_ONNX_IDLE_MODELS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(4);
        Holds {
            by_model: Mutex::default(),
            idle: Mutex::default(),
            max_idle,
        }
    }
}

fn model_of<'a>(
    engine: &Engine,
    op: OpType,
    view: &ResourceView<'a>,
) -> Result<([u8; 32], Chosen<'a>), PluginError> {
    let blob = view.blobs().next().ok_or_else(|| {
        PluginError::invalid(format!("{op}: model resource {} has no data", view.id))
    })?;
    let model = engine.model(
        blob.sha256,
        blob.data,
        &format!("model resource {} ({})", view.id, blob.name),
    )?;
    let chosen = Chosen {
        model,
        bytes: Some(blob.data),
    };
    Ok((*blob.sha256, chosen))
}

impl Holds {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], HashSet<i64>>> {
        lock(&self.by_model)
    }

    /// Note that `session` uses the model with this hash.
    pub fn add(&self, session: i64, sha256: [u8; 32]) {
        self.lock().entry(sha256).or_default().insert(session);
        lock(&self.idle).retain(|s| *s != sha256);
    }

    /// Models nobody holds: keep the most recent few loaded, drop the rest from the cache.
    fn retire(&self, shas: Vec<[u8; 32]>) {
        let mut idle = lock(&self.idle);
        for sha in shas {
            idle.retain(|s| *s != sha);
            idle.push_back(sha);
        }
        while idle.len() > self.max_idle {
            if let (Some(sha), Ok(engine)) = (idle.pop_front(), Engine::get()) {
                engine.unload(&sha);
            }
        }
    }

    /// A session is gone: drop its holds, and evict the models nobody holds any more.
    pub fn release_session(&self, session: i64) {
        let mut holds = self.lock();
        let mut evict = Vec::new();
        for (sha, sessions) in holds.iter_mut() {
            if sessions.remove(&session) && sessions.is_empty() {
                evict.push(*sha);
            }
        }
        for sha in &evict {
            holds.remove(sha);
        }
        drop(holds);
        self.retire(evict);
    }

    /// Load the model and note that `session` holds it.
    ///
    /// # Errors
    /// `ENOTSUP` for non-ONNX content, `EINVAL` when ONNX Runtime refuses it.
    pub fn load(
        &self,
        session: i64,
        op: OpType,
        view: &ResourceView<'_>,
    ) -> Result<(), PluginError> {
        let (sha, _) = model_of(Engine::get()?, op, view)?;
        self.add(session, sha);
        Ok(())
    }

    /// Drop `session`'s hold; the last hold evicts the model from the cache.
    ///
    /// # Errors
    /// `ENOENT` when the session had not loaded it.
    pub fn unload(
        &self,
        session: i64,
        op: OpType,
        view: &ResourceView<'_>,
    ) -> Result<(), PluginError> {
        let blob = view.blobs().next().ok_or_else(|| {
            PluginError::invalid(format!("{op}: model resource {} has no data", view.id))
        })?;
        let mut holds = self.lock();
        let removed = holds
            .get_mut(blob.sha256)
            .is_some_and(|s| s.remove(&session));
        if !removed {
            return Err(PluginError::not_found(format!(
                "{op}: model resource {} is not loaded by session {session}",
                view.id
            )));
        }
        if holds.get(blob.sha256).is_some_and(HashSet::is_empty) {
            holds.remove(blob.sha256);
            drop(holds);
            self.retire(vec![*blob.sha256]);
        }
        Ok(())
    }
}

macro_rules! by_dtype {
    ($dtype:expr, $op:expr, |$t:ident| $body:expr) => {
        match $dtype {
            DType::F32 => {
                type $t = f32;
                $body
            }
            DType::F64 => {
                type $t = f64;
                $body
            }
            DType::I8 => {
                type $t = i8;
                $body
            }
            DType::I16 => {
                type $t = i16;
                $body
            }
            DType::I32 => {
                type $t = i32;
                $body
            }
            DType::I64 => {
                type $t = i64;
                $body
            }
            DType::U8 => {
                type $t = u8;
                $body
            }
            DType::U16 => {
                type $t = u16;
                $body
            }
            DType::U32 => {
                type $t = u32;
                $body
            }
            DType::U64 => {
                type $t = u64;
                $body
            }
            DType::Bool => {
                type $t = bool;
                $body
            }
            DType::F16 => {
                return Err(PluginError::new(
                    code::ENOTSUP,
                    format!("{}: float16 tensors are not supported", $op),
                ))
            }
        }
    };
}

fn to_value(op: OpType, i: usize, t: Tensor) -> Result<DynValue, PluginError> {
    let fail = |e: ort::Error| PluginError::invalid(format!("{op}: input tensor {i}: {e}"));
    let n = t.dtype.size();
    by_dtype!(t.dtype, op, |T| {
        let values: Vec<T> = t
            .data
            .chunks_exact(n)
            .map(|c| {
                let mut raw = [0u8; 8];
                raw[..n].copy_from_slice(c);
                decode::<T>(&raw[..n])
            })
            .collect::<Result<_, _>>()
            .map_err(|m| PluginError::invalid(format!("{op}: input tensor {i}: {m}")))?;
        Ok(ort::value::Tensor::from_array((t.dims.clone(), values))
            .map_err(fail)?
            .into_dyn())
    })
}

/// Little-endian bytes to a value (bool: 0 or 1 only).
fn decode<T: FromLe>(b: &[u8]) -> Result<T, String> {
    T::from_le(b)
}

trait FromLe: Sized {
    fn from_le(b: &[u8]) -> Result<Self, String>;
}

macro_rules! from_le {
    ($($t:ty),*) => {$(
        impl FromLe for $t {
            fn from_le(b: &[u8]) -> Result<Self, String> {
                Ok(<$t>::from_le_bytes(b.try_into().map_err(|_| "bad element size".to_string())?))
            }
        }
    )*};
}
from_le!(f32, f64, i8, i16, i32, i64, u8, u16, u32, u64);

impl FromLe for bool {
    fn from_le(b: &[u8]) -> Result<Self, String> {
        match b {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(format!("bool element {b:?} is not 0 or 1")),
        }
    }
}

fn dtype_of(op: OpType, i: usize, ty: TensorElementType) -> Result<DType, PluginError> {
    Ok(match ty {
        TensorElementType::Float32 => DType::F32,
        TensorElementType::Float64 => DType::F64,
        TensorElementType::Int8 => DType::I8,
        TensorElementType::Int16 => DType::I16,
        TensorElementType::Int32 => DType::I32,
        TensorElementType::Int64 => DType::I64,
        TensorElementType::Uint8 => DType::U8,
        TensorElementType::Uint16 => DType::U16,
        TensorElementType::Uint32 => DType::U32,
        TensorElementType::Uint64 => DType::U64,
        TensorElementType::Bool => DType::Bool,
        other => {
            return Err(PluginError::new(
                code::ENOTSUP,
                format!("{op}: output {i} has element type {other:?}, which cannot be returned"),
            ));
        }
    })
}

fn from_value(op: OpType, i: usize, v: &DynValue) -> Result<Tensor, PluginError> {
    let ValueType::Tensor { ty, .. } = v.dtype() else {
        return Err(PluginError::new(
            code::ENOTSUP,
            format!("{op}: output {i} is not a tensor"),
        ));
    };
    let dtype = dtype_of(op, i, *ty)?;
    let fail = |e: ort::Error| PluginError::backend(format!("{op}: output {i}: {e}"));
    let (dims, data): (Vec<i64>, Vec<u8>) = by_dtype!(dtype, op, |T| {
        let (shape, values) = v.try_extract_tensor::<T>().map_err(fail)?;
        (
            shape.to_vec(),
            values.iter().flat_map(|x| to_le(*x)).collect(),
        )
    });
    Tensor::new(dtype, dims, data)
        .map_err(|m| PluginError::backend(format!("{op}: output {i}: {m}")))
}

trait ToLe: Copy {
    fn bytes(self) -> Vec<u8>;
}
macro_rules! to_le_impl {
    ($($t:ty),*) => {$( impl ToLe for $t { fn bytes(self) -> Vec<u8> { self.to_le_bytes().to_vec() } } )*};
}
to_le_impl!(f32, f64, i8, i16, i32, i64, u8, u16, u32, u64);
impl ToLe for bool {
    fn bytes(self) -> Vec<u8> {
        vec![u8::from(self)]
    }
}
fn to_le<T: ToLe>(v: T) -> Vec<u8> {
    v.bytes()
}

/// Run the model on `inputs`; returns all its outputs.
///
/// # Errors
/// `EINVAL` for a wrong number or shape of inputs (ONNX Runtime's message), `ENOTSUP` for
/// non-ONNX models and unsupported element types, `EBACKEND` when the run fails.
pub fn run(
    op: OpType,
    view: &ResourceView<'_>,
    inputs: Vec<Tensor>,
) -> Result<Vec<Tensor>, PluginError> {
    let (_, Chosen { model, bytes }) = model_of(Engine::get()?, op, view)?;
    if inputs.len() != model.inputs.len() {
        return Err(PluginError::invalid(format!(
            "{op}: the model takes {} input(s) ({}), got {}",
            model.inputs.len(),
            model.inputs.join(", "),
            inputs.len()
        )));
    }
    let values: Vec<(String, DynValue)> = model
        .inputs
        .iter()
        .cloned()
        .zip(inputs)
        .enumerate()
        .map(|(i, (name, t))| Ok((name, to_value(op, i, t)?)))
        .collect::<Result<_, PluginError>>()?;
    let mut session = model.session(bytes);
    let outputs = session
        .run(values)
        .map_err(|e| PluginError::invalid(format!("{op}: model run failed: {e}")))?;
    (0..outputs.len())
        .map(|i| from_value(op, i, &outputs[i]))
        .collect()
}
