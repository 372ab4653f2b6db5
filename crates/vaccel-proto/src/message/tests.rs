use super::op::{ARG_ALIGN, BORROW_MIN};
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
