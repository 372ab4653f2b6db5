//! The ONNX Runtime plugin (type CPU): real inference through ONNX Runtime (`ort`,
//! loading `libonnxruntime.so` at run time from `ORT_DYLIB_PATH` or the asset cache).
//!
//! * `image_classify` — EfficientNet-Lite0 (or the session's MODEL resource) with top-k.
//! * `image_detect` — PP-OCRv4 text detection; boxes plus an annotated PNG.
//! * `image_segment` / `_pose` / `_depth` — `VACCEL_ENOTSUP`: no model for them is installed.
//! * model load / run / unload — tensors in, tensors out, for a session's ONNX MODEL
//!   resource, behind the Torch, TFLite and TF entry points alike.
//!
//! Models are cached by content hash and shared by all sessions; `VACCEL_ONNX_THREADS`
//! sets ONNX Runtime's intra-op threads (default 1, the fastest on small machines). A model
//! runs on a small pool of ONNX Runtime sessions that grows while concurrent callers wait,
//! up to `VACCEL_ONNX_SESSIONS` (default: CPUs / threads).
//! Without ONNX Runtime or the default models the plugin still loads, and its ops say
//! what to install.

#![forbid(unsafe_code)]

pub mod assets;
pub mod classify;
pub mod detect;
pub mod direct;
pub mod engine;
pub mod models;
pub mod picture;

use vaccel_plugin::ops::ImageOp;
use vaccel_plugin::sdk::{Host, ResourceView, Result};
use vaccel_plugin::{
    Classification, Ctx, ImageOutput, OpSet, OpType, Plugin, PluginError, Tensor, code, plugin_type,
};

/// The plugin.
pub struct Onnx {
    holds: models::Holds,
}

impl Plugin for Onnx {
    fn init(_host: &Host) -> Result<Self> {
        Ok(Onnx {
            holds: models::Holds::default(),
        })
    }

    fn session_release(&self, session_id: i64) -> Result<()> {
        self.holds.release_session(session_id);
        Ok(())
    }

    fn model_load(&self, ctx: &Ctx<'_>, op: OpType, model: &ResourceView<'_>) -> Result<()> {
        self.holds.load(ctx.session_id, op, model)
    }

    fn model_unload(&self, ctx: &Ctx<'_>, op: OpType, model: &ResourceView<'_>) -> Result<()> {
        self.holds.unload(ctx.session_id, op, model)
    }

    fn model_run(
        &self,
        ctx: &Ctx<'_>,
        op: OpType,
        model: &ResourceView<'_>,
        inputs: Vec<Tensor>,
    ) -> Result<Vec<Tensor>> {
        if let Some(b) = model.blobs().next() {
            self.holds.add(ctx.session_id, *b.sha256);
        }
        models::run(op, model, inputs)
    }

    fn image_classify(&self, ctx: &Ctx<'_>, image: &[u8], top_k: usize) -> Result<Classification> {
        classify::classify(ctx, image, top_k, &self.holds)
    }

    fn image_op(&self, _ctx: &Ctx<'_>, op: ImageOp, image: &[u8]) -> Result<ImageOutput> {
        match op {
            ImageOp::Detect => detect::detect(image),
            other => Err(PluginError::new(
                code::ENOTSUP,
                format!(
                    "{}: no {} model is installed (only classification and text detection have models)",
                    other.op(),
                    match other {
                        ImageOp::Segment => "segmentation",
                        ImageOp::Pose => "pose estimation",
                        _ => "depth estimation",
                    }
                ),
            )),
        }
    }
}

vaccel_plugin::declare_plugin! {
    plugin: Onnx,
    name: "onnx",
    description: "ONNX Runtime: image classification, text detection",
    plugin_type: plugin_type::CPU,
    ops: OpSet::of(&[
        OpType::ImageClassify,
        OpType::ImageDetect,
        OpType::ImageSegment,
        OpType::ImagePose,
        OpType::ImageDepth,
        OpType::TorchModelLoad,
        OpType::TorchModelRun,
        OpType::TfliteModelLoad,
        OpType::TfliteModelRun,
        OpType::TfliteModelUnload,
        OpType::TfModelLoad,
        OpType::TfModelRun,
        OpType::TfModelUnload,
    ]),
}
