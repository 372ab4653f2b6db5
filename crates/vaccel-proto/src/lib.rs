//! # vaccel-proto: the vAccel wire protocol, sans-IO
//!
//! What a client (the rpc plugin) and the agent say to each other, with no sockets in
//! sight: [`frame`] (16-byte header, maximum size, multi-frame messages and their
//! reassembly limit), [`message`] (every message and its byte layout), [`wire`] (checked
//! little-endian fields). docs/PROTOCOL.md is the byte-level contract.
//!
//! Guest input is hostile from its first byte: every length and count is checked against
//! the bytes present before anything is allocated, decoding never panics, and a fuzz
//! target (`fuzz/`) feeds the decoder random bytes.

#![forbid(unsafe_code)]

pub mod error;
pub mod frame;
pub mod message;
pub mod wire;

pub use error::ProtoError;
pub use frame::{DEFAULT_MAX_FRAME, FLAG_MORE, HEADER_LEN, Header, Reassembler};
pub use message::{
    ArgRef, BlobInfo, BlobUploadHead, Kind, MAGIC, MAX_ARGS, Message, OpMessage, PROTO_MAJOR,
    PROTO_MINOR, WireArg, encode_op_parts,
};

/// Decode everything in `buf` as a stream of frames (the fuzz target's entry point):
/// complete messages are returned; an error stops the stream. Never panics, except when
/// the in-place op decoder and [`Message::decode`] disagree (a bug the fuzzer should find).
///
/// # Errors
/// The first [`ProtoError`].
pub fn decode_stream(
    buf: &[u8],
    max_frame: usize,
    limit: usize,
) -> Result<Vec<(u64, Message)>, ProtoError> {
    let mut out = Vec::new();
    let mut r = Reassembler::new(limit);
    let mut at = 0;
    while let Some(n) = frame::check(&buf[at..], max_frame)? {
        let (h, payload) = frame::parse(&buf[at..]);
        at += n;
        if let Some((kind, id, body)) = r.push(h, payload)? {
            let msg = Message::decode(kind, &body);
            if kind == Kind::Op as u16 {
                // The agent's in-place decoder must agree with the plain one.
                let in_place = OpMessage::decode(body);
                assert_eq!(
                    msg.is_ok(),
                    in_place.is_ok(),
                    "the two op decoders disagree"
                );
            }
            out.push((id, msg?));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_of_messages_decodes() {
        let mut bytes = Vec::new();
        let msgs = [
            Message::Ping,
            Message::BlobUpload {
                upload: 1,
                index: 0,
                data: vec![7; 5000],
            },
            Message::SessionCreate { hint: 1 },
        ];
        for (i, m) in msgs.iter().enumerate() {
            bytes.extend(frame::encode_frames(
                m.kind() as u16,
                i as u64,
                &m.encode(),
                1024,
            ));
        }
        let got = decode_stream(&bytes, 1024, 1 << 20).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].1, msgs[1]);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..2000 {
            let len = (x % 200) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = decode_stream(&bytes, 64, 256);
        }
    }
}
