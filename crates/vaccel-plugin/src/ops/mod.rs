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

mod field;
mod views;

pub use field::{Blob, Field, Out, Tail, Text};
pub use views::*;

/// A fingerprint of every declared layout. A runtime that checked a call's arguments
/// passes it to the plugin (`CallContext::layouts_checked`); the SDK of a plugin built
/// from the same layouts then does not check them a second time.
pub const LAYOUTS: usize = views::fingerprint();

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

/// How many args a side takes: (at least, at most — `None` for no limit).
pub const fn arity(specs: &[ArgSpec], variadic: bool) -> (usize, Option<usize>) {
    let (mut required, mut i) = (0, 0);
    while i < specs.len() {
        if !specs[i].optional {
            required += 1;
        }
        i += 1;
    }
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
    /// [`arity`] of each side, computed once.
    counts: [(usize, Option<usize>); 2],
}

impl OpSchema {
    /// A layout.
    pub const fn new(
        read: &'static [ArgSpec],
        write: &'static [ArgSpec],
        variadic: bool,
    ) -> OpSchema {
        OpSchema {
            read,
            write,
            variadic,
            counts: [arity(read, variadic), arity(write, variadic)],
        }
    }
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

/// The first write argument that overlaps another argument (its index, and whether the
/// other is a "read" or a "write" one). A typed view hands outputs out as `&mut`, so
/// arguments are decoded into one only when this is `None` (exec's pass-through arguments
/// aside, which may alias as C programs build them).
pub fn overlapping_output(
    read: &[VaccelArg],
    write: &[VaccelArg],
) -> Option<(usize, &'static str)> {
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
                return Some((wi, dir));
            }
        }
    }
    None
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
    if side_fits(s.read, s.counts[0], read) && side_fits(s.write, s.counts[1], write) {
        return Ok(());
    }
    describe_misfit(op, s, read, write)
}

#[inline]
fn side_fits(specs: &[ArgSpec], (min, max): (usize, Option<usize>), args: &[VaccelArg]) -> bool {
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
mod tests;
