//! ttrpc's framing: each message is a 10-byte header and a protobuf payload.
//!
//! ```text
//! offset size field
//!  0     4    payload length, big-endian
//!  4     4    stream id, big-endian (the client's are odd; a response carries its request's)
//!  8     1    type: 1 request, 2 response, 3 data
//!  9     1    flags: 1 remote closed, 2 remote open, 4 no data
//! 10     n    payload (a `ttrpc.Request` or `ttrpc.Response`)
//! ```
//!
//! Telling the protocols apart: our protocol's first frame is a `Hello` whose 8-byte
//! request id (offset 8) is 0, while a ttrpc client's first frame is a request: type 1 at
//! offset 8, with an odd stream id. So byte 8 decides ([`is_ttrpc`]); whatever follows is
//! then held to that protocol's rules.

use crate::Message;
use crate::pb::google::rpc::Status;
use crate::pb::ttrpc::{Request, Response};

/// Header size.
pub const HEADER_LEN: usize = 10;
/// Frame type: a request.
pub const TYPE_REQUEST: u8 = 1;
/// Frame type: a response.
pub const TYPE_RESPONSE: u8 = 2;
/// Frame type: stream data.
pub const TYPE_DATA: u8 = 3;
/// Flag: the sender closed its side of the stream.
pub const FLAG_REMOTE_CLOSED: u8 = 1;
/// Flag: the sender keeps its side open.
pub const FLAG_REMOTE_OPEN: u8 = 2;
/// Flag: the frame has no data.
pub const FLAG_NO_DATA: u8 = 4;
/// The largest message upstream's guests may send: its ttrpc fork raised the library's
/// 4 MiB limit to 1 GiB (large models travel in one RegisterResource).
pub const UPSTREAM_MAX_MESSAGE: usize = 1 << 30;

/// A frame's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Payload length.
    pub length: u32,
    /// Stream id.
    pub stream_id: u32,
    /// [`TYPE_REQUEST`], [`TYPE_RESPONSE`] or [`TYPE_DATA`].
    pub kind: u8,
    /// `FLAG_*` bits.
    pub flags: u8,
}

impl Header {
    /// Encode.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&self.length.to_be_bytes());
        b[4..8].copy_from_slice(&self.stream_id.to_be_bytes());
        b[8] = self.kind;
        b[9] = self.flags;
        b
    }

    /// Decode.
    pub fn decode(b: &[u8; HEADER_LEN]) -> Header {
        Header {
            length: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            stream_id: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            kind: b[8],
            flags: b[9],
        }
    }
}

/// Whether a connection whose first bytes are `first` speaks ttrpc (`None`: fewer than
/// [`HEADER_LEN`] bytes so far — wait for more).
pub fn is_ttrpc(first: &[u8]) -> Option<bool> {
    let h = first.first_chunk::<HEADER_LEN>()?;
    let h = Header::decode(h);
    Some(h.kind == TYPE_REQUEST && !h.stream_id.is_multiple_of(2))
}

/// Why a frame is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Its payload is larger than the connection allows.
    #[error("a ttrpc message of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Declared length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A client may only send requests, and data on the streams it opened.
    #[error("ttrpc frame type {0} from a client: only requests (1) and stream data (3) are served")]
    NotARequest(u8),
    /// Client stream ids are odd.
    #[error("ttrpc stream id {0} is even: client streams are odd")]
    EvenStream(u32),
    /// The payload is not a `ttrpc.Request`.
    #[error("malformed ttrpc request: {0}")]
    Malformed(String),
}

/// Check a client's frame header before its payload is read: `Ok(payload length)`, or why
/// the frame is refused — before anything is allocated for it.
///
/// # Errors
/// [`FrameError`].
pub fn check_request(h: &Header, max: usize) -> Result<usize, FrameError> {
    if h.kind != TYPE_REQUEST {
        return Err(FrameError::NotARequest(h.kind));
    }
    if h.stream_id.is_multiple_of(2) {
        return Err(FrameError::EvenStream(h.stream_id));
    }
    let len = h.length as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    Ok(len)
}

/// Check any frame a client sends on a connection that serves streams: a request (which
/// opens a stream) or stream data, on an odd stream id, of at most `max` payload bytes.
/// `Ok(payload length)`, or why the frame is refused — before anything is allocated for
/// it. Whether a data frame's stream is open is the server's to check.
///
/// # Errors
/// [`FrameError`].
pub fn check_client_frame(h: &Header, max: usize) -> Result<usize, FrameError> {
    if h.kind == TYPE_DATA {
        let request = Header {
            kind: TYPE_REQUEST,
            ..*h
        };
        return check_request(&request, max);
    }
    check_request(h, max)
}

/// Decode a request's payload (its message stays a view of `payload`).
///
/// # Errors
/// [`FrameError::Malformed`].
pub fn decode_request(payload: bytes::Bytes) -> Result<Request, FrameError> {
    Request::decode(payload).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// A response frame (header and payload) to the request on `stream_id`: the reply message,
/// or a failed status.
pub fn response(stream_id: u32, reply: Result<bytes::Bytes, Status>) -> Vec<u8> {
    let response = match reply {
        Ok(payload) => Response {
            status: Some(Status::default()),
            payload,
        },
        Err(status) => Response {
            status: Some(status),
            payload: bytes::Bytes::new(),
        },
    };
    let body = response.encode_to_vec();
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(
        &Header {
            length: body.len() as u32,
            stream_id,
            kind: TYPE_RESPONSE,
            flags: 0,
        }
        .encode(),
    );
    out.extend_from_slice(&body);
    out
}
