//! Messages: the payloads of frames, by kind. The byte layouts are listed in
//! docs/PROTOCOL.md; every field is little-endian, `bytes` are a `u64` length then the
//! bytes, `str` is UTF-8 `bytes`, and lists are a `u32` count then the items.

use crate::error::ProtoError;
use crate::wire::{Reader, Writer};
use std::borrow::Cow;

/// Protocol major version: a different major is refused at the handshake.
pub const PROTO_MAJOR: u16 = 1;
/// Protocol minor version: additions only.
pub const PROTO_MINOR: u16 = 0;
/// The 8 bytes a client's `Hello` starts with.
pub const MAGIC: [u8; 8] = *b"vACCEL\0\x01";

/// Message kinds (the frame header's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Kind {
    /// Client → agent, first message.
    Hello = 1,
    /// Agent → client, accepting the handshake.
    HelloOk = 2,
    /// Agent → client: a request failed.
    Error = 3,
    /// Create a session.
    SessionCreate = 4,
    /// The session's id.
    SessionCreated = 5,
    /// Release a session.
    SessionRelease = 6,
    /// Success without data.
    Ok = 7,
    /// Offer a resource by its blobs' hashes.
    ResourceOffer = 8,
    /// Which blobs the agent lacks.
    ResourceOffered = 9,
    /// One missing blob's bytes.
    BlobUpload = 10,
    /// A resource exists on the agent.
    ResourceReady = 11,
    /// Use an operator-catalogued model by name.
    ModelByName = 12,
    /// Register a resource with a session.
    Register = 13,
    /// Unregister a resource from a session.
    Unregister = 14,
    /// Release a resource.
    ResourceRelease = 15,
    /// Run an op.
    Op = 16,
    /// An op's results.
    OpDone = 17,
    /// Liveness check.
    Ping = 18,
    /// Reply to `Ping`.
    Pong = 19,
}

impl Kind {
    /// From its number.
    ///
    /// # Errors
    /// [`ProtoError::UnknownKind`].
    pub fn from_raw(v: u16) -> Result<Kind, ProtoError> {
        use Kind::*;
        std::result::Result::Ok(match v {
            1 => Hello,
            2 => HelloOk,
            3 => Error,
            4 => SessionCreate,
            5 => SessionCreated,
            6 => SessionRelease,
            7 => Ok,
            8 => ResourceOffer,
            9 => ResourceOffered,
            10 => BlobUpload,
            11 => ResourceReady,
            12 => ModelByName,
            13 => Register,
            14 => Unregister,
            15 => ResourceRelease,
            16 => Op,
            17 => OpDone,
            18 => Ping,
            19 => Pong,
            _ => return Err(ProtoError::UnknownKind(v)),
        })
    }
}

/// One op argument on the wire: `u32 type, u32 custom_type_id, bytes data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireArg {
    /// `vaccel_arg_type_t`.
    pub arg_type: u32,
    /// Custom type id.
    pub custom_type_id: u32,
    /// Contents (for write args: the current contents, which in/out args need, and the
    /// capacity the result may use).
    pub data: Vec<u8>,
}

/// A blob, described by name, content hash and length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// File name.
    pub name: String,
    /// SHA-256 of the contents.
    pub sha256: [u8; 32],
    /// Length in bytes.
    pub len: u64,
}

/// A message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `MAGIC, u16 major, u16 minor, u64 features, bytes token`.
    Hello {
        /// Client's major.
        major: u16,
        /// Client's minor.
        minor: u16,
        /// Feature bits the client supports.
        features: u64,
        /// Shared token (empty when none).
        token: Vec<u8>,
    },
    /// `u16 major, u16 minor, u64 features, u32 max_frame, str server`.
    HelloOk {
        /// Agent's major.
        major: u16,
        /// Agent's minor.
        minor: u16,
        /// Features both sides will use.
        features: u64,
        /// Largest frame payload the agent accepts.
        max_frame: u32,
        /// Agent name and version.
        server: String,
    },
    /// `i32 code, str message`.
    Error {
        /// `VACCEL_E*` code.
        code: i32,
        /// What went wrong.
        message: String,
    },
    /// `u32 hint`.
    SessionCreate {
        /// Session hint bits.
        hint: u32,
    },
    /// `i64 session`.
    SessionCreated {
        /// Session id (in this connection's namespace).
        session: i64,
    },
    /// `i64 session`.
    SessionRelease {
        /// Session id.
        session: i64,
    },
    /// (empty).
    Ok,
    /// `u32 type, list of (str name, [32] sha256, u64 len)`.
    ResourceOffer {
        /// `VACCEL_RESOURCE_*`.
        resource_type: u32,
        /// The blobs.
        blobs: Vec<BlobInfo>,
    },
    /// `u64 upload, list of u32 missing`.
    ResourceOffered {
        /// Upload id for `BlobUpload`s.
        upload: u64,
        /// Indices of the blobs the agent lacks (empty: send `BlobUpload` with none, done).
        missing: Vec<u32>,
    },
    /// `u64 upload, u32 index, bytes data` (large blobs span several frames).
    BlobUpload {
        /// Upload id.
        upload: u64,
        /// Blob index in the offer.
        index: u32,
        /// Its bytes.
        data: Vec<u8>,
    },
    /// `i64 resource`.
    ResourceReady {
        /// Resource id (in this connection's namespace).
        resource: i64,
    },
    /// `str name`.
    ModelByName {
        /// Catalogue name.
        name: String,
    },
    /// `i64 session, i64 resource`.
    Register {
        /// Session id.
        session: i64,
        /// Resource id.
        resource: i64,
    },
    /// `i64 session, i64 resource`.
    Unregister {
        /// Session id.
        session: i64,
        /// Resource id.
        resource: i64,
    },
    /// `i64 resource`.
    ResourceRelease {
        /// Resource id.
        resource: i64,
    },
    /// `i64 session, u32 op, list read, list write` (args: `u32 type, u32 custom, bytes`).
    Op {
        /// Session id.
        session: i64,
        /// Op id.
        op: u32,
        /// Read args.
        read: Vec<WireArg>,
        /// Write args.
        write: Vec<WireArg>,
    },
    /// `list write`: the write args after the op.
    OpDone {
        /// Write args.
        write: Vec<WireArg>,
    },
    /// (empty).
    Ping,
    /// (empty).
    Pong,
}

/// Most arguments in one list of an `Op` (read or write): upstream's ops take a few dozen
/// at most, and a cap keeps a message of many empty args from costing far more memory
/// decoded than on the wire.
pub const MAX_ARGS: usize = 1024;

/// Arguments this large travel borrowed (not copied) on both sides.
const BORROW_MIN: usize = 4096;

/// Alignment of a large argument's bytes as a plugin sees them (any scalar type).
const ARG_ALIGN: usize = 16;

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

fn lists_parts<'a>(mut w: Writer, lists: &[&[ArgRef<'a>]]) -> Vec<Cow<'a, [u8]>> {
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

fn read_args(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<WireArg>, ProtoError> {
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

/// The fixed start of a `BlobUpload` body — `u64 upload, u32 index, u64 len` — after
/// which the blob's `len` bytes follow. It lets either side stream a large blob: the
/// sender writes frames straight from the blob, the receiver writes each frame's bytes
/// straight into the blob's final buffer (see docs/PROTOCOL.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobUploadHead {
    /// Upload id.
    pub upload: u64,
    /// Blob index in the offer.
    pub index: u32,
    /// Bytes of data that follow.
    pub len: u64,
}

impl BlobUploadHead {
    /// Encoded size.
    pub const LEN: usize = 20;

    /// The head's bytes.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut w = Writer::new();
        w.u64(self.upload).u32(self.index).u64(self.len);
        let mut out = [0u8; Self::LEN];
        out.copy_from_slice(&w.buf);
        out
    }

    /// Read a head from the first [`Self::LEN`] bytes of a `BlobUpload` body.
    ///
    /// # Errors
    /// [`ProtoError::Truncated`] when fewer bytes are given.
    pub fn decode(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(b);
        Ok(BlobUploadHead {
            upload: r.u64("upload")?,
            index: r.u32("index")?,
            len: r.u64("data")?,
        })
    }
}

impl Message {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Message::Hello { .. } => Kind::Hello,
            Message::HelloOk { .. } => Kind::HelloOk,
            Message::Error { .. } => Kind::Error,
            Message::SessionCreate { .. } => Kind::SessionCreate,
            Message::SessionCreated { .. } => Kind::SessionCreated,
            Message::SessionRelease { .. } => Kind::SessionRelease,
            Message::Ok => Kind::Ok,
            Message::ResourceOffer { .. } => Kind::ResourceOffer,
            Message::ResourceOffered { .. } => Kind::ResourceOffered,
            Message::BlobUpload { .. } => Kind::BlobUpload,
            Message::ResourceReady { .. } => Kind::ResourceReady,
            Message::ModelByName { .. } => Kind::ModelByName,
            Message::Register { .. } => Kind::Register,
            Message::Unregister { .. } => Kind::Unregister,
            Message::ResourceRelease { .. } => Kind::ResourceRelease,
            Message::Op { .. } => Kind::Op,
            Message::OpDone { .. } => Kind::OpDone,
            Message::Ping => Kind::Ping,
            Message::Pong => Kind::Pong,
        }
    }

    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            Message::Hello {
                major,
                minor,
                features,
                token,
            } => {
                w.raw(&MAGIC)
                    .u16(*major)
                    .u16(*minor)
                    .u64(*features)
                    .bytes(token);
            }
            Message::HelloOk {
                major,
                minor,
                features,
                max_frame,
                server,
            } => {
                w.u16(*major)
                    .u16(*minor)
                    .u64(*features)
                    .u32(*max_frame)
                    .str(server);
            }
            Message::Error { code, message } => {
                w.i32(*code).str(message);
            }
            Message::SessionCreate { hint } => {
                w.u32(*hint);
            }
            Message::SessionCreated { session } | Message::SessionRelease { session } => {
                w.i64(*session);
            }
            Message::Ok | Message::Ping | Message::Pong => {}
            Message::ResourceOffer {
                resource_type,
                blobs,
            } => {
                w.u32(*resource_type).u32(blobs.len() as u32);
                for b in blobs {
                    w.str(&b.name).raw(&b.sha256).u64(b.len);
                }
            }
            Message::ResourceOffered { upload, missing } => {
                w.u64(*upload).u32(missing.len() as u32);
                for m in missing {
                    w.u32(*m);
                }
            }
            Message::BlobUpload {
                upload,
                index,
                data,
            } => {
                w.u64(*upload).u32(*index).bytes(data);
            }
            Message::ResourceReady { resource } | Message::ResourceRelease { resource } => {
                w.i64(*resource);
            }
            Message::ModelByName { name } => {
                w.str(name);
            }
            Message::Register { session, resource } | Message::Unregister { session, resource } => {
                w.i64(*session).i64(*resource);
            }
            Message::Op { .. } | Message::OpDone { .. } => return self.encode_parts().concat(),
        }
        w.buf
    }

    /// The payload as pieces whose concatenation is [`Message::encode`]'s bytes, with large
    /// op arguments borrowed rather than copied (write them with
    /// [`crate::frame::write_frames`]).
    pub fn encode_parts(&self) -> Vec<Cow<'_, [u8]>> {
        fn refs(l: &[WireArg]) -> Vec<ArgRef<'_>> {
            l.iter().map(ArgRef::from).collect()
        }
        match self {
            Message::Op {
                session,
                op,
                read,
                write,
            } => encode_op_parts(*session, *op, &refs(read), &refs(write)),
            Message::OpDone { write } => lists_parts(Writer::new(), &[&refs(write)]),
            other => vec![Cow::Owned(other.encode())],
        }
    }

    /// Decode a payload of `kind`, refusing anything malformed or left over.
    ///
    /// # Errors
    /// [`ProtoError`] naming the field.
    pub fn decode(kind: u16, payload: &[u8]) -> Result<Message, ProtoError> {
        let mut r = Reader::new(payload);
        let m = match Kind::from_raw(kind)? {
            Kind::Hello => {
                if r.array::<8>("magic")? != MAGIC {
                    return Err(ProtoError::Handshake(
                        "not a vAccel client (bad magic)".into(),
                    ));
                }
                Message::Hello {
                    major: r.u16("major")?,
                    minor: r.u16("minor")?,
                    features: r.u64("features")?,
                    token: r.bytes("token")?.to_vec(),
                }
            }
            Kind::HelloOk => Message::HelloOk {
                major: r.u16("major")?,
                minor: r.u16("minor")?,
                features: r.u64("features")?,
                max_frame: r.u32("max_frame")?,
                server: r.str("server")?.to_string(),
            },
            Kind::Error => Message::Error {
                code: r.i32("code")?,
                message: r.str("message")?.to_string(),
            },
            Kind::SessionCreate => Message::SessionCreate {
                hint: r.u32("hint")?,
            },
            Kind::SessionCreated => Message::SessionCreated {
                session: r.i64("session")?,
            },
            Kind::SessionRelease => Message::SessionRelease {
                session: r.i64("session")?,
            },
            Kind::Ok => Message::Ok,
            Kind::Ping => Message::Ping,
            Kind::Pong => Message::Pong,
            Kind::ResourceOffer => {
                let resource_type = r.u32("resource type")?;
                let n = r.count("blobs", 8 + 32 + 8)?;
                let blobs = (0..n)
                    .map(|_| {
                        Ok(BlobInfo {
                            name: r.str("blob name")?.to_string(),
                            sha256: r.array::<32>("blob sha256")?,
                            len: r.u64("blob length")?,
                        })
                    })
                    .collect::<Result<_, ProtoError>>()?;
                Message::ResourceOffer {
                    resource_type,
                    blobs,
                }
            }
            Kind::ResourceOffered => {
                let upload = r.u64("upload")?;
                let n = r.count("missing", 4)?;
                let missing = (0..n)
                    .map(|_| r.u32("missing index"))
                    .collect::<Result<_, _>>()?;
                Message::ResourceOffered { upload, missing }
            }
            Kind::BlobUpload => Message::BlobUpload {
                upload: r.u64("upload")?,
                index: r.u32("blob index")?,
                data: r.bytes("blob data")?.to_vec(),
            },
            Kind::ResourceReady => Message::ResourceReady {
                resource: r.i64("resource")?,
            },
            Kind::ResourceRelease => Message::ResourceRelease {
                resource: r.i64("resource")?,
            },
            Kind::ModelByName => Message::ModelByName {
                name: r.str("model name")?.to_string(),
            },
            Kind::Register => Message::Register {
                session: r.i64("session")?,
                resource: r.i64("resource")?,
            },
            Kind::Unregister => Message::Unregister {
                session: r.i64("session")?,
                resource: r.i64("resource")?,
            },
            Kind::Op => Message::Op {
                session: r.i64("session")?,
                op: r.u32("op")?,
                read: read_args(&mut r, "read args")?,
                write: read_args(&mut r, "write args")?,
            },
            Kind::OpDone => Message::OpDone {
                write: read_args(&mut r, "write args")?,
            },
        };
        r.finish()?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn encode_parts_concatenate_to_encode() {
        let big: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let arg = |data: Vec<u8>| WireArg {
            arg_type: 18,
            custom_type_id: 3,
            data,
        };
        for m in [
            Message::Op {
                session: 4,
                op: 17,
                read: vec![
                    arg(vec![1, 2]),
                    arg(big.clone()),
                    arg(vec![]),
                    arg(big.clone()),
                ],
                write: vec![arg(big.clone()), arg(vec![9])],
            },
            Message::OpDone {
                write: vec![arg(big.clone())],
            },
            Message::Op {
                session: 1,
                op: 0,
                read: vec![],
                write: vec![],
            },
            Message::Ping,
        ] {
            let joined: Vec<u8> = m.encode_parts().concat();
            assert_eq!(joined, m.encode(), "{:?}", m.kind());
        }
        let head = BlobUploadHead {
            upload: 5,
            index: 2,
            len: 3,
        };
        let whole = Message::BlobUpload {
            upload: 5,
            index: 2,
            data: vec![7, 8, 9],
        }
        .encode();
        assert_eq!([&head.encode()[..], &[7, 8, 9]].concat(), whole);
        assert_eq!(BlobUploadHead::decode(&whole).unwrap(), head);
    }

    use super::*;

    fn all() -> Vec<Message> {
        let arg = |t, d: &[u8]| WireArg {
            arg_type: t,
            custom_type_id: 7,
            data: d.to_vec(),
        };
        vec![
            Message::Hello {
                major: 1,
                minor: 0,
                features: 3,
                token: b"secret".to_vec(),
            },
            Message::HelloOk {
                major: 1,
                minor: 2,
                features: 1,
                max_frame: 1 << 20,
                server: "vaccel-agent 0.1".into(),
            },
            Message::Error {
                code: 22,
                message: "bad".into(),
            },
            Message::SessionCreate { hint: 0x100 },
            Message::SessionCreated { session: 5 },
            Message::SessionRelease { session: 5 },
            Message::Ok,
            Message::ResourceOffer {
                resource_type: 2,
                blobs: vec![BlobInfo {
                    name: "m.onnx".into(),
                    sha256: [9; 32],
                    len: 18_000_000,
                }],
            },
            Message::ResourceOffered {
                upload: 3,
                missing: vec![0, 2],
            },
            Message::BlobUpload {
                upload: 3,
                index: 0,
                data: vec![1, 2, 3],
            },
            Message::ResourceReady { resource: 4 },
            Message::ModelByName {
                name: "efficientnet".into(),
            },
            Message::Register {
                session: 1,
                resource: 4,
            },
            Message::Unregister {
                session: 1,
                resource: 4,
            },
            Message::ResourceRelease { resource: 4 },
            Message::Op {
                session: 1,
                op: 17,
                read: vec![arg(7, &[1; 8]), arg(27, b"x\0")],
                write: vec![arg(18, &[0; 16])],
            },
            Message::OpDone {
                write: vec![arg(18, &[1; 16])],
            },
            Message::Ping,
            Message::Pong,
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for m in all() {
            let bytes = m.encode();
            assert_eq!(
                Message::decode(m.kind() as u16, &bytes).unwrap(),
                m,
                "{:?}",
                m.kind()
            );
        }
    }

    #[test]
    fn ops_decoded_in_place_match_and_large_args_are_aligned() {
        let arg = |t: u32, data: Vec<u8>| WireArg {
            arg_type: t,
            custom_type_id: 5,
            data,
        };
        // Small args of odd sizes in front push the large ones off alignment.
        for pad in 0..17usize {
            let read = vec![
                arg(1, vec![9; pad]),
                arg(2, (0..20_000u32).map(|i| i as u8).collect()),
                arg(3, vec![1, 2, 3]),
                arg(4, (0..9_999u32).map(|i| (i * 7) as u8).collect()),
            ];
            let write = vec![arg(6, vec![0; 4])];
            let m = Message::Op {
                session: 3,
                op: 11,
                read: read.clone(),
                write: write.clone(),
            };
            let mut op = OpMessage::decode(m.encode()).unwrap();
            assert_eq!((op.session, op.op, op.read_len()), (3, 11, 4));
            for (i, want) in read.iter().enumerate() {
                let got = op.read(i).unwrap();
                assert_eq!((got.arg_type, got.custom_type_id), (want.arg_type, 5));
                assert_eq!(got.data, want.data.as_slice(), "pad {pad} arg {i}");
                if got.data.len() >= BORROW_MIN {
                    assert_eq!(got.data.as_ptr() as usize % ARG_ALIGN, 0, "pad {pad}");
                }
            }
            op.replace_read(0, vec![42; 8]);
            let (r, w) = op.args_mut();
            assert_eq!(r[0].data, &[42; 8]);
            assert_eq!(r[1].data, read[1].data.as_slice());
            assert_eq!(w, write.as_slice());
            assert_eq!(op.into_write(), write);
        }
        // The same checks as Message::decode: truncations and trailing bytes are errors.
        let bytes = Message::Op {
            session: 1,
            op: 2,
            read: vec![arg(1, vec![0; 5000])],
            write: vec![],
        }
        .encode();
        for cut in 0..bytes.len() {
            assert!(
                OpMessage::decode(bytes[..cut].to_vec()).is_err(),
                "cut {cut}"
            );
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(OpMessage::decode(long).is_err());
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for m in all() {
            let bytes = m.encode();
            for cut in 0..bytes.len() {
                assert!(
                    Message::decode(m.kind() as u16, &bytes[..cut]).is_err(),
                    "{:?} cut at {cut}",
                    m.kind()
                );
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(matches!(
                Message::decode(m.kind() as u16, &longer),
                Err(ProtoError::Trailing(1))
            ));
        }
    }

    #[test]
    fn hostile_counts_do_not_allocate() {
        // An Op claiming 4 billion read args in a 20-byte body.
        let mut w = Writer::new();
        w.i64(1).u32(17).u32(u32::MAX);
        let e = Message::decode(Kind::Op as u16, &w.buf).unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::Truncated {
                    what: "read args",
                    ..
                }
            ),
            "{e}"
        );
        // A blob claiming u64::MAX bytes.
        let mut w = Writer::new();
        w.u64(1).u32(0).u64(u64::MAX);
        assert!(Message::decode(Kind::BlobUpload as u16, &w.buf).is_err());
    }

    #[test]
    fn unknown_kinds_and_bad_magic_are_named() {
        assert_eq!(
            Message::decode(999, &[]).unwrap_err(),
            ProtoError::UnknownKind(999)
        );
        let mut bytes = Message::Hello {
            major: 1,
            minor: 0,
            features: 0,
            token: vec![],
        }
        .encode();
        bytes[0] = b'X';
        assert!(
            Message::decode(1, &bytes)
                .unwrap_err()
                .to_string()
                .contains("bad magic")
        );
    }
}
