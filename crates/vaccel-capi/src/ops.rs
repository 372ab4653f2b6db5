//! The op functions: each builds the op's argument arrays (genop layout) over the
//! caller's memory — no copies — and runs it through the session.

use crate::resource::CResource;
use crate::session::CSession;
use crate::state::{CResult, c_str, guard, null, obj, session_of, state, with_session};
use std::ffi::{c_char, c_int, c_void};
use vaccel_plugin::Args;
use vaccel_plugin::abi::VaccelArg;
use vaccel_plugin::ops::{ImageOp, matrix_len, write_c_string};
use vaccel_rt::{Error, Session};

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

pub(crate) fn count(n: c_int, what: &str) -> CResult<usize> {
    usize::try_from(n).map_err(|_| Error::Invalid(format!("{what} is negative ({n})")))
}

fn bytes(n: usize, elem: usize, what: &str) -> CResult<usize> {
    n.checked_mul(elem)
        .ok_or_else(|| Error::Overflow(what.into()))
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

/// The OpenCV op with the caller's arguments as they are (no built-in plugin has it:
/// `VACCEL_ENOTSUP`).
///
/// # Safety
/// Arrays NULL or valid for their counts, buffers valid for their sizes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vaccel_opencv_unpack(
    sess: *mut CSession,
    read: *mut VaccelArg,
    nr_read: c_int,
    write: *mut VaccelArg,
    nr_write: c_int,
) -> c_int {
    guard("vaccel_opencv_unpack", || {
        // SAFETY: per the contract.
        let mut r = unsafe { view(read, count(nr_read, "nr_read")?, "read") }?;
        // SAFETY: per the contract.
        let mut w = unsafe { view(write, count(nr_write, "nr_write")?, "write") }?;
        // SAFETY: per the contract.
        unsafe {
            with_session(sess, |s| {
                s.call(vaccel_plugin::OpType::Opencv, &mut r, &mut w)
            })
        }
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

/// A caller's memory region, for the overlap check.
type Region<'n> = (&'n str, *const c_void, usize);

/// Refuse output regions that overlap any other region, before any Rust reference to
/// them exists (the typed ops hand the plugin `&mut` slices, which must not alias).
fn disjoint(outputs: &[Region<'_>], all: &[Region<'_>]) -> CResult {
    for &(name, p, n) in outputs {
        let (start, end) = (p as usize, p as usize + n);
        for &(other, q, m) in all {
            let (os, oe) = (q as usize, q as usize + m);
            if other != name && n > 0 && m > 0 && start < oe && os < end {
                return Err(Error::Invalid(format!(
                    "{name} overlaps {other}; outputs need their own buffers"
                )));
            }
        }
    }
    Ok(())
}

/// Check a caller's array: NULL only when empty, aligned for `T`; its size in bytes.
fn region<T>(p: *const T, n: usize, what: &str) -> CResult<usize> {
    if p.is_null() && n > 0 {
        return Err(null(what));
    }
    if n > 0 && !p.is_aligned() {
        return Err(Error::Invalid(format!(
            "{what} is not {}-byte aligned",
            align_of::<T>()
        )));
    }
    bytes(n, size_of::<T>(), what)
}

/// A caller's array as a slice.
///
/// # Safety
/// `p` NULL or valid for `n` elements for `'a`, not written through anything else then.
unsafe fn c_slice<'a, T>(p: *const T, n: usize, what: &str) -> CResult<&'a [T]> {
    region(p, n, what)?;
    if n == 0 {
        return Ok(&[]);
    }
    // SAFETY: non-NULL, aligned, valid for `n` elements (contract).
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// A caller's output array as a slice.
///
/// # Safety
/// As [`c_slice`], writable, and overlapping nothing else in use (checked by
/// [`disjoint`]).
unsafe fn c_slice_mut<'a, T>(p: *mut T, n: usize, what: &str) -> CResult<&'a mut [T]> {
    region(p, n, what)?;
    if n == 0 {
        return Ok(&mut []);
    }
    // SAFETY: non-NULL, aligned, valid and exclusive for `n` elements (contract).
    Ok(unsafe { std::slice::from_raw_parts_mut(p, n) })
}

/// Copy `text` into a caller's C string buffer (truncated, NUL-terminated).
///
/// # Safety
/// `p` NULL or writable for `n` bytes, not in use as anything else.
unsafe fn put_c_string(p: *mut u8, n: usize, what: &str, text: &str) -> CResult {
    // SAFETY: per the contract.
    write_c_string(unsafe { c_slice_mut(p, n, what) }?, text);
    Ok(())
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
        // SAFETY: per the contract (all below).
        let s = unsafe { session_of(sess) }?;
        // SAFETY: the image is only read, and the outputs are formed after it is dropped.
        let found = s.image_classify(unsafe { c_slice(img.cast::<u8>(), len_img, "img") }?)?;
        // SAFETY: valid for their lengths; each is formed and dropped in turn.
        unsafe { put_c_string(out_text, len_out_text, "out_text", &found.text) }?;
        // SAFETY: as above.
        unsafe { put_c_string(out_imgname, len_out_imgname, "out_imgname", &found.imgname) }
    })
}

/// The image ops with upstream's C signature.
macro_rules! image_op {
    ($($name:ident => $op:ident),* $(,)?) => {$(
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
                // SAFETY: per the contract (all below).
                let s = unsafe { session_of(sess) }?;
                // SAFETY: only read; the output is formed after it is dropped.
                let image = unsafe { c_slice(img.cast::<u8>(), len_img, "img") }?;
                let found = s.image_op(ImageOp::$op, image)?;
                // SAFETY: valid for its length.
                unsafe { put_c_string(out_imgname, len_out_imgname, "out_imgname", &found.imgname) }
            })
        }
    )*};
}

image_op! {
    vaccel_image_detection => Detect,
    vaccel_image_segmentation => Segment,
    vaccel_image_pose => Pose,
    vaccel_image_depth => Depth,
}

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
            matrix_len(rows, cols, dim(ld, what)?, what).map_err(Error::Invalid)
        };
        let (na, nb, nc) = (
            len(mu, ku, lda, "A")?,
            len(ku, nu, ldb, "B")?,
            len(mu, nu, ldc, "C")?,
        );
        let regions = [
            ("A", a.cast_const().cast(), region(a, na, "A")?),
            ("B", b.cast_const().cast(), region(b, nb, "B")?),
            ("C", c.cast_const().cast(), region(c, nc, "C")?),
        ];
        disjoint(&regions[2..], &regions)?;
        // SAFETY: matrices valid for the sizes their dimensions imply (contract); C
        // overlaps neither A nor B (checked).
        let (a, b, c) = unsafe {
            (
                c_slice(a, na, "A")?,
                c_slice(b, nb, "B")?,
                c_slice_mut(c, nc, "C")?,
            )
        };
        // SAFETY: per the contract.
        let s = unsafe { session_of(sess) }?;
        s.sgemm(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
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
        let n = count(ndata, "ndata")?;
        let regions = [
            ("indata", indata.cast(), region(indata, n, "indata")?),
            (
                "outdata",
                outdata.cast_const().cast(),
                region(outdata, n, "outdata")?,
            ),
            ("min", min.cast_const().cast(), region(min, 1, "min")?),
            ("max", max.cast_const().cast(), region(max, 1, "max")?),
        ];
        disjoint(&regions[1..], &regions)?;
        // SAFETY: valid for `ndata` doubles (contract); the output overlaps nothing
        // (checked).
        let (input, output) = unsafe {
            (
                c_slice(indata, n, "indata")?,
                c_slice_mut(outdata, n, "outdata")?,
            )
        };
        // SAFETY: per the contract.
        let s = unsafe { session_of(sess) }?;
        let (lo, hi) = s.minmax(input, low_threshold, high_threshold, output)?;
        // SAFETY: non-NULL (checked by `region`), aligned, valid, overlapping nothing.
        unsafe { (min.write(lo), max.write(hi)) };
        Ok(())
    })
}

/// The FPGA ops: C arrays in, C arrays out, each checked (NULL, alignment, size) and the
/// outputs checked against every other array before they become slices.
macro_rules! fpga_ops {
    ($(
        $name:ident(
            $($in:ident: $it:ty [$il:ident]),+;
            $($out:ident: $ot:ty [$ol:ident]),+;
            $($len:ident),+
        ) => $method:ident;
    )*) => {$(
        /// # Safety
        /// Each array valid for its length (in elements).
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(
            sess: *mut CSession,
            $($in: *mut $it,)+
            $($out: *mut $ot,)+
            $($len: usize),+
        ) -> c_int {
            guard(stringify!($name), || {
                let regions = [
                    $((stringify!($in), $in.cast_const().cast::<c_void>(), region($in, $il, stringify!($in))?),)+
                    $((stringify!($out), $out.cast_const().cast::<c_void>(), region($out, $ol, stringify!($out))?),)+
                ];
                disjoint(&regions[[$(stringify!($in)),+].len()..], &regions)?;
                // SAFETY: valid for their lengths (contract); the outputs overlap nothing
                // (checked just above).
                let ($($in,)+ $($out,)+) = unsafe {
                    (
                        $(c_slice($in, $il, stringify!($in))?,)+
                        $(c_slice_mut($out, $ol, stringify!($out))?,)+
                    )
                };
                // SAFETY: per the contract.
                unsafe { session_of(sess) }?.$method($($in,)+ $($out),+)
            })
        }
    )*};
}

fpga_ops! {
    vaccel_fpga_arraycopy(a: c_int [len_a]; out_a: c_int [len_a]; len_a) => fpga_arraycopy;
    vaccel_fpga_mmult(a: f32 [len_a], b: f32 [len_a]; c: f32 [len_a]; len_a) => fpga_mmult;
    vaccel_fpga_parallel(
        a: f32 [len_a], b: f32 [len_a];
        add_output: f32 [len_a], mult_output: f32 [len_a];
        len_a
    ) => fpga_parallel;
    vaccel_fpga_vadd(a: f32 [len_a], b: f32 [len_b]; c: f32 [len_a]; len_a, len_b) => fpga_vadd;
}
