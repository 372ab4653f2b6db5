//! Agent memory (a benchmark, not a test): RSS of a real `vaccel-agent` process with 100
//! idle tenants, with 16 tenants classifying with the same uploaded model, and after they
//! all disconnect — each next to the idle agent's RSS measured in the same run.
//! Run: `cargo bench -p vaccel-agent --bench memory` (needs the assets: scripts/assets.sh).

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;
use vaccel_proto::Message;

fn settle(pid: u32) -> f64 {
    std::thread::sleep(Duration::from_millis(1500));
    rss_mb(pid)
}

fn main() {
    let assets = assets();
    let model = std::fs::read(assets.join("models/efficientnet-lite0.onnx"))
        .expect("run scripts/assets.sh first");
    let image = std::fs::read(assets.join("images/coffee.png")).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vaccel-agent"));
    if let Ok(v) = std::env::var("BENCH_MALLOC_ARENA_MAX") {
        cmd.env("MALLOC_ARENA_MAX", v);
    }
    let agent = AgentProcess::start(cmd, "mem");
    let (sock, pid) = (agent.sock.clone(), agent.pid());
    // Warm the agent (one tenant, one op), so the idle baseline includes a started runtime.
    {
        let mut c = Client::connect(&sock);
        let s = c.session();
        assert!(matches!(
            c.call(&Message::Op {
                session: s,
                op: 0,
                read: vec![],
                write: vec![]
            }),
            Message::OpDone { .. }
        ));
    }
    let cold = settle(pid);
    // Warm-up: one tenant classifies with the model and leaves, so ONNX Runtime (loaded
    // once per process, never unloaded) and the allocator's arenas are in the baseline.
    {
        let mut c = Client::connect(&sock);
        let text = c.classify(&model, &image);
        assert!(text.ends_with("% class 967"), "{text}");
    }
    let idle = settle(pid);
    eprintln!("cold agent: {cold:.1} MB, warm idle agent: {idle:.1} MB");

    let mut idle_tenants: Vec<Client> = (0..100).map(|_| Client::connect(&sock)).collect();
    for c in idle_tenants.iter_mut() {
        c.session();
    }
    let with_idle = settle(pid);
    eprintln!("100 idle tenants: {with_idle:.1} MB");
    drop(idle_tenants);
    let after_idle = settle(pid);

    let mut tenants = Vec::new();
    let mut first = 0.0;
    for i in 0..16 {
        let mut c = Client::connect(&sock);
        eprintln!("tenant {i}: classifying");
        let text = c.classify(&model, &image);
        // Only the model is registered (no labels resource): class 967 is espresso.
        assert!(text.ends_with("% class 967"), "{text}");
        tenants.push(c);
        if i == 0 {
            first = settle(pid);
        }
    }
    let sixteen = settle(pid);
    drop(tenants);
    let end = settle(pid);

    println!("agent memory (RSS, MB), same run:");
    println!("  agent before any model ran:            {cold:.1}");
    println!("  idle agent after one tenant (baseline): {idle:.1}");
    println!(
        "  100 idle tenants connected:            {with_idle:.1}  (+{:.1} MB, goal < 50)",
        with_idle - idle
    );
    println!("  after they disconnect:                 {after_idle:.1}");
    println!("  1 tenant classifying with the model:   {first:.1}");
    println!(
        "  16 tenants, same model:                {sixteen:.1}  (+{:.2} MB per extra tenant, goal < 5)",
        (sixteen - first) / 15.0
    );
    println!(
        "  after all disconnect:                  {end:.1}  ({:+.1}% vs the idle agent, goal within 10%)",
        100.0 * (end - idle) / idle
    );
    drop(agent);
}
