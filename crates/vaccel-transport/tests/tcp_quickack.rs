//! A client that writes each request in two pieces with Nagle's algorithm on (as the ttrpc
//! crate's client writes a frame's header, then its payload) is not held up by delayed
//! ACKs on the agent's TCP connections: without `TCP_QUICKACK` each such request waits
//! ~40 ms on Linux for the ACK of its first piece.
#![cfg(feature = "server")]

use std::io::{Read, Write};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vaccel_transport::Address;
use vaccel_transport::server::Listener;

#[test]
fn split_requests_over_tcp_are_not_delayed_by_acks() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(Listener::bind(&Address::Tcp("127.0.0.1:0".into())))
        .unwrap();
    let addr = listener.local().trim_start_matches("tcp://").to_string();
    // An echo server of 10-byte heads and 100-byte bodies, answering each whole request.
    rt.spawn(async move {
        let (mut c, _) = listener.accept().await.unwrap();
        let mut req = [0u8; 110];
        while c.read_exact(&mut req).await.is_ok() {
            if c.write_all(&req[..10]).await.is_err() {
                break;
            }
        }
    });
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut times = Vec::new();
    for i in 0..21u8 {
        let t0 = Instant::now();
        // Nagle is on (the default): the body waits until the head is acknowledged.
        s.write_all(&[i; 10]).unwrap();
        s.write_all(&[i; 100]).unwrap();
        let mut reply = [0u8; 10];
        s.read_exact(&mut reply).unwrap();
        assert_eq!(reply, [i; 10]);
        times.push(t0.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    assert!(
        median < Duration::from_millis(20),
        "split requests wait {median:?} each (delayed ACKs)"
    );
}
