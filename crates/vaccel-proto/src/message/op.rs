//! The `Op` message: its arguments are the bulk of the traffic, so they are encoded as
//! borrowed parts (large arguments are never copied into the message) and decoded with
//! one copy into buffers the op then runs on.

use super::WireArg;
use crate::error::ProtoError;
use crate::wire::{Reader, Writer};
use std::borrow::Cow;

/// Most arguments in one list of an `Op` (read or write): upstream's ops take a few dozen
/// at most, and a cap keeps a message of many empty args from costing far more memory
/// decoded than on the wire.
pub const MAX_ARGS: usize = 1024;

/// Arguments this large travel borrowed (not copied) on both sides.
pub(super) const BORROW_MIN: usize = 4096;

/// Alignment of a large argument's bytes as a plugin sees them (any scalar type).
pub(super) const ARG_ALIGN: usize = 16;

/// An op argument whose bytes are borrowed (e.g. straight from the application's buffer),
/// for encoding an `Op` without copying them: see [`encode_op_parts`].
#[derive(Debug, Clone, Copy)]
pub struct ArgRef<'a> {
    /// `vaccel_arg_type_t`.
    pub arg_type: u32,
    /// Custom type id.
    pub custom_type_id: u32,
    /// Contents.
    pub data: &'a [u8],
}

impl<'a> From<&'a WireArg> for ArgRef<'a> {
    fn from(a: &'a WireArg) -> Self {
        ArgRef {
            arg_type: a.arg_type,
            custom_type_id: a.custom_type_id,
            data: &a.data,
        }
    }
}

/// Op arguments: `u32 count`, then per argument `u32 type, u32 custom id, bytes data`;
/// data of 4 KiB and more is borrowed into `parts` instead of copied into `w`.
fn args_parts<'a>(w: &mut Writer, parts: &mut Vec<Cow<'a, [u8]>>, args: &[ArgRef<'a>]) {
    w.u32(args.len() as u32);
    for a in args {
        w.u32(a.arg_type)
            .u32(a.custom_type_id)
            .u64(a.data.len() as u64);
        if a.data.len() >= BORROW_MIN {
            parts.push(Cow::Owned(std::mem::take(&mut w.buf)));
            parts.push(Cow::Borrowed(a.data));
        } else {
            w.raw(a.data);
        }
    }
}

pub(super) fn lists_parts<'a>(mut w: Writer, lists: &[&[ArgRef<'a>]]) -> Vec<Cow<'a, [u8]>> {
    let mut parts = Vec::new();
    for list in lists {
        args_parts(&mut w, &mut parts, list);
    }
    parts.push(Cow::Owned(w.buf));
    parts.retain(|p| !p.is_empty());
    parts
}

/// The payload of an `Op` message as pieces (see [`Message::encode_parts`]) from borrowed
/// arguments: a client sends large arguments straight from the caller's memory.
pub fn encode_op_parts<'a>(
    session: i64,
    op: u32,
    read: &[ArgRef<'a>],
    write: &[ArgRef<'a>],
) -> Vec<Cow<'a, [u8]>> {
    let mut w = Writer::new();
    w.i64(session).u32(op);
    lists_parts(w, &[read, write])
}

pub(super) fn read_args(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<Vec<WireArg>, ProtoError> {
    let n = r.count_at_most(what, 16, MAX_ARGS)?;
    (0..n)
        .map(|_| {
            Ok(WireArg {
                arg_type: r.u32(what)?,
                custom_type_id: r.u32(what)?,
                data: r.bytes(what)?.to_vec(),
            })
        })
        .collect()
}

/// An `Op` message decoded in place: its read arguments stay in the received body (large
/// inputs are not copied again), its write arguments are owned (the op fills them).
#[derive(Debug)]
pub struct OpMessage {
    /// Session id.
    pub session: i64,
    /// Op id.
    pub op: u32,
    body: Vec<u8>,
    read: Vec<InBody>,
    /// Write args.
    pub write: Vec<WireArg>,
}

#[derive(Debug)]
struct InBody {
    arg_type: u32,
    custom_type_id: u32,
    at: std::ops::Range<usize>,
    replaced: Option<Vec<u8>>,
}

impl InBody {
    fn view<'a>(&'a self, body: &'a [u8]) -> ArgRef<'a> {
        ArgRef {
            arg_type: self.arg_type,
            custom_type_id: self.custom_type_id,
            data: self.replaced.as_deref().unwrap_or(&body[self.at.clone()]),
        }
    }
}

impl OpMessage {
    /// Decode the body of an `Op` message, with the same checks as [`Message::decode`].
    ///
    /// # Errors
    /// [`ProtoError`] naming the field.
    pub fn decode(mut body: Vec<u8>) -> Result<OpMessage, ProtoError> {
        let mut r = Reader::new(&body);
        let session = r.i64("session")?;
        let op = r.u32("op")?;
        let n = r.count_at_most("read args", 16, MAX_ARGS)?;
        let mut read = Vec::with_capacity(n);
        for _ in 0..n {
            let arg_type = r.u32("read args")?;
            let custom_type_id = r.u32("read args")?;
            let data = r.bytes("read args")?;
            let end = body.len() - r.remaining();
            read.push(InBody {
                arg_type,
                custom_type_id,
                at: end - data.len()..end,
                // Small args get their own (aligned) buffer; large ones stay in the body.
                replaced: (data.len() < BORROW_MIN).then(|| data.to_vec()),
            });
        }
        let write = read_args(&mut r, "write args")?;
        r.finish()?;
        // Plugins read typed arrays in place, so a large arg must start aligned: move it
        // back over its own (already decoded) 16-byte header when it does not.
        for a in read.iter_mut().filter(|a| a.replaced.is_none()) {
            let start = body.as_ptr() as usize + a.at.start;
            let back = start % ARG_ALIGN;
            if back != 0 {
                body.copy_within(a.at.clone(), a.at.start - back);
                a.at = a.at.start - back..a.at.end - back;
            }
        }
        Ok(OpMessage {
            session,
            op,
            body,
            read,
            write,
        })
    }

    /// An op from arguments already in memory (a request of another protocol, translated):
    /// each read arg keeps its own buffer.
    ///
    /// # Errors
    /// [`ProtoError::TooMany`] past [`MAX_ARGS`] on either side, as [`OpMessage::decode`].
    pub fn from_args(
        session: i64,
        op: u32,
        read: Vec<WireArg>,
        write: Vec<WireArg>,
    ) -> Result<OpMessage, ProtoError> {
        for (what, n) in [("read args", read.len()), ("write args", write.len())] {
            if n > MAX_ARGS {
                return Err(ProtoError::TooMany {
                    what,
                    n,
                    max: MAX_ARGS,
                });
            }
        }
        let read = read
            .into_iter()
            .map(|a| InBody {
                arg_type: a.arg_type,
                custom_type_id: a.custom_type_id,
                at: 0..0,
                replaced: Some(a.data),
            })
            .collect();
        Ok(OpMessage {
            session,
            op,
            body: Vec::new(),
            read,
            write,
        })
    }

    /// Number of read args.
    pub fn read_len(&self) -> usize {
        self.read.len()
    }

    /// Read arg `i`.
    pub fn read(&self, i: usize) -> Option<ArgRef<'_>> {
        self.read.get(i).map(|a| a.view(&self.body))
    }

    /// Replace read arg `i`'s bytes (e.g. a client's resource id by the host's).
    pub fn replace_read(&mut self, i: usize, data: Vec<u8>) {
        if let Some(a) = self.read.get_mut(i) {
            a.replaced = Some(data);
        }
    }

    /// The read args and the write args, borrowed together (for running the op).
    pub fn args_mut(&mut self) -> (Vec<ArgRef<'_>>, &mut [WireArg]) {
        let body = &self.body;
        let read = self.read.iter().map(|a| a.view(body)).collect();
        (read, &mut self.write)
    }

    /// Bytes this decoded message holds in memory: the received body, the read args'
    /// own copies and index, the write args (what a receiver charges for it).
    pub fn footprint(&self) -> usize {
        let read: usize = self
            .read
            .iter()
            .map(|a| a.replaced.as_ref().map_or(0, Vec::capacity))
            .sum();
        let write: usize = self.write.iter().map(|a| a.data.capacity()).sum();
        self.body.capacity()
            + read
            + write
            + self.read.capacity() * std::mem::size_of::<InBody>()
            + self.write.capacity() * std::mem::size_of::<WireArg>()
    }

    /// The write args, after the op ran.
    pub fn into_write(self) -> Vec<WireArg> {
        self.write
    }
}
