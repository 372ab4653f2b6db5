//! The plugin author's side: implement [`Plugin`] (safe Rust, typed arguments), declare it
//! with [`crate::declare_plugin!`], and — in a `cdylib` crate — export it with
//! [`crate::export_plugin!`]. The SDK turns ABI calls into trait calls: it validates and
//! decodes arguments, writes output strings the C way, catches panics and reports errors
//! with a message.
//!
//! By job: this file is the author's API (errors, context, the trait); `dispatch.rs`
//! decodes a call into the op's typed view and writes results back; `forward.rs` is the
//! transport's undecoded view of a call; `shims.rs` holds the `extern "C"` entry points
//! and the declaring macros.

use crate::abi::{AbiBlob, AbiResource, CallContext, VaccelArg};
use crate::args::Args;
use crate::ops::{
    self, FpgaCopyArgs, FpgaMmultArgs, FpgaParallelArgs, FpgaVaddArgs, ImageOp, MinmaxArgs,
    SgemmArgs,
};
use crate::tensor::Tensor;
use crate::types::{OpType, ResourceType, code};

mod dispatch;
mod forward;
mod shims;

pub use crate::results::{Classification, Detection, ImageOutput, TopClass};
pub use forward::{ArgInfo, ForwardArgs};
pub use shims::{Slot, descriptor};

/// A failed plugin operation: a vAccel code and a message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    /// `VACCEL_E*` code (non-zero).
    pub code: i32,
    /// What went wrong, with the values involved.
    pub message: String,
    /// Relayed from elsewhere (a transport's remote side): the message already says where
    /// it happened, so the runtime shows it without naming this plugin.
    pub relayed: bool,
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PluginError {}

impl PluginError {
    /// An error with a code.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        PluginError {
            code,
            message: message.into(),
            relayed: false,
        }
    }
    /// An error relayed from elsewhere (see [`PluginError::relayed`]).
    pub fn relayed(code: i32, message: impl Into<String>) -> Self {
        PluginError {
            relayed: true,
            ..Self::new(code, message)
        }
    }
    /// `VACCEL_EINVAL`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(code::EINVAL, message)
    }
    /// `VACCEL_ENOENT`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(code::ENOENT, message)
    }
    /// `VACCEL_EBACKEND`: the backend failed.
    pub fn backend(message: impl Into<String>) -> Self {
        Self::new(code::EBACKEND, message)
    }
    /// `VACCEL_ENOTSUP` for an op this plugin lacks.
    pub fn unsupported(op: OpType) -> Self {
        Self::new(
            code::ENOTSUP,
            format!("{op} is not implemented by this plugin"),
        )
    }
}

impl From<ops::ArgError> for PluginError {
    fn from(e: ops::ArgError) -> Self {
        PluginError::invalid(e.to_string())
    }
}

/// Plugin operation result.
pub type Result<T> = std::result::Result<T, PluginError>;

/// What the runtime offers at `init`.
#[derive(Debug, Clone)]
pub struct Host {
    /// Runtime ABI (major, minor).
    pub abi: (u32, u32),
    /// Most verbose log level the runtime shows (1 error … 4 debug).
    pub log_level: u32,
}

/// One blob of a resource.
#[derive(Debug, Clone, Copy)]
pub struct BlobView<'a> {
    /// File name.
    pub name: &'a str,
    /// Bytes.
    pub data: &'a [u8],
    /// SHA-256 of `data` (computed by the runtime when the resource was made).
    pub sha256: &'a [u8; 32],
}

/// A resource registered with the calling session.
#[derive(Debug, Clone, Copy)]
pub struct ResourceView<'a> {
    /// Id.
    pub id: i64,
    /// Type (`None` for a type id this SDK does not know).
    pub resource_type: Option<ResourceType>,
    blobs: &'a [AbiBlob],
}

impl<'a> ResourceView<'a> {
    /// Its blobs, in order.
    pub fn blobs(&self) -> impl Iterator<Item = BlobView<'a>> + 'a {
        self.blobs.iter().map(|b| {
            // SAFETY: the runtime guarantees name/data are valid for their lengths for the
            // duration of the call (ABI contract); 'a is bounded by that call.
            let name = unsafe { raw_slice(b.name, b.name_len) };
            // SAFETY: as above.
            let data = unsafe { raw_slice(b.data, b.len) };
            BlobView {
                name: std::str::from_utf8(name).unwrap_or("<non-utf8 name>"),
                data,
                sha256: &b.sha256,
            }
        })
    }

    /// Number of blobs.
    pub fn nr_blobs(&self) -> usize {
        self.blobs.len()
    }
}

/// The call's context: which session, and what it has registered.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// Calling session id.
    pub session_id: i64,
    /// Session hint flags.
    pub hint: u32,
    resources: &'a [AbiResource],
    /// The layouts the runtime checked the arguments against (0: unchecked).
    layouts_checked: usize,
}

impl<'a> Ctx<'a> {
    /// Build from the raw context.
    ///
    /// # Safety
    /// `ctx` must be null or valid for the call, with `resources` valid for `nr_resources`.
    unsafe fn from_raw(ctx: *const CallContext) -> Ctx<'a> {
        if ctx.is_null() {
            return Ctx {
                session_id: 0,
                hint: 0,
                resources: &[],
                layouts_checked: 0,
            };
        }
        // SAFETY: non-null and valid per the caller.
        let c = unsafe { &*ctx };
        // SAFETY: the runtime passes `nr_resources` entries (ABI contract).
        let resources = unsafe { raw_slice(c.resources, c.nr_resources) };
        // A context from a 1.0 runtime has a null reserved slot here: 0, unchecked.
        let layouts_checked = if c.struct_size as usize >= size_of::<CallContext>() {
            c.layouts_checked
        } else {
            0
        };
        Ctx {
            session_id: c.session_id,
            hint: c.session_hint,
            resources,
            layouts_checked,
        }
    }

    /// The registered resource with this id.
    pub fn resource(&self, id: i64) -> Option<ResourceView<'a>> {
        self.resources().find(|r| r.id == id)
    }

    /// All registered resources, in registration order.
    pub fn resources(&self) -> impl Iterator<Item = ResourceView<'a>> + 'a {
        self.resources.iter().map(|r| ResourceView {
            id: r.id,
            resource_type: ResourceType::from_raw(r.resource_type),
            // SAFETY: ABI contract: `blobs` is valid for `nr_blobs` for the call.
            blobs: unsafe { raw_slice(r.blobs, r.nr_blobs) },
        })
    }
}

/// Arguments of `exec`: the library path, the symbol, and the function's own arguments
/// (passed to it untouched).
pub type ExecCall<'a> = ops::ExecArgs<'a>;

/// Arguments of `exec_with_resource`.
pub struct ExecResourceCall<'a> {
    /// The LIB resource.
    pub resource: ResourceView<'a>,
    /// Symbol.
    pub symbol: &'a str,
    /// Function's read args.
    pub read: Args<'a>,
    /// Function's write args.
    pub write: Args<'a>,
}

/// A vAccel plugin. Every op has a default that returns `VACCEL_ENOTSUP`; implement the ones
/// the plugin really does and list them in `declare_plugin!`'s `ops`.
///
/// One instance lives for the whole process; entry points may be called from many threads
/// at once, so methods take `&self`.
pub trait Plugin: Sized + Send + Sync + 'static {
    /// Create the plugin (called once, at load).
    ///
    /// # Errors
    /// Why it cannot work here; the load fails with that message.
    fn init(host: &Host) -> Result<Self>;
    /// Called before unload.
    fn fini(&self) {}
    /// A session bound to this plugin was created.
    ///
    /// # Errors
    /// Fails the session's creation.
    fn session_init(&self, _session_id: i64, _hint: u32) -> Result<()> {
        Ok(())
    }
    /// The id the remote side gave a session bound to this transport (upstream's
    /// `sess.remote_id`); `None` (the default) for plugins that run ops themselves.
    fn remote_session_id(&self, _session_id: i64) -> Option<i64> {
        None
    }
    /// A session bound to this plugin is being released.
    ///
    /// # Errors
    /// Reported to the releaser.
    fn session_release(&self, _session_id: i64) -> Result<()> {
        Ok(())
    }
    /// A resource was registered with a session bound to this plugin.
    ///
    /// # Errors
    /// Fails the registration.
    fn resource_register(&self, _ctx: &Ctx<'_>, _resource: &ResourceView<'_>) -> Result<()> {
        Ok(())
    }
    /// A resource was unregistered.
    ///
    /// # Errors
    /// Reported to the caller.
    fn resource_unregister(&self, _session_id: i64, _resource_id: i64) -> Result<()> {
        Ok(())
    }
    /// Take every op as it is, before any decoding (transports forward them). Return
    /// `None` (the default) to get the typed methods below instead.
    fn forward(
        &self,
        _ctx: &Ctx<'_>,
        _op: OpType,
        _args: &mut ForwardArgs<'_>,
    ) -> Option<Result<()>> {
        None
    }
    /// `noop`.
    ///
    /// # Errors
    /// `ENOTSUP` unless implemented.
    fn noop(&self, _ctx: &Ctx<'_>) -> Result<()> {
        Err(PluginError::unsupported(OpType::Noop))
    }
    /// `exec`.
    ///
    /// # Errors
    /// `ENOTSUP` unless implemented.
    fn exec(&self, _ctx: &Ctx<'_>, _call: ExecCall<'_>) -> Result<()> {
        Err(PluginError::unsupported(OpType::Exec))
    }
    /// `exec_with_resource`.
    ///
    /// # Errors
    /// `ENOTSUP` unless implemented.
    fn exec_with_resource(&self, _ctx: &Ctx<'_>, _call: ExecResourceCall<'_>) -> Result<()> {
        Err(PluginError::unsupported(OpType::ExecWithResource))
    }
    /// `image_classify` of encoded image bytes; `top_k` is how many classes to rank (≥ 1).
    ///
    /// # Errors
    /// `ENOTSUP` unless implemented.
    fn image_classify(
        &self,
        _ctx: &Ctx<'_>,
        _image: &[u8],
        _top_k: usize,
    ) -> Result<Classification> {
        Err(PluginError::unsupported(OpType::ImageClassify))
    }
    /// `image_detect` / `_segment` / `_pose` / `_depth`.
    ///
    /// # Errors
    /// `ENOTSUP` unless implemented.
    fn image_op(&self, _ctx: &Ctx<'_>, op: ImageOp, _image: &[u8]) -> Result<ImageOutput> {
        Err(PluginError::unsupported(op.op()))
    }
    /// Model load (`torch_model_load`, `tflite_model_load`, `tf_model_load`): prepare the
    /// session's MODEL resource `model` so runs are fast.
    ///
    /// # Errors
    /// `ENOTSUP` unless implemented (or for a model format the plugin cannot run).
    fn model_load(&self, _ctx: &Ctx<'_>, op: OpType, _model: &ResourceView<'_>) -> Result<()> {
        Err(PluginError::unsupported(op))
    }
    /// Model unload (`tflite_model_unload`, `tf_model_unload`).
    ///
    /// # Errors
    /// `ENOTSUP` unless implemented.
    fn model_unload(&self, _ctx: &Ctx<'_>, op: OpType, _model: &ResourceView<'_>) -> Result<()> {
        Err(PluginError::unsupported(op))
    }
    /// Model run (`torch_model_run`, `tflite_model_run`, `tf_model_run`): tensors in, tensors
    /// out (all of the model's outputs, in order).
    ///
    /// # Errors
    /// `ENOTSUP` unless implemented.
    fn model_run(
        &self,
        _ctx: &Ctx<'_>,
        op: OpType,
        _model: &ResourceView<'_>,
        _inputs: Vec<Tensor>,
    ) -> Result<Vec<Tensor>> {
        Err(PluginError::unsupported(op))
    }
    /// `blas_sgemm` (arguments already checked against their buffers).
    ///
    /// # Errors
    /// `ENOTSUP` unless implemented.
    fn sgemm(&self, _ctx: &Ctx<'_>, _args: SgemmArgs<'_>) -> Result<()> {
        Err(PluginError::unsupported(OpType::BlasSgemm))
    }
    /// `minmax`.
    ///
    /// # Errors
    /// `ENOTSUP` unless implemented.
    fn minmax(&self, _ctx: &Ctx<'_>, _args: MinmaxArgs<'_>) -> Result<()> {
        Err(PluginError::unsupported(OpType::Minmax))
    }
    /// `fpga_arraycopy`.
    ///
    /// # Errors
    /// `ENOTSUP` unless implemented.
    fn fpga_arraycopy(&self, _ctx: &Ctx<'_>, _args: FpgaCopyArgs<'_>) -> Result<()> {
        Err(PluginError::unsupported(OpType::FpgaArraycopy))
    }
    /// `fpga_mmult`.
    ///
    /// # Errors
    /// `ENOTSUP` unless implemented.
    fn fpga_mmult(&self, _ctx: &Ctx<'_>, _args: FpgaMmultArgs<'_>) -> Result<()> {
        Err(PluginError::unsupported(OpType::FpgaMmult))
    }
    /// `fpga_parallel`.
    ///
    /// # Errors
    /// `ENOTSUP` unless implemented.
    fn fpga_parallel(&self, _ctx: &Ctx<'_>, _args: FpgaParallelArgs<'_>) -> Result<()> {
        Err(PluginError::unsupported(OpType::FpgaParallel))
    }
    /// `fpga_vectoradd`.
    ///
    /// # Errors
    /// `ENOTSUP` unless implemented.
    fn fpga_vadd(&self, _ctx: &Ctx<'_>, _args: FpgaVaddArgs<'_>) -> Result<()> {
        Err(PluginError::unsupported(OpType::FpgaVectoradd))
    }
    /// TensorFlow's model run, with the graph nodes the inputs feed and the outputs are
    /// read from. By default the nodes are not used: `model_run`, matching by position.
    ///
    /// # Errors
    /// As `model_run`.
    fn tf_model_run(
        &self,
        ctx: &Ctx<'_>,
        model: &ResourceView<'_>,
        _in_nodes: &[crate::nodes::Node],
        inputs: Vec<Tensor>,
        _out_nodes: &[crate::nodes::Node],
    ) -> Result<Vec<Tensor>> {
        self.model_run(ctx, OpType::TfModelRun, model, inputs)
    }
    /// `torch_sgemm`: the product tensor of `a`, `b` and `c` with dimensions `m`, `n`,
    /// `k` (upstream's Torch plugin defines the semantics).
    ///
    /// # Errors
    /// `ENOTSUP` unless implemented.
    #[allow(clippy::too_many_arguments)]
    fn torch_sgemm(
        &self,
        _ctx: &Ctx<'_>,
        _a: Tensor,
        _b: Tensor,
        _c: Tensor,
        _mnk: [i32; 3],
    ) -> Result<Tensor> {
        Err(PluginError::unsupported(OpType::TorchSgemm))
    }
    /// Ops without a typed view (OpenCV, framework ops beyond load/run): raw arguments.
    ///
    /// # Errors
    /// `ENOTSUP` unless implemented.
    fn raw_op(
        &self,
        _ctx: &Ctx<'_>,
        op: OpType,
        _read: &mut [VaccelArg],
        _write: &mut [VaccelArg],
    ) -> Result<()> {
        Err(PluginError::unsupported(op))
    }
}

/// # Safety
/// `p` valid for `len` elements (or `len == 0`), for `'a`.
unsafe fn raw_slice<'a, T>(p: *const T, len: usize) -> &'a [T] {
    if len == 0 || p.is_null() {
        &[]
    } else {
        // SAFETY: per the function's contract.
        unsafe { std::slice::from_raw_parts(p, len) }
    }
}

#[cfg(test)]
mod tests;
