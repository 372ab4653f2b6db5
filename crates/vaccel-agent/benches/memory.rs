//! Agent memory (a benchmark, not a test): RSS of a real `vaccel-agent` process with 100
//! idle tenants, with 16 tenants classifying with the same uploaded model, and after they
//! all disconnect — each next to the idle agent's RSS measured in the same run.
//! Run: `cargo bench -p vaccel-agent --bench memory` (needs the assets: scripts/assets.sh).

use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vaccel_proto::{BlobInfo, Message, PROTO_MAJOR, PROTO_MINOR, WireArg, frame};

fn rss_mb(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Client {
    s: UnixStream,
    buf: Vec<u8>,
    id: u64,
}

impl Client {
    fn connect(path: &Path) -> Client {
        let s = UnixStream::connect(path).unwrap();
        let mut c = Client {
            s,
            buf: Vec::new(),
            id: 0,
        };
        assert!(matches!(
            c.call(&Message::Hello {
                major: PROTO_MAJOR,
                minor: PROTO_MINOR,
                features: 0,
                token: vec![]
            }),
            Message::HelloOk { .. }
        ));
        c
    }
    fn call(&mut self, m: &Message) -> Message {
        self.id += 1;
        self.s
            .write_all(&frame::encode_frames(
                m.kind() as u16,
                self.id,
                &m.encode(),
                1 << 20,
            ))
            .unwrap();
        loop {
            if let Some(n) = frame::check(&self.buf, 1 << 20).unwrap() {
                let (h, p) = frame::parse(&self.buf);
                let m = Message::decode(h.kind, p).unwrap();
                self.buf.drain(..n);
                return m;
            }
            let mut chunk = [0u8; 65536];
            let k = self.s.read(&mut chunk).unwrap();
            assert!(k > 0, "agent closed the connection");
            self.buf.extend_from_slice(&chunk[..k]);
        }
    }
    fn session(&mut self) -> i64 {
        match self.call(&Message::SessionCreate { hint: 0 }) {
            Message::SessionCreated { session } => session,
            other => panic!("{other:?}"),
        }
    }
    fn classify(&mut self, model: &[u8], image: &[u8]) -> String {
        let session = self.session();
        let offer = Message::ResourceOffer {
            resource_type: 2,
            blobs: vec![BlobInfo {
                name: "model.onnx".into(),
                sha256: Sha256::digest(model).into(),
                len: model.len() as u64,
            }],
        };
        let resource = match self.call(&offer) {
            Message::ResourceReady { resource } => resource,
            Message::ResourceOffered { upload, .. } => match self.call(&Message::BlobUpload {
                upload,
                index: 0,
                data: model.to_vec(),
            }) {
                Message::ResourceReady { resource } => resource,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        };
        assert!(matches!(
            self.call(&Message::Register { session, resource }),
            Message::Ok
        ));
        let arg = |t: u32, d: Vec<u8>| WireArg {
            arg_type: t,
            custom_type_id: 0,
            data: d,
        };
        let op = Message::Op {
            session,
            op: 3,
            read: vec![arg(28, image.to_vec())],
            write: vec![arg(26, vec![0; 256]), arg(26, vec![0; 512])],
        };
        match self.call(&op) {
            Message::OpDone { write } => {
                let t = &write[1].data;
                String::from_utf8_lossy(&t[..t.iter().position(|b| *b == 0).unwrap_or(t.len())])
                    .into_owned()
            }
            other => panic!("{other:?}"),
        }
    }
}

fn settle(pid: u32) -> f64 {
    std::thread::sleep(Duration::from_millis(1500));
    rss_mb(pid)
}

fn main() {
    let assets = std::env::var_os("VACCEL_ASSETS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/vaccel/assets/v1")
        });
    let model = std::fs::read(assets.join("models/efficientnet-lite0.onnx"))
        .expect("run scripts/assets.sh first");
    let image = std::fs::read(assets.join("images/coffee.png")).unwrap();
    let dir = std::env::temp_dir().join(format!("vaccel-mem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("agent.sock");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vaccel-agent"));
    if let Ok(v) = std::env::var("BENCH_MALLOC_ARENA_MAX") {
        cmd.env("MALLOC_ARENA_MAX", v);
    }
    let agent = cmd
        .args(["-a", &format!("unix://{}", sock.display())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed however this ends, so it never outlives the benchmark.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let agent = Kill(agent);
    let pid = agent.0.id();
    let t0 = Instant::now();
    while UnixStream::connect(&sock).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "agent did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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
    let _ = std::fs::remove_dir_all(&dir);
}
