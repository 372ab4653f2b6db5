//! A tenant: one connection's namespace of sessions and resources. Ids are local to the
//! tenant (another tenant's ids are simply "not found"), every limit is counted here, and
//! everything is released when the tenant is dropped (its connection closed).
//!
//! Safety rules applied before any plugin runs: guests never name host paths except the
//! operator-listed `exec` pairs; uploaded libraries run only with `--allow-uploaded-code`;
//! host models are reachable only by catalogue name.

use crate::config::AgentConfig;
use crate::store::BlobStore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use vaccel::{ArgType, Args, HostBlob, OpType, Resource, ResourceType, Runtime, Session, code};
use vaccel_proto::{ArgRef, BlobInfo, Message, OpMessage, WireArg};

/// State shared by all tenants.
pub struct Shared {
    /// The runtime with the host's plugins.
    pub rt: Runtime,
    /// Content-addressed blobs.
    pub store: BlobStore,
    /// Operator configuration.
    pub config: AgentConfig,
}

/// A failed request: code and message for the `Error` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `VACCEL_E*`.
    pub code: i32,
    /// Why.
    pub message: String,
}

impl Failure {
    pub(crate) fn new(code: i32, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<vaccel::Error> for Failure {
    fn from(e: vaccel::Error) -> Self {
        Failure::new(e.code(), e.to_string())
    }
}

struct Upload {
    resource_type: ResourceType,
    blobs: Vec<BlobInfo>,
    have: Vec<Option<Arc<[u8]>>>,
    /// Blobs whose bytes are arriving now.
    receiving: Vec<bool>,
    bytes: u64,
}

/// A blob being received: its final buffer, filled in order.
pub struct BlobSink {
    upload: u64,
    index: u32,
    data: Arc<[u8]>,
    filled: usize,
    overrun: bool,
}

impl BlobSink {
    /// Append received bytes (past the announced length they are dropped, and finishing
    /// the blob fails).
    pub fn write(&mut self, bytes: &[u8]) {
        let end = self.filled.saturating_add(bytes.len());
        match Arc::get_mut(&mut self.data).and_then(|d| d.get_mut(self.filled..end)) {
            Some(dst) if !self.overrun => {
                dst.copy_from_slice(bytes);
                self.filled = end;
            }
            _ => self.overrun = true,
        }
    }
}

/// One connection's state.
pub struct Tenant {
    shared: Arc<Shared>,
    sessions: HashMap<i64, Session>,
    resources: HashMap<i64, (Resource, u64)>,
    uploads: HashMap<u64, Upload>,
    next_id: i64,
    bytes_held: u64,
    tokens: f64,
    last_refill: Instant,
}

/// An op ready to run on a worker thread.
pub struct PreparedOp {
    session: Session,
    op: OpType,
    msg: OpMessage,
}

fn str_arg(a: Option<ArgRef<'_>>) -> String {
    let data = a.map_or(&[][..], |a| a.data);
    let end = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).into_owned()
}

impl PreparedOp {
    /// Run it (blocking: call from a worker thread). Returns the reply.
    pub fn run(mut self) -> Message {
        let result = {
            let (read, write) = self.msg.args_mut();
            let mut r = Args::with_capacity(read.len());
            for a in &read {
                push_arg(&mut r, a);
            }
            let mut w = Args::with_capacity(write.len());
            for a in write.iter_mut() {
                push_arg_mut(&mut w, a);
            }
            let res = self.session.call(self.op, &mut r, &mut w);
            let sizes: Vec<usize> = w.as_slice().iter().map(|a| a.size).collect();
            res.map(|()| sizes)
        };
        match result {
            Ok(sizes) => {
                let mut write = self.msg.into_write();
                for (a, n) in write.iter_mut().zip(sizes) {
                    a.data.truncate(n);
                }
                Message::OpDone { write }
            }
            Err(e) => Message::Error {
                code: e.code(),
                message: e.to_string(),
            },
        }
    }
}

fn arg_type(raw: u32) -> ArgType {
    ArgType::from_raw(raw).unwrap_or(ArgType::Raw)
}

fn push_arg<'a>(args: &mut Args<'a>, a: &ArgRef<'a>) {
    if arg_type(a.arg_type) == ArgType::Custom {
        args.custom(a.data, a.custom_type_id);
    } else {
        args.bytes(a.data, arg_type(a.arg_type));
    }
    // Unknown type ids travel as RAW and are refused by the op's layout check.
}

fn push_arg_mut<'a>(args: &mut Args<'a>, a: &'a mut WireArg) {
    let t = arg_type(a.arg_type);
    if t == ArgType::Custom {
        args.custom_mut(&mut a.data, a.custom_type_id);
    } else {
        args.bytes_mut(&mut a.data, t);
    }
}

impl Tenant {
    /// A new, empty tenant.
    pub fn new(shared: Arc<Shared>) -> Self {
        let burst = shared.config.limits.burst;
        Tenant {
            shared,
            sessions: HashMap::new(),
            resources: HashMap::new(),
            uploads: HashMap::new(),
            next_id: 1,
            bytes_held: 0,
            tokens: burst,
            last_refill: Instant::now(),
        }
    }

    fn id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Sessions open.
    pub fn nr_sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Bytes of resources held.
    pub fn bytes_held(&self) -> u64 {
        self.bytes_held
    }

    /// Take one request from the rate budget.
    ///
    /// # Errors
    /// `EAGAIN` when the tenant is over its rate.
    pub fn admit(&mut self) -> Result<(), Failure> {
        let l = &self.shared.config.limits;
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last_refill).as_secs_f64() * l.rate)
            .min(l.burst.max(1.0));
        self.last_refill = now;
        if self.tokens < 1.0 {
            return Err(Failure::new(
                code::EAGAIN,
                format!("over the rate limit of {} requests/s", l.rate),
            ));
        }
        self.tokens -= 1.0;
        Ok(())
    }

    fn session(&self, id: i64) -> Result<&Session, Failure> {
        self.sessions
            .get(&id)
            .ok_or_else(|| Failure::new(code::ENOENT, format!("session {id} not found")))
    }

    fn resource(&self, id: i64) -> Result<&Resource, Failure> {
        self.resources
            .get(&id)
            .map(|(r, _)| r)
            .ok_or_else(|| Failure::new(code::ENOENT, format!("resource {id} not found")))
    }

    fn hold(&mut self, bytes: u64) -> Result<(), Failure> {
        let limit = self.shared.config.limits.resource_bytes;
        if self.bytes_held.saturating_add(bytes) > limit {
            return Err(Failure::new(
                code::ENOSPC,
                format!(
                    "resources would take {} bytes, over the {limit}-byte limit",
                    self.bytes_held + bytes
                ),
            ));
        }
        self.bytes_held += bytes;
        Ok(())
    }

    fn add_resource(&mut self, r: Resource, bytes: u64) -> i64 {
        let id = self.id();
        self.resources.insert(id, (r, bytes));
        id
    }

    /// Handle a control message (everything but `Op`); returns the reply.
    pub fn handle(&mut self, msg: Message) -> Message {
        self.control(msg).unwrap_or_else(|f| Message::Error {
            code: f.code,
            message: f.message,
        })
    }

    fn control(&mut self, msg: Message) -> Result<Message, Failure> {
        match msg {
            Message::Ping => Ok(Message::Pong),
            Message::SessionCreate { hint } => {
                let max = self.shared.config.limits.sessions;
                if self.sessions.len() >= max {
                    return Err(Failure::new(
                        code::EUSERS,
                        format!("session limit of {max} reached"),
                    ));
                }
                let s = Session::new(&self.shared.rt, hint)?;
                let id = self.id();
                self.sessions.insert(id, s);
                Ok(Message::SessionCreated { session: id })
            }
            Message::SessionRelease { session } => {
                let s = self.sessions.remove(&session).ok_or_else(|| {
                    Failure::new(code::ENOENT, format!("session {session} not found"))
                })?;
                s.release()?;
                Ok(Message::Ok)
            }
            Message::ResourceOffer {
                resource_type,
                blobs,
            } => self.offer(resource_type, blobs),
            Message::BlobUpload {
                upload,
                index,
                data,
            } => self.upload(upload, index, data),
            Message::ModelByName { name } => {
                let path = self
                    .shared
                    .config
                    .models
                    .get(&name)
                    .cloned()
                    .ok_or_else(|| {
                        Failure::new(
                            code::ENOENT,
                            format!("no model named {name:?} in the operator's catalogue"),
                        )
                    })?;
                let r = Resource::from_path(&path, ResourceType::Model)?;
                let id = self.add_resource(r, 0);
                Ok(Message::ResourceReady { resource: id })
            }
            Message::Register { session, resource } => {
                let s = self.session(session)?.clone();
                s.register(self.resource(resource)?)?;
                Ok(Message::Ok)
            }
            Message::Unregister { session, resource } => {
                let s = self.session(session)?.clone();
                s.unregister(self.resource(resource)?)?;
                Ok(Message::Ok)
            }
            Message::ResourceRelease { resource } => {
                self.resource(resource)?.check_releasable()?;
                if let Some((_, bytes)) = self.resources.remove(&resource) {
                    self.bytes_held -= bytes;
                }
                Ok(Message::Ok)
            }
            other => Err(Failure::new(
                code::EINVAL,
                format!("unexpected {:?} message from a client", other.kind()),
            )),
        }
    }

    fn offer(&mut self, resource_type: u32, blobs: Vec<BlobInfo>) -> Result<Message, Failure> {
        let rt = ResourceType::from_raw(resource_type).ok_or_else(|| {
            Failure::new(
                code::EINVAL,
                format!("resource type {resource_type} is not LIB, DATA or MODEL"),
            )
        })?;
        if blobs.is_empty() {
            return Err(Failure::new(
                code::EINVAL,
                "a resource needs at least one blob",
            ));
        }
        let bytes = blobs.iter().fold(0u64, |a, b| a.saturating_add(b.len));
        self.hold(bytes)?;
        let have: Vec<Option<Arc<[u8]>>> = blobs
            .iter()
            .map(|b| self.shared.store.get(&b.sha256))
            .collect();
        let missing: Vec<u32> = have
            .iter()
            .enumerate()
            .filter(|(_, h)| h.is_none())
            .map(|(i, _)| i as u32)
            .collect();
        let upload = self.id() as u64;
        self.uploads.insert(
            upload,
            Upload {
                resource_type: rt,
                receiving: vec![false; blobs.len()],
                blobs,
                have,
                bytes,
            },
        );
        if missing.is_empty() {
            // Everything is held already: only the hashes travelled.
            return self.finish(upload);
        }
        Ok(Message::ResourceOffered { upload, missing })
    }

    fn upload(&mut self, upload: u64, index: u32, data: Vec<u8>) -> Result<Message, Failure> {
        let mut sink = self.begin_blob(upload, index, data.len() as u64)?;
        sink.write(&data);
        self.finish_blob(sink)
    }

    /// Start receiving blob `index` of `upload`, announced as `len` bytes: checked against
    /// the offer, then written straight into its final buffer as frames arrive.
    ///
    /// # Errors
    /// `ENOENT` for an unknown upload, `EINVAL` for a wrong index or length, or a blob
    /// already received or being received.
    pub fn begin_blob(&mut self, upload: u64, index: u32, len: u64) -> Result<BlobSink, Failure> {
        let u = self
            .uploads
            .get_mut(&upload)
            .ok_or_else(|| Failure::new(code::ENOENT, format!("upload {upload} not found")))?;
        let i = index as usize;
        let info = u.blobs.get(i).ok_or_else(|| {
            Failure::new(code::EINVAL, format!("upload {upload} has no blob {index}"))
        })?;
        if len != info.len {
            return Err(Failure::new(
                code::EINVAL,
                format!(
                    "blob {index} ({}) has {len} bytes, {} were offered",
                    info.name, info.len
                ),
            ));
        }
        if u.have[i].is_some() || u.receiving[i] {
            return Err(Failure::new(
                code::EINVAL,
                format!(
                    "blob {index} ({}) of upload {upload} was already sent",
                    info.name
                ),
            ));
        }
        u.receiving[i] = true;
        // `len` was counted against the tenant's resource bytes when it was offered.
        let len = usize::try_from(len).map_err(|_| Failure::new(code::ENOMEM, "blob too large"))?;
        Ok(BlobSink {
            upload,
            index,
            data: vaccel::zeroed_bytes(len),
            filled: 0,
            overrun: false,
        })
    }

    /// A received blob: verify its hash (the content address the client offered) and
    /// keep it; the resource is ready once every missing blob arrived.
    ///
    /// # Errors
    /// `EINVAL` when it is short or does not match its hash; the upload is then dropped.
    pub fn finish_blob(&mut self, sink: BlobSink) -> Result<Message, Failure> {
        let BlobSink {
            upload,
            index,
            data,
            filled,
            overrun,
        } = sink;
        let i = index as usize;
        let fail = |t: &mut Tenant, f: Failure| {
            if let Some(u) = t.uploads.remove(&upload) {
                t.bytes_held -= u.bytes;
            }
            Err(f)
        };
        let Some(u) = self.uploads.get_mut(&upload) else {
            return Err(Failure::new(
                code::ENOENT,
                format!("upload {upload} not found"),
            ));
        };
        u.receiving[i] = false;
        let name = u.blobs[i].name.clone();
        if overrun || filled != data.len() {
            let f = Failure::new(
                code::EINVAL,
                if overrun {
                    format!(
                        "blob {index} ({name}) overruns its {} offered bytes",
                        data.len()
                    )
                } else {
                    format!(
                        "blob {index} ({name}) ended after {filled} of {} bytes",
                        data.len()
                    )
                },
            );
            return fail(self, f);
        }
        let sha: [u8; 32] = Sha256::digest(&data).into();
        if sha != u.blobs[i].sha256 {
            let f = Failure::new(
                code::EINVAL,
                format!("blob {index} ({name}) does not match the hash it was offered with"),
            );
            return fail(self, f);
        }
        u.have[i] = Some(self.shared.store.insert(sha, data));
        if u.have.iter().any(Option::is_none) {
            return Ok(Message::Ok);
        }
        self.finish(upload)
    }

    fn finish(&mut self, upload: u64) -> Result<Message, Failure> {
        let u = self.uploads.remove(&upload).expect("present");
        let blobs = u
            .blobs
            .iter()
            .zip(u.have)
            .map(|(info, data)| HostBlob {
                name: info.name.clone(),
                data: data.expect("all present"),
                sha256: info.sha256,
            })
            .collect();
        let r = Resource::from_blobs(u.resource_type, blobs)?;
        let id = self.add_resource(r, u.bytes);
        Ok(Message::ResourceReady { resource: id })
    }

    /// Check and translate an op for running: session lookup, operator policy, and the
    /// tenant's resource ids in the args replaced by the runtime's.
    ///
    /// # Errors
    /// `ENOENT` for unknown ids, `EPERM` for code the operator did not allow, `ENOTSUP`
    /// for unknown ops.
    pub fn prepare_op(&self, mut msg: OpMessage) -> Result<PreparedOp, Failure> {
        let s = self.session(msg.session)?.clone();
        let op = OpType::from_raw(msg.op)
            .ok_or_else(|| Failure::new(code::ENOTSUP, format!("unknown op {}", msg.op)))?;
        let translate = |msg: &mut OpMessage| -> Result<(), Failure> {
            let Some(Ok(raw)) = msg.read(0).map(|a| <[u8; 8]>::try_from(a.data)) else {
                return Ok(());
            };
            let local = i64::from_le_bytes(raw);
            let host = self.resource(local)?.id().to_le_bytes().to_vec();
            msg.replace_read(0, host);
            Ok(())
        };
        match op {
            OpType::Exec => {
                let (lib, sym) = match msg.read_len() {
                    2.. => (str_arg(msg.read(0)), str_arg(msg.read(1))),
                    _ => (String::new(), String::new()),
                };
                if !self
                    .shared
                    .config
                    .allow_exec
                    .contains(&(lib.clone(), sym.clone()))
                {
                    return Err(Failure::new(
                        code::EPERM,
                        format!(
                            "exec of {lib}:{sym} is not allowed by the operator (see vaccel-agent --allow-exec)"
                        ),
                    ));
                }
            }
            OpType::ExecWithResource => {
                if !self.shared.config.allow_uploaded_code {
                    return Err(Failure::new(
                        code::EPERM,
                        "running uploaded libraries is not allowed by the operator (see vaccel-agent --allow-uploaded-code)",
                    ));
                }
                translate(&mut msg)?;
            }
            OpType::TorchModelLoad
            | OpType::TorchModelRun
            | OpType::TfliteModelLoad
            | OpType::TfliteModelRun
            | OpType::TfliteModelUnload
            | OpType::TfModelLoad
            | OpType::TfModelRun
            | OpType::TfModelUnload => translate(&mut msg)?,
            _ => {}
        }
        Ok(PreparedOp {
            session: s,
            op,
            msg,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Tenant {
        /// `prepare_op` of an op message with these fields, as the agent receives it.
        fn prepare_op_parts(
            &self,
            session: i64,
            op: u32,
            read: Vec<WireArg>,
            write: Vec<WireArg>,
        ) -> Result<PreparedOp, Failure> {
            let body = Message::Op {
                session,
                op,
                read,
                write,
            }
            .encode();
            self.prepare_op(OpMessage::decode(body).unwrap())
        }
    }

    fn shared(config: AgentConfig) -> Arc<Shared> {
        let rt = vaccel_builtins::register(Runtime::builder())
            .build()
            .unwrap();
        Arc::new(Shared {
            rt,
            store: BlobStore::default(),
            config,
        })
    }

    fn blob(data: &[u8]) -> BlobInfo {
        BlobInfo {
            name: "b.bin".into(),
            sha256: Sha256::digest(data).into(),
            len: data.len() as u64,
        }
    }

    #[test]
    fn tenants_cannot_see_each_others_ids() {
        let sh = shared(AgentConfig::default());
        let mut a = Tenant::new(sh.clone());
        let mut b = Tenant::new(sh);
        let Message::SessionCreated { session } = a.handle(Message::SessionCreate { hint: 0 })
        else {
            panic!()
        };
        let reply = b.handle(Message::SessionRelease { session });
        assert!(matches!(reply, Message::Error { code: 2, .. }), "{reply:?}");
        assert!(b.prepare_op_parts(session, 0, vec![], vec![]).is_err());
        assert!(a.prepare_op_parts(session, 0, vec![], vec![]).is_ok());
    }

    #[test]
    fn a_second_offer_of_the_same_bytes_needs_no_upload() {
        let sh = shared(AgentConfig::default());
        let data = vec![7u8; 1000];
        let mut a = Tenant::new(sh.clone());
        let Message::ResourceOffered { upload, missing } = a.handle(Message::ResourceOffer {
            resource_type: 1,
            blobs: vec![blob(&data)],
        }) else {
            panic!()
        };
        assert_eq!(missing, vec![0]);
        assert!(matches!(
            a.handle(Message::BlobUpload {
                upload,
                index: 0,
                data: data.clone()
            }),
            Message::ResourceReady { .. }
        ));
        let mut b = Tenant::new(sh.clone());
        let reply = b.handle(Message::ResourceOffer {
            resource_type: 1,
            blobs: vec![blob(&data)],
        });
        assert!(
            matches!(reply, Message::ResourceReady { .. }),
            "already held: only the hash travels"
        );
        assert_eq!(sh.store.live(), 1);
        drop((a, b));
        assert_eq!(sh.store.live(), 0, "freed when the tenants go");
    }

    #[test]
    fn uploads_must_match_their_hash_and_limits() {
        let mut cfg = AgentConfig::default();
        cfg.limits.resource_bytes = 100;
        let mut t = Tenant::new(shared(cfg));
        let Message::ResourceOffered { upload, .. } = t.handle(Message::ResourceOffer {
            resource_type: 1,
            blobs: vec![blob(b"hello")],
        }) else {
            panic!()
        };
        let r = t.handle(Message::BlobUpload {
            upload,
            index: 0,
            data: b"jello".to_vec(),
        });
        assert!(
            matches!(&r, Message::Error { code: 22, message } if message.contains("does not match")),
            "{r:?}"
        );
        let r = t.handle(Message::ResourceOffer {
            resource_type: 1,
            blobs: vec![blob(&[0; 200])],
        });
        assert!(matches!(&r, Message::Error { code: 28, .. }), "{r:?}");
    }

    #[test]
    fn exec_needs_the_operators_permission() {
        let mut cfg = AgentConfig::default();
        cfg.allow_exec.insert(("/lib/ok.so".into(), "f".into()));
        let mut t = Tenant::new(shared(cfg));
        let Message::SessionCreated { session } = t.handle(Message::SessionCreate { hint: 0 })
        else {
            panic!()
        };
        let s = |v: &str| WireArg {
            arg_type: ArgType::String.raw(),
            custom_type_id: 0,
            data: format!("{v}\0").into_bytes(),
        };
        let e = t
            .prepare_op_parts(
                session,
                OpType::Exec.raw(),
                vec![s("/lib/evil.so"), s("f")],
                vec![],
            )
            .err()
            .unwrap();
        assert_eq!(e.code, code::EPERM);
        assert!(
            t.prepare_op_parts(
                session,
                OpType::Exec.raw(),
                vec![s("/lib/ok.so"), s("f")],
                vec![]
            )
            .is_ok()
        );
        let id = WireArg {
            arg_type: ArgType::Int64.raw(),
            custom_type_id: 0,
            data: 1i64.to_le_bytes().to_vec(),
        };
        let e = t
            .prepare_op_parts(
                session,
                OpType::ExecWithResource.raw(),
                vec![id, s("f")],
                vec![],
            )
            .err()
            .unwrap();
        assert_eq!(e.code, code::EPERM);
    }

    #[test]
    fn ops_run_and_return_their_outputs() {
        let mut t = Tenant::new(shared(AgentConfig::default()));
        let Message::SessionCreated { session } = t.handle(Message::SessionCreate { hint: 0 })
        else {
            panic!()
        };
        let arg = |ty: ArgType, d: Vec<u8>| WireArg {
            arg_type: ty.raw(),
            custom_type_id: 0,
            data: d,
        };
        let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let i64b = |v: i64| v.to_le_bytes().to_vec();
        let read = vec![
            arg(ArgType::Int64, i64b(1)),
            arg(ArgType::Int64, i64b(1)),
            arg(ArgType::Int64, i64b(2)),
            arg(ArgType::Float32, f32s(&[1.0])),
            arg(ArgType::Float32Array, f32s(&[2.0, 3.0])),
            arg(ArgType::Int64, i64b(2)),
            arg(ArgType::Float32Array, f32s(&[4.0, 5.0])),
            arg(ArgType::Int64, i64b(1)),
            arg(ArgType::Float32, f32s(&[0.0])),
            arg(ArgType::Int64, i64b(1)),
        ];
        let write = vec![arg(ArgType::Float32Array, f32s(&[0.0]))];
        let reply = t
            .prepare_op_parts(session, OpType::BlasSgemm.raw(), read, write)
            .unwrap()
            .run();
        let Message::OpDone { write } = reply else {
            panic!("{reply:?}")
        };
        assert_eq!(write[0].data, f32s(&[23.0]));
    }
}
