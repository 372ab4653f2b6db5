//! A well-behaved tenant under attack (a benchmark, not a test): its noop and classify
//! latency (p50 / p99) through a real `vaccel-agent` process while a hostile client — a
//! process of its own, so another peer, as an attacking VM would be — runs
//! each attack of docs/SECURITY.md, next to the same figures with nobody attacking —
//! quiet rounds interleaved with the attacks in the same run, the baseline being the median
//! of the quiet rounds. Also the agent's RSS at the end of each round, against its budget.
//! Goal: under any one attack, the good tenant's p99 at most 3x quiet, the agent within its
//! memory budget. Two rounds with no attacker but threads burning CPU beside show what
//! sharing the cores costs by itself, which no agent can prevent.
//!
//! Run: `cargo bench -p vaccel-agent --bench hostile` (needs the assets: scripts/assets.sh).
//! `BENCH_SECONDS` sets each round's length (default 4); `BENCH_AGENT` (and
//! `BENCH_AGENT_ARGS`) run another agent binary, such as an older build, for comparison.

mod common;
#[path = "../tests/common/ops.rs"]
mod ops;

use common::*;
use ops::{classify, noop, sgemm};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vaccel_proto::{BlobUploadHead, FLAG_MORE, Header, Kind, Message, frame};

const BUDGET_MB: u64 = 1024;
const TENANT_MB: u64 = 256;

fn frames(id: u64, m: &Message) -> Vec<u8> {
    frame::encode_frames(m.kind() as u16, id, &m.encode(), 1 << 20)
}

/// A PNG of `w`×`h` noise (slow to decode: nothing compresses).
fn noise_png(w: u32, h: u32) -> Vec<u8> {
    let mut x = 0x9e37_79b9u32;
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let b = x.to_le_bytes();
        image::Rgb([b[0], b[1], b[2]])
    });
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A 1×1 PNG whose header claims `w`×`h` pixels (CRC fixed, so only the size is wrong).
fn lying_png(w: u32, h: u32) -> Vec<u8> {
    let mut p = noise_png(1, 1);
    p[16..20].copy_from_slice(&w.to_be_bytes());
    p[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32fast::hash(&p[12..29]);
    p[29..33].copy_from_slice(&crc.to_be_bytes());
    p
}

/// An attacker: threads hammering the agent until `stop`, then their sockets shut down.
struct Attack {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    sockets: Vec<UnixStream>,
}

impl Attack {
    fn none() -> Attack {
        Attack {
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            sockets: Vec::new(),
        }
    }

    /// `n` connections (after Hello and a session) each with a writer sending `request`
    /// over and over and, if `read`, a reader throwing the replies away.
    fn pipelined(sock: &std::path::Path, n: usize, request: &Message, read: bool) -> Attack {
        let mut a = Attack::none();
        for _ in 0..n {
            let mut c = Client::connect(sock);
            let s = c.session();
            let bytes = frames(1, &retarget(request, s));
            let mut w = c.s.try_clone().unwrap();
            a.sockets.push(c.s.try_clone().unwrap());
            let stop = a.stop.clone();
            a.threads.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) && w.write_all(&bytes).is_ok() {}
            }));
            if read {
                let stop = a.stop.clone();
                let mut r = c.s;
                a.threads.push(std::thread::spawn(move || {
                    let mut sink = vec![0u8; 1 << 16];
                    while !stop.load(Ordering::Relaxed)
                        && matches!(r.read(&mut sink), Ok(k) if k > 0)
                    {}
                }));
            }
        }
        a
    }

    /// `n` connections each streaming a request that never ends (1 MiB frames, all MORE).
    fn hoarders(sock: &std::path::Path, n: usize) -> Attack {
        let mut a = Attack::none();
        let chunk = vec![0u8; 1 << 20];
        for i in 0..n {
            let c = Client::connect(sock);
            let mut w = c.s.try_clone().unwrap();
            a.sockets.push(c.s);
            let (stop, chunk) = (a.stop.clone(), chunk.clone());
            a.threads.push(std::thread::spawn(move || {
                // Half reassemble an op, half stream a blob upload nobody offered.
                let kind = if i % 2 == 0 {
                    Kind::Op
                } else {
                    Kind::BlobUpload
                };
                let head = BlobUploadHead {
                    upload: 1,
                    index: 0,
                    len: u64::MAX / 2,
                }
                .encode();
                let h = |len: usize| {
                    Header {
                        len: len as u32,
                        kind: kind as u16,
                        flags: FLAG_MORE,
                        id: 7,
                    }
                    .encode()
                };
                let _ = w
                    .write_all(&h(head.len()))
                    .and_then(|()| w.write_all(&head));
                while !stop.load(Ordering::Relaxed)
                    && w.write_all(&h(chunk.len()))
                        .and_then(|()| w.write_all(&chunk))
                        .is_ok()
                {}
            }));
        }
        a
    }

    /// Connections opened until the agent refuses them, and half-sent Hellos on each.
    fn connection_flood(sock: &std::path::Path) -> Attack {
        let mut a = Attack::none();
        let partial = Header {
            len: 4000,
            kind: Kind::Hello as u16,
            flags: 0,
            id: 0,
        }
        .encode();
        for _ in 0..2000 {
            let Ok(mut s) = UnixStream::connect(sock) else {
                break;
            };
            let _ = s.write_all(&partial).and_then(|()| s.write_all(&[0; 3000]));
            a.sockets.push(s);
        }
        a
    }

    /// `n` threads burning CPU without ever talking to the agent: the interference any
    /// busy neighbour on the same cores causes, which no agent can prevent.
    fn cpu_hog(n: usize) -> Attack {
        let mut a = Attack::none();
        for _ in 0..n {
            let stop = a.stop.clone();
            a.threads.push(std::thread::spawn(move || {
                let mut x = 1u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..10_000 {
                        x = std::hint::black_box(
                            x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1),
                        );
                    }
                }
            }));
        }
        a
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for s in &self.sockets {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// The same op on another session.
fn retarget(m: &Message, session: i64) -> Message {
    match m.clone() {
        Message::Op {
            op, read, write, ..
        } => Message::Op {
            session,
            op,
            read,
            write,
        },
        other => other,
    }
}

/// The good tenant: noop and classify alternately for `secs`; their latencies in ms.
fn measure(good: &mut Client, session: i64, image: &[u8], secs: f64) -> (Vec<f64>, Vec<f64>) {
    let (mut noops, mut classes) = (Vec::new(), Vec::new());
    let until = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < until {
        let t0 = Instant::now();
        assert!(matches!(good.call(&noop(session)), Message::OpDone { .. }));
        noops.push(t0.elapsed().as_secs_f64() * 1e3);
        let t0 = Instant::now();
        match good.call(&classify(session, image)) {
            Message::OpDone { write } => {
                assert!(write[1].data.first().is_some_and(|b| *b != 0), "no answer");
            }
            other => panic!("the good tenant was refused: {other:?}"),
        }
        classes.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    (noops, classes)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Noop p50, p99 and classify p50, p99.
type Figures = (f64, f64, f64, f64);

fn figures((mut n, mut c): (Vec<f64>, Vec<f64>)) -> Figures {
    (
        pct(&mut n, 0.5),
        pct(&mut n, 0.99),
        pct(&mut c, 0.5),
        pct(&mut c, 0.99),
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    pct(&mut v, 0.5)
}

fn main() {
    let secs: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4.0);
    let image =
        std::fs::read(assets().join("images/coffee.png")).expect("run scripts/assets.sh first");
    let heavy = noise_png(3000, 2000);
    let lying = lying_png(16_000, 16_000);
    // BENCH_AGENT runs another agent binary (an older build, for comparison), with
    // BENCH_AGENT_ARGS instead of the limits below.
    let bin = std::env::var("BENCH_AGENT").unwrap_or(env!("CARGO_BIN_EXE_vaccel-agent").into());
    let mut cmd = Command::new(bin);
    match std::env::var("BENCH_AGENT_ARGS") {
        Ok(args) => {
            cmd.args(args.split_whitespace());
        }
        Err(_) => {
            cmd.args([
                "--memory-budget",
                &format!("{BUDGET_MB}M"),
                "--tenant-memory",
                &format!("{TENANT_MB}M"),
                "--write-timeout",
                "2",
            ]);
        }
    }

    // Each attack with one hostile connection (the goal's "single hostile tenant"), then
    // with four from the same peer.
    type Start = Box<dyn Fn(&std::path::Path, usize) -> Attack>;
    let attacks: Vec<(&str, Start)> = vec![
        (
            "noop flood, pipelined",
            Box::new(|s, n| Attack::pipelined(s, n, &noop(0), true)),
        ),
        (
            "heavy classify, 6 MP noise PNG",
            Box::new({
                let heavy = heavy.clone();
                move |s, n| Attack::pipelined(s, n, &classify(0, &heavy), true)
            }),
        ),
        (
            "lying PNG header, 256 MP claimed",
            Box::new({
                let lying = lying.clone();
                move |s, n| Attack::pipelined(s, n, &classify(0, &lying), true)
            }),
        ),
        (
            "memory hoarding, endless requests",
            Box::new(Attack::hoarders),
        ),
        (
            "deaf, 256 KiB replies unread",
            Box::new(|s, n| Attack::pipelined(s, n, &sgemm(0, 256, 256), false)),
        ),
    ];
    type Run<'a> = Box<dyn Fn(&std::path::Path) -> Attack + 'a>;
    let hogs: Vec<(String, Run<'_>)> = [1usize, 2]
        .map(|n| {
            let run: Run<'_> = Box::new(move |_| Attack::cpu_hog(n));
            (
                format!(
                    "no attack, {n} CPU-burning thread{} beside",
                    if n > 1 { "s" } else { "" }
                ),
                run,
            )
        })
        .into_iter()
        .collect();
    let runs: Vec<(String, Run<'_>)> = hogs
        .into_iter()
        .chain(attacks.iter().flat_map(|(name, start)| {
            [1usize, 4].map(|n| {
                let label = format!("{name} ({n} conn{})", if n > 1 { "s" } else { "" });
                let run: Run<'_> = Box::new(move |s| start(s, n));
                (label, run)
            })
        }))
        .chain(std::iter::once((
            "connection flood, half-sent Hellos".to_string(),
            Box::new(Attack::connection_flood) as Run<'_>,
        )))
        .collect();
    // The attacker: this program again, in a process of its own (another peer, as an
    // attacking VM would be), running attack BENCH_ATTACK until its stdin closes.
    if let Ok(i) = std::env::var("BENCH_ATTACK") {
        let sock = std::path::PathBuf::from(std::env::var("BENCH_SOCK").expect("BENCH_SOCK"));
        let i: usize = i.parse().expect("attack index");
        let attack = (runs[i].1)(&sock);
        println!("ready");
        std::io::stdout().flush().unwrap();
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        attack.stop();
        return;
    }

    let agent = AgentProcess::start(cmd, "hostile");
    let sock = agent.sock.clone();
    let mut good = Client::connect(&sock);
    let gs = good.session();
    measure(&mut good, gs, &image, 1.0);
    let mut quiet = Vec::new();
    let mut rows = Vec::new();
    for (i, (name, _)) in runs.iter().enumerate() {
        quiet.push(figures(measure(&mut good, gs, &image, secs)));
        eprintln!("attack: {name}");
        let mut attacker = Command::new(std::env::current_exe().unwrap())
            .env("BENCH_ATTACK", i.to_string())
            .env("BENCH_SOCK", &sock)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("starting the attacker");
        let mut ready = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(attacker.stdout.take().unwrap()),
            &mut ready,
        )
        .unwrap();
        assert_eq!(ready.trim(), "ready", "the attacker did not start");
        let under = figures(measure(&mut good, gs, &image, secs));
        let mem = rss_mb(agent.pid());
        drop(attacker.stdin.take());
        let _ = attacker.wait();
        rows.push((name.clone(), under, mem));
    }
    quiet.push(figures(measure(&mut good, gs, &image, secs)));
    let q = (
        median(quiet.iter().map(|q| q.0).collect()),
        median(quiet.iter().map(|q| q.1).collect()),
        median(quiet.iter().map(|q| q.2).collect()),
        median(quiet.iter().map(|q| q.3).collect()),
    );
    println!(
        "good tenant under attack (ms; quiet = median of {} interleaved quiet rounds of {secs} s; agent budget {BUDGET_MB} MB, {TENANT_MB} MB a tenant):",
        quiet.len()
    );
    println!(
        "  {:<48} noop p50 {:>7.3} p99 {:>7.3}   classify p50 {:>7.1} p99 {:>7.1}",
        "quiet", q.0, q.1, q.2, q.3
    );
    let (mut worst, mut floor): (f64, f64) = (0.0, 0.0);
    for (name, r, mem) in &rows {
        let ratio = (r.1 / q.1).max(r.3 / q.3);
        if name.contains("(1 conn)") {
            worst = worst.max(ratio);
        }
        if name.starts_with("no attack") {
            floor = floor.max(ratio);
        }
        println!(
            "  {name:<48} noop p50 {:>7.3} p99 {:>7.3}   classify p50 {:>7.1} p99 {:>7.1}   p99 x{ratio:.1}  agent RSS {mem:.0} MB",
            r.0, r.1, r.2, r.3
        );
    }
    println!("  worst p99 ratio to quiet under one hostile connection: {worst:.1}x (goal <= 3)");
    println!(
        "  (the same ratio with no attacker, only CPU-burning threads beside: {floor:.1}x — what sharing the cores costs by itself)"
    );
    drop(agent);
}
