//! Upstream's guests on our agent: the `ttrpc` crate's own client (what upstream's guest
//! client is built on), with messages from the `.proto` files of `vaccel-ttrpc`, drives
//! every `AgentService` method against a real agent — and the hostile-client checks of
//! our own protocol hold for ttrpc too.

mod common;
#[path = "../../vaccel/tests/support/mod.rs"]
mod support;

use common::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;
use vaccel::{OpType, ResourceType};
use vaccel_agent::AgentConfig;
use vaccel_ttrpc::framing::{self, FLAG_NO_DATA, FLAG_REMOTE_CLOSED, FLAG_REMOTE_OPEN, Header};
use vaccel_ttrpc::pb::google::rpc::Status;
use vaccel_ttrpc::pb::vaccel::empty::Empty;
use vaccel_ttrpc::pb::vaccel::{genop, image, profiling, resource, session, tf, tflite, torch};
use vaccel_ttrpc::{Message as _, SERVICE, SERVICE_ASYNC, status};

/// Held by the tests that load the CPUs and by the one that measures a wait, so that the
/// measurement does not depend on what else this binary runs meanwhile.
static CPU_BOUND: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn cpu_bound() -> std::sync::MutexGuard<'static, ()> {
    CPU_BOUND.lock().unwrap_or_else(|e| e.into_inner())
}

/// A guest: the ttrpc crate's synchronous client on the agent's socket.
struct Guest(ttrpc::Client);

impl Guest {
    fn connect(path: &Path) -> Guest {
        Guest(ttrpc::Client::connect(&format!("unix://{}", path.display())).unwrap())
    }

    /// Call `method` with `req`: the reply message, or the failed status.
    fn call<Q: vaccel_ttrpc::Message, R: vaccel_ttrpc::Message + Default>(
        &self,
        method: &str,
        req: &Q,
    ) -> Result<R, Status> {
        let mut r = ttrpc::Request::new();
        r.set_service(SERVICE.to_string());
        r.set_method(method.to_string());
        r.payload = req.encode_to_vec();
        match self.0.request(r) {
            Ok(resp) => Ok(R::decode(resp.payload.as_slice()).expect("a reply message")),
            Err(ttrpc::Error::RpcStatus(s)) => Err(Status {
                code: s.code.value(),
                message: s.message.clone(),
                details: s
                    .details
                    .iter()
                    .map(|d| prost_types::Any {
                        type_url: d.type_url.clone(),
                        value: d.value.clone(),
                    })
                    .collect(),
            }),
            Err(e) => panic!("{method}: transport failure {e:?}"),
        }
    }

    fn session(&self) -> i64 {
        let r: session::CreateResponse = self
            .call("CreateSession", &session::CreateRequest { flags: 0 })
            .unwrap();
        assert!(r.session_id > 0);
        r.session_id
    }

    fn update(&self, session_id: i64, flags: u32) -> Result<Empty, Status> {
        self.call(
            "UpdateSession",
            &session::UpdateRequest { session_id, flags },
        )
    }

    fn register(&self, session: i64, rt: ResourceType, name: &str, data: Vec<u8>) -> i64 {
        let r: resource::RegisterResponse = self
            .call(
                "RegisterResource",
                &resource::RegisterRequest {
                    blobs: vec![resource::Blob {
                        r#type: resource::BlobType::Buffer as i32,
                        name: name.into(),
                        size: data.len() as u32,
                        data,
                    }],
                    resource_type: rt.raw() as i32,
                    session_id: session,
                    ..Default::default()
                },
            )
            .unwrap();
        r.resource_id
    }
}

/// The vAccel code a failed call returns to the guest.
fn errno(r: Result<impl std::fmt::Debug, Status>) -> (i32, String) {
    let s = r.expect_err("the call fails");
    (
        status::vaccel_code(&s).unwrap_or_else(|| panic!("no vaccel.Error detail in {s:?}")),
        s.message,
    )
}

fn arg(ty: vaccel::ArgType, buf: Vec<u8>) -> genop::Arg {
    genop::Arg {
        size: buf.len() as u32,
        buf,
        arg_type: ty.raw() as i32,
        ..Default::default()
    }
}

fn op_arg(op: OpType) -> genop::Arg {
    arg(vaccel::ArgType::Uint8, vec![op.raw() as u8])
}

/// Our own protocol's `sgemm` request (tests/common) as a genop request: op type first.
fn sgemm_genop(session: i64, m: usize, n: usize) -> genop::Request {
    let vaccel_proto::Message::Op { read, write, .. } = sgemm(0, m, n) else {
        unreachable!()
    };
    let conv = |w: vaccel_proto::WireArg| genop::Arg {
        size: w.data.len() as u32,
        buf: w.data,
        arg_type: w.arg_type as i32,
        custom_type_id: w.custom_type_id,
        ..Default::default()
    };
    genop::Request {
        session_id: session,
        read_args: std::iter::once(op_arg(OpType::BlasSgemm))
            .chain(read.into_iter().map(conv))
            .collect(),
        write_args: write.into_iter().map(conv).collect(),
    }
}

fn in_process() -> vaccel::Session {
    let rt = vaccel_builtins::register(vaccel::Runtime::builder())
        .build()
        .unwrap();
    vaccel::Session::new(&rt, 0).unwrap()
}

#[test]
fn every_rpc_of_agent_service_through_the_ttrpc_crates_client() {
    let _one = cpu_bound();
    let assets = support::assets();
    let dir = tempfile::tempdir().unwrap();
    let lib = support::mytestlib(dir.path());
    let mut config = AgentConfig::default();
    config
        .allow_exec
        .insert((lib.clone(), "mytestfunc".to_string()));
    // Guests may name the models directory's files (the ttrpc crate's own client sends
    // at most 4 MiB, too little for the model; upstream's fork sends up to 1 GiB).
    let models = assets.join("models").canonicalize().unwrap();
    config.guest_paths.push(models.clone());
    let ((path, _d, stop, handle), _agent) = start_agent(config);
    let g = Guest::connect(&path);
    let local = in_process();

    // Sessions.
    let sess = g.session();
    g.update(sess, 0).unwrap();

    // Classify a photo: the same text as in-process, in upstream's 1,024-byte buffer.
    let photo = std::fs::read(assets.join("images/rocket.jpg")).unwrap();
    let r: image::Response = g
        .call(
            "ImageClassification",
            &image::Request {
                session_id: sess,
                image: photo.clone(),
            },
        )
        .unwrap();
    assert_eq!(r.tags.len(), 1024);
    let text = String::from_utf8(r.tags.split(|b| *b == 0).next().unwrap().to_vec()).unwrap();
    assert_eq!(text, local.image_classify(&photo).unwrap().text);
    assert!(text.contains('%'), "{text}");

    // Genop sgemm: C = A·B of ones.
    let r: genop::Response = g.call("Genop", &sgemm_genop(sess, 8, 4)).unwrap();
    assert_eq!(r.write_args.len(), 1);
    assert_eq!(r.write_args[0].size, 32 * 4);
    assert!(
        r.write_args[0]
            .buf
            .chunks(4)
            .all(|c| c == 1f32.to_le_bytes())
    );

    // Exec of the operator-allowed library, and of one it did not allow.
    let exec = |lib: &str| genop::Request {
        session_id: sess,
        read_args: vec![
            op_arg(OpType::Exec),
            arg(vaccel::ArgType::String, format!("{lib}\0").into_bytes()),
            arg(vaccel::ArgType::String, b"mytestfunc\0".to_vec()),
            arg(vaccel::ArgType::Int32, 21i32.to_le_bytes().to_vec()),
        ],
        write_args: vec![arg(vaccel::ArgType::Int32, vec![0; 4])],
    };
    let r: genop::Response = g.call("Genop", &exec(&lib)).unwrap();
    assert_eq!(r.write_args[0].buf, 42i32.to_le_bytes());
    let (code, msg) = errno(g.call::<_, genop::Response>("Genop", &exec("/usr/lib/libc.so.6")));
    assert_eq!(code, vaccel::code::EPERM, "{msg}");
    assert!(msg.contains("--allow-exec"), "{msg}");

    // A model run: the ONNX model by a path the operator allows, run as Torch and as
    // TFLite; the outputs are exactly those of the same run in-process.
    let model_path = models.join("efficientnet-lite0.onnx");
    let model_bytes = std::fs::read(&model_path).unwrap();
    let r: resource::RegisterResponse = g
        .call(
            "RegisterResource",
            &resource::RegisterRequest {
                paths: vec![model_path.to_str().unwrap().into()],
                resource_type: ResourceType::Model.raw() as i32,
                session_id: sess,
                ..Default::default()
            },
        )
        .unwrap();
    let model = r.resource_id;
    assert!(model > 0);
    // Updating a session that holds resources to the hint it has changes nothing (and is
    // not refused); another hint would need the resources unregistered first.
    g.update(sess, 0).unwrap();
    let (code, msg) = errno(g.update(sess, vaccel::plugin_type::CPU));
    assert!(msg.contains("registered resources"), "{code}: {msg}");
    let _: Empty = g
        .call(
            "TorchModelLoad",
            &torch::ModelLoadRequest {
                session_id: sess,
                model_id: model,
            },
        )
        .unwrap();
    let input: Vec<u8> = (0..3 * 224 * 224)
        .flat_map(|i| ((i % 255) as f32 / 255.0).to_le_bytes())
        .collect();
    let r: torch::ModelRunResponse = g
        .call(
            "TorchModelRun",
            &torch::ModelRunRequest {
                session_id: sess,
                model_id: model,
                in_tensors: vec![torch::Tensor {
                    data: input.clone(),
                    dims: vec![1, 3, 224, 224],
                    r#type: torch::DataType::Float as i32,
                }],
                nr_out_tensors: 1,
                run_options: None,
            },
        )
        .unwrap();
    let local_model =
        vaccel::Resource::from_buffer(model_bytes, ResourceType::Model, "model.onnx").unwrap();
    local.register(&local_model).unwrap();
    let want = local
        .model_run(
            &local_model,
            &[
                vaccel::Tensor::new(vaccel::DType::F32, vec![1, 3, 224, 224], input.clone())
                    .unwrap(),
            ],
            1,
        )
        .unwrap();
    assert_eq!(r.out_tensors.len(), 1);
    assert_eq!(r.out_tensors[0].dims, want[0].dims);
    assert_eq!(r.out_tensors[0].data, want[0].data);
    let r: tflite::ModelRunResponse = g
        .call(
            "TensorflowLiteModelRun",
            &tflite::ModelRunRequest {
                session_id: sess,
                model_id: model,
                in_tensors: vec![tflite::Tensor {
                    data: input.clone(),
                    dims: vec![1, 3, 224, 224],
                    // TFLite's types travel shifted by one: FLOAT32 (1 in C) is 2.
                    r#type: tflite::DataType::Float32 as i32,
                }],
                nr_out_tensors: 1,
            },
        )
        .unwrap();
    assert_eq!(r.out_tensors[0].data, want[0].data);
    let want_input = input;
    let r: tf::ModelLoadResponse = g
        .call(
            "TensorflowModelLoad",
            &tf::ModelLoadRequest {
                session_id: sess,
                model_id: model,
            },
        )
        .unwrap();
    assert_eq!(r.status.map(|s| s.code), Some(0));
    let node = |name: &str| tf::Node {
        name: name.into(),
        id: 0,
    };
    let r: tf::ModelRunResponse = g
        .call(
            "TensorflowModelRun",
            &tf::ModelRunRequest {
                session_id: sess,
                model_id: model,
                run_options: None,
                in_nodes: vec![node("input")],
                out_nodes: vec![node("output")],
                in_tensors: vec![tf::Tensor {
                    data: want_input.clone(),
                    dims: vec![1, 3, 224, 224],
                    r#type: tf::DataType::Float as i32,
                }],
            },
        )
        .unwrap();
    assert_eq!(r.out_tensors[0].data, want[0].data);
    assert_eq!(r.status.map(|s| s.code), Some(0));
    let r: tf::ModelUnloadResponse = g
        .call(
            "TensorflowModelUnload",
            &tf::ModelUnloadRequest {
                session_id: sess,
                model_id: model,
            },
        )
        .unwrap();
    assert_eq!(r.status.map(|s| s.code), Some(0));
    for method in ["TensorflowLiteModelLoad", "TensorflowLiteModelUnload"] {
        let _: Empty = g
            .call(
                method,
                &tflite::ModelLoadRequest {
                    session_id: sess,
                    model_id: model,
                },
            )
            .unwrap();
    }
    // Asking for absurdly many outputs is refused before anything is allocated for them.
    let (code, msg) = errno(g.call::<_, torch::ModelRunResponse>(
        "TorchModelRun",
        &torch::ModelRunRequest {
            session_id: sess,
            model_id: model,
            nr_out_tensors: u64::MAX,
            ..Default::default()
        },
    ));
    assert_eq!(code, vaccel::code::EINVAL, "{msg}");

    // Resources: registered with a second session by id, synced, unregistered.
    let data = b"some data".to_vec();
    let res = g.register(sess, ResourceType::Data, "data.bin", data.clone());
    let sess2 = g.session();
    let again: resource::RegisterResponse = g
        .call(
            "RegisterResource",
            &resource::RegisterRequest {
                resource_id: res,
                session_id: sess2,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(again.resource_id, res);
    let synced: resource::SyncResponse = g
        .call("SyncResource", &resource::SyncRequest { resource_id: res })
        .unwrap();
    assert_eq!(synced.blobs.len(), 1);
    assert_eq!(synced.blobs[0].data, data);
    let unregister = |s: i64| {
        g.call::<_, Empty>(
            "UnregisterResource",
            &resource::UnregisterRequest {
                resource_id: res,
                session_id: s,
            },
        )
    };
    unregister(sess).unwrap();
    // Still registered with sess2: kept.
    g.call::<_, resource::SyncResponse>(
        "SyncResource",
        &resource::SyncRequest { resource_id: res },
    )
    .unwrap();
    unregister(sess2).unwrap();
    // Registered nowhere now: destroyed, as upstream does.
    let (code, _) = errno(g.call::<_, resource::SyncResponse>(
        "SyncResource",
        &resource::SyncRequest { resource_id: res },
    ));
    assert_eq!(code, vaccel::code::ENOENT);

    // Host paths and URLs: refused, saying how the operator allows paths.
    for p in ["/etc/passwd", "https://example.invalid/model.onnx"] {
        let (code, msg) = errno(g.call::<_, resource::RegisterResponse>(
            "RegisterResource",
            &resource::RegisterRequest {
                paths: vec![p.into()],
                resource_type: ResourceType::Model.raw() as i32,
                session_id: sess,
                ..Default::default()
            },
        ));
        assert_eq!(code, vaccel::code::EPERM, "{p}: {msg}");
    }

    // The profiler answers for the session.
    let _: profiling::Response = g
        .call("GetProfiler", &profiling::Request { session_id: sess })
        .unwrap();

    // Errors carry the vAccel code: an unknown session is ENOENT.
    let (code, msg) = errno(g.call::<_, image::Response>(
        "ImageClassification",
        &image::Request {
            session_id: 999,
            image: photo,
        },
    ));
    assert_eq!(code, vaccel::code::ENOENT, "{msg}");
    let _: Empty = g
        .call(
            "DestroySession",
            &session::DestroyRequest { session_id: sess2 },
        )
        .unwrap();
    drop(g);
    stop.send(()).unwrap();
    handle.join().unwrap();
}

/// A raw ttrpc connection, for what the ttrpc crate's client would never send.
struct Raw {
    s: UnixStream,
}

impl Raw {
    fn connect(path: &Path) -> Raw {
        let s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Raw { s }
    }

    fn frame(&mut self, stream: u32, kind: u8, flags: u8, payload: &[u8]) {
        let h = Header {
            length: payload.len() as u32,
            stream_id: stream,
            kind,
            flags,
        };
        self.s.write_all(&h.encode()).unwrap();
        self.s.write_all(payload).unwrap();
    }

    fn request(&mut self, stream: u32, service: &str, method: &str, flags: u8, payload: Vec<u8>) {
        let r = vaccel_ttrpc::pb::ttrpc::Request {
            service: service.into(),
            method: method.into(),
            payload: payload.into(),
            ..Default::default()
        };
        self.frame(stream, framing::TYPE_REQUEST, flags, &r.encode_to_vec());
    }

    /// The next response: its stream and what it says.
    fn response(&mut self) -> Option<(u32, Result<Vec<u8>, Status>)> {
        let mut head = [0u8; framing::HEADER_LEN];
        self.s.read_exact(&mut head).ok()?;
        let h = Header::decode(&head);
        assert_eq!(h.kind, framing::TYPE_RESPONSE);
        let mut body = vec![0; h.length as usize];
        self.s.read_exact(&mut body).unwrap();
        let r = vaccel_ttrpc::pb::ttrpc::Response::decode(body.as_slice()).unwrap();
        let st = r.status.unwrap_or_default();
        Some((
            h.stream_id,
            if st.code == 0 {
                Ok(r.payload.to_vec())
            } else {
                Err(st)
            },
        ))
    }

    fn session(&mut self, stream: u32) -> i64 {
        self.request(
            stream,
            SERVICE,
            "CreateSession",
            0,
            session::CreateRequest { flags: 0 }.encode_to_vec(),
        );
        let (_, r) = self.response().unwrap();
        session::CreateResponse::decode(r.unwrap().as_slice())
            .unwrap()
            .session_id
    }

    /// Whether the agent closed the connection (after any last words).
    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.s.read_to_end(&mut rest) {
            Ok(_) => true,
            // Closed with bytes of ours unread.
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

#[test]
fn genop_stream_reassembles_large_arguments_from_parts() {
    let ((path, _d, stop, handle), _agent) = start_agent(AgentConfig::default());
    let mut c = Raw::connect(&path);
    let sess = c.session(1);
    // The async guests' service name, a stream opened without data.
    c.request(
        3,
        SERVICE_ASYNC,
        "GenopStream",
        FLAG_REMOTE_OPEN | FLAG_NO_DATA,
        vec![],
    );
    let whole = sgemm_genop(sess, 300, 2);
    let (m, n) = (300usize, 2usize);
    // Every read arg but A in one message, A (1,200 bytes) in three parts, the output
    // in another message.
    let mut read = whole.read_args.clone();
    let a = read.remove(5);
    assert_eq!(a.buf.len(), m * 4);
    let send = |c: &mut Raw, stream: u32, req: genop::Request| {
        c.frame(stream, framing::TYPE_DATA, 0, &req.encode_to_vec());
    };
    send(
        &mut c,
        3,
        genop::Request {
            session_id: sess,
            read_args: read[..5].to_vec(),
            write_args: vec![],
        },
    );
    for (i, chunk) in a.buf.chunks(400).enumerate() {
        send(
            &mut c,
            3,
            genop::Request {
                session_id: sess,
                read_args: vec![genop::Arg {
                    buf: chunk.to_vec(),
                    size: a.buf.len() as u32,
                    arg_type: a.arg_type,
                    parts: 3,
                    part_no: i as u32 + 1,
                    ..Default::default()
                }],
                write_args: vec![],
            },
        );
    }
    send(
        &mut c,
        3,
        genop::Request {
            session_id: sess,
            read_args: read[5..].to_vec(),
            write_args: whole.write_args.clone(),
        },
    );
    c.frame(
        3,
        framing::TYPE_DATA,
        FLAG_REMOTE_CLOSED | FLAG_NO_DATA,
        &[],
    );
    let (stream, r) = c.response().unwrap();
    assert_eq!(stream, 3);
    let r = genop::Response::decode(r.unwrap().as_slice()).unwrap();
    assert_eq!(r.write_args[0].buf.len(), m * n * 4);
    assert!(
        r.write_args[0]
            .buf
            .chunks(4)
            .all(|c| c == 1f32.to_le_bytes())
    );

    // Parts out of order fail that call, not the connection.
    c.request(
        5,
        SERVICE,
        "GenopStream",
        FLAG_REMOTE_OPEN | FLAG_NO_DATA,
        vec![],
    );
    send(
        &mut c,
        5,
        genop::Request {
            session_id: sess,
            read_args: vec![genop::Arg {
                buf: vec![0; 4],
                parts: 3,
                part_no: 2,
                ..Default::default()
            }],
            write_args: vec![],
        },
    );
    c.frame(
        5,
        framing::TYPE_DATA,
        FLAG_REMOTE_CLOSED | FLAG_NO_DATA,
        &[],
    );
    let (stream, r) = c.response().unwrap();
    assert_eq!(stream, 5, "{r:?}");
    let st = r.unwrap_err();
    assert_eq!(status::vaccel_code(&st), Some(vaccel::code::EINVAL));
    assert!(
        st.message.contains("part 2 of 3 came first"),
        "{}",
        st.message
    );
    assert!(c.session(7) > sess);
    drop(c);
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn hostile_ttrpc_clients_are_refused_and_others_unharmed() {
    let _one = cpu_bound();
    let mut config = AgentConfig::default();
    config.limits.max_message = 4 << 20;
    let ((path, _d, stop, handle), agent) = start_agent(config);
    // A calm guest, served throughout.
    let calm = Guest::connect(&path);
    let calm_session = calm.session();

    // A huge declared length: refused at the header, nothing allocated, connection closed.
    let mut c = Raw::connect(&path);
    c.session(1);
    c.s.write_all(
        &Header {
            length: u32::MAX,
            stream_id: 3,
            kind: framing::TYPE_REQUEST,
            flags: 0,
        }
        .encode(),
    )
    .unwrap();
    let (_, r) = c.response().expect("a last word");
    let st = r.unwrap_err();
    assert!(st.message.contains("exceeds"), "{}", st.message);
    assert!(c.closed());

    // Garbage after a valid header: the request fails, naming what is wrong.
    let mut c = Raw::connect(&path);
    c.frame(1, framing::TYPE_REQUEST, 0, &[0xff; 64]);
    let (stream, r) = c.response().unwrap();
    assert_eq!(stream, 1);
    let st = r.unwrap_err();
    assert_eq!(status::vaccel_code(&st), Some(vaccel::code::EINVAL));
    assert!(st.message.contains("malformed"), "{}", st.message);
    // An unknown method, a unary method opening a stream: failed; the connection serves on.
    c.request(3, SERVICE, "Nope", 0, vec![]);
    let st = c.response().unwrap().1.unwrap_err();
    assert_eq!(st.code, status::code::UNIMPLEMENTED);
    c.request(5, SERVICE, "CreateSession", FLAG_REMOTE_OPEN, vec![]);
    c.frame(
        5,
        framing::TYPE_DATA,
        FLAG_REMOTE_CLOSED | FLAG_NO_DATA,
        &[],
    );
    let st = c.response().unwrap().1.unwrap_err();
    assert!(
        st.message.contains("not a streaming method"),
        "{}",
        st.message
    );
    assert!(c.session(7) > 0);
    // Even stream ids, responses, and data for streams never opened close the connection.
    for (stream, kind) in [
        (6, framing::TYPE_REQUEST),
        (7, framing::TYPE_RESPONSE),
        (9, framing::TYPE_DATA),
    ] {
        let mut c = Raw::connect(&path);
        c.session(1);
        let h = Header {
            length: 3,
            stream_id: stream,
            kind,
            flags: 0,
        };
        // The agent may close before the payload is written: that write may fail.
        let _ = c.s.write_all(&[&h.encode()[..], &[1, 2, 3]].concat());
        assert!(c.closed(), "stream {stream} kind {kind}");
    }

    // Unread replies: a guest that pipelines requests and never reads is held back (not
    // buffered without bound); its charges go back when it goes.
    let mut greedy = Raw::connect(&path);
    let s = greedy.session(1);
    let req = vaccel_ttrpc::pb::ttrpc::Request {
        service: SERVICE.into(),
        method: "Genop".into(),
        payload: sgemm_genop(s, 16 << 10, 1).encode_to_vec().into(),
        ..Default::default()
    }
    .encode_to_vec();
    greedy
        .s
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut sent = 0;
    for i in 0..400u32 {
        let h = Header {
            length: req.len() as u32,
            stream_id: 3 + 2 * i,
            kind: framing::TYPE_REQUEST,
            flags: 0,
        };
        if greedy.s.write_all(&h.encode()).is_err() || greedy.s.write_all(&req).is_err() {
            break;
        }
        sent += 1;
    }
    assert!(
        sent < 400,
        "the agent kept reading from a client that does not read"
    );

    // Meanwhile the calm guest is served.
    let r: genop::Response = calm
        .call("Genop", &sgemm_genop(calm_session, 4, 4))
        .unwrap();
    assert_eq!(r.write_args[0].buf.len(), 64);
    drop((c, greedy));
    wait_for("the hostile tenants' memory to be released", || {
        agent.memory_used() < (1 << 20)
    });
    drop(calm);
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn a_ttrpc_message_is_charged_before_it_is_read() {
    // Messages may be as large as upstream allows, but a tenant pays for one before the
    // agent reads it: past its share, the guest is told so and the connection closes.
    let mut config = AgentConfig::default();
    config.limits.max_message = upstream_max();
    config.limits.tenant_memory = 1 << 20;
    let ((path, _d, stop, handle), agent) = start_agent(config);
    let mut c = Raw::connect(&path);
    c.session(1);
    c.s.write_all(
        &Header {
            length: 64 << 20,
            stream_id: 3,
            kind: framing::TYPE_REQUEST,
            flags: 0,
        }
        .encode(),
    )
    .unwrap();
    let (_, r) = c.response().expect("a last word");
    let st = r.unwrap_err();
    assert_eq!(
        status::vaccel_code(&st),
        Some(vaccel::code::ENOMEM),
        "{st:?}"
    );
    assert!(c.closed());
    assert!(agent.memory_used() < (1 << 20));
    stop.send(()).unwrap();
    handle.join().unwrap();
}

fn upstream_max() -> usize {
    framing::UPSTREAM_MAX_MESSAGE
}

#[test]
fn a_ttrpc_tenant_has_the_same_limits_as_any_other() {
    let mut config = AgentConfig::default();
    config.limits.sessions = 2;
    config.limits.rate = 1.0;
    config.limits.burst = 5.0;
    let ((path, _d, stop, handle), agent) = start_agent(config);
    let g = Guest::connect(&path);
    g.session();
    g.session();
    let (code, msg) = errno(
        g.call::<_, session::CreateResponse>("CreateSession", &session::CreateRequest { flags: 0 }),
    );
    assert_eq!(code, vaccel::code::EUSERS, "{msg}");
    // Over the rate: EAGAIN, naming it.
    let mut refused = None;
    for _ in 0..10 {
        if let Err(s) = g.call::<_, session::CreateResponse>(
            "CreateSession",
            &session::CreateRequest { flags: 0 },
        ) && status::vaccel_code(&s) == Some(vaccel::code::EAGAIN)
        {
            refused = Some(s.message);
            break;
        }
    }
    let msg = refused.expect("the rate limit refuses a flood");
    assert!(msg.contains("rate limit"), "{msg}");
    // Ids are the tenant's own: another guest does not see this one's sessions.
    let other = Guest::connect(&path);
    let (code, _) =
        errno(other.call::<_, Empty>("DestroySession", &session::DestroyRequest { session_id: 1 }));
    assert_eq!(code, vaccel::code::ENOENT);
    // The metrics say which protocol each tenant speaks.
    let mut ours = Client::connect(&path);
    ours.session();
    let m = agent.metrics();
    assert!(
        m.contains("vaccel_tenants_by_protocol{protocol=\"ttrpc\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("vaccel_tenants_by_protocol{protocol=\"vaccel\"} 1"),
        "{m}"
    );
    assert!(m.contains(",protocol=\"ttrpc\"} "), "{m}");
    drop((g, other, ours));
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn with_a_token_set_ttrpc_guests_are_told_they_cannot_present_one() {
    let config = AgentConfig {
        token: Some(b"secret".to_vec()),
        ..AgentConfig::default()
    };
    let ((path, _d, stop, handle), _agent) = start_agent(config);
    let mut c = Raw::connect(&path);
    c.request(
        1,
        SERVICE,
        "CreateSession",
        0,
        session::CreateRequest { flags: 0 }.encode_to_vec(),
    );
    let st = c.response().unwrap().1.unwrap_err();
    assert_eq!(st.code, status::code::PERMISSION_DENIED);
    assert!(st.message.contains("token"), "{}", st.message);
    assert!(c.closed());
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn remote_bits_in_the_flags_are_cleared_as_upstream_does() {
    // The guest's transport used REMOTE; on the agent it would ask for yet another one.
    let ((path, _d, stop, handle), _agent) = start_agent(AgentConfig::default());
    let g = Guest::connect(&path);
    let remote = vaccel::plugin_type::REMOTE;
    let r: session::CreateResponse = g
        .call("CreateSession", &session::CreateRequest { flags: remote })
        .unwrap();
    let noop = genop::Request {
        session_id: r.session_id,
        read_args: vec![op_arg(OpType::Noop)],
        write_args: vec![],
    };
    let _: genop::Response = g.call("Genop", &noop).unwrap();
    g.update(r.session_id, remote | vaccel::plugin_type::CPU)
        .unwrap();
    let _: genop::Response = g.call("Genop", &noop).unwrap();
    drop(g);
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn malformed_ttrpc_requests_fail_naming_what_is_wrong() {
    let ((path, _d, stop, handle), _agent) = start_agent(AgentConfig::default());
    let g = Guest::connect(&path);
    let sess = g.session();
    let register = |req: resource::RegisterRequest| {
        errno(g.call::<_, resource::RegisterResponse>("RegisterResource", &req))
    };
    // A blob whose size disagrees with its bytes.
    let (code, msg) = register(resource::RegisterRequest {
        blobs: vec![resource::Blob {
            name: "x".into(),
            data: vec![1, 2, 3],
            size: 1000,
            ..Default::default()
        }],
        session_id: sess,
        resource_type: ResourceType::Data.raw() as i32,
        ..Default::default()
    });
    assert_eq!(code, vaccel::code::EINVAL);
    assert!(msg.contains("says 1000 bytes but carries 3"), "{msg}");
    // A path-like blob name.
    let (code, msg) = register(resource::RegisterRequest {
        blobs: vec![resource::Blob {
            name: "../../etc/x".into(),
            data: vec![1],
            size: 1,
            ..Default::default()
        }],
        session_id: sess,
        ..Default::default()
    });
    assert_eq!(code, vaccel::code::EINVAL, "{msg}");
    // Neither blobs nor paths; a negative id; an unknown resource type; an unknown session.
    let (code, msg) = register(resource::RegisterRequest {
        session_id: sess,
        ..Default::default()
    });
    assert!(
        code == vaccel::code::EINVAL && msg.contains("neither"),
        "{msg}"
    );
    let (code, _) = register(resource::RegisterRequest {
        session_id: sess,
        resource_id: -5,
        ..Default::default()
    });
    assert_eq!(code, vaccel::code::EINVAL);
    let (code, msg) = register(resource::RegisterRequest {
        session_id: sess,
        resource_type: 77,
        blobs: vec![resource::Blob {
            name: "x".into(),
            data: vec![1],
            size: 1,
            ..Default::default()
        }],
        ..Default::default()
    });
    assert!(code == vaccel::code::EINVAL && msg.contains("77"), "{msg}");
    let (code, _) = register(resource::RegisterRequest {
        session_id: 42,
        resource_id: 1,
        ..Default::default()
    });
    assert_eq!(code, vaccel::code::ENOENT);
    // A tensor whose data disagrees with its dims; an element type Torch lacks.
    let res = g.register(sess, ResourceType::Model, "m.onnx", vec![0; 16]);
    let run = |t: torch::Tensor| {
        errno(g.call::<_, torch::ModelRunResponse>(
            "TorchModelRun",
            &torch::ModelRunRequest {
                session_id: sess,
                model_id: res,
                in_tensors: vec![t],
                nr_out_tensors: 1,
                run_options: None,
            },
        ))
    };
    let (code, msg) = run(torch::Tensor {
        data: vec![0; 12],
        dims: vec![2, 2],
        r#type: torch::DataType::Float as i32,
    });
    assert_eq!(code, vaccel::code::EINVAL, "{msg}");
    let (code, msg) = run(torch::Tensor {
        data: vec![0; 4],
        dims: vec![1],
        r#type: 99,
    });
    assert!(code == vaccel::code::EINVAL && msg.contains("99"), "{msg}");
    // A message that is not the method's: fails, the connection serves on.
    let (code, msg) = errno(g.call::<_, session::CreateResponse>(
        "UpdateSession",
        &image::Response {
            tags: vec![0xff; 40],
        },
    ));
    assert!(
        code == vaccel::code::EINVAL || code == vaccel::code::ENOENT,
        "{msg}"
    );
    assert!(g.session() > sess);
    drop(g);
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn expensive_ttrpc_tenants_share_the_workers_with_a_calm_one() {
    let _one = cpu_bound();
    // As our protocol's test (hostile.rs): four upstream guests keep 3 slow ops each in
    // flight; a calm guest's cheap genop waits for at most the op in progress.
    let mut cfg = AgentConfig {
        workers: 1,
        ..AgentConfig::default()
    };
    cfg.limits.in_flight = 3;
    let ((path, _dir, stop, handle), _agent) = start_slow(cfg);
    let (served_tx, served) = std::sync::mpsc::channel();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let noop_req = |s: i64| {
        vaccel_ttrpc::pb::ttrpc::Request {
            service: SERVICE.into(),
            method: "Genop".into(),
            payload: genop::Request {
                session_id: s,
                read_args: vec![op_arg(OpType::Noop)],
                write_args: vec![],
            }
            .encode_to_vec()
            .into(),
            ..Default::default()
        }
        .encode_to_vec()
    };
    let floods: Vec<_> = (0..4)
        .map(|_| {
            let (path, served_tx, done) = (path.clone(), served_tx.clone(), done.clone());
            std::thread::spawn(move || {
                let mut c = Raw::connect(&path);
                let s = c.session(1);
                let req = noop_req(s);
                let mut stream = 3;
                for _ in 0..3 {
                    c.frame(stream, framing::TYPE_REQUEST, 0, &req);
                    stream += 2;
                }
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    assert!(c.response().unwrap().1.is_ok());
                    let _ = served_tx.send(());
                    c.frame(stream, framing::TYPE_REQUEST, 0, &req);
                    stream += 2;
                }
                for _ in 0..3 {
                    assert!(c.response().unwrap().1.is_ok());
                }
            })
        })
        .collect();
    for _ in 0..6 {
        served.recv().unwrap();
    }
    let calm = Guest::connect(&path);
    let cs = calm.session();
    let mut worst = Duration::ZERO;
    for _ in 0..5 {
        let t0 = std::time::Instant::now();
        let r: genop::Response = calm.call("Genop", &sgemm_genop(cs, 8, 8)).unwrap();
        assert_eq!(r.write_args[0].buf.len(), 256);
        worst = worst.max(t0.elapsed());
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(worst < Slow::TIME * 2, "the calm guest waited {worst:?}");
    for f in floods {
        f.join().unwrap();
    }
    drop(calm);
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn genop_stream_from_the_ttrpc_crates_async_client() {
    // The async client's own client-streaming call (what upstream's async guests use):
    // the request opens the stream, each message is a data frame, close_send ends it.
    let ((path, _d, stop, handle), _agent) = start_agent(AgentConfig::default());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = ttrpc::asynchronous::Client::connect(&format!("unix://{}", path.display()))
            .await
            .unwrap();
        let request = |method: &str, payload: Vec<u8>| {
            let mut r = ttrpc::Request::new();
            r.set_service(SERVICE_ASYNC.to_string());
            r.set_method(method.to_string());
            r.payload = payload;
            r
        };
        let resp = c
            .request(request(
                "CreateSession",
                session::CreateRequest { flags: 0 }.encode_to_vec(),
            ))
            .await
            .unwrap();
        let sess = session::CreateResponse::decode(resp.payload.as_slice())
            .unwrap()
            .session_id;
        let (m, n) = (4096usize, 2usize);
        let whole = sgemm_genop(sess, m, n);
        let mut read = whole.read_args.clone();
        let a = read.remove(5);
        let stream = c
            .new_stream(request("GenopStream", Vec::new()), true, false)
            .await
            .unwrap();
        let mut msgs = vec![genop::Request {
            session_id: sess,
            read_args: read[..5].to_vec(),
            write_args: vec![],
        }];
        let parts = a.buf.chunks(5000).count() as u32;
        for (i, chunk) in a.buf.chunks(5000).enumerate() {
            msgs.push(genop::Request {
                session_id: sess,
                read_args: vec![genop::Arg {
                    buf: chunk.to_vec(),
                    size: a.buf.len() as u32,
                    arg_type: a.arg_type,
                    parts,
                    part_no: i as u32 + 1,
                    ..Default::default()
                }],
                write_args: vec![],
            });
        }
        msgs.push(genop::Request {
            session_id: sess,
            read_args: read[5..].to_vec(),
            write_args: whole.write_args.clone(),
        });
        for msg in &msgs {
            stream.send(msg.encode_to_vec()).await.unwrap();
        }
        let mut stream = stream;
        stream.close_send().await.unwrap();
        let reply = genop::Response::decode(stream.recv().await.unwrap().as_slice()).unwrap();
        assert_eq!(reply.write_args[0].buf.len(), m * n * 4);
        assert!(
            reply.write_args[0]
                .buf
                .chunks(4)
                .all(|c| c == 1f32.to_le_bytes())
        );
    });
    stop.send(()).unwrap();
    handle.join().unwrap();
}
