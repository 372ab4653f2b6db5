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

mod op;

pub use op::{ArgRef, MAX_ARGS, OpMessage, encode_op_parts};
use op::{lists_parts, read_args};

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
mod tests;
