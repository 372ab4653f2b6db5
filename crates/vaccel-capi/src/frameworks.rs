//! The framework entry points (Torch, TFLite, TF): their tensor structs converted to and
//! from vAccel tensors, one model op each (the runtime's `model_op` / `tensor_run`).

use crate::ops::count;
use crate::resource::CResource;
use crate::session::CSession;
use crate::state::{CResult, guard, null, obj, session_of, state};
use crate::tensor::{CTensor, TfNode, TfStatus, TfTensor, TfliteTensor, TorchTensor};
use std::ffi::{c_int, c_void};
use vaccel_plugin::nodes::Node;
use vaccel_plugin::{OpType, Tensor};
use vaccel_rt::Error;

/// The session and MODEL resource behind two C pointers.
///
/// # Safety
/// Both NULL or valid.
unsafe fn session_and_model(
    sess: *const CSession,
    model: *const CResource,
) -> CResult<(vaccel_rt::Session, i64)> {
    // SAFETY: per the contract.
    let s = unsafe { session_of(sess) }?;
    // SAFETY: per the contract.
    let m = unsafe { obj(model, "model") }?;
    let id = state()?.resource(m)?.id();
    Ok((s, id))
}

/// Read `n` TF nodes (none when `list` is NULL: plugins then match tensors by position).
///
/// # Safety
/// `list` NULL or valid for `n` nodes with NULL or NUL-terminated names.
unsafe fn read_nodes(list: *const TfNode, n: c_int, what: &str) -> CResult<Vec<Node>> {
    let n = count(n, what)?;
    if list.is_null() {
        return Ok(Vec::new());
    }
    (0..n)
        .map(|i| {
            // SAFETY: `list` holds `n` nodes (contract).
            unsafe { (*list.add(i)).to_node() }
                .map_err(|m| Error::Invalid(format!("{what}[{i}]: {m}")))
        })
        .collect()
}

/// Read `n` C tensors.
///
/// # Safety
/// `list` NULL or valid for `n` pointers, each NULL or a valid tensor.
unsafe fn read_tensors<T: CTensor>(list: *const *mut T, n: c_int) -> CResult<Vec<Tensor>> {
    let n = count(n, "number of input tensors")?;
    if n > 0 && list.is_null() {
        return Err(null("input tensors"));
    }
    (0..n)
        .map(|i| {
            // SAFETY: `list` holds `n` pointers (contract).
            let p = unsafe { *list.add(i) };
            // SAFETY: each is NULL or a valid tensor (contract).
            let t = unsafe { obj(p, &format!("input tensor {i}")) }?;
            // SAFETY: a valid tensor's data and dims are valid for their sizes (contract).
            unsafe { t.to_tensor() }.map_err(|m| Error::Invalid(format!("input tensor {i}: {m}")))
        })
        .collect()
}

/// Store new C tensors for `outputs` into `list`.
///
/// # Safety
/// `list` NULL or writable for `outputs.len()` pointers.
unsafe fn write_tensors<T: CTensor>(list: *mut *mut T, outputs: &[Tensor]) -> CResult {
    if !outputs.is_empty() && list.is_null() {
        return Err(null("output tensors"));
    }
    let made = outputs
        .iter()
        .map(T::from_tensor)
        .collect::<CResult<Vec<_>>>()?;
    for (i, p) in made.into_iter().enumerate() {
        // SAFETY: `list` is writable for `outputs.len()` pointers (contract).
        unsafe { *list.add(i) = p };
    }
    Ok(())
}

/// Model load / unload by framework op id.
///
/// # Safety
/// Pointers NULL or valid.
unsafe fn model_op(sess: *const CSession, model: *const CResource, op: OpType) -> CResult {
    // SAFETY: per the contract.
    let (s, id) = unsafe { session_and_model(sess, model) }?;
    s.model_op(op, id)
}

/// Model run by framework op id: C tensors in, new C tensors out.
///
/// # Safety
/// Pointers NULL or valid; `inputs` holds `nr_in` tensors, `outputs` room for `nr_out`.
unsafe fn model_run<T: CTensor>(
    sess: *const CSession,
    model: *const CResource,
    op: OpType,
    (inputs, nr_in): (*const *mut T, c_int),
    (outputs, nr_out): (*mut *mut T, c_int),
) -> CResult {
    // SAFETY: per the contract.
    let (s, id) = unsafe { session_and_model(sess, model) }?;
    // SAFETY: per the contract.
    let tensors = unsafe { read_tensors(inputs, nr_in) }?;
    let results = s.tensor_run(op, id, &tensors, count(nr_out, "number of output tensors")?)?;
    // SAFETY: per the contract.
    unsafe { write_tensors(outputs, &results) }
}

/// # Safety
/// Pointers NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_torch_model_load(
    sess: *mut CSession,
    model: *mut CResource,
) -> c_int {
    guard("vaccel_torch_model_load", || {
        // SAFETY: per the contract.
        unsafe { model_op(sess, model, OpType::TorchModelLoad) }
    })
}

/// # Safety
/// Pointers NULL or valid; `in_tensor` holds `nr_read` tensors, `out_tensor` room for
/// `nr_write` pointers (filled with new tensors the caller deletes).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_torch_model_run(
    sess: *mut CSession,
    model: *const CResource,
    _run_options: *const c_void,
    in_tensor: *const *mut TorchTensor,
    nr_read: c_int,
    out_tensor: *mut *mut TorchTensor,
    nr_write: c_int,
) -> c_int {
    guard("vaccel_torch_model_run", || {
        // SAFETY: per the contract.
        unsafe {
            model_run(
                sess,
                model,
                OpType::TorchModelRun,
                (in_tensor, nr_read),
                (out_tensor, nr_write),
            )
        }
    })
}

/// # Safety
/// Pointers NULL or valid: `in_*` point to tensor pointers, `out` is writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn vaccel_torch_sgemm(
    sess: *mut CSession,
    in_a: *mut *mut TorchTensor,
    in_b: *mut *mut TorchTensor,
    in_c: *mut *mut TorchTensor,
    m: c_int,
    n: c_int,
    k: c_int,
    out: *mut *mut TorchTensor,
) -> c_int {
    guard("vaccel_torch_sgemm", || {
        // SAFETY: per the contract.
        let s = unsafe { session_of(sess) }?;
        if out.is_null() {
            return Err(null("out"));
        }
        let [a, b, c] = [(in_a, "in_A"), (in_b, "in_B"), (in_c, "in_C")].map(|(p, what)| {
            // SAFETY: per the contract: NULL or a pointer to a tensor pointer.
            unsafe { read_tensors(p.cast_const(), 1) }
                .map_err(|e| Error::Invalid(format!("{what}: {e}")))
                .and_then(|mut v| v.pop().ok_or_else(|| null(what)))
        });
        let result = s.torch_sgemm(&a?, &b?, &c?, [m, n, k])?;
        // SAFETY: `out` is writable for one pointer (checked non-NULL).
        unsafe { write_tensors(out, std::slice::from_ref(&result)) }
    })
}

fn set_tflite_status(status: *mut u8, ok: bool) {
    // SAFETY: NULL or writable per the contract of the callers.
    if let Some(s) = unsafe { status.as_mut() } {
        *s = u8::from(!ok);
    }
}

/// # Safety
/// Pointers NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_tflite_model_load(
    sess: *mut CSession,
    model: *mut CResource,
) -> c_int {
    guard("vaccel_tflite_model_load", || {
        // SAFETY: per the contract.
        unsafe { model_op(sess, model, OpType::TfliteModelLoad) }
    })
}

/// # Safety
/// Pointers NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_tflite_model_unload(
    sess: *mut CSession,
    model: *mut CResource,
) -> c_int {
    guard("vaccel_tflite_model_unload", || {
        // SAFETY: per the contract.
        unsafe { model_op(sess, model, OpType::TfliteModelUnload) }
    })
}

/// # Safety
/// As `vaccel_torch_model_run`; `status` NULL or writable (0 success, 1 failure).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_tflite_model_run(
    sess: *mut CSession,
    model: *const CResource,
    in_tensors: *const *mut TfliteTensor,
    nr_inputs: c_int,
    out_tensors: *mut *mut TfliteTensor,
    nr_outputs: c_int,
    status: *mut u8,
) -> c_int {
    let rc = guard("vaccel_tflite_model_run", || {
        // SAFETY: per the contract.
        unsafe {
            model_run(
                sess,
                model,
                OpType::TfliteModelRun,
                (in_tensors, nr_inputs),
                (out_tensors, nr_outputs),
            )
        }
    });
    set_tflite_status(status, rc == 0);
    rc
}

/// Fill a TF status: code 0 and no message on success; code 2 (TF's UNKNOWN) and the
/// error's message (malloc'd; `vaccel_tf_status_release` frees it) on failure.
fn set_tf_status(status: *mut TfStatus, rc: c_int) {
    // SAFETY: NULL or writable per the contract of the callers.
    if let Some(s) = unsafe { status.as_mut() } {
        let msg = if rc == 0 {
            std::ptr::null()
        } else {
            crate::state::vaccel_last_error()
        };
        // SAFETY: the status is the caller's; its old message (if any) is theirs to free.
        unsafe { crate::tensor::fill_tf_status(s, if rc == 0 { 0 } else { 2 }, msg) };
    }
}

macro_rules! tf_model_op {
    ($name:ident, $op:expr) => {
        /// # Safety
        /// Pointers NULL or valid.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(
            sess: *mut CSession,
            model: *mut CResource,
            status: *mut TfStatus,
        ) -> c_int {
            let rc = guard(stringify!($name), || {
                // SAFETY: per the contract.
                unsafe { model_op(sess, model, $op) }
            });
            set_tf_status(status, rc);
            rc
        }
    };
}

tf_model_op!(vaccel_tf_model_load, OpType::TfModelLoad);
tf_model_op!(vaccel_tf_model_unload, OpType::TfModelUnload);

/// Inputs and outputs are matched by position; node names are not used (ONNX models name
/// their own inputs).
///
/// # Safety
/// As `vaccel_torch_model_run`; `status` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn vaccel_tf_model_run(
    sess: *mut CSession,
    model: *const CResource,
    _run_options: *const c_void,
    in_nodes: *const TfNode,
    in_tensors: *const *mut TfTensor,
    nr_inputs: c_int,
    out_nodes: *const TfNode,
    out_tensors: *mut *mut TfTensor,
    nr_outputs: c_int,
    status: *mut TfStatus,
) -> c_int {
    let rc = guard("vaccel_tf_model_run", || {
        // SAFETY: per the contract.
        let (s, id) = unsafe { session_and_model(sess, model) }?;
        // SAFETY: per the contract: each list NULL or holding one node per tensor.
        let (ins, outs) = unsafe {
            (
                read_nodes(in_nodes, nr_inputs, "in_nodes")?,
                read_nodes(out_nodes, nr_outputs, "out_nodes")?,
            )
        };
        // SAFETY: per the contract.
        let tensors = unsafe { read_tensors(in_tensors, nr_inputs) }?;
        let results = s.tf_model_run(
            id,
            &ins,
            &tensors,
            &outs,
            count(nr_outputs, "number of output tensors")?,
        )?;
        // SAFETY: per the contract.
        unsafe { write_tensors(out_tensors, &results) }
    });
    set_tf_status(status, rc);
    rc
}
