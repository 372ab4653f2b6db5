//! The agent against hostile clients (docs/SECURITY.md): for every limit, the attack that
//! tries to break it and what must happen instead — the attacker is refused or held back
//! with a clear error, the agent's memory stays within its budget, and a well-behaved
//! client keeps getting correct answers the whole time.

mod common;

use common::*;
use std::io::Write;
use std::time::{Duration, Instant};
use vaccel_agent::AgentConfig;
use vaccel_proto::{FLAG_MORE, Header, Kind, Message, frame};

const MIB: u64 = 1 << 20;

/// A well-behaved client: asserts that it gets the right answer now.
struct Good {
    c: Client,
    session: i64,
    next: u64,
}

impl Good {
    fn new(path: &std::path::Path) -> Good {
        let mut c = Client::connect(path);
        let session = c.session();
        Good {
            c,
            session,
            next: 1000,
        }
    }

    fn check(&mut self) {
        self.next += 1;
        self.c.send(self.next, &sgemm(self.session, 8, 8));
        let (id, m) = self.c.recv();
        assert_eq!(id, self.next, "the good client got someone else's reply");
        assert!(is_sgemm_answer(&m, 64), "the good client got {m:?}");
    }
}

fn header(len: u32, kind: Kind, flags: u16, id: u64) -> [u8; 16] {
    Header {
        len,
        kind: kind as u16,
        flags,
        id,
    }
    .encode()
}

#[test]
fn before_hello_a_connection_holds_one_small_frame() {
    let ((path, _dir, stop, handle), agent) = start_agent(AgentConfig::default());
    let mut good = Good::new(&path);
    // A frame larger than a Hello could be: refused from its header, nothing buffered.
    let mut big = Client::raw(&path);
    big.s
        .write_all(&header(1 << 20, Kind::Hello, 0, 0))
        .unwrap();
    let (_, why) = big.refusal();
    assert!(
        why.contains("before Hello") && why.contains("exceeds the maximum of 4096"),
        "{why}"
    );
    // Anything but Hello first, or a Hello split over frames.
    let mut ping = Client::raw(&path);
    ping.send(1, &Message::Ping);
    assert!(ping.refusal().1.contains("must be Hello"));
    let mut split = Client::raw(&path);
    let body = hello(vec![]).encode();
    split
        .s
        .write_all(&header(4, Kind::Hello, FLAG_MORE, 0))
        .unwrap();
    split.s.write_all(&body[..4]).unwrap();
    assert!(split.refusal().1.contains("in one frame"));
    // Many connections each holding a Hello-sized frame short of its last byte: each
    // holds one small buffer (~4 KiB), not a megabyte.
    let held: Vec<Client> = (0..100)
        .map(|_| {
            let mut c = Client::raw(&path);
            c.s.write_all(&header(4000, Kind::Hello, 0, 0)).unwrap();
            c.s.write_all(&[0; 3999]).unwrap();
            c
        })
        .collect();
    wait_for("100 connections", || agent.connections() >= 101);
    let used = agent.memory_used();
    assert!(
        used < 100 * 8 * 1024 + MIB,
        "100 half-sent Hellos hold {used} bytes"
    );
    good.check();
    drop(held);
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn the_handshake_has_a_deadline_and_a_bad_one_closes() {
    let mut cfg = AgentConfig::default();
    cfg.limits.handshake_timeout = Duration::from_millis(300);
    cfg.token = Some(b"secret".to_vec());
    let ((path, _dir, stop, handle), _agent) = start_agent(cfg);
    let t0 = Instant::now();
    let mut silent = Client::raw(&path);
    let (_, why) = silent.refusal();
    assert!(why.contains("no Hello within 300ms"), "{why}");
    assert!(t0.elapsed() >= Duration::from_millis(300));
    let mut wrong = Client::raw(&path);
    wrong.send(0, &hello(b"guess".to_vec()));
    assert_eq!(wrong.refusal(), (13, "bad or missing token".into()));
    let mut old = Client::raw(&path);
    old.send(
        0,
        &Message::Hello {
            major: 99,
            minor: 0,
            features: 0,
            token: b"secret".to_vec(),
        },
    );
    assert!(old.refusal().1.contains("protocol 99.0 is incompatible"));
    let mut ok = Client::raw(&path);
    ok.send(0, &hello(b"secret".to_vec()));
    assert!(matches!(ok.recv().1, Message::HelloOk { .. }));
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn connections_are_capped_per_peer_and_in_total() {
    // Every connection of this test comes from this process: one peer.
    let mut cfg = AgentConfig::default();
    cfg.limits.connections_per_peer = 4;
    let ((path, _dir, stop, handle), agent) = start_agent(cfg);
    let mut four: Vec<Client> = (0..4).map(|_| Client::connect(&path)).collect();
    let (code, why) = Client::raw(&path).refusal();
    assert_eq!(code, 87, "EUSERS");
    assert!(
        why.contains("4 connections from this peer already"),
        "{why}"
    );
    four.pop();
    wait_for("a slot to come back", || agent.connections() == 3);
    four.push(Client::connect(&path));
    stop.send(()).unwrap();
    handle.join().unwrap();

    let mut cfg = AgentConfig::default();
    cfg.limits.connections = 3;
    let ((path, _dir, stop, handle), _agent) = start_agent(cfg);
    let _three: Vec<Client> = (0..3).map(|_| Client::connect(&path)).collect();
    let (_, why) = Client::raw(&path).refusal();
    assert!(why.contains("serves 3 connections already"), "{why}");
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn idle_connections_close_and_busy_ones_stay() {
    let mut cfg = AgentConfig::default();
    cfg.limits.idle_timeout = Some(Duration::from_millis(400));
    let ((path, _dir, stop, handle), agent) = start_slow(cfg);
    let mut idle = Client::connect(&path);
    let mut busy = Client::connect(&path);
    let s = busy.session();
    // An op that outlasts the idle time keeps its connection: something is in flight.
    for id in 0..6 {
        busy.send(id, &noop(s));
        assert!(matches!(busy.recv(), (i, Message::OpDone { .. }) if i == id));
    }
    assert!(idle.last_words().is_empty(), "closed quietly");
    wait_for("the idle tenant to go", || agent.connections() == 1);
    busy.send(99, &Message::Ping);
    assert!(matches!(busy.recv(), (99, Message::Pong)));
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn unknown_kinds_close_and_bad_bodies_count_against_the_rate() {
    let mut cfg = AgentConfig::default();
    cfg.limits.burst = 5.0;
    cfg.limits.rate = 0.001;
    let ((path, _dir, stop, handle), _agent) = start_agent(cfg);
    let mut c = Client::connect(&path);
    c.s.write_all(&header(0, Kind::Ping, 0, 1)).unwrap();
    c.s.write_all(&header(0, Kind::Ping, 0, 2)).unwrap();
    // Malformed op bodies: answered with EINVAL while the burst lasts, then EAGAIN.
    for id in 3..10 {
        c.s.write_all(&frame::encode_frames(16, id, &[1, 2, 3], 1 << 20))
            .unwrap();
    }
    let codes: Vec<i32> = (1..10)
        .map(|_| match c.recv() {
            (_, Message::Pong) => 0,
            (_, Message::Error { code, .. }) => code,
            other => panic!("{other:?}"),
        })
        .collect();
    // 2 pings + 3 bad bodies within the burst of 5, then the rate limit.
    assert_eq!(codes, vec![0, 0, 22, 22, 22, 11, 11, 11, 11]);
    let unknown = Header {
        len: 0,
        kind: 777,
        flags: 0,
        id: 20,
    };
    c.s.write_all(&unknown.encode()).unwrap();
    match c.last_words().as_slice() {
        [Message::Error { message, .. }] => {
            assert!(message.contains("unknown message kind 777"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn ops_with_too_many_arguments_are_refused_before_they_cost_memory() {
    let ((path, _dir, stop, handle), _agent) = start_agent(AgentConfig::default());
    let mut c = Client::connect(&path);
    let s = c.session();
    let empty = vaccel_proto::WireArg {
        arg_type: 0,
        custom_type_id: 0,
        data: vec![],
    };
    c.send(
        7,
        &Message::Op {
            session: s,
            op: 0,
            read: vec![empty; 50_000],
            write: vec![],
        },
    );
    match c.recv() {
        (7, Message::Error { code: 22, message }) => {
            assert!(
                message.contains("50000 items, more than the 1024 allowed"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn a_hash_alone_neither_obtains_a_blob_nor_tells_whether_it_is_held() {
    use sha2::{Digest, Sha256};
    let ((path, _dir, stop, handle), agent) = start_agent(AgentConfig::default());
    let secret = b"another tenant's model".to_vec();
    let offer = Message::ResourceOffer {
        resource_type: 2,
        blobs: vec![vaccel_proto::BlobInfo {
            name: "m.onnx".into(),
            sha256: Sha256::digest(&secret).into(),
            len: secret.len() as u64,
        }],
    };
    let mut owner = Client::connect(&path);
    owner.send(1, &offer);
    let Message::ResourceOffered { upload, missing } = owner.recv().1 else {
        panic!()
    };
    assert_eq!(missing, vec![0]);
    owner.send(
        2,
        &Message::BlobUpload {
            upload,
            index: 0,
            data: secret.clone(),
        },
    );
    assert!(matches!(owner.recv().1, Message::ResourceReady { .. }));
    // Another tenant offering the same hash is answered exactly as if nobody held it.
    let mut spy = Client::connect(&path);
    spy.send(1, &offer);
    match spy.recv().1 {
        Message::ResourceOffered { missing, .. } => assert_eq!(missing, vec![0]),
        other => panic!("the offer revealed something: {other:?}"),
    }
    assert_eq!(agent.live_blobs(), 1);
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn a_client_that_never_reads_is_held_back_then_closed() {
    let mut cfg = AgentConfig::default();
    cfg.limits.in_flight = 8;
    cfg.limits.write_timeout = Duration::from_secs(1);
    let ((path, _dir, stop, handle), agent) = start_agent(cfg);
    let mut good = Good::new(&path);
    good.check();
    let base = agent.memory_used();
    // Requests whose replies are 256 KiB each, sent without ever reading one.
    let mut deaf = Client::connect(&path);
    let s = deaf.session();
    let attack = std::thread::spawn(move || {
        let t0 = Instant::now();
        let mut sent = 0u64;
        while t0.elapsed() < Duration::from_secs(20) {
            let m = sgemm(s, 256, 256);
            let bytes = frame::encode_frames(m.kind() as u16, sent, &m.encode(), 1 << 20);
            if deaf.s.write_all(&bytes).is_err() {
                return (sent, true);
            }
            sent += 1;
        }
        (sent, false)
    });
    let mut most = 0;
    while !attack.is_finished() {
        most = most.max(agent.memory_used() - base.min(agent.memory_used()));
        good.check();
    }
    let (sent, closed) = attack.join().unwrap();
    assert!(
        closed,
        "the agent never closed the deaf connection ({sent} requests sent)"
    );
    // In flight: 8 requests of 256 KiB and their 256 KiB replies, plus a read buffer.
    assert!(
        most < 8 * MIB,
        "a deaf client made the agent hold {most} bytes"
    );
    assert!(
        sent < 200,
        "{sent} requests were taken from a client that never read"
    );
    good.check();
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn expensive_tenants_share_the_workers_with_a_calm_one() {
    let mut cfg = AgentConfig {
        workers: 1,
        ..AgentConfig::default()
    };
    cfg.limits.in_flight = 3;
    let ((path, _dir, stop, handle), _agent) = start_slow(cfg);
    // Four connections keep 3 slow ops each in flight until told to stop.
    let (served_tx, served) = std::sync::mpsc::channel();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let floods: Vec<_> = (0..4)
        .map(|_| {
            let (path, served_tx, done) = (path.clone(), served_tx.clone(), done.clone());
            std::thread::spawn(move || {
                let mut c = Client::connect(&path);
                let s = c.session();
                for id in 0..3 {
                    c.send(id, &noop(s));
                }
                let mut id = 3;
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    assert!(matches!(c.recv().1, Message::OpDone { .. }));
                    let _ = served_tx.send(());
                    c.send(id, &noop(s));
                    id += 1;
                }
                for _ in 0..3 {
                    assert!(matches!(c.recv().1, Message::OpDone { .. }));
                }
            })
        })
        .collect();
    // Measure once every flood has had a turn (the pool knows what their ops cost).
    for _ in 0..6 {
        served.recv().unwrap();
    }
    // The calm client's op is cheap (sgemm 8x8); the floods' take Slow::TIME each.
    let mut calm = Good::new(&path);
    let mut worst = Duration::ZERO;
    for _ in 0..5 {
        let t0 = Instant::now();
        calm.check();
        worst = worst.max(t0.elapsed());
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    // At most the op in progress, then the calm one: first come, first served would make
    // it wait for the 12 queued ops (1.2 s).
    assert!(worst < Slow::TIME * 2, "the calm tenant waited {worst:?}");
    for f in floods {
        f.join().unwrap();
    }
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn idle_metrics_connections_are_closed_and_do_not_block_scrapes() {
    use std::io::Read;
    let ((_path, _dir, stop, handle), _agent, port) =
        start_agent_with_metrics(AgentConfig::default());
    // Twenty connections that never send a request: at most 8 are served at once, each
    // closed after 2 s without an answer; the scrape waits its turn behind them.
    let mut idle: Vec<std::net::TcpStream> = (0..20)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let t0 = Instant::now();
    let mut scrape = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    scrape
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    scrape.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
    let mut body = String::new();
    scrape.read_to_string(&mut body).unwrap();
    assert!(body.contains("vaccel_tenants"), "{body}");
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "the scrape took {:?}",
        t0.elapsed()
    );
    // The idle ones were closed, not held open.
    idle[0]
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut sink = Vec::new();
    idle[0].read_to_end(&mut sink).unwrap();
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn a_blob_stream_stays_charged_after_its_upload_fails() {
    use sha2::{Digest, Sha256};
    let mut cfg = AgentConfig::default();
    cfg.limits.tenant_memory = 24 * MIB;
    let ((path, _dir, stop, handle), agent) = start_agent(cfg);
    let mut c = Client::connect(&path);
    let blob = |v: u8| vec![v; 8 << 20];
    let info = |d: &[u8]| vaccel_proto::BlobInfo {
        name: "part.bin".into(),
        sha256: Sha256::digest(d).into(),
        len: d.len() as u64,
    };
    let (a, b) = (blob(1), blob(2));
    c.send(
        1,
        &Message::ResourceOffer {
            resource_type: 1,
            blobs: vec![info(&a), info(&b)],
        },
    );
    let Message::ResourceOffered { upload, .. } = c.recv().1 else {
        panic!()
    };
    // Blob 1 starts streaming (its 8 MiB buffer is charged) and is left unfinished...
    let head = vaccel_proto::BlobUploadHead {
        upload,
        index: 1,
        len: b.len() as u64,
    }
    .encode();
    let mut frames = Vec::new();
    frame::write_frames(
        &mut frames,
        Kind::BlobUpload as u16,
        2,
        &[&head, &b],
        1 << 20,
    )
    .unwrap();
    // Cut after the fourth frame (a frame boundary: other messages go in between).
    let mut half = 0;
    for _ in 0..4 {
        half += frame::check(&frames[half..], 1 << 20).unwrap().unwrap();
    }
    c.s.write_all(&frames[..half]).unwrap();
    // ...while blob 0 fails its hash, which drops the upload.
    let mut bad = a.clone();
    bad[7] ^= 1;
    c.send(
        3,
        &Message::BlobUpload {
            upload,
            index: 0,
            data: bad,
        },
    );
    assert!(matches!(c.recv(), (3, Message::Error { code: 22, .. })));
    // The unfinished stream's buffer is still there, so still charged: 16 MiB more do not
    // fit in the 24 MiB share (they would without it).
    let used = agent.memory_used();
    assert!(
        used >= 8 * MIB,
        "the live stream's buffer is not charged ({used} bytes)"
    );
    let sixteen = vec![3u8; 16 << 20];
    c.send(
        4,
        &Message::ResourceOffer {
            resource_type: 1,
            blobs: vec![info(&sixteen)],
        },
    );
    let Message::ResourceOffered { upload: u2, .. } = c.recv().1 else {
        panic!()
    };
    c.send(
        5,
        &Message::BlobUpload {
            upload: u2,
            index: 0,
            data: sixteen,
        },
    );
    match c.recv() {
        (5, Message::Error { code: 12, message }) => {
            assert!(message.contains("memory share"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    // When the stream ends, it is refused (its upload is gone) and its charge goes back.
    c.s.write_all(&frames[half..]).unwrap();
    match c.recv() {
        (2, Message::Error { code: 2, message }) => {
            assert!(message.contains("was dropped"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    wait_for("the stream's charge to go back", || {
        agent.memory_used() < 4 * MIB
    });
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn more_connections_from_one_peer_do_not_buy_more_memory() {
    use sha2::{Digest, Sha256};
    // Every connection of this test comes from this process: one peer.
    let mut cfg = AgentConfig::default();
    cfg.limits.tenant_memory = 16 * MIB;
    cfg.limits.peer_memory = 20 * MIB;
    let ((path, _dir, stop, handle), agent) = start_agent(cfg);
    let upload = |c: &mut Client, v: u8| {
        let data = vec![v; 12 << 20];
        c.send(
            1,
            &Message::ResourceOffer {
                resource_type: 1,
                blobs: vec![vaccel_proto::BlobInfo {
                    name: "d.bin".into(),
                    sha256: Sha256::digest(&data).into(),
                    len: data.len() as u64,
                }],
            },
        );
        let Message::ResourceOffered { upload, .. } = c.recv().1 else {
            panic!()
        };
        c.send(
            2,
            &Message::BlobUpload {
                upload,
                index: 0,
                data,
            },
        );
        c.recv().1
    };
    let mut first = Client::connect(&path);
    assert!(matches!(
        upload(&mut first, 1),
        Message::ResourceReady { .. }
    ));
    let mut second = Client::connect(&path);
    match upload(&mut second, 2) {
        Message::Error { code: 12, message } => {
            assert!(message.contains("this peer's"), "{message}")
        }
        other => panic!("the peer's second connection got more memory: {other:?}"),
    }
    drop(first);
    wait_for("the first connection's memory to come back", || {
        agent.memory_used() < 4 * MIB
    });
    assert!(matches!(
        upload(&mut second, 3),
        Message::ResourceReady { .. }
    ));
    stop.send(()).unwrap();
    handle.join().unwrap();
}
