//! The op catalogue: every op's arguments declared once — name, Rust type, wire type,
//! role — in upstream's genop order. From each declaration [`views!`] derives
//!
//! * the layout ([`super::OpSchema`]) the runtime and the agent check calls against and
//!   transports read roles from ([`super::schema`], [`super::read_args_with`]);
//! * `decode`, which turns checked arguments into the typed view a plugin receives;
//! * `with_args`, which builds the argument arrays from a typed view for a call (the
//!   runtime's typed methods, hence the C API's) and hands outputs' reported lengths back.
//!
//! Adding an op: declare its view here, give the runtime a method that fills it, and the
//! SDK a trait method that receives it (docs/PLUGINS.md, "Adding an op").

use super::field::{Blob, Field, Out, Tail, Text};
use super::{ArgError, ArgSpec, Dir, OpSchema, Role};
use crate::abi::VaccelArg;
use crate::args::Args;
use crate::tensor::TENSOR_TYPE_ID;
use crate::types::{ArgType, OpType};

/// One argument's spec; `Option<_>` fields (their [`Field::OPTIONAL`]) are optional.
macro_rules! spec {
    ($f:ident : $t:ty = $ty:ident $(as $role:ident)?) => {
        ArgSpec {
            name: stringify!($f),
            ty: ArgType::$ty,
            optional: <$t as Field<'a>>::OPTIONAL,
            role: spec!(@role $($role)?),
        }
    };
    (@role) => { Role::Data };
    (@role $role:ident) => { Role::$role };
}

macro_rules! views {
    ($(
        $(#[$doc:meta])*
        pub struct $name:ident $(<$lt:lifetime>)? for [$($op:ident),+] {
            read { $($(#[$rdoc:meta])* $rf:ident : $rt:ty = $rty:ident $(as $rrole:ident)?),* $(,)? }
            write { $($(#[$wdoc:meta])* $wf:ident : $wt:ty = $wty:ident),* $(,)? }
            $(tail {
                $(#[$rtdoc:meta])* $rtf:ident : $rtt:ty = $rtty:ident,
                $(#[$wtdoc:meta])* $wtf:ident : $wtt:ty = $wtty:ident $(,)?
            })?
        }
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub struct $name $(<$lt>)? {
                $($(#[$rdoc])* pub $rf: $rt,)*
                $($(#[$wdoc])* pub $wf: $wt,)*
                $($(#[$rtdoc])* pub $rtf: $rtt, $(#[$wtdoc])* pub $wtf: $wtt,)?
            }

            impl<'a> $name $(<$lt>)? {
                /// The layout, as declared.
                pub const SCHEMA: OpSchema = OpSchema::new(
                    &[$(spec!($rf : $rt = $rty $(as $rrole)?)),*],
                    &[$(spec!($wf : $wt = $wty)),*],
                    views!(@variadic $($rtf)?),
                );

                /// The ops with this layout.
                pub const OPS: &'static [OpType] = &[$(OpType::$op),+];

                /// The typed view of checked arguments.
                ///
                /// # Safety
                /// `read` and `write` passed [`super::check_args`] for `op` (one of
                /// [`Self::OPS`]); every buffer is valid for its size for `'a`, writable
                /// for write args, and no write arg overlaps another arg.
                ///
                /// # Errors
                /// [`ArgError::Shape`] naming the argument whose value does not fit.
                #[allow(unused_mut, unused_variables, unused_assignments)]
                pub unsafe fn decode(
                    op: OpType,
                    read: &'a mut [VaccelArg],
                    write: &'a mut [VaccelArg],
                ) -> Result<Self, ArgError> {
                    let mut r = read.iter_mut();
                    let mut index = 0usize;
                    $(
                        // SAFETY: the function's contract, for this argument.
                        let $rf = unsafe { <$rt as Field<'a>>::decode(r.next()) }
                            .map_err(|p| misfit(op, Dir::Read, index, stringify!($rf), p))?;
                        index += 1;
                    )*
                    let mut w = write.iter_mut();
                    let mut windex = 0usize;
                    $(
                        // SAFETY: the function's contract, for this argument.
                        let $wf = unsafe { <$wt as Field<'a>>::decode(w.next()) }
                            .map_err(|p| misfit(op, Dir::Write, windex, stringify!($wf), p))?;
                        windex += 1;
                    )*
                    $(
                        // SAFETY: the function's contract, for the remaining arguments.
                        let $rtf = unsafe { <$rtt as Tail<'a>>::decode(r.into_slice(), ArgType::$rtty) }
                            .map_err(|(i, p)| misfit(op, Dir::Read, index + i, stringify!($rtf), p))?;
                        // SAFETY: as above.
                        let $wtf = unsafe { <$wtt as Tail<'a>>::decode(w.into_slice(), ArgType::$wtty) }
                            .map_err(|(i, p)| misfit(op, Dir::Write, windex + i, stringify!($wtf), p))?;
                    )?
                    Ok($name { $($rf,)* $($wf,)* $($rtf, $wtf)? })
                }

                /// Build the argument arrays over this view's fields, run `call` with
                /// them, and take back what the callee reported in the outputs (their
                /// lengths).
                #[allow(unused_mut, unused_variables, unused_assignments)]
                pub fn with_args<R>(
                    &mut self,
                    call: impl FnOnce(&mut Args<'_>, &mut Args<'_>) -> R,
                ) -> R {
                    let mut r: Vec<VaccelArg> = Vec::with_capacity(Self::SCHEMA.read.len());
                    $(Field::encode(&mut self.$rf, ArgType::$rty, &mut r);)*
                    let mut w: Vec<VaccelArg> = Vec::with_capacity(Self::SCHEMA.write.len());
                    let mut ends: Vec<usize> = Vec::with_capacity(Self::SCHEMA.write.len() + 1);
                    $(
                        Field::encode(&mut self.$wf, ArgType::$wty, &mut w);
                        ends.push(w.len());
                    )*
                    $(
                        Tail::encode(&mut self.$rtf, ArgType::$rtty, &mut r);
                        Tail::encode(&mut self.$wtf, ArgType::$wtty, &mut w);
                        ends.push(w.len());
                    )?
                    let result = {
                        // SAFETY: every argument points into a field of `self` (or memory
                        // its fields borrow), valid for its size and borrowed — mutably
                        // for outputs — for this block.
                        let (mut ra, mut wa) = unsafe {
                            (
                                Args::from_raw(r.as_mut_ptr(), r.len()),
                                Args::from_raw(w.as_mut_ptr(), w.len()),
                            )
                        };
                        call(&mut ra, &mut wa)
                    };
                    let mut ends = ends.into_iter();
                    let mut start = 0;
                    $(
                        let end = ends.next().unwrap_or(start);
                        Field::written(&mut self.$wf, &w[start..end]);
                        start = end;
                    )*
                    $(
                        let end = ends.next().unwrap_or(start);
                        Tail::written(&mut self.$wtf, &w[start..end]);
                    )?
                    result
                }
            }
        )*

        /// The layout of `op`, or `None` for ops whose arguments the runtime does not check
        /// (framework ops a plugin decodes itself).
        pub fn schema(op: OpType) -> Option<&'static OpSchema> {
            Some(match op {
                OpType::Noop => &NOOP,
                $($(OpType::$op)|+ => &$name::SCHEMA,)*
                _ => return None,
            })
        }

        /// Every view: its name, ops and layout.
        pub(super) const ALL_VIEWS: &[(&str, &[OpType], &OpSchema)] =
            &[$((stringify!($name), $name::OPS, &$name::SCHEMA)),*];
    };
    (@variadic) => { false };
    (@variadic $x:ident) => { true };
}

/// FNV-1a over every view's ops and layout (names, types, optionality, roles, tails):
/// two builds agree on it exactly when they agree on every layout.
pub(super) const fn fingerprint() -> usize {
    const fn mix(mut h: u64, bytes: &[u8]) -> u64 {
        let mut i = 0;
        while i < bytes.len() {
            h ^= bytes[i] as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
            i += 1;
        }
        h
    }
    const fn side(mut h: u64, specs: &[ArgSpec]) -> u64 {
        let mut i = 0;
        while i < specs.len() {
            let s = &specs[i];
            h = mix(h, s.name.as_bytes());
            h = mix(h, &s.ty.raw().to_le_bytes());
            h = mix(h, &[s.optional as u8, s.role as u8]);
            i += 1;
        }
        mix(h, b"|")
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut v = 0;
    while v < ALL_VIEWS.len() {
        let (_, ops, schema) = ALL_VIEWS[v];
        let mut o = 0;
        while o < ops.len() {
            h = mix(h, &ops[o].raw().to_le_bytes());
            o += 1;
        }
        h = side(h, schema.read);
        h = side(h, schema.write);
        h = mix(h, &[schema.variadic as u8]);
        v += 1;
    }
    // Never 0, which means "not checked".
    (h | 1) as usize
}

fn misfit(op: OpType, dir: Dir, index: usize, name: &'static str, problem: String) -> ArgError {
    ArgError::Shape {
        op,
        dir,
        index,
        name,
        problem,
    }
}

const NOOP: OpSchema = OpSchema::new(&[], &[], false);

/// An encoded tensor, read (see [`crate::tensor`]).
pub type TensorIn<'a> = Blob<'a, TENSOR_TYPE_ID>;
/// A buffer receiving an encoded tensor.
pub type TensorOut<'a> = Out<'a, TENSOR_TYPE_ID>;
/// An encoded TensorFlow node list ([`crate::nodes`]) as a read argument.
pub type NodesIn<'a> = Blob<'a, { crate::nodes::NODES_TYPE_ID }>;

views! {
    /// `exec`: call `symbol` in the host library `library` with the function's own
    /// arguments.
    pub struct ExecArgs<'a> for [Exec] {
        read {
            /// Path of the shared object.
            library: Text<'a> = String as Library,
            /// Function to call.
            symbol: Text<'a> = String as Symbol,
        }
        write {}
        tail {
            /// The function's read arguments, as the program built them.
            read: Args<'a> = Raw,
            /// The function's write arguments.
            write: Args<'a> = Raw,
        }
    }

    /// `exec_with_resource`: call `symbol` in a registered LIB resource.
    pub struct ExecResourceArgs<'a> for [ExecWithResource] {
        read {
            /// The LIB resource.
            resource_id: i64 = Int64 as ResourceId,
            /// Function to call.
            symbol: Text<'a> = String as Symbol,
        }
        write {}
        tail {
            /// The function's read arguments.
            read: Args<'a> = Raw,
            /// The function's write arguments.
            write: Args<'a> = Raw,
        }
    }

    /// Image classification: upstream's layout, plus two optional trailing args of this
    /// runtime — `top_k` (how many classes to rank) and `top` (receives them, with labels
    /// and timings, as [`crate::results`]).
    pub struct ClassifyArgs<'a> for [ImageClassify] {
        read {
            /// Encoded image (JPEG, PNG …).
            image: &'a [u8] = Buffer,
            /// How many classes to rank (1–1000).
            top_k: Option<i32> = Int32,
        }
        write {
            /// Receives the annotated image's name (C string, truncated to fit).
            out_imgname: &'a mut [u8] = UcharArray,
            /// Receives upstream's text, e.g. `"38.253% Egyptian cat"`.
            out_text: &'a mut [u8] = UcharArray,
            /// Receives the ranked classes.
            top: Option<Out<'a>> = Custom,
        }
    }

    /// Detection / segmentation / pose / depth: upstream's layout, plus an optional
    /// trailing `results` arg of this runtime receiving what was found
    /// ([`crate::results`]).
    pub struct ImageArgs<'a> for [ImageDetect, ImageSegment, ImagePose, ImageDepth] {
        read {
            /// Encoded image.
            image: &'a [u8] = Buffer,
        }
        write {
            /// Receives the output image's name (C string).
            out_imgname: &'a mut [u8] = UcharArray,
            /// Receives boxes, poses, masks.
            results: Option<Out<'a>> = Custom,
        }
    }

    /// Row-major GEMM operands: `C = alpha * A(m×k) * B(k×n) + beta * C(m×n)`.
    pub struct SgemmArgs<'a> for [BlasSgemm] {
        read {
            /// Rows of A and C.
            m: usize = Int64,
            /// Columns of B and C.
            n: usize = Int64,
            /// Columns of A, rows of B.
            k: usize = Int64,
            /// Scale of A·B.
            alpha: f32 = Float32,
            /// A, row-major, `lda` apart.
            a: &'a [f32] = Float32Array,
            /// Leading dimension of A (≥ k).
            lda: usize = Int64,
            /// B, row-major.
            b: &'a [f32] = Float32Array,
            /// Leading dimension of B (≥ n).
            ldb: usize = Int64,
            /// Scale of C's old value.
            beta: f32 = Float32,
            /// Leading dimension of C (≥ n).
            ldc: usize = Int64,
        }
        write {
            /// C, in and out.
            c: &'a mut [f32] = Float32Array,
        }
    }

    /// Min/max (upstream's deprecated `vaccel_minmax`). The SDK trims `indata` and
    /// `outdata` to `ndata` before a plugin sees them.
    pub struct MinmaxArgs<'a> for [Minmax] {
        read {
            /// Input values.
            indata: &'a [f64] = Float64Array,
            /// How many of them are used.
            ndata: i32 = Int32,
            /// Low threshold.
            low_threshold: i32 = Int32,
            /// High threshold.
            high_threshold: i32 = Int32,
        }
        write {
            /// Output values (the inputs clamped to the thresholds).
            outdata: &'a mut [f64] = Float64Array,
            /// Minimum found.
            min: &'a mut f64 = Float64,
            /// Maximum found.
            max: &'a mut f64 = Float64,
        }
    }

    /// Model load / unload (every framework's entry points).
    pub struct ModelArgs for [TorchModelLoad, TfliteModelLoad, TfModelLoad, TfliteModelUnload, TfModelUnload] {
        read {
            /// The MODEL resource.
            model_id: i64 = Int64 as ResourceId,
        }
        write {}
    }

    /// Model run (every framework's entry point): tensors in, tensors out.
    pub struct ModelRunArgs<'a> for [TorchModelRun, TfliteModelRun] {
        read {
            /// The MODEL resource.
            model_id: i64 = Int64 as ResourceId,
        }
        write {}
        tail {
            /// Input tensors, in the model's order.
            inputs: Vec<TensorIn<'a>> = Custom,
            /// Buffers for the outputs wanted, in the model's order.
            outputs: Vec<TensorOut<'a>> = Custom,
        }
    }

    /// TensorFlow's model run: as the others, with the graph nodes the inputs feed and
    /// the outputs are read from.
    pub struct TfModelRunArgs<'a> for [TfModelRun] {
        read {
            /// The model resource.
            model_id: i64 = Int64 as ResourceId,
            /// The input nodes, one per input tensor (encoded).
            in_nodes: NodesIn<'a> = Custom,
            /// The output nodes, one per output (encoded).
            out_nodes: NodesIn<'a> = Custom,
        }
        write {}
        tail {
            /// Input tensors (encoded).
            inputs: Vec<TensorIn<'a>> = Custom,
            /// Output buffers, one per wanted output.
            outputs: Vec<TensorOut<'a>> = Custom,
        }
    }

    /// `torch_sgemm`: upstream's Torch matrix product over tensors (`out` from `a`, `b`,
    /// `c` and the dimensions), as its Torch plugin defines it; no plugin of ours has it.
    pub struct TorchSgemmArgs<'a> for [TorchSgemm] {
        read {
            /// Tensor A (encoded).
            a: TensorIn<'a> = Custom,
            /// Tensor B (encoded).
            b: TensorIn<'a> = Custom,
            /// Tensor C (encoded).
            c: TensorIn<'a> = Custom,
            /// Rows.
            m: i32 = Int32,
            /// Columns.
            n: i32 = Int32,
            /// Inner dimension.
            k: i32 = Int32,
        }
        write {
            /// The result tensor (encoded).
            out: TensorOut<'a> = Custom,
        }
    }

    /// FPGA array copy: `out_a = a`.
    pub struct FpgaCopyArgs<'a> for [FpgaArraycopy] {
        read {
            /// Input.
            a: &'a [i32] = Int32Array,
        }
        write {
            /// Output, as long as the input.
            out_a: &'a mut [i32] = Int32Array,
        }
    }

    /// FPGA matrix multiply of two equal-length arrays.
    pub struct FpgaMmultArgs<'a> for [FpgaMmult] {
        read {
            /// Left operand.
            a: &'a [f32] = Float32Array,
            /// Right operand.
            b: &'a [f32] = Float32Array,
        }
        write {
            /// Product.
            c: &'a mut [f32] = Float32Array,
        }
    }

    /// FPGA parallel add and multiply.
    pub struct FpgaParallelArgs<'a> for [FpgaParallel] {
        read {
            /// Left operand.
            a: &'a [f32] = Float32Array,
            /// Right operand.
            b: &'a [f32] = Float32Array,
        }
        write {
            /// `a + b`.
            add_output: &'a mut [f32] = Float32Array,
            /// `a × b`.
            mult_output: &'a mut [f32] = Float32Array,
        }
    }

    /// FPGA vector add.
    pub struct FpgaVaddArgs<'a> for [FpgaVectoradd] {
        read {
            /// Left operand.
            a: &'a [f32] = Float32Array,
            /// Right operand.
            b: &'a [f32] = Float32Array,
        }
        write {
            /// `a + b`.
            c: &'a mut [f32] = Float32Array,
        }
    }
}
