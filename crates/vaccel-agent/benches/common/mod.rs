//! What the agent's benchmarks share: a blocking client that speaks the protocol over a
//! Unix socket, RSS of a process, the asset directory.

#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vaccel_proto::{BlobInfo, Message, PROTO_MAJOR, PROTO_MINOR, WireArg, frame};

/// The asset cache (`scripts/assets.sh`).
pub fn assets() -> PathBuf {
    std::env::var_os("VACCEL_ASSETS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/vaccel/assets/v1")
        })
}

pub fn rss_mb(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

pub struct Client {
    pub s: UnixStream,
    pub buf: Vec<u8>,
    pub id: u64,
}

impl Client {
    pub fn connect(path: &Path) -> Client {
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
    pub fn call(&mut self, m: &Message) -> Message {
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
    pub fn session(&mut self) -> i64 {
        match self.call(&Message::SessionCreate { hint: 0 }) {
            Message::SessionCreated { session } => session,
            other => panic!("{other:?}"),
        }
    }
    pub fn classify(&mut self, model: &[u8], image: &[u8]) -> String {
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

/// A real `vaccel-agent` process on a Unix socket in a temporary directory; killed (and
/// its directory removed) when dropped, so it never outlives the benchmark.
pub struct AgentProcess {
    child: std::process::Child,
    dir: PathBuf,
    /// The socket it serves.
    pub sock: PathBuf,
}

impl AgentProcess {
    /// Start `cmd` (the agent binary, with any options) listening on a fresh socket, and
    /// wait until it accepts connections.
    pub fn start(mut cmd: Command, tag: &str) -> AgentProcess {
        let dir = std::env::temp_dir().join(format!("vaccel-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("agent.sock");
        let child = cmd
            .args(["-a", &format!("unix://{}", sock.display())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let agent = AgentProcess { child, dir, sock };
        let t0 = Instant::now();
        while UnixStream::connect(&agent.sock).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "agent did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        agent
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
