//! The framing and messages against the real thing: the `ttrpc` crate's own client (what
//! upstream's guest client is built on) talks to a server made of this crate's pieces.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use vaccel_ttrpc::framing::{self, HEADER_LEN, Header};
use vaccel_ttrpc::pb::vaccel::session::{CreateRequest, CreateResponse, DestroyRequest};
use vaccel_ttrpc::status::{self, code};
use vaccel_ttrpc::{Message, Method, SERVICE};

/// Serve one connection with this crate's framing: CreateSession answers session 7 (the
/// flags echoed back in the id's high bits), DestroySession fails the vAccel way,
/// anything else is UNIMPLEMENTED. Returns the first bytes the client sent.
fn serve(mut s: UnixStream) -> Vec<u8> {
    let mut first = Vec::new();
    loop {
        let mut head = [0u8; HEADER_LEN];
        if s.read_exact(&mut head).is_err() {
            return first;
        }
        if first.is_empty() {
            first.extend_from_slice(&head);
        }
        let h = Header::decode(&head);
        let len = framing::check_request(&h, 1 << 20).expect("a valid request frame");
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload).unwrap();
        let req = framing::decode_request(payload.into()).unwrap();
        let reply = match Method::of(&req.service, &req.method) {
            Some(Method::CreateSession) => {
                let c = CreateRequest::decode(req.payload).unwrap();
                Ok(CreateResponse {
                    session_id: 7 | (i64::from(c.flags) << 32),
                }
                .encode_to_vec()
                .into())
            }
            Some(Method::DestroySession) => {
                let d = DestroyRequest::decode(req.payload).unwrap();
                Err(status::vaccel_error(
                    2,
                    format!("session {} not found", d.session_id),
                ))
            }
            _ => Err(status::rpc_error(
                code::UNIMPLEMENTED,
                format!("{}/{} is not served", req.service, req.method),
            )),
        };
        s.write_all(&framing::response(h.stream_id, reply)).unwrap();
    }
}

fn request(method: &str, payload: Vec<u8>) -> ttrpc::Request {
    let mut r = ttrpc::Request::new();
    r.set_service(SERVICE.to_string());
    r.set_method(method.to_string());
    r.payload = payload;
    r
}

#[test]
fn the_ttrpc_crates_client_is_served_by_this_framing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || serve(listener.accept().unwrap().0));

    let client = ttrpc::Client::connect(&format!("unix://{}", path.display())).unwrap();
    // A call that succeeds: the reply message decodes.
    let r = client
        .request(request(
            "CreateSession",
            CreateRequest { flags: 0x4000 }.encode_to_vec(),
        ))
        .unwrap();
    let created = CreateResponse::decode(r.payload.as_slice()).unwrap();
    assert_eq!(created.session_id, 7 | (0x4000 << 32));

    // A vAccel failure: an INTERNAL status whose detail the guest reads as the errno.
    match client.request(request(
        "DestroySession",
        DestroyRequest { session_id: 9 }.encode_to_vec(),
    )) {
        Err(ttrpc::Error::RpcStatus(s)) => {
            assert_eq!(s.code.value(), code::INTERNAL);
            assert_eq!(s.message, "session 9 not found");
            assert_eq!(s.details.len(), 1);
            assert_eq!(s.details[0].type_url, status::ERROR_TYPE_URL);
            let e = vaccel_ttrpc::pb::vaccel::Error::decode(s.details[0].value.as_slice()).unwrap();
            assert_eq!(e.ffi_error, Some(2));
        }
        other => panic!("expected an rpc status, got {other:?}"),
    }

    // An unknown method: UNIMPLEMENTED, no detail.
    match client.request(request("NoSuchMethod", Vec::new())) {
        Err(ttrpc::Error::RpcStatus(s)) => {
            assert_eq!(s.code.value(), code::UNIMPLEMENTED);
            assert!(s.details.is_empty());
        }
        other => panic!("expected UNIMPLEMENTED, got {other:?}"),
    }
    drop(client);

    // What a ttrpc client sends first is told apart from our protocol's Hello.
    let first = server.join().unwrap();
    assert_eq!(framing::is_ttrpc(&first), Some(true));
}

#[test]
fn our_protocols_hello_is_not_taken_for_ttrpc() {
    use vaccel_proto::{DEFAULT_MAX_FRAME, Message as Ours, PROTO_MAJOR, PROTO_MINOR, frame};
    let hello = Ours::Hello {
        major: PROTO_MAJOR,
        minor: PROTO_MINOR,
        features: 0,
        token: b"a token".to_vec(),
    };
    let bytes = frame::encode_frames(hello.kind() as u16, 0, &hello.encode(), DEFAULT_MAX_FRAME);
    assert_eq!(framing::is_ttrpc(&bytes), Some(false));
    assert_eq!(framing::is_ttrpc(&bytes[..9]), None);
}

#[test]
fn frames_are_checked_before_their_payload_is_read() {
    let ok = Header {
        length: 100,
        stream_id: 3,
        kind: framing::TYPE_REQUEST,
        flags: 0,
    };
    assert_eq!(Header::decode(&ok.encode()), ok);
    assert_eq!(framing::check_request(&ok, 100), Ok(100));
    let huge = Header {
        length: u32::MAX,
        ..ok
    };
    assert!(matches!(
        framing::check_request(&huge, framing::UPSTREAM_MAX_MESSAGE),
        Err(framing::FrameError::TooLarge { .. })
    ));
    let even = Header { stream_id: 4, ..ok };
    assert!(matches!(
        framing::check_request(&even, 100),
        Err(framing::FrameError::EvenStream(4))
    ));
    let data = Header {
        kind: framing::TYPE_DATA,
        ..ok
    };
    assert!(matches!(
        framing::check_request(&data, 100),
        Err(framing::FrameError::NotARequest(3))
    ));
    assert!(framing::decode_request(bytes::Bytes::from_static(&[0xff, 0xff, 0xff])).is_err());
    // Every RPC's name maps back to it, under both service names, and nothing else does.
    for m in Method::ALL {
        assert_eq!(Method::of(SERVICE, m.name()), Some(*m));
        assert_eq!(Method::of(vaccel_ttrpc::SERVICE_ASYNC, m.name()), Some(*m));
    }
    assert_eq!(Method::of("other.Service", "CreateSession"), None);
    assert_eq!(Method::ALL.len(), 18);
}
