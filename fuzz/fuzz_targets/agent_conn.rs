//! Drive a whole agent connection, in memory: arbitrary bytes (after a valid Hello when
//! the first byte is odd, or — upstream's protocol — after a valid ttrpc CreateSession
//! request when it is 2 modulo 4) go into the connection state machine through an in-memory pipe,
//! while everything the agent answers is read. The connection must end (the input ends,
//! or the agent closes it) without a panic or a hang, and when it has, everything it was
//! charged must be given back: the agent's memory accounting is back at zero.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vaccel_agent::{Agent, AgentConfig};
use vaccel_proto::{Message, PROTO_MAJOR, PROTO_MINOR, frame};
use vaccel_transport::server::Peer;

fn agent() -> &'static (tokio::runtime::Runtime, Agent) {
    static AGENT: OnceLock<(tokio::runtime::Runtime, Agent)> = OnceLock::new();
    AGENT.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let mut cfg = AgentConfig::default();
        cfg.workers = 2;
        cfg.limits.memory_budget = 256 << 20;
        cfg.limits.tenant_memory = 64 << 20;
        cfg.limits.handshake_timeout = Duration::from_secs(1);
        cfg.limits.write_timeout = Duration::from_secs(1);
        cfg.limits.idle_timeout = Some(Duration::from_secs(1));
        let vrt = vaccel_builtins::register(vaccel::Runtime::builder())
            .build()
            .expect("vAccel runtime");
        let agent = Agent::new(vrt, cfg).expect("agent");
        (rt, agent)
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (rt, agent) = agent();
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let mut input = Vec::new();
    if first & 3 == 2 {
        use vaccel_ttrpc::Message as _;
        let req = vaccel_ttrpc::pb::ttrpc::Request {
            service: vaccel_ttrpc::SERVICE.into(),
            method: "CreateSession".into(),
            payload: vaccel_ttrpc::pb::vaccel::session::CreateRequest { flags: 0 }
                .encode_to_vec()
                .into(),
            ..Default::default()
        }
        .encode_to_vec();
        let h = vaccel_ttrpc::framing::Header {
            length: req.len() as u32,
            stream_id: 1,
            kind: vaccel_ttrpc::framing::TYPE_REQUEST,
            flags: 0,
        };
        input.extend_from_slice(&h.encode());
        input.extend_from_slice(&req);
    } else if first & 1 == 1 {
        let hello = Message::Hello {
            major: PROTO_MAJOR,
            minor: PROTO_MINOR,
            features: 0,
            token: vec![],
        };
        input = frame::encode_frames(hello.kind() as u16, 0, &hello.encode(), 1 << 20);
    }
    input.extend_from_slice(rest);
    rt.block_on(async {
        let (client, server) = tokio::io::duplex(64 << 10);
        let peer = Peer {
            addr: "fuzz".into(),
            key: "fuzz".into(),
        };
        let serve = agent.connection(Box::new(server), peer).expect("under the caps");
        let conn = tokio::spawn(serve);
        let (mut rd, mut wr) = tokio::io::split(client);
        let write = async move {
            let _ = wr.write_all(&input).await;
            let _ = wr.shutdown().await;
        };
        let read = async move {
            let mut sink = vec![0u8; 64 << 10];
            while matches!(rd.read(&mut sink).await, Ok(n) if n > 0) {}
        };
        let both = async { tokio::join!(write, read) };
        tokio::time::timeout(Duration::from_secs(20), both)
            .await
            .expect("the connection neither ended nor was closed");
        tokio::time::timeout(Duration::from_secs(20), conn)
            .await
            .expect("the connection's task did not end")
            .expect("the connection's task panicked");
    });
    assert_eq!(
        agent.memory_used(),
        0,
        "a finished connection left memory charged"
    );
});
