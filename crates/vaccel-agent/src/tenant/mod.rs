//! A tenant: one connection's namespace of sessions and resources. Ids are local to the
//! tenant (another tenant's ids are simply "not found"), every limit is counted here, and
//! everything is released when the tenant is dropped (its connection closed).
//!
//! Safety rules applied before any plugin runs: guests never name host paths except the
//! operator-listed `exec` pairs; uploaded libraries run only with `--allow-uploaded-code`;
//! host models are reachable only by catalogue name.
//!
//! Memory: what a tenant holds is charged to its [`Share`] of the agent's budget — each
//! resource's blobs at their real size, even when the agent holds them once for several
//! tenants (see [`crate::budget`]).

use crate::budget::{Budget, Charge, Share};
use crate::config::AgentConfig;
use crate::store::{BlobStore, StoredBlob};
use crate::upload::{BlobSink, Upload, Uploads};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;
use vaccel::ops::{self, Role};
use vaccel::sync::lock;
use vaccel::{ArgType, Args, HostBlob, OpType, Resource, ResourceType, Runtime, Session, code};
use vaccel_proto::{ArgRef, BlobInfo, Message, OpMessage, WireArg};

/// State shared by all tenants.
pub struct Shared {
    /// The runtime with the host's plugins.
    pub rt: Runtime,
    /// Content-addressed blobs.
    pub store: BlobStore,
    /// The agent-wide memory budget.
    pub budget: Arc<Budget>,
    /// Operator configuration.
    pub config: AgentConfig,
    /// Catalogue models read from disk, by name: read once while any tenant holds them.
    catalogue: Mutex<HashMap<String, CatalogueEntry>>,
    /// Each peer's memory share, while it has connections.
    peers: Mutex<HashMap<String, Weak<Share>>>,
}

/// A catalogue model's files as read: names and the stored blobs (while anyone holds them).
type CatalogueEntry = Vec<(String, Weak<StoredBlob>)>;

impl Shared {
    /// Shared state for a runtime and a configuration.
    pub fn new(rt: Runtime, config: AgentConfig) -> Shared {
        Shared {
            rt,
            store: BlobStore::default(),
            budget: Budget::new(config.limits.memory_budget),
            config,
            catalogue: Mutex::default(),
            peers: Mutex::default(),
        }
    }

    /// A new tenant's memory share, within the share of its peer (`key`, as the transport
    /// names it), so that a peer's connections together hold at most `--peer-memory`.
    pub fn tenant_share(&self, peer: &str) -> Arc<Share> {
        let mut peers = lock(&self.peers);
        let share = match peers.get(peer).and_then(Weak::upgrade) {
            Some(s) => s,
            None => {
                peers.retain(|_, w| w.strong_count() > 0);
                let s = self.budget.peer(self.config.limits.peer_memory);
                peers.insert(peer.to_string(), Arc::downgrade(&s));
                s
            }
        };
        share.tenant(self.config.limits.tenant_memory)
    }

    /// The blobs of catalogue model `name`, read from disk (and charged to the agent)
    /// unless they are held already.
    fn catalogue_model(&self, name: &str) -> Result<Vec<(String, Arc<StoredBlob>)>, Failure> {
        let path = self.config.models.get(name).ok_or_else(|| {
            Failure::new(
                code::ENOENT,
                format!("no model named {name:?} in the operator's catalogue"),
            )
        })?;
        let mut cache = lock(&self.catalogue);
        if let Some(held) = cache.get(name).and_then(|v| {
            v.iter()
                .map(|(n, w)| w.upgrade().map(|b| (n.clone(), b)))
                .collect::<Option<Vec<_>>>()
        }) {
            return Ok(held);
        }
        let mut blobs = Vec::new();
        for file in model_files(path)? {
            let io = |source| {
                Failure::from(vaccel::Error::Io {
                    path: file.clone(),
                    source,
                })
            };
            let len = std::fs::metadata(&file).map_err(io)?.len();
            let mut charge = self
                .budget
                .charge(len, &format!("catalogue model {name:?}"))?;
            let data = std::fs::read(&file).map_err(io)?;
            // The file may have changed since: charge what was really read.
            charge.set(data.len() as u64, &format!("catalogue model {name:?}"))?;
            let sha: [u8; 32] =
                sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&data))
                    .into();
            let file_name = file
                .file_name()
                .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
            blobs.push((file_name, self.store.insert(sha, data.into(), charge)));
        }
        cache.insert(
            name.to_string(),
            blobs
                .iter()
                .map(|(n, b)| (n.clone(), Arc::downgrade(b)))
                .collect(),
        );
        Ok(blobs)
    }
}

/// A catalogue entry's files: the file, or a directory's regular files sorted by name.
fn model_files(path: &Path) -> Result<Vec<PathBuf>, Failure> {
    let io = |source| {
        Failure::from(vaccel::Error::Io {
            path: path.into(),
            source,
        })
    };
    if !std::fs::metadata(path).map_err(io)?.is_dir() {
        return Ok(vec![path.into()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(vaccel::Error::EmptyDirectory { path: path.into() }.into());
    }
    Ok(files)
}

/// The hint a guest's session is bound by here: the guest's transport consumed REMOTE, which
/// on the agent would ask for yet another transport (upstream's guests clear it before
/// sending; ours too).
pub fn guest_hint(hint: u32) -> u32 {
    hint & !vaccel::plugin_type::REMOTE
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

    /// As an `Error` reply.
    pub fn into_message(self) -> Message {
        Message::Error {
            code: self.code,
            message: self.message,
        }
    }
}

impl From<vaccel::Error> for Failure {
    fn from(e: vaccel::Error) -> Self {
        Failure::new(e.code(), e.to_string())
    }
}

/// A resource the tenant holds, with its blobs and the tenant's charge for each.
struct Held {
    resource: Resource,
    blobs: Vec<(Arc<StoredBlob>, Charge)>,
}

/// One connection's state.
pub struct Tenant {
    shared: Arc<Shared>,
    share: Arc<Share>,
    sessions: HashMap<i64, Session>,
    resources: HashMap<i64, Held>,
    /// Models registered with sessions, by (session, resource): the tenant's charge for
    /// the copy a plugin loads (see [`Tenant::charge_model`]).
    loaded: HashMap<(i64, i64), Charge>,
    uploads: Uploads,
    next_id: i64,
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
    /// The op's id.
    pub fn op(&self) -> u32 {
        self.op.raw()
    }

    /// The op's name (for metrics).
    pub fn name(&self) -> &'static str {
        self.op.name()
    }

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
    /// A new, empty tenant, charging what it holds to `share`.
    pub fn new(shared: Arc<Shared>, share: Arc<Share>) -> Self {
        let burst = shared.config.limits.burst;
        Tenant {
            shared,
            share,
            sessions: HashMap::new(),
            resources: HashMap::new(),
            loaded: HashMap::new(),
            uploads: Uploads::default(),
            next_id: 1,
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

    /// The tenant's memory share.
    pub fn share(&self) -> &Arc<Share> {
        &self.share
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

    /// Session `id`.
    ///
    /// # Errors
    /// `ENOENT`.
    pub fn session(&self, id: i64) -> Result<&Session, Failure> {
        self.sessions
            .get(&id)
            .ok_or_else(|| Failure::new(code::ENOENT, format!("session {id} not found")))
    }

    /// Resource `id`.
    ///
    /// # Errors
    /// `ENOENT`.
    pub fn resource(&self, id: i64) -> Result<&Resource, Failure> {
        self.resources
            .get(&id)
            .map(|h| &h.resource)
            .ok_or_else(|| Failure::new(code::ENOENT, format!("resource {id} not found")))
    }

    /// A blob this tenant holds already (in any of its resources), charged to it again.
    fn own_blob(&self, info: &BlobInfo) -> Result<Option<(Arc<StoredBlob>, Charge)>, Failure> {
        let Some(b) = self
            .resources
            .values()
            .flat_map(|h| &h.blobs)
            .map(|(b, _)| b)
            .find(|b| *b.sha256() == info.sha256)
        else {
            return Ok(None);
        };
        let len = b.data().len() as u64;
        if len != info.len {
            return Err(Failure::new(
                code::EINVAL,
                format!(
                    "blob {} is offered as {} bytes, but its content hash names {len} bytes",
                    info.name, info.len
                ),
            ));
        }
        let charge = self
            .share
            .charge_alone(len, &format!("blob {}", info.name))?;
        Ok(Some((b.clone(), charge)))
    }

    /// A model registered with a session is loaded by a plugin (an ONNX Runtime session
    /// holds its weights): charge the tenant for that copy, at the model's size, per
    /// registration, and the agent once per model (kept while the model is stored).
    /// Plugins do not report what they allocate, so the model's size stands for it.
    /// `None` for other resources.
    fn charge_model(&self, resource: i64) -> Result<Option<Charge>, Failure> {
        let held = self
            .resources
            .get(&resource)
            .ok_or_else(|| Failure::new(code::ENOENT, format!("resource {resource} not found")))?;
        if held.resource.resource_type() != ResourceType::Model {
            return Ok(None);
        }
        let what = format!("loading model resource {resource}");
        let bytes = held.blobs.iter().map(|(b, _)| b.data().len() as u64).sum();
        let charge = self.share.charge_alone(bytes, &what)?;
        for (b, _) in &held.blobs {
            b.charge_loaded(&self.shared.budget, &what)?;
        }
        Ok(Some(charge))
    }

    fn add_resource(
        &mut self,
        rt: ResourceType,
        blobs: Vec<(String, Arc<StoredBlob>, Charge)>,
    ) -> Result<Message, Failure> {
        let host = blobs
            .iter()
            .map(|(name, b, _)| HostBlob {
                name: name.clone(),
                data: b.data().clone(),
                sha256: *b.sha256(),
            })
            .collect();
        let resource = Resource::from_blobs(rt, host)?;
        let id = self.id();
        let blobs = blobs.into_iter().map(|(_, b, c)| (b, c)).collect();
        self.resources.insert(id, Held { resource, blobs });
        Ok(Message::ResourceReady { resource: id })
    }

    fn finish(&mut self, u: Upload) -> Result<Message, Failure> {
        let blobs = u
            .blobs
            .into_iter()
            .zip(u.have)
            .map(|(info, have)| {
                let (b, c) = have.expect("a finished upload has every blob");
                (info.name, b, c)
            })
            .collect();
        self.add_resource(u.resource_type, blobs)
    }

    /// Handle a control message (everything but `Op`); returns the reply.
    pub fn handle(&mut self, msg: Message) -> Message {
        self.control(msg).unwrap_or_else(Failure::into_message)
    }

    /// Handle a control message: its reply, or why it failed.
    ///
    /// # Errors
    /// The request's [`Failure`].
    pub fn control(&mut self, msg: Message) -> Result<Message, Failure> {
        match msg {
            Message::Ping => Ok(Message::Pong),
            Message::SessionCreate { hint } => {
                let hint = guest_hint(hint);
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
                self.loaded.retain(|(sess, _), _| *sess != session);
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
            } => {
                let mut sink = self.begin_blob(upload, index, data.len() as u64)?;
                sink.write(&data);
                self.finish_blob(sink)
            }
            Message::ModelByName { name } => {
                let blobs = self.shared.catalogue_model(&name)?;
                let mut charged = Vec::with_capacity(blobs.len());
                for (file, b) in blobs {
                    let c = self.share.charge_alone(
                        b.data().len() as u64,
                        &format!("catalogue model {name:?}"),
                    )?;
                    charged.push((file, b, c));
                }
                self.add_resource(ResourceType::Model, charged)
            }
            Message::Register { session, resource } => {
                let s = self.session(session)?.clone();
                let charge = self.charge_model(resource)?;
                s.register(self.resource(resource)?)?;
                if let Some(c) = charge {
                    self.loaded.insert((session, resource), c);
                }
                Ok(Message::Ok)
            }
            Message::Unregister { session, resource } => {
                let s = self.session(session)?.clone();
                s.unregister(self.resource(resource)?)?;
                self.loaded.remove(&(session, resource));
                Ok(Message::Ok)
            }
            Message::ResourceRelease { resource } => {
                self.resource(resource)?.check_releasable()?;
                // Its charges go with it; its bytes too, unless another tenant holds them.
                self.resources.remove(&resource);
                Ok(Message::Ok)
            }
            other => Err(Failure::new(
                code::EINVAL,
                format!("unexpected {:?} message from a client", other.kind()),
            )),
        }
    }

    /// Give session `id` a new hint (upstream's `UpdateSession`): it is bound again by it
    /// (refused while it holds resources, as our C API's `vaccel_session_update`); the
    /// same hint again changes nothing.
    ///
    /// # Errors
    /// `ENOENT`; the runtime's failure to bind it.
    pub fn update_session(&mut self, id: i64, hint: u32) -> Result<(), Failure> {
        let hint = guest_hint(hint);
        let current = self.session(id)?;
        if current.hint() == hint {
            // Nothing changes (and a session holding resources may keep its hint).
            return Ok(());
        }
        let s = current.rebind(hint)?;
        self.sessions.insert(id, s);
        Ok(())
    }

    /// A resource from blobs that arrived whole in one request (upstream's
    /// `RegisterResource`): each blob is charged, hashed and stored like an uploaded one.
    /// Returns the new resource's id.
    ///
    /// # Errors
    /// `ENOMEM` past the tenant's or the agent's memory; the runtime's refusal of the
    /// resource.
    pub fn resource_from_bytes(
        &mut self,
        resource_type: ResourceType,
        blobs: Vec<(String, &[u8])>,
    ) -> Result<i64, Failure> {
        let mut held = Vec::with_capacity(blobs.len());
        for (i, (name, data)) in blobs.into_iter().enumerate() {
            let charge = self
                .share
                .charge(data.len() as u64, &format!("blob {i} ({name})"))?;
            let sha: [u8; 32] =
                sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(data))
                    .into();
            let (tenant_part, agent_part) = charge.split();
            let stored = self.shared.store.insert(sha, Arc::from(data), agent_part);
            held.push((name, stored, tenant_part));
        }
        match self.add_resource(resource_type, held)? {
            Message::ResourceReady { resource } => Ok(resource),
            other => unreachable!("add_resource answers ResourceReady, not {other:?}"),
        }
    }

    /// A resource from host files a guest names (upstream's `RegisterResource.paths`),
    /// where the operator allows it ([`paths`]): each file is charged before it is read.
    ///
    /// # Errors
    /// As [`paths::resolve`]; `ENOMEM`; I/O errors naming the path.
    pub fn resource_from_paths(
        &mut self,
        resource_type: ResourceType,
        guest_paths: &[String],
    ) -> Result<i64, Failure> {
        let mut files = Vec::with_capacity(guest_paths.len());
        for p in guest_paths {
            let real = paths::resolve(&self.shared.config.guest_paths, p)?;
            let io = |source| {
                Failure::from(vaccel::Error::Io {
                    path: real.clone(),
                    source,
                })
            };
            let len = std::fs::metadata(&real).map_err(io)?.len();
            // Held while the file is in memory here (the stored copy is charged again).
            let charge = self
                .share
                .charge_alone(len, &format!("resource path {p:?}"))?;
            let data = std::fs::read(&real).map_err(io)?;
            let name = real
                .file_name()
                .map_or_else(|| "blob".into(), |n| n.to_string_lossy().into_owned());
            files.push((name, data, charge));
        }
        let blobs = files
            .iter()
            .map(|(n, d, _)| (n.clone(), d.as_slice()))
            .collect();
        self.resource_from_bytes(resource_type, blobs)
    }

    fn offer(&mut self, resource_type: u32, blobs: Vec<BlobInfo>) -> Result<Message, Failure> {
        let have = blobs
            .iter()
            .map(|b| self.own_blob(b))
            .collect::<Result<Vec<_>, _>>()?;
        let upload = self.id() as u64;
        let max = self.shared.config.limits.uploads;
        let missing = self
            .uploads
            .offer(upload, max, resource_type, blobs, have)?;
        if missing.is_empty() {
            // Everything is held by this tenant already: only the hashes travelled.
            let u = self.uploads.take_if_complete(upload).expect("complete");
            return self.finish(u);
        }
        Ok(Message::ResourceOffered { upload, missing })
    }

    /// Start receiving blob `index` of `upload`, announced as `len` bytes (see
    /// [`Uploads::begin_blob`]).
    ///
    /// # Errors
    /// As [`Uploads::begin_blob`].
    pub fn begin_blob(&mut self, upload: u64, index: u32, len: u64) -> Result<BlobSink, Failure> {
        self.uploads.begin_blob(&self.share, upload, index, len)
    }

    /// A received blob, verified and kept; the resource is ready once every missing blob
    /// arrived.
    ///
    /// # Errors
    /// `EINVAL` when it is short or does not match its hash; the upload is then dropped.
    pub fn finish_blob(&mut self, sink: BlobSink) -> Result<Message, Failure> {
        let store = &self.shared.store;
        match self
            .uploads
            .finish_blob(sink, |sha, data, charge| store.insert(sha, data, charge))?
        {
            Some(u) => self.finish(u),
            None => Ok(Message::Ok),
        }
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
        // The arguments must fit the op's layout before any policy reads them.
        check_layout(op, &msg)?;
        // Policy, from the roles the op's layout gives its arguments.
        let arg_with = |role| ops::read_args_with(op, role).next();
        let text = |i: Option<usize>| str_arg(i.and_then(|i| msg.read(i)));
        if let Some(lib) = arg_with(Role::Library) {
            let (lib, sym) = (text(Some(lib)), text(arg_with(Role::Symbol)));
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
        if arg_with(Role::Symbol).is_some()
            && arg_with(Role::ResourceId).is_some()
            && !self.shared.config.allow_uploaded_code
        {
            // A symbol called in a resource's library: code a guest uploaded.
            return Err(Failure::new(
                code::EPERM,
                "running uploaded libraries is not allowed by the operator (see vaccel-agent --allow-uploaded-code)",
            ));
        }
        // Resource ids are the tenant's: replace them by the runtime's.
        for i in ops::read_args_with(op, Role::ResourceId) {
            let Some(Ok(raw)) = msg.read(i).map(|a| <[u8; 8]>::try_from(a.data)) else {
                continue;
            };
            let host = self.resource(i64::from_le_bytes(raw))?.id();
            msg.replace_read(i, host.to_le_bytes().to_vec());
        }
        Ok(PreparedOp {
            session: s,
            op,
            msg,
        })
    }
}

/// Check an op's arguments, as received, against its declared layout (count, types,
/// sizes): `EINVAL` naming the op and the argument.
fn check_layout(op: OpType, msg: &OpMessage) -> Result<(), Failure> {
    let read: Vec<ArgRef<'_>> = (0..msg.read_len()).filter_map(|i| msg.read(i)).collect();
    let write: Vec<ArgRef<'_>> = msg.write.iter().map(ArgRef::from).collect();
    let (mut r, mut w) = (
        Args::with_capacity(read.len()),
        Args::with_capacity(write.len()),
    );
    for a in &read {
        push_arg(&mut r, a);
    }
    for a in &write {
        push_arg(&mut w, a);
    }
    ops::check_args(op, r.as_slice(), w.as_slice())
        .map_err(|e| Failure::new(code::EINVAL, e.to_string()))
}

mod paths;
#[cfg(test)]
mod tests;
