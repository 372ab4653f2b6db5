//! The op catalogue's argument layouts (the genop layouts of upstream vAccel), their
//! validation, and typed views over validated arguments.
//!
//! The runtime checks every call against [`schema`] before dispatch, so a wrong count or
//! type is `VACCEL_EINVAL` naming the op and the argument, whichever plugin would have run
//! it. The SDK decodes the same layouts into typed structs ([`SgemmArgs`] …) so plugin
//! authors never touch raw pointers.

use crate::abi::VaccelArg;
use crate::types::{ArgType, OpType};
use std::fmt;

/// Which side of a call an argument is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Input (`read`).
    Read,
    /// Output (`write`).
    Write,
}

impl fmt::Display for Dir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dir::Read => "read",
            Dir::Write => "write",
        })
    }
}

/// What an argument means beyond its bytes — what a transport or a policy must know
/// about it without decoding the op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Plain data.
    Data,
    /// The id of a resource registered with the session (`Int64`): a transport maps it to
    /// the id the other side knows the resource by.
    ResourceId,
    /// A host library path to load code from (`String`): operator policy decides.
    Library,
    /// A symbol to call in a library (`String`).
    Symbol,
}

/// One argument of a layout: its name (for messages), type and role.
#[derive(Clone, Copy, Debug)]
pub struct ArgSpec {
    /// Name used in error messages (`"lda"`).
    pub name: &'static str,
    /// Expected type.
    pub ty: ArgType,
    /// May be left out (only trailing args are optional).
    pub optional: bool,
    /// What it means.
    pub role: Role,
}

const fn a(name: &'static str, ty: ArgType) -> ArgSpec {
    ArgSpec {
        name,
        ty,
        optional: false,
        role: Role::Data,
    }
}

const fn opt(name: &'static str, ty: ArgType) -> ArgSpec {
    ArgSpec {
        name,
        ty,
        optional: true,
        role: Role::Data,
    }
}

/// An argument with a role (see [`Role`]).
const fn r(name: &'static str, ty: ArgType, role: Role) -> ArgSpec {
    ArgSpec {
        name,
        ty,
        optional: false,
        role,
    }
}

/// How many args a side takes: (at least, at most — `None` for no limit).
pub fn arity(specs: &[ArgSpec], variadic: bool) -> (usize, Option<usize>) {
    let required = specs.iter().filter(|s| !s.optional).count();
    (required, if variadic { None } else { Some(specs.len()) })
}

/// The argument layout of one op (without genop's leading op-type argument).
#[derive(Clone, Copy, Debug)]
pub struct OpSchema {
    /// Fixed leading read args.
    pub read: &'static [ArgSpec],
    /// Fixed leading write args.
    pub write: &'static [ArgSpec],
    /// Whether more args of any type may follow (exec: the function's own args).
    pub variadic: bool,
}

use ArgType as T;

const NOOP: OpSchema = OpSchema {
    read: &[],
    write: &[],
    variadic: false,
};
const EXEC: OpSchema = OpSchema {
    read: &[
        r("library", T::String, Role::Library),
        r("symbol", T::String, Role::Symbol),
    ],
    write: &[],
    variadic: true,
};
const EXEC_RES: OpSchema = OpSchema {
    read: &[
        r("resource_id", T::Int64, Role::ResourceId),
        r("symbol", T::String, Role::Symbol),
    ],
    write: &[],
    variadic: true,
};
/// Classification: upstream's layout, plus two optional trailing args of this runtime —
/// `top_k` (how many results to list) and `top` (receives them, one per line:
/// `index<TAB>score<TAB>label`).
const CLASSIFY: OpSchema = OpSchema {
    read: &[a("image", T::Buffer), opt("top_k", T::Int32)],
    write: &[
        a("out_imgname", T::UcharArray),
        a("out_text", T::UcharArray),
        opt("top", T::UcharArray),
    ],
    variadic: false,
};

/// Detection / segmentation / pose / depth: upstream's layout, plus an optional trailing
/// `results` arg of this runtime receiving one line per finding
/// (`score<TAB>x0<TAB>y0<TAB>x1<TAB>y1` for detection boxes).
const IMAGE: OpSchema = OpSchema {
    read: &[a("image", T::Buffer)],
    write: &[
        a("out_imgname", T::UcharArray),
        opt("results", T::UcharArray),
    ],
    variadic: false,
};
const SGEMM: OpSchema = OpSchema {
    read: &[
        a("m", T::Int64),
        a("n", T::Int64),
        a("k", T::Int64),
        a("alpha", T::Float32),
        a("a", T::Float32Array),
        a("lda", T::Int64),
        a("b", T::Float32Array),
        a("ldb", T::Int64),
        a("beta", T::Float32),
        a("ldc", T::Int64),
    ],
    write: &[a("c", T::Float32Array)],
    variadic: false,
};
const MINMAX: OpSchema = OpSchema {
    read: &[
        a("indata", T::Float64Array),
        a("ndata", T::Int32),
        a("low_threshold", T::Int32),
        a("high_threshold", T::Int32),
    ],
    write: &[
        a("outdata", T::Float64Array),
        a("min", T::Float64),
        a("max", T::Float64),
    ],
    variadic: false,
};

/// Model load / unload (all frameworks): the MODEL resource's id.
const MODEL: OpSchema = OpSchema {
    read: &[r("model_id", T::Int64, Role::ResourceId)],
    write: &[],
    variadic: false,
};
/// Model run (all frameworks): the model id, then one `CUSTOM` arg per input tensor
/// (`crate::tensor` encoding); write: one `CUSTOM` arg per wanted output, receiving it.
const MODEL_RUN: OpSchema = OpSchema {
    read: &[r("model_id", T::Int64, Role::ResourceId)],
    write: &[],
    variadic: true,
};

/// The layout of `op`, or `None` for ops whose arguments are not checked by the runtime
/// (framework-specific ops the plugin decodes itself).
pub fn schema(op: OpType) -> Option<&'static OpSchema> {
    Some(match op {
        OpType::Noop => &NOOP,
        OpType::Exec => &EXEC,
        OpType::ExecWithResource => &EXEC_RES,
        OpType::ImageClassify => &CLASSIFY,
        OpType::ImageDetect | OpType::ImageSegment | OpType::ImagePose | OpType::ImageDepth => {
            &IMAGE
        }
        OpType::BlasSgemm => &SGEMM,
        OpType::Minmax => &MINMAX,
        OpType::TorchModelLoad
        | OpType::TfliteModelLoad
        | OpType::TfModelLoad
        | OpType::TfliteModelUnload
        | OpType::TfModelUnload => &MODEL,
        OpType::TorchModelRun | OpType::TfliteModelRun | OpType::TfModelRun => &MODEL_RUN,
        _ => return None,
    })
}

/// The read arguments of `op` that have `role`, by index (from the op's declared
/// layout: a transport remaps [`Role::ResourceId`] arguments, a policy reads
/// [`Role::Library`] and [`Role::Symbol`] ones). Empty for ops without a layout.
pub fn read_args_with(op: OpType, role: Role) -> impl Iterator<Item = usize> {
    schema(op)
        .map_or(&[][..], |s| s.read)
        .iter()
        .enumerate()
        .filter(move |(_, spec)| spec.role == role)
        .map(|(i, _)| i)
}

/// Why arguments do not fit an op's layout. Always `VACCEL_EINVAL`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// Wrong number of arguments.
    #[error("{op}: expected {} {dir} args, got {got}", count_text(*.min, *.max))]
    Count {
        /// The op.
        op: OpType,
        /// Read or write.
        dir: Dir,
        /// Fewest allowed.
        min: usize,
        /// Most allowed (`None`: no limit).
        max: Option<usize>,
        /// Count given.
        got: usize,
    },
    /// An argument has the wrong type id.
    #[error("{op}: {dir} arg {index} ({name}) must be {expected}, got {got}")]
    Type {
        /// The op.
        op: OpType,
        /// Read or write.
        dir: Dir,
        /// Position (0-based, without genop's op-type arg).
        index: usize,
        /// Argument name.
        name: &'static str,
        /// Expected type.
        expected: ArgType,
        /// Type id given (may be unknown).
        got: String,
    },
    /// An argument's size or pointer does not fit its type.
    #[error("{op}: {dir} arg {index} ({name}) {problem}")]
    Shape {
        /// The op.
        op: OpType,
        /// Read or write.
        dir: Dir,
        /// Position.
        index: usize,
        /// Argument name.
        name: &'static str,
        /// What is wrong, with the values.
        problem: String,
    },
}

fn count_text(min: usize, max: Option<usize>) -> String {
    match max {
        Some(max) if max == min => min.to_string(),
        Some(max) => format!("{min} to {max}"),
        None => format!("{min} or more"),
    }
}

/// Check one argument's size and pointer against its declared type.
pub fn check_shape(arg: &VaccelArg, ty: ArgType) -> Result<(), String> {
    if arg.size > 0 && arg.buf.is_null() {
        return Err(format!("has size {} but a NULL buffer", arg.size));
    }
    if let Some(elem) = ty.element_size() {
        if ty.is_array() {
            if !arg.size.is_multiple_of(elem) {
                return Err(format!(
                    "has size {} bytes, not a multiple of the {elem}-byte element",
                    arg.size
                ));
            }
        } else if arg.size != elem {
            return Err(format!("has size {} bytes, expected {elem}", arg.size));
        }
        if arg.size > 0 && !(arg.buf as usize).is_multiple_of(elem) {
            return Err(format!("buffer is not {elem}-byte aligned"));
        }
    }
    Ok(())
}

fn check_side(
    op: OpType,
    dir: Dir,
    specs: &[ArgSpec],
    variadic: bool,
    args: &[VaccelArg],
) -> Result<(), ArgError> {
    let (min, max) = arity(specs, variadic);
    if args.len() < min || max.is_some_and(|max| args.len() > max) {
        return Err(ArgError::Count {
            op,
            dir,
            min,
            max,
            got: args.len(),
        });
    }
    for (index, (spec, arg)) in specs.iter().zip(args).enumerate() {
        if arg.arg_type != spec.ty.raw() {
            return Err(ArgError::Type {
                op,
                dir,
                index,
                name: spec.name,
                expected: spec.ty,
                got: ArgType::describe_raw(arg.arg_type),
            });
        }
        check_shape(arg, spec.ty).map_err(|problem| ArgError::Shape {
            op,
            dir,
            index,
            name: spec.name,
            problem,
        })?;
    }
    Ok(())
}

/// Check `read` / `write` against the layout of `op`. Ops without a layout pass.
///
/// # Errors
/// [`ArgError`] naming the op and the first argument that does not fit.
#[inline]
pub fn check_args(op: OpType, read: &[VaccelArg], write: &[VaccelArg]) -> Result<(), ArgError> {
    let Some(s) = schema(op) else { return Ok(()) };
    // Every call goes through here twice (runtime and plugin side): decide with plain
    // comparisons and build the error, with its message, only when something is wrong.
    if side_fits(s.read, s.variadic, read) && side_fits(s.write, s.variadic, write) {
        return Ok(());
    }
    describe_misfit(op, s, read, write)
}

#[inline]
fn side_fits(specs: &[ArgSpec], variadic: bool, args: &[VaccelArg]) -> bool {
    let (min, max) = arity(specs, variadic);
    let count_ok = args.len() >= min && max.is_none_or(|max| args.len() <= max);
    count_ok
        && specs
            .iter()
            .zip(args)
            .all(|(spec, arg)| arg.arg_type == spec.ty.raw() && shape_fits(arg, spec.ty))
}

#[inline]
fn shape_fits(arg: &VaccelArg, ty: ArgType) -> bool {
    if arg.size > 0 && arg.buf.is_null() {
        return false;
    }
    match ty.element_size() {
        None => true,
        Some(elem) => {
            let size_ok = if ty.is_array() {
                arg.size.is_multiple_of(elem)
            } else {
                arg.size == elem
            };
            size_ok && (arg.size == 0 || (arg.buf as usize).is_multiple_of(elem))
        }
    }
}

#[cold]
fn describe_misfit(
    op: OpType,
    s: &OpSchema,
    read: &[VaccelArg],
    write: &[VaccelArg],
) -> Result<(), ArgError> {
    check_side(op, Dir::Read, s.read, s.variadic, read)?;
    check_side(op, Dir::Write, s.write, s.variadic, write)
}

/// Row-major GEMM operands: `C = alpha * A(m×k) * B(k×n) + beta * C(m×n)`.
#[derive(Debug)]
pub struct SgemmArgs<'a> {
    /// Rows of A and C.
    pub m: usize,
    /// Columns of B and C.
    pub n: usize,
    /// Columns of A, rows of B.
    pub k: usize,
    /// Scale of A·B.
    pub alpha: f32,
    /// A, row-major, `lda` apart.
    pub a: &'a [f32],
    /// Leading dimension of A (≥ k).
    pub lda: usize,
    /// B, row-major.
    pub b: &'a [f32],
    /// Leading dimension of B (≥ n).
    pub ldb: usize,
    /// Scale of C's old value.
    pub beta: f32,
    /// C, in and out.
    pub c: &'a mut [f32],
    /// Leading dimension of C (≥ n).
    pub ldc: usize,
}

/// Minimum buffer length for a `rows × cols` row-major matrix with leading dimension `ld`.
///
/// # Errors
/// A message when `ld < cols` or the size overflows.
pub fn matrix_len(rows: usize, cols: usize, ld: usize, what: &str) -> Result<usize, String> {
    if ld < cols.max(1) {
        return Err(format!(
            "leading dimension of {what} is {ld}, less than its {cols} columns"
        ));
    }
    if rows == 0 || cols == 0 {
        return Ok(0);
    }
    (rows - 1)
        .checked_mul(ld)
        .and_then(|v| v.checked_add(cols))
        .ok_or_else(|| format!("{what} is too large: {rows} rows × leading dimension {ld}"))
}

impl SgemmArgs<'_> {
    /// Check dimensions against buffer lengths.
    ///
    /// # Errors
    /// A message naming the operand that does not fit.
    pub fn validate(&self) -> Result<(), String> {
        let need_a = matrix_len(self.m, self.k, self.lda, "A")?;
        let need_b = matrix_len(self.k, self.n, self.ldb, "B")?;
        let need_c = matrix_len(self.m, self.n, self.ldc, "C")?;
        for (name, need, have) in [
            ("A", need_a, self.a.len()),
            ("B", need_b, self.b.len()),
            ("C", need_c, self.c.len()),
        ] {
            if have < need {
                return Err(format!(
                    "{name} holds {have} floats but m={} n={} k={} with its leading dimension needs {need}",
                    self.m, self.n, self.k
                ));
            }
        }
        Ok(())
    }
}

/// Min/max operands (upstream's deprecated `vaccel_minmax`).
#[derive(Debug)]
pub struct MinmaxArgs<'a> {
    /// Input values (`ndata` of them are used).
    pub input: &'a [f64],
    /// Low threshold.
    pub low: i32,
    /// High threshold.
    pub high: i32,
    /// Output values (same length as the input used).
    pub output: &'a mut [f64],
    /// Minimum found.
    pub min: &'a mut f64,
    /// Maximum found.
    pub max: &'a mut f64,
}

/// The image ops that take one image and return one image name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageOp {
    /// Detection.
    Detect,
    /// Segmentation.
    Segment,
    /// Pose.
    Pose,
    /// Depth.
    Depth,
}

impl ImageOp {
    /// From an op id.
    pub fn from_op(op: OpType) -> Option<Self> {
        Some(match op {
            OpType::ImageDetect => ImageOp::Detect,
            OpType::ImageSegment => ImageOp::Segment,
            OpType::ImagePose => ImageOp::Pose,
            OpType::ImageDepth => ImageOp::Depth,
            _ => return None,
        })
    }

    /// The op id.
    pub fn op(self) -> OpType {
        match self {
            ImageOp::Detect => OpType::ImageDetect,
            ImageOp::Segment => OpType::ImageSegment,
            ImageOp::Pose => OpType::ImagePose,
            ImageOp::Depth => OpType::ImageDepth,
        }
    }
}

/// Copy `text` into a C output buffer: truncated to fit, always NUL-terminated when the
/// buffer has room for at least the NUL. Returns the bytes written without the NUL.
pub fn write_c_string(out: &mut [u8], text: &str) -> usize {
    if out.is_empty() {
        return 0;
    }
    let mut n = text.len().min(out.len() - 1);
    // Do not cut a UTF-8 sequence in half.
    while n > 0 && !text.is_char_boundary(n) {
        n -= 1;
    }
    out[..n].copy_from_slice(&text.as_bytes()[..n]);
    out[n] = 0;
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg_of<T>(v: &mut [T], ty: ArgType) -> VaccelArg {
        VaccelArg {
            buf: v.as_mut_ptr().cast(),
            size: std::mem::size_of_val(v),
            arg_type: ty.raw(),
            custom_type_id: 0,
            owned: false,
        }
    }

    #[test]
    fn the_fast_shape_test_and_the_explaining_one_agree() {
        // Every type, against sizes around its element size, with aligned, misaligned
        // and NULL buffers.
        let backing = [0u64; 8];
        let aligned = backing.as_ptr() as *mut std::ffi::c_void;
        // Only the address matters: the shape checks never read the bytes.
        let misaligned = (aligned as usize + 1) as *mut std::ffi::c_void;
        for ty in ArgType::ALL {
            for size in 0..=17usize {
                for buf in [aligned, misaligned, std::ptr::null_mut()] {
                    let arg = VaccelArg {
                        buf,
                        size,
                        arg_type: ty.raw(),
                        custom_type_id: 0,
                        owned: false,
                    };
                    assert_eq!(
                        shape_fits(&arg, *ty),
                        check_shape(&arg, *ty).is_ok(),
                        "{ty} size {size} buf {buf:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn roles_come_from_the_layouts() {
        let ids = |op| read_args_with(op, Role::ResourceId).collect::<Vec<_>>();
        for op in [
            OpType::ExecWithResource,
            OpType::TorchModelLoad,
            OpType::TorchModelRun,
            OpType::TfliteModelLoad,
            OpType::TfliteModelRun,
            OpType::TfliteModelUnload,
            OpType::TfModelLoad,
            OpType::TfModelRun,
            OpType::TfModelUnload,
        ] {
            assert_eq!(ids(op), vec![0], "{op}");
        }
        for op in [
            OpType::Noop,
            OpType::Exec,
            OpType::ImageClassify,
            OpType::BlasSgemm,
        ] {
            assert!(ids(op).is_empty(), "{op}");
        }
        let roles = |role| read_args_with(OpType::Exec, role).collect::<Vec<_>>();
        assert_eq!(
            (roles(Role::Library), roles(Role::Symbol)),
            (vec![0], vec![1])
        );
        assert_eq!(
            read_args_with(OpType::ExecWithResource, Role::Symbol).collect::<Vec<_>>(),
            vec![1]
        );
    }

    #[test]
    fn check_args_rejects_wrong_count_naming_op() {
        let e = check_args(OpType::BlasSgemm, &[], &[]).unwrap_err();
        assert!(matches!(
            e,
            ArgError::Count {
                min: 10,
                max: Some(10),
                got: 0,
                ..
            }
        ));
        assert_eq!(e.to_string(), "blas_sgemm: expected 10 read args, got 0");
    }

    #[test]
    fn check_args_rejects_wrong_type_naming_arg() {
        let mut lib = *b"lib\0";
        let mut sym = 5i64;
        let read = [
            arg_of(&mut lib, ArgType::String),
            arg_of(std::slice::from_mut(&mut sym), ArgType::Int64),
        ];
        let e = check_args(OpType::Exec, &read, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "exec: read arg 1 (symbol) must be string, got int64"
        );
    }

    #[test]
    fn check_args_rejects_bad_scalar_size() {
        let mut v = [0u8; 3];
        let mut arg = arg_of(&mut v, ArgType::Int64);
        arg.arg_type = ArgType::Int64.raw();
        let mut sym = *b"f\0";
        let read = [arg, arg_of(&mut sym, ArgType::String)];
        let e = check_args(OpType::ExecWithResource, &read, &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains("(resource_id) has size 3 bytes, expected 8"),
            "{e}"
        );
    }

    #[test]
    fn check_args_rejects_null_buffer_with_size() {
        let mut arg = VaccelArg::empty(ArgType::Buffer);
        arg.size = 10;
        let e = check_args(
            OpType::ImageDetect,
            &[arg],
            &[VaccelArg::empty(ArgType::UcharArray)],
        );
        assert!(e.unwrap_err().to_string().contains("NULL buffer"));
    }

    #[test]
    fn optional_trailing_args_may_be_left_out() {
        let mut img = [0u8; 4];
        let mut name = [0u8; 8];
        let mut text = [0u8; 8];
        let mut top = [0u8; 8];
        let mut k = 3i32;
        let r1 = [arg_of(&mut img, ArgType::Buffer)];
        let w2 = [
            arg_of(&mut name, ArgType::UcharArray),
            arg_of(&mut text, ArgType::UcharArray),
        ];
        check_args(OpType::ImageClassify, &r1, &w2).unwrap();
        let r2 = [r1[0], arg_of(std::slice::from_mut(&mut k), ArgType::Int32)];
        let w3 = [w2[0], w2[1], arg_of(&mut top, ArgType::UcharArray)];
        check_args(OpType::ImageClassify, &r2, &w3).unwrap();
        let e = check_args(OpType::ImageClassify, &r2, &w2[..1]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "image_classify: expected 2 to 3 write args, got 1"
        );
    }

    #[test]
    fn exec_layout_is_variadic() {
        let mut lib = *b"lib\0";
        let mut sym = *b"f\0";
        let mut extra = 1i32;
        let read = [
            arg_of(&mut lib, ArgType::String),
            arg_of(&mut sym, ArgType::String),
            arg_of(std::slice::from_mut(&mut extra), ArgType::Int32),
        ];
        check_args(OpType::Exec, &read, &[]).unwrap();
        check_args(OpType::Exec, &read[..2], &[]).unwrap();
        assert!(check_args(OpType::Exec, &read[..1], &[]).is_err());
    }

    #[test]
    fn sgemm_validate_checks_leading_dimensions() {
        let a = [0f32; 6];
        let b = [0f32; 6];
        let mut c = [0f32; 4];
        let mut args = SgemmArgs {
            m: 2,
            n: 2,
            k: 3,
            alpha: 1.0,
            a: &a,
            lda: 3,
            b: &b,
            ldb: 2,
            beta: 0.0,
            c: &mut c,
            ldc: 2,
        };
        args.validate().unwrap();
        args.lda = 2;
        assert!(
            args.validate()
                .unwrap_err()
                .contains("leading dimension of A is 2")
        );
        args.lda = 4;
        assert!(args.validate().unwrap_err().contains("A holds 6 floats"));
    }

    #[test]
    fn matrix_len_detects_overflow() {
        assert!(matrix_len(usize::MAX, 2, usize::MAX, "A").is_err());
        assert_eq!(matrix_len(0, 5, 5, "A").unwrap(), 0);
    }

    #[test]
    fn write_c_string_truncates_and_terminates() {
        let mut out = [0xffu8; 5];
        assert_eq!(write_c_string(&mut out, "hello world"), 4);
        assert_eq!(&out, b"hell\0");
        let mut one = [0xffu8; 1];
        assert_eq!(write_c_string(&mut one, "x"), 0);
        assert_eq!(one, [0]);
        let mut utf = [0u8; 3];
        assert_eq!(write_c_string(&mut utf, "é!"), 2);
        assert_eq!(write_c_string(&mut [], "x"), 0);
    }
}
