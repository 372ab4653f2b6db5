//! `vaccel-agent`: serve vAccel to VMs and remote clients with this host's plugins.

#![forbid(unsafe_code)]

use anyhow::{Context, Result};
use clap::Parser;
use std::time::Duration;
use vaccel_agent::config::parse_bytes;
use vaccel_agent::{Agent, AgentConfig};
use vaccel_transport::Address;
use vaccel_transport::server::Listener;

#[derive(Parser)]
#[command(
    name = "vaccel-agent",
    version,
    about = "Serve vAccel to VMs and remote clients"
)]
struct Cli {
    /// Address to listen on (unix:///path, tcp://host:port, vsock://cid:port,
    /// hvsock:///uds:port); repeat for more.
    #[arg(short = 'a', long = "address")]
    addresses: Vec<String>,
    /// A VM: NAME=UDS_PATH serves the VMM's hybrid vsock on UDS_PATH_2048.
    #[arg(long = "vm", value_name = "NAME=UDS_PATH")]
    vms: Vec<String>,
    /// Allow guests to exec LIBRARY:SYMBOL (repeat); nothing else runs.
    #[arg(long = "allow-exec", value_name = "LIBRARY:SYMBOL")]
    allow_exec: Vec<String>,
    /// Allow exec_with_resource to run libraries guests upload.
    #[arg(long)]
    allow_uploaded_code: bool,
    /// A host directory whose files upstream (ttrpc) guests may name as resource paths
    /// (repeat); without it, guests' paths are refused. URLs are never fetched.
    #[arg(long = "allow-guest-paths", value_name = "DIR")]
    guest_paths: Vec<std::path::PathBuf>,
    /// A host model guests may use by name (repeat).
    #[arg(long = "model", value_name = "NAME=PATH")]
    models: Vec<String>,
    /// A shared token clients must present (for TCP).
    #[arg(long, env = "VACCEL_AGENT_TOKEN")]
    token: Option<String>,
    /// Serve Prometheus metrics on host:port.
    #[arg(long)]
    metrics: Option<String>,
    /// Worker threads for plugin calls (default: number of CPUs), plus one express
    /// worker that takes only short calls.
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// How long an idle worker watches for new work before sleeping, in µs (0: sleep at
    /// once). Spinning saves the wake-up (several µs) on back-to-back small calls.
    #[arg(long, default_value_t = 100)]
    worker_spin_us: u64,
    /// Requests in flight per connection (replies not yet written included); a client
    /// with this many is not read from until one is answered.
    #[arg(long, default_value_t = 64)]
    max_in_flight: usize,
    /// Sessions per connection.
    #[arg(long, default_value_t = 256)]
    max_sessions: usize,
    /// Resource uploads in progress per connection.
    #[arg(long, default_value_t = 64)]
    max_uploads: usize,
    /// Memory one connection may make the agent hold: read buffer, requests, replies,
    /// resources (bytes; K, M, G suffixes).
    #[arg(long, default_value = "2G", value_parser = parse_bytes)]
    tenant_memory: u64,
    /// Memory one peer's connections together may make the agent hold: a vsock CID, a Unix
    /// peer process, a TCP address (bytes; K, M, G suffixes).
    #[arg(long, default_value = "4G", value_parser = parse_bytes)]
    peer_memory: u64,
    /// Memory all connections together may make the agent hold (default: half the host's).
    #[arg(long, value_parser = parse_bytes)]
    memory_budget: Option<u64>,
    /// Largest request reassembled from frames, and largest ttrpc message (bytes; blobs
    /// stream and are not limited by this). 1G: what upstream's guests may send.
    #[arg(long, default_value = "1G", value_parser = parse_bytes)]
    max_message: u64,
    /// Requests per second per connection.
    #[arg(long, default_value_t = 50_000.0)]
    rate: f64,
    /// Requests a connection may send in a burst above the rate.
    #[arg(long, default_value_t = 5_000.0)]
    burst: f64,
    /// Connections in all (default: what the file-descriptor limit leaves room for, at
    /// most 4096).
    #[arg(long)]
    max_connections: Option<usize>,
    /// Connections from one peer: a vsock CID, a Unix peer process, a TCP address.
    #[arg(long, default_value_t = 256)]
    max_connections_per_peer: usize,
    /// Seconds a new connection has to say Hello.
    #[arg(long, default_value_t = 10.0)]
    handshake_timeout: f64,
    /// Seconds after which a connection with nothing in flight and nothing sent is
    /// closed (0: never).
    #[arg(long, default_value_t = 3600.0)]
    idle_timeout: f64,
    /// Seconds a client has to take a reply before its connection is closed.
    #[arg(long, default_value_t = 60.0)]
    write_timeout: f64,
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
}

/// glibc gives every thread that allocates its own arena, and the agent runs plugin calls
/// on a pool of threads: model memory freed on one thread's arena is then rarely reused or
/// returned, and RSS creeps up with every model load. Two arenas keep it bounded; the agent
/// re-executes itself once with `MALLOC_ARENA_MAX` (and a fixed mmap threshold) set — the
/// allocator reads them at start — unless the operator set `MALLOC_ARENA_MAX`.
fn limit_malloc_arenas() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    if let Ok(exe) = std::env::current_exe() {
        // Blobs and model buffers of 1 MiB and more are mapped and unmapped on their own,
        // so a tenant's upload goes back to the system when the tenant goes (glibc would
        // otherwise raise that threshold after the first large free and keep them).
        let err = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("MALLOC_ARENA_MAX", "2")
            .env("MALLOC_MMAP_THRESHOLD_", "1048576")
            .exec();
        eprintln!("vaccel-agent: could not re-execute with MALLOC_ARENA_MAX=2 ({err}); continuing");
    }
}

fn main() -> Result<()> {
    limit_malloc_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve())
}

async fn serve() -> Result<()> {
    let cli = Cli::parse();
    let rt = vaccel_builtins::runtime_from_env().context("starting the vAccel runtime")?;
    let mut config = AgentConfig::default();
    for e in &cli.allow_exec {
        config
            .allow_exec
            .insert(AgentConfig::parse_exec(e).map_err(anyhow::Error::msg)?);
    }
    for m in &cli.models {
        let (name, path) = AgentConfig::parse_model(m).map_err(anyhow::Error::msg)?;
        anyhow::ensure!(
            path.exists(),
            "--model {name}={}: no such file",
            path.display()
        );
        config.models.insert(name, path);
    }
    for dir in &cli.guest_paths {
        let real = dir
            .canonicalize()
            .with_context(|| format!("--allow-guest-paths {}", dir.display()))?;
        anyhow::ensure!(
            real.is_dir(),
            "--allow-guest-paths {}: not a directory",
            dir.display()
        );
        config.guest_paths.push(real);
    }
    config.allow_uploaded_code = cli.allow_uploaded_code;
    config.token = cli.token.map(String::into_bytes);
    config.workers = cli.workers;
    config.worker_spin_us = Some(cli.worker_spin_us);
    let secs = |what: &str, s: f64| {
        Duration::try_from_secs_f64(s)
            .map_err(|_| anyhow::anyhow!("--{what} {s}: not a number of seconds"))
    };
    let l = &mut config.limits;
    l.in_flight = cli.max_in_flight.max(1);
    l.sessions = cli.max_sessions;
    l.uploads = cli.max_uploads;
    l.tenant_memory = cli.tenant_memory;
    l.peer_memory = cli.peer_memory;
    if let Some(b) = cli.memory_budget {
        l.memory_budget = b;
    }
    l.max_message = usize::try_from(cli.max_message).unwrap_or(usize::MAX);
    l.rate = cli.rate;
    l.burst = cli.burst;
    if let Some(c) = cli.max_connections {
        l.connections = c;
    }
    l.connections_per_peer = cli.max_connections_per_peer;
    l.handshake_timeout = secs("handshake-timeout", cli.handshake_timeout)?;
    l.idle_timeout = Some(secs("idle-timeout", cli.idle_timeout)?).filter(|d| !d.is_zero());
    l.write_timeout = secs("write-timeout", cli.write_timeout)?;
    anyhow::ensure!(
        l.tenant_memory <= l.memory_budget,
        "--tenant-memory {} is more than the agent's --memory-budget {}",
        l.tenant_memory,
        l.memory_budget
    );

    let mut addresses: Vec<Address> = cli
        .addresses
        .iter()
        .map(|a| a.parse::<Address>().map_err(anyhow::Error::from))
        .collect::<Result<_>>()?;
    for vm in &cli.vms {
        let (name, uds) = vm
            .split_once('=')
            .with_context(|| format!("--vm {vm:?}: expected NAME=UDS_PATH"))?;
        tracing::info!(vm = name, uds, "serving VM");
        addresses.push(Address::Hybrid {
            uds: uds.into(),
            port: 2048,
        });
    }
    anyhow::ensure!(
        !addresses.is_empty(),
        "nothing to listen on: give --address or --vm"
    );
    let mut listeners = Vec::new();
    for a in &addresses {
        listeners.push(Listener::bind(a).await?);
    }
    let metrics = match &cli.metrics {
        Some(m) => Some(
            tokio::net::TcpListener::bind(m)
                .await
                .with_context(|| format!("--metrics {m}"))?,
        ),
        None => None,
    };
    for l in &listeners {
        eprintln!("vaccel-agent: listening on {}", l.local());
    }
    let agent = Agent::new(rt, config).context("starting the agent's worker threads")?;
    agent.run(listeners, metrics, shutdown_signal()).await?;
    Ok(())
}
