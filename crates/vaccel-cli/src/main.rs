//! `vaccel`: the command-line face of the runtime. It links the built-in plugins and
//! honours `VACCEL_PLUGINS` like every other vAccel program.

#![forbid(unsafe_code)]

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::time::Instant;
use vaccel::{Config, OpType, Runtime, Session, plugin_type};

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
    },
}

fn parse_hint(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("{s:?} is not a number (decimal or 0x-hex)"))
}

fn runtime() -> Result<Runtime> {
    let config = Config::from_env()?;
    vaccel::logging::init(&config);
    Runtime::builder()
        .builtin(vaccel_plugin_exec::descriptor())
        .builtin(vaccel_plugin_noop::descriptor())
        .config(config)
        .build()
        .context("starting the vAccel runtime")
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
        Command::Noop { hint, iterations } => {
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
    }
    Ok(())
}
