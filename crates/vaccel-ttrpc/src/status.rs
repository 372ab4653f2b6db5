//! Failures as upstream's guests read them. Their client turns a non-OK ttrpc status into
//! an errno: when the status's first detail holds a `vaccel.Error`, its `ffi_error` is
//! the vAccel code the guest's call returns; otherwise the call fails with a generic code.
//! So every failure of a vAccel operation is an INTERNAL status carrying that detail,
//! and the message says what went wrong.

use crate::Message;
use crate::pb::google::rpc::Status;
use crate::pb::vaccel::{Error, ErrorType};

/// gRPC status codes ttrpc uses.
pub mod code {
    /// Success.
    pub const OK: i32 = 0;
    /// The request is malformed.
    pub const INVALID_ARGUMENT: i32 = 3;
    /// The named thing does not exist.
    pub const NOT_FOUND: i32 = 5;
    /// The operator's policy refuses it.
    pub const PERMISSION_DENIED: i32 = 7;
    /// A limit was reached.
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    /// No such method.
    pub const UNIMPLEMENTED: i32 = 12;
    /// The operation failed (the detail says how).
    pub const INTERNAL: i32 = 13;
}

/// The `type_url` of the detail.
pub const ERROR_TYPE_URL: &str = "type.googleapis.com/vaccel.Error";

/// A failed vAccel operation: INTERNAL, the message, and the vAccel code as detail.
pub fn vaccel_error(vaccel_code: i32, message: impl Into<String>) -> Status {
    let detail = Error {
        r#type: ErrorType::Ffi as i32,
        ffi_error: Some(vaccel_code.unsigned_abs()),
        status: None,
    };
    Status {
        code: code::INTERNAL,
        message: message.into(),
        details: vec![prost_types::Any {
            type_url: ERROR_TYPE_URL.into(),
            value: detail.encode_to_vec(),
        }],
    }
}

/// A failure outside any vAccel operation (an unknown method, a malformed request).
pub fn rpc_error(code: i32, message: impl Into<String>) -> Status {
    Status {
        code,
        message: message.into(),
        details: Vec::new(),
    }
}

/// The vAccel code a guest reads from a status, as upstream's client does (`None` when
/// the status carries no `vaccel.Error`).
pub fn vaccel_code(status: &Status) -> Option<i32> {
    let d = status.details.first()?;
    let e = Error::decode(d.value.as_slice()).ok()?;
    e.ffi_error.map(|c| c as i32)
}
