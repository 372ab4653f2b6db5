//! One connection: read frames, reassemble messages, answer the handshake, then serve
//! requests. Control messages are handled in order; ops run on the worker pool (never on
//! the I/O threads), whose threads write their replies as they finish, in any order.

use crate::metrics::Metrics;
use crate::tenant::{BlobSink, Failure, Shared, Tenant};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::sync::{Mutex, Semaphore};
use vaccel_proto::{
    BlobUploadHead, FLAG_MORE, Kind, Message, OpMessage, PROTO_MAJOR, PROTO_MINOR, Reassembler,
    frame,
};
use vaccel_transport::server::Conn;

/// What connections share besides the runtime.
pub struct Context {
    /// Metrics.
    pub metrics: Metrics,
    /// The threads that run plugin calls, across tenants.
    pub workers: crate::pool::Pool,
    /// Agent name and version for the handshake.
    pub server: String,
}

/// How much room to make before the next read: the rest of a partly received frame (so a
/// large frame arrives in a few large reads), at least 16 KiB.
fn frame_room(buf: &[u8], max_frame: usize) -> usize {
    let rest = buf.first_chunk::<{ frame::HEADER_LEN }>().map_or(0, |h| {
        let len = (frame::Header::decode(h).len as usize).min(max_frame);
        (frame::HEADER_LEN + len).saturating_sub(buf.len())
    });
    rest.max(16 * 1024)
}

/// `BlobUpload` messages being received, by request id. Their frames bypass reassembly:
/// the head is parsed from the first bytes, then every frame's bytes are written into the
/// blob's final buffer (allocated once, at the size the tenant offered and was charged).
#[derive(Default)]
struct BlobStreams(std::collections::HashMap<u64, BlobStream>);

enum BlobStream {
    Head(Vec<u8>),
    Body(BlobSink),
    Failed(Failure),
}

impl BlobStreams {
    /// Blob uploads one connection may have in progress at once.
    const MAX: usize = 64;

    /// Take one frame; the outcome once its message's last frame has arrived.
    fn feed(
        &mut self,
        tenant: &mut Tenant,
        h: frame::Header,
        payload: &[u8],
    ) -> Option<Result<Message, Failure>> {
        let more = h.flags & FLAG_MORE != 0;
        if !self.0.contains_key(&h.id) && self.0.len() >= Self::MAX {
            return (!more).then(|| {
                Err(Failure::new(
                    code::EINVAL,
                    format!("more than {} blob uploads in progress", Self::MAX),
                ))
            });
        }
        let stream = self
            .0
            .entry(h.id)
            .or_insert_with(|| BlobStream::Head(Vec::new()));
        let mut data = payload;
        if let BlobStream::Head(head) = stream {
            let take = (BlobUploadHead::LEN - head.len()).min(data.len());
            head.extend_from_slice(&data[..take]);
            data = &data[take..];
            if head.len() == BlobUploadHead::LEN {
                let begun = BlobUploadHead::decode(head)
                    .map_err(|e| Failure::new(code::EINVAL, e.to_string()))
                    .and_then(|hd| tenant.begin_blob(hd.upload, hd.index, hd.len));
                *stream = match begun {
                    Ok(sink) => BlobStream::Body(sink),
                    Err(f) => BlobStream::Failed(f),
                };
            }
        }
        if let BlobStream::Body(sink) = stream {
            sink.write(data);
        }
        if more {
            return None;
        }
        Some(match self.0.remove(&h.id)? {
            BlobStream::Head(_) => Err(Failure::new(
                code::EINVAL,
                "BlobUpload message shorter than its head",
            )),
            // Hashing the blob is the only slow part: off the I/O thread.
            BlobStream::Body(sink) => tokio::task::block_in_place(|| tenant.finish_blob(sink)),
            BlobStream::Failed(f) => Err(f),
        })
    }
}

/// The connection's write side, shared by the reader task and the workers: each reply is
/// written whole (all its frames, under the lock) by whoever produced it.
#[derive(Clone)]
struct Replies {
    half: Arc<Mutex<WriteHalf<Box<dyn Conn>>>>,
    runtime: tokio::runtime::Handle,
}

impl Replies {
    /// Write one reply; a failed write means the peer is gone, which the reader sees too.
    async fn send(&self, bytes: Vec<u8>) {
        let _ = self.half.lock().await.write_all(&bytes).await;
    }

    /// From a worker thread: write now what the socket takes without waiting, and leave
    /// the rest (or the whole reply, if another reply is being written) to an async task.
    /// A worker never waits for a slow reader.
    fn send_from_worker(&self, bytes: Vec<u8>) {
        let Ok(mut half) = self.half.clone().try_lock_owned() else {
            let me = self.clone();
            self.runtime.spawn(async move { me.send(bytes).await });
            return;
        };
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut done = 0;
        while done < bytes.len() {
            match std::pin::Pin::new(&mut *half).poll_write(&mut cx, &bytes[done..]) {
                std::task::Poll::Ready(Ok(0) | Err(_)) => return,
                std::task::Poll::Ready(Ok(n)) => done += n,
                std::task::Poll::Pending => break,
            }
        }
        if done < bytes.len() {
            // Still holding the lock: the rest goes out before any other reply.
            self.runtime.spawn(async move {
                let _ = half.write_all(&bytes[done..]).await;
            });
        }
    }

    async fn close(&self) {
        let _ = self.half.lock().await.shutdown().await;
    }
}

impl Context {
    /// Encode the answer to request `id` and count it in the tenant's metrics.
    fn answer(
        &self,
        tenant: u64,
        id: u64,
        bytes_in: usize,
        msg: &Message,
        max_frame: usize,
    ) -> Vec<u8> {
        let out = reply(id, msg, max_frame);
        self.metrics.request(
            tenant,
            bytes_in,
            out.len(),
            matches!(msg, Message::Error { .. }),
        );
        out
    }
}

fn reply(id: u64, msg: &Message, max_frame: usize) -> Vec<u8> {
    frame::encode_frames(msg.kind() as u16, id, &msg.encode(), max_frame)
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

fn handshake(msg: &Message, shared: &Shared, ctx: &Context) -> Result<Message, Message> {
    let Message::Hello {
        major,
        minor,
        token,
        ..
    } = msg
    else {
        return Err(error(
            code::EPROTO_HANDSHAKE,
            "the first message must be Hello",
        ));
    };
    if *major != PROTO_MAJOR {
        return Err(error(
            code::EPROTO_HANDSHAKE,
            format!(
                "protocol {major}.{minor} is incompatible with the agent's {PROTO_MAJOR}.{PROTO_MINOR}"
            ),
        ));
    }
    if let Some(want) = &shared.config.token
        && !constant_time_eq(want, token)
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

mod code {
    pub use vaccel::code::*;
    /// Handshake failures are protocol errors.
    pub const EPROTO_HANDSHAKE: i32 = EBACKEND;
}

/// A decoded request: an op (decoded in place) or any other message.
enum Incoming {
    Op(OpMessage),
    Other(Message),
}

/// Serve one connection until it closes (or is refused). Everything the tenant held is
/// released when this returns.
pub async fn serve(
    conn: Box<dyn Conn>,
    peer: String,
    tenant_id: u64,
    shared: Arc<Shared>,
    ctx: Arc<Context>,
) {
    let limits = shared.config.limits.clone();
    let (mut rd, wr) = tokio::io::split(conn);
    let tx = Replies {
        half: Arc::new(Mutex::new(wr)),
        runtime: tokio::runtime::Handle::current(),
    };
    ctx.metrics.connected(tenant_id, &peer);
    tracing::info!(tenant = tenant_id, peer, "tenant connected");

    let mut tenant = Tenant::new(shared.clone());
    let in_flight = Arc::new(Semaphore::new(limits.in_flight));
    let mut reassembler = Reassembler::new(limits.max_message);
    // Small per-connection buffers: idle tenants should cost next to nothing.
    let mut buf: Vec<u8> = Vec::new();
    let mut greeted = false;
    let mut blobs = BlobStreams::default();
    'conn: loop {
        // Read straight into the buffer, with room for the rest of a large frame.
        buf.reserve(frame_room(&buf, limits.max_frame));
        let n = match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut at = 0;
        loop {
            let total = match frame::check(&buf[at..], limits.max_frame) {
                Ok(Some(t)) => t,
                Ok(None) => break,
                Err(e) => {
                    // Framing is broken: nothing after this can be trusted. Say why, close.
                    tracing::warn!(tenant = tenant_id, "closing connection: {e}");
                    tx.send(reply(
                        0,
                        &error(code::EINVAL, e.to_string()),
                        limits.max_frame,
                    ))
                    .await;
                    break 'conn;
                }
            };
            let (h, payload) = frame::parse(&buf[at..]);
            at += total;
            if greeted && h.kind == Kind::BlobUpload as u16 {
                // Blob bytes go straight into the blob's buffer, frame by frame.
                let Some(result) = blobs.feed(&mut tenant, h, payload) else {
                    continue;
                };
                let answer = result.unwrap_or_else(|f| error(f.code, f.message));
                tx.send(ctx.answer(tenant_id, h.id, 0, &answer, limits.max_frame))
                    .await;
                continue;
            }
            let (kind, id, body) = match reassembler.push(h, payload) {
                Ok(Some(m)) => m,
                Ok(None) => continue,
                Err(e) => {
                    ctx.metrics.refused();
                    tx.send(reply(
                        h.id,
                        &error(code::EINVAL, e.to_string()),
                        limits.max_frame,
                    ))
                    .await;
                    continue;
                }
            };
            let bytes_in = body.len();
            // Ops are decoded in place: their inputs stay in the received body.
            let decoded = if greeted && kind == Kind::Op as u16 {
                OpMessage::decode(body).map(Incoming::Op)
            } else {
                Message::decode(kind, &body).map(Incoming::Other)
            };
            let msg = match decoded {
                Ok(m) => m,
                Err(e) => {
                    ctx.metrics.request(tenant_id, bytes_in, 0, true);
                    tx.send(reply(
                        id,
                        &error(code::EINVAL, e.to_string()),
                        limits.max_frame,
                    ))
                    .await;
                    continue;
                }
            };
            let msg = match msg {
                Incoming::Other(hello) if !greeted => match handshake(&hello, &shared, &ctx) {
                    Ok(ok) => {
                        greeted = true;
                        tx.send(reply(id, &ok, limits.max_frame)).await;
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(tenant = tenant_id, peer, "handshake refused: {e:?}");
                        tx.send(reply(id, &e, limits.max_frame)).await;
                        break 'conn;
                    }
                },
                m => m,
            };
            if let Err(f) = tenant.admit() {
                ctx.metrics.refused();
                tx.send(reply(id, &error(f.code, f.message), limits.max_frame))
                    .await;
                continue;
            }
            match msg {
                Incoming::Op(op_msg) => {
                    let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                        ctx.metrics.refused();
                        let m = error(
                            code::EAGAIN,
                            format!(
                                "{} requests already in flight (the limit)",
                                limits.in_flight
                            ),
                        );
                        tx.send(reply(id, &m, limits.max_frame)).await;
                        continue;
                    };
                    // Cheap bookkeeping (ids, policy): no plugin code runs here.
                    let op = op_msg.op;
                    let prepared = match tenant.prepare_op(op_msg) {
                        Ok(p) => p,
                        Err(Failure { code, message }) => {
                            ctx.metrics.request(tenant_id, bytes_in, 0, true);
                            tx.send(reply(id, &error(code, message), limits.max_frame))
                                .await;
                            continue;
                        }
                    };
                    let (tx, job_ctx, max_frame) = (tx.clone(), ctx.clone(), limits.max_frame);
                    let op_name = vaccel::OpType::from_raw(op).map_or("unknown", |o| o.name());
                    // The op runs on a worker thread, which writes the reply itself: one
                    // thread hand-off per request, none on the way back.
                    ctx.workers.submit(Box::new(move || {
                        let _permit = permit;
                        let ctx = job_ctx;
                        let t0 = Instant::now();
                        let msg = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            prepared.run()
                        }))
                        .unwrap_or_else(|_| error(code::EBACKEND, "the op's worker failed"));
                        ctx.metrics.op(op_name, t0.elapsed().as_secs_f64() * 1e3);
                        tx.send_from_worker(ctx.answer(tenant_id, id, bytes_in, &msg, max_frame));
                    }));
                }
                Incoming::Other(other) => {
                    let answer = tokio::task::block_in_place(|| tenant.handle(other));
                    tx.send(ctx.answer(tenant_id, id, bytes_in, &answer, limits.max_frame))
                        .await;
                }
            }
        }
        buf.drain(..at);
        if buf.is_empty() && buf.capacity() > 64 * 1024 && n < 16 * 1024 {
            // Traffic is light again: an idle tenant keeps no large buffer.
            buf = Vec::new();
        }
    }
    // Wait for the ops still running (each holds an in-flight permit), then close.
    let _ = in_flight.acquire_many(limits.in_flight as u32).await;
    tx.close().await;
    let sessions = tenant.nr_sessions();
    let held = tenant.bytes_held();
    // Ops still running hold their sessions until they finish; the tenant's own state goes now.
    tokio::task::block_in_place(|| drop(tenant));
    ctx.metrics.disconnected(tenant_id);
    tracing::info!(
        tenant = tenant_id,
        sessions,
        bytes = held,
        "tenant disconnected; its state released"
    );
}
