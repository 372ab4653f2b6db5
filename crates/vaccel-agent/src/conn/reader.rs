//! Reading frames off a connection, and nothing else: bytes go straight into one buffer
//! whose size is charged to the tenant before it grows, and whole frames come out — of
//! either protocol the agent speaks ([`Framing`]: ours, [`Native`], or upstream's ttrpc,
//! [`Ttrpc`]). A frame's header is checked before any room is made for its payload.
//!
//! Frames already in the buffer are handed out without reading or copying (pipelined
//! requests cost one read); the buffer is compacted only when more bytes are needed, and
//! given back when traffic is light again, so an idle connection holds no large buffer.

use crate::budget::Charge;
use crate::tenant::Failure;
use std::ops::Range;
use tokio::io::{AsyncReadExt, ReadHalf};
use vaccel_transport::server::Conn;

/// A protocol's frames: a fixed-size header that declares its payload's length.
pub trait Framing {
    /// The decoded header.
    type Header: Copy;
    /// Header size.
    const HEADER_LEN: usize;
    /// Decode a header from (at least) [`Self::HEADER_LEN`] bytes.
    fn header(bytes: &[u8]) -> Self::Header;
    /// The payload length it declares.
    fn payload_len(h: &Self::Header) -> usize;
    /// Whether a header can be valid at all with payloads of at most `max` bytes: why not.
    ///
    /// # Errors
    /// What is wrong with it (the connection cannot be trusted after it).
    fn check(h: &Self::Header, max: usize) -> Result<(), String>;
}

/// Our protocol's frames.
pub struct Native;

impl Framing for Native {
    type Header = vaccel_proto::Header;
    const HEADER_LEN: usize = vaccel_proto::HEADER_LEN;
    fn header(bytes: &[u8]) -> Self::Header {
        vaccel_proto::Header::decode(bytes.first_chunk().expect("a whole header"))
    }
    fn payload_len(h: &Self::Header) -> usize {
        h.len as usize
    }
    fn check(h: &Self::Header, max: usize) -> Result<(), String> {
        vaccel_proto::frame::check_header(h, max).map_err(|e| e.to_string())
    }
}

/// ttrpc's frames (upstream's guests).
pub struct Ttrpc;

impl Framing for Ttrpc {
    type Header = vaccel_ttrpc::framing::Header;
    const HEADER_LEN: usize = vaccel_ttrpc::framing::HEADER_LEN;
    fn header(bytes: &[u8]) -> Self::Header {
        vaccel_ttrpc::framing::Header::decode(bytes.first_chunk().expect("a whole header"))
    }
    fn payload_len(h: &Self::Header) -> usize {
        h.length as usize
    }
    fn check(h: &Self::Header, max: usize) -> Result<(), String> {
        vaccel_ttrpc::framing::check_client_frame(h, max)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Why no frame came.
#[derive(Debug)]
pub enum ReadError {
    /// The framing is broken (oversized frame, unknown flags): nothing after it can be
    /// trusted.
    Frame(String),
    /// The buffer for the next frame could not be charged.
    Memory(Failure),
}

/// Reads frames of protocol `F` into a charged buffer.
pub struct FrameReader<F: Framing> {
    framing: std::marker::PhantomData<F>,
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

impl<F: Framing> FrameReader<F> {
    /// A reader charging its buffer to `charge`.
    pub fn new(rd: ReadHalf<Box<dyn Conn>>, charge: Charge) -> Self {
        FrameReader {
            framing: std::marker::PhantomData,
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
    ) -> Result<Option<(F::Header, Range<usize>)>, ReadError> {
        loop {
            let rest = &self.buf[self.at..];
            if rest.len() >= F::HEADER_LEN {
                let h = F::header(rest);
                F::check(&h, max_frame).map_err(ReadError::Frame)?;
                let total = F::HEADER_LEN + F::payload_len(&h);
                if rest.len() >= total {
                    let start = self.at + F::HEADER_LEN;
                    self.at += total;
                    self.last_frame = F::payload_len(&h);
                    return Ok(Some((h, start..self.at)));
                }
            }
            if !self.read_more(max_frame).await? {
                return Ok(None);
            }
        }
    }

    /// The first `n` bytes not handed out yet, reading until there are as many (`None`:
    /// the peer closed first). For telling the protocols apart before any frame is taken.
    ///
    /// # Errors
    /// [`ReadError::Memory`].
    pub async fn peek(&mut self, n: usize) -> Result<Option<&[u8]>, ReadError> {
        while self.buf.len() - self.at < n {
            if !self.read_more(n).await? {
                return Ok(None);
            }
        }
        Ok(Some(&self.buf[self.at..self.at + n]))
    }

    /// The same connection, its unread bytes and charged buffer kept, read as protocol `G`.
    pub fn into_framing<G: Framing>(self) -> FrameReader<G> {
        FrameReader {
            framing: std::marker::PhantomData,
            rd: self.rd,
            buf: self.buf,
            at: self.at,
            last_frame: self.last_frame,
            charge: self.charge,
        }
    }

    /// Read what the socket has (making room first): `false` when the peer is gone.
    async fn read_more(&mut self, max_frame: usize) -> Result<bool, ReadError> {
        self.make_room(max_frame)?;
        Ok(matches!(self.rd.read_buf(&mut self.buf).await, Ok(n) if n > 0))
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
        let rest = if self.buf.len() >= F::HEADER_LEN {
            let len = F::payload_len(&F::header(&self.buf)).min(max_frame);
            (F::HEADER_LEN + len).saturating_sub(self.buf.len())
        } else {
            0
        };
        // The rest of the frame and room to read ahead (the next header with it).
        let room = rest + MIN_ROOM.min(F::HEADER_LEN + max_frame);
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
