//! Protocol errors: every one names what was wrong. A peer that sends one of these gets an
//! error reply (or its connection closed, for framing errors); nothing panics.

/// What is wrong with bytes from the peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// A frame declares more payload than allowed.
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// Declared length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Unknown flag bits.
    #[error("unknown frame flags {0:#x}")]
    BadFlags(u16),
    /// A multi-frame message grew past the reassembly limit.
    #[error("message exceeds the {limit}-byte limit for unfinished messages")]
    MessageTooLarge {
        /// Limit.
        limit: usize,
    },
    /// A continuation frame changed message kind.
    #[error("request {id}: continuation frame changed message kind")]
    KindChanged {
        /// Request id.
        id: u64,
    },
    /// Unknown message kind.
    #[error("unknown message kind {0}")]
    UnknownKind(u16),
    /// A message body ended early.
    #[error("{what}: message truncated (needed {need} more bytes, {have} left)")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bytes needed.
        need: u64,
        /// Bytes left.
        have: usize,
    },
    /// A list has more items than allowed.
    #[error("{what}: {n} items, more than the {max} allowed")]
    TooMany {
        /// The list.
        what: &'static str,
        /// Items declared.
        n: usize,
        /// Limit.
        max: usize,
    },
    /// Bytes left over after a message body.
    #[error("{0} unexpected bytes after the message")]
    Trailing(usize),
    /// A string field is not UTF-8.
    #[error("{0} is not UTF-8")]
    NotUtf8(&'static str),
    /// A field's value is out of range.
    #[error("{what}: {value} is out of range")]
    OutOfRange {
        /// The field.
        what: &'static str,
        /// Its value.
        value: u64,
    },
    /// The handshake did not match.
    #[error("handshake: {0}")]
    Handshake(String),
}
