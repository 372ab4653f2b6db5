//! The connection to the agent: one stream shared by every thread of the process. Writers
//! take turns per message. There is no reader thread: a calling thread that finds nobody
//! reading becomes the reader, reads until its own reply arrives, files the other replies
//! it meets in their callers' slots (waking them), then hands the reader role to a caller
//! still waiting. A lone call therefore costs one write and one read on the caller's own
//! thread, with no thread hand-off; concurrent calls share the connection and none waits
//! for another's reply to be *computed*.
//!
//! When the connection breaks, every call waiting on it gets `VACCEL_ESESS`, and the next
//! call connects again (a new "epoch": the agent has forgotten the old one's state).

use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, TryLockError};
use std::time::Duration;
use vaccel_plugin::sync::{lock, wait};
use vaccel_plugin::{PluginError, code};
use vaccel_proto::{
    BlobUploadHead, DEFAULT_MAX_FRAME, Kind, Message, PROTO_MAJOR, PROTO_MINOR, Reassembler, frame,
};
use vaccel_transport::{Address, Stream};

type Reply = Result<Message, PluginError>;

fn lost(addr: &Address, why: impl std::fmt::Display) -> PluginError {
    PluginError::relayed(
        code::ESESS,
        format!("connection to the agent at {addr} lost: {why}"),
    )
}

/// Where one call's reply lands.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    ready: Condvar,
}

#[derive(Default)]
struct SlotState {
    reply: Option<Reply>,
    /// The reader role is free and this caller should take it.
    nudged: bool,
}

impl Slot {
    fn fill(&self, reply: Reply) {
        lock(&self.state).reply = Some(reply);
        self.ready.notify_one();
    }

    fn nudge(&self) {
        lock(&self.state).nudged = true;
        self.ready.notify_one();
    }
}

/// The read side: whoever holds it reads.
struct ReadSide {
    /// Buffered: a small reply's header and body arrive with one `read`.
    stream: BufReader<Stream>,
    reassembler: Reassembler,
}

/// One live connection.
pub struct Connection {
    addr: Address,
    writer: Mutex<Stream>,
    reader: Mutex<ReadSide>,
    pending: Mutex<HashMap<u64, Arc<Slot>>>,
    next_id: AtomicU64,
    dead: AtomicBool,
    max_frame: usize,
    /// Which connection this is (reconnects count up).
    pub epoch: u64,
}

impl Connection {
    /// Connect and handshake, each step within `deadline` (an address where something
    /// else listens — upstream's ttrpc agent, a silent socket — is an error, not a hang).
    ///
    /// # Errors
    /// `ESESS` naming the address when it cannot be reached, does not answer the
    /// handshake in time, answers something else, or refuses it.
    pub fn open(
        addr: &Address,
        token: &[u8],
        epoch: u64,
        deadline: Duration,
    ) -> Result<Arc<Connection>, PluginError> {
        let mut stream = vaccel_transport::connect(addr, deadline).map_err(|e| {
            PluginError::relayed(code::ESESS, format!("cannot reach the agent: {e}"))
        })?;
        stream
            .set_timeout(Some(deadline))
            .map_err(|e| lost(addr, e))?;
        let hello = Message::Hello {
            major: PROTO_MAJOR,
            minor: PROTO_MINOR,
            features: 0,
            token: token.to_vec(),
        };
        stream
            .write_all(&frame::encode_frames(
                hello.kind() as u16,
                0,
                &hello.encode(),
                DEFAULT_MAX_FRAME,
            ))
            .map_err(|e| handshake_failed(addr, deadline, e))?;
        let mut reader =
            BufReader::with_capacity(64 * 1024, stream.try_clone().map_err(|e| lost(addr, e))?);
        let mut head = [0u8; frame::HEADER_LEN];
        reader
            .read_exact(&mut head)
            .map_err(|e| handshake_failed(addr, deadline, e))?;
        let h = frame::Header::decode(&head);
        let expected = [Kind::HelloOk as u16, Kind::Error as u16];
        if !expected.contains(&h.kind) || h.len as usize > DEFAULT_MAX_FRAME {
            return Err(PluginError::relayed(
                code::ESESS,
                format!(
                    "{addr} answered the handshake with something other than a vAccel agent's reply: {}",
                    describe_answer(&head)
                ),
            ));
        }
        let mut body = vec![0u8; h.len as usize];
        reader
            .read_exact(&mut body)
            .map_err(|e| handshake_failed(addr, deadline, e))?;
        let max_frame = match Message::decode(h.kind, &body) {
            Ok(Message::HelloOk { max_frame, .. }) => {
                (max_frame as usize).clamp(4096, DEFAULT_MAX_FRAME)
            }
            Ok(Message::Error { code: c, message }) => {
                return Err(PluginError::relayed(
                    code::ESESS,
                    format!("the agent at {addr} refused the connection: {message} (code {c})"),
                ));
            }
            other => return Err(lost(addr, format!("unexpected handshake reply {other:?}"))),
        };
        // Connected: calls wait on their replies as long as the agent works on them.
        stream.set_timeout(None).map_err(|e| lost(addr, e))?;
        tracing::debug!(address = %addr, epoch, "connected to the agent");
        Ok(Arc::new(Connection {
            addr: addr.clone(),
            writer: Mutex::new(stream),
            reader: Mutex::new(ReadSide {
                stream: reader,
                reassembler: Reassembler::new(1 << 31),
            }),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            dead: AtomicBool::new(false),
            max_frame,
            epoch,
        }))
    }

    /// Whether the connection has failed.
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Send a request and wait for its reply. An `Error` reply becomes `Err` with its code.
    ///
    /// # Errors
    /// The agent's error, or `ESESS` when the connection is lost.
    pub fn call(&self, msg: &Message) -> Result<Message, PluginError> {
        let parts = msg.encode_parts();
        let parts: Vec<&[u8]> = parts.iter().map(AsRef::as_ref).collect();
        self.call_parts(msg.kind(), &parts)
    }

    /// Send blob `index` of `upload` straight from `data` (no copy of the blob into a
    /// message) and wait for the reply.
    ///
    /// # Errors
    /// As [`Connection::call`].
    pub fn upload_blob(
        &self,
        upload: u64,
        index: u32,
        data: &[u8],
    ) -> Result<Message, PluginError> {
        let head = BlobUploadHead {
            upload,
            index,
            len: data.len() as u64,
        }
        .encode();
        self.call_parts(Kind::BlobUpload, &[&head, data])
    }

    /// A request whose body is the concatenation of `parts`.
    /// Send a message of `kind` whose payload is the concatenation of `parts` (written
    /// straight from them) and wait for the reply.
    ///
    /// # Errors
    /// As [`Connection::call`].
    pub fn call_parts(&self, kind: Kind, parts: &[&[u8]]) -> Result<Message, PluginError> {
        if self.is_dead() {
            return Err(lost(&self.addr, "earlier failure"));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot::default());
        lock(&self.pending).insert(id, slot.clone());
        let written = frame::write_frames(
            &mut *lock(&self.writer),
            kind as u16,
            id,
            parts,
            self.max_frame,
        );
        if let Err(e) = written {
            lock(&self.pending).remove(&id);
            self.fail(&e.to_string());
            return Err(lost(&self.addr, e));
        }
        match self.wait(id, &slot)? {
            Message::Error { code: c, message } => Err(PluginError::relayed(c, message)),
            other => Ok(other),
        }
    }

    /// Wait for `id`'s reply, reading the stream ourselves whenever nobody else is.
    fn wait(&self, id: u64, slot: &Slot) -> Reply {
        loop {
            {
                let mut st = lock(&slot.state);
                if let Some(r) = st.reply.take() {
                    return r;
                }
                st.nudged = false;
            }
            let side = match self.reader.try_lock() {
                Ok(g) => Some(g),
                Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            };
            if let Some(mut side) = side {
                let mine = self.read_until(id, slot, &mut side);
                drop(side);
                // Someone still waiting takes over reading.
                if let Some(next) = lock(&self.pending).values().next() {
                    next.nudge();
                }
                if let Some(r) = mine {
                    return r;
                }
                continue;
            }
            let mut st = lock(&slot.state);
            while st.reply.is_none() && !st.nudged {
                st = wait(&slot.ready, st);
            }
        }
    }

    /// Read replies until `id`'s (returned) or the stream fails (everyone gets ESESS).
    /// `None` when another reader delivered ours before we took the role.
    fn read_until(&self, id: u64, slot: &Slot, side: &mut ReadSide) -> Option<Reply> {
        loop {
            if let Some(r) = lock(&slot.state).reply.take() {
                return Some(r);
            }
            if self.is_dead() {
                return Some(Err(lost(&self.addr, "earlier failure")));
            }
            let (h, body) = match read_frame(&mut side.stream, DEFAULT_MAX_FRAME) {
                Ok(f) => f,
                Err(e) => {
                    self.fail(&e.to_string());
                    continue;
                }
            };
            let (kind, rid, payload) = match side.reassembler.push(h, &body) {
                Ok(Some(m)) => m,
                Ok(None) => continue,
                Err(e) => {
                    self.fail(&e.to_string());
                    continue;
                }
            };
            let msg = Message::decode(kind, &payload)
                .map_err(|e| PluginError::backend(format!("bad reply from the agent: {e}")));
            let Some(waiter) = lock(&self.pending).remove(&rid) else {
                continue;
            };
            if rid == id {
                return Some(msg);
            }
            waiter.fill(msg);
        }
    }

    /// The connection is unusable: mark it, close it, and give every waiting call ESESS.
    fn fail(&self, why: &str) {
        if self.dead.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::debug!(address = %self.addr, "agent connection closed: {why}");
        lock(&self.writer).shutdown();
        for (_, w) in lock(&self.pending).drain() {
            w.fill(Err(lost(&self.addr, why)));
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        lock(&self.writer).shutdown();
    }
}

/// Why a handshake step failed, for the person who pointed the plugin there.
fn handshake_failed(addr: &Address, deadline: Duration, e: std::io::Error) -> PluginError {
    use std::io::ErrorKind::{BrokenPipe, ConnectionReset, TimedOut, UnexpectedEof, WouldBlock};
    let why = match e.kind() {
        WouldBlock | TimedOut => format!(
            "{addr} did not answer the vAccel handshake within {} s: what listens there is not a vAccel agent of this protocol (upstream vAccel's ttrpc agent, for one, waits silently); check VACCEL_RPC_ADDRESS",
            deadline.as_secs_f32()
        ),
        UnexpectedEof | ConnectionReset | BrokenPipe => format!(
            "{addr} closed the connection during the handshake: not a vAccel agent of this protocol, or one that dropped us"
        ),
        _ => format!("handshake with {addr} failed: {e}"),
    };
    PluginError::relayed(code::ESESS, why)
}

/// What answered, from the first bytes it sent.
fn describe_answer(head: &[u8; frame::HEADER_LEN]) -> String {
    // A ttrpc frame header: u32 big-endian length, u32 stream id, u8 type (1 request,
    // 2 response, 3 data), u8 flags.
    let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    if (1..=3).contains(&head[8]) && len < (1 << 30) {
        return "a ttrpc frame (upstream vAccel's vaccel-rpc-agent?); this plugin speaks the vAccel agent protocol of docs/PROTOCOL.md".into();
    }
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    format!("bytes {}", hex.join(" "))
}

fn read_frame(r: &mut impl Read, max: usize) -> std::io::Result<(frame::Header, Vec<u8>)> {
    let mut head = [0u8; frame::HEADER_LEN];
    r.read_exact(&mut head)?;
    let h = frame::Header::decode(&head);
    if h.len as usize > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("reply frame of {} bytes exceeds {max}", h.len),
        ));
    }
    let mut body = vec![0u8; h.len as usize];
    r.read_exact(&mut body)?;
    Ok((h, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;
    use std::time::Instant;

    /// A Unix socket whose one connection is handed to `peer` (on its own thread).
    fn listen(
        peer: impl FnOnce(std::os::unix::net::UnixStream) + Send + 'static,
    ) -> (tempfile::TempDir, Address) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peer.sock");
        let l = UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            if let Ok((s, _)) = l.accept() {
                peer(s);
            }
        });
        let addr = format!("unix://{}", path.display()).parse().unwrap();
        (dir, addr)
    }

    fn open_err(addr: &Address) -> (PluginError, Duration) {
        let t = Instant::now();
        let e = Connection::open(addr, b"", 1, Duration::from_millis(300))
            .err()
            .expect("the handshake must fail");
        (e, t.elapsed())
    }

    #[test]
    fn a_silent_peer_is_an_error_within_the_deadline_not_a_hang() {
        // Accepts, reads what it is sent, never answers (as upstream's ttrpc agent does
        // with our hello: it waits for the rest of a "frame" of hundreds of megabytes).
        let (_d, addr) = listen(|mut s| {
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        });
        let (e, took) = open_err(&addr);
        assert_eq!(e.code, code::ESESS);
        assert!(
            e.message
                .contains("did not answer the vAccel handshake within 0.3 s")
                && e.message.contains("VACCEL_RPC_ADDRESS"),
            "{e}"
        );
        assert!(took < Duration::from_secs(3), "took {took:?}");
    }

    #[test]
    fn a_ttrpc_server_is_named_as_such() {
        let (_d, addr) = listen(|mut s| {
            let mut hello = [0u8; 16];
            let _ = s.read_exact(&mut hello);
            // A ttrpc response header (length 6, stream 1, type 2) and its payload.
            let _ = s.write_all(&[0, 0, 0, 6, 0, 0, 0, 1, 2, 0, 1, 2, 3, 4, 5, 6]);
            std::thread::sleep(Duration::from_secs(1));
        });
        let (e, _) = open_err(&addr);
        assert!(e.message.contains("a ttrpc frame"), "{e}");
    }

    #[test]
    fn a_peer_that_hangs_up_or_babbles_is_named() {
        let (_d, addr) = listen(drop);
        let (e, _) = open_err(&addr);
        assert!(
            e.message
                .contains("closed the connection during the handshake"),
            "{e}"
        );
        let (_d, addr) = listen(|mut s| {
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            std::thread::sleep(Duration::from_secs(1));
        });
        let (e, _) = open_err(&addr);
        assert!(e.message.contains("bytes 48 54 54 50"), "{e}");
    }
}
