//! The Torch, TensorFlow and TFLite tensor messages of upstream's protocol, to and from
//! the runtime's [`Tensor`]. Element types use upstream's C numbering
//! ([`vaccel_plugin::tensor::framework`]), except TFLite's, which this protocol shifts by
//! one (0 means unused). Every tensor is checked: a known element type, dims that are not
//! negative, data exactly as long as the dims say.

use crate::pb::vaccel::{tf, tflite, torch};
use vaccel_plugin::Tensor;
use vaccel_plugin::tensor::framework;

fn checked(
    what: &str,
    code: i32,
    dtype: Option<vaccel_plugin::DType>,
    dims: Vec<i64>,
    data: Vec<u8>,
) -> Result<Tensor, String> {
    let dtype = dtype.ok_or_else(|| format!("{what} element type {code} is not supported"))?;
    Tensor::new(dtype, dims, data).map_err(|m| format!("{what} tensor: {m}"))
}

fn unsupported(what: &str, t: &Tensor) -> String {
    format!("element type {} has no {what} equivalent", t.dtype)
}

/// A Torch tensor message, checked.
///
/// # Errors
/// What is wrong with it.
pub fn from_torch(t: torch::Tensor) -> Result<Tensor, String> {
    checked(
        "Torch",
        t.r#type,
        framework::torch(t.r#type),
        t.dims,
        t.data,
    )
}

/// A runtime tensor as a Torch message.
///
/// # Errors
/// An element type Torch's numbering lacks.
pub fn to_torch(t: Tensor) -> Result<torch::Tensor, String> {
    let code = framework::torch_code(t.dtype).ok_or_else(|| unsupported("Torch", &t))?;
    Ok(torch::Tensor {
        data: t.data,
        dims: t.dims,
        r#type: code,
    })
}

/// A TensorFlow tensor message, checked.
///
/// # Errors
/// What is wrong with it.
pub fn from_tf(t: tf::Tensor) -> Result<Tensor, String> {
    checked(
        "TensorFlow",
        t.r#type,
        framework::tf(t.r#type),
        t.dims,
        t.data,
    )
}

/// A runtime tensor as a TensorFlow message.
///
/// # Errors
/// An element type TensorFlow's numbering lacks.
pub fn to_tf(t: Tensor) -> Result<tf::Tensor, String> {
    let code = framework::tf_code(t.dtype).ok_or_else(|| unsupported("TensorFlow", &t))?;
    Ok(tf::Tensor {
        data: t.data,
        dims: t.dims,
        r#type: code,
    })
}

/// A TFLite tensor message (element type shifted by one), checked.
///
/// # Errors
/// What is wrong with it.
pub fn from_tflite(t: tflite::Tensor) -> Result<Tensor, String> {
    let c = t.r#type.checked_sub(1).unwrap_or(-1);
    let dims = t.dims.into_iter().map(i64::from).collect();
    checked("TFLite", t.r#type, framework::tflite(c), dims, t.data)
}

/// A runtime tensor as a TFLite message (element type shifted by one).
///
/// # Errors
/// An element type TFLite's numbering lacks, or a dimension beyond `i32`.
pub fn to_tflite(t: Tensor) -> Result<tflite::Tensor, String> {
    let code = framework::tflite_code(t.dtype).ok_or_else(|| unsupported("TFLite", &t))?;
    let dims = t
        .dims
        .iter()
        .map(|d| i32::try_from(*d).map_err(|_| format!("dimension {d} exceeds TFLite's i32")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(tflite::Tensor {
        data: t.data,
        dims,
        r#type: code + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaccel_plugin::DType;

    fn sample() -> Tensor {
        Tensor::from_f32(vec![2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap()
    }

    #[test]
    fn each_framework_round_trips_with_its_own_numbering() {
        let t = sample();
        let torch = to_torch(t.clone()).unwrap();
        assert_eq!(torch.r#type, torch::DataType::Float as i32);
        assert_eq!(from_torch(torch).unwrap(), t);
        let tf = to_tf(t.clone()).unwrap();
        assert_eq!(tf.r#type, tf::DataType::Float as i32);
        assert_eq!(from_tf(tf).unwrap(), t);
        let lite = to_tflite(t.clone()).unwrap();
        // The protocol's TFLite numbers are the C ones plus one.
        assert_eq!(lite.r#type, tflite::DataType::Float32 as i32);
        assert_eq!(lite.dims, [2, 3]);
        assert_eq!(from_tflite(lite).unwrap(), t);
        // Every element type a framework knows maps back to itself.
        for d in [
            DType::U8,
            DType::I8,
            DType::I16,
            DType::I32,
            DType::I64,
            DType::F16,
        ] {
            let t = Tensor::new(d, vec![1], vec![0; d.size()]).unwrap();
            assert_eq!(from_torch(to_torch(t.clone()).unwrap()).unwrap(), t);
            assert_eq!(from_tflite(to_tflite(t.clone()).unwrap()).unwrap(), t);
        }
    }

    #[test]
    fn malformed_tensors_are_refused_naming_the_fault() {
        let e = from_torch(torch::Tensor {
            data: vec![0; 8],
            dims: vec![2, 3],
            r#type: torch::DataType::Float as i32,
        })
        .unwrap_err();
        assert!(e.contains("need 24 bytes"), "{e}");
        let e = from_tf(tf::Tensor {
            data: vec![],
            dims: vec![],
            r#type: tf::DataType::String as i32,
        })
        .unwrap_err();
        assert!(e.contains("element type 7 is not supported"), "{e}");
        let e = from_tflite(tflite::Tensor {
            data: vec![],
            dims: vec![-1],
            r#type: tflite::DataType::Float32 as i32,
        })
        .unwrap_err();
        assert!(e.contains("negative"), "{e}");
        // 0 (unused) and NOTYPE are no element type.
        for ty in [0, 1, i32::MIN] {
            assert!(
                from_tflite(tflite::Tensor {
                    data: vec![],
                    dims: vec![],
                    r#type: ty,
                })
                .is_err()
            );
        }
        // Torch has no 64-bit float.
        let f64s = Tensor::new(DType::F64, vec![1], vec![0; 8]).unwrap();
        assert!(to_torch(f64s).unwrap_err().contains("no Torch equivalent"));
    }
}
