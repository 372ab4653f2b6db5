//! The numbers that are ABI: error codes, operation ids, argument type ids and plugin type
//! bits. They mirror upstream vAccel 0.8 (`include/vaccel/error.h`, `op.h`, `arg.h`,
//! `plugin.h`) so that C programs and wire messages mean the same thing. Never renumber.

use std::fmt;

/// Errno-valued vAccel error codes (`VACCEL_E*`). Positive; `0` is success.
pub mod code {
    #![allow(missing_docs)]
    pub const OK: i32 = 0;
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const EIO: i32 = 5;
    pub const ENOEXEC: i32 = 8;
    pub const EBADF: i32 = 9;
    pub const EAGAIN: i32 = 11;
    pub const ENOMEM: i32 = 12;
    pub const EACCES: i32 = 13;
    pub const EFAULT: i32 = 14;
    pub const EBUSY: i32 = 16;
    pub const EEXIST: i32 = 17;
    pub const ENODEV: i32 = 19;
    pub const ENOTDIR: i32 = 20;
    pub const EINVAL: i32 = 22;
    pub const ENOSPC: i32 = 28;
    pub const EROFS: i32 = 30;
    pub const EMLINK: i32 = 31;
    pub const ERANGE: i32 = 34;
    pub const ENAMETOOLONG: i32 = 36;
    pub const ENOSYS: i32 = 38;
    pub const ELOOP: i32 = 40;
    /// `EPROTO`: the plugin (backend) failed.
    pub const EBACKEND: i32 = 71;
    pub const ELIBBAD: i32 = 80;
    pub const EUSERS: i32 = 87;
    pub const ENOTSUP: i32 = 95;
    /// `ECONNRESET`: the session (or its transport) is gone.
    pub const ESESS: i32 = 104;
    pub const EINPROGRESS: i32 = 115;
    pub const EREMOTEIO: i32 = 121;

    /// Every code above, with its `VACCEL_` name, for printing and validation.
    pub const ALL: &[(i32, &str)] = &[
        (OK, "VACCEL_OK"),
        (EPERM, "VACCEL_EPERM"),
        (ENOENT, "VACCEL_ENOENT"),
        (EIO, "VACCEL_EIO"),
        (ENOEXEC, "VACCEL_ENOEXEC"),
        (EBADF, "VACCEL_EBADF"),
        (EAGAIN, "VACCEL_EAGAIN"),
        (ENOMEM, "VACCEL_ENOMEM"),
        (EACCES, "VACCEL_EACCES"),
        (EFAULT, "VACCEL_EFAULT"),
        (EBUSY, "VACCEL_EBUSY"),
        (EEXIST, "VACCEL_EEXIST"),
        (ENODEV, "VACCEL_ENODEV"),
        (ENOTDIR, "VACCEL_ENOTDIR"),
        (EINVAL, "VACCEL_EINVAL"),
        (ENOSPC, "VACCEL_ENOSPC"),
        (EROFS, "VACCEL_EROFS"),
        (EMLINK, "VACCEL_EMLINK"),
        (ERANGE, "VACCEL_ERANGE"),
        (ENAMETOOLONG, "VACCEL_ENAMETOOLONG"),
        (ENOSYS, "VACCEL_ENOSYS"),
        (ELOOP, "VACCEL_ELOOP"),
        (EBACKEND, "VACCEL_EBACKEND"),
        (ELIBBAD, "VACCEL_ELIBBAD"),
        (EUSERS, "VACCEL_EUSERS"),
        (ENOTSUP, "VACCEL_ENOTSUP"),
        (ESESS, "VACCEL_ESESS"),
        (EINPROGRESS, "VACCEL_EINPROGRESS"),
        (EREMOTEIO, "VACCEL_EREMOTEIO"),
    ];

    /// The `VACCEL_E*` name of a code, if it is one of ours.
    pub fn name(code: i32) -> Option<&'static str> {
        ALL.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
    }
}

macro_rules! numbered_enum {
    (
        $(#[$meta:meta])*
        $name:ident : $repr:ty { $( $(#[$vmeta:meta])* $variant:ident = $value:expr, $cname:literal ;)* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr($repr)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $value, )*
        }

        impl $name {
            /// Every value, in numeric order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The value with this number, if there is one.
            pub fn from_raw(raw: $repr) -> Option<Self> {
                match raw {
                    $( $value => Some($name::$variant), )*
                    _ => None,
                }
            }

            /// The number (ABI value).
            pub const fn raw(self) -> $repr {
                self as $repr
            }

            /// The short lowercase name used in logs and messages.
            pub fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $cname, )*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

numbered_enum! {
    /// Operation ids (`vaccel_op_type_t`, upstream 0.8 numbering).
    OpType: u32 {
        /// Does nothing; measures dispatch.
        Noop = 0, "noop";
        /// Call `fn(read, nr_read, write, nr_write)` in a shared library named by path.
        Exec = 1, "exec";
        /// Same, from a registered LIB resource.
        ExecWithResource = 2, "exec_with_resource";
        /// Image classification.
        ImageClassify = 3, "image_classify";
        /// Object / text detection.
        ImageDetect = 4, "image_detect";
        /// Segmentation.
        ImageSegment = 5, "image_segment";
        /// Pose estimation.
        ImagePose = 6, "image_pose";
        /// Depth estimation.
        ImageDepth = 7, "image_depth";
        /// TensorFlow model load.
        TfModelLoad = 8, "tf_model_load";
        /// TensorFlow model unload.
        TfModelUnload = 9, "tf_model_unload";
        /// TensorFlow model run.
        TfModelRun = 10, "tf_model_run";
        /// TFLite model load.
        TfliteModelLoad = 11, "tflite_model_load";
        /// TFLite model unload.
        TfliteModelUnload = 12, "tflite_model_unload";
        /// TFLite model run.
        TfliteModelRun = 13, "tflite_model_run";
        /// Torch model load.
        TorchModelLoad = 14, "torch_model_load";
        /// Torch model run.
        TorchModelRun = 15, "torch_model_run";
        /// Torch sgemm (deprecated upstream).
        TorchSgemm = 16, "torch_sgemm";
        /// BLAS single-precision GEMM (row-major).
        BlasSgemm = 17, "blas_sgemm";
        /// FPGA array copy (deprecated upstream).
        FpgaArraycopy = 18, "fpga_arraycopy";
        /// FPGA matrix multiply (deprecated upstream).
        FpgaMmult = 19, "fpga_mmult";
        /// FPGA parallel add/mult (deprecated upstream).
        FpgaParallel = 20, "fpga_parallel";
        /// FPGA vector add (deprecated upstream).
        FpgaVectoradd = 21, "fpga_vectoradd";
        /// Min/max of a vector (deprecated upstream).
        Minmax = 22, "minmax";
        /// OpenCV generic op.
        Opencv = 23, "opencv";
    }
}

/// `VACCEL_OP_MAX`: one past the last op id.
pub const OP_MAX: u32 = 24;

numbered_enum! {
    /// Argument type ids (`vaccel_arg_type_t`).
    ArgType: u32 {
        /// Untyped bytes.
        Raw = 0, "raw";
        /// `int8_t`.
        Int8 = 1, "int8";
        /// `int8_t[]`.
        Int8Array = 2, "int8_array";
        /// `int16_t`.
        Int16 = 3, "int16";
        /// `int16_t[]`.
        Int16Array = 4, "int16_array";
        /// `int32_t`.
        Int32 = 5, "int32";
        /// `int32_t[]`.
        Int32Array = 6, "int32_array";
        /// `int64_t`.
        Int64 = 7, "int64";
        /// `int64_t[]`.
        Int64Array = 8, "int64_array";
        /// `uint8_t`.
        Uint8 = 9, "uint8";
        /// `uint8_t[]`.
        Uint8Array = 10, "uint8_array";
        /// `uint16_t`.
        Uint16 = 11, "uint16";
        /// `uint16_t[]`.
        Uint16Array = 12, "uint16_array";
        /// `uint32_t`.
        Uint32 = 13, "uint32";
        /// `uint32_t[]`.
        Uint32Array = 14, "uint32_array";
        /// `uint64_t`.
        Uint64 = 15, "uint64";
        /// `uint64_t[]`.
        Uint64Array = 16, "uint64_array";
        /// `float`.
        Float32 = 17, "float32";
        /// `float[]`.
        Float32Array = 18, "float32_array";
        /// `double`.
        Float64 = 19, "float64";
        /// `double[]`.
        Float64Array = 20, "float64_array";
        /// `bool`.
        Bool = 21, "bool";
        /// `bool[]`.
        BoolArray = 22, "bool_array";
        /// `char`.
        Char = 23, "char";
        /// `char[]`.
        CharArray = 24, "char_array";
        /// `unsigned char`.
        Uchar = 25, "uchar";
        /// `unsigned char[]`.
        UcharArray = 26, "uchar_array";
        /// NUL-terminated string.
        String = 27, "string";
        /// Opaque byte buffer.
        Buffer = 28, "buffer";
        /// Application-defined type, told apart by `custom_type_id`.
        Custom = 29, "custom";
    }
}

impl ArgType {
    /// The name of the type with this number, or `unknown type N` (for messages about an
    /// argument a caller sent).
    pub fn describe_raw(raw: u32) -> String {
        ArgType::from_raw(raw).map_or_else(|| format!("unknown type {raw}"), |t| t.name().into())
    }

    /// Size of one element for the numeric scalar and array types; `None` for types whose
    /// size is free (raw, string, buffer, custom).
    pub fn element_size(self) -> Option<usize> {
        use ArgType::*;
        Some(match self {
            Int8 | Int8Array | Uint8 | Uint8Array | Bool | BoolArray | Char | CharArray | Uchar
            | UcharArray => 1,
            Int16 | Int16Array | Uint16 | Uint16Array => 2,
            Int32 | Int32Array | Uint32 | Uint32Array | Float32 | Float32Array => 4,
            Int64 | Int64Array | Uint64 | Uint64Array | Float64 | Float64Array => 8,
            Raw | String | Buffer | Custom => return None,
        })
    }

    /// True for the `*_ARRAY` types.
    pub fn is_array(self) -> bool {
        use ArgType::*;
        matches!(
            self,
            Int8Array
                | Int16Array
                | Int32Array
                | Int64Array
                | Uint8Array
                | Uint16Array
                | Uint32Array
                | Uint64Array
                | Float32Array
                | Float64Array
                | BoolArray
                | CharArray
                | UcharArray
        )
    }
}

/// Plugin type / session hint bits (`VACCEL_PLUGIN_*`).
pub mod plugin_type {
    #![allow(missing_docs)]
    pub const NONE: u32 = 0;
    pub const CPU: u32 = 0x1;
    pub const GPU: u32 = 0x2;
    pub const FPGA: u32 = 0x4;
    pub const SOFTWARE: u32 = 0x8;
    pub const TENSORFLOW: u32 = 0x10;
    pub const TORCH: u32 = 0x20;
    pub const JETSON: u32 = 0x40;
    pub const GENERIC: u32 = 0x80;
    pub const DEBUG: u32 = 0x100;
    pub const REMOTE: u32 = 0x4000;
    pub const ALL: u32 = 0xffff;

    const NAMES: &[(u32, &str)] = &[
        (CPU, "CPU"),
        (GPU, "GPU"),
        (FPGA, "FPGA"),
        (SOFTWARE, "SOFTWARE"),
        (TENSORFLOW, "TENSORFLOW"),
        (TORCH, "TORCH"),
        (JETSON, "JETSON"),
        (GENERIC, "GENERIC"),
        (DEBUG, "DEBUG"),
        (REMOTE, "REMOTE"),
    ];

    /// `"CPU|SOFTWARE"`-style rendering of a bit set (unknown bits in hex).
    pub fn describe(bits: u32) -> String {
        if bits == 0 {
            return "NONE".to_string();
        }
        let mut parts: Vec<String> = NAMES
            .iter()
            .filter(|(b, _)| bits & b != 0)
            .map(|(_, n)| (*n).to_string())
            .collect();
        let known = NAMES.iter().fold(0, |acc, (b, _)| acc | b);
        if bits & !known != 0 {
            parts.push(format!("{:#x}", bits & !known));
        }
        parts.join("|")
    }
}

numbered_enum! {
    /// Resource types (`vaccel_resource_type_t`): what a resource holds.
    ResourceType: u32 {
        /// Shared objects for `exec_with_resource`.
        Lib = 0, "lib";
        /// Data files (labels, inputs).
        Data = 1, "data";
        /// Models.
        Model = 2, "model";
    }
}

/// A set of op ids, as a bit mask (op id `n` is bit `n`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct OpSet(pub u64);

impl OpSet {
    /// No ops.
    pub const EMPTY: OpSet = OpSet(0);

    /// Every op in the catalogue.
    pub const fn all() -> OpSet {
        OpSet((1u64 << OP_MAX) - 1)
    }

    /// A set from a list of ops.
    pub const fn of(ops: &[OpType]) -> OpSet {
        let mut bits = 0u64;
        let mut i = 0;
        while i < ops.len() {
            bits |= 1u64 << (ops[i] as u32);
            i += 1;
        }
        OpSet(bits)
    }

    /// Whether `op` is in the set.
    pub fn contains(self, op: OpType) -> bool {
        self.0 & (1u64 << op.raw()) != 0
    }

    /// Add `op`.
    pub fn insert(&mut self, op: OpType) {
        self.0 |= 1u64 << op.raw();
    }

    /// The ops in the set, in id order.
    pub fn iter(self) -> impl Iterator<Item = OpType> {
        OpType::ALL
            .iter()
            .copied()
            .filter(move |op| self.contains(*op))
    }
}

#[cfg(test)]
mod tests;
