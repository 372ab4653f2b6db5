//! # vaccel-agent: the host side of remote vAccel
//!
//! Serves clients — VMs over vsock or a VMM's hybrid vsock socket, processes over Unix or
//! TCP — with the host's plugins. [`run`] takes its listeners and a shutdown signal from
//! the caller (so tests run a real agent on a temporary socket).
//!
//! * [`tenant`] — each connection's own namespace of sessions and resources, its limits,
//!   and the operator's rules (exec allow-list, uploaded code, model catalogue).
//! * [`conn`] — framing, handshake, in-order control messages, ops on the worker pool.
//! * [`pool`] — the worker threads that run plugin calls (spin briefly, then sleep).
//! * [`store`] — content-addressed blobs: one copy per distinct blob across tenants.
//! * [`metrics`] — Prometheus text on `--metrics`.

#![forbid(unsafe_code)]

pub mod config;
pub mod conn;
pub mod metrics;
pub mod pool;
pub mod store;
pub mod tenant;

pub use config::{AgentConfig, Limits};

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vaccel_transport::server::Listener;

/// A running agent's shared parts.
pub struct Agent {
    shared: Arc<tenant::Shared>,
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
            shared: Arc::new(tenant::Shared {
                rt,
                store: store::BlobStore::default(),
                config,
            }),
            ctx: Arc::new(ctx),
        })
    }

    /// Blobs held in the content-addressed store.
    pub fn live_blobs(&self) -> usize {
        self.shared.store.live()
    }

    /// The metrics text.
    pub fn metrics(&self) -> String {
        self.ctx.metrics.render()
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
        static NEXT_TENANT: AtomicU64 = AtomicU64::new(1);
        let mut tasks = tokio::task::JoinSet::new();
        for l in listeners {
            let (shared, ctx) = (self.shared.clone(), self.ctx.clone());
            tracing::info!(address = l.local(), "listening");
            tasks.spawn(async move {
                let mut conns = tokio::task::JoinSet::new();
                loop {
                    match l.accept().await {
                        Ok((c, peer)) => {
                            let id = NEXT_TENANT.fetch_add(1, Ordering::Relaxed);
                            conns.spawn(conn::serve(c, peer, id, shared.clone(), ctx.clone()));
                        }
                        Err(e) => {
                            tracing::warn!("accept on {} failed: {e}", l.local());
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                    }
                    while conns.try_join_next().is_some() {}
                }
            });
        }
        if let Some(m) = metrics {
            let ctx = self.ctx.clone();
            tracing::info!(address = ?m.local_addr().ok(), "metrics");
            tasks.spawn(async move {
                loop {
                    let Ok((mut s, _)) = m.accept().await else { continue };
                    let body = ctx.metrics.render();
                    tokio::spawn(async move {
                        let mut req = [0u8; 1024];
                        let _ = s.read(&mut req).await;
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = s.write_all(head.as_bytes()).await;
                        let _ = s.write_all(body.as_bytes()).await;
                    });
                }
            });
        }
        shutdown.await;
        tracing::info!("shutting down: closing connections");
        tasks.shutdown().await;
        Ok(())
    }
}
