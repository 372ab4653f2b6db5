//! Upstream's protocol vs ours on the same agent: each op through the session's plugin
//! (the rpc plugin: our protocol) and as an upstream guest would call it (ttrpc
//! `AgentService` on a connection of this process), interleaved in blocks, with the raw
//! Unix ping-pong of `bench noop` as the floor.

use super::noop::{PingPeers, ping_pong};
use super::{median, percentile};
use anyhow::{Context, Result, bail};
use std::time::{Duration, Instant};
use vaccel::ops::SgemmArgs;
use vaccel::{Args, OpType, Runtime, Session};
use vaccel_ttrpc::client::Client;
use vaccel_ttrpc::pb::vaccel::{genop, image, session};

type Guest = Client<vaccel_transport::Stream>;

/// A genop request from arguments built by the op's declared view (op type first).
fn genop_request(session: i64, op: OpType, read: &Args<'_>, write: &Args<'_>) -> genop::Request {
    let conv = |args: &Args<'_>| -> Vec<genop::Arg> {
        args.as_slice()
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let buf = args.bytes_of(i).unwrap_or_default().to_vec();
                genop::Arg {
                    size: buf.len() as u32,
                    buf,
                    arg_type: a.arg_type as i32,
                    custom_type_id: a.custom_type_id,
                    parts: 0,
                    part_no: 0,
                }
            })
            .collect()
    };
    let op_arg = genop::Arg {
        buf: vec![op.raw() as u8],
        size: 1,
        arg_type: vaccel::ArgType::Uint8.raw() as i32,
        ..Default::default()
    };
    genop::Request {
        session_id: session,
        read_args: std::iter::once(op_arg).chain(conv(read)).collect(),
        write_args: conv(write),
    }
}

fn time(f: impl FnOnce() -> Result<()>) -> Result<f64> {
    let t0 = Instant::now();
    f()?;
    Ok(t0.elapsed().as_secs_f64() * 1e6)
}

fn p50_p99(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (percentile(v, 0.5), percentile(v, 0.99))
}

pub fn run(
    rt: &Runtime,
    calls: usize,
    classify_runs: usize,
    image_path: Option<&std::path::Path>,
) -> Result<()> {
    let address = std::env::var("VACCEL_RPC_ADDRESS").context(
        "bench ttrpc compares with our protocol through the rpc plugin: set VACCEL_PLUGINS to it and VACCEL_RPC_ADDRESS to the agent",
    )?;
    let sess = Session::new(rt, 0)?;
    let plugin = sess.plugin_for(OpType::Noop).map_or("none", |p| p.name());
    if plugin != "rpc" {
        bail!(
            "the session's noop runs on plugin {plugin}, not rpc: set VACCEL_PLUGINS to the rpc plugin"
        );
    }
    let addr: vaccel_transport::Address = address.parse()?;
    let stream = vaccel_transport::connect(&addr, Duration::from_secs(10))
        .with_context(|| format!("connecting to {address}"))?;
    let mut g: Guest = Client::new(stream);
    let created: session::CreateResponse =
        g.call("CreateSession", &session::CreateRequest { flags: 0 })?;
    let gs = created.session_id;

    // noop: ours, ttrpc Genop(noop), raw ping-pong.
    let noop_req = genop_request(gs, OpType::Noop, &Args::new(), &Args::new());
    let mut ttrpc_noop = || -> Result<()> {
        g.call::<_, genop::Response>("Genop", &noop_req)?;
        Ok(())
    };
    let mut peers = PingPeers::start()?;
    for _ in 0..100 {
        sess.noop()?;
        ttrpc_noop()?;
    }
    ping_pong(&mut peers.process, 100)?;
    ping_pong(&mut peers.thread, 100)?;
    let (mut raw, mut raw_thread, mut ours, mut theirs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..10 {
        raw.extend(ping_pong(&mut peers.process, calls / 10)?);
        raw_thread.extend(ping_pong(&mut peers.thread, calls / 10)?);
        for _ in 0..calls / 10 {
            ours.push(time(|| Ok(sess.noop()?))?);
        }
        for _ in 0..calls / 10 {
            theirs.push(time(&mut ttrpc_noop)?);
        }
    }
    drop(peers);
    let ((r50, r99), (h50, h99)) = (p50_p99(&mut raw), p50_p99(&mut raw_thread));
    let ((o50, o99), (t50, t99)) = (p50_p99(&mut ours), p50_p99(&mut theirs));
    println!("noop round trip, {calls} calls each, interleaved (agent at {address}):");
    println!("  raw unix ping-pong, 64 B, peer process: p50 {r50:.1} µs  p99 {r99:.1} µs");
    println!("  raw unix ping-pong, 64 B, peer thread:  p50 {h50:.1} µs  p99 {h99:.1} µs");
    println!("  our protocol (rpc plugin) noop:         p50 {o50:.1} µs  p99 {o99:.1} µs");
    println!("  ttrpc Genop(noop), as upstream guests:  p50 {t50:.1} µs  p99 {t99:.1} µs");
    let floor = r50.min(h50);
    println!(
        "  ttrpc / ours: p50 {:.2}x  p99 {:.2}x;  over the faster raw p50: ours {:.2}x, ttrpc {:.2}x",
        t50 / o50,
        t99 / o99,
        o50 / floor,
        t50 / floor
    );

    // genop sgemm 64x64x64: the same arguments, built once by the op's view.
    let n = 64usize;
    let (a, b) = (vec![0.5f32; n * n], vec![2.0f32; n * n]);
    let mut c = vec![0f32; n * n];
    let mut view = SgemmArgs {
        m: n,
        n,
        k: n,
        alpha: 1.0,
        a: &a,
        lda: n,
        b: &b,
        ldb: n,
        beta: 0.0,
        c: &mut c,
        ldc: n,
    };
    let sgemm_req = view.with_args(|r, w| genop_request(gs, OpType::BlasSgemm, r, w));
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let sgemm_calls = (calls / 10).max(10);
    for _ in 0..10 {
        for _ in 0..sgemm_calls / 10 {
            ours.push(time(|| {
                let mut c = vec![0f32; n * n];
                sess.sgemm(
                    n as i64, n as i64, n as i64, 1.0, &a, n as i64, &b, n as i64, 0.0, &mut c,
                    n as i64,
                )?;
                Ok(())
            })?);
            theirs.push(time(|| {
                let r: genop::Response = g.call("Genop", &sgemm_req)?;
                anyhow::ensure!(r.write_args.len() == 1 && r.write_args[0].buf.len() == n * n * 4);
                Ok(())
            })?);
        }
    }
    let ((o50, o99), (t50, t99)) = (p50_p99(&mut ours), p50_p99(&mut theirs));
    println!("sgemm {n}x{n}x{n} (48 KiB in, 16 KiB out), {sgemm_calls} calls each:");
    println!("  our protocol: p50 {o50:.1} µs  p99 {o99:.1} µs");
    println!(
        "  ttrpc Genop:  p50 {t50:.1} µs  p99 {t99:.1} µs  ({:.2}x)",
        t50 / o50
    );

    // classify: median of interleaved runs.
    let path = image_path.map_or_else(
        || vaccel_builtins::assets_dir().join("images/chelsea.png"),
        std::path::Path::to_path_buf,
    );
    let img = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let classify_req = image::Request {
        session_id: gs,
        image: img.clone(),
    };
    let ours_text = sess.image_classify(&img)?.text;
    let r: image::Response = g.call("ImageClassification", &classify_req)?;
    let theirs_text =
        String::from_utf8_lossy(r.tags.split(|b| *b == 0).next().unwrap_or_default()).into_owned();
    anyhow::ensure!(
        ours_text == theirs_text,
        "answers differ: {ours_text:?} vs {theirs_text:?}"
    );
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..classify_runs.max(1) {
        ours.push(time(|| Ok(sess.image_classify(&img).map(|_| ())?))? / 1e3);
        theirs.push(
            time(|| {
                g.call::<_, image::Response>("ImageClassification", &classify_req)?;
                Ok(())
            })? / 1e3,
        );
    }
    let (o, t) = (median(&mut ours), median(&mut theirs));
    println!(
        "classify {} ({} bytes), median of {} runs each: ours {o:.2} ms, ttrpc {t:.2} ms ({:.3}x); both: {ours_text}",
        path.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        img.len(),
        classify_runs.max(1),
        t / o
    );
    sess.release()?;
    Ok(())
}
