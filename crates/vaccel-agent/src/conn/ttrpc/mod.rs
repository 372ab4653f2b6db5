//! Upstream's protocol on a connection: ttrpc frames carrying `AgentService` requests
//! (upstream's guests: libvaccel with vaccel-rust's `vaccel-rpc-client`). The connection
//! is a tenant like any other — its own ids, quotas, rate, memory share, policy, metrics
//! and fair share of the workers; only the encoding differs. [`rpc`] translates each
//! method onto the tenant.
//!
//! * A frame is one whole message: its length is checked against `--max-message` and its
//!   buffer charged before it is read (upstream's guests may send up to 1 GiB at once).
//! * A request is admitted (in-flight permit, rate) at its frame, and its memory — the
//!   copy of the frame, the decoded message, what the op holds, the reply — is charged to
//!   the request before it is allocated.
//! * `GenopStream` (async guests) opens a stream whose data frames each carry a
//!   `genop.Request`; large arguments arrive in parts, reassembled as upstream does, and
//!   the call runs when the client closes its side.
//! * A data frame for a stream that is not open, a request reusing an open stream, or
//!   broken framing closes the connection; a bad message fails its request.

mod rpc;

use super::reader::{ReadError, Ttrpc};
use super::replies::Ticket;
use super::{Flow, Protocol, Served};
use crate::tenant::Failure;
use bytes::Bytes;
use std::collections::HashMap;
use vaccel::code;
use vaccel_ttrpc::framing::{self, FLAG_NO_DATA, FLAG_REMOTE_CLOSED, FLAG_REMOTE_OPEN, Header};
use vaccel_ttrpc::pb::google::rpc::Status;
use vaccel_ttrpc::status::{self as st, vaccel_error};
use vaccel_ttrpc::{Message as _, Method};

/// A stream a client opened (`GenopStream`), until it closes its side.
enum Stream {
    /// Arguments arriving.
    Genop {
        parts: rpc::GenopParts,
        ticket: Ticket,
    },
    /// Refused when it opened or on the way: its data is dropped, and the failure is the
    /// reply once the client closes its side.
    Refused { status: Status, ticket: Ticket },
}

/// A ttrpc connection being served.
pub(super) struct Upstream {
    s: Served,
    streams: HashMap<u32, Stream>,
}

/// A request's failure as the guest reads it: the vAccel code in the status's detail.
fn failed(f: Failure) -> Status {
    vaccel_error(f.code, f.message)
}

impl Upstream {
    pub(super) fn new(s: Served) -> Self {
        Upstream {
            s,
            streams: HashMap::new(),
        }
    }

    async fn on_frame(&mut self, h: Header, payload: &[u8]) -> Flow {
        if h.kind == framing::TYPE_DATA {
            return self.data(h, payload).await;
        }
        if self.streams.contains_key(&h.stream_id) {
            return self
                .close_with(
                    h.stream_id,
                    format!(
                        "a request on stream {}, which is still open: closing the connection",
                        h.stream_id
                    ),
                )
                .await;
        }
        let opens = h.flags & FLAG_REMOTE_OPEN != 0;
        let mut ticket = match self.s.admit(payload.len()).await {
            Ok(t) => t,
            Err((f, ticket)) => {
                return self.refuse(h.stream_id, opens, failed(f), ticket).await;
            }
        };
        if self.s.shared.config.token.is_some() {
            let status = st::rpc_error(
                st::code::PERMISSION_DENIED,
                "this agent requires a token, which ttrpc clients cannot present: closing",
            );
            self.s
                .replies
                .respond_ttrpc(h.stream_id, Err(status), Some(ticket))
                .await;
            return Flow::Close;
        }
        // The request's own copy of the frame (its message is decoded from views of it).
        if let Err(f) = ticket.charge.set(payload.len() as u64, "the request") {
            return self.refuse(h.stream_id, opens, failed(f), ticket).await;
        }
        let req = match framing::decode_request(Bytes::copy_from_slice(payload)) {
            Ok(r) => r,
            Err(e) => {
                let status = vaccel_error(code::EINVAL, e.to_string());
                return self.refuse(h.stream_id, opens, status, ticket).await;
            }
        };
        let method = Method::of(&req.service, &req.method);
        match (method, opens) {
            (Some(Method::GenopStream), true) => {
                let parts = rpc::GenopParts::default();
                self.streams
                    .insert(h.stream_id, Stream::Genop { parts, ticket });
            }
            (Some(m), false) if m != Method::GenopStream => {
                rpc::unary(self, m, h.stream_id, req.payload, ticket).await;
            }
            (Some(m), _) => {
                let status = st::rpc_error(
                    st::code::INVALID_ARGUMENT,
                    format!(
                        "{} is {}a streaming method",
                        m.name(),
                        if opens { "not " } else { "" }
                    ),
                );
                return self.refuse(h.stream_id, opens, status, ticket).await;
            }
            (None, _) => {
                let status = st::rpc_error(
                    st::code::UNIMPLEMENTED,
                    format!("{}/{} is not served", req.service, req.method),
                );
                return self.refuse(h.stream_id, opens, status, ticket).await;
            }
        }
        Flow::Continue
    }

    /// Refuse a request: at once, or — for one that opened a stream — once the client
    /// closes its side.
    async fn refuse(&mut self, stream: u32, opens: bool, status: Status, ticket: Ticket) -> Flow {
        if opens {
            self.streams
                .insert(stream, Stream::Refused { status, ticket });
        } else {
            self.s
                .replies
                .respond_ttrpc(stream, Err(status), Some(ticket))
                .await;
        }
        Flow::Continue
    }

    /// Say why the connection closes, on `stream`.
    async fn close_with(&mut self, stream: u32, message: String) -> Flow {
        let status = vaccel_error(code::EINVAL, message);
        self.s
            .replies
            .respond_ttrpc(stream, Err(status), None)
            .await;
        Flow::Close
    }

    /// A data frame: the next `genop.Request` of an open stream, or its end.
    async fn data(&mut self, h: Header, payload: &[u8]) -> Flow {
        let Some(stream) = self.streams.remove(&h.stream_id) else {
            return self
                .close_with(
                    h.stream_id,
                    format!(
                        "data for stream {}, which is not open: closing the connection",
                        h.stream_id
                    ),
                )
                .await;
        };
        let stream = if h.flags & FLAG_NO_DATA == 0 {
            self.feed(stream, payload)
        } else {
            stream
        };
        if h.flags & FLAG_REMOTE_CLOSED == 0 {
            self.streams.insert(h.stream_id, stream);
            return Flow::Continue;
        }
        match stream {
            Stream::Refused { status, ticket } => {
                self.s
                    .replies
                    .respond_ttrpc(h.stream_id, Err(status), Some(ticket))
                    .await;
            }
            Stream::Genop { parts, ticket } => {
                rpc::genop(self, h.stream_id, parts.finish(), ticket).await;
            }
        }
        Flow::Continue
    }

    /// Add one data frame's request to a stream; a failure turns it into `Refused`.
    fn feed(&mut self, stream: Stream, payload: &[u8]) -> Stream {
        let Stream::Genop {
            mut parts,
            mut ticket,
        } = stream
        else {
            return stream;
        };
        let fed = ticket
            .charge
            .grow(payload.len() as u64, "the streamed request")
            .map_err(failed)
            .and_then(|()| {
                vaccel_ttrpc::pb::vaccel::genop::Request::decode(payload).map_err(|e| {
                    vaccel_error(code::EINVAL, format!("malformed genop.Request: {e}"))
                })
            })
            .and_then(|req| parts.add(req).map_err(failed));
        match fed {
            Ok(()) => Stream::Genop { parts, ticket },
            Err(status) => {
                drop(parts);
                ticket.charge.refund(ticket.charge.bytes());
                Stream::Refused { status, ticket }
            }
        }
    }
}

impl Protocol for Upstream {
    type Framing = Ttrpc;

    fn served(&mut self) -> &mut Served {
        &mut self.s
    }

    fn frame_limit(&self) -> usize {
        // One frame is one whole message.
        self.s.limits().max_message
    }

    async fn frame(&mut self, h: Header, payload: &[u8]) -> Flow {
        self.on_frame(h, payload).await
    }

    async fn broken(&mut self, e: ReadError) {
        let status = match e {
            ReadError::Frame(e) => {
                vaccel_error(code::EINVAL, format!("{e}: closing the connection"))
            }
            ReadError::Memory(f) => failed(f),
        };
        // Stream 0 is no client's: the guest learns why from the log and the closed socket.
        self.s.replies.respond_ttrpc(0, Err(status), None).await;
    }

    fn drop_partial(&mut self) {
        self.streams.clear();
    }
}
