//! The op functions: each builds the op's argument arrays (genop layout) over the
//! caller's memory — no copies — and runs it through the session.

use crate::state::{
    CResource, CResult, CSession, c_str, guard, null, obj, session_of, state, with_session,
};
use crate::tensor::{CTensor, TfStatus, TfTensor, TfliteTensor, TorchTensor};
use std::ffi::{c_char, c_int, c_void};
use vaccel_plugin::abi::VaccelArg;
use vaccel_plugin::ops::matrix_len;
use vaccel_plugin::{ArgType, Args, OpType, Tensor};
use vaccel_rt::{Error, Session};

fn arg(buf: *const c_void, size: usize, ty: ArgType) -> VaccelArg {
    VaccelArg {
        buf: buf as *mut c_void,
        size,
        arg_type: ty.raw(),
        custom_type_id: 0,
        owned: false,
    }
}

fn value<T>(v: &T, ty: ArgType) -> VaccelArg {
    arg((v as *const T).cast(), size_of::<T>(), ty)
}

/// View a C argument array.
///
/// # Safety
/// `p` NULL or valid for `n` args whose buffers are valid for their sizes during the call.
unsafe fn view<'a>(p: *mut VaccelArg, n: usize, what: &str) -> CResult<Args<'a>> {
    if p.is_null() && n > 0 {
        return Err(null(what));
    }
    // SAFETY: per the function's contract.
    Ok(unsafe { Args::from_raw(p, n) })
}

fn count(n: c_int, what: &str) -> CResult<usize> {
    usize::try_from(n).map_err(|_| Error::Invalid(format!("{what} is negative ({n})")))
}

fn bytes(n: usize, elem: usize, what: &str) -> CResult<usize> {
    n.checked_mul(elem)
        .ok_or_else(|| Error::Overflow(what.into()))
}

/// Run `op` over arrays built from the caller's pointers.
///
/// # Safety
/// Each arg's buffer is valid for its size for the call.
unsafe fn run(
    sess: *const CSession,
    op: OpType,
    read: &mut [VaccelArg],
    write: &mut [VaccelArg],
) -> CResult {
    // SAFETY: the arrays are ours, their buffers valid per the contract.
    let (mut r, mut w) = unsafe {
        (
            Args::from_raw(read.as_mut_ptr(), read.len()),
            Args::from_raw(write.as_mut_ptr(), write.len()),
        )
    };
    // SAFETY: per the contract.
    unsafe { with_session(sess, |s| s.call(op, &mut r, &mut w)) }
}

/// # Safety
/// `sess` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_noop(sess: *mut CSession) -> c_int {
    // SAFETY: per the contract.
    guard("vaccel_noop", || unsafe {
        with_session(sess, Session::noop)
    })
}

/// # Safety
/// Arrays NULL or valid for their counts, buffers valid for their sizes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_genop(
    sess: *mut CSession,
    read: *mut VaccelArg,
    nr_read: c_int,
    write: *mut VaccelArg,
    nr_write: c_int,
) -> c_int {
    guard("vaccel_genop", || {
        // SAFETY: per the contract.
        let mut r = unsafe { view(read, count(nr_read, "nr_read")?, "read") }?;
        // SAFETY: per the contract.
        let mut w = unsafe { view(write, count(nr_write, "nr_write")?, "write") }?;
        // SAFETY: per the contract.
        unsafe { with_session(sess, |s| s.genop(&mut r, &mut w)) }
    })
}

/// # Safety
/// Strings NULL or NUL-terminated; arrays as for genop.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_exec(
    sess: *mut CSession,
    library: *const c_char,
    fn_symbol: *const c_char,
    read: *mut VaccelArg,
    nr_read: usize,
    write: *mut VaccelArg,
    nr_write: usize,
) -> c_int {
    guard("vaccel_exec", || {
        // SAFETY: per the contract (all below).
        let s = unsafe { session_of(sess) }?;
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let lib = unsafe { c_str(library, "library") }?;
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let sym = unsafe { c_str(fn_symbol, "fn_symbol") }?;
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let mut r = unsafe { view(read, nr_read, "read") }?;
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let mut w = unsafe { view(write, nr_write, "write") }?;
        s.exec(lib, sym, &mut r, &mut w)
    })
}

/// # Safety
/// As `vaccel_exec`; `resource` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_exec_with_resource(
    sess: *mut CSession,
    resource: *mut CResource,
    fn_symbol: *const c_char,
    read: *mut VaccelArg,
    nr_read: usize,
    write: *mut VaccelArg,
    nr_write: usize,
) -> c_int {
    guard("vaccel_exec_with_resource", || {
        // SAFETY: per the contract (all below).
        let s = unsafe { session_of(sess) }?;
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let res = state()?.resource(unsafe { obj(resource, "resource") }?)?;
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let sym = unsafe { c_str(fn_symbol, "fn_symbol") }?;
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let mut r = unsafe { view(read, nr_read, "read") }?;
        // SAFETY: pointers are NULL or valid for the call (C API contract).
        let mut w = unsafe { view(write, nr_write, "write") }?;
        s.exec_with_resource(&res, sym, &mut r, &mut w)
    })
}

/// # Safety
/// Buffers NULL or valid for their lengths.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_image_classification(
    sess: *mut CSession,
    img: *const c_void,
    out_text: *mut u8,
    out_imgname: *mut u8,
    len_img: usize,
    len_out_text: usize,
    len_out_imgname: usize,
) -> c_int {
    guard("vaccel_image_classification", || {
        let mut r = [arg(img, len_img, ArgType::Buffer)];
        let mut w = [
            arg(out_imgname.cast(), len_out_imgname, ArgType::UcharArray),
            arg(out_text.cast(), len_out_text, ArgType::UcharArray),
        ];
        // SAFETY: buffers valid for their lengths per the contract.
        unsafe { run(sess, OpType::ImageClassify, &mut r, &mut w) }
    })
}

macro_rules! image_op {
    ($name:ident, $op:expr) => {
        /// # Safety
        /// Buffers NULL or valid for their lengths.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(
            sess: *mut CSession,
            img: *const c_void,
            out_imgname: *mut u8,
            len_img: usize,
            len_out_imgname: usize,
        ) -> c_int {
            guard(stringify!($name), || {
                let mut r = [arg(img, len_img, ArgType::Buffer)];
                let mut w = [arg(
                    out_imgname.cast(),
                    len_out_imgname,
                    ArgType::UcharArray,
                )];
                // SAFETY: buffers valid for their lengths per the contract.
                unsafe { run(sess, $op, &mut r, &mut w) }
            })
        }
    };
}

image_op!(vaccel_image_detection, OpType::ImageDetect);
image_op!(vaccel_image_segmentation, OpType::ImageSegment);
image_op!(vaccel_image_pose, OpType::ImagePose);
image_op!(vaccel_image_depth, OpType::ImageDepth);

/// # Safety
/// Matrices valid for the sizes their dimensions imply.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn vaccel_sgemm(
    sess: *mut CSession,
    m: i64,
    n: i64,
    k: i64,
    alpha: f32,
    a: *mut f32,
    lda: i64,
    b: *mut f32,
    ldb: i64,
    beta: f32,
    c: *mut f32,
    ldc: i64,
) -> c_int {
    guard("vaccel_sgemm", || {
        let dim = |v: i64, what: &str| {
            usize::try_from(v)
                .map_err(|_| Error::Invalid(format!("vaccel_sgemm: {what} is negative ({v})")))
        };
        let (mu, nu, ku) = (dim(m, "m")?, dim(n, "n")?, dim(k, "k")?);
        let len = |rows, cols, ld: i64, what: &str| -> CResult<usize> {
            let n = matrix_len(rows, cols, dim(ld, what)?, what).map_err(Error::Invalid)?;
            bytes(n, 4, what)
        };
        let mut r = [
            value(&m, ArgType::Int64),
            value(&n, ArgType::Int64),
            value(&k, ArgType::Int64),
            value(&alpha, ArgType::Float32),
            arg(a.cast(), len(mu, ku, lda, "A")?, ArgType::Float32Array),
            value(&lda, ArgType::Int64),
            arg(b.cast(), len(ku, nu, ldb, "B")?, ArgType::Float32Array),
            value(&ldb, ArgType::Int64),
            value(&beta, ArgType::Float32),
            value(&ldc, ArgType::Int64),
        ];
        let mut w = [arg(c.cast(), len(mu, nu, ldc, "C")?, ArgType::Float32Array)];
        // SAFETY: matrices valid for the sizes their dimensions imply (contract).
        unsafe { run(sess, OpType::BlasSgemm, &mut r, &mut w) }
    })
}

/// # Safety
/// `indata`/`outdata` valid for `ndata` doubles; `min`/`max` valid.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn vaccel_minmax(
    sess: *mut CSession,
    indata: *const f64,
    ndata: c_int,
    low_threshold: c_int,
    high_threshold: c_int,
    outdata: *mut f64,
    min: *mut f64,
    max: *mut f64,
) -> c_int {
    guard("vaccel_minmax", || {
        let size = bytes(count(ndata, "ndata")?, 8, "indata")?;
        let mut r = [
            arg(indata.cast(), size, ArgType::Float64Array),
            value(&ndata, ArgType::Int32),
            value(&low_threshold, ArgType::Int32),
            value(&high_threshold, ArgType::Int32),
        ];
        let mut w = [
            arg(outdata.cast(), size, ArgType::Float64Array),
            arg(
                min.cast(),
                if min.is_null() { 0 } else { 8 },
                ArgType::Float64,
            ),
            arg(
                max.cast(),
                if max.is_null() { 0 } else { 8 },
                ArgType::Float64,
            ),
        ];
        // SAFETY: buffers valid for their sizes (contract).
        unsafe { run(sess, OpType::Minmax, &mut r, &mut w) }
    })
}

/// # Safety
/// Arrays valid for `len_a` ints.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_fpga_arraycopy(
    sess: *mut CSession,
    a: *mut c_int,
    out_a: *mut c_int,
    len_a: usize,
) -> c_int {
    guard("vaccel_fpga_arraycopy", || {
        let n = bytes(len_a, 4, "len_a")?;
        let mut r = [arg(a.cast(), n, ArgType::Int32Array)];
        let mut w = [arg(out_a.cast(), n, ArgType::Int32Array)];
        // SAFETY: arrays valid for len_a ints (contract).
        unsafe { run(sess, OpType::FpgaArraycopy, &mut r, &mut w) }
    })
}

/// # Safety
/// Arrays valid for `len_a` floats.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_fpga_mmult(
    sess: *mut CSession,
    a: *mut f32,
    b: *mut f32,
    c: *mut f32,
    len_a: usize,
) -> c_int {
    guard("vaccel_fpga_mmult", || {
        let n = bytes(len_a, 4, "len_a")?;
        let mut r = [
            arg(a.cast(), n, ArgType::Float32Array),
            arg(b.cast(), n, ArgType::Float32Array),
        ];
        let mut w = [arg(c.cast(), n, ArgType::Float32Array)];
        // SAFETY: arrays valid for len_a floats (contract).
        unsafe { run(sess, OpType::FpgaMmult, &mut r, &mut w) }
    })
}

/// # Safety
/// Arrays valid for `len_a` floats.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_fpga_parallel(
    sess: *mut CSession,
    a: *mut f32,
    b: *mut f32,
    add_output: *mut f32,
    mult_output: *mut f32,
    len_a: usize,
) -> c_int {
    guard("vaccel_fpga_parallel", || {
        let n = bytes(len_a, 4, "len_a")?;
        let mut r = [
            arg(a.cast(), n, ArgType::Float32Array),
            arg(b.cast(), n, ArgType::Float32Array),
        ];
        let mut w = [
            arg(add_output.cast(), n, ArgType::Float32Array),
            arg(mult_output.cast(), n, ArgType::Float32Array),
        ];
        // SAFETY: arrays valid for len_a floats (contract).
        unsafe { run(sess, OpType::FpgaParallel, &mut r, &mut w) }
    })
}

/// # Safety
/// `a`, `c` valid for `len_a` floats, `b` for `len_b`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_fpga_vadd(
    sess: *mut CSession,
    a: *mut f32,
    b: *mut f32,
    c: *mut f32,
    len_a: usize,
    len_b: usize,
) -> c_int {
    guard("vaccel_fpga_vadd", || {
        let na = bytes(len_a, 4, "len_a")?;
        let nb = bytes(len_b, 4, "len_b")?;
        let mut r = [
            arg(a.cast(), na, ArgType::Float32Array),
            arg(b.cast(), nb, ArgType::Float32Array),
        ];
        let mut w = [arg(c.cast(), na, ArgType::Float32Array)];
        // SAFETY: arrays valid for their lengths (contract).
        unsafe { run(sess, OpType::FpgaVectoradd, &mut r, &mut w) }
    })
}

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
    _in_nodes: *const c_void,
    in_tensors: *const *mut TfTensor,
    nr_inputs: c_int,
    _out_nodes: *const c_void,
    out_tensors: *mut *mut TfTensor,
    nr_outputs: c_int,
    status: *mut TfStatus,
) -> c_int {
    let rc = guard("vaccel_tf_model_run", || {
        // SAFETY: per the contract.
        unsafe {
            model_run(
                sess,
                model,
                OpType::TfModelRun,
                (in_tensors, nr_inputs),
                (out_tensors, nr_outputs),
            )
        }
    });
    set_tf_status(status, rc);
    rc
}
