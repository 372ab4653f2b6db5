//! The agent under load and under abuse, in-process on a temporary Unix socket:
//! 64 connections × 10 000 pipelined requests with no lost or mismatched reply; malformed
//! and oversized frames get errors while other tenants keep working; a flooding tenant is
//! held back while a calm one is served.

use std::collections::HashSet;
use std::io::Write;
use vaccel_agent::AgentConfig;
use vaccel_proto::{Message, frame};

mod common;
use common::*;

#[test]
fn sixty_four_connections_ten_thousand_requests_each_nothing_lost() {
    let (path, _dir, stop, handle) = start(AgentConfig::default());
    let threads: Vec<_> = (0..64)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(&path);
                let session = c.session();
                let (total, window) = (10_000u64, 32u64);
                let (mut sent, mut got) = (0u64, 0u64);
                let mut outstanding = HashSet::new();
                while got < total {
                    while sent < total && sent - got < window {
                        let id = 1000 + sent;
                        // Alternate pings and real noop ops through a plugin.
                        let m = if sent % 2 == 0 {
                            Message::Ping
                        } else {
                            Message::Op {
                                session,
                                op: 0,
                                read: vec![],
                                write: vec![],
                            }
                        };
                        c.send(id, &m);
                        outstanding.insert(id);
                        sent += 1;
                    }
                    let (id, m) = c.recv();
                    assert!(
                        outstanding.remove(&id),
                        "thread {t}: reply for unknown or repeated id {id}"
                    );
                    let want_pong = (id - 1000) % 2 == 0;
                    match m {
                        Message::Pong if want_pong => {}
                        Message::OpDone { .. } if !want_pong => {}
                        other => panic!("thread {t}: id {id} got {other:?}"),
                    }
                    got += 1;
                }
                assert!(outstanding.is_empty());
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn bad_frames_hurt_only_their_sender() {
    let (path, _dir, stop, handle) = start(AgentConfig::default());
    let mut good = Client::connect(&path);
    let session = good.session();
    // Oversized frame: the sender is told why and disconnected.
    let mut bad = Client::connect(&path);
    let huge = frame::Header {
        len: 64 << 20,
        kind: 16,
        flags: 0,
        id: 5,
    }
    .encode();
    bad.s.write_all(&huge).unwrap();
    let (_, m) = bad.recv();
    assert!(
        matches!(&m, Message::Error { message, .. } if message.contains("exceeds the maximum")),
        "{m:?}"
    );
    // A malformed message body: an error for that request; the connection lives on.
    let mut odd = Client::connect(&path);
    odd.s
        .write_all(&frame::encode_frames(16, 9, &[1, 2, 3], 1 << 20))
        .unwrap();
    let (id, m) = odd.recv();
    assert_eq!(id, 9);
    assert!(matches!(&m, Message::Error { code: 22, .. }), "{m:?}");
    odd.send(10, &Message::Ping);
    assert!(matches!(odd.recv(), (10, Message::Pong)));
    // The well-behaved tenant never noticed.
    good.send(
        2,
        &Message::Op {
            session,
            op: 0,
            read: vec![],
            write: vec![],
        },
    );
    assert!(matches!(good.recv(), (2, Message::OpDone { .. })));
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn a_flooding_tenant_is_held_back_and_the_calm_one_served_first() {
    let mut cfg = AgentConfig::default();
    cfg.limits.in_flight = 4;
    cfg.workers = 1;
    // Every noop takes Slow::TIME on the single worker. The flood pipelines 12: 4 are
    // admitted, and the rest wait in the socket (not refused, not buffered by the agent)
    // until replies are written.
    let ((path, _dir, stop, handle), _agent) = start_slow(cfg);
    let mut flood = Client::connect(&path);
    let fs = flood.session();
    let mut calm = Client::connect(&path);
    let cs = calm.session();
    for id in 100..112 {
        flood.send(id, &noop(fs));
    }
    std::thread::sleep(Slow::TIME / 2);
    let t0 = std::time::Instant::now();
    calm.send(7, &noop(cs));
    assert!(
        matches!(calm.recv(), (7, Message::OpDone { .. })),
        "the calm tenant is served"
    );
    // Fair turns: the calm op runs right after the flood's running one, not after the
    // flood's queue (first come, first served would take 4 × Slow::TIME and more).
    let waited = t0.elapsed();
    assert!(
        waited < Slow::TIME * 3,
        "the calm tenant waited {waited:?} behind the flood"
    );
    let mut ids: Vec<u64> = (100..112)
        .map(|_| match flood.recv() {
            (id, Message::OpDone { .. }) => id,
            other => panic!("{other:?}"),
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (100..112).collect::<Vec<_>>(),
        "every flood request answered"
    );
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn a_client_killed_mid_upload_leaves_nothing_behind() {
    use sha2::{Digest, Sha256};
    let ((path, _dir, stop, handle), agent) = start_agent(AgentConfig::default());
    let data = vec![42u8; 16 << 20];
    let offer = Message::ResourceOffer {
        resource_type: 2,
        blobs: vec![vaccel_proto::BlobInfo {
            name: "model.onnx".into(),
            sha256: Sha256::digest(&data).into(),
            len: data.len() as u64,
        }],
    };
    // A completed upload is held while its tenant lives...
    let mut done = Client::connect(&path);
    done.send(2, &offer);
    let Message::ResourceOffered { upload, .. } = done.recv().1 else {
        panic!()
    };
    done.send(
        3,
        &Message::BlobUpload {
            upload,
            index: 0,
            data: data.clone(),
        },
    );
    assert!(matches!(done.recv().1, Message::ResourceReady { .. }));
    assert_eq!(agent.live_blobs(), 1);
    drop(done);
    wait_for("the finished tenant's blob to be freed", || {
        agent.live_blobs() == 0
    });

    // ...and one cut off halfway through its frames leaves nothing either.
    let mut cut = Client::connect(&path);
    cut.send(2, &offer);
    let Message::ResourceOffered { upload, .. } = cut.recv().1 else {
        panic!()
    };
    let msg = Message::BlobUpload {
        upload,
        index: 0,
        data,
    };
    let frames = frame::encode_frames(msg.kind() as u16, 3, &msg.encode(), 1 << 20);
    cut.s.write_all(&frames[..frames.len() / 2]).unwrap();
    drop(cut);
    wait_for("the killed tenant to be gone", || {
        agent.metrics().contains("vaccel_tenants 0")
    });
    assert_eq!(
        agent.live_blobs(),
        0,
        "the half upload is dropped with its tenant"
    );
    // The agent still serves others.
    let mut next = Client::connect(&path);
    next.send(9, &Message::Ping);
    assert!(matches!(next.recv(), (9, Message::Pong)));
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn blob_uploads_stream_in_any_frame_sizes_and_bad_ones_are_refused() {
    use sha2::{Digest, Sha256};
    let ((path, _dir, stop, handle), agent) = start_agent(AgentConfig::default());
    // Distinct contents each time: content the agent holds already is not uploaded again.
    let blob = |v: u8| -> Vec<u8> {
        let mut d: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        d[0] = v;
        d
    };
    let mut c = Client::connect(&path);
    // Offer `offered`, then send BlobUpload with `body` in frames of `max` bytes (7: even
    // the head is split), announcing `len` bytes.
    let upload = |c: &mut Client, id: u64, offered: &[u8], len: usize, body: &[&[u8]], max| {
        c.send(
            id,
            &Message::ResourceOffer {
                resource_type: 2,
                blobs: vec![vaccel_proto::BlobInfo {
                    name: "weights.bin".into(),
                    sha256: Sha256::digest(offered).into(),
                    len: offered.len() as u64,
                }],
            },
        );
        let Message::ResourceOffered { upload, .. } = c.recv().1 else {
            panic!("not offered")
        };
        let head = vaccel_proto::BlobUploadHead {
            upload,
            index: 0,
            len: len as u64,
        }
        .encode();
        let mut parts: Vec<&[u8]> = vec![&head];
        parts.extend_from_slice(body);
        let mut frames = Vec::new();
        frame::write_frames(&mut frames, 10, id + 1, &parts, max).unwrap();
        c.s.write_all(&frames).unwrap();
        c.recv().1
    };
    for (v, max) in [(1u8, 7usize), (2, 4096), (3, 1 << 20)] {
        let d = blob(v);
        let got = upload(&mut c, 10 * u64::from(v), &d, d.len(), &[&d], max);
        assert!(
            matches!(got, Message::ResourceReady { .. }),
            "{max}: {got:?}"
        );
    }
    let refused = |got: Message, what: &str| match got {
        Message::Error { code: 22, message } => assert!(message.contains(what), "{message}"),
        other => panic!("{other:?}"),
    };
    let d = blob(4);
    let mut bad = d.clone();
    bad[500] ^= 1;
    refused(upload(&mut c, 100, &d, d.len(), &[&bad], 4096), "hash");
    refused(
        upload(&mut c, 200, &d, 1000, &[&d[..1000]], 4096),
        "offered",
    );
    refused(
        upload(&mut c, 300, &d, d.len(), &[&d, b"extra"], 4096),
        "overruns",
    );
    refused(
        upload(&mut c, 400, &d, d.len(), &[&d[..5000]], 4096),
        "ended after",
    );
    // The connection still works, and only the good blobs are stored.
    c.send(500, &Message::Ping);
    assert!(matches!(c.recv(), (500, Message::Pong)));
    assert_eq!(agent.live_blobs(), 3);
    stop.send(()).unwrap();
    handle.join().unwrap();
}
