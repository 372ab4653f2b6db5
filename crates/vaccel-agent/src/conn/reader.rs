//! Reading frames off a connection, and nothing else: bytes go straight into one buffer
//! whose size is charged to the tenant before it grows, and whole frames come out.
//!
//! Frames already in the buffer are handed out without reading or copying (pipelined
//! requests cost one read); the buffer is compacted only when more bytes are needed, and
//! given back when traffic is light again, so an idle connection holds no large buffer.

use crate::budget::Charge;
use crate::tenant::Failure;
use std::ops::Range;
use tokio::io::{AsyncReadExt, ReadHalf};
use vaccel_proto::{HEADER_LEN, Header, ProtoError, frame};
use vaccel_transport::server::Conn;

/// Why no frame came.
#[derive(Debug)]
pub enum ReadError {
    /// The framing is broken (oversized frame, unknown flags): nothing after it can be
    /// trusted.
    Frame(ProtoError),
    /// The buffer for the next frame could not be charged.
    Memory(Failure),
}

/// Reads frames into a charged buffer.
pub struct FrameReader {
    rd: ReadHalf<Box<dyn Conn>>,
    buf: Vec<u8>,
    /// Start of the first frame not handed out yet.
    at: usize,
    /// Payload size of the last frame handed out.
    last_frame: usize,
    charge: Charge,
}

/// A buffer of at least this much room is kept while frames arrive.
const MIN_ROOM: usize = 16 * 1024;
/// A buffer larger than this is given back when it empties after a small read.
const KEEP: usize = 64 * 1024;

impl FrameReader {
    /// A reader charging its buffer to `charge`.
    pub fn new(rd: ReadHalf<Box<dyn Conn>>, charge: Charge) -> Self {
        FrameReader {
            rd,
            buf: Vec::new(),
            at: 0,
            last_frame: 0,
            charge,
        }
    }

    /// The next whole frame of at most `max_frame` payload bytes — its header and where
    /// its payload is (see [`payload`](Self::payload)) — reading as needed. `Ok(None)` when
    /// the peer closed the connection (or it failed).
    ///
    /// # Errors
    /// [`ReadError`].
    pub async fn next(
        &mut self,
        max_frame: usize,
    ) -> Result<Option<(Header, Range<usize>)>, ReadError> {
        loop {
            let rest = &self.buf[self.at..];
            if let Some(total) = frame::check(rest, max_frame).map_err(ReadError::Frame)? {
                let h = Header::decode(rest.first_chunk().expect("checked"));
                let start = self.at + HEADER_LEN;
                self.at += total;
                self.last_frame = h.len as usize;
                return Ok(Some((h, start..self.at)));
            }
            self.make_room(max_frame)?;
            match self.rd.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => return Ok(None),
                Ok(_) => {}
            }
        }
    }

    /// The payload of a frame returned by [`next`](Self::next) (valid until the next call).
    pub fn payload(&self, at: Range<usize>) -> &[u8] {
        &self.buf[at]
    }

    /// Drop what was handed out; make room for the rest of a partly received frame (so a
    /// large frame arrives in a few large reads), charging any growth first.
    fn make_room(&mut self, max_frame: usize) -> Result<(), ReadError> {
        if self.at > 0 {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        if self.buf.is_empty() && self.last_frame < MIN_ROOM && self.buf.capacity() > KEEP {
            // Everything read is handled and the last frame was small: traffic is light
            // again, so the large buffer goes. (Not within a run of large frames, where
            // each would cost a new buffer and its page faults.)
            self.buf = Vec::new();
            self.charge.refund(self.charge.bytes());
        }
        let rest = self.buf.first_chunk::<HEADER_LEN>().map_or(0, |h| {
            let len = (Header::decode(h).len as usize).min(max_frame);
            (HEADER_LEN + len).saturating_sub(self.buf.len())
        });
        // The rest of the frame and room to read ahead (the next header with it).
        let room = rest + MIN_ROOM.min(HEADER_LEN + max_frame);
        if self.buf.capacity() - self.buf.len() >= room {
            return Ok(());
        }
        let want = self.buf.len() + room;
        self.charge
            .set(want as u64, "the connection's read buffer")
            .map_err(ReadError::Memory)?;
        self.buf.reserve_exact(room);
        // Exact reservations are exact in practice; charge what the Vec reports regardless.
        self.charge
            .set(self.buf.capacity() as u64, "the connection's read buffer")
            .map_err(ReadError::Memory)
    }
}
