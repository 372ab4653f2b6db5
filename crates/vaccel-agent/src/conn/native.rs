//! Our protocol on a connection (docs/PROTOCOL.md): the `Hello` handshake, then requests
//! whose messages may span several frames — reassembled with their memory charged as they
//! grow, blob uploads written straight into the blob's buffer, ops decoded in place and
//! handed to the worker pool.

use super::reader::{FrameReader, Native, ReadError};
use super::replies::Ticket;
use super::{ARGS_CHARGE, EPROTO_HANDSHAKE, Flow, Protocol, Served, error};
use crate::budget::Charge;
use crate::config::PRE_HELLO_FRAME;
use crate::tenant::{Failure, Shared};
use crate::upload::BlobSink;
use std::collections::HashMap;
use std::time::Instant;
use tokio::time::timeout_at;
use vaccel::code;
use vaccel_proto::{
    BlobUploadHead, FLAG_MORE, Header, Kind, Message, OpMessage, PROTO_MAJOR, PROTO_MINOR,
};

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// AwaitingHello: one small frame, a valid `Hello`, before `deadline`: the request id and
/// the `HelloOk` to answer, or the `Error` to answer before closing.
pub(super) async fn handshake(
    frames: &mut FrameReader<Native>,
    deadline: tokio::time::Instant,
    shared: &Shared,
    ctx: &super::Context,
) -> Result<(u64, Message), Message> {
    match timeout_at(deadline, frames.next(PRE_HELLO_FRAME)).await {
        Err(_) => Err(error(
            EPROTO_HANDSHAKE,
            format!(
                "no Hello within {:?}",
                shared.config.limits.handshake_timeout
            ),
        )),
        Ok(Ok(None)) => Err(error(EPROTO_HANDSHAKE, "closed before Hello")),
        Ok(Err(ReadError::Frame(e))) => Err(error(EPROTO_HANDSHAKE, format!("before Hello: {e}"))),
        Ok(Err(ReadError::Memory(f))) => Err(f.into_message()),
        Ok(Ok(Some((h, at)))) => {
            check_hello(h, frames.payload(at), shared, ctx).map(|ok| (h.id, ok))
        }
    }
}

/// Check the first frame: a whole, valid `Hello` with the right major and token.
fn check_hello(
    h: Header,
    payload: &[u8],
    shared: &Shared,
    ctx: &super::Context,
) -> Result<Message, Message> {
    if h.kind != Kind::Hello as u16 || h.flags & FLAG_MORE != 0 {
        return Err(error(
            EPROTO_HANDSHAKE,
            "the first message must be Hello, in one frame",
        ));
    }
    let (major, minor, token) = match Message::decode(h.kind, payload) {
        Ok(Message::Hello {
            major,
            minor,
            token,
            ..
        }) => (major, minor, token),
        Ok(other) => {
            return Err(error(
                EPROTO_HANDSHAKE,
                format!("{:?} is not Hello", other.kind()),
            ));
        }
        Err(e) => return Err(error(EPROTO_HANDSHAKE, e.to_string())),
    };
    if major != PROTO_MAJOR {
        return Err(error(
            EPROTO_HANDSHAKE,
            format!(
                "protocol {major}.{minor} is incompatible with the agent's {PROTO_MAJOR}.{PROTO_MINOR}"
            ),
        ));
    }
    if let Some(want) = &shared.config.token
        && !constant_time_eq(want, &token)
    {
        return Err(error(code::EACCES, "bad or missing token"));
    }
    Ok(Message::HelloOk {
        major: PROTO_MAJOR,
        minor: PROTO_MINOR,
        features: 0,
        max_frame: shared.config.limits.max_frame as u32,
        server: ctx.server.clone(),
    })
}

/// A request whose frames are still arriving, holding its admission ticket.
enum Partial {
    /// A message being reassembled.
    Body {
        kind: Kind,
        body: Vec<u8>,
        ticket: Ticket,
    },
    /// A `BlobUpload`, its bytes written straight into the blob's buffer.
    Blob { stream: BlobStream, ticket: Ticket },
    /// Refused at its first frame (or on the way): its frames are dropped, and the
    /// failure is the reply once the last one arrives.
    Refused { failure: Failure, ticket: Ticket },
}

/// A `BlobUpload` being received: the head is gathered from the first bytes, then every
/// frame's bytes go into the blob's final buffer (allocated once, charged first).
enum BlobStream {
    Head(Vec<u8>),
    Body(BlobSink),
}

/// A connection that said Hello: our protocol's requests.
pub(super) struct Serving {
    s: Served,
    partial: HashMap<u64, Partial>,
}

impl Serving {
    pub(super) fn new(s: Served) -> Self {
        Serving {
            s,
            partial: HashMap::new(),
        }
    }

    /// Handle one frame.
    async fn on_frame(&mut self, h: Header, payload: &[u8]) -> Flow {
        let more = h.flags & FLAG_MORE != 0;
        let Ok(kind) = Kind::from_raw(h.kind) else {
            let m = error(
                code::EINVAL,
                format!("unknown message kind {}: closing the connection", h.kind),
            );
            self.s.replies.respond(h.id, &m, None).await;
            return Flow::Close;
        };
        let part = match self.partial.remove(&h.id) {
            Some(p) => {
                let was = match &p {
                    Partial::Body { kind, .. } => *kind,
                    Partial::Blob { .. } => Kind::BlobUpload,
                    Partial::Refused { .. } => kind,
                };
                if was != kind {
                    let m = error(
                        code::EINVAL,
                        format!(
                            "request {}: a continuation frame changed the message kind: closing the connection",
                            h.id
                        ),
                    );
                    self.s.replies.respond(h.id, &m, None).await;
                    return Flow::Close;
                }
                p
            }
            None => match self.s.admit(payload.len()).await {
                Err((failure, ticket)) => Partial::Refused { failure, ticket },
                Ok(ticket) if kind == Kind::BlobUpload => Partial::Blob {
                    stream: BlobStream::Head(Vec::new()),
                    ticket,
                },
                Ok(ticket) => Partial::Body {
                    kind,
                    body: Vec::new(),
                    ticket,
                },
            },
        };
        let part = self.feed(h.id, part, payload);
        if more {
            self.partial.insert(h.id, part);
            return Flow::Continue;
        }
        self.complete(h.id, part).await;
        Flow::Continue
    }

    /// Add one frame's payload to a partial request; a failure turns it into `Refused`.
    fn feed(&mut self, id: u64, part: Partial, payload: &[u8]) -> Partial {
        let result: Result<std::convert::Infallible, (Failure, Ticket)> = match part {
            Partial::Refused { .. } => return part,
            Partial::Body {
                kind,
                mut body,
                mut ticket,
            } => match append(
                &mut body,
                &mut ticket.charge,
                payload,
                self.s.limits().max_message,
            ) {
                Ok(()) => return Partial::Body { kind, body, ticket },
                Err(f) => Err((f, ticket)),
            },
            Partial::Blob { stream, ticket } => match self.feed_blob(stream, payload) {
                Ok(stream) => return Partial::Blob { stream, ticket },
                Err(f) => Err((f, ticket)),
            },
        };
        let Err((failure, mut ticket)) = result;
        // What was gathered is dropped now; the charge goes with it.
        ticket.charge.refund(ticket.charge.bytes());
        tracing::debug!(
            tenant = self.s.tenant_id,
            request = id,
            "refused: {}",
            failure.message
        );
        Partial::Refused { failure, ticket }
    }

    fn feed_blob(
        &mut self,
        mut stream: BlobStream,
        mut data: &[u8],
    ) -> Result<BlobStream, Failure> {
        if let BlobStream::Head(head) = &mut stream {
            let take = (BlobUploadHead::LEN - head.len()).min(data.len());
            head.extend_from_slice(&data[..take]);
            data = &data[take..];
            if head.len() == BlobUploadHead::LEN {
                let hd = BlobUploadHead::decode(head)
                    .map_err(|e| Failure::new(code::EINVAL, e.to_string()))?;
                stream = BlobStream::Body(self.s.tenant.begin_blob(hd.upload, hd.index, hd.len)?);
            }
        }
        if let BlobStream::Body(sink) = &mut stream {
            sink.write(data);
        }
        Ok(stream)
    }

    /// A request's last frame arrived: answer it, or start its op.
    async fn complete(&mut self, id: u64, part: Partial) {
        let (answer, ticket) = match part {
            Partial::Refused { failure, ticket } => (failure.into_message(), ticket),
            Partial::Blob { stream, ticket } => {
                let answer = match stream {
                    BlobStream::Head(_) => {
                        error(code::EINVAL, "BlobUpload message shorter than its head")
                    }
                    // Hashing the blob is the only slow part: off the I/O thread.
                    BlobStream::Body(sink) => tokio::task::block_in_place(|| {
                        self.s
                            .tenant
                            .finish_blob(sink)
                            .unwrap_or_else(Failure::into_message)
                    }),
                };
                (answer, ticket)
            }
            Partial::Body {
                kind: Kind::Op,
                body,
                ticket,
            } => {
                return self.op(id, body, ticket).await;
            }
            Partial::Body { kind, body, ticket } => {
                let answer = match Message::decode(kind as u16, &body) {
                    Ok(msg) => {
                        drop(body);
                        tokio::task::block_in_place(|| self.s.tenant.handle(msg))
                    }
                    Err(e) => error(code::EINVAL, e.to_string()),
                };
                (answer, ticket)
            }
        };
        self.s.replies.respond(id, &answer, Some(ticket)).await;
    }

    /// Decode an op in place, charge what it holds decoded, check it, and hand it to the
    /// worker pool; the worker writes the reply.
    async fn op(&mut self, id: u64, body: Vec<u8>, mut ticket: Ticket) {
        let prepared = OpMessage::decode(body)
            .map_err(|e| Failure::new(code::EINVAL, e.to_string()))
            .and_then(|m| {
                ticket.charge.set(m.footprint() as u64, ARGS_CHARGE)?;
                self.s.tenant.prepare_op(m)
            });
        let prepared = match prepared {
            Ok(p) => p,
            Err(f) => {
                return self
                    .s
                    .replies
                    .respond(id, &f.into_message(), Some(ticket))
                    .await;
            }
        };
        let (replies, ctx) = (self.s.replies.clone(), self.s.ctx.clone());
        let (op_name, op_id) = (prepared.name(), prepared.op());
        // The op runs on a worker thread, which writes the reply itself: one thread
        // hand-off per request, none on the way back.
        self.s.ctx.workers.submit(
            self.s.tenant_id,
            op_id,
            Box::new(move || {
                let t0 = Instant::now();
                let msg = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| prepared.run()))
                    .unwrap_or_else(|_| error(code::EBACKEND, "the op's worker failed"));
                ctx.metrics.op(op_name, t0.elapsed().as_secs_f64() * 1e3);
                replies.respond_from_worker(id, &msg, ticket);
            }),
        );
    }
}

/// Append `bytes` to a message being reassembled, charging any growth of its buffer first
/// (it grows by doubling, up to `max`).
fn append(
    body: &mut Vec<u8>,
    charge: &mut Charge,
    bytes: &[u8],
    max: usize,
) -> Result<(), Failure> {
    let need = body.len() + bytes.len();
    if need > max {
        return Err(Failure::new(
            code::EINVAL,
            format!("message exceeds the {max}-byte limit for one request"),
        ));
    }
    if need > body.capacity() {
        let cap = need.max(body.capacity() * 2).min(max);
        charge.grow((cap - body.capacity()) as u64, "the request")?;
        body.reserve_exact(cap - body.len());
    }
    body.extend_from_slice(bytes);
    Ok(())
}

impl Protocol for Serving {
    type Framing = Native;

    fn served(&mut self) -> &mut Served {
        &mut self.s
    }

    fn frame_limit(&self) -> usize {
        self.s.limits().max_frame
    }

    async fn frame(&mut self, h: Header, payload: &[u8]) -> Flow {
        self.on_frame(h, payload).await
    }

    async fn broken(&mut self, e: ReadError) {
        let m = match e {
            ReadError::Frame(e) => error(code::EINVAL, format!("{e}: closing the connection")),
            ReadError::Memory(f) => f.into_message(),
        };
        self.s.replies.respond(0, &m, None).await;
    }

    fn drop_partial(&mut self) {
        self.partial.clear();
    }
}
