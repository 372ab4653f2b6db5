//! Frames: a fixed 16-byte little-endian header and a payload.
//!
//! ```text
//! offset size field
//!  0     4    payload length in bytes (≤ the connection's maximum frame size)
//!  4     2    message kind (see `message::Kind`)
//!  6     2    flags: bit 0 MORE — more frames of this message follow
//!  8     8    request id (replies carry the id of their request)
//! 16     n    payload
//! ```
//!
//! A message larger than the maximum frame size travels as several frames with the same
//! kind and id, all but the last with MORE set; [`Reassembler`] joins them, up to a limit.
//! Decoding is `check` then `parse`: a partial frame is not an error, it is "need more".

use crate::error::ProtoError;

/// Header size.
pub const HEADER_LEN: usize = 16;
/// Default (and smallest allowed) maximum frame payload: 1 MiB.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;
/// Flag: more frames of this message follow.
pub const FLAG_MORE: u16 = 1;

/// A frame's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Payload length.
    pub len: u32,
    /// Message kind.
    pub kind: u16,
    /// Flags.
    pub flags: u16,
    /// Request id.
    pub id: u64,
}

impl Header {
    /// Encode into 16 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&self.len.to_le_bytes());
        b[4..6].copy_from_slice(&self.kind.to_le_bytes());
        b[6..8].copy_from_slice(&self.flags.to_le_bytes());
        b[8..16].copy_from_slice(&self.id.to_le_bytes());
        b
    }

    /// Decode from at least 16 bytes.
    pub fn decode(b: &[u8; HEADER_LEN]) -> Header {
        Header {
            len: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            kind: u16::from_le_bytes([b[4], b[5]]),
            flags: u16::from_le_bytes([b[6], b[7]]),
            id: u64::from_le_bytes(b[8..16].try_into().expect("8 bytes")),
        }
    }
}

/// Whether `buf` starts with a whole frame: `Ok(Some(total_len))`, `Ok(None)` for "need more
/// bytes", or an error for a header that can never be valid (oversized, unknown flags).
///
/// # Errors
/// [`ProtoError::FrameTooLarge`], [`ProtoError::BadFlags`].
pub fn check(buf: &[u8], max_frame: usize) -> Result<Option<usize>, ProtoError> {
    let Some(h) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let h = Header::decode(h);
    check_header(&h, max_frame)?;
    let total = HEADER_LEN + h.len as usize;
    Ok((buf.len() >= total).then_some(total))
}

/// Whether a header can be valid (see [`check`]).
///
/// # Errors
/// [`ProtoError::FrameTooLarge`], [`ProtoError::BadFlags`].
pub fn check_header(h: &Header, max_frame: usize) -> Result<(), ProtoError> {
    if h.len as usize > max_frame {
        return Err(ProtoError::FrameTooLarge {
            len: h.len as usize,
            max: max_frame,
        });
    }
    if h.flags & !FLAG_MORE != 0 {
        return Err(ProtoError::BadFlags(h.flags));
    }
    Ok(())
}

/// Split `buf`'s first whole frame (after [`check`] said it is there).
///
/// # Panics
/// If `buf` is shorter than the frame (callers check first).
pub fn parse(buf: &[u8]) -> (Header, &[u8]) {
    let h = Header::decode(buf.first_chunk::<HEADER_LEN>().expect("checked"));
    (h, &buf[HEADER_LEN..HEADER_LEN + h.len as usize])
}

/// Encode a message payload as one or more frames of at most `max_frame` payload bytes.
pub fn encode_frames(kind: u16, id: u64, payload: &[u8], max_frame: usize) -> Vec<u8> {
    let max = max_frame.max(1);
    let chunks: Vec<&[u8]> = if payload.is_empty() {
        vec![&[][..]]
    } else {
        payload.chunks(max).collect()
    };
    let mut out = Vec::with_capacity(payload.len() + HEADER_LEN * chunks.len());
    let last = chunks.len() - 1;
    for (i, c) in chunks.iter().enumerate() {
        let h = Header {
            len: c.len() as u32,
            kind,
            flags: if i < last { FLAG_MORE } else { 0 },
            id,
        };
        out.extend_from_slice(&h.encode());
        out.extend_from_slice(c);
    }
    out
}

/// Write a message whose payload is the concatenation of `parts` as frames of at most
/// `max_frame` payload bytes, straight from the parts (no joined copy of a large payload).
///
/// # Errors
/// The writer's.
pub fn write_frames(
    w: &mut impl std::io::Write,
    kind: u16,
    id: u64,
    parts: &[&[u8]],
    max_frame: usize,
) -> std::io::Result<()> {
    let max = max_frame.max(1);
    let mut left: usize = parts.iter().map(|p| p.len()).sum();
    let mut parts = parts.iter().copied().filter(|p| !p.is_empty());
    let mut cur: &[u8] = parts.next().unwrap_or_default();
    loop {
        let len = left.min(max);
        left -= len;
        let h = Header {
            len: len as u32,
            kind,
            flags: if left > 0 { FLAG_MORE } else { 0 },
            id,
        };
        // Small frames go out as one write; large ones as header, then body slices.
        if len <= 64 * 1024 {
            let mut frame = Vec::with_capacity(HEADER_LEN + len);
            frame.extend_from_slice(&h.encode());
            fill(&mut frame, len, &mut cur, &mut parts);
            w.write_all(&frame)?;
        } else {
            w.write_all(&h.encode())?;
            let mut need = len;
            while need > 0 {
                if cur.is_empty() {
                    cur = parts.next().unwrap_or_default();
                }
                let n = need.min(cur.len());
                w.write_all(&cur[..n])?;
                cur = &cur[n..];
                need -= n;
            }
        }
        if left == 0 {
            return Ok(());
        }
    }
}

fn fill<'a>(
    out: &mut Vec<u8>,
    mut need: usize,
    cur: &mut &'a [u8],
    parts: &mut impl Iterator<Item = &'a [u8]>,
) {
    while need > 0 {
        if cur.is_empty() {
            *cur = parts.next().unwrap_or_default();
        }
        let n = need.min(cur.len());
        out.extend_from_slice(&cur[..n]);
        *cur = &cur[n..];
        need -= n;
    }
}

/// Joins multi-frame messages, per request id, refusing any that grows past a limit.
#[derive(Debug, Default)]
pub struct Reassembler {
    partial: std::collections::HashMap<u64, (u16, Vec<u8>)>,
    limit: usize,
    held: usize,
}

impl Reassembler {
    /// A reassembler holding at most `limit` bytes of unfinished messages in all.
    pub fn new(limit: usize) -> Self {
        Reassembler {
            partial: Default::default(),
            limit,
            held: 0,
        }
    }

    /// Bytes held by unfinished messages.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Feed one frame; returns a complete message `(kind, id, payload)` when its last frame
    /// arrives.
    ///
    /// # Errors
    /// [`ProtoError::MessageTooLarge`] past the limit (the partial message is dropped);
    /// [`ProtoError::KindChanged`] when a continuation frame changes kind.
    pub fn push(
        &mut self,
        h: Header,
        payload: &[u8],
    ) -> Result<Option<(u16, u64, Vec<u8>)>, ProtoError> {
        let more = h.flags & FLAG_MORE != 0;
        if !more && !self.partial.contains_key(&h.id) {
            return Ok(Some((h.kind, h.id, payload.to_vec())));
        }
        if self.held + payload.len() > self.limit {
            if let Some((_, v)) = self.partial.remove(&h.id) {
                self.held -= v.len();
            }
            return Err(ProtoError::MessageTooLarge { limit: self.limit });
        }
        let entry = self
            .partial
            .entry(h.id)
            .or_insert_with(|| (h.kind, Vec::new()));
        if entry.0 != h.kind {
            let dropped = self.partial.remove(&h.id).map_or(0, |(_, v)| v.len());
            self.held -= dropped;
            return Err(ProtoError::KindChanged { id: h.id });
        }
        entry.1.extend_from_slice(payload);
        self.held += payload.len();
        if more {
            return Ok(None);
        }
        let (kind, data) = self.partial.remove(&h.id).expect("present");
        self.held -= data.len();
        Ok(Some((kind, h.id, data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_frames_matches_encode_frames() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        for (parts, max) in [
            (vec![&b"head"[..], &data[..]], 1 << 20),
            (vec![&b"head"[..], &data[..]], 70_000),
            (vec![&b"head"[..], &data[..]], 1000),
            (vec![&b""[..], &b"xy"[..], &b""[..]], 1),
            (vec![], 1024),
        ] {
            let joined: Vec<u8> = parts.concat();
            let mut out = Vec::new();
            write_frames(&mut out, 10, 42, &parts, max).unwrap();
            assert_eq!(out, encode_frames(10, 42, &joined, max), "max {max}");
        }
    }

    #[test]
    fn header_round_trips() {
        let h = Header {
            len: 7,
            kind: 3,
            flags: FLAG_MORE,
            id: u64::MAX - 1,
        };
        assert_eq!(Header::decode(&h.encode()), h);
    }

    #[test]
    fn check_waits_for_whole_frames_and_refuses_oversized() {
        let f = encode_frames(2, 9, b"hello", 1024);
        assert_eq!(check(&f[..3], 1024).unwrap(), None);
        assert_eq!(check(&f[..HEADER_LEN + 2], 1024).unwrap(), None);
        assert_eq!(check(&f, 1024).unwrap(), Some(f.len()));
        let (h, p) = parse(&f);
        assert_eq!((h.kind, h.id, p), (2, 9, &b"hello"[..]));
        let big = Header {
            len: 2048,
            kind: 1,
            flags: 0,
            id: 1,
        }
        .encode();
        assert!(matches!(
            check(&big, 1024),
            Err(ProtoError::FrameTooLarge {
                len: 2048,
                max: 1024
            })
        ));
        let flags = Header {
            len: 0,
            kind: 1,
            flags: 0x80,
            id: 1,
        }
        .encode();
        assert!(matches!(
            check(&flags, 1024),
            Err(ProtoError::BadFlags(0x80))
        ));
    }

    #[test]
    fn large_messages_split_and_reassemble() {
        let payload: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let bytes = encode_frames(5, 42, &payload, 1000);
        let mut r = Reassembler::new(1 << 20);
        let mut at = 0;
        let mut done = None;
        while let Some(n) = check(&bytes[at..], 1000).unwrap() {
            let (h, p) = parse(&bytes[at..]);
            at += n;
            if let Some(m) = r.push(h, p).unwrap() {
                done = Some(m);
            }
        }
        assert_eq!(at, bytes.len());
        assert_eq!(done.unwrap(), (5, 42, payload));
        assert_eq!(r.held(), 0);
    }

    #[test]
    fn reassembly_limit_is_enforced() {
        let bytes = encode_frames(5, 1, &[0u8; 5000], 1000);
        let mut r = Reassembler::new(2500);
        let mut at = 0;
        let mut err = None;
        while let Some(n) = check(&bytes[at..], 1000).unwrap() {
            let (h, p) = parse(&bytes[at..]);
            at += n;
            if let Err(e) = r.push(h, p) {
                err = Some(e);
                break;
            }
        }
        assert!(matches!(
            err,
            Some(ProtoError::MessageTooLarge { limit: 2500 })
        ));
        assert_eq!(r.held(), 0, "the partial message is dropped");
    }
}
