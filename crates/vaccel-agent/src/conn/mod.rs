//! One connection, as a state machine:
//!
//! ```text
//!   accept ──▶ Detecting ──ttrpc header──────────────▶ Serving ──EOF / broken framing / timeout──▶ Draining ──▶ closed
//!                  │  └──▶ AwaitingHello ──Hello ok──▶    ▲
//!                  │           │ bad Hello, other message, deadline passed
//!                  └───────────┴───────────── Error reply ───────────────────────────────────────┘
//! ```
//!
//! * **Detecting** — the first 10 bytes say which protocol the client speaks: a ttrpc
//!   request header (upstream's guests: [`ttrpc`]) or our `Hello` ([`native`]); see
//!   [`vaccel_ttrpc::framing::is_ttrpc`] and docs/PROTOCOL.md. They must arrive before the
//!   handshake deadline. No flag, no second port: every listener serves both.
//! * **AwaitingHello** (ours) — the connection holds at most one small frame
//!   ([`PRE_HELLO_FRAME`](crate::config::PRE_HELLO_FRAME) bytes, no multi-frame messages) and must say a valid Hello
//!   (with the token, where one is set) before the handshake deadline. Anything else gets
//!   one `Error` reply and the connection closes. ttrpc has no handshake: its first request
//!   is served (or refused, where the operator set a token, which ttrpc cannot present).
//! * **Serving** — frames are read ([`reader`]) apart from being handled (by the
//!   protocol's [`Protocol`]). The first frame of every request passes *admission*
//!   ([`Served::admit`]): it takes an in-flight permit (waiting for one — so a client with
//!   too much outstanding is simply not read from), then the rate limit. Its memory (the
//!   body, its decoded arguments, its reply) is charged to the tenant's share before it is
//!   allocated. Control requests are handled in order on this task; ops run on the worker
//!   pool, fairly across tenants. Broken framing closes the connection; a bad message body
//!   fails that request.
//! * **Draining** — partial messages are dropped, running ops finish and their replies are
//!   written, then everything the tenant held is released.
//!
//! Every reply, an error or not, leaves through [`replies::Replies`], which charges and
//! counts it, and gives the request's permit back only once the reply is written.

mod native;
mod reader;
mod replies;
mod ttrpc;

use crate::config::Limits;
use crate::metrics::Metrics;
use crate::tenant::{Failure, Shared, Tenant};
use reader::{FrameReader, Framing, Native, ReadError};
use replies::{Replies, Ticket};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::timeout_at;
use vaccel::code;
use vaccel_proto::Message;
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

/// Frames a connection handles before it lets the other connections' tasks run.
const TURN_FRAMES: u64 = 16;

/// What a request's decoded arguments are charged as.
const ARGS_CHARGE: &str = "the op's arguments";

/// Handshake failures are protocol errors.
const EPROTO_HANDSHAKE: i32 = code::EBACKEND;

/// Whether to go on reading.
enum Flow {
    Continue,
    Close,
}

/// A connection being served, whichever its protocol: the tenant and what admission and
/// replies need.
struct Served {
    tenant_id: u64,
    tenant: Tenant,
    shared: Arc<Shared>,
    ctx: Arc<Context>,
    replies: Replies,
    in_flight: Arc<Semaphore>,
}

impl Served {
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

    /// Whether nothing is in flight (no partial request, no op, no unwritten reply).
    fn idle(&self) -> bool {
        self.in_flight.available_permits() == self.limits().in_flight
    }
}

/// One protocol's handling of a served connection's frames.
trait Protocol {
    /// Its frames.
    type Framing: Framing;
    /// The connection's common state.
    fn served(&mut self) -> &mut Served;
    /// Largest frame payload to read.
    fn frame_limit(&self) -> usize;
    /// Handle one frame.
    async fn frame(&mut self, h: <Self::Framing as Framing>::Header, payload: &[u8]) -> Flow;
    /// The framing broke (or the next frame cannot be paid for): say why, before closing.
    async fn broken(&mut self, e: ReadError);
    /// Drop requests still being received (the connection is closing).
    fn drop_partial(&mut self);
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
    let mut frames = FrameReader::<Native>::new(rd, share.empty());
    ctx.metrics.connected(tenant_id, &peer.addr);
    tracing::debug!(tenant = tenant_id, peer = peer.addr, "connected");

    // Detecting, then AwaitingHello: before the deadline.
    let deadline = tokio::time::Instant::now() + limits.handshake_timeout;
    let ttrpc = match timeout_at(deadline, frames.peek(vaccel_ttrpc::framing::HEADER_LEN)).await {
        Ok(Ok(Some(first))) => vaccel_ttrpc::framing::is_ttrpc(first) == Some(true),
        // Too few bytes, or none in time: our handshake says why.
        _ => false,
    };
    let hello = if ttrpc {
        Ok(None)
    } else {
        native::handshake(&mut frames, deadline, &shared, &ctx)
            .await
            .map(Some)
    };
    let ok = match hello {
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
    if let Some((id, ok)) = &ok {
        replies.respond(*id, ok, None).await;
        replies.set_max_frame(limits.max_frame);
    }
    ctx.workers.join(tenant_id, &peer.key);
    ctx.metrics
        .protocol(tenant_id, if ttrpc { "ttrpc" } else { "vaccel" });
    tracing::info!(
        tenant = tenant_id,
        peer = peer.addr,
        protocol = if ttrpc { "ttrpc" } else { "vaccel" },
        "tenant connected"
    );

    let served = Served {
        tenant_id,
        tenant: Tenant::new(shared.clone(), share),
        shared,
        ctx: ctx.clone(),
        replies: replies.clone(),
        in_flight: Arc::new(Semaphore::new(limits.in_flight)),
    };
    if ttrpc {
        let p = ttrpc::Upstream::new(served);
        serve_frames(frames.into_framing(), p, &limits).await;
    } else {
        serve_frames(frames, native::Serving::new(served), &limits).await;
    }
}

/// Serving, then Draining: frames until the peer closes, the framing breaks, a reply
/// stalls or the connection idles out; then the tenant's state is released.
async fn serve_frames<P: Protocol>(mut frames: FrameReader<P::Framing>, mut p: P, limits: &Limits) {
    let s = p.served();
    let (tenant_id, ctx) = (s.tenant_id, s.ctx.clone());
    let stalled = s.replies.stalled();
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
    let max_frame = p.frame_limit();
    loop {
        let next = tokio::select! {
            () = &mut stalled => {
                tracing::warn!(tenant = tenant_id, "closing: a reply was not read within {:?}", limits.write_timeout);
                break;
            }
            () = &mut idle => {
                let quiet_since = last_frame.elapsed();
                if quiet_since >= idle_for && p.served().idle() {
                    tracing::info!(tenant = tenant_id, "closing: idle for {quiet_since:?}");
                    break;
                }
                // Frames came meanwhile, or something is in flight: look again later.
                idle.as_mut().reset(tokio::time::Instant::now() + (idle_for - quiet_since.min(idle_for)).max(idle_for / 8));
                continue;
            }
            next = frames.next(max_frame) => next,
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
                    flow = p.frame(h, frames.payload(at)) => flow,
                };
                if let Flow::Close = flow {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(tenant = tenant_id, "closing connection: {e:?}");
                p.broken(e).await;
                break;
            }
        }
    }

    // Draining: partial requests go now; running ops finish and answer (or find the peer
    // gone); then the tenant's state is released.
    drop(frames);
    p.drop_partial();
    let s = p.served();
    let _ = s.in_flight.acquire_many(limits.in_flight as u32).await;
    s.replies.close().await;
    let sessions = s.tenant.nr_sessions();
    let held = s.tenant.share().used();
    // Ops still running hold their sessions until they finish; the tenant's own state goes now.
    tokio::task::block_in_place(|| drop(p));
    ctx.workers.forget(tenant_id);
    ctx.metrics.disconnected(tenant_id);
    tracing::info!(
        tenant = tenant_id,
        sessions,
        bytes = held,
        "tenant disconnected; its state released"
    );
}
