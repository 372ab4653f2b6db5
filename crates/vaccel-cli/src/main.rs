//! `vaccel`: the command-line face of the runtime. It links the built-in plugins and
//! honours `VACCEL_PLUGINS` like every other vAccel program. Each command lives in its
//! own module under `cmd/`, the benchmarks under `bench/`.

#![forbid(unsafe_code)]

mod assets;
mod bench;
mod cmd;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use vaccel::Runtime;

#[derive(Parser)]
#[command(
    name = "vaccel",
    version = concat!(
        env!("CARGO_PKG_VERSION"),
        " (vAccel API ",
        vaccel::upstream_api_version!(),
        ")"
    ),
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
    Noop(cmd::noop::Args),
    /// Classify photos with an ImageNet model (default: EfficientNet-Lite0 from the asset
    /// cache, fetched on first use).
    Classify(cmd::classify::Args),
    /// Detect text lines in an image; writes a copy with the boxes drawn.
    Detect(cmd::detect::Args),
    /// Fetch and build the default models, labels and photos (pinned, checksummed, cached).
    Assets,
    /// Write an image as the classifier's input tensor (NCHW float32, little-endian:
    /// shorter side 256, centre crop 224, (x − 127) / 128), for programs that run models
    /// on tensors.
    Preprocess(cmd::preprocess::Args),
    /// Benchmarks (figures printed next to a baseline measured in the same run).
    #[command(subcommand)]
    Bench(bench::Bench),
    /// Multiply random M×K and K×N matrices (row-major sgemm) and print GFLOP/s.
    Sgemm(cmd::sgemm::Args),
    /// Call `int SYMBOL(read, nr_read, write, nr_write)` in a shared library (the exec op).
    Exec(cmd::exec::Args),
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
    // Commands that need no runtime.
    match &cli.command {
        Command::Assets => return assets::fetch(false),
        Command::Preprocess(a) => return cmd::preprocess::run(a),
        Command::Bench(b) => {
            if let Some(socket) = bench::echo_peer(b) {
                return bench::run_echo_peer(socket);
            }
        }
        _ => {}
    }
    let rt = runtime()?;
    match cli.command {
        Command::Plugins => cmd::plugins::run(&rt),
        Command::Noop(a) => cmd::noop::run(&rt, a)?,
        Command::Classify(a) => cmd::classify::run(&rt, a)?,
        Command::Detect(a) => cmd::detect::run(&rt, a)?,
        Command::Sgemm(a) => cmd::sgemm::run(&rt, a)?,
        Command::Exec(a) => cmd::exec::run(&rt, a)?,
        Command::Bench(b) => bench::run(&rt, b)?,
        Command::Assets | Command::Preprocess(_) => unreachable!("run above"),
    }
    Ok(())
}
