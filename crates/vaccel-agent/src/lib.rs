//! # vaccel-agent: the host side of remote vAccel
//!
//! Serves clients — VMs over vsock or a VMM's hybrid vsock socket, processes over Unix or
//! TCP — with the host's plugins. [`run`] takes its listeners and a shutdown signal from
//! the caller (so tests run a real agent on a temporary socket).
//!
//! docs/SECURITY.md is the threat model: guests and remote clients are hostile, and every
//! limit below is there to keep one of them from hurting the host or the others.
//!
//! * [`slots`] — connection caps, in total and per peer, taken before a connection is served.
//! * [`conn`] — one connection's state machine: handshake, admission, reassembly, replies.
//! * [`tenant`] — each connection's own namespace of sessions and resources, and the
//!   operator's rules (exec allow-list, uploaded code, model catalogue).
//! * [`upload`] — offered resources and their blobs as they stream in.
//! * [`budget`] — the agent-wide memory budget and each tenant's share of it.
//! * [`pool`] — the worker threads that run plugin calls, fair across tenants.
//! * [`store`] — content-addressed blobs: one copy per distinct blob across tenants.
//! * [`metrics`] — Prometheus text on `--metrics`.

#![forbid(unsafe_code)]

pub mod budget;
pub mod config;
pub mod conn;
pub mod metrics;
pub mod pool;
pub mod slots;
pub mod store;
pub mod tenant;
pub mod upload;

pub use config::{AgentConfig, Limits};

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vaccel_transport::server::{Conn, Listener, Peer};

/// A running agent's shared parts (clones share them).
#[derive(Clone)]
pub struct Agent {
    shared: Arc<tenant::Shared>,
    slots: Arc<slots::Slots>,
    ctx: Arc<conn::Context>,
}

impl Agent {
    /// An agent with this runtime and configuration (its worker threads start now).
    ///
    /// # Errors
    /// The worker threads could not be started.
    pub fn new(rt: vaccel::Runtime, config: AgentConfig) -> std::io::Result<Agent> {
        let workers = if config.workers == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            config.workers
        };
        let spin = std::time::Duration::from_micros(config.worker_spin_us.unwrap_or(100));
        let ctx = conn::Context {
            metrics: metrics::Metrics::default(),
            workers: pool::Pool::new(workers, spin)?,
            server: format!("vaccel-agent {}", env!("CARGO_PKG_VERSION")),
        };
        Ok(Agent {
            slots: slots::Slots::new(
                config.limits.connections,
                config.limits.connections_per_peer,
            ),
            shared: Arc::new(tenant::Shared::new(rt, config)),
            ctx: Arc::new(ctx),
        })
    }

    /// Blobs held in the content-addressed store.
    pub fn live_blobs(&self) -> usize {
        self.shared.store.live()
    }

    /// Bytes charged to the agent's memory budget now.
    pub fn memory_used(&self) -> u64 {
        self.shared.budget.used()
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.slots.open()
    }

    /// The metrics text.
    pub fn metrics(&self) -> String {
        self.ctx.metrics.render()
    }

    /// Take a connection (from a listener, or any stream: an in-memory pipe in tests and
    /// fuzzing) from `peer`: the future that serves it until it closes, or `None` when a
    /// connection cap refused it (it was told why and closed).
    pub fn connection(
        &self,
        c: Box<dyn Conn>,
        peer: Peer,
    ) -> Option<impl Future<Output = ()> + Send + 'static> {
        static NEXT_TENANT: AtomicU64 = AtomicU64::new(1);
        match self.slots.take(&peer.key) {
            Ok(slot) => {
                let id = NEXT_TENANT.fetch_add(1, Ordering::Relaxed);
                let serve = conn::serve(c, peer, id, self.shared.clone(), self.ctx.clone());
                Some(async move {
                    serve.await;
                    drop(slot);
                })
            }
            Err(why) => {
                self.ctx.metrics.refused();
                tracing::warn!(peer = peer.addr, "connection refused: {why}");
                slots::refuse(c, why);
                None
            }
        }
    }

    /// Serve `listeners` (and metrics on `metrics`, if given) until `shutdown` completes;
    /// then stop accepting and close every connection, releasing their state.
    ///
    /// # Errors
    /// An accept loop's fatal error.
    pub async fn run(
        &self,
        listeners: Vec<Listener>,
        metrics: Option<tokio::net::TcpListener>,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let mut tasks = tokio::task::JoinSet::new();
        for l in listeners {
            let agent = self.clone();
            tracing::info!(address = l.local(), "listening");
            tasks.spawn(async move {
                let mut conns = tokio::task::JoinSet::new();
                let mut backoff = Backoff::default();
                loop {
                    match l.accept().await {
                        Ok((c, peer)) => {
                            backoff.reset();
                            if let Some(serve) = agent.connection(c, peer) {
                                conns.spawn(serve);
                            }
                        }
                        Err(e) => {
                            // Out of descriptors (EMFILE) and the like: wait, then retry.
                            tracing::warn!("accept on {} failed: {e}", l.local());
                            backoff.wait().await;
                        }
                    }
                    while conns.try_join_next().is_some() {}
                }
            });
        }
        if let Some(m) = metrics {
            let ctx = self.ctx.clone();
            tracing::info!(address = ?m.local_addr().ok(), "metrics");
            tasks.spawn(serve_metrics(m, ctx));
        }
        shutdown.await;
        tracing::info!("shutting down: closing connections");
        tasks.shutdown().await;
        Ok(())
    }
}

/// Waits between failed accepts: 10 ms, doubling up to 1 s, so a listener out of
/// descriptors neither spins nor stays away long once one is free.
#[derive(Default)]
struct Backoff(u32);

impl Backoff {
    fn reset(&mut self) {
        self.0 = 0;
    }

    async fn wait(&mut self) {
        let ms = (10u64 << self.0.min(7)).min(1000);
        self.0 += 1;
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// Metrics connections served at once; more wait to be accepted.
const METRICS_CONNECTIONS: usize = 8;
/// How long a metrics client has to send its request.
const METRICS_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a metrics client has, in all, to send its request and take the answer.
const METRICS_TIMEOUT: Duration = Duration::from_secs(5);

/// Serve Prometheus text to anyone who connects: one answer per connection, then close;
/// at most [`METRICS_CONNECTIONS`] at once (more wait in the listen queue), each closed
/// when it sends no request within [`METRICS_REQUEST_TIMEOUT`] or is not done within
/// [`METRICS_TIMEOUT`].
async fn serve_metrics(m: tokio::net::TcpListener, ctx: Arc<conn::Context>) {
    let permits = Arc::new(tokio::sync::Semaphore::new(METRICS_CONNECTIONS));
    let mut backoff = Backoff::default();
    loop {
        let permit = permits.clone().acquire_owned().await.expect("never closed");
        let mut s = match m.accept().await {
            Ok((s, _)) => {
                backoff.reset();
                s
            }
            Err(e) => {
                tracing::warn!("metrics accept failed: {e}");
                backoff.wait().await;
                continue;
            }
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(METRICS_TIMEOUT, async {
                let mut req = [0u8; 1024];
                if !matches!(
                    tokio::time::timeout(METRICS_REQUEST_TIMEOUT, s.read(&mut req)).await,
                    Ok(Ok(n)) if n > 0
                ) {
                    return;
                }
                let body = ctx.metrics.render();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(body.as_bytes()).await;
            })
            .await;
            drop(permit);
        });
    }
}
