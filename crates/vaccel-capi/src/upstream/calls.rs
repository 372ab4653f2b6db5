//! One op call — every op of upstream's catalogue — from the runtime's checked arguments (genop layout, decoded into the op's
//! view from `vaccel_plugin::ops`) to the upstream plugin's function in upstream's
//! signature for that op (`src/ops/*.c` of upstream vAccel 0.8): the caller's buffers are
//! handed over as they are, with upstream's lengths.

use crate::resource::CResource;
use crate::session::CSession;
use crate::tensor::{CTensor, TfNode, TfStatus, TfTensor, TfliteTensor, TorchTensor};
use std::ffi::{c_char, c_int, c_void};
use vaccel_plugin::abi::VaccelArg;
use vaccel_plugin::ops::{
    self, ClassifyArgs, ExecArgs, ExecResourceArgs, FpgaCopyArgs, FpgaMmultArgs, FpgaParallelArgs,
    FpgaVaddArgs, ImageArgs, MinmaxArgs, ModelArgs, ModelRunArgs, Out, SgemmArgs, TensorIn,
    TensorOut, TfModelRunArgs, TorchSgemmArgs,
};
use vaccel_plugin::{CallError, OpType, ResourceType, Results, Tensor, code};

type Sess = *mut CSession;
type Res = *mut CResource;

fn invalid(message: String) -> CallError {
    CallError {
        code: code::EINVAL,
        message,
        relayed: false,
    }
}

/// How the adapter finds the caller's struct of a resource registered with the session,
/// checking its type.
pub(super) type ResourceOf<'a> = dyn Fn(i64, ResourceType) -> Result<Res, CallError> + 'a;

/// Write the structured results an upstream plugin cannot give (it reports text only):
/// none.
fn no_results(op: OpType, out: Option<Out<'_>>) -> Result<(), CallError> {
    let Some(mut out) = out else { return Ok(()) };
    let room = out.capacity();
    out.set(&Results::default().encode())
        .map_err(|t| CallError {
            code: code::ERANGE,
            message: format!(
                "{op}: the results take {} bytes, the buffer holds {room}",
                t.needed
            ),
            relayed: false,
        })
}

/// Call `func`, the upstream plugin's function for `op`.
///
/// # Safety
/// `func` has the upstream signature of `op`; every argument's buffer is valid for its
/// size (writable for write arguments) for the call; `sess` is a valid session struct and
/// `resource` returns valid resource structs.
pub(super) unsafe fn call(
    func: *mut c_void,
    sess: Sess,
    op: OpType,
    read: &mut [VaccelArg],
    write: &mut [VaccelArg],
    checked: bool,
    resource: &ResourceOf<'_>,
) -> Result<c_int, CallError> {
    if !checked {
        ops::check_args(op, read, write).map_err(|e| invalid(e.to_string()))?;
    }
    // Views hand outputs out as `&mut`: they must not alias (exec's pass-through
    // arguments aside, and opencv's, which are not decoded).
    if !matches!(op, OpType::Exec | OpType::ExecWithResource | OpType::Opencv)
        && let Some((wi, dir)) = ops::overlapping_output(read, write)
    {
        return Err(invalid(format!(
            "{op}: write arg {wi} overlaps a {dir} arg; outputs need their own buffers"
        )));
    }
    macro_rules! view {
        ($v:ident) => {
            // SAFETY: the arguments fit the op's layout (checked by the runtime, which
            // says so, or above), outputs overlap nothing (checked above), and the
            // buffers are valid for the call (this function's contract).
            unsafe { $v::decode(op, read, write) }.map_err(|e| invalid(e.to_string()))?
        };
    }
    // Call `func` as `fn(types) -> c_int` with `args`.
    macro_rules! invoke {
        (fn($($t:ty),*)($($a:expr),* $(,)?)) => {{
            // SAFETY: the plugin registered `func` for `op`, whose upstream signature this
            // is; each pointer is the caller's buffer with its length as the view decoded
            // it, or `sess` / a resource struct valid for the call (this function's
            // contract).
            unsafe {
                std::mem::transmute::<*mut c_void, unsafe extern "C" fn($($t),*) -> c_int>(func)(
                    $($a),*
                )
            }
        }};
    }
    let rc = match op {
        OpType::Noop => invoke!(fn(Sess)(sess)),
        OpType::Exec => {
            let mut v = view!(ExecArgs);
            let (library, symbol) = (v.library.as_c_str(), v.symbol.as_c_str());
            // SAFETY: the tail arguments are passed on unchanged.
            let (r, w) = unsafe { (v.read.raw_mut(), v.write.raw_mut()) };
            invoke!(
                fn(Sess, *const c_char, *const c_char, *mut VaccelArg, usize, *mut VaccelArg, usize)(
                    sess,
                    library.as_ptr(),
                    symbol.as_ptr(),
                    r.as_mut_ptr(),
                    r.len(),
                    w.as_mut_ptr(),
                    w.len(),
                )
            )
        }
        OpType::ExecWithResource => {
            let mut v = view!(ExecResourceArgs);
            let res = resource(v.resource_id, ResourceType::Lib)?;
            let symbol = v.symbol.as_c_str();
            // SAFETY: the tail arguments are passed on unchanged.
            let (r, w) = unsafe { (v.read.raw_mut(), v.write.raw_mut()) };
            invoke!(
                fn(Sess, Res, *const c_char, *mut VaccelArg, usize, *mut VaccelArg, usize)(
                    sess,
                    res,
                    symbol.as_ptr(),
                    r.as_mut_ptr(),
                    r.len(),
                    w.as_mut_ptr(),
                    w.len(),
                )
            )
        }
        OpType::ImageClassify => {
            let v = view!(ClassifyArgs);
            let rc = invoke!(
                fn(Sess, *const c_void, *mut u8, *mut u8, usize, usize, usize)(
                    sess,
                    v.image.as_ptr().cast(),
                    v.out_text.as_mut_ptr(),
                    v.out_imgname.as_mut_ptr(),
                    v.image.len(),
                    v.out_text.len(),
                    v.out_imgname.len(),
                )
            );
            if rc == code::OK {
                no_results(op, v.top)?;
            }
            rc
        }
        OpType::ImageDetect | OpType::ImageSegment | OpType::ImagePose | OpType::ImageDepth => {
            let v = view!(ImageArgs);
            let rc = invoke!(
                fn(Sess, *const c_void, *mut u8, usize, usize)(
                    sess,
                    v.image.as_ptr().cast(),
                    v.out_imgname.as_mut_ptr(),
                    v.image.len(),
                    v.out_imgname.len(),
                )
            );
            if rc == code::OK {
                no_results(op, v.results)?;
            }
            rc
        }
        OpType::BlasSgemm => {
            let v = view!(SgemmArgs);
            // Dimensions were checked against the buffers; they fit in i64.
            let d = |x: usize| x as i64;
            invoke!(
                fn(Sess, i64, i64, i64, f32, *mut f32, i64, *mut f32, i64, f32, *mut f32, i64)(
                    sess,
                    d(v.m),
                    d(v.n),
                    d(v.k),
                    v.alpha,
                    v.a.as_ptr().cast_mut(),
                    d(v.lda),
                    v.b.as_ptr().cast_mut(),
                    d(v.ldb),
                    v.beta,
                    v.c.as_mut_ptr(),
                    d(v.ldc),
                )
            )
        }
        OpType::Minmax => {
            let v = view!(MinmaxArgs);
            invoke!(
                fn(Sess, *const f64, c_int, c_int, c_int, *mut f64, *mut f64, *mut f64)(
                    sess,
                    v.indata.as_ptr(),
                    v.ndata,
                    v.low_threshold,
                    v.high_threshold,
                    v.outdata.as_mut_ptr(),
                    v.min,
                    v.max,
                )
            )
        }
        OpType::FpgaArraycopy => {
            let v = view!(FpgaCopyArgs);
            invoke!(
                fn(Sess, *mut i32, *mut i32, usize)(
                    sess,
                    v.a.as_ptr().cast_mut(),
                    v.out_a.as_mut_ptr(),
                    v.a.len(),
                )
            )
        }
        OpType::FpgaMmult => {
            let v = view!(FpgaMmultArgs);
            invoke!(
                fn(Sess, *mut f32, *mut f32, *mut f32, usize)(
                    sess,
                    v.a.as_ptr().cast_mut(),
                    v.b.as_ptr().cast_mut(),
                    v.c.as_mut_ptr(),
                    v.a.len(),
                )
            )
        }
        OpType::FpgaParallel => {
            let v = view!(FpgaParallelArgs);
            invoke!(
                fn(Sess, *mut f32, *mut f32, *mut f32, *mut f32, usize)(
                    sess,
                    v.a.as_ptr().cast_mut(),
                    v.b.as_ptr().cast_mut(),
                    v.add_output.as_mut_ptr(),
                    v.mult_output.as_mut_ptr(),
                    v.a.len(),
                )
            )
        }
        OpType::FpgaVectoradd => {
            let v = view!(FpgaVaddArgs);
            invoke!(
                fn(Sess, *mut f32, *mut f32, *mut f32, usize, usize)(
                    sess,
                    v.a.as_ptr().cast_mut(),
                    v.b.as_ptr().cast_mut(),
                    v.c.as_mut_ptr(),
                    v.a.len(),
                    v.b.len(),
                )
            )
        }
        OpType::Opencv => {
            let count =
                |n: usize| c_int::try_from(n).map_err(|_| invalid(format!("{op}: {n} arguments")));
            let (nr, nw) = (count(read.len())?, count(write.len())?);
            invoke!(
                fn(Sess, *mut VaccelArg, c_int, *mut VaccelArg, c_int)(
                    sess,
                    read.as_mut_ptr(),
                    nr,
                    write.as_mut_ptr(),
                    nw,
                )
            )
        }
        OpType::TorchModelLoad | OpType::TfliteModelLoad | OpType::TfliteModelUnload => {
            let v = view!(ModelArgs);
            let res = resource(v.model_id, ResourceType::Model)?;
            invoke!(fn(Sess, Res)(sess, res))
        }
        OpType::TfModelLoad | OpType::TfModelUnload => {
            let v = view!(ModelArgs);
            let res = resource(v.model_id, ResourceType::Model)?;
            let mut status = TfStatus::empty();
            let rc = invoke!(fn(Sess, Res, *mut TfStatus)(sess, res, &mut status));
            let said = status.take_message();
            if rc != code::OK
                && let Some(said) = said
            {
                return Err(CallError {
                    code: rc,
                    message: format!("{op}: {said}"),
                    relayed: false,
                });
            }
            rc
        }
        OpType::TorchModelRun => {
            let mut v = view!(ModelRunArgs);
            let res = resource(v.model_id, ResourceType::Model)?;
            let mut tensors = Tensors::<TorchTensor>::new(op, &v)?;
            let (inputs, nr_in, outputs, nr_out) = tensors.args()?;
            let rc = invoke!(fn(Sess, Res, *const c_void, *const *mut TorchTensor, c_int, *mut *mut TorchTensor, c_int)(
                sess,
                res,
                std::ptr::null(),
                inputs,
                nr_in,
                outputs,
                nr_out,
            ));
            if rc == code::OK {
                tensors.put_outputs(&mut v.outputs)?;
            }
            rc
        }
        OpType::TfliteModelRun => {
            let mut v = view!(ModelRunArgs);
            let res = resource(v.model_id, ResourceType::Model)?;
            let mut tensors = Tensors::<TfliteTensor>::new(op, &v)?;
            let (inputs, nr_in, outputs, nr_out) = tensors.args()?;
            let mut status = 0u8;
            let rc = invoke!(fn(Sess, Res, *const *mut TfliteTensor, c_int, *mut *mut TfliteTensor, c_int, *mut u8)(
                sess,
                res,
                inputs,
                nr_in,
                outputs,
                nr_out,
                &mut status,
            ));
            if rc == code::OK {
                tensors.put_outputs(&mut v.outputs)?;
            }
            rc
        }
        OpType::TfModelRun => {
            let mut v = view!(TfModelRunArgs);
            let res = resource(v.model_id, ResourceType::Model)?;
            let nodes = |which: &str, b: &[u8]| {
                vaccel_plugin::nodes::decode(b)
                    .map_err(|m| invalid(format!("{op}: {which} nodes: {m}")))
            };
            let (ins, outs) = (
                nodes("input", v.in_nodes.0)?,
                nodes("output", v.out_nodes.0)?,
            );
            // A TF plugin reads one node per tensor.
            if ins.len() != v.inputs.len() || outs.len() != v.outputs.len() {
                return Err(invalid(format!(
                    "{op}: {} input and {} output nodes for {} input and {} output tensors; a TensorFlow plugin needs one node per tensor",
                    ins.len(),
                    outs.len(),
                    v.inputs.len(),
                    v.outputs.len()
                )));
            }
            // Names decoded without NULs: C strings that live for the call.
            let c_names = |list: &[vaccel_plugin::nodes::Node]| {
                list.iter()
                    .map(|n| std::ffi::CString::new(n.name.as_str()).map(|c| (c, n.id)))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| invalid(format!("{op}: a node name holds a NUL")))
            };
            let (in_names, out_names) = (c_names(&ins)?, c_names(&outs)?);
            let c_nodes = |names: &[(std::ffi::CString, i32)]| {
                names
                    .iter()
                    .map(|(c, id)| TfNode::borrowing(c, *id))
                    .collect::<Vec<_>>()
            };
            let (in_nodes, out_nodes) = (c_nodes(&in_names), c_nodes(&out_names));
            let mut tensors = Tensors::<TfTensor>::from_blobs(op, &v.inputs, v.outputs.len())?;
            let (inputs, nr_in, outputs, nr_out) = tensors.args()?;
            let mut status = TfStatus::empty();
            let rc = invoke!(fn(Sess, Res, *const c_void, *const TfNode, *const *mut TfTensor, c_int, *const TfNode, *mut *mut TfTensor, c_int, *mut TfStatus)(
                sess,
                res,
                std::ptr::null(),
                in_nodes.as_ptr(),
                inputs,
                nr_in,
                out_nodes.as_ptr(),
                outputs,
                nr_out,
                &mut status,
            ));
            let said = status.take_message();
            if rc != code::OK {
                return Err(CallError {
                    code: rc,
                    message: said
                        .map_or_else(|| format!("{op} returned {rc}"), |m| format!("{op}: {m}")),
                    relayed: false,
                });
            }
            tensors.put_outputs(&mut v.outputs)?;
            rc
        }
        OpType::TorchSgemm => {
            let mut v = view!(TorchSgemmArgs);
            let mut tensors = Tensors::<TorchTensor>::from_blobs(op, &[v.a, v.b, v.c], 1)?;
            let (inputs, outputs) = (tensors.inputs.as_mut_ptr(), tensors.outputs.as_mut_ptr());
            // The plugin takes each operand and the result by a pointer to its pointer.
            let rc = invoke!(fn(Sess, *mut *mut TorchTensor, *mut *mut TorchTensor, *mut *mut TorchTensor, c_int, c_int, c_int, *mut *mut TorchTensor)(
                sess,
                inputs,
                inputs.wrapping_add(1),
                inputs.wrapping_add(2),
                v.m,
                v.n,
                v.k,
                outputs,
            ));
            if rc == code::OK {
                tensors.put_outputs(std::slice::from_mut(&mut v.out))?;
            }
            rc
        }
    };
    Ok(rc)
}

/// A model run's tensors as a framework's C structs: copies of the inputs, and the output
/// slots the plugin fills with tensors it allocates; all deleted with this.
struct Tensors<T: CTensor> {
    op: OpType,
    inputs: Vec<*mut T>,
    outputs: Vec<*mut T>,
}

impl<T: CTensor> Tensors<T> {
    fn new(op: OpType, v: &ModelRunArgs<'_>) -> Result<Self, CallError> {
        Self::from_blobs(op, &v.inputs, v.outputs.len())
    }

    /// Copies of encoded input tensors, and `nr_outputs` empty output slots.
    fn from_blobs(
        op: OpType,
        inputs: &[TensorIn<'_>],
        nr_outputs: usize,
    ) -> Result<Self, CallError> {
        let mut t = Tensors {
            op,
            inputs: Vec::with_capacity(inputs.len()),
            outputs: vec![std::ptr::null_mut(); nr_outputs],
        };
        for (i, blob) in inputs.iter().enumerate() {
            let tensor = Tensor::decode(blob.0)
                .map_err(|m| invalid(format!("{op}: input tensor {i}: {m}")))?;
            let c = T::from_tensor(&tensor).map_err(|e| CallError {
                code: e.code(),
                message: format!("{op}: input tensor {i}: {e}"),
                relayed: false,
            })?;
            t.inputs.push(c);
        }
        Ok(t)
    }

    /// Inputs, their count, output slots, their count.
    fn args(&mut self) -> Result<(*const *mut T, c_int, *mut *mut T, c_int), CallError> {
        let count =
            |n: usize| c_int::try_from(n).map_err(|_| invalid(format!("{}: {n} tensors", self.op)));
        Ok((
            self.inputs.as_ptr(),
            count(self.inputs.len())?,
            self.outputs.as_mut_ptr(),
            count(self.outputs.len())?,
        ))
    }

    /// Encode the plugin's output tensors into the caller's buffers (ERANGE with the size
    /// needed when one does not fit: the runtime asks again with room).
    fn put_outputs(&self, outs: &mut [TensorOut<'_>]) -> Result<(), CallError> {
        let op = self.op;
        for (i, (c, out)) in self.outputs.iter().zip(outs.iter_mut()).enumerate() {
            // SAFETY: NULL, or a tensor the plugin allocated with the framework's _new /
            // _allocate, as upstream's plugins do.
            let Some(c) = (unsafe { c.as_ref() }) else {
                return Err(CallError {
                    code: code::EBACKEND,
                    message: format!("{op}: the plugin left output tensor {i} unset"),
                    relayed: false,
                });
            };
            // SAFETY: as above: its dims and data are the plugin's, valid for their sizes.
            let tensor = unsafe { c.to_tensor() }.map_err(|m| CallError {
                code: code::EBACKEND,
                message: format!("{op}: the plugin's output tensor {i}: {m}"),
                relayed: false,
            })?;
            let room = out.capacity();
            out.set_with(tensor.encoded_len(), |dst| {
                tensor.encode_into(dst);
            })
            .map_err(|t| CallError {
                code: code::ERANGE,
                message: format!(
                    "{op}: output tensor {i} takes {} bytes, the buffer holds {room}",
                    t.needed
                ),
                relayed: false,
            })?;
        }
        Ok(())
    }
}

impl<T: CTensor> Drop for Tensors<T> {
    fn drop(&mut self) {
        for t in self.inputs.drain(..).chain(self.outputs.drain(..)) {
            if !t.is_null() {
                // SAFETY: allocated by `from_tensor` (inputs) or by the plugin with the
                // framework's allocator (outputs), deleted once here.
                unsafe { T::delete(t) };
            }
        }
    }
}
