//! Connection caps: at most so many connections in all, and at most so many from one peer
//! (a vsock CID, a Unix peer process, a TCP address), so one guest cannot use up the
//! agent's file descriptors and lock every other guest out. A slot is taken before a
//! connection is served and given back when it closes; a connection over a cap gets one
//! `Error` frame saying which cap, and is closed at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWrite;
use vaccel_proto::{Kind, Message, frame};
use vaccel_transport::server::Conn;

/// The caps and what is open.
#[derive(Debug)]
pub struct Slots {
    total: usize,
    per_peer: usize,
    open: Mutex<(usize, HashMap<String, usize>)>,
}

/// One open connection's place; given back on drop.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    peer: String,
}

impl Slots {
    /// Caps of `total` connections, `per_peer` from one peer.
    pub fn new(total: usize, per_peer: usize) -> Arc<Slots> {
        Arc::new(Slots {
            total,
            per_peer,
            open: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, HashMap<String, usize>)> {
        vaccel::sync::lock(&self.open)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().0
    }

    /// A slot for a connection from `peer`.
    ///
    /// # Errors
    /// Which cap is reached, for the refusal.
    pub fn take(self: &Arc<Self>, peer: &str) -> Result<Slot, String> {
        let mut open = self.lock();
        if open.0 >= self.total {
            return Err(format!(
                "the agent serves {} connections already (the limit, --max-connections)",
                self.total
            ));
        }
        let n = open.1.get(peer).copied().unwrap_or(0);
        if n >= self.per_peer {
            return Err(format!(
                "{n} connections from this peer already (the limit, --max-connections-per-peer)"
            ));
        }
        open.0 += 1;
        open.1.insert(peer.to_string(), n + 1);
        Ok(Slot {
            slots: self.clone(),
            peer: peer.to_string(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        open.0 -= 1;
        if let Some(n) = open.1.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.peer);
            }
        }
    }
}

/// Tell a connection over a cap why, without waiting for it (the frame is small and the
/// socket's buffer empty, so it is written whole or not at all), and close it.
pub fn refuse(mut c: Box<dyn Conn>, why: String) {
    let m = Message::Error {
        code: vaccel::code::EUSERS,
        message: why,
    };
    let bytes = frame::encode_frames(Kind::Error as u16, 0, &m.encode(), frame::DEFAULT_MAX_FRAME);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let _ = std::pin::Pin::new(&mut c).poll_write(&mut cx, &bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_in_total_and_per_peer_and_slots_come_back() {
        let s = Slots::new(3, 2);
        let a1 = s.take("a").unwrap();
        let _a2 = s.take("a").unwrap();
        assert!(s.take("a").unwrap_err().contains("from this peer"));
        let _b1 = s.take("b").unwrap();
        assert!(s.take("c").unwrap_err().contains("3 connections already"));
        drop(a1);
        assert_eq!(s.open(), 2);
        assert!(s.take("a").is_ok());
    }
}
