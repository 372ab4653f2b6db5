//! The harness the agent's integration tests share: a real agent in-process on a
//! temporary Unix socket, a plain blocking client that speaks frames, and a test plugin
//! whose noop takes a known time.

#![allow(dead_code, unreachable_pub, missing_docs)]

mod ops;
pub use ops::*;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;
use vaccel_agent::{Agent, AgentConfig};
use vaccel_proto::{Message, frame};
use vaccel_transport::Address;
use vaccel_transport::server::Listener;

pub type Running = (
    PathBuf,
    tempfile::TempDir,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
);

pub fn start(config: AgentConfig) -> Running {
    start_agent(config).0
}

/// A plugin whose noop takes [`Slow::TIME`]: keeps a worker busy for a known time, so
/// tests do not depend on how fast this machine computes or reads.
#[derive(Debug)]
pub struct Slow;

impl Slow {
    pub const TIME: Duration = Duration::from_millis(100);
}

impl vaccel_plugin::Plugin for Slow {
    fn init(_host: &vaccel_plugin::sdk::Host) -> vaccel_plugin::sdk::Result<Self> {
        Ok(Slow)
    }
    fn noop(&self, _ctx: &vaccel_plugin::Ctx<'_>) -> vaccel_plugin::sdk::Result<()> {
        std::thread::sleep(Slow::TIME);
        Ok(())
    }
}

vaccel_plugin::declare_plugin! {
    plugin: Slow,
    name: "slow",
    description: "test plugin: noop sleeps",
    plugin_type: vaccel_plugin::plugin_type::CPU,
    ops: vaccel_plugin::OpSet::of(&[vaccel_plugin::OpType::Noop]),
}

/// An agent whose noop op sleeps [`Slow::TIME`].
pub fn start_slow(config: AgentConfig) -> (Running, std::sync::Arc<Agent>) {
    start_agent_with(config, |b| b.builtin(descriptor()))
}

pub fn start_agent(config: AgentConfig) -> (Running, std::sync::Arc<Agent>) {
    start_agent_with(config, |b| b)
}

pub fn start_agent_with(
    config: AgentConfig,
    first: impl FnOnce(vaccel::RuntimeBuilder) -> vaccel::RuntimeBuilder,
) -> (Running, std::sync::Arc<Agent>) {
    let (running, agent, _) = start_agent_full(config, first, false);
    (running, agent)
}

/// An agent that also serves metrics on a TCP port of 127.0.0.1 (returned).
pub fn start_agent_with_metrics(config: AgentConfig) -> (Running, std::sync::Arc<Agent>, u16) {
    let (running, agent, port) = start_agent_full(config, |b| b, true);
    (running, agent, port.expect("metrics port"))
}

fn start_agent_full(
    config: AgentConfig,
    first: impl FnOnce(vaccel::RuntimeBuilder) -> vaccel::RuntimeBuilder,
    metrics: bool,
) -> (Running, std::sync::Arc<Agent>, Option<u16>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.sock");
    let addr = Address::Unix(path.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let vrt = vaccel_builtins::register(first(vaccel::Runtime::builder()))
        .build()
        .unwrap();
    let agent = std::sync::Arc::new(Agent::new(vrt, config).unwrap());
    let a = agent.clone();
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = Listener::bind(&addr).await.unwrap();
            let m = if metrics {
                Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
            } else {
                None
            };
            let port = m.as_ref().map(|m| m.local_addr().unwrap().port());
            ready_tx.send(port).unwrap();
            a.run(vec![l], m, async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
    });
    let port = ready_rx.recv_timeout(Duration::from_secs(20)).unwrap();
    ((path, dir, stop_tx, handle), agent, port)
}

pub struct Client {
    pub s: UnixStream,
    pub buf: Vec<u8>,
}

impl Client {
    pub fn connect(path: &Path) -> Client {
        let mut c = Client::raw(path);
        c.send(0, &hello(vec![]));
        assert!(matches!(c.recv().1, Message::HelloOk { .. }));
        c
    }

    /// Connected, nothing sent.
    pub fn raw(path: &Path) -> Client {
        let s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Client { s, buf: Vec::new() }
    }

    /// Everything the agent sends until it closes the connection (a read that times out
    /// fails the test).
    pub fn last_words(&mut self) -> Vec<Message> {
        let mut got = Vec::new();
        loop {
            while let Some(n) = frame::check(&self.buf, 1 << 20).unwrap() {
                let (h, p) = frame::parse(&self.buf);
                got.push(Message::decode(h.kind, p).unwrap());
                self.buf.drain(..n);
            }
            let mut chunk = [0u8; 65536];
            match self.s.read(&mut chunk) {
                Ok(0) => return got,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
                Err(e) => panic!("the agent neither answered nor closed: {e}"),
            }
        }
    }

    /// The last message the agent sent before closing the connection.
    pub fn refusal_message(&mut self) -> Message {
        self.last_words().pop().expect("a message before closing")
    }

    /// The one `Error` the agent sends before closing the connection.
    pub fn refusal(&mut self) -> (i32, String) {
        match self.last_words().as_slice() {
            [Message::Error { code, message }] => (*code, message.clone()),
            other => panic!("expected one Error, then the connection closed: {other:?}"),
        }
    }
    pub fn send(&mut self, id: u64, m: &Message) {
        self.s
            .write_all(&frame::encode_frames(
                m.kind() as u16,
                id,
                &m.encode(),
                1 << 20,
            ))
            .unwrap();
    }
    pub fn recv(&mut self) -> (u64, Message) {
        loop {
            if let Some(n) = frame::check(&self.buf, 1 << 20).unwrap() {
                let (h, p) = frame::parse(&self.buf);
                let m = Message::decode(h.kind, p).unwrap();
                let id = h.id;
                self.buf.drain(..n);
                return (id, m);
            }
            let mut chunk = [0u8; 65536];
            let k = self.s.read(&mut chunk).unwrap();
            assert!(k > 0, "agent closed the connection");
            self.buf.extend_from_slice(&chunk[..k]);
        }
    }
    pub fn session(&mut self) -> i64 {
        self.send(1, &Message::SessionCreate { hint: 0 });
        match self.recv() {
            (1, Message::SessionCreated { session }) => session,
            other => panic!("{other:?}"),
        }
    }
}

pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
