//! The connection to the agent: one stream, a reader thread that hands each reply to the
//! call waiting for its request id, and writers that take turns per message. Many calls
//! run at once on one connection; none waits for another's reply.
//!
//! When the connection breaks, every call waiting on it gets `VACCEL_ESESS`, and the next
//! call connects again (a new "epoch": the agent has forgotten the old one's state).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vaccel_plugin::{PluginError, code};
use vaccel_proto::{DEFAULT_MAX_FRAME, Message, PROTO_MAJOR, PROTO_MINOR, Reassembler, frame};
use vaccel_transport::{Address, Stream};

type Waiter = Sender<Result<Message, PluginError>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn lost(addr: &Address, why: impl std::fmt::Display) -> PluginError {
    PluginError::new(
        code::ESESS,
        format!("connection to the agent at {addr} lost: {why}"),
    )
}

/// One live connection.
pub struct Connection {
    addr: Address,
    writer: Mutex<Stream>,
    pending: Arc<Mutex<HashMap<u64, Waiter>>>,
    next_id: AtomicU64,
    dead: Arc<AtomicBool>,
    max_frame: usize,
    /// Which connection this is (reconnects count up).
    pub epoch: u64,
}

impl Connection {
    /// Connect, handshake, start the reader.
    ///
    /// # Errors
    /// `ESESS` naming the address when it cannot be reached or refuses the handshake.
    pub fn open(addr: &Address, token: &[u8], epoch: u64) -> Result<Arc<Connection>, PluginError> {
        let mut stream = vaccel_transport::connect(addr, Duration::from_secs(10))
            .map_err(|e| PluginError::new(code::ESESS, format!("cannot reach the agent: {e}")))?;
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
            .map_err(|e| lost(addr, e))?;
        let mut reader = stream.try_clone().map_err(|e| lost(addr, e))?;
        let (h, body) = read_frame(&mut reader, DEFAULT_MAX_FRAME).map_err(|e| lost(addr, e))?;
        let max_frame = match Message::decode(h.kind, &body) {
            Ok(Message::HelloOk { max_frame, .. }) => {
                (max_frame as usize).clamp(4096, DEFAULT_MAX_FRAME)
            }
            Ok(Message::Error { code: c, message }) => {
                return Err(PluginError::new(
                    code::ESESS,
                    format!("the agent at {addr} refused the connection: {message} (code {c})"),
                ));
            }
            other => return Err(lost(addr, format!("unexpected handshake reply {other:?}"))),
        };
        let conn = Arc::new(Connection {
            addr: addr.clone(),
            writer: Mutex::new(stream),
            pending: Arc::new(Mutex::new(HashMap::new())),
            next_id: AtomicU64::new(1),
            dead: Arc::new(AtomicBool::new(false)),
            max_frame,
            epoch,
        });
        let (pending, dead, a) = (conn.pending.clone(), conn.dead.clone(), addr.clone());
        std::thread::Builder::new()
            .name("vaccel-rpc-reader".into())
            .spawn(move || reader_loop(reader, &pending, &dead, &a))
            .map_err(|e| lost(addr, e))?;
        tracing::debug!(address = %addr, epoch, "connected to the agent");
        Ok(conn)
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
        if self.is_dead() {
            return Err(lost(&self.addr, "earlier failure"));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = channel();
        lock(&self.pending).insert(id, tx);
        let bytes = frame::encode_frames(msg.kind() as u16, id, &msg.encode(), self.max_frame);
        let written = lock(&self.writer).write_all(&bytes);
        if let Err(e) = written {
            lock(&self.pending).remove(&id);
            self.dead.store(true, Ordering::Release);
            lock(&self.writer).shutdown();
            return Err(lost(&self.addr, e));
        }
        let reply = rx.recv().map_err(|_| lost(&self.addr, "no reply"))??;
        match reply {
            Message::Error { code: c, message } => Err(PluginError::new(c, message)),
            other => Ok(other),
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        lock(&self.writer).shutdown();
    }
}

fn read_frame(r: &mut Stream, max: usize) -> std::io::Result<(frame::Header, Vec<u8>)> {
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

fn reader_loop(
    mut r: Stream,
    pending: &Mutex<HashMap<u64, Waiter>>,
    dead: &AtomicBool,
    addr: &Address,
) {
    let mut reassembler = Reassembler::new(1 << 31);
    let why = loop {
        let (h, body) = match read_frame(&mut r, DEFAULT_MAX_FRAME) {
            Ok(f) => f,
            Err(e) => break e.to_string(),
        };
        let (kind, id, payload) = match reassembler.push(h, &body) {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(e) => break e.to_string(),
        };
        let msg = Message::decode(kind, &payload)
            .map_err(|e| PluginError::backend(format!("bad reply from the agent: {e}")));
        if let Some(w) = lock(pending).remove(&id) {
            let _ = w.send(msg);
        }
    };
    dead.store(true, Ordering::Release);
    tracing::debug!(address = %addr, "agent connection closed: {why}");
    for (_, w) in lock(pending).drain() {
        let _ = w.send(Err(lost(addr, &why)));
    }
}
