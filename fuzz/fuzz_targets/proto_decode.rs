//! Feed the protocol decoder arbitrary bytes: it must return messages or an error, never
//! panic, hang or allocate beyond its limits.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = vaccel_proto::decode_stream(data, 4096, 1 << 16);
    if let Some((kind, body)) = data.split_first_chunk::<2>() {
        let _ = vaccel_proto::Message::decode(u16::from_le_bytes(*kind), body);
    }
});
