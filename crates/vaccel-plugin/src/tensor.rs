//! Tensors as they travel between the runtime and plugins: one `CUSTOM` argument per tensor
//! (custom type id [`TENSOR_TYPE_ID`]) holding a self-describing little-endian encoding:
//!
//! ```text
//! u32 magic "VTNS" | u32 dtype | u32 nr_dims | u32 reserved (0) | i64 dims[nr_dims] | u64 data_len | data
//! ```
//!
//! Every size is checked before it is trusted: dims must be non-negative, their product
//! times the element size must not overflow and must equal `data_len`, and nothing may run
//! past the buffer.

use std::fmt;

/// `custom_type_id` of a tensor argument ("VTNS").
pub const TENSOR_TYPE_ID: u32 = u32::from_le_bytes(*b"VTNS");
/// Most dimensions a tensor may have.
pub const MAX_DIMS: usize = 16;
const HEADER: usize = 16;

/// Element types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum DType {
    /// `f32`.
    F32 = 1,
    /// `f64`.
    F64 = 2,
    /// `i8`.
    I8 = 3,
    /// `i16`.
    I16 = 4,
    /// `i32`.
    I32 = 5,
    /// `i64`.
    I64 = 6,
    /// `u8`.
    U8 = 7,
    /// `u16`.
    U16 = 8,
    /// `u32`.
    U32 = 9,
    /// `u64`.
    U64 = 10,
    /// `bool` (one byte, 0 or 1).
    Bool = 11,
    /// IEEE half precision.
    F16 = 12,
}

impl DType {
    /// From its number.
    pub fn from_raw(v: u32) -> Option<DType> {
        use DType::*;
        Some(match v {
            1 => F32,
            2 => F64,
            3 => I8,
            4 => I16,
            5 => I32,
            6 => I64,
            7 => U8,
            8 => U16,
            9 => U32,
            10 => U64,
            11 => Bool,
            12 => F16,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        use DType::*;
        match self {
            I8 | U8 | Bool => 1,
            I16 | U16 | F16 => 2,
            F32 | I32 | U32 => 4,
            F64 | I64 | U64 => 8,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", format!("{self:?}").to_lowercase())
    }
}

/// The element-type numbers of upstream's framework APIs (`enum vaccel_torch_data_type`,
/// `vaccel_tf_data_type`, `vaccel_tflite_data_type` of its C headers), one table each:
/// what the C API's tensor structs and the agent's upstream protocol carry. Types without
/// an equivalent here (strings, complex, quantised…) are `None`.
pub mod framework {
    use super::DType;

    macro_rules! table {
        ($(#[$doc:meta])* $name:ident, $code:ident: $($n:literal => $d:ident),* $(,)?) => {
            $(#[$doc])*
            pub fn $name(v: i32) -> Option<DType> {
                match v {
                    $($n => Some(DType::$d),)*
                    _ => None,
                }
            }

            /// The framework's number for an element type.
            pub fn $code(d: DType) -> Option<i32> {
                match d {
                    $(DType::$d => Some($n),)*
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }
        };
    }

    table! {
        /// Torch: `VACCEL_TORCH_*`.
        torch, torch_code: 1 => U8, 2 => I8, 3 => I16, 4 => I32, 5 => I64, 6 => F16, 7 => F32,
    }
    table! {
        /// TensorFlow: `VACCEL_TF_*` (TF_DataType).
        tf, tf_code: 1 => F32, 2 => F64, 3 => I32, 4 => U8, 5 => I16, 6 => I8, 9 => I64,
        10 => Bool, 17 => U16, 19 => F16, 22 => U32, 23 => U64,
    }
    table! {
        /// TensorFlow Lite: `VACCEL_TFLITE_*` (TfLiteType). Upstream's agent protocol
        /// sends these plus one.
        tflite, tflite_code: 1 => F32, 2 => I32, 3 => U8, 4 => I64, 6 => Bool, 7 => I16,
        9 => I8, 10 => F16, 11 => F64, 13 => U64, 16 => U32, 17 => U16,
    }
}

/// A tensor: element type, shape and raw little-endian data.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub dims: Vec<i64>,
    /// `product(dims) × dtype.size()` bytes.
    pub data: Vec<u8>,
}

/// Bytes the data of a `dtype` tensor with `dims` occupies.
///
/// # Errors
/// A message for negative dims, too many dims, or an overflowing size.
pub fn data_len(dtype: DType, dims: &[i64]) -> Result<usize, String> {
    if dims.len() > MAX_DIMS {
        return Err(format!(
            "{} dimensions; at most {MAX_DIMS} are supported",
            dims.len()
        ));
    }
    let mut n = dtype.size();
    for d in dims {
        let d =
            usize::try_from(*d).map_err(|_| format!("dimension {d} in {dims:?} is negative"))?;
        n = n
            .checked_mul(d)
            .ok_or_else(|| format!("dims {dims:?} of {dtype} overflow the addressable size"))?;
    }
    Ok(n)
}

impl Tensor {
    /// A tensor, checking that `data` matches `dims`.
    ///
    /// # Errors
    /// A message naming the mismatch.
    pub fn new(dtype: DType, dims: Vec<i64>, data: Vec<u8>) -> Result<Tensor, String> {
        let need = data_len(dtype, &dims)?;
        if need != data.len() {
            return Err(format!(
                "dims {dims:?} of {dtype} need {need} bytes, data has {}",
                data.len()
            ));
        }
        Ok(Tensor { dtype, dims, data })
    }

    /// A float32 tensor.
    ///
    /// # Errors
    /// As [`Tensor::new`].
    pub fn from_f32(dims: Vec<i64>, values: &[f32]) -> Result<Tensor, String> {
        Self::new(
            DType::F32,
            dims,
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        )
    }

    /// The data as float32 values, if that is its type.
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        (self.dtype == DType::F32).then(|| {
            self.data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect()
        })
    }

    /// Size of the encoding.
    pub fn encoded_len(&self) -> usize {
        HEADER + 8 * self.dims.len() + 8 + self.data.len()
    }

    /// Write the encoding into `out` (at least `encoded_len()` bytes); returns its length.
    ///
    /// # Panics
    /// If `out` is too small (callers check `encoded_len` first).
    pub fn encode_into(&self, out: &mut [u8]) -> usize {
        let n = self.encoded_len();
        let out = &mut out[..n];
        out[0..4].copy_from_slice(&TENSOR_TYPE_ID.to_le_bytes());
        out[4..8].copy_from_slice(&(self.dtype as u32).to_le_bytes());
        out[8..12].copy_from_slice(&(self.dims.len() as u32).to_le_bytes());
        out[12..16].copy_from_slice(&0u32.to_le_bytes());
        let mut at = HEADER;
        for d in &self.dims {
            out[at..at + 8].copy_from_slice(&d.to_le_bytes());
            at += 8;
        }
        out[at..at + 8].copy_from_slice(&(self.data.len() as u64).to_le_bytes());
        at += 8;
        out[at..].copy_from_slice(&self.data);
        n
    }

    /// The encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = vec![0; self.encoded_len()];
        self.encode_into(&mut v);
        v
    }

    /// Decode, checking every size against the buffer.
    ///
    /// # Errors
    /// A message naming what is malformed.
    pub fn decode(b: &[u8]) -> Result<Tensor, String> {
        let u32_at = |at: usize| -> Result<u32, String> {
            b.get(at..at + 4)
                .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
                .ok_or_else(|| format!("truncated tensor ({} bytes)", b.len()))
        };
        let u64_at = |at: usize| -> Result<u64, String> {
            b.get(at..at + 8)
                .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
                .ok_or_else(|| format!("truncated tensor ({} bytes)", b.len()))
        };
        if u32_at(0)? != TENSOR_TYPE_ID {
            return Err("not an encoded tensor (bad magic)".into());
        }
        let raw = u32_at(4)?;
        let dtype = DType::from_raw(raw).ok_or_else(|| format!("unknown tensor dtype {raw}"))?;
        let nr = u32_at(8)? as usize;
        if nr > MAX_DIMS {
            return Err(format!("{nr} dimensions; at most {MAX_DIMS} are supported"));
        }
        let dims = (0..nr)
            .map(|i| u64_at(HEADER + 8 * i).map(|v| v as i64))
            .collect::<Result<Vec<_>, _>>()?;
        let at = HEADER + 8 * nr;
        let len = u64_at(at)?;
        let need = data_len(dtype, &dims)?;
        if len != need as u64 {
            return Err(format!(
                "dims {dims:?} of {dtype} need {need} bytes, the tensor says {len}"
            ));
        }
        let data = b.get(at + 8..at + 8 + need).ok_or_else(|| {
            format!(
                "tensor data truncated: {need} bytes declared, {} present",
                b.len().saturating_sub(at + 8)
            )
        })?;
        Ok(Tensor {
            dtype,
            dims,
            data: data.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trips() {
        let t = Tensor::from_f32(vec![2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let b = t.encode();
        assert_eq!(b.len(), t.encoded_len());
        assert_eq!(Tensor::decode(&b).unwrap(), t);
        assert_eq!(t.to_f32().unwrap()[5], 6.0);
    }

    #[test]
    fn sizes_are_checked() {
        assert!(
            Tensor::from_f32(vec![2, 2], &[1.0])
                .unwrap_err()
                .contains("need 16 bytes, data has 4")
        );
        assert!(
            data_len(DType::F32, &[-1, 3])
                .unwrap_err()
                .contains("negative")
        );
        assert!(
            data_len(DType::F64, &[i64::MAX, i64::MAX])
                .unwrap_err()
                .contains("overflow")
        );
        assert!(data_len(DType::U8, &[1; 17]).is_err());
    }

    #[test]
    fn decode_refuses_malformed_input() {
        let t = Tensor::from_f32(vec![4], &[1.0; 4]).unwrap();
        let b = t.encode();
        assert!(
            Tensor::decode(&b[..b.len() - 1])
                .unwrap_err()
                .contains("truncated")
        );
        assert!(Tensor::decode(b"nope").is_err());
        let mut lying = b.clone();
        lying[16..24].copy_from_slice(&1_000_000i64.to_le_bytes());
        assert!(Tensor::decode(&lying).unwrap_err().contains("need"));
        let mut huge = b;
        huge[16..24].copy_from_slice(&i64::MAX.to_le_bytes());
        assert!(Tensor::decode(&huge).is_err());
        assert!(Tensor::decode(&[]).is_err());
    }
}
