//! P5: many client processes classifying at once, in-process vs through the session's plugin.

use crate::assets;
use crate::cmd::read;
use anyhow::{Context, Result};
use std::time::Instant;
use vaccel::{Runtime, Session};

/// A `bench clients` child: warm up, say "ready", wait for a line on stdin, classify for
/// `seconds`, print how many classifications finished.
pub fn client_loop(rt: &Runtime, seconds: u64) -> Result<()> {
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

pub fn run(clients: usize, seconds: u64) -> Result<()> {
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
