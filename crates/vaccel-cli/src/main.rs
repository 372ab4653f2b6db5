//! `vaccel`: the command-line face of the runtime. It links the built-in plugins and
//! honours `VACCEL_PLUGINS` like every other vAccel program.

#![forbid(unsafe_code)]

mod assets;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::time::Instant;
use vaccel::{OpType, Runtime, Session, plugin_type};

#[derive(Parser)]
#[command(
    name = "vaccel",
    version,
    about = "vAccel: run acceleration ops on whatever plugin the host has"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List loaded plugins: name, version, type, source, ops.
    Plugins,
    /// Run the noop op through a session (checks that dispatch works).
    Noop {
        /// Session hint bits (e.g. 0x100 for DEBUG).
        #[arg(long, default_value = "0", value_parser = parse_hint)]
        hint: u32,
        /// How many times.
        #[arg(long, short = 'n', default_value_t = 1)]
        iterations: u64,
        /// Pause between calls, and report every call's result instead of stopping at the
        /// first error (for watching a remote agent go away and come back).
        #[arg(long, value_name = "MS")]
        watch: Option<u64>,
    },
    /// Classify photos with an ImageNet model (default: EfficientNet-Lite0 from the asset
    /// cache, fetched on first use).
    Classify {
        /// Image files (JPEG or PNG); none: the sample photos from the asset cache.
        images: Vec<std::path::PathBuf>,
        /// An ONNX classifier to use instead of the default.
        #[arg(long)]
        model: Option<std::path::PathBuf>,
        /// Its labels, one per line in class order.
        #[arg(long, requires = "model")]
        labels: Option<std::path::PathBuf>,
        /// How many classes to list.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
        top: u32,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Detect text lines in an image; writes a copy with the boxes drawn.
    Detect {
        /// Image file (JPEG or PNG).
        image: std::path::PathBuf,
        /// Where to write the annotated PNG.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Fetch and build the default models, labels and photos (pinned, checksummed, cached).
    Assets,
    /// Write an image as the classifier's input tensor (NCHW float32, little-endian:
    /// shorter side 256, centre crop 224, (x − 127) / 128), for programs that run models
    /// on tensors.
    Preprocess {
        /// Image file (JPEG or PNG).
        image: std::path::PathBuf,
        /// Output file (3 × 224 × 224 float32 values).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Benchmarks (figures printed next to a baseline measured in the same run).
    #[command(subcommand)]
    Bench(Bench),
    /// Multiply random M×K and K×N matrices (row-major sgemm) and print GFLOP/s.
    Sgemm {
        /// Rows of A and C.
        m: i64,
        /// Columns of B and C.
        n: i64,
        /// Columns of A, rows of B.
        k: i64,
        /// Timed repetitions (the best is reported).
        #[arg(long, short = 'n', default_value_t = 3)]
        iterations: u32,
        /// Also check the result against a plain reference multiplication.
        #[arg(long)]
        check: bool,
    },
    /// Call `int SYMBOL(read, nr_read, write, nr_write)` in a shared library (the exec op).
    Exec {
        /// Path to the shared library.
        library: String,
        /// Function to call.
        symbol: String,
        /// An input argument, `TYPE:VALUE` (types: i8 i16 i32 i64 u8 u16 u32 u64 f32 f64
        /// string); repeat for more.
        #[arg(long = "in", value_name = "TYPE:VALUE")]
        inputs: Vec<String>,
        /// An output argument, `TYPE` or `TYPE:COUNT` (string:BYTES); repeat for more.
        #[arg(long = "out", value_name = "TYPE[:COUNT]")]
        outputs: Vec<String>,
        /// Register the library as a LIB resource and use exec_with_resource.
        #[arg(long)]
        resource: bool,
    },
}

/// One exec argument: its type and bytes.
struct ExecArg {
    ty: vaccel::ArgType,
    elem: &'static str,
    bytes: Vec<u8>,
}

fn parse_in(spec: &str) -> Result<ExecArg> {
    let (ty, value) = spec
        .split_once(':')
        .with_context(|| format!("--in {spec:?}: expected TYPE:VALUE, e.g. i32:21"))?;
    let bad = || anyhow::anyhow!("--in {spec:?}: {value:?} is not a valid {ty}");
    use vaccel::ArgType as A;
    let (t, elem, bytes) = match ty {
        "i8" => (
            A::Int8,
            "i8",
            value
                .parse::<i8>()
                .map_err(|_| bad())?
                .to_ne_bytes()
                .to_vec(),
        ),
        "i16" => (
            A::Int16,
            "i16",
            value
                .parse::<i16>()
                .map_err(|_| bad())?
                .to_ne_bytes()
                .to_vec(),
        ),
        "i32" => (
            A::Int32,
            "i32",
            value
                .parse::<i32>()
                .map_err(|_| bad())?
                .to_ne_bytes()
                .to_vec(),
        ),
        "i64" => (
            A::Int64,
            "i64",
            value
                .parse::<i64>()
                .map_err(|_| bad())?
                .to_ne_bytes()
                .to_vec(),
        ),
        "u8" => (
            A::Uint8,
            "u8",
            value
                .parse::<u8>()
                .map_err(|_| bad())?
                .to_ne_bytes()
                .to_vec(),
        ),
        "u16" => (
            A::Uint16,
            "u16",
            value
                .parse::<u16>()
                .map_err(|_| bad())?
                .to_ne_bytes()
                .to_vec(),
        ),
        "u32" => (
            A::Uint32,
            "u32",
            value
                .parse::<u32>()
                .map_err(|_| bad())?
                .to_ne_bytes()
                .to_vec(),
        ),
        "u64" => (
            A::Uint64,
            "u64",
            value
                .parse::<u64>()
                .map_err(|_| bad())?
                .to_ne_bytes()
                .to_vec(),
        ),
        "f32" => (
            A::Float32,
            "f32",
            value
                .parse::<f32>()
                .map_err(|_| bad())?
                .to_ne_bytes()
                .to_vec(),
        ),
        "f64" => (
            A::Float64,
            "f64",
            value
                .parse::<f64>()
                .map_err(|_| bad())?
                .to_ne_bytes()
                .to_vec(),
        ),
        "string" => {
            let mut b = value.as_bytes().to_vec();
            b.push(0);
            (A::String, "string", b)
        }
        _ => anyhow::bail!("--in {spec:?}: unknown type {ty:?}"),
    };
    Ok(ExecArg { ty: t, elem, bytes })
}

fn parse_out(spec: &str) -> Result<ExecArg> {
    let (ty, count) = match spec.split_once(':') {
        Some((t, n)) => (
            t,
            n.parse::<usize>()
                .with_context(|| format!("--out {spec:?}: bad count"))?,
        ),
        None => (spec, if spec == "string" { 256 } else { 1 }),
    };
    use vaccel::ArgType as A;
    let (scalar, array, elem, size) = match ty {
        "i8" => (A::Int8, A::Int8Array, "i8", 1),
        "i16" => (A::Int16, A::Int16Array, "i16", 2),
        "i32" => (A::Int32, A::Int32Array, "i32", 4),
        "i64" => (A::Int64, A::Int64Array, "i64", 8),
        "u8" => (A::Uint8, A::Uint8Array, "u8", 1),
        "u16" => (A::Uint16, A::Uint16Array, "u16", 2),
        "u32" => (A::Uint32, A::Uint32Array, "u32", 4),
        "u64" => (A::Uint64, A::Uint64Array, "u64", 8),
        "f32" => (A::Float32, A::Float32Array, "f32", 4),
        "f64" => (A::Float64, A::Float64Array, "f64", 8),
        "string" => (A::String, A::String, "string", 1),
        _ => anyhow::bail!("--out {spec:?}: unknown type {ty:?}"),
    };
    let bytes = count.checked_mul(size).context("--out: size overflows")?;
    let ty = if count == 1 || elem == "string" {
        scalar
    } else {
        array
    };
    Ok(ExecArg {
        ty,
        elem,
        bytes: vec![0; bytes],
    })
}

fn show(arg: &ExecArg) -> String {
    fn each<const N: usize, T: std::fmt::Display>(b: &[u8], f: fn([u8; N]) -> T) -> String {
        b.chunks_exact(N)
            .map(|c| f(c.try_into().expect("chunk size")).to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }
    let b = &arg.bytes;
    match arg.elem {
        "i8" => each(b, i8::from_ne_bytes),
        "i16" => each(b, i16::from_ne_bytes),
        "i32" => each(b, i32::from_ne_bytes),
        "i64" => each(b, i64::from_ne_bytes),
        "u8" => each(b, u8::from_ne_bytes),
        "u16" => each(b, u16::from_ne_bytes),
        "u32" => each(b, u32::from_ne_bytes),
        "u64" => each(b, u64::from_ne_bytes),
        "f32" => each(b, f32::from_ne_bytes),
        "f64" => each(b, f64::from_ne_bytes),
        _ => {
            let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
            format!("{:?}", String::from_utf8_lossy(&b[..end]))
        }
    }
}

fn parse_hint(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("{s:?} is not a number (decimal or 0x-hex)"))
}

/// Deterministic pseudo-random values in [-1, 1) (xorshift), so runs are repeatable.
fn random_matrix(len: usize, seed: u64) -> Vec<f32> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn sgemm(rt: &Runtime, m: i64, n: i64, k: i64, iterations: u32, check: bool) -> Result<()> {
    let dims = |v: i64, what: &str| {
        usize::try_from(v)
            .ok()
            .filter(|v| *v > 0)
            .with_context(|| format!("{what} must be positive, got {v}"))
    };
    let (mu, nu, ku) = (dims(m, "M")?, dims(n, "N")?, dims(k, "K")?);
    let len = |a: usize, b: usize| a.checked_mul(b).context("matrix size overflows");
    let a = random_matrix(len(mu, ku)?, 1);
    let b = random_matrix(len(ku, nu)?, 2);
    let mut c = vec![0f32; len(mu, nu)?];
    let sess = Session::new(rt, 0)?;
    let plugin = sess
        .plugin_for(OpType::BlasSgemm)
        .map_or("none", |p| p.name())
        .to_string();
    let mut best = f64::INFINITY;
    for _ in 0..iterations.max(1) {
        let t0 = Instant::now();
        sess.sgemm(m, n, k, 1.0, &a, k, &b, n, 0.0, &mut c, n)?;
        best = best.min(t0.elapsed().as_secs_f64());
    }
    let flops = 2.0 * mu as f64 * nu as f64 * ku as f64;
    println!(
        "sgemm {m}x{n}x{k} on plugin {plugin}: best of {} {:.3} ms, {:.1} GFLOP/s",
        iterations.max(1),
        best * 1e3,
        flops / best / 1e9
    );
    if check {
        let mut r = vec![0f32; c.len()];
        vaccel_builtins::reference_sgemm(mu, nu, ku, &a, &b, &mut r);
        let worst = c
            .iter()
            .zip(&r)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        let tolerance = 1e-4 * ku as f32;
        anyhow::ensure!(
            worst <= tolerance,
            "result differs from the reference by {worst} (tolerance {tolerance})"
        );
        println!("check: matches the reference (largest difference {worst:.2e})");
    }
    sess.release()?;
    Ok(())
}

#[derive(Subcommand)]
enum Bench {
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

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A 64-byte ping-pong over a Unix socket pair with an echo thread: the IPC floor.
/// Echo 64-byte messages until the peer closes.
fn echo(mut s: std::os::unix::net::UnixStream) {
    use std::io::{Read, Write};
    let mut buf = [0u8; 64];
    while s.read_exact(&mut buf).is_ok() {
        if s.write_all(&buf).is_err() {
            break;
        }
    }
}

fn echo_peer(socket: &std::path::Path) -> Result<()> {
    echo(std::os::unix::net::UnixStream::connect(socket)?);
    Ok(())
}

/// Round trips of 64 bytes to an echoing peer.
fn ping_pong(a: &mut std::os::unix::net::UnixStream, calls: usize) -> Result<Vec<f64>> {
    use std::io::{Read, Write};
    let mut buf = [7u8; 64];
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t0 = Instant::now();
        a.write_all(&buf)?;
        a.read_exact(&mut buf)?;
        times.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    Ok(times)
}

/// The raw baselines: a peer thread in this process, and a peer process (this binary's
/// hidden `bench echo-peer`) — the latter has the same topology as client and agent.
struct PingPeers {
    thread: std::os::unix::net::UnixStream,
    process: std::os::unix::net::UnixStream,
    child: std::process::Child,
}

impl PingPeers {
    fn start() -> Result<PingPeers> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        std::thread::spawn(move || echo(b));
        let path = std::env::temp_dir().join(format!("vaccel-echo-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path)?;
        let child = std::process::Command::new(std::env::current_exe()?)
            .args(["bench", "echo-peer"])
            .arg(&path)
            .env_remove("VACCEL_PLUGINS")
            .spawn()
            .context("starting the echo peer process")?;
        let accepted = listener.accept();
        let _ = std::fs::remove_file(&path);
        Ok(PingPeers {
            thread: a,
            process: accepted?.0,
            child,
        })
    }
}

impl Drop for PingPeers {
    fn drop(&mut self) {
        let _ = self.process.shutdown(std::net::Shutdown::Both);
        let _ = self.child.wait();
    }
}

fn bench_noop(rt: &Runtime, calls: usize) -> Result<()> {
    let sess = Session::new(rt, 0)?;
    let plugin = sess
        .plugin_for(OpType::Noop)
        .map_or("none", |p| p.name())
        .to_string();
    let mut peers = PingPeers::start()?;
    for _ in 0..100 {
        sess.noop()?;
    }
    ping_pong(&mut peers.thread, 100)?;
    ping_pong(&mut peers.process, 100)?;
    let (mut thread, mut process) = (Vec::new(), Vec::new());
    let mut ours = Vec::with_capacity(calls);
    // Interleaved in blocks so all three see the same machine.
    for _ in 0..10 {
        thread.extend(ping_pong(&mut peers.thread, calls / 10)?);
        process.extend(ping_pong(&mut peers.process, calls / 10)?);
        for _ in 0..calls / 10 {
            let t0 = Instant::now();
            sess.noop()?;
            ours.push(t0.elapsed().as_secs_f64() * 1e6);
        }
    }
    drop(peers);
    let p = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (percentile(v, 0.5), percentile(v, 0.99))
    };
    let ((t50, t99), (b50, b99), (o50, o99)) = (p(&mut thread), p(&mut process), p(&mut ours));
    println!("P2 noop round trip, {calls} calls each, session on plugin {plugin}:");
    println!("  raw unix ping-pong, 64 B, peer thread:  p50 {t50:.1} µs  p99 {t99:.1} µs");
    println!("  raw unix ping-pong, 64 B, peer process: p50 {b50:.1} µs  p99 {b99:.1} µs");
    println!("  vaccel noop:                            p50 {o50:.1} µs  p99 {o99:.1} µs");
    println!(
        "  ratio to the peer process: p50 {:.2}x (goal <= 1.3)  p99 {:.2}x (goal <= 2)",
        o50 / b50,
        o99 / b99
    );
    println!(
        "  ratio to the peer thread:  p50 {:.2}x  p99 {:.2}x",
        o50 / t50,
        o99 / t99
    );
    sess.release()?;
    Ok(())
}

/// A `bench clients` child: warm up, say "ready", wait for a line on stdin, classify for
/// `seconds`, print how many classifications finished.
fn client_loop(rt: &Runtime, seconds: u64) -> Result<()> {
    use std::io::{BufRead, Write};
    let bytes = read(&vaccel_builtins::assets_dir().join("images/chelsea.png"))?;
    let sess = Session::new(rt, 0)?;
    sess.image_classify(&bytes)?;
    println!("ready");
    std::io::stdout().flush()?;
    let mut go = String::new();
    std::io::stdin().lock().read_line(&mut go)?;
    let until = Instant::now() + std::time::Duration::from_secs(seconds);
    let mut n = 0u64;
    while Instant::now() < until {
        sess.image_classify(&bytes)?;
        n += 1;
    }
    println!("{n}");
    sess.release()?;
    Ok(())
}

/// Run `clients` client processes for `seconds`; their counts.
fn client_phase(clients: usize, seconds: u64, local: bool) -> Result<Vec<u64>> {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    let mut children = Vec::new();
    for _ in 0..clients {
        let mut cmd = std::process::Command::new(std::env::current_exe()?);
        cmd.args(["bench", "client-loop", &seconds.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if local {
            cmd.env_remove("VACCEL_PLUGINS")
                .env_remove("VACCEL_BACKENDS");
        }
        let mut child = cmd.spawn().context("starting a client process")?;
        let out = BufReader::new(child.stdout.take().context("client stdout")?);
        children.push((child, out));
    }
    for (_, out) in &mut children {
        let mut line = String::new();
        out.read_line(&mut line)?;
        anyhow::ensure!(line.trim() == "ready", "a client failed to start: {line:?}");
    }
    for (child, _) in &mut children {
        writeln!(child.stdin.as_mut().context("client stdin")?, "go")?;
    }
    let mut counts = Vec::new();
    for (mut child, mut out) in children {
        let mut line = String::new();
        out.read_line(&mut line)?;
        anyhow::ensure!(child.wait()?.success(), "a client failed");
        counts.push(line.trim().parse().context("a client's count")?);
    }
    Ok(counts)
}

fn bench_clients(clients: usize, seconds: u64) -> Result<()> {
    assets::fetch(true)?;
    let summary = |counts: &[u64]| {
        let total: u64 = counts.iter().sum();
        let (lo, hi) = (
            counts.iter().copied().min().unwrap_or(0),
            counts.iter().copied().max().unwrap_or(0),
        );
        (total as f64 / seconds as f64, hi as f64 / lo.max(1) as f64)
    };
    println!("P5 {clients} concurrent clients classifying chelsea.png for {seconds} s each phase:");
    let local = client_phase(clients, seconds, true)?;
    let (l_rate, l_spread) = summary(&local);
    println!(
        "  each in its own process (built-ins): {l_rate:.1} images/s, max/min per client {l_spread:.2}  {local:?}"
    );
    let remote = client_phase(clients, seconds, false)?;
    let (r_rate, r_spread) = summary(&remote);
    println!(
        "  through the configured plugins:      {r_rate:.1} images/s, max/min per client {r_spread:.2}  {remote:?}"
    );
    println!(
        "  throughput {:.0}% of in-process (goal >= 90%), fairness max/min {r_spread:.2} (goal <= 1.2)",
        100.0 * r_rate / l_rate
    );
    Ok(())
}

/// Seconds to copy `data` through a Unix socket pair to a reader thread, which reads into
/// one reused 1 MiB buffer, or (`land`) into a fresh buffer holding all of it, as a
/// receiver that keeps the bytes must.
fn raw_copy(data: &[u8], land: bool) -> Result<f64> {
    use std::io::{Read, Write};
    let (mut a, mut b) = std::os::unix::net::UnixStream::pair()?;
    let len = data.len();
    let reader = std::thread::spawn(move || {
        if land {
            let mut all = Vec::with_capacity(len);
            return b.read_to_end(&mut all).unwrap_or(0);
        }
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0usize;
        while let Ok(k) = b.read(&mut buf) {
            if k == 0 {
                break;
            }
            n += k;
        }
        n
    });
    let t0 = Instant::now();
    a.write_all(data)?;
    drop(a);
    let got = reader
        .join()
        .map_err(|_| anyhow::anyhow!("reader failed"))?;
    let secs = t0.elapsed().as_secs_f64();
    anyhow::ensure!(
        got == data.len(),
        "raw copy moved {got} of {} bytes",
        data.len()
    );
    Ok(secs)
}

fn bench_upload(rt: &Runtime, mib: usize) -> Result<()> {
    let len = mib.checked_mul(1 << 20).context("size overflows")?;
    let mb = len as f64 / 1e6;
    let data: Vec<u8> = (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[0])
        .collect();
    // P6: the tensor path. sgemm 1×1×K whose A and B together are `len` bytes: the op's
    // input crosses to the agent, the compute is one dot product, one float comes back.
    let k = len / 8;
    let a: Vec<f32> = (0..k).map(|i| (i % 7) as f32 * 0.25).collect();
    let b: Vec<f32> = (0..k).map(|i| (i % 5) as f32 * 0.5).collect();
    let want: f64 = a
        .iter()
        .zip(&b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let sess = Session::new(rt, 0)?;
    let plugin = sess
        .plugin_for(OpType::BlasSgemm)
        .map_or("none", |p| p.name())
        .to_string();
    // The same op on the built-in plugins in this process: its compute time, which the
    // transfer figure leaves out.
    let local_rt = vaccel_builtins::register(Runtime::builder()).build()?;
    let local = Session::new(&local_rt, 0)?;
    let ki = k as i64;
    let timed = |s: &Session| -> Result<f64> {
        let mut c = [0f32];
        let t0 = Instant::now();
        s.sgemm(1, 1, ki, 1.0, &a, ki, &b, 1, 0.0, &mut c, 1)?;
        let secs = t0.elapsed().as_secs_f64();
        anyhow::ensure!(
            (f64::from(c[0]) - want).abs() <= want * 1e-3,
            "sgemm gave {} instead of {want}",
            c[0]
        );
        Ok(secs)
    };
    // Without a local BLAS (a guest forwarding everything) the compute cannot be measured
    // here; the transfer figure then includes it.
    let mut local_err = timed(&local).err();
    let (mut raw, mut landed, mut op, mut compute) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..4 {
        raw = raw.min(raw_copy(&data, false)?);
        landed = landed.min(raw_copy(&data, true)?);
        op = op.min(timed(&sess)?);
        if local_err.is_none() {
            match timed(&local) {
                Ok(t) => compute = compute.min(t),
                Err(e) => local_err = Some(e),
            }
        }
    }
    if local_err.is_some() {
        compute = 0.0;
    }
    let transfer = (op - compute).max(1e-9);
    println!(
        "P6 {mib} MiB tensor upload (sgemm 1x1x{k}: A and B), session on plugin {plugin}, best of 4:"
    );
    println!(
        "  raw unix socket copy:       {:.1} ms ({:.0} MB/s)",
        raw * 1e3,
        mb / raw
    );
    println!(
        "  raw copy into a new buffer: {:.1} ms ({:.0} MB/s)",
        landed * 1e3,
        mb / landed
    );
    println!("  sgemm through the session:  {:.1} ms", op * 1e3);
    match &local_err {
        None => println!(
            "  same sgemm in this process: {:.1} ms (its compute)",
            compute * 1e3
        ),
        Some(e) => println!(
            "  same sgemm in this process: unavailable ({e:#}); the transfer below includes the compute"
        ),
    }
    println!(
        "  transfer (difference):      {:.1} ms ({:.0} MB/s) = {:.0}% of raw (goal >= 70%), {:.0}% of raw into a new buffer",
        transfer * 1e3,
        mb / transfer,
        100.0 * raw / transfer,
        100.0 * landed / transfer
    );
    sess.release()?;
    local.release()?;

    // P7: the resource path — content-addressed, so the agent verifies the SHA-256 of
    // what it receives; a second registration sends only the hash.
    let res = vaccel::Resource::from_buffer(data, vaccel::ResourceType::Data, "blob.bin")?;
    let s1 = Session::new(rt, 0)?;
    let t1 = Instant::now();
    s1.register(&res)?;
    let first = t1.elapsed().as_secs_f64();
    let s2 = Session::new(rt, 0)?;
    let t2 = Instant::now();
    s2.register(&res)?;
    let second = t2.elapsed().as_secs_f64();
    println!(
        "P7 {mib} MiB resource, session on plugin {}:",
        s1.plugin().name()
    );
    println!(
        "  first registration:     {:.1} ms ({:.0} MB/s) = {:.0}% of raw (upload + SHA-256 check)",
        first * 1e3,
        mb / first,
        100.0 * raw / first
    );
    println!(
        "  second registration:    {:.2} ms = {:.2}% of the first (goal <= 1%)",
        second * 1e3,
        100.0 * second / first
    );
    s1.release()?;
    s2.release()?;
    Ok(())
}

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

fn bench_images(rt: &Runtime, images: &[std::path::PathBuf], runs: usize) -> Result<()> {
    let sess = Session::new(rt, 0)?;
    for path in images {
        let bytes = read(path)?;
        let (w, h) = vaccel_builtins::onnx::picture::decode(&bytes)
            .map(|i| (i.width(), i.height()))
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let top = sess.image_classify(&bytes)?.text;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t0 = Instant::now();
            sess.image_classify(&bytes)?;
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        println!(
            "p4 {name} {} {w}x{h} {:.3} {top}",
            bytes.len(),
            median(&mut times)
        );
    }
    sess.release()?;
    Ok(())
}

/// The resolutions `bench make-images` writes (width; the height keeps the aspect ratio).
const P4_WIDTHS: [u32; 6] = [160, 320, 640, 1280, 1920, 3840];

fn make_images(dir: &std::path::Path, source: Option<&std::path::Path>) -> Result<()> {
    use image::codecs::jpeg::JpegEncoder;
    let source = match source {
        Some(s) => s.to_path_buf(),
        None => {
            assets::fetch(true)?;
            vaccel_builtins::assets_dir().join("images/chelsea.png")
        }
    };
    let img = image::open(&source).with_context(|| format!("reading {}", source.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for w in P4_WIDTHS {
        let h = (u64::from(img.height()) * u64::from(w) / u64::from(img.width())).max(1) as u32;
        let resized = img
            .resize_exact(w, h, image::imageops::FilterType::Triangle)
            .to_rgb8();
        let path = dir.join(format!("photo-{w}x{h}.jpg"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        resized
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, 90))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

fn bench_classify(rt: &Runtime, image: Option<&std::path::Path>, runs: usize) -> Result<()> {
    use vaccel_builtins::onnx::{classify as direct, picture};
    assets::fetch(true)?;
    let path = image.map_or_else(
        || vaccel_builtins::assets_dir().join("images/chelsea.png"),
        Into::into,
    );
    let bytes = read(&path)?;
    let sess = Session::new(rt, 0)?;
    let model = direct::default_model()?;
    let (mut dec, mut pre, mut inf, mut tot, mut via) = (vec![], vec![], vec![], vec![], vec![]);
    let mut answers = (String::new(), String::new());
    // Interleaved, one warm-up of each, so both paths see the same machine.
    for i in 0..=runs {
        let t0 = Instant::now();
        let img = picture::decode(&bytes)?;
        let t1 = Instant::now();
        let input = picture::classifier_input(&img, 256, 224, 127.0, 128.0)?;
        let t2 = Instant::now();
        let probs = direct::softmax(&direct::run(&model, None, [1, 3, 224, 224], input)?);
        let t3 = Instant::now();
        let c = sess.image_classify(&bytes)?;
        let t4 = Instant::now();
        if i == 0 {
            let best = direct::top_k(&probs, 1)[0];
            answers = (
                format!("index {best} ({:.3}%)", probs[best] * 100.0),
                c.text,
            );
            continue;
        }
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        dec.push(ms(t1 - t0));
        pre.push(ms(t2 - t1));
        inf.push(ms(t3 - t2));
        tot.push(ms(t3 - t0));
        via.push(ms(t4 - t3));
    }
    let (d, p, i, t, v) = (
        median(&mut dec),
        median(&mut pre),
        median(&mut inf),
        median(&mut tot),
        median(&mut via),
    );
    println!(
        "P8 classify {} ({} bytes), median of {runs} interleaved runs:",
        path.display(),
        bytes.len()
    );
    println!(
        "  ONNX Runtime directly:  decode {d:.2} ms + preprocess {p:.2} ms + inference {i:.2} ms = {t:.2} ms  [{}]",
        answers.0
    );
    println!("  through vAccel:         {v:.2} ms  [{}]", answers.1);
    println!("  ratio vAccel / direct:  {:.3} (goal <= 1.1)", v / t);
    sess.release()?;
    Ok(())
}

fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn classify(
    rt: &Runtime,
    images: &[std::path::PathBuf],
    model: Option<&std::path::Path>,
    labels: Option<&std::path::Path>,
    top: usize,
    json: bool,
) -> Result<()> {
    // The default model is needed here only when classification runs in this process (not
    // through a remote plugin, whose agent has its own); the sample photos when none are given.
    let remote = Session::new(rt, 0)?
        .plugin_for(OpType::ImageClassify)
        .is_some_and(|p| p.plugin_type() & vaccel::plugin_type::REMOTE != 0);
    if (model.is_none() && !remote) || images.is_empty() {
        assets::fetch(true)?;
    }
    let samples: Vec<std::path::PathBuf>;
    let images = if images.is_empty() {
        let dir = vaccel_builtins::assets_dir().join("images");
        samples = ["chelsea.png", "coffee.png", "rocket.jpg"]
            .iter()
            .map(|n| dir.join(n))
            .collect();
        &samples[..]
    } else {
        images
    };
    let sess = Session::new(rt, 0)?;
    let mut held = Vec::new();
    if let Some(m) = model {
        held.push(vaccel::Resource::from_path(m, vaccel::ResourceType::Model)?);
    }
    if let Some(l) = labels {
        held.push(vaccel::Resource::from_path(l, vaccel::ResourceType::Data)?);
    }
    for r in &held {
        sess.register(r)?;
    }
    let mut results = Vec::new();
    for path in images {
        let t0 = Instant::now();
        let c = sess
            .image_classify_top(&read(path)?, top)
            .with_context(|| format!("classifying {}", path.display()))?;
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        if json {
            results.push(serde_json::json!({
                "image": path.display().to_string(),
                "text": c.text,
                "ms": ms,
                "top": c.top.iter().map(|t| serde_json::json!({
                    "index": t.index, "label": t.label, "score": t.score,
                })).collect::<Vec<_>>(),
            }));
        } else {
            println!("{}: {} ({ms:.1} ms)", path.display(), c.text);
            for t in &c.top {
                println!("  {:>7.3}%  {:>4}  {}", t.score * 100.0, t.index, t.label);
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    for r in &held {
        sess.unregister(r)?;
    }
    sess.release()?;
    Ok(())
}

fn detect(rt: &Runtime, image: &std::path::Path, out: &std::path::Path) -> Result<()> {
    assets::fetch(true)?;
    let sess = Session::new(rt, 0)?;
    let result = sess
        .image_op(vaccel::ImageOp::Detect, &read(image)?)
        .with_context(|| format!("detecting text in {}", image.display()))?;
    std::fs::copy(&result.imgname, out)
        .with_context(|| format!("cannot write {} (from {})", out.display(), result.imgname))?;
    println!(
        "{}: {} text region(s); annotated image: {}",
        image.display(),
        result.detections.len(),
        out.display()
    );
    for d in &result.detections {
        println!(
            "  score {:.3}  box ({}, {}) - ({}, {})",
            d.score, d.x0, d.y0, d.x1, d.y1
        );
    }
    sess.release()?;
    Ok(())
}

fn runtime() -> Result<Runtime> {
    vaccel_builtins::runtime_from_env().context("starting the vAccel runtime")
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vaccel: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    if let Command::Bench(Bench::EchoPeer { socket }) = &cli.command {
        return echo_peer(socket);
    }
    let rt = runtime()?;
    match cli.command {
        Command::Plugins => {
            for (i, p) in rt.plugins().iter().enumerate() {
                let ops: Vec<&str> = p.ops().iter().map(OpType::name).collect();
                println!("{}. {} {}", i + 1, p.name(), p.version());
                println!(
                    "   type:   {} ({:#x})",
                    plugin_type::describe(p.plugin_type()),
                    p.plugin_type()
                );
                println!("   source: {}", p.source());
                println!("   abi:    {}.{}", p.abi().0, p.abi().1);
                println!("   about:  {}", p.description());
                println!(
                    "   ops:    {}",
                    if ops.len() == OpType::ALL.len() {
                        "all".to_string()
                    } else {
                        ops.join(", ")
                    }
                );
            }
        }
        Command::Noop {
            hint,
            iterations,
            watch: Some(ms),
        } => {
            let sess = Session::new(&rt, hint)?;
            for i in 0..iterations {
                match sess.noop() {
                    Ok(()) => println!("call {i}: ok"),
                    Err(e) => println!("call {i}: error {}: {e}", e.code()),
                }
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
            let _ = sess.release();
        }
        Command::Noop {
            hint,
            iterations,
            watch: None,
        } => {
            let sess = Session::new(&rt, hint)?;
            let plugin = sess
                .plugin_for(OpType::Noop)
                .map_or("none", |p| p.name())
                .to_string();
            let t0 = Instant::now();
            for _ in 0..iterations {
                sess.noop()?;
            }
            let took = t0.elapsed();
            println!(
                "noop: session {} ran {iterations} call(s) on plugin {plugin} in {:.3} ms ({:.0} ns/call)",
                sess.id(),
                took.as_secs_f64() * 1e3,
                took.as_nanos() as f64 / iterations.max(1) as f64
            );
            sess.release()?;
        }
        Command::Classify {
            images,
            model,
            labels,
            top,
            json,
        } => classify(
            &rt,
            &images,
            model.as_deref(),
            labels.as_deref(),
            top as usize,
            json,
        )?,
        Command::Detect { image, out } => detect(&rt, &image, &out)?,
        Command::Assets => assets::fetch(false)?,
        Command::Preprocess { image, out } => {
            use vaccel_builtins::onnx::picture;
            let img = picture::decode(&read(&image)?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", image.display()))?;
            let x = picture::classifier_input(&img, 256, 224, 127.0, 128.0)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(&out, bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!(
                "{}: 1x3x224x224 float32 written to {}",
                image.display(),
                out.display()
            );
        }
        Command::Bench(Bench::Noop { calls }) => bench_noop(&rt, calls.max(10))?,
        Command::Bench(Bench::EchoPeer { .. }) => unreachable!("handled before the runtime"),
        Command::Bench(Bench::Clients { clients, seconds }) => {
            bench_clients(clients.max(1), seconds.max(1))?
        }
        Command::Bench(Bench::ClientLoop { seconds }) => client_loop(&rt, seconds)?,
        Command::Bench(Bench::Upload { mib }) => bench_upload(&rt, mib.max(1))?,
        Command::Bench(Bench::Images { images, runs }) => bench_images(&rt, &images, runs.max(1))?,
        Command::Bench(Bench::MakeImages { dir, source }) => make_images(&dir, source.as_deref())?,
        Command::Bench(Bench::Classify { image, runs }) => {
            bench_classify(&rt, image.as_deref(), runs)?
        }
        Command::Sgemm {
            m,
            n,
            k,
            iterations,
            check,
        } => sgemm(&rt, m, n, k, iterations, check)?,
        Command::Exec {
            library,
            symbol,
            inputs,
            outputs,
            resource,
        } => {
            let ins = inputs
                .iter()
                .map(|s| parse_in(s))
                .collect::<Result<Vec<_>>>()?;
            let mut outs = outputs
                .iter()
                .map(|s| parse_out(s))
                .collect::<Result<Vec<_>>>()?;
            let sess = Session::new(&rt, 0)?;
            let mut read = vaccel::Args::new();
            for a in &ins {
                read.bytes(&a.bytes, a.ty);
            }
            let mut write = vaccel::Args::new();
            for a in outs.iter_mut() {
                write.bytes_mut(&mut a.bytes, a.ty);
            }
            if resource {
                let lib = vaccel::Resource::from_path(&library, vaccel::ResourceType::Lib)?;
                sess.register(&lib)?;
                sess.exec_with_resource(&lib, &symbol, &mut read, &mut write)?;
                sess.unregister(&lib)?;
            } else {
                sess.exec(&library, &symbol, &mut read, &mut write)?;
            }
            drop(write);
            for (i, a) in outs.iter().enumerate() {
                println!("out[{i}] {}: {}", a.elem, show(a));
            }
            sess.release()?;
        }
    }
    Ok(())
}
