//! Each `AgentService` method onto the tenant: sessions and resources through the same
//! control requests as our protocol (so the same limits and policy), calls into plugins
//! on the worker pool. Ids are the tenant's; failures carry the vAccel code the guest's
//! call returns.
//!
//! Where upstream's agent does more than ours will: `RegisterResource.paths` open host
//! files only inside `--allow-guest-paths` directories and URLs are never fetched;
//! `GetProfiler` reports each op's calls as one sample (count and total time are kept per
//! op, not every call); TensorFlow's load returns no `graph_def`.

use super::{Upstream, failed};
use crate::conn::replies::Ticket;
use crate::conn::{ARGS_CHARGE, Served};
use crate::tenant::{Failure, guest_hint};
use bytes::Bytes;
use std::collections::HashMap;
use std::time::Instant;
use vaccel::nodes::Node;
use vaccel::{OpType, ResourceType, Session, Tensor, code};
use vaccel_proto::{Message, OpMessage, WireArg};
use vaccel_ttrpc::pb::google::rpc::Status;
use vaccel_ttrpc::pb::vaccel::{
    self as pb, empty::Empty, genop, image, profiling, resource, session, tf, tflite, torch,
};
use vaccel_ttrpc::status::vaccel_error;
use vaccel_ttrpc::{Method, tensors};

/// What upstream's agent answers `ImageClassification` with: the text in a 1,024-byte
/// buffer (its guests copy as many bytes as their own buffer holds out of it).
const TAGS_LEN: usize = 1024;
/// Most output tensors a model run may ask for; each starts with a 1 MiB buffer, charged
/// to the request.
const MAX_OUTPUTS: u64 = 256;
const OUTPUT_ROOM: u64 = 1 << 20;

type Reply = Result<Bytes, Status>;

fn einval(message: impl Into<String>) -> Status {
    vaccel_error(code::EINVAL, message)
}

fn decode<M: vaccel_ttrpc::Message + Default>(what: &str, payload: Bytes) -> Result<M, Status> {
    M::decode(payload).map_err(|e| einval(format!("malformed {what}: {e}")))
}

fn reply(m: &impl vaccel_ttrpc::Message) -> Reply {
    Ok(m.encode_to_vec().into())
}

fn vaccel_failed(e: vaccel::Error) -> Status {
    failed(Failure::from(e))
}

/// A call into a plugin, to run on a worker.
struct Job {
    op: OpType,
    run: Box<dyn FnOnce() -> Reply + Send>,
}

/// Serve a unary request: control methods here, in order; plugin calls on the workers.
pub(super) async fn unary(
    u: &mut Upstream,
    m: Method,
    stream: u32,
    payload: Bytes,
    mut ticket: Ticket,
) {
    // The decoded message holds about as much as its encoding.
    if let Err(f) = ticket
        .charge
        .grow(payload.len() as u64, "the decoded request")
    {
        return u
            .s
            .replies
            .respond_ttrpc(stream, Err(failed(f)), Some(ticket))
            .await;
    }
    let s = &mut u.s;
    let job = match m {
        // Answered from the tenant's own state: no plugin runs, nothing blocks.
        Method::GetProfiler => {
            let answer = control(s, m, payload, &mut ticket);
            return s.replies.respond_ttrpc(stream, answer, Some(ticket)).await;
        }
        Method::UpdateSession => {
            let answer = update_session(s, payload);
            return s.replies.respond_ttrpc(stream, answer, Some(ticket)).await;
        }
        // These may call plugins (session and resource hooks, model loading): off the
        // I/O thread's other work while they run.
        Method::CreateSession
        | Method::DestroySession
        | Method::RegisterResource
        | Method::UnregisterResource
        | Method::SyncResource => {
            let answer = tokio::task::block_in_place(|| control(s, m, payload, &mut ticket));
            return s.replies.respond_ttrpc(stream, answer, Some(ticket)).await;
        }
        Method::Genop => match decode::<genop::Request>("genop.Request", payload) {
            Ok(req) => return genop(u, stream, req, ticket).await,
            Err(status) => Err(status),
        },
        Method::GenopStream => Err(einval("GenopStream is a streaming method")),
        _ => call(s, m, payload, &mut ticket),
    };
    match job {
        Ok(job) => submit(s, stream, job, ticket),
        Err(status) => {
            s.replies
                .respond_ttrpc(stream, Err(status), Some(ticket))
                .await
        }
    }
}

/// Run a job on the worker pool, which writes the reply.
fn submit(s: &Served, stream: u32, job: Job, ticket: Ticket) {
    let (replies, ctx) = (s.replies.clone(), s.ctx.clone());
    let Job { op, run } = job;
    s.ctx.workers.submit(
        s.tenant_id,
        op.raw(),
        Box::new(move || {
            let t0 = Instant::now();
            let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                .unwrap_or_else(|_| Err(vaccel_error(code::EBACKEND, "the op's worker failed")));
            ctx.metrics.op(op.name(), t0.elapsed().as_secs_f64() * 1e3);
            replies.respond_ttrpc_from_worker(stream, answer, ticket);
        }),
    );
}

/// `UpdateSession`: the same hint again is answered at once; a new one binds the session
/// again (plugin hooks run), off the I/O thread's other work.
fn update_session(s: &mut Served, payload: Bytes) -> Reply {
    let req: session::UpdateRequest = decode("session.UpdateRequest", payload)?;
    let t = &mut s.tenant;
    if t.session(req.session_id).map_err(failed)?.hint() != guest_hint(req.flags) {
        tokio::task::block_in_place(|| t.update_session(req.session_id, req.flags))
            .map_err(failed)?;
    }
    reply(&Empty {})
}

/// Sessions and resources.
fn control(s: &mut Served, m: Method, payload: Bytes, ticket: &mut Ticket) -> Reply {
    let t = &mut s.tenant;
    let ok = |r: Result<Message, Failure>| r.map_err(failed);
    match m {
        Method::CreateSession => {
            let req: session::CreateRequest = decode("session.CreateRequest", payload)?;
            match ok(t.control(Message::SessionCreate { hint: req.flags }))? {
                Message::SessionCreated { session } => reply(&session::CreateResponse {
                    session_id: session,
                }),
                other => unreachable!("SessionCreate answered {other:?}"),
            }
        }
        Method::DestroySession => {
            let req: session::DestroyRequest = decode("session.DestroyRequest", payload)?;
            ok(t.control(Message::SessionRelease {
                session: req.session_id,
            }))?;
            reply(&Empty {})
        }
        Method::RegisterResource => {
            let req: resource::RegisterRequest = decode("resource.RegisterRequest", payload)?;
            register(t, req)
        }
        Method::UnregisterResource => {
            let req: resource::UnregisterRequest = decode("resource.UnregisterRequest", payload)?;
            let (session, resource) = (req.session_id, req.resource_id);
            ok(t.control(Message::Unregister { session, resource }))?;
            // As upstream: a resource no session holds any more is destroyed.
            if t.resource(resource).map_err(failed)?.sessions().is_empty() {
                ok(t.control(Message::ResourceRelease { resource }))?;
            }
            reply(&Empty {})
        }
        Method::SyncResource => {
            let req: resource::SyncRequest = decode("resource.SyncRequest", payload)?;
            let r = t.resource(req.resource_id).map_err(failed)?;
            let bytes: u64 = r.blobs().iter().map(|b| b.data.len() as u64).sum();
            ticket
                .charge
                .grow(bytes, "the resource's blobs")
                .map_err(failed)?;
            reply(&resource::SyncResponse {
                blobs: r
                    .blobs()
                    .iter()
                    .map(|b| resource::Blob {
                        r#type: resource::BlobType::Buffer as i32,
                        name: b.name.clone(),
                        data: b.data.to_vec(),
                        size: b.data.len() as u32,
                    })
                    .collect(),
            })
        }
        Method::GetProfiler => {
            let req: profiling::Request = decode("profiling.Request", payload)?;
            let regions = t
                .session(req.session_id)
                .map_err(failed)?
                .profile()
                .into_iter()
                .map(|r| {
                    let sample = profiling::Sample {
                        start: 0,
                        time: r.total_ns,
                    };
                    (
                        format!("{} ({} calls)", r.op.name(), r.count),
                        profiling::Region {
                            samples: vec![sample],
                        },
                    )
                })
                .collect::<HashMap<_, _>>();
            reply(&profiling::Response {
                profiler: Some(profiling::Profiler {
                    component_name: "vaccel-agent".into(),
                    regions,
                }),
            })
        }
        other => unreachable!("{} is not a control method", other.name()),
    }
}

/// `RegisterResource`: an existing resource with another session (`resource_id > 0`), or
/// a new one from blobs (or, where the operator allows, host paths), registered with the
/// session at once.
fn register(t: &mut crate::tenant::Tenant, req: resource::RegisterRequest) -> Reply {
    let session = req.session_id;
    t.session(session).map_err(failed)?;
    let created = if req.resource_id > 0 {
        None
    } else if req.resource_id < 0 {
        return Err(einval(format!(
            "resource id {} is invalid",
            req.resource_id
        )));
    } else {
        let rt = u32::try_from(req.resource_type)
            .ok()
            .and_then(ResourceType::from_raw)
            .ok_or_else(|| einval(format!("unknown resource type {}", req.resource_type)))?;
        let id = if !req.blobs.is_empty() {
            let mut blobs = Vec::with_capacity(req.blobs.len());
            for (i, b) in req.blobs.iter().enumerate() {
                if b.size as usize != b.data.len() {
                    return Err(einval(format!(
                        "blob {i} ({}) says {} bytes but carries {}",
                        b.name,
                        b.size,
                        b.data.len()
                    )));
                }
                blobs.push((b.name.clone(), b.data.as_slice()));
            }
            t.resource_from_bytes(rt, blobs)
        } else if !req.paths.is_empty() {
            t.resource_from_paths(rt, &req.paths)
        } else {
            return Err(einval("RegisterResource names neither blobs nor paths"));
        };
        Some(id.map_err(failed)?)
    };
    let resource = created.unwrap_or(req.resource_id);
    if let Err(f) = t.control(Message::Register { session, resource }) {
        if created.is_some() {
            // Registration failed: the new resource goes with it.
            let _ = t.control(Message::ResourceRelease { resource });
        }
        return Err(failed(f));
    }
    reply(&resource::RegisterResponse {
        resource_id: resource,
    })
}

/// The session and the host's id of a model resource, both the tenant's.
fn model(s: &Served, session: i64, model: i64) -> Result<(Session, i64), Status> {
    let sess = s.tenant.session(session).map_err(failed)?.clone();
    let id = s.tenant.resource(model).map_err(failed)?.id();
    Ok((sess, id))
}

/// Output tensors a run asks for, within [`MAX_OUTPUTS`], their first buffers charged.
fn outputs(n: u64, ticket: &mut Ticket) -> Result<usize, Status> {
    if n > MAX_OUTPUTS {
        return Err(einval(format!(
            "{n} output tensors asked for; at most {MAX_OUTPUTS}"
        )));
    }
    ticket
        .charge
        .grow(n * OUTPUT_ROOM, "the output tensors")
        .map_err(failed)?;
    Ok(n as usize)
}

fn tensors_in<T>(
    list: Vec<T>,
    from: fn(T) -> Result<Tensor, String>,
) -> Result<Vec<Tensor>, Status> {
    list.into_iter()
        .enumerate()
        .map(|(i, t)| from(t).map_err(|m| einval(format!("input {i}: {m}"))))
        .collect()
}

fn tensors_out<T>(
    list: Vec<Tensor>,
    to: fn(Tensor) -> Result<T, String>,
) -> Result<Vec<T>, Status> {
    list.into_iter()
        .enumerate()
        .map(|(i, t)| to(t).map_err(|m| vaccel_error(code::EBACKEND, format!("output {i}: {m}"))))
        .collect()
}

fn tf_ok() -> Option<pb::Status> {
    Some(pb::Status {
        code: 0,
        message: String::new(),
    })
}

/// A model run by position (TFLite's and Torch's): `n` outputs, answered by `answer`.
fn tensor_run(
    op: OpType,
    sess: Session,
    id: i64,
    inputs: Vec<Tensor>,
    n: usize,
    answer: impl FnOnce(Vec<Tensor>) -> Reply + Send + 'static,
) -> Result<Job, Status> {
    Ok(Job {
        op,
        run: Box::new(move || answer(sess.tensor_run(op, id, &inputs, n).map_err(vaccel_failed)?)),
    })
}

/// A plugin call: checked and translated here, run on a worker.
fn call(s: &Served, m: Method, payload: Bytes, ticket: &mut Ticket) -> Result<Job, Status> {
    // Calls hold their arguments decoded once more (tensors encoded for the plugin).
    ticket
        .charge
        .grow(payload.len() as u64, ARGS_CHARGE)
        .map_err(failed)?;
    let job = |op: OpType, run: Box<dyn FnOnce() -> Reply + Send>| Ok(Job { op, run });
    let load = |op: OpType, sess: Session, id: i64, answer: fn() -> Reply| {
        job(
            op,
            Box::new(move || {
                sess.model_op(op, id).map_err(vaccel_failed)?;
                answer()
            }),
        )
    };
    match m {
        Method::ImageClassification => {
            let req: image::Request = decode("image.Request", payload)?;
            let sess = s.tenant.session(req.session_id).map_err(failed)?.clone();
            job(
                OpType::ImageClassify,
                Box::new(move || {
                    let c = sess.image_classify(&req.image).map_err(vaccel_failed)?;
                    let mut tags = c.text.into_bytes();
                    tags.truncate(TAGS_LEN - 1);
                    tags.resize(TAGS_LEN, 0);
                    reply(&image::Response { tags })
                }),
            )
        }
        Method::TensorflowModelLoad => {
            let req: tf::ModelLoadRequest = decode("tf.ModelLoadRequest", payload)?;
            let (sess, id) = model(s, req.session_id, req.model_id)?;
            load(OpType::TfModelLoad, sess, id, || {
                reply(&tf::ModelLoadResponse {
                    graph_def: Vec::new(),
                    status: tf_ok(),
                })
            })
        }
        Method::TensorflowModelUnload => {
            let req: tf::ModelUnloadRequest = decode("tf.ModelUnloadRequest", payload)?;
            let (sess, id) = model(s, req.session_id, req.model_id)?;
            load(OpType::TfModelUnload, sess, id, || {
                reply(&tf::ModelUnloadResponse { status: tf_ok() })
            })
        }
        Method::TensorflowLiteModelLoad | Method::TensorflowLiteModelUnload => {
            let req: tflite::ModelLoadRequest = decode("tflite.ModelLoadRequest", payload)?;
            let (sess, id) = model(s, req.session_id, req.model_id)?;
            let op = if m == Method::TensorflowLiteModelLoad {
                OpType::TfliteModelLoad
            } else {
                OpType::TfliteModelUnload
            };
            load(op, sess, id, || reply(&Empty {}))
        }
        Method::TorchModelLoad => {
            let req: torch::ModelLoadRequest = decode("torch.ModelLoadRequest", payload)?;
            let (sess, id) = model(s, req.session_id, req.model_id)?;
            load(OpType::TorchModelLoad, sess, id, || reply(&Empty {}))
        }
        Method::TensorflowModelRun => {
            let req: tf::ModelRunRequest = decode("tf.ModelRunRequest", payload)?;
            let (sess, id) = model(s, req.session_id, req.model_id)?;
            let n = outputs(req.out_nodes.len() as u64, ticket)?;
            let nodes = |list: Vec<tf::Node>| {
                list.into_iter()
                    .map(|n| Node {
                        name: n.name,
                        id: n.id,
                    })
                    .collect::<Vec<_>>()
            };
            let (in_nodes, out_nodes) = (nodes(req.in_nodes), nodes(req.out_nodes));
            let inputs = tensors_in(req.in_tensors, tensors::from_tf)?;
            job(
                OpType::TfModelRun,
                Box::new(move || {
                    let out = sess
                        .tf_model_run(id, &in_nodes, &inputs, &out_nodes, n)
                        .map_err(vaccel_failed)?;
                    reply(&tf::ModelRunResponse {
                        out_tensors: tensors_out(out, tensors::to_tf)?,
                        status: tf_ok(),
                    })
                }),
            )
        }
        Method::TensorflowLiteModelRun => {
            let req: tflite::ModelRunRequest = decode("tflite.ModelRunRequest", payload)?;
            let (sess, id) = model(s, req.session_id, req.model_id)?;
            let n = outputs(req.nr_out_tensors, ticket)?;
            let inputs = tensors_in(req.in_tensors, tensors::from_tflite)?;
            tensor_run(OpType::TfliteModelRun, sess, id, inputs, n, |out| {
                reply(&tflite::ModelRunResponse {
                    out_tensors: tensors_out(out, tensors::to_tflite)?,
                    status: tf_ok(),
                })
            })
        }
        Method::TorchModelRun => {
            let req: torch::ModelRunRequest = decode("torch.ModelRunRequest", payload)?;
            let (sess, id) = model(s, req.session_id, req.model_id)?;
            let n = outputs(req.nr_out_tensors, ticket)?;
            let inputs = tensors_in(req.in_tensors, tensors::from_torch)?;
            tensor_run(OpType::TorchModelRun, sess, id, inputs, n, |out| {
                reply(&torch::ModelRunResponse {
                    out_tensors: tensors_out(out, tensors::to_torch)?,
                })
            })
        }
        other => unreachable!("{} is not a plugin call", other.name()),
    }
}

/// A `GenopStream`'s requests as they arrive: whole arguments appended in order, large
/// ones reassembled from their parts (as upstream's agent does: a request carrying one
/// argument with `parts > 0` is part `part_no` of it; the last part completes it).
#[derive(Default)]
pub(super) struct GenopParts {
    session: i64,
    read: Vec<genop::Arg>,
    write: Vec<genop::Arg>,
    /// A read / write argument being reassembled.
    partial: [Option<genop::Arg>; 2],
}

impl GenopParts {
    /// Add one streamed request.
    ///
    /// # Errors
    /// `EINVAL` for parts out of order or past the argument cap.
    pub(super) fn add(&mut self, mut req: genop::Request) -> Result<(), Failure> {
        self.session = req.session_id;
        let split = |args: &Vec<genop::Arg>| args.len() == 1 && args[0].parts > 0;
        let (side, arg) = if split(&req.read_args) {
            (0, req.read_args.pop())
        } else if split(&req.write_args) {
            (1, req.write_args.pop())
        } else {
            self.read.append(&mut req.read_args);
            self.write.append(&mut req.write_args);
            return self.check();
        };
        let mut arg = arg.expect("one argument");
        let whole = match self.partial[side].take() {
            Some(mut p) => {
                if arg.part_no != p.part_no + 1 || arg.parts != p.parts {
                    return Err(Failure::new(
                        code::EINVAL,
                        format!(
                            "genop stream: part {} of {} follows part {} of {}",
                            arg.part_no, arg.parts, p.part_no, p.parts
                        ),
                    ));
                }
                p.buf.reserve_exact(arg.buf.len());
                p.buf.append(&mut arg.buf);
                p.part_no = arg.part_no;
                p
            }
            None if arg.part_no == 1 => arg,
            None => {
                return Err(Failure::new(
                    code::EINVAL,
                    format!(
                        "genop stream: part {} of {} came first",
                        arg.part_no, arg.parts
                    ),
                ));
            }
        };
        if whole.part_no < whole.parts {
            self.partial[side] = Some(whole);
        } else if side == 0 {
            self.read.push(whole);
        } else {
            self.write.push(whole);
        }
        self.check()
    }

    fn check(&self) -> Result<(), Failure> {
        let max = vaccel_proto::MAX_ARGS;
        if self.read.len() > max || self.write.len() > max {
            return Err(Failure::new(
                code::EINVAL,
                format!("genop stream: more than {max} arguments"),
            ));
        }
        Ok(())
    }

    /// The whole request, once the client closed its side.
    pub(super) fn finish(self) -> genop::Request {
        genop::Request {
            session_id: self.session,
            read_args: self.read,
            write_args: self.write,
        }
    }
}

fn wire(a: genop::Arg) -> WireArg {
    WireArg {
        arg_type: a.arg_type as u32,
        custom_type_id: a.custom_type_id,
        data: a.buf,
    }
}

/// `Genop`: the op its read arg 0 names, with the rest as that op's arguments — checked,
/// policed and run exactly as our protocol's ops.
pub(super) async fn genop(u: &mut Upstream, stream: u32, req: genop::Request, mut ticket: Ticket) {
    let s = &mut u.s;
    let prepared = (|| {
        let mut read = req.read_args.into_iter();
        let first = read.next().ok_or_else(|| {
            Failure::new(code::EINVAL, "genop: read arg 0 (the op type) is missing")
        })?;
        let op = vaccel::genop_op(&first.buf, first.arg_type as u32)?;
        let msg = OpMessage::from_args(
            req.session_id,
            op.raw(),
            read.map(wire).collect(),
            req.write_args.into_iter().map(wire).collect(),
        )
        .map_err(|e| Failure::new(code::EINVAL, e.to_string()))?;
        ticket.charge.set(msg.footprint() as u64, ARGS_CHARGE)?;
        s.tenant.prepare_op(msg)
    })();
    let prepared = match prepared {
        Ok(p) => p,
        Err(f) => {
            return s
                .replies
                .respond_ttrpc(stream, Err(failed(f)), Some(ticket))
                .await;
        }
    };
    let op = OpType::from_raw(prepared.op()).expect("a prepared op is known");
    submit(
        s,
        stream,
        Job {
            op,
            run: Box::new(move || match prepared.run() {
                Message::OpDone { write } => reply(&genop::Response {
                    write_args: write
                        .into_iter()
                        .map(|a| genop::Arg {
                            size: a.data.len() as u32,
                            buf: a.data,
                            arg_type: a.arg_type as i32,
                            custom_type_id: a.custom_type_id,
                            parts: 0,
                            part_no: 0,
                        })
                        .collect(),
                }),
                Message::Error { code, message } => Err(vaccel_error(code, message)),
                other => Err(vaccel_error(
                    code::EBACKEND,
                    format!("the op answered {:?}", other.kind()),
                )),
            }),
        },
        ticket,
    );
}
