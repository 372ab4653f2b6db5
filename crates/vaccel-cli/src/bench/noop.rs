//! P2: noop round trips through the session's plugin vs raw Unix-socket ping-pong.

use super::percentile;
use anyhow::{Context, Result};
use std::time::Instant;
use vaccel::{OpType, Runtime, Session};

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

pub fn echo_peer(socket: &std::path::Path) -> Result<()> {
    echo(std::os::unix::net::UnixStream::connect(socket)?);
    Ok(())
}

/// Round trips of 64 bytes to an echoing peer.
pub(super) fn ping_pong(a: &mut std::os::unix::net::UnixStream, calls: usize) -> Result<Vec<f64>> {
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
pub(super) struct PingPeers {
    pub(super) thread: std::os::unix::net::UnixStream,
    pub(super) process: std::os::unix::net::UnixStream,
    child: std::process::Child,
}

impl PingPeers {
    pub(super) fn start() -> Result<PingPeers> {
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

pub fn run(rt: &Runtime, calls: usize) -> Result<()> {
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
