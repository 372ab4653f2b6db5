//! From an ABI call to a trait method: check the arguments against the op's layout,
//! decode them into the op's typed view (`crate::ops` declares each view once), call the
//! plugin, and write what it returns the C way (strings truncated and NUL-terminated,
//! results and tensors encoded, a too-small buffer reported with the size needed).

use super::{Ctx, ExecResourceCall, Plugin, PluginError, ResourceView, Result};
use crate::abi::VaccelArg;
use crate::ops::{
    self, ClassifyArgs, ExecArgs, ExecResourceArgs, FpgaCopyArgs, FpgaMmultArgs, FpgaParallelArgs,
    FpgaVaddArgs, ImageArgs, ImageOp, MinmaxArgs, ModelArgs, ModelRunArgs, Out, SgemmArgs,
    TensorIn, TensorOut, TfModelRunArgs, TorchSgemmArgs, write_c_string,
};
use crate::results::{Classification, ImageOutput, Results, TooSmall};
use crate::tensor::Tensor;
use crate::types::{OpType, ResourceType, code};

/// Decode and run one op.
///
/// # Safety
/// Every arg's `buf` must be valid for `size` bytes (reads; writes for `write` args) for
/// the duration of the call.
pub(super) unsafe fn dispatch<P: Plugin>(
    p: &P,
    ctx: &Ctx<'_>,
    op: OpType,
    read: &mut [VaccelArg],
    write: &mut [VaccelArg],
) -> Result<()> {
    // Checked by the runtime against these very layouts (it says so), or checked here.
    if ctx.layouts_checked != ops::LAYOUTS {
        ops::check_args(op, read, write)?;
    }
    if let Some(r) = p.forward(ctx, op, &mut super::ForwardArgs::new(read, write)) {
        return r;
    }
    // exec passes its function's arguments through untouched (they may alias, as C
    // programs build them); every other view hands out `&mut` outputs, which must not.
    if !write.is_empty() && !matches!(op, OpType::Exec | OpType::ExecWithResource) {
        check_disjoint(op, read, write)?;
    }
    // Decode `read`/`write` as the view `$v`.
    macro_rules! view {
        ($v:ident) => {
            // SAFETY: the args fit the op's layout (checked above), outputs overlap
            // nothing (checked above, exec aside, whose view holds no outputs), and the
            // buffers are valid for the call (this function's contract).
            unsafe { $v::decode(op, read, write) }?
        };
    }
    match op {
        OpType::Noop => p.noop(ctx),
        OpType::Exec => p.exec(ctx, view!(ExecArgs)),
        OpType::ExecWithResource => {
            let v = view!(ExecResourceArgs);
            let resource = ctx.resource(v.resource_id).ok_or_else(|| {
                PluginError::not_found(format!(
                    "resource {} is not registered with session {}",
                    v.resource_id, ctx.session_id
                ))
            })?;
            if resource.resource_type != Some(ResourceType::Lib) {
                return Err(PluginError::invalid(format!(
                    "resource {} is not a LIB resource",
                    v.resource_id
                )));
            }
            p.exec_with_resource(
                ctx,
                ExecResourceCall {
                    resource,
                    symbol: v.symbol.as_str(),
                    read: v.read,
                    write: v.write,
                },
            )
        }
        OpType::ImageClassify => {
            let v = view!(ClassifyArgs);
            let top_k = match v.top_k {
                Some(k @ 1..=1000) => k as usize,
                Some(k) => {
                    return Err(PluginError::invalid(format!(
                        "image_classify: top_k must be 1..=1000, got {k}"
                    )));
                }
                None if v.top.is_some() => 5,
                None => 1,
            };
            let Classification {
                text,
                imgname,
                top,
                timings,
            } = p.image_classify(ctx, v.image, top_k)?;
            write_c_string(v.out_imgname, &imgname);
            write_c_string(v.out_text, &text);
            put_results(
                op,
                v.top,
                Results {
                    classes: top,
                    timings,
                    ..Results::default()
                },
            )
        }
        OpType::ImageDetect | OpType::ImageSegment | OpType::ImagePose | OpType::ImageDepth => {
            let v = view!(ImageArgs);
            let kind = ImageOp::from_op(op).expect("matched image ops");
            let ImageOutput {
                imgname,
                detections,
                poses,
                masks,
                timings,
            } = p.image_op(ctx, kind, v.image)?;
            write_c_string(v.out_imgname, &imgname);
            put_results(
                op,
                v.results,
                Results {
                    boxes: detections,
                    poses,
                    masks,
                    timings,
                    ..Results::default()
                },
            )
        }
        OpType::TorchModelLoad
        | OpType::TfliteModelLoad
        | OpType::TfModelLoad
        | OpType::TfliteModelUnload
        | OpType::TfModelUnload => {
            let v = view!(ModelArgs);
            let model = model_resource(ctx, op, v.model_id)?;
            if matches!(op, OpType::TfliteModelUnload | OpType::TfModelUnload) {
                p.model_unload(ctx, op, &model)
            } else {
                p.model_load(ctx, op, &model)
            }
        }
        OpType::TorchModelRun | OpType::TfliteModelRun => {
            let mut v = view!(ModelRunArgs);
            let model = model_resource(ctx, op, v.model_id)?;
            let inputs = decode_tensors(op, &v.inputs)?;
            let outputs = p.model_run(ctx, op, &model, inputs)?;
            put_tensors(op, &mut v.outputs, &outputs)
        }
        OpType::TfModelRun => {
            let mut v = view!(TfModelRunArgs);
            let model = model_resource(ctx, op, v.model_id)?;
            let nodes = |which: &str, b: &[u8]| {
                crate::nodes::decode(b)
                    .map_err(|m| PluginError::invalid(format!("{op}: {which} nodes: {m}")))
            };
            let (in_nodes, out_nodes) = (
                nodes("input", v.in_nodes.0)?,
                nodes("output", v.out_nodes.0)?,
            );
            let inputs = decode_tensors(op, &v.inputs)?;
            let outputs = p.tf_model_run(ctx, &model, &in_nodes, inputs, &out_nodes)?;
            put_tensors(op, &mut v.outputs, &outputs)
        }
        OpType::BlasSgemm => {
            let v = view!(SgemmArgs);
            v.validate()
                .map_err(|m| PluginError::invalid(format!("blas_sgemm: {m}")))?;
            p.sgemm(ctx, v)
        }
        OpType::Minmax => {
            let mut v = view!(MinmaxArgs);
            let n = usize::try_from(v.ndata)
                .ok()
                .filter(|n| *n <= v.indata.len() && *n <= v.outdata.len())
                .ok_or_else(|| {
                    PluginError::invalid(format!(
                        "minmax: ndata {} does not fit the input ({}) and output ({}) arrays",
                        v.ndata,
                        v.indata.len(),
                        v.outdata.len()
                    ))
                })?;
            v.indata = &v.indata[..n];
            v.outdata = &mut std::mem::take(&mut v.outdata)[..n];
            p.minmax(ctx, v)
        }
        OpType::TorchSgemm => {
            let mut v = view!(TorchSgemmArgs);
            let tensor = |name: &str, t: &[u8]| {
                Tensor::decode(t)
                    .map_err(|m| PluginError::invalid(format!("{op}: tensor {name}: {m}")))
            };
            let (a, b, c) = (
                tensor("a", v.a.0)?,
                tensor("b", v.b.0)?,
                tensor("c", v.c.0)?,
            );
            let out = p.torch_sgemm(ctx, a, b, c, [v.m, v.n, v.k])?;
            let room = v.out.capacity();
            v.out
                .set_with(out.encoded_len(), |b| {
                    out.encode_into(b);
                })
                .map_err(|TooSmall { needed }| {
                    PluginError::new(
                        code::ERANGE,
                        format!("{op}: the output takes {needed} bytes, the buffer holds {room}"),
                    )
                })
        }
        OpType::FpgaArraycopy => p.fpga_arraycopy(ctx, view!(FpgaCopyArgs)),
        OpType::FpgaMmult => p.fpga_mmult(ctx, view!(FpgaMmultArgs)),
        OpType::FpgaParallel => p.fpga_parallel(ctx, view!(FpgaParallelArgs)),
        OpType::FpgaVectoradd => p.fpga_vadd(ctx, view!(FpgaVaddArgs)),
        _ => p.raw_op(ctx, op, read, write),
    }
}

/// The input tensors of a model run, decoded.
fn decode_tensors(op: OpType, inputs: &[TensorIn<'_>]) -> Result<Vec<Tensor>> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            Tensor::decode(t.0)
                .map_err(|m| PluginError::invalid(format!("{op}: input tensor {i}: {m}")))
        })
        .collect()
}

/// Encode a model run's outputs into the caller's buffers. Every output that does not fit
/// is reported with its size (in the arg), so the caller can retry once with room.
fn put_tensors(op: OpType, outs: &mut [TensorOut<'_>], outputs: &[Tensor]) -> Result<()> {
    if outs.len() > outputs.len() {
        return Err(PluginError::invalid(format!(
            "{op}: {} outputs asked for, the model has {}",
            outs.len(),
            outputs.len()
        )));
    }
    let mut short = Vec::new();
    for (i, (out, t)) in outs.iter_mut().zip(outputs).enumerate() {
        let room = out.capacity();
        if let Err(TooSmall { needed }) = out.set_with(t.encoded_len(), |b| {
            t.encode_into(b);
        }) {
            short.push(format!("output {i} needs {needed} bytes, has {room}"));
        }
    }
    if short.is_empty() {
        Ok(())
    } else {
        Err(PluginError::new(
            code::ERANGE,
            format!("{op}: {}", short.join("; ")),
        ))
    }
}

/// Encode `results` into the caller's results argument, if it passed one.
fn put_results(op: OpType, out: Option<Out<'_>>, results: Results) -> Result<()> {
    let Some(mut out) = out else { return Ok(()) };
    let room = out.capacity();
    out.set(&results.encode()).map_err(|TooSmall { needed }| {
        PluginError::new(
            code::ERANGE,
            format!("{op}: the results take {needed} bytes, the buffer holds {room}"),
        )
    })
}

/// The session's MODEL resource with this id.
fn model_resource<'a>(ctx: &Ctx<'a>, op: OpType, id: i64) -> Result<ResourceView<'a>> {
    let r = ctx.resource(id).ok_or_else(|| {
        PluginError::not_found(format!(
            "{op}: resource {id} is not registered with session {}",
            ctx.session_id
        ))
    })?;
    if r.resource_type != Some(ResourceType::Model) {
        return Err(PluginError::invalid(format!(
            "{op}: resource {id} is not a MODEL resource"
        )));
    }
    Ok(r)
}

/// Refuse calls whose output buffers overlap any other argument: the typed views hand out
/// `&mut` slices, which must not alias.
fn check_disjoint(op: OpType, read: &[VaccelArg], write: &[VaccelArg]) -> Result<()> {
    match ops::overlapping_output(read, write) {
        Some((wi, dir)) => Err(PluginError::invalid(format!(
            "{op}: write arg {wi} overlaps a {dir} arg; outputs need their own buffers"
        ))),
        None => Ok(()),
    }
}
