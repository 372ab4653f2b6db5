//! One connection, as a state machine:
//!
//! ```text
//!   accept ──▶ AwaitingHello ──Hello ok──▶ Serving ──EOF / broken framing / timeout──▶ Draining ──▶ closed
//!                  │ bad Hello, other message, deadline passed                 ▲
//!                  └───────────────────────────── Error reply ─────────────────┘
//! ```
//!
//! * **AwaitingHello** — the connection holds at most one small frame
//!   ([`PRE_HELLO_FRAME`] bytes, no multi-frame messages) and must say a valid Hello
//!   (with the token, where one is set) before the handshake deadline. Anything else gets
//!   one `Error` reply and the connection closes.
//! * **Serving** — frames are read ([`reader`]) apart from being handled (here). The first
//!   frame of every request passes *admission*: it takes an in-flight permit (waiting for
//!   one — so a client with too much outstanding is simply not read from), then the rate
//!   limit. Its memory (the body as it is reassembled, its decoded arguments, its reply) is
//!   charged to the tenant's share before it is allocated. Control messages are handled in
//!   order on this task; ops run on the worker pool, fairly across tenants. Unknown kinds
//!   and broken framing close the connection; a bad message body fails that request.
//! * **Draining** — partial messages are dropped, running ops finish and their replies are
//!   written, then everything the tenant held is released.
//!
//! Every reply, an error or not, leaves through [`replies::Replies`], which charges and
//! counts it, and gives the request's permit back only once the reply is written.

mod reader;
mod replies;

use crate::budget::Charge;
use crate::config::{Limits, PRE_HELLO_FRAME};
use crate::metrics::Metrics;
use crate::tenant::{Failure, Shared, Tenant};
use crate::upload::BlobSink;
use reader::{FrameReader, ReadError};
use replies::{Replies, Ticket};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::time::timeout_at;
use vaccel::code;
use vaccel_proto::{
    BlobUploadHead, FLAG_MORE, Header, Kind, Message, OpMessage, PROTO_MAJOR, PROTO_MINOR,
};
use vaccel_transport::server::{Conn, Peer};

/// What connections share besides the runtime.
pub struct Context {
    /// Metrics.
    pub metrics: Metrics,
    /// The threads that run plugin calls, across tenants.
    pub workers: crate::pool::Pool,
    /// Agent name and version for the handshake.
    pub server: String,
}

fn error(code: i32, message: impl Into<String>) -> Message {
    Message::Error {
        code,
        message: message.into(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Frames a connection handles before it lets the other connections' tasks run.
const TURN_FRAMES: u64 = 16;

/// Handshake failures are protocol errors.
const EPROTO_HANDSHAKE: i32 = code::EBACKEND;

/// Check the first frame: a whole, valid `Hello` with the right major and token.
fn handshake(
    h: Header,
    payload: &[u8],
    shared: &Shared,
    ctx: &Context,
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

/// Whether to go on reading.
enum Flow {
    Continue,
    Close,
}

/// A connection that said Hello.
struct Serving {
    tenant_id: u64,
    tenant: Tenant,
    shared: Arc<Shared>,
    ctx: Arc<Context>,
    replies: Replies,
    in_flight: Arc<Semaphore>,
    partial: HashMap<u64, Partial>,
}

impl Serving {
    fn limits(&self) -> &Limits {
        &self.shared.config.limits
    }

    /// Admit a new request: an in-flight permit (waiting for one), then the rate limit.
    async fn admit(&mut self, bytes_in: usize) -> Result<Ticket, (Failure, Ticket)> {
        let permit = self
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let ticket = Ticket {
            _permit: permit,
            charge: self.tenant.share().empty(),
            bytes_in,
        };
        match self.tenant.admit() {
            Ok(()) => Ok(ticket),
            Err(f) => {
                self.ctx.metrics.refused();
                Err((f, ticket))
            }
        }
    }

    /// Handle one frame.
    async fn frame(&mut self, h: Header, payload: &[u8]) -> Flow {
        let more = h.flags & FLAG_MORE != 0;
        let Ok(kind) = Kind::from_raw(h.kind) else {
            let m = error(
                code::EINVAL,
                format!("unknown message kind {}: closing the connection", h.kind),
            );
            self.replies.respond(h.id, &m, None).await;
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
                    self.replies.respond(h.id, &m, None).await;
                    return Flow::Close;
                }
                p
            }
            None => match self.admit(payload.len()).await {
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
                self.limits().max_message,
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
            tenant = self.tenant_id,
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
                stream = BlobStream::Body(self.tenant.begin_blob(hd.upload, hd.index, hd.len)?);
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
                        self.tenant
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
                        tokio::task::block_in_place(|| self.tenant.handle(msg))
                    }
                    Err(e) => error(code::EINVAL, e.to_string()),
                };
                (answer, ticket)
            }
        };
        self.replies.respond(id, &answer, Some(ticket)).await;
    }

    /// Decode an op in place, charge what it holds decoded, check it, and hand it to the
    /// worker pool; the worker writes the reply.
    async fn op(&mut self, id: u64, body: Vec<u8>, mut ticket: Ticket) {
        let prepared = OpMessage::decode(body)
            .map_err(|e| Failure::new(code::EINVAL, e.to_string()))
            .and_then(|m| {
                ticket
                    .charge
                    .set(m.footprint() as u64, "the op's arguments")?;
                self.tenant.prepare_op(m)
            });
        let prepared = match prepared {
            Ok(p) => p,
            Err(f) => {
                return self
                    .replies
                    .respond(id, &f.into_message(), Some(ticket))
                    .await;
            }
        };
        let (replies, ctx) = (self.replies.clone(), self.ctx.clone());
        let (op_name, op_id) = (prepared.name(), prepared.op());
        // The op runs on a worker thread, which writes the reply itself: one thread
        // hand-off per request, none on the way back.
        self.ctx.workers.submit(
            self.tenant_id,
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

    /// Whether nothing is in flight (no partial request, no op, no unwritten reply).
    fn idle(&self) -> bool {
        self.in_flight.available_permits() == self.limits().in_flight
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

/// Serve one connection until it closes (or is refused). Everything the tenant held is
/// released when this returns.
pub async fn serve(
    conn: Box<dyn Conn>,
    peer: Peer,
    tenant_id: u64,
    shared: Arc<Shared>,
    ctx: Arc<Context>,
) {
    let limits = shared.config.limits.clone();
    let (rd, wr) = tokio::io::split(conn);
    let mut replies = Replies::new(wr, ctx.clone(), tenant_id, limits.write_timeout);
    let share = shared.tenant_share(&peer.key);
    let mut frames = FrameReader::new(rd, share.empty());
    ctx.metrics.connected(tenant_id, &peer.addr);
    tracing::debug!(tenant = tenant_id, peer = peer.addr, "connected");

    // AwaitingHello: one small frame, before the deadline.
    let deadline = tokio::time::Instant::now() + limits.handshake_timeout;
    let hello = match timeout_at(deadline, frames.next(PRE_HELLO_FRAME)).await {
        Err(_) => Err(error(
            EPROTO_HANDSHAKE,
            format!("no Hello within {:?}", limits.handshake_timeout),
        )),
        Ok(Ok(None)) => Err(error(EPROTO_HANDSHAKE, "closed before Hello")),
        Ok(Err(ReadError::Frame(e))) => Err(error(EPROTO_HANDSHAKE, format!("before Hello: {e}"))),
        Ok(Err(ReadError::Memory(f))) => Err(f.into_message()),
        Ok(Ok(Some((h, at)))) => {
            handshake(h, frames.payload(at), &shared, &ctx).map(|ok| (h.id, ok))
        }
    };
    let (id, ok) = match hello {
        Ok(ok) => ok,
        Err(e) => {
            tracing::warn!(
                tenant = tenant_id,
                peer = peer.addr,
                "handshake refused: {e:?}"
            );
            replies.respond(0, &e, None).await;
            replies.close().await;
            ctx.metrics.disconnected(tenant_id);
            return;
        }
    };
    replies.respond(id, &ok, None).await;
    replies.set_max_frame(limits.max_frame);
    ctx.workers.join(tenant_id, &peer.key);
    tracing::info!(tenant = tenant_id, peer = peer.addr, "tenant connected");

    // Serving.
    let mut s = Serving {
        tenant_id,
        tenant: Tenant::new(shared.clone(), share),
        shared,
        ctx: ctx.clone(),
        replies: replies.clone(),
        in_flight: Arc::new(Semaphore::new(limits.in_flight)),
        partial: HashMap::new(),
    };
    let stalled = replies.stalled();
    tokio::pin!(stalled);
    let mut handled = 0u64;
    // One idle timer, moved on only when it fires (not re-armed for every frame).
    // (No idle timeout: thirty years, which tokio's timer still takes.)
    let idle_for = limits
        .idle_timeout
        .unwrap_or(Duration::from_secs(30 * 365 * 86_400));
    let mut last_frame = tokio::time::Instant::now();
    let idle = tokio::time::sleep_until(last_frame + idle_for);
    tokio::pin!(idle);
    loop {
        let next = tokio::select! {
            () = &mut stalled => {
                tracing::warn!(tenant = tenant_id, "closing: a reply was not read within {:?}", limits.write_timeout);
                break;
            }
            () = &mut idle => {
                let quiet_since = last_frame.elapsed();
                if quiet_since >= idle_for && s.idle() {
                    tracing::info!(tenant = tenant_id, "closing: idle for {quiet_since:?}");
                    break;
                }
                // Frames came meanwhile, or something is in flight: look again later.
                idle.as_mut().reset(tokio::time::Instant::now() + (idle_for - quiet_since.min(idle_for)).max(idle_for / 8));
                continue;
            }
            next = frames.next(limits.max_frame) => next,
        };
        match next {
            Ok(None) => break,
            Ok(Some((h, at))) => {
                last_frame = tokio::time::Instant::now();
                // Frames already buffered are handled without touching the socket, so
                // without tokio ever making this task wait: take turns with the other
                // connections every few frames, so one that pipelines thousands of requests
                // does not keep an I/O thread to itself.
                handled += 1;
                if handled.is_multiple_of(TURN_FRAMES) {
                    tokio::task::yield_now().await;
                }
                let flow = tokio::select! {
                    () = &mut stalled => Flow::Close,
                    flow = s.frame(h, frames.payload(at)) => flow,
                };
                if let Flow::Close = flow {
                    break;
                }
            }
            Err(e) => {
                // Framing is broken, or the next frame cannot be paid for: say why, close.
                let m = match e {
                    ReadError::Frame(e) => {
                        error(code::EINVAL, format!("{e}: closing the connection"))
                    }
                    ReadError::Memory(f) => f.into_message(),
                };
                tracing::warn!(tenant = tenant_id, "closing connection: {m:?}");
                s.replies.respond(0, &m, None).await;
                break;
            }
        }
    }

    // Draining: partial requests go now; running ops finish and answer (or find the peer
    // gone); then the tenant's state is released.
    drop(frames);
    s.partial.clear();
    let _ = s.in_flight.acquire_many(limits.in_flight as u32).await;
    s.replies.close().await;
    let sessions = s.tenant.nr_sessions();
    let held = s.tenant.share().used();
    // Ops still running hold their sessions until they finish; the tenant's own state goes now.
    tokio::task::block_in_place(|| drop(s));
    ctx.workers.forget(tenant_id);
    ctx.metrics.disconnected(tenant_id);
    tracing::info!(
        tenant = tenant_id,
        sessions,
        bytes = held,
        "tenant disconnected; its state released"
    );
}
