//! The noop plugin (type DEBUG): implements every op, logs the arguments it was given at
//! debug level, and computes nothing. Any text it returns says it came from the noop
//! plugin, so its output can never be mistaken for a real result. The runtime only routes
//! an op here when the session asked for `VACCEL_PLUGIN_DEBUG` or the plugin was named in
//! `VACCEL_PLUGINS`, and never ahead of a real plugin that has the op.

#![forbid(unsafe_code)]

use vaccel_plugin::abi::VaccelArg;
use vaccel_plugin::ops::{ImageOp, MinmaxArgs, SgemmArgs};
use vaccel_plugin::sdk::{ExecCall, ExecResourceCall, Host, Result};
use vaccel_plugin::{
    ArgType, Classification, Ctx, ImageOutput, OpSet, OpType, Plugin, plugin_type,
};

/// Text returned in place of a classification.
pub const CLASSIFY_TEXT: &str = "[noop plugin] no classification was performed";
/// Text returned in place of an output image name.
pub const IMGNAME_TEXT: &str = "[noop plugin] no image was produced";

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
            "[noop] blas_sgemm m={} n={} k={} alpha={} lda={} ldb={} beta={} ldc={} (C left unchanged)",
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
            "[noop] minmax n={} low={} high={} (outputs left unchanged)",
            a.indata.len(),
            a.low_threshold,
            a.high_threshold
        );
        Ok(())
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
    description: "debug plugin: implements every op, logs arguments, computes nothing",
    plugin_type: plugin_type::DEBUG,
    ops: OpSet::all(),
}
