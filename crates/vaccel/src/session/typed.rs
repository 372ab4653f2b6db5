//! The typed ops: each fills the op's view (declared once, in `vaccel_plugin::ops`) and
//! runs it through [`Session::call`]. Outputs whose size cannot be known before the call
//! (results, tensors) are asked again with room when the plugin says `ERANGE`.

use super::Session;
use crate::error::{Error, Result};
use crate::resource::Resource;
use std::ffi::CString;
use vaccel_plugin::nodes::{self, Node};
use vaccel_plugin::ops::Blob;
use vaccel_plugin::ops::{
    ClassifyArgs, ExecArgs, ExecResourceArgs, FpgaCopyArgs, FpgaMmultArgs, FpgaParallelArgs,
    FpgaVaddArgs, ImageArgs, ImageOp, MinmaxArgs, ModelArgs, ModelRunArgs, Out, SgemmArgs, Text,
    TfModelRunArgs, TorchSgemmArgs,
};
use vaccel_plugin::{Args, Classification, ImageOutput, OpType, Results, Tensor, code};

/// Most room one output is given after `ERANGE`.
const MAX_ROOM: usize = 1 << 30;

fn cstring(what: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Invalid(format!("{what} {s:?} contains a NUL byte")))
}

fn text<'a>(what: &str, s: &'a CString) -> Result<Text<'a>> {
    Text::new(s).map_err(|m| Error::Invalid(format!("{what} {m}")))
}

fn dim(op: OpType, name: &str, v: i64) -> Result<usize> {
    usize::try_from(v).map_err(|_| Error::Invalid(format!("{op}: {name} is negative ({v})")))
}

/// Call `attempt` with output room `room`; when it fails with `ERANGE`, grow each output
/// to what the plugin reported it needs (or 4×, when a transport could not say) and try
/// again — at most three times.
fn with_room<T>(
    mut room: Vec<usize>,
    mut attempt: impl FnMut(&[usize]) -> std::result::Result<T, (Error, Vec<usize>)>,
) -> Result<T> {
    for _ in 0..2 {
        match attempt(&room) {
            Ok(v) => return Ok(v),
            Err((e, reported)) if e.code() == code::ERANGE => {
                let said = reported.iter().zip(&room).any(|(r, c)| r > c);
                for (c, r) in room.iter_mut().zip(reported) {
                    *c = if said { r.max(*c) } else { c.saturating_mul(4) }.min(MAX_ROOM);
                }
            }
            Err((e, _)) => return Err(e),
        }
    }
    attempt(&room).map_err(|(e, _)| e)
}

/// What an output's argument reported after a call: its length, or what it needs.
fn reported(out: &Option<Out<'_>>) -> usize {
    match out.as_ref().map(Out::written_bytes) {
        Some(Err(needed)) => needed,
        Some(Ok(b)) => b.len(),
        None => 0,
    }
}

/// Decode a results argument the plugin filled.
fn results(op: OpType, out: &Option<Out<'_>>) -> Result<Results> {
    match out.as_ref().map(Out::written_bytes) {
        Some(Ok(b)) if !b.is_empty() => Results::decode(b)
            .map_err(|m| Error::Backend(format!("{op}: the plugin's results are malformed: {m}"))),
        _ => Ok(Results::default()),
    }
}

fn c_text(buf: &[u8]) -> String {
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

impl Session {
    /// `noop`.
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn noop(&self) -> Result<()> {
        self.call(OpType::Noop, &mut Args::new(), &mut Args::new())
    }

    /// `exec`: call `symbol` in `library` with the function's own arguments.
    ///
    /// # Errors
    /// As [`Session::call`]; a non-zero return of the function is the error's code.
    pub fn exec(
        &self,
        library: &str,
        symbol: &str,
        read: &mut Args<'_>,
        write: &mut Args<'_>,
    ) -> Result<()> {
        let (lib, sym) = (cstring("library", library)?, cstring("symbol", symbol)?);
        ExecArgs {
            library: text("library", &lib)?,
            symbol: text("symbol", &sym)?,
            read: read.reborrow(),
            write: write.reborrow(),
        }
        .with_args(|r, w| self.call(OpType::Exec, r, w))
    }

    /// `exec_with_resource`: call `symbol` in a registered LIB resource.
    ///
    /// # Errors
    /// As [`Session::exec`]; `ENOENT` when `library` is not registered with this session.
    pub fn exec_with_resource(
        &self,
        library: &Resource,
        symbol: &str,
        read: &mut Args<'_>,
        write: &mut Args<'_>,
    ) -> Result<()> {
        let sym = cstring("symbol", symbol)?;
        ExecResourceArgs {
            resource_id: library.id(),
            symbol: text("symbol", &sym)?,
            read: read.reborrow(),
            write: write.reborrow(),
        }
        .with_args(|r, w| self.call(OpType::ExecWithResource, r, w))
    }

    /// `image_classify` on encoded image bytes (JPEG, PNG …): the best class, as upstream's
    /// text, plus the ranked list.
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn image_classify(&self, image: &[u8]) -> Result<Classification> {
        self.image_classify_top(image, 1)
    }

    /// `image_classify` ranking the `top_k` best classes (1–1000).
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn image_classify_top(&self, image: &[u8], top_k: usize) -> Result<Classification> {
        let op = OpType::ImageClassify;
        let k = i32::try_from(top_k)
            .map_err(|_| Error::Invalid(format!("top_k {top_k} is too large")))?;
        let (mut text, mut name) = (vec![0u8; 4096], vec![0u8; 1024]);
        // Room for k classes with labels of ~100 bytes and a few timings; asked again
        // with what the plugin needs otherwise.
        let first = top_k.saturating_mul(128).saturating_add(512);
        let found = with_room(vec![first], |room| {
            let mut top = vec![0u8; room[0]];
            let mut view = ClassifyArgs {
                image,
                top_k: Some(k),
                out_imgname: &mut name,
                out_text: &mut text,
                top: Some(Out::new(&mut top)),
            };
            match view.with_args(|r, w| self.call(op, r, w)) {
                Ok(()) => results(op, &view.top).map_err(|e| (e, vec![0])),
                Err(e) => Err((e, vec![reported(&view.top)])),
            }
        })?;
        Ok(Classification {
            text: c_text(&text),
            imgname: c_text(&name),
            top: found.classes,
            timings: found.timings,
        })
    }

    /// `image_detect` / `_segment` / `_pose` / `_depth`: the output image name and what
    /// was found (boxes, poses, masks).
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn image_op(&self, op: ImageOp, image: &[u8]) -> Result<ImageOutput> {
        let mut name = vec![0u8; 4096];
        let found = with_room(vec![64 << 10], |room| {
            let mut buf = vec![0u8; room[0]];
            let mut view = ImageArgs {
                image,
                out_imgname: &mut name,
                results: Some(Out::new(&mut buf)),
            };
            match view.with_args(|r, w| self.call(op.op(), r, w)) {
                Ok(()) => results(op.op(), &view.results).map_err(|e| (e, vec![0])),
                Err(e) => Err((e, vec![reported(&view.results)])),
            }
        })?;
        Ok(ImageOutput {
            imgname: c_text(&name),
            detections: found.boxes,
            poses: found.poses,
            masks: found.masks,
            timings: found.timings,
        })
    }

    /// Prepare a registered MODEL resource for runs (`torch_model_load`).
    ///
    /// # Errors
    /// As [`Session::call`]; `ENOTSUP` naming the format when no plugin can run it.
    pub fn model_load(&self, model: &Resource) -> Result<()> {
        self.model_op(OpType::TorchModelLoad, model.id())
    }

    /// Release a loaded model (`tflite_model_unload`; the framework ids are
    /// interchangeable for the onnx plugin).
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn model_unload(&self, model: &Resource) -> Result<()> {
        self.model_op(OpType::TfliteModelUnload, model.id())
    }

    /// Run a registered model: tensors in, its first `nr_outputs` outputs out
    /// (`torch_model_run`).
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn model_run(
        &self,
        model: &Resource,
        inputs: &[Tensor],
        nr_outputs: usize,
    ) -> Result<Vec<Tensor>> {
        self.tensor_run(OpType::TorchModelRun, model.id(), inputs, nr_outputs)
    }

    /// A model load / unload op by id (the C API's framework entry points).
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn model_op(&self, op: OpType, model_id: i64) -> Result<()> {
        ModelArgs { model_id }.with_args(|r, w| self.call(op, r, w))
    }

    /// A model run op by id (TensorFlow's with no graph nodes: see
    /// [`Session::tf_model_run`]). Output buffers start at 1 MiB each and are asked again
    /// with room on `ERANGE`.
    ///
    /// # Errors
    /// As [`Session::call`]; [`Error::Backend`] for a malformed output tensor.
    pub fn tensor_run(
        &self,
        op: OpType,
        model_id: i64,
        inputs: &[Tensor],
        nr_outputs: usize,
    ) -> Result<Vec<Tensor>> {
        self.run_tensors(op, model_id, (&[], &[]), inputs, nr_outputs)
    }

    /// TensorFlow's model run, with the graph nodes the inputs feed and the outputs are
    /// read from (plugins that know TF graphs use them; others match by position).
    ///
    /// # Errors
    /// As [`Session::tensor_run`].
    pub fn tf_model_run(
        &self,
        model_id: i64,
        in_nodes: &[Node],
        inputs: &[Tensor],
        out_nodes: &[Node],
        nr_outputs: usize,
    ) -> Result<Vec<Tensor>> {
        self.run_tensors(
            OpType::TfModelRun,
            model_id,
            (in_nodes, out_nodes),
            inputs,
            nr_outputs,
        )
    }

    fn run_tensors(
        &self,
        op: OpType,
        model_id: i64,
        (in_nodes, out_nodes): (&[Node], &[Node]),
        inputs: &[Tensor],
        nr_outputs: usize,
    ) -> Result<Vec<Tensor>> {
        let encoded: Vec<Vec<u8>> = inputs.iter().map(Tensor::encode).collect();
        let (in_nodes, out_nodes) = (nodes::encode(in_nodes), nodes::encode(out_nodes));
        with_room(vec![1 << 20; nr_outputs], |room| {
            let mut bufs: Vec<Vec<u8>> = room.iter().map(|c| vec![0u8; *c]).collect();
            let inputs = encoded.iter().map(|e| Blob(e)).collect();
            let outputs = bufs.iter_mut().map(|b| Out::new(b)).collect();
            let (called, outputs) = if op == OpType::TfModelRun {
                let mut view = TfModelRunArgs {
                    model_id,
                    in_nodes: Blob(&in_nodes),
                    out_nodes: Blob(&out_nodes),
                    inputs,
                    outputs,
                };
                (view.with_args(|r, w| self.call(op, r, w)), view.outputs)
            } else {
                let mut view = ModelRunArgs {
                    model_id,
                    inputs,
                    outputs,
                };
                (view.with_args(|r, w| self.call(op, r, w)), view.outputs)
            };
            let written: Vec<std::result::Result<&[u8], usize>> =
                outputs.iter().map(Out::written_bytes).collect();
            match called {
                Ok(()) => written
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        let b = b.map_err(|n| {
                            Error::Backend(format!(
                                "{op}: output tensor {i} reports {n} bytes, more than its buffer"
                            ))
                        })?;
                        Tensor::decode(b).map_err(|m| {
                            Error::Backend(format!("{op}: output tensor {i} is malformed: {m}"))
                        })
                    })
                    .collect::<Result<Vec<_>>>()
                    .map_err(|e| (e, Vec::new())),
                Err(e) => Err((
                    e,
                    written
                        .iter()
                        .map(|w| match w {
                            Ok(b) => b.len(),
                            Err(n) => *n,
                        })
                        .collect(),
                )),
            }
        })
    }

    /// `torch_sgemm` (upstream's Torch plugins define it; no plugin of ours has it): the
    /// result tensor, its buffer starting at 1 MiB and asked again with room on `ERANGE`.
    ///
    /// # Errors
    /// As [`Session::call`]; [`Error::Backend`] for a malformed result.
    pub fn torch_sgemm(
        &self,
        a: &Tensor,
        b: &Tensor,
        c: &Tensor,
        [m, n, k]: [i32; 3],
    ) -> Result<Tensor> {
        let op = OpType::TorchSgemm;
        let (a, b, c) = (a.encode(), b.encode(), c.encode());
        with_room(vec![1 << 20], |room| {
            let mut buf = vec![0u8; room[0]];
            let mut view = TorchSgemmArgs {
                a: Blob(&a),
                b: Blob(&b),
                c: Blob(&c),
                m,
                n,
                k,
                out: Out::new(&mut buf),
            };
            let called = view.with_args(|r, w| self.call(op, r, w));
            let written = view.out.written_bytes();
            match (called, written) {
                (Ok(()), Ok(bytes)) => Tensor::decode(bytes).map_err(|m| {
                    (
                        Error::Backend(format!("{op}: the result tensor is malformed: {m}")),
                        vec![],
                    )
                }),
                (Ok(()), Err(n)) => Err((
                    Error::Backend(format!(
                        "{op}: the result reports {n} bytes, more than its buffer"
                    )),
                    vec![],
                )),
                (Err(e), w) => Err((e, vec![w.map_or_else(|n| n, <[u8]>::len)])),
            }
        })
    }

    /// Row-major `C = alpha·A·B + beta·C` (`blas_sgemm`).
    ///
    /// # Errors
    /// As [`Session::call`]; dimensions that do not fit the slices are `EINVAL`.
    #[allow(clippy::too_many_arguments)]
    pub fn sgemm(
        &self,
        m: i64,
        n: i64,
        k: i64,
        alpha: f32,
        a: &[f32],
        lda: i64,
        b: &[f32],
        ldb: i64,
        beta: f32,
        c: &mut [f32],
        ldc: i64,
    ) -> Result<()> {
        let op = OpType::BlasSgemm;
        SgemmArgs {
            m: dim(op, "m", m)?,
            n: dim(op, "n", n)?,
            k: dim(op, "k", k)?,
            alpha,
            a,
            lda: dim(op, "lda", lda)?,
            b,
            ldb: dim(op, "ldb", ldb)?,
            beta,
            ldc: dim(op, "ldc", ldc)?,
            c,
        }
        .with_args(|r, w| self.call(op, r, w))
    }

    /// `minmax`: returns (min, max); `output` receives the processed values.
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn minmax(
        &self,
        input: &[f64],
        low: i32,
        high: i32,
        output: &mut [f64],
    ) -> Result<(f64, f64)> {
        let ndata = i32::try_from(input.len())
            .map_err(|_| Error::Overflow("minmax input length".into()))?;
        let (mut min, mut max) = (0f64, 0f64);
        MinmaxArgs {
            indata: input,
            ndata,
            low_threshold: low,
            high_threshold: high,
            outdata: output,
            min: &mut min,
            max: &mut max,
        }
        .with_args(|r, w| self.call(OpType::Minmax, r, w))?;
        Ok((min, max))
    }

    /// `fpga_arraycopy`: `out = a`.
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn fpga_arraycopy(&self, a: &[i32], out: &mut [i32]) -> Result<()> {
        FpgaCopyArgs { a, out_a: out }.with_args(|r, w| self.call(OpType::FpgaArraycopy, r, w))
    }

    /// `fpga_mmult`.
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn fpga_mmult(&self, a: &[f32], b: &[f32], c: &mut [f32]) -> Result<()> {
        FpgaMmultArgs { a, b, c }.with_args(|r, w| self.call(OpType::FpgaMmult, r, w))
    }

    /// `fpga_parallel`: element-wise sum and product.
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn fpga_parallel(
        &self,
        a: &[f32],
        b: &[f32],
        add_output: &mut [f32],
        mult_output: &mut [f32],
    ) -> Result<()> {
        FpgaParallelArgs {
            a,
            b,
            add_output,
            mult_output,
        }
        .with_args(|r, w| self.call(OpType::FpgaParallel, r, w))
    }

    /// `fpga_vectoradd`.
    ///
    /// # Errors
    /// As [`Session::call`].
    pub fn fpga_vadd(&self, a: &[f32], b: &[f32], c: &mut [f32]) -> Result<()> {
        FpgaVaddArgs { a, b, c }.with_args(|r, w| self.call(OpType::FpgaVectoradd, r, w))
    }
}
