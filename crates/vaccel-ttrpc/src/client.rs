//! A blocking client of `AgentService` over any byte stream — one call at a time, as
//! upstream's synchronous guests make them. For tools and benchmarks that act as an
//! upstream guest (the protocol stays I/O-free: the caller brings the connected stream).

use crate::framing::{self, HEADER_LEN, Header};
use crate::pb::google::rpc::Status;
use crate::pb::ttrpc::{Request, Response};
use crate::{Message, SERVICE, status};
use std::io::{Read, Write};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The connection failed.
    #[error("{method}: {source}")]
    Io {
        /// The method called.
        method: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The agent answered with a failed status.
    #[error("{method}: {} (code {}, vAccel {:?})", .status.message, .status.code, status::vaccel_code(.status))]
    Status {
        /// The method called.
        method: String,
        /// Its status.
        status: Status,
    },
    /// The answer was not a valid response.
    #[error("{method}: {message}")]
    Malformed {
        /// The method called.
        method: String,
        /// What was wrong.
        message: String,
    },
}

impl CallError {
    /// The vAccel code the guest's call returns: the status's `vaccel.Error` code, else
    /// `EIO` as upstream's client reports transport and plain ttrpc failures.
    pub fn vaccel_code(&self) -> i32 {
        match self {
            CallError::Status { status, .. } => {
                status::vaccel_code(status).unwrap_or(vaccel_plugin::code::EIO)
            }
            _ => vaccel_plugin::code::EIO,
        }
    }
}

/// A connection to an agent.
pub struct Client<S> {
    stream: S,
    next: u32,
}

impl<S: Read + Write> Client<S> {
    /// A client on a connected stream.
    pub fn new(stream: S) -> Self {
        Client { stream, next: 1 }
    }

    /// Call `method` of [`SERVICE`] with `req`; the reply, or why not.
    ///
    /// # Errors
    /// [`CallError`].
    pub fn call<Q: Message, R: Message + Default>(
        &mut self,
        method: &str,
        req: &Q,
    ) -> Result<R, CallError> {
        let stream_id = self.next;
        self.next = self.next.wrapping_add(2);
        let body = Request {
            service: SERVICE.into(),
            method: method.into(),
            payload: req.encode_to_vec().into(),
            timeout_nano: 0,
            metadata: Vec::new(),
        }
        .encode_to_vec();
        let mut frame = Vec::with_capacity(HEADER_LEN + body.len());
        frame.extend_from_slice(
            &Header {
                length: body.len() as u32,
                stream_id,
                kind: framing::TYPE_REQUEST,
                flags: 0,
            }
            .encode(),
        );
        frame.extend_from_slice(&body);
        let io = |source| CallError::Io {
            method: method.into(),
            source,
        };
        let bad = |message: String| CallError::Malformed {
            method: method.into(),
            message,
        };
        self.stream.write_all(&frame).map_err(io)?;
        let mut head = [0u8; HEADER_LEN];
        self.stream.read_exact(&mut head).map_err(io)?;
        let h = Header::decode(&head);
        if h.kind != framing::TYPE_RESPONSE || h.length as usize > framing::UPSTREAM_MAX_MESSAGE {
            return Err(bad(format!(
                "not a response: type {}, {} bytes",
                h.kind, h.length
            )));
        }
        let mut body = vec![0u8; h.length as usize];
        self.stream.read_exact(&mut body).map_err(io)?;
        let r = Response::decode(body.as_slice()).map_err(|e| bad(e.to_string()))?;
        match r.status {
            Some(s) if s.code != status::code::OK => Err(CallError::Status {
                method: method.into(),
                status: s,
            }),
            _ if h.stream_id != stream_id => Err(bad(format!(
                "answer on stream {}, not {stream_id}",
                h.stream_id
            ))),
            _ => R::decode(r.payload).map_err(|e| bad(format!("malformed reply: {e}"))),
        }
    }
}
