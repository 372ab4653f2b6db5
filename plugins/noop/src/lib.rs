//! The noop plugin (type DEBUG): implements every op, logs the arguments it was given at
//! debug level, and returns upstream's noop plugin's dummy outputs — texts that say they
//! are dummies ("This is a dummy classification tag!"), inputs echoed to outputs (exec's
//! first int arg, model runs' tensors, FPGA array copy), fixed values (minmax −1 / 10000,
//! FPGA mmult 9.1) — so programs and tests written against upstream's see the same. The
//! runtime only routes an op here when the session asked for `VACCEL_PLUGIN_DEBUG` or the
//! plugin was named in `VACCEL_PLUGINS`, and never ahead of a real plugin that has the op.

#![forbid(unsafe_code)]

use vaccel_plugin::abi::VaccelArg;
use vaccel_plugin::ops::{
    FpgaCopyArgs, FpgaMmultArgs, FpgaParallelArgs, FpgaVaddArgs, ImageOp, MinmaxArgs, SgemmArgs,
};
use vaccel_plugin::sdk::{ExecCall, ExecResourceCall, ForwardArgs, Host, ResourceView, Result};
use vaccel_plugin::{
    ArgType, Classification, Ctx, ImageOutput, OpSet, OpType, Plugin, Tensor, plugin_type,
};

/// Text returned in place of a classification (upstream's).
pub const CLASSIFY_TEXT: &str = "This is a dummy classification tag!";
/// Text returned in place of an output image name (upstream's).
pub const IMGNAME_TEXT: &str = "This is a dummy imgname!";

/// Upstream's dummy exec output: the function's first write arg receives its first read
/// arg's ints (as many as both hold; the rest of the output, and its size, unchanged).
/// Through the SDK's forward view, which copies without forming references into the
/// caller's buffers.
fn echo_first_arg(args: &mut ForwardArgs<'_>) -> Result<()> {
    // The function's own args follow exec's library (or resource) and symbol.
    let input = args.read_slice(2).to_vec();
    if args.write().is_empty() {
        return Ok(());
    }
    let mut out = args.write_bytes(0);
    let n = (out.len().min(input.len()) / 4) * 4;
    out[..n].copy_from_slice(&input[..n]);
    args.set_write(0, &out)
}

/// The plugin.
#[derive(Debug)]
pub struct Noop;

fn describe(args: &[VaccelArg]) -> String {
    args.iter()
        .map(|a| {
            let ty = ArgType::from_raw(a.arg_type)
                .map_or_else(|| format!("type#{}", a.arg_type), |t| t.name().into());
            format!("{ty}[{}]", a.size)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Plugin for Noop {
    fn init(_host: &Host) -> Result<Self> {
        Ok(Noop)
    }

    fn forward(
        &self,
        _ctx: &Ctx<'_>,
        op: OpType,
        args: &mut ForwardArgs<'_>,
    ) -> Option<Result<()>> {
        // exec's echo needs the function's write args as bytes; everything else is typed.
        (matches!(op, OpType::Exec | OpType::ExecWithResource) && args.read().len() > 2)
            .then(|| echo_first_arg(args))
    }

    fn noop(&self, ctx: &Ctx<'_>) -> Result<()> {
        tracing::debug!(session = ctx.session_id, "[noop] noop");
        Ok(())
    }

    fn exec(&self, ctx: &Ctx<'_>, call: ExecCall<'_>) -> Result<()> {
        tracing::debug!(
            session = ctx.session_id,
            "[noop] exec library={} symbol={} read=[{}] write=[{}]",
            call.library,
            call.symbol,
            describe(call.read.as_slice()),
            describe(call.write.as_slice())
        );
        Ok(())
    }

    fn exec_with_resource(&self, ctx: &Ctx<'_>, call: ExecResourceCall<'_>) -> Result<()> {
        tracing::debug!(
            session = ctx.session_id,
            "[noop] exec_with_resource resource={} ({} blobs) symbol={} read=[{}] write=[{}]",
            call.resource.id,
            call.resource.nr_blobs(),
            call.symbol,
            describe(call.read.as_slice()),
            describe(call.write.as_slice())
        );
        Ok(())
    }

    fn image_classify(&self, ctx: &Ctx<'_>, image: &[u8], top_k: usize) -> Result<Classification> {
        tracing::debug!(
            session = ctx.session_id,
            "[noop] image_classify image={} bytes top_k={top_k}",
            image.len()
        );
        Ok(Classification {
            text: CLASSIFY_TEXT.into(),
            imgname: IMGNAME_TEXT.into(),
            ..Classification::default()
        })
    }

    fn image_op(&self, ctx: &Ctx<'_>, op: ImageOp, image: &[u8]) -> Result<ImageOutput> {
        tracing::debug!(
            session = ctx.session_id,
            "[noop] {} image={} bytes",
            op.op(),
            image.len()
        );
        Ok(ImageOutput {
            imgname: IMGNAME_TEXT.into(),
            ..ImageOutput::default()
        })
    }

    fn sgemm(&self, ctx: &Ctx<'_>, a: SgemmArgs<'_>) -> Result<()> {
        tracing::debug!(
            session = ctx.session_id,
            "[noop] blas_sgemm m={} n={} k={} alpha={} lda={} ldb={} beta={} ldc={} (C left unchanged, as upstream's)",
            a.m,
            a.n,
            a.k,
            a.alpha,
            a.lda,
            a.ldb,
            a.beta,
            a.ldc
        );
        Ok(())
    }

    fn minmax(&self, ctx: &Ctx<'_>, a: MinmaxArgs<'_>) -> Result<()> {
        tracing::debug!(
            session = ctx.session_id,
            "[noop] minmax n={} low={} high={} (dummy min -1, max 10000, as upstream's)",
            a.indata.len(),
            a.low_threshold,
            a.high_threshold
        );
        a.outdata.copy_from_slice(a.indata);
        *a.min = -1.0;
        *a.max = 10000.0;
        Ok(())
    }

    fn fpga_arraycopy(&self, _ctx: &Ctx<'_>, a: FpgaCopyArgs<'_>) -> Result<()> {
        let n = a.a.len().min(a.out_a.len());
        a.out_a[..n].copy_from_slice(&a.a[..n]);
        Ok(())
    }

    fn fpga_mmult(&self, _ctx: &Ctx<'_>, a: FpgaMmultArgs<'_>) -> Result<()> {
        a.c.fill(9.1);
        Ok(())
    }

    fn fpga_parallel(&self, _ctx: &Ctx<'_>, a: FpgaParallelArgs<'_>) -> Result<()> {
        for (i, (add, mult)) in a
            .add_output
            .iter_mut()
            .zip(a.mult_output.iter_mut())
            .enumerate()
        {
            *add = a.a.get(i).copied().unwrap_or(0.0) + a.b.get(i).copied().unwrap_or(0.0);
            *mult = 1.0;
        }
        Ok(())
    }

    fn fpga_vadd(&self, _ctx: &Ctx<'_>, a: FpgaVaddArgs<'_>) -> Result<()> {
        for (i, c) in a.c.iter_mut().enumerate() {
            *c = a.a.get(i).copied().unwrap_or(0.0) + a.b.get(i).copied().unwrap_or(0.0);
        }
        Ok(())
    }

    fn model_load(&self, _ctx: &Ctx<'_>, _op: OpType, _model: &ResourceView<'_>) -> Result<()> {
        Ok(())
    }

    fn model_unload(&self, _ctx: &Ctx<'_>, _op: OpType, _model: &ResourceView<'_>) -> Result<()> {
        Ok(())
    }

    /// Upstream's noop echoes the input tensors as the outputs.
    fn model_run(
        &self,
        _ctx: &Ctx<'_>,
        _op: OpType,
        _model: &ResourceView<'_>,
        inputs: Vec<Tensor>,
    ) -> Result<Vec<Tensor>> {
        Ok(inputs)
    }

    fn raw_op(
        &self,
        ctx: &Ctx<'_>,
        op: OpType,
        read: &mut [VaccelArg],
        write: &mut [VaccelArg],
    ) -> Result<()> {
        tracing::debug!(
            session = ctx.session_id,
            "[noop] {op} read=[{}] write=[{}]",
            describe(read),
            describe(write)
        );
        Ok(())
    }
}

vaccel_plugin::declare_plugin! {
    plugin: Noop,
    name: "noop",
    description: "debug plugin: implements every op, logs arguments, returns upstream's dummy outputs",
    plugin_type: plugin_type::DEBUG,
    ops: OpSet::all(),
}
