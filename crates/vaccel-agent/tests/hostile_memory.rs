//! Memory attacks against the agent's budget, measured two ways: the agent's own
//! accounting and this process's resident memory (this test binary runs nothing else, so
//! its RSS is the agent's plus the test clients' small buffers).
//!
//! Attackers open many connections and make the agent reassemble huge requests that never
//! finish, and upload blobs until the budget is gone; the budget must hold, each refusal
//! must name the limit, a well-behaved client must keep getting correct answers, and
//! everything must be given back when the attackers leave.

mod common;

use common::*;
use sha2::{Digest, Sha256};
use std::io::Write;
use vaccel_agent::AgentConfig;
use vaccel_proto::{BlobUploadHead, FLAG_MORE, Header, Kind, Message};

const MIB: u64 = 1 << 20;

fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim();
    kb.parse::<u64>().unwrap() * 1024
}

fn frame_header(len: usize, kind: Kind, more: bool, id: u64) -> [u8; 16] {
    Header {
        len: len as u32,
        kind: kind as u16,
        flags: if more { FLAG_MORE } else { 0 },
        id,
    }
    .encode()
}

/// A blob of `mib` MiB made of one 1 MiB chunk marked with `mark`, and its SHA-256.
fn blob_chunk(mark: u64) -> Vec<u8> {
    let mut chunk: Vec<u8> = (0..MIB as usize).map(|i| (i % 251) as u8).collect();
    chunk[..8].copy_from_slice(&mark.to_le_bytes());
    chunk
}

fn blob_sha(chunk: &[u8], mib: usize) -> [u8; 32] {
    let mut h = Sha256::new();
    for _ in 0..mib {
        h.update(chunk);
    }
    h.finalize().into()
}

/// Offer a `mib`-MiB blob and stream it; the agent's answer to the upload (or, when it
/// could not even pay for the buffer to read the next frame into, the error it closed the
/// connection with).
fn upload(c: &mut Client, mark: u64, mib: usize) -> Message {
    let chunk = blob_chunk(mark);
    c.send(
        1,
        &Message::ResourceOffer {
            resource_type: 2,
            blobs: vec![vaccel_proto::BlobInfo {
                name: "weights.bin".into(),
                sha256: blob_sha(&chunk, mib),
                len: (mib as u64) * MIB,
            }],
        },
    );
    let Message::ResourceOffered { upload, .. } = c.recv().1 else {
        panic!("not offered")
    };
    let head = BlobUploadHead {
        upload,
        index: 0,
        len: (mib as u64) * MIB,
    }
    .encode();
    let mut sent =
        c.s.write_all(&frame_header(head.len(), Kind::BlobUpload, true, 2))
            .and_then(|()| c.s.write_all(&head));
    for i in 0..mib {
        sent = sent
            .and_then(|()| {
                c.s.write_all(&frame_header(chunk.len(), Kind::BlobUpload, i + 1 < mib, 2))
            })
            .and_then(|()| c.s.write_all(&chunk));
    }
    match sent {
        Ok(()) => c.recv().1,
        Err(_) => c.refusal_message(),
    }
}

#[test]
fn the_memory_budget_holds_against_many_hostile_connections() {
    let budget = 64 * MIB;
    let mut cfg = AgentConfig::default();
    cfg.limits.memory_budget = budget;
    cfg.limits.tenant_memory = 24 * MIB;
    let ((path, _dir, stop, handle), agent) = start_agent(cfg);
    let mut good = Client::connect(&path);
    let gs = good.session();
    let check = |good: &mut Client| {
        good.send(9, &sgemm(gs, 16, 16));
        assert!(
            is_sgemm_answer(&good.recv().1, 256),
            "the good client was hurt"
        );
    };
    check(&mut good);
    let base_rss = rss();
    let mut peak = (0u64, 0u64);
    let mut sample = |agent: &vaccel_agent::Agent| {
        peak.0 = peak.0.max(agent.memory_used());
        peak.1 = peak.1.max(rss().saturating_sub(base_rss));
    };

    // Eight connections each send 40 MiB of an op that never ends (every frame says MORE).
    let chunk = vec![0u8; MIB as usize];
    let mut hoarders: Vec<Client> = (0..8).map(|_| Client::connect(&path)).collect();
    for _ in 0..40 {
        for h in &mut hoarders {
            h.s.write_all(&frame_header(chunk.len(), Kind::Op, true, 5))
                .unwrap();
            h.s.write_all(&chunk).unwrap();
        }
        sample(&agent);
    }
    // Each is told why once its request ends.
    for h in &mut hoarders {
        h.s.write_all(&frame_header(0, Kind::Op, false, 5)).unwrap();
        match h.recv() {
            (5, Message::Error { code: 12, message }) => assert!(
                message.contains("memory share") || message.contains("memory budget"),
                "{message}"
            ),
            other => panic!("{other:?}"),
        }
        sample(&agent);
    }
    check(&mut good);

    // Six connections upload 20 MiB blobs: two or three fit in the budget, the others are
    // told.
    let mut uploaders: Vec<Client> = (0..6).map(|_| Client::connect(&path)).collect();
    let mut stored = 0;
    for (i, u) in uploaders.iter_mut().enumerate() {
        match upload(u, i as u64, 20) {
            Message::ResourceReady { .. } => stored += 1,
            Message::Error { code: 12, message } => {
                // This test's connections are one peer, whose share is the whole budget:
                // either limit may be the one that refuses.
                assert!(
                    message.contains("memory budget of 67108864 bytes")
                        || message
                            .contains("peer's (all its connections') memory share of 67108864"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
        sample(&agent);
        check(&mut good);
    }
    assert!(
        (2..=3).contains(&stored),
        "{stored} of six 20 MiB blobs stored"
    );
    let (used, grew) = peak;
    eprintln!(
        "agent accounting peak {} MiB, RSS growth peak {} MiB, budget {} MiB",
        used / MIB,
        grew / MIB,
        budget / MIB
    );
    assert!(used <= budget, "accounting {used} over the budget");
    // RSS: the budget plus what is not the agent's to charge (runtime, test clients).
    assert!(grew <= budget + 24 * MIB, "RSS grew by {grew} bytes");

    // When they leave, everything goes back.
    drop((hoarders, uploaders));
    wait_for("the attackers' memory to come back", || {
        agent.memory_used() < MIB
    });
    assert_eq!(agent.live_blobs(), 0);
    check(&mut good);
    stop.send(()).unwrap();
    handle.join().unwrap();
}
