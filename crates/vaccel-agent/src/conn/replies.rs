//! The one way a reply leaves a connection: [`Replies::respond`] (from the connection's
//! reader task) and [`Replies::respond_from_worker`] (from the worker that ran an op). Both
//! encode the reply, charge its bytes to the request's [`Ticket`], count it in the metrics
//! and write it whole; the ticket — the request's in-flight permit and its memory — is
//! given back only once the reply is written (or the peer is gone).
//!
//! So a client that stops reading its replies soon holds every in-flight permit, and its
//! connection is not read from again until it reads: backpressure, not buffering.

use super::Context;
use crate::budget::Charge;
use crate::tenant::Failure;
use std::sync::Arc;
use tokio::io::{AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::sync::{Mutex, OwnedSemaphorePermit};
use vaccel_proto::{Message, frame};
use vaccel_transport::server::Conn;
use vaccel_ttrpc::pb::google::rpc::Status;

/// A reply in the connection's protocol.
#[derive(Clone, Copy)]
enum Reply<'a> {
    /// Ours: the reply message to request `id`.
    Native { id: u64, msg: &'a Message },
    /// ttrpc: the reply message's bytes, or a failed status, on stream `stream`.
    Ttrpc {
        stream: u32,
        result: &'a Result<bytes::Bytes, Status>,
    },
}

impl Reply<'_> {
    /// Its frames, and whether it says something failed.
    fn encode(self, max_frame: usize) -> (Vec<u8>, bool) {
        match self {
            Reply::Native { id, msg } => (
                frame::encode_frames(msg.kind() as u16, id, &msg.encode(), max_frame),
                matches!(msg, Message::Error { .. }),
            ),
            Reply::Ttrpc { stream, result } => (
                vaccel_ttrpc::framing::response(stream, result.clone()),
                result.is_err(),
            ),
        }
    }

    /// In its place, the reply saying `failure` (its own reply could not be paid for).
    fn failed(self, failure: Failure, max_frame: usize) -> Vec<u8> {
        match self {
            Reply::Native { id, .. } => {
                Reply::Native {
                    id,
                    msg: &failure.into_message(),
                }
                .encode(max_frame)
                .0
            }
            Reply::Ttrpc { stream, .. } => vaccel_ttrpc::framing::response(
                stream,
                Err(vaccel_ttrpc::status::vaccel_error(
                    failure.code,
                    failure.message,
                )),
            ),
        }
    }
}

/// An admitted request's hold on the connection: its in-flight permit and the memory
/// charged for it (body, decoded arguments, and in the end its reply).
pub struct Ticket {
    /// Declared before the permit, so it is refunded first: once every permit is back,
    /// every charge is too (fields drop in order).
    pub(super) charge: Charge,
    pub(super) _permit: OwnedSemaphorePermit,
    /// Bytes the request took on the wire (for the metrics).
    pub(super) bytes_in: usize,
}

/// The connection's write side, shared by the reader task and the workers.
#[derive(Clone)]
pub struct Replies {
    half: Arc<Mutex<WriteHalf<Box<dyn Conn>>>>,
    /// Set when a reply could not be written in time: the connection is to close.
    stalled: Arc<tokio::sync::watch::Sender<bool>>,
    write_timeout: std::time::Duration,
    runtime: tokio::runtime::Handle,
    ctx: Arc<Context>,
    tenant: u64,
    max_frame: usize,
}

impl Replies {
    /// The reply path of connection `tenant`.
    pub fn new(
        half: WriteHalf<Box<dyn Conn>>,
        ctx: Arc<Context>,
        tenant: u64,
        write_timeout: std::time::Duration,
    ) -> Self {
        Replies {
            half: Arc::new(Mutex::new(half)),
            stalled: Arc::new(tokio::sync::watch::channel(false).0),
            write_timeout,
            runtime: tokio::runtime::Handle::current(),
            ctx,
            tenant,
            max_frame: vaccel_proto::DEFAULT_MAX_FRAME,
        }
    }

    /// Frame replies in frames of at most `max_frame` bytes (agreed at the handshake).
    pub fn set_max_frame(&mut self, max_frame: usize) {
        self.max_frame = max_frame;
    }

    /// Resolves once a reply could not be written within the write timeout.
    pub fn stalled(&self) -> impl std::future::Future<Output = ()> + use<> {
        let mut rx = self.stalled.subscribe();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    }

    /// Write `bytes` (the rest of a reply) unless the peer takes longer than the write
    /// timeout; then the connection is marked stalled.
    async fn write(
        half: &mut WriteHalf<Box<dyn Conn>>,
        bytes: &[u8],
        timeout: std::time::Duration,
        stalled: &tokio::sync::watch::Sender<bool>,
    ) {
        if *stalled.borrow() {
            // Part of an earlier reply is still unwritten: nothing more can follow it.
            return;
        }
        // A failed write means the peer is gone, which the reader sees too.
        if tokio::time::timeout(timeout, half.write_all(bytes))
            .await
            .is_err()
        {
            stalled.send_replace(true);
        }
    }

    /// Encode `reply`, charge it to the request and count it.
    fn encode(&self, reply: Reply<'_>, ticket: Option<&mut Ticket>) -> Vec<u8> {
        let (mut out, mut error) = reply.encode(self.max_frame);
        let bytes_in = ticket.as_ref().map_or(0, |t| t.bytes_in);
        if let Some(t) = ticket
            && let Err(f) = t.charge.grow(out.len() as u64, "the reply")
        {
            out = reply.failed(f, self.max_frame);
            error = true;
        }
        self.ctx
            .metrics
            .request(self.tenant, bytes_in, out.len(), error);
        out
    }

    /// Answer request `id` (`ticket` is `None` for what was never admitted: a refused
    /// handshake, broken framing). Waits while the socket is full.
    pub async fn respond(&self, id: u64, msg: &Message, ticket: Option<Ticket>) {
        self.deliver(Reply::Native { id, msg }, ticket).await;
    }

    /// Answer ttrpc stream `stream` with a reply message or a failed status.
    pub async fn respond_ttrpc(
        &self,
        stream: u32,
        result: Result<bytes::Bytes, Status>,
        ticket: Option<Ticket>,
    ) {
        self.deliver(
            Reply::Ttrpc {
                stream,
                result: &result,
            },
            ticket,
        )
        .await;
    }

    async fn deliver(&self, reply: Reply<'_>, mut ticket: Option<Ticket>) {
        let bytes = self.encode(reply, ticket.as_mut());
        let mut half = self.half.lock().await;
        Self::write(&mut half, &bytes, self.write_timeout, &self.stalled).await;
        drop(ticket);
    }

    /// From a worker thread: write now what the socket takes without waiting, and leave
    /// the rest (or the whole reply, if another reply is being written) to a task. A
    /// worker never waits for a slow reader; the ticket goes with the unwritten bytes.
    pub fn respond_from_worker(&self, id: u64, msg: &Message, ticket: Ticket) {
        self.deliver_from_worker(Reply::Native { id, msg }, ticket);
    }

    /// [`respond_ttrpc`](Self::respond_ttrpc) from a worker thread (as
    /// [`respond_from_worker`](Self::respond_from_worker)).
    pub fn respond_ttrpc_from_worker(
        &self,
        stream: u32,
        result: Result<bytes::Bytes, Status>,
        ticket: Ticket,
    ) {
        self.deliver_from_worker(
            Reply::Ttrpc {
                stream,
                result: &result,
            },
            ticket,
        );
    }

    fn deliver_from_worker(&self, reply: Reply<'_>, mut ticket: Ticket) {
        let bytes = self.encode(reply, Some(&mut ticket));
        let (timeout, stalled) = (self.write_timeout, self.stalled.clone());
        let Ok(mut half) = self.half.clone().try_lock_owned() else {
            let half = self.half.clone();
            self.runtime.spawn(async move {
                Self::write(&mut *half.lock().await, &bytes, timeout, &stalled).await;
                drop(ticket);
            });
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
                Self::write(&mut half, &bytes[done..], timeout, &stalled).await;
                drop(ticket);
            });
        }
    }

    /// Close the write side.
    pub async fn close(&self) {
        let _ = self.half.lock().await.shutdown().await;
    }
}
