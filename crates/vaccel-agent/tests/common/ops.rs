//! Requests the agent's tests and benchmarks build (shared by `tests/common` and, through
//! `#[path]`, by `benches/hostile.rs`).

#![allow(dead_code, unreachable_pub, missing_docs)]

use vaccel::ArgType;
use vaccel_proto::{Message, PROTO_MAJOR, PROTO_MINOR, WireArg};

/// A noop op on `session`.
pub fn noop(session: i64) -> Message {
    Message::Op {
        session,
        op: 0,
        read: vec![],
        write: vec![],
    }
}

/// A `Hello` of this protocol version.
pub fn hello(token: Vec<u8>) -> Message {
    Message::Hello {
        major: PROTO_MAJOR,
        minor: PROTO_MINOR,
        features: 0,
        token,
    }
}

pub fn arg(ty: ArgType, data: Vec<u8>) -> WireArg {
    WireArg {
        arg_type: ty.raw(),
        custom_type_id: 0,
        data,
    }
}

/// `C = A·B` with A `m×1` and B `1×n` of ones: the reply carries `m·n` floats, all 1.
pub fn sgemm(session: i64, m: usize, n: usize) -> Message {
    use vaccel::ArgType::{Float32, Float32Array, Int64};
    let i64b = |v: usize| (v as i64).to_le_bytes().to_vec();
    let f32s = |v: f32, len: usize| v.to_le_bytes().repeat(len);
    Message::Op {
        session,
        op: vaccel::OpType::BlasSgemm.raw(),
        read: vec![
            arg(Int64, i64b(m)),
            arg(Int64, i64b(n)),
            arg(Int64, i64b(1)),
            arg(Float32, f32s(1.0, 1)),
            arg(Float32Array, f32s(1.0, m)),
            arg(Int64, i64b(1)),
            arg(Float32Array, f32s(1.0, n)),
            arg(Int64, i64b(n)),
            arg(Float32, f32s(0.0, 1)),
            arg(Int64, i64b(n)),
        ],
        write: vec![arg(Float32Array, f32s(0.0, m * n))],
    }
}

/// Image classification of `image` on `session` (the session's or the default model):
/// the image as a buffer, then room for the top label and the full answer.
pub fn classify(session: i64, image: &[u8]) -> Message {
    Message::Op {
        session,
        op: vaccel::OpType::ImageClassify.raw(),
        read: vec![arg(ArgType::Buffer, image.to_vec())],
        write: vec![
            arg(ArgType::UcharArray, vec![0; 256]),
            arg(ArgType::UcharArray, vec![0; 512]),
        ],
    }
}

/// Whether an `OpDone` is the answer to [`sgemm`]: `m·n` ones.
pub fn is_sgemm_answer(m: &Message, len: usize) -> bool {
    matches!(m, Message::OpDone { write } if write.len() == 1
        && write[0].data.len() == len * 4
        && write[0].data.chunks(4).all(|c| c == 1f32.to_le_bytes()))
}
