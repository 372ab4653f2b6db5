//! The plugin author's side: implement [`Plugin`] (safe Rust, typed arguments), declare it
//! with [`crate::declare_plugin!`], and — in a `cdylib` crate — export it with
//! [`crate::export_plugin!`]. The SDK turns ABI calls into trait calls: it validates and
//! decodes arguments, writes output strings the C way, catches panics and reports errors
//! with a message.

use crate::abi::{
    ABI_MAJOR, ABI_MINOR, AbiBlob, AbiResource, CallContext, ERROR_MESSAGE_CAP, ErrorMessage,
    HostApi, PluginDescriptor, VaccelArg,
};
use crate::args::Element;
use crate::ops::{self, ImageOp, MinmaxArgs, SgemmArgs, write_c_string};
use crate::tensor::{TENSOR_TYPE_ID, Tensor};
use crate::types::{ArgType, OpSet, OpType, ResourceType, code};
use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

/// A failed plugin operation: a vAccel code and a message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    /// `VACCEL_E*` code (non-zero).
    pub code: i32,
    /// What went wrong, with the values involved.
    pub message: String,
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
            };
        }
        // SAFETY: non-null and valid per the caller.
        let c = unsafe { &*ctx };
        // SAFETY: the runtime passes `nr_resources` entries (ABI contract).
        let resources = unsafe { raw_slice(c.resources, c.nr_resources) };
        Ctx {
            session_id: c.session_id,
            hint: c.session_hint,
            resources,
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
pub struct ExecCall<'a> {
    /// Library path.
    pub library: &'a str,
    /// Symbol.
    pub symbol: &'a str,
    /// Function's read args.
    pub read: &'a mut [VaccelArg],
    /// Function's write args.
    pub write: &'a mut [VaccelArg],
}

/// Arguments of `exec_with_resource`.
pub struct ExecResourceCall<'a> {
    /// The LIB resource.
    pub resource: ResourceView<'a>,
    /// Symbol.
    pub symbol: &'a str,
    /// Function's read args.
    pub read: &'a mut [VaccelArg],
    /// Function's write args.
    pub write: &'a mut [VaccelArg],
}

/// One ranked class.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopClass {
    /// Class index in the model's output.
    pub index: usize,
    /// Probability (0–1).
    pub score: f32,
    /// Class label.
    pub label: String,
}

/// What image classification returns to the caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Classification {
    /// Text for `out_text` (upstream format: `"38.253% Egyptian cat"`).
    pub text: String,
    /// Text for `out_imgname`.
    pub imgname: String,
    /// The best classes, best first (as many as asked for).
    pub top: Vec<TopClass>,
}

impl Classification {
    /// The `top` lines as they travel: `index<TAB>score<TAB>label` per line.
    pub fn top_lines(&self) -> String {
        self.top
            .iter()
            .map(|t| format!("{}\t{}\t{}\n", t.index, t.score, t.label))
            .collect()
    }

    /// Parse `top` lines back (unparsable lines are skipped).
    pub fn parse_top(lines: &str) -> Vec<TopClass> {
        lines
            .lines()
            .filter_map(|l| {
                let mut f = l.splitn(3, '\t');
                Some(TopClass {
                    index: f.next()?.parse().ok()?,
                    score: f.next()?.parse().ok()?,
                    label: f.next()?.to_string(),
                })
            })
            .collect()
    }
}

/// A found object: a box in image pixels and a confidence.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Detection {
    /// Confidence (0–1).
    pub score: f32,
    /// Left.
    pub x0: u32,
    /// Top.
    pub y0: u32,
    /// Right (exclusive).
    pub x1: u32,
    /// Bottom (exclusive).
    pub y1: u32,
}

/// What detection / segmentation / pose / depth return.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageOutput {
    /// Text for `out_imgname` (the path of an annotated image, or a message).
    pub imgname: String,
    /// Findings (detection boxes).
    pub detections: Vec<Detection>,
}

impl ImageOutput {
    /// The `results` lines as they travel: `score<TAB>x0<TAB>y0<TAB>x1<TAB>y1` per line.
    pub fn result_lines(&self) -> String {
        self.detections
            .iter()
            .map(|d| format!("{}\t{}\t{}\t{}\t{}\n", d.score, d.x0, d.y0, d.x1, d.y1))
            .collect()
    }

    /// Parse `results` lines back (unparsable lines are skipped).
    pub fn parse_results(lines: &str) -> Vec<Detection> {
        lines
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                if f.len() != 5 {
                    return None;
                }
                Some(Detection {
                    score: f[0].parse().ok()?,
                    x0: f[1].parse().ok()?,
                    y0: f[2].parse().ok()?,
                    x1: f[3].parse().ok()?,
                    y1: f[4].parse().ok()?,
                })
            })
            .collect()
    }
}

/// Copy whole lines of `text` into a C buffer (NUL-terminated); lines that do not fit are
/// left out rather than cut.
fn write_lines(out: &mut [u8], text: &str) {
    let room = out.len().saturating_sub(1);
    let mut end = 0;
    for (i, _) in text.match_indices('\n') {
        if i + 1 > room {
            break;
        }
        end = i + 1;
    }
    write_c_string(out, &text[..end]);
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
    /// Ops without a typed layout (framework model ops, FPGA, OpenCV): raw arguments.
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

/// Where a declared plugin keeps its one instance. Implemented by `declare_plugin!`.
pub trait Slot: Plugin {
    /// The instance slot.
    fn slot() -> &'static OnceLock<Self>;
}

/// Build a descriptor for `P` (used by `declare_plugin!`). Strings must end with a NUL.
pub const fn descriptor<P: Slot>(
    name: &'static str,
    version: &'static str,
    description: &'static str,
    plugin_type: u32,
    ops: OpSet,
) -> PluginDescriptor {
    assert!(ends_with_nul(name) && ends_with_nul(version) && ends_with_nul(description));
    PluginDescriptor {
        abi_major: ABI_MAJOR,
        abi_minor: ABI_MINOR,
        struct_size: size_of::<PluginDescriptor>() as u32,
        plugin_type,
        name: name.as_ptr().cast(),
        version: version.as_ptr().cast(),
        description: description.as_ptr().cast(),
        ops: ops.0,
        init: Some(init_shim::<P>),
        fini: Some(fini_shim::<P>),
        call: Some(call_shim::<P>),
        session_init: Some(session_init_shim::<P>),
        session_release: Some(session_release_shim::<P>),
        resource_register: Some(resource_register_shim::<P>),
        resource_unregister: Some(resource_unregister_shim::<P>),
        reserved: [std::ptr::null(); 8],
    }
}

const fn ends_with_nul(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && b[b.len() - 1] == 0
}

/// Run `f`, turning errors and panics into a code plus a message in `err`.
fn guard(err: *mut ErrorMessage, f: impl FnOnce() -> Result<()>) -> c_int {
    let result = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(PluginError::backend(format!("plugin panicked: {what}")))
    });
    match result {
        Ok(()) => code::OK,
        Err(e) => {
            set_message(err, &e.message);
            if e.code == code::OK {
                code::EBACKEND
            } else {
                e.code
            }
        }
    }
}

fn set_message(err: *mut ErrorMessage, msg: &str) {
    if err.is_null() {
        return;
    }
    let mut n = msg.len().min(ERROR_MESSAGE_CAP);
    while n > 0 && !msg.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: `err` is the runtime's message buffer for this call (ABI contract), non-null;
    // we write `n <= ERROR_MESSAGE_CAP` bytes, then the length.
    unsafe {
        std::ptr::copy_nonoverlapping(
            msg.as_ptr(),
            std::ptr::addr_of_mut!((*err).bytes).cast::<u8>(),
            n,
        );
        std::ptr::addr_of_mut!((*err).len).write(n as u32);
    }
}

fn instance<P: Slot>() -> Result<&'static P> {
    P::slot()
        .get()
        .ok_or_else(|| PluginError::new(code::ENODEV, "plugin used before init"))
}

unsafe extern "C" fn init_shim<P: Slot>(host: *const HostApi, err: *mut ErrorMessage) -> c_int {
    guard(err, || {
        let (log_level, log) = if host.is_null() {
            (1, None)
        } else {
            // SAFETY: non-null host API from the runtime, valid for the call.
            let h = unsafe { &*host };
            (h.log_level, h.log)
        };
        if let Some(log) = log {
            crate::log::forward_to_host(log, log_level);
        }
        if P::slot().get().is_none() {
            let plugin = P::init(&Host {
                abi: (ABI_MAJOR, ABI_MINOR),
                log_level,
            })?;
            let _ = P::slot().set(plugin);
        }
        Ok(())
    })
}

unsafe extern "C" fn fini_shim<P: Slot>() -> c_int {
    guard(std::ptr::null_mut(), || {
        if let Some(p) = P::slot().get() {
            p.fini();
        }
        Ok(())
    })
}

unsafe extern "C" fn session_init_shim<P: Slot>(
    id: i64,
    hint: u32,
    err: *mut ErrorMessage,
) -> c_int {
    guard(err, || instance::<P>()?.session_init(id, hint))
}

unsafe extern "C" fn session_release_shim<P: Slot>(id: i64, err: *mut ErrorMessage) -> c_int {
    guard(err, || instance::<P>()?.session_release(id))
}

unsafe extern "C" fn resource_register_shim<P: Slot>(
    ctx: *const CallContext,
    res: *const AbiResource,
    err: *mut ErrorMessage,
) -> c_int {
    guard(err, || {
        if res.is_null() {
            return Err(PluginError::invalid("resource_register: NULL resource"));
        }
        // SAFETY: ABI contract: valid for the call.
        let ctx = unsafe { Ctx::from_raw(ctx) };
        // SAFETY: non-null and valid for the call (ABI contract).
        let r = unsafe { &*res };
        let view = ResourceView {
            id: r.id,
            resource_type: ResourceType::from_raw(r.resource_type),
            // SAFETY: ABI contract: `blobs` is valid for `nr_blobs`.
            blobs: unsafe { raw_slice(r.blobs, r.nr_blobs) },
        };
        instance::<P>()?.resource_register(&ctx, &view)
    })
}

unsafe extern "C" fn resource_unregister_shim<P: Slot>(
    sid: i64,
    rid: i64,
    err: *mut ErrorMessage,
) -> c_int {
    guard(err, || instance::<P>()?.resource_unregister(sid, rid))
}

unsafe extern "C" fn call_shim<P: Slot>(
    ctx: *const CallContext,
    op: u32,
    read: *mut VaccelArg,
    nr_read: usize,
    write: *mut VaccelArg,
    nr_write: usize,
    err: *mut ErrorMessage,
) -> c_int {
    guard(err, || {
        let plugin = instance::<P>()?;
        let op = OpType::from_raw(op)
            .ok_or_else(|| PluginError::new(code::ENOTSUP, format!("unknown op id {op}")))?;
        // SAFETY: ABI contract: the context and arrays are valid for the call.
        let ctx = unsafe { Ctx::from_raw(ctx) };
        // SAFETY: as above.
        let read = unsafe { raw_slice_mut(read, nr_read) };
        // SAFETY: as above.
        let write = unsafe { raw_slice_mut(write, nr_write) };
        // SAFETY: as above: every arg's buffer is valid for its size for the call.
        unsafe { dispatch(plugin, &ctx, op, read, write) }
    })
}

/// Decode and run one op.
///
/// # Safety
/// Every arg's `buf` must be valid for `size` bytes (reads; writes for `write` args) for
/// the duration of the call.
unsafe fn dispatch<P: Plugin>(
    p: &P,
    ctx: &Ctx<'_>,
    op: OpType,
    read: &mut [VaccelArg],
    write: &mut [VaccelArg],
) -> Result<()> {
    ops::check_args(op, read, write)?;
    if let Some(r) = p.forward(ctx, op, &mut ForwardArgs { read, write }) {
        return r;
    }
    match op {
        OpType::Noop => p.noop(ctx),
        OpType::Exec => {
            let (fixed, rest) = read.split_at_mut(2);
            // SAFETY: shapes checked; buffers valid per the caller.
            let library = unsafe { arg_str(&fixed[0], "library") }?;
            // SAFETY: as above.
            let symbol = unsafe { arg_str(&fixed[1], "symbol") }?;
            p.exec(
                ctx,
                ExecCall {
                    library,
                    symbol,
                    read: rest,
                    write,
                },
            )
        }
        OpType::ExecWithResource => {
            let (fixed, rest) = read.split_at_mut(2);
            // SAFETY: shape checked (8 bytes, aligned).
            let id = unsafe { scalar::<i64>(&fixed[0]) };
            // SAFETY: shape checked.
            let symbol = unsafe { arg_str(&fixed[1], "symbol") }?;
            let resource = ctx.resource(id).ok_or_else(|| {
                PluginError::not_found(format!(
                    "resource {id} is not registered with session {}",
                    ctx.session_id
                ))
            })?;
            if resource.resource_type != Some(ResourceType::Lib) {
                return Err(PluginError::invalid(format!(
                    "resource {id} is not a LIB resource"
                )));
            }
            p.exec_with_resource(
                ctx,
                ExecResourceCall {
                    resource,
                    symbol,
                    read: rest,
                    write,
                },
            )
        }
        OpType::ImageClassify => {
            check_disjoint(op, read, write)?;
            // SAFETY: shape checked; read buffer valid.
            let image = unsafe { bytes(&read[0]) };
            let top_k = match read.get(1) {
                // SAFETY: shape checked (INT32 scalar).
                Some(k) => match unsafe { scalar::<i32>(k) } {
                    k @ 1..=1000 => k as usize,
                    k => {
                        return Err(PluginError::invalid(format!(
                            "image_classify: top_k must be 1..=1000, got {k}"
                        )));
                    }
                },
                None if write.len() > 2 => 5,
                None => 1,
            };
            let out = p.image_classify(ctx, image, top_k)?;
            // SAFETY: write buffers valid and disjoint (checked).
            write_c_string(unsafe { bytes_mut(&write[0]) }, &out.imgname);
            // SAFETY: as above.
            write_c_string(unsafe { bytes_mut(&write[1]) }, &out.text);
            if let Some(top) = write.get(2) {
                // SAFETY: as above.
                write_lines(unsafe { bytes_mut(top) }, &out.top_lines());
            }
            Ok(())
        }
        OpType::ImageDetect | OpType::ImageSegment | OpType::ImagePose | OpType::ImageDepth => {
            check_disjoint(op, read, write)?;
            let kind = ImageOp::from_op(op).expect("matched image ops");
            // SAFETY: shape checked; read buffer valid.
            let image = unsafe { bytes(&read[0]) };
            let out = p.image_op(ctx, kind, image)?;
            // SAFETY: write buffer valid and disjoint (checked).
            write_c_string(unsafe { bytes_mut(&write[0]) }, &out.imgname);
            if let Some(results) = write.get(1) {
                // SAFETY: as above.
                write_lines(unsafe { bytes_mut(results) }, &out.result_lines());
            }
            Ok(())
        }
        OpType::TorchModelLoad
        | OpType::TfliteModelLoad
        | OpType::TfModelLoad
        | OpType::TfliteModelUnload
        | OpType::TfModelUnload => {
            // SAFETY: shape checked (INT64 scalar).
            let model = model_resource(ctx, op, unsafe { scalar::<i64>(&read[0]) })?;
            if matches!(op, OpType::TfliteModelUnload | OpType::TfModelUnload) {
                p.model_unload(ctx, op, &model)
            } else {
                p.model_load(ctx, op, &model)
            }
        }
        OpType::TorchModelRun | OpType::TfliteModelRun | OpType::TfModelRun => {
            check_disjoint(op, read, write)?;
            // SAFETY: shape checked (INT64 scalar).
            let model = model_resource(ctx, op, unsafe { scalar::<i64>(&read[0]) })?;
            let tensor_arg = |dir: &str, i: usize, a: &VaccelArg| -> Result<()> {
                if a.arg_type != ArgType::Custom.raw() || a.custom_type_id != TENSOR_TYPE_ID {
                    return Err(PluginError::invalid(format!(
                        "{op}: {dir} tensor {i} must be a CUSTOM arg with the tensor type id"
                    )));
                }
                crate::ops::check_shape(a, ArgType::Custom)
                    .map_err(|m| PluginError::invalid(format!("{op}: {dir} tensor {i} {m}")))
            };
            let mut inputs = Vec::with_capacity(read.len() - 1);
            for (i, a) in read[1..].iter().enumerate() {
                tensor_arg("input", i, a)?;
                // SAFETY: shape checked; buffer valid per this function's contract.
                let t = Tensor::decode(unsafe { bytes(a) })
                    .map_err(|m| PluginError::invalid(format!("{op}: input tensor {i}: {m}")))?;
                inputs.push(t);
            }
            for (i, a) in write.iter().enumerate() {
                tensor_arg("output", i, a)?;
            }
            let outputs = p.model_run(ctx, op, &model, inputs)?;
            if write.len() > outputs.len() {
                return Err(PluginError::invalid(format!(
                    "{op}: {} outputs asked for, the model has {}",
                    write.len(),
                    outputs.len()
                )));
            }
            // Too small an output buffer: report every needed size (in the arg's `size`)
            // and ERANGE, so the caller can retry with room.
            let mut short = Vec::new();
            for (i, (w, t)) in write.iter_mut().zip(&outputs).enumerate() {
                if w.size < t.encoded_len() {
                    short.push(format!(
                        "output {i} needs {} bytes, has {}",
                        t.encoded_len(),
                        w.size
                    ));
                    w.size = t.encoded_len();
                }
            }
            if !short.is_empty() {
                return Err(PluginError::new(
                    code::ERANGE,
                    format!("{op}: {}", short.join("; ")),
                ));
            }
            for (w, t) in write.iter_mut().zip(&outputs) {
                // SAFETY: write buffers valid, disjoint (checked) and large enough (checked).
                w.size = t.encode_into(unsafe { bytes_mut(w) });
            }
            Ok(())
        }
        OpType::BlasSgemm => {
            check_disjoint(op, read, write)?;
            let dim = |i: usize, name: &str| -> Result<usize> {
                // SAFETY: shape checked (INT64 scalars).
                let v = unsafe { scalar::<i64>(&read[i]) };
                usize::try_from(v).map_err(|_| {
                    PluginError::invalid(format!("blas_sgemm: {name} is negative ({v})"))
                })
            };
            // SAFETY: shapes and alignment checked by check_args; buffers valid per this
            // function's contract; the one mutable slice (c) is disjoint from the rest.
            let args = unsafe {
                SgemmArgs {
                    m: dim(0, "m")?,
                    n: dim(1, "n")?,
                    k: dim(2, "k")?,
                    alpha: scalar::<f32>(&read[3]),
                    a: slice::<f32>(&read[4]),
                    lda: dim(5, "lda")?,
                    b: slice::<f32>(&read[6]),
                    ldb: dim(7, "ldb")?,
                    beta: scalar::<f32>(&read[8]),
                    ldc: dim(9, "ldc")?,
                    c: slice_mut::<f32>(&write[0]),
                }
            };
            args.validate()
                .map_err(|m| PluginError::invalid(format!("blas_sgemm: {m}")))?;
            p.sgemm(ctx, args)
        }
        OpType::Minmax => {
            check_disjoint(op, read, write)?;
            // SAFETY: shapes and alignment checked; buffers valid per this function's
            // contract; the write args are disjoint from each other and the reads.
            let (input, ndata, low, high, output, min, max) = unsafe {
                (
                    slice::<f64>(&read[0]),
                    scalar::<i32>(&read[1]),
                    scalar::<i32>(&read[2]),
                    scalar::<i32>(&read[3]),
                    slice_mut::<f64>(&write[0]),
                    scalar_mut::<f64>(&write[1]),
                    scalar_mut::<f64>(&write[2]),
                )
            };
            let n = usize::try_from(ndata)
                .ok()
                .filter(|n| *n <= input.len() && *n <= output.len())
                .ok_or_else(|| {
                    PluginError::invalid(format!(
                        "minmax: ndata {ndata} does not fit the input ({}) and output ({}) arrays",
                        input.len(),
                        output.len()
                    ))
                })?;
            p.minmax(
                ctx,
                MinmaxArgs {
                    input: &input[..n],
                    low,
                    high,
                    output: &mut output[..n],
                    min,
                    max,
                },
            )
        }
        _ => p.raw_op(ctx, op, read, write),
    }
}

/// An op's arguments as a transport sees them: types and bytes, copied in and out without
/// ever forming references into the caller's buffers (which may overlap).
pub struct ForwardArgs<'a> {
    read: &'a mut [VaccelArg],
    write: &'a mut [VaccelArg],
}

/// An argument's type, custom type id and size.
#[derive(Debug, Clone, Copy)]
pub struct ArgInfo {
    /// `vaccel_arg_type_t`.
    pub arg_type: u32,
    /// Custom type id.
    pub custom_type_id: u32,
    /// Bytes (for write args: the capacity).
    pub size: usize,
}

fn info(a: &VaccelArg) -> ArgInfo {
    ArgInfo {
        arg_type: a.arg_type,
        custom_type_id: a.custom_type_id,
        size: a.size,
    }
}

fn copy_out(a: &VaccelArg) -> Vec<u8> {
    let mut v = vec![0u8; a.size];
    if a.size > 0 && !a.buf.is_null() {
        // SAFETY: the caller's buffer is valid for `size` bytes for the call (ABI
        // contract); copying through raw pointers forms no reference to it.
        unsafe { std::ptr::copy(a.buf as *const u8, v.as_mut_ptr(), a.size) };
    }
    v
}

fn borrow(a: &VaccelArg) -> &[u8] {
    if a.size == 0 || a.buf.is_null() {
        return &[];
    }
    // SAFETY: the caller's buffer is valid for `size` bytes for the whole call (ABI
    // contract) and the caller is blocked in it; the slice lives no longer than the
    // `ForwardArgs` borrow, and results are stored (`set_write`) only through `&mut self`,
    // so no write can happen while a slice from here exists.
    unsafe { std::slice::from_raw_parts(a.buf as *const u8, a.size) }
}

impl ForwardArgs<'_> {
    /// Read arg `i`'s bytes, borrowed from the caller (no copy), e.g. to send them.
    pub fn read_slice(&self, i: usize) -> &[u8] {
        self.read.get(i).map_or(&[], borrow)
    }
    /// Write arg `i`'s current bytes, borrowed from the caller (in/out args carry input).
    pub fn write_slice(&self, i: usize) -> &[u8] {
        self.write.get(i).map_or(&[], borrow)
    }
    /// Read args.
    pub fn read(&self) -> Vec<ArgInfo> {
        self.read.iter().map(info).collect()
    }
    /// Write args.
    pub fn write(&self) -> Vec<ArgInfo> {
        self.write.iter().map(info).collect()
    }
    /// A copy of read arg `i`'s bytes.
    pub fn read_bytes(&self, i: usize) -> Vec<u8> {
        self.read.get(i).map(copy_out).unwrap_or_default()
    }
    /// A copy of write arg `i`'s current bytes (in/out args carry input there).
    pub fn write_bytes(&self, i: usize) -> Vec<u8> {
        self.write.get(i).map(copy_out).unwrap_or_default()
    }
    /// Store `data` as write arg `i`'s result (its size becomes `data.len()`).
    ///
    /// # Errors
    /// `EINVAL` when there is no such arg or the data does not fit its capacity.
    pub fn set_write(&mut self, i: usize, data: &[u8]) -> Result<()> {
        let a = self
            .write
            .get_mut(i)
            .ok_or_else(|| PluginError::invalid(format!("no write arg {i}")))?;
        if data.len() > a.size || (a.buf.is_null() && !data.is_empty()) {
            return Err(PluginError::invalid(format!(
                "write arg {i}: result of {} bytes does not fit its {} bytes",
                data.len(),
                a.size
            )));
        }
        if !data.is_empty() {
            // SAFETY: the buffer is valid for `size` ≥ `data.len()` bytes (ABI contract);
            // raw copy, no reference formed.
            unsafe { std::ptr::copy(data.as_ptr(), a.buf as *mut u8, data.len()) };
        }
        a.size = data.len();
        Ok(())
    }
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
    let range = |a: &VaccelArg| (a.buf as usize, a.buf as usize + a.size);
    for (wi, w) in write.iter().enumerate() {
        if w.size == 0 {
            continue;
        }
        let (ws, we) = range(w);
        let others = read.iter().map(|a| ("read", a)).chain(
            write
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != wi)
                .map(|(_, a)| ("write", a)),
        );
        for (dir, o) in others {
            let (os, oe) = range(o);
            if o.size > 0 && ws < oe && os < we {
                return Err(PluginError::invalid(format!(
                    "{op}: write arg {wi} overlaps a {dir} arg; outputs need their own buffers"
                )));
            }
        }
    }
    Ok(())
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

/// # Safety
/// `p` valid and exclusive for `len` elements (or `len == 0`), for `'a`.
unsafe fn raw_slice_mut<'a, T>(p: *mut T, len: usize) -> &'a mut [T] {
    if len == 0 || p.is_null() {
        &mut []
    } else {
        // SAFETY: per the function's contract.
        unsafe { std::slice::from_raw_parts_mut(p, len) }
    }
}

/// # Safety
/// `arg.buf` valid for `arg.size` bytes for `'a`.
unsafe fn bytes<'a>(arg: &VaccelArg) -> &'a [u8] {
    // SAFETY: per the function's contract.
    unsafe { raw_slice(arg.buf as *const u8, arg.size) }
}

/// # Safety
/// `arg.buf` valid and exclusive for `arg.size` bytes for `'a`.
unsafe fn bytes_mut<'a>(arg: &VaccelArg) -> &'a mut [u8] {
    // SAFETY: per the function's contract.
    unsafe { raw_slice_mut(arg.buf as *mut u8, arg.size) }
}

/// # Safety
/// `arg` passed `check_shape` for `T::ARG` and its buffer is valid.
unsafe fn scalar<T: Element>(arg: &VaccelArg) -> T {
    // SAFETY: size == size_of::<T>() and alignment were checked; any bit pattern is a T.
    unsafe { (arg.buf as *const T).read() }
}

/// # Safety
/// As [`scalar`], and exclusive for `'a`.
unsafe fn scalar_mut<'a, T: Element>(arg: &VaccelArg) -> &'a mut T {
    // SAFETY: size, alignment checked; exclusive per the contract.
    unsafe { &mut *(arg.buf as *mut T) }
}

/// # Safety
/// `arg` passed `check_shape` for `T::ARRAY` and its buffer is valid for `'a`.
unsafe fn slice<'a, T: Element>(arg: &VaccelArg) -> &'a [T] {
    // SAFETY: size is a multiple of size_of::<T>() and aligned (checked).
    unsafe { raw_slice(arg.buf as *const T, arg.size / size_of::<T>()) }
}

/// # Safety
/// As [`slice`], and exclusive for `'a`.
unsafe fn slice_mut<'a, T: Element>(arg: &VaccelArg) -> &'a mut [T] {
    // SAFETY: as above, exclusive per the contract.
    unsafe { raw_slice_mut(arg.buf as *mut T, arg.size / size_of::<T>()) }
}

/// A STRING arg as `&str`: up to the first NUL (upstream programs pass sizes with and
/// without the terminator).
///
/// # Safety
/// `arg.buf` valid for `arg.size` bytes for `'a`.
unsafe fn arg_str<'a>(arg: &VaccelArg, name: &str) -> Result<&'a str> {
    debug_assert_eq!(arg.arg_type, ArgType::String.raw());
    // SAFETY: per the function's contract.
    let b = unsafe { bytes(arg) };
    let b = b.iter().position(|c| *c == 0).map_or(b, |n| &b[..n]);
    if b.is_empty() {
        return Err(PluginError::invalid(format!("{name} is empty")));
    }
    std::str::from_utf8(b).map_err(|_| PluginError::invalid(format!("{name} is not UTF-8")))
}

/// Declare a plugin: generates its descriptor and `pub fn descriptor()`, which the runtime
/// faces register as a built-in and [`crate::export_plugin!`] exports from a `cdylib`.
///
/// ```ignore
/// vaccel_plugin::declare_plugin! {
///     plugin: MyPlugin,
///     name: "mine",
///     description: "does things",
///     plugin_type: vaccel_plugin::plugin_type::CPU,
///     ops: vaccel_plugin::OpSet::of(&[vaccel_plugin::OpType::Noop]),
/// }
/// ```
#[macro_export]
macro_rules! declare_plugin {
    (
        plugin: $ty:ty,
        name: $name:literal,
        description: $desc:literal,
        plugin_type: $ptype:expr,
        ops: $ops:expr $(,)?
    ) => {
        const _: () = {
            static SLOT: ::std::sync::OnceLock<$ty> = ::std::sync::OnceLock::new();
            impl $crate::sdk::Slot for $ty {
                fn slot() -> &'static ::std::sync::OnceLock<Self> {
                    &SLOT
                }
            }
        };

        static VACCEL_PLUGIN_DESCRIPTOR: $crate::abi::PluginDescriptor =
            $crate::sdk::descriptor::<$ty>(
                concat!($name, "\0"),
                concat!(env!("CARGO_PKG_VERSION"), "\0"),
                concat!($desc, "\0"),
                $ptype,
                $ops,
            );

        /// This plugin's descriptor (register it as a built-in, or export it).
        pub fn descriptor() -> &'static $crate::abi::PluginDescriptor {
            &VACCEL_PLUGIN_DESCRIPTOR
        }
    };
}

/// Export a declared plugin from a `cdylib` crate as `vaccel_plugin_entry`. Use it once per
/// shared object, in a crate of its own (two in one binary would clash).
#[macro_export]
macro_rules! export_plugin {
    ($descriptor:path) => {
        /// The vAccel plugin entry point.
        #[unsafe(no_mangle)]
        pub extern "C" fn vaccel_plugin_entry() -> *const $crate::abi::PluginDescriptor {
            $descriptor()
        }
    };
}
