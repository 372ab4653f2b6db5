//! `vaccel bench`: every figure printed next to a baseline measured in the same run.

mod clients;
mod images;
mod noop;
mod ttrpc;
mod upload;

use anyhow::Result;
use clap::Subcommand;
use vaccel::Runtime;

/// The benchmarks.
#[derive(Subcommand)]
pub enum Bench {
    /// P8: classify latency through vAccel vs ONNX Runtime called directly on the same
    /// model, with the direct path split into decode / preprocess / inference.
    Classify {
        /// Image (default: the sample chelsea.png).
        image: Option<std::path::PathBuf>,
        /// Measured runs of each path (after one warm-up run each).
        #[arg(long, short = 'n', default_value_t = 30)]
        runs: usize,
    },
    /// P2: noop round trip (p50 / p99) through the session's plugin — with the rpc plugin,
    /// through the agent — vs a raw Unix-socket 64-byte ping-pong with a peer process (the
    /// same topology as client and agent) and with a peer thread.
    Noop {
        /// Calls of each.
        #[arg(long, short = 'n', default_value_t = 10_000)]
        calls: usize,
    },
    /// Upstream's protocol vs ours on one agent (VACCEL_RPC_ADDRESS, with VACCEL_PLUGINS the
    /// rpc plugin): noop, a 64×64 sgemm and classify, each through the rpc plugin and as an
    /// upstream guest calls it (ttrpc Genop / ImageClassification), interleaved, with a raw
    /// Unix ping-pong as the floor.
    Ttrpc {
        /// Noop calls of each (sgemm: a tenth).
        #[arg(long, short = 'n', default_value_t = 10_000)]
        calls: usize,
        /// Classify runs of each.
        #[arg(long, default_value_t = 20)]
        classify_runs: usize,
        /// Image to classify (default: the sample chelsea.png).
        #[arg(long)]
        image: Option<std::path::PathBuf>,
    },
    /// P5: CLIENTS processes classifying at once for SECONDS, first each on the built-in
    /// plugins in its own process, then each through the session's plugin as it is
    /// configured here (with the rpc plugin: one agent tenant per process): aggregate
    /// throughput, and the busiest client's count over the least busy one's.
    Clients {
        /// Client processes.
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Seconds each phase runs.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// One client of `bench clients` (internal): classify until told to stop.
    #[command(hide = true)]
    ClientLoop {
        /// Seconds to run once started.
        seconds: u64,
    },
    /// The other end of the two-process ping-pong baseline (internal).
    #[command(hide = true)]
    EchoPeer {
        /// Unix socket to connect to.
        socket: std::path::PathBuf,
    },
    /// P4: classify each image RUNS times (after one warm-up) through the session's plugin
    /// and print one line per image: `p4 NAME BYTES WxH MEDIAN_MS TOP-1`. vm/bench runs it
    /// on the host and in a guest and compares.
    Images {
        /// Images.
        #[arg(required = true)]
        images: Vec<std::path::PathBuf>,
        /// Measured runs per image.
        #[arg(long, short = 'n', default_value_t = 10)]
        runs: usize,
    },
    /// Write the sample photo (or SOURCE) as JPEGs at several resolutions into DIR, for
    /// `bench images`.
    MakeImages {
        /// Output directory.
        dir: std::path::PathBuf,
        /// Source image (default: the sample chelsea.png).
        #[arg(long)]
        source: Option<std::path::PathBuf>,
    },
    /// P6 / P7: an op whose input tensors total SIZE MiB (sgemm 1×1×K), then registering a
    /// resource of SIZE MiB (first time: upload; second: this client gave the agent those
    /// bytes already, so only their hash travels), vs copying the same bytes over a raw Unix
    /// socket in this process.
    Upload {
        /// Size in MiB.
        #[arg(long, default_value_t = 64)]
        mib: usize,
    },
}

/// The value at fraction `p` of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The median (sorts `v`).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The other end of `bench noop`'s two-process ping-pong (needs no runtime).
///
/// # Errors
/// When the socket cannot be reached.
pub fn run_echo_peer(socket: &std::path::Path) -> Result<()> {
    noop::echo_peer(socket)
}

/// The socket, when this is the internal echo peer of `bench noop`.
pub fn echo_peer(b: &Bench) -> Option<&std::path::Path> {
    match b {
        Bench::EchoPeer { socket } => Some(socket),
        _ => None,
    }
}

/// Run a benchmark.
///
/// # Errors
/// What the benchmark's ops or baselines fail with.
pub fn run(rt: &Runtime, b: Bench) -> Result<()> {
    match b {
        Bench::Noop { calls } => noop::run(rt, calls.max(10)),
        Bench::Ttrpc {
            calls,
            classify_runs,
            image,
        } => ttrpc::run(rt, calls.max(10), classify_runs, image.as_deref()),
        Bench::EchoPeer { socket } => noop::echo_peer(&socket),
        Bench::Clients { clients, seconds } => clients::run(clients.max(1), seconds.max(1)),
        Bench::ClientLoop { seconds } => clients::client_loop(rt, seconds),
        Bench::Upload { mib } => upload::run(rt, mib.max(1)),
        Bench::Images { images, runs } => images::run(rt, &images, runs.max(1)),
        Bench::MakeImages { dir, source } => images::make_images(&dir, source.as_deref()),
        Bench::Classify { image, runs } => images::classify(rt, image.as_deref(), runs),
    }
}
