//! `vaccel noop`: run the noop op through a session (checks that dispatch works).

use anyhow::Result;
use std::time::Instant;
use vaccel::{OpType, Runtime, Session};

/// `vaccel noop` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Session hint bits (e.g. 0x100 for DEBUG).
    #[arg(long, default_value = "0", value_parser = super::parse_hint)]
    hint: u32,
    /// How many times.
    #[arg(long, short = 'n', default_value_t = 1)]
    iterations: u64,
    /// Pause between calls, and report every call's result instead of stopping at the
    /// first error (for watching a remote agent go away and come back).
    #[arg(long, value_name = "MS")]
    watch: Option<u64>,
}

/// Run `vaccel noop`.
///
/// # Errors
/// No plugin for the hint; the op's error (unless watching).
pub fn run(rt: &Runtime, a: Args) -> Result<()> {
    let sess = Session::new(rt, a.hint)?;
    if let Some(ms) = a.watch {
        for i in 0..a.iterations {
            match sess.noop() {
                Ok(()) => println!("call {i}: ok"),
                Err(e) => println!("call {i}: error {}: {e}", e.code()),
            }
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        let _ = sess.release();
        return Ok(());
    }
    let plugin = sess
        .plugin_for(OpType::Noop)
        .map_or("none", |p| p.name())
        .to_string();
    let t0 = Instant::now();
    for _ in 0..a.iterations {
        sess.noop()?;
    }
    let took = t0.elapsed();
    println!(
        "noop: session {} ran {} call(s) on plugin {plugin} in {:.3} ms ({:.0} ns/call)",
        sess.id(),
        a.iterations,
        took.as_secs_f64() * 1e3,
        took.as_nanos() as f64 / a.iterations.max(1) as f64
    );
    sess.release()?;
    Ok(())
}
