//! The rpc plugin (type REMOTE): every op of a session bound to it runs on a vaccel-agent —
//! on the host of a VM (vsock, the default `vsock://2:2048`), or another process or machine
//! (unix, tcp). The target comes from `VACCEL_RPC_ADDRESS` (aliases `VACCEL_RPC_ADDR`,
//! `VACCEL_VSOCK`); `VACCEL_RPC_TOKEN` is sent when the agent asks for one.
//!
//! Sessions and resources are mirrored on the agent. Resources are offered by content
//! hash, so bytes this connection already gave the agent never travel again (bytes other
//! clients gave it are sent once more, then shared: see the agent's docs/SECURITY.md). If
//! the connection breaks,
//! calls in progress fail with `VACCEL_ESESS`; the next call reconnects and re-creates the
//! session and its registrations on the agent, from the resources the runtime hands every
//! call.

#![forbid(unsafe_code)]

pub mod client;

use client::Connection;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vaccel_plugin::ops::{self, Role};
use vaccel_plugin::sdk::{ArgInfo, ForwardArgs, Host, ResourceView, Result};
use vaccel_plugin::sync::lock;
use vaccel_plugin::{Ctx, OpSet, OpType, Plugin, PluginError, code, plugin_type};
use vaccel_proto::{ArgRef, BlobInfo, Kind, Message, encode_op_parts};
use vaccel_transport::Address;

/// Local resource id → the agent's.
type Resources = Arc<HashMap<i64, i64>>;

struct Remote {
    hint: u32,
    epoch: u64,
    id: i64,
    /// Local resource id → the agent's. Shared with the ops in flight (copied only when a
    /// registration changes it, not for every op).
    resources: Resources,
}

/// The plugin.
pub struct Rpc {
    addr: Address,
    token: Vec<u8>,
    handshake: Duration,
    conn: Mutex<Option<Arc<Connection>>>,
    epoch: AtomicU64,
    sessions: Mutex<HashMap<i64, Remote>>,
}

/// How long connecting and the handshake may take (`VACCEL_RPC_HANDSHAKE_TIMEOUT`,
/// seconds; default 10).
fn handshake_timeout_from_env() -> Result<Duration> {
    const VAR: &str = "VACCEL_RPC_HANDSHAKE_TIMEOUT";
    match std::env::var(VAR) {
        Err(_) => Ok(Duration::from_secs(10)),
        Ok(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0 && *s <= 3600.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| {
                PluginError::invalid(format!("{VAR}={v:?}: seconds, more than 0, at most 3600"))
            }),
    }
}

fn address_from_env() -> Result<Address> {
    let (var, value) = ["VACCEL_RPC_ADDRESS", "VACCEL_RPC_ADDR", "VACCEL_VSOCK"]
        .iter()
        .find_map(|v| std::env::var(v).ok().map(|x| (*v, x)))
        .unwrap_or(("default", vaccel_transport::DEFAULT_ADDRESS.to_string()));
    value
        .parse()
        .map_err(|e| PluginError::invalid(format!("{var}: {e}")))
}

impl Rpc {
    fn connection(&self) -> Result<Arc<Connection>> {
        let mut c = lock(&self.conn);
        if let Some(conn) = c.as_ref().filter(|c| !c.is_dead()) {
            return Ok(conn.clone());
        }
        let epoch = self.epoch.fetch_add(1, Ordering::Relaxed) + 1;
        let conn = Connection::open(&self.addr, &self.token, epoch, self.handshake)?;
        *c = Some(conn.clone());
        Ok(conn)
    }

    fn upload(conn: &Connection, view: &ResourceView<'_>) -> Result<i64> {
        let blobs: Vec<_> = view.blobs().collect();
        let offer = Message::ResourceOffer {
            resource_type: view.resource_type.map_or(u32::MAX, |t| t.raw()),
            blobs: blobs
                .iter()
                .map(|b| BlobInfo {
                    name: b.name.to_string(),
                    sha256: *b.sha256,
                    len: b.data.len() as u64,
                })
                .collect(),
        };
        let mut reply = conn.call(&offer)?;
        if let Message::ResourceOffered { upload, missing } = &reply {
            let upload = *upload;
            for i in missing.clone() {
                let b = blobs.get(i as usize).ok_or_else(|| {
                    PluginError::backend(format!(
                        "the agent asked for blob {i}, which was not offered"
                    ))
                })?;
                reply = conn.upload_blob(upload, i, b.data)?;
            }
        }
        match reply {
            Message::ResourceReady { resource } => Ok(resource),
            other => Err(PluginError::backend(format!(
                "unexpected reply to a resource upload: {:?}",
                other.kind()
            ))),
        }
    }

    /// The connection and the agent's id for this session, re-creating the session and
    /// its registrations after a reconnect.
    fn remote(&self, ctx: &Ctx<'_>) -> Result<(Arc<Connection>, i64, Resources)> {
        let conn = self.connection()?;
        let mut sessions = lock(&self.sessions);
        let r = sessions.get_mut(&ctx.session_id).ok_or_else(|| {
            PluginError::new(
                code::ESESS,
                format!("session {} has no remote session", ctx.session_id),
            )
        })?;
        if r.epoch != conn.epoch {
            let Message::SessionCreated { session } =
                conn.call(&Message::SessionCreate { hint: r.hint })?
            else {
                return Err(PluginError::backend("unexpected reply to SessionCreate"));
            };
            let mut resources = HashMap::new();
            for view in ctx.resources() {
                let rr = Self::upload(&conn, &view)?;
                conn.call(&Message::Register {
                    session,
                    resource: rr,
                })?;
                resources.insert(view.id, rr);
            }
            tracing::debug!(
                session = ctx.session_id,
                remote = session,
                "remote session re-created after reconnect"
            );
            *r = Remote {
                hint: r.hint,
                epoch: conn.epoch,
                id: session,
                resources: Arc::new(resources),
            };
        }
        Ok((conn, r.id, r.resources.clone()))
    }

    fn forward_op(&self, ctx: &Ctx<'_>, op: OpType, args: &mut ForwardArgs<'_>) -> Result<()> {
        let (conn, session, resources) = self.remote(ctx)?;
        // Arguments that name a resource (as the op's layout declares them): the agent
        // knows the resource by its own id.
        let mut remote_ids: Vec<(usize, [u8; 8])> = Vec::new();
        for i in ops::read_args_with(op, Role::ResourceId) {
            if i >= args.read().len() {
                continue;
            }
            let local = <[u8; 8]>::try_from(args.read_slice(i))
                .map(i64::from_le_bytes)
                .unwrap_or(0);
            let remote = resources.get(&local).ok_or_else(|| {
                PluginError::not_found(format!(
                    "{op}: resource {local} is not registered with session {}",
                    ctx.session_id
                ))
            })?;
            remote_ids.push((i, remote.to_le_bytes()));
        }
        // Arguments are sent straight from the application's buffers.
        let mut read = arg_refs(&args.read(), |i| args.read_slice(i));
        for (i, id) in &remote_ids {
            read[*i].data = id;
        }
        let write = arg_refs(&args.write(), |i| args.write_slice(i));
        let n = write.len();
        let parts = encode_op_parts(session, op.raw(), &read, &write);
        let parts: Vec<&[u8]> = parts.iter().map(AsRef::as_ref).collect();
        let reply = conn.call_parts(Kind::Op, &parts);
        drop((read, write));
        match reply? {
            Message::OpDone { write } if write.len() == n => {
                for (i, a) in write.iter().enumerate() {
                    args.set_write(i, &a.data)?;
                }
                Ok(())
            }
            other => Err(PluginError::backend(format!(
                "unexpected reply to {op}: {:?}",
                other.kind()
            ))),
        }
    }
}

/// Arguments described by `infos`, their bytes borrowed through `bytes`.
fn arg_refs<'a>(infos: &[ArgInfo], bytes: impl Fn(usize) -> &'a [u8]) -> Vec<ArgRef<'a>> {
    infos
        .iter()
        .enumerate()
        .map(|(i, a)| ArgRef {
            arg_type: a.arg_type,
            custom_type_id: a.custom_type_id,
            data: bytes(i),
        })
        .collect()
}

impl Plugin for Rpc {
    fn init(_host: &Host) -> Result<Self> {
        let token = std::env::var("VACCEL_RPC_TOKEN")
            .map(String::into_bytes)
            .unwrap_or_default();
        Ok(Rpc {
            addr: address_from_env()?,
            token,
            handshake: handshake_timeout_from_env()?,
            conn: Mutex::new(None),
            epoch: AtomicU64::new(0),
            sessions: Mutex::new(HashMap::new()),
        })
    }

    fn session_init(&self, session_id: i64, hint: u32) -> Result<()> {
        let conn = self.connection()?;
        let Message::SessionCreated { session } = conn.call(&Message::SessionCreate { hint })?
        else {
            return Err(PluginError::backend("unexpected reply to SessionCreate"));
        };
        lock(&self.sessions).insert(
            session_id,
            Remote {
                hint,
                epoch: conn.epoch,
                id: session,
                resources: Arc::default(),
            },
        );
        Ok(())
    }

    fn remote_session_id(&self, session_id: i64) -> Option<i64> {
        lock(&self.sessions).get(&session_id).map(|r| r.id)
    }

    fn session_release(&self, session_id: i64) -> Result<()> {
        let Some(r) = lock(&self.sessions).remove(&session_id) else {
            return Ok(());
        };
        match lock(&self.conn).clone() {
            Some(conn) if conn.epoch == r.epoch && !conn.is_dead() => conn
                .call(&Message::SessionRelease { session: r.id })
                .map(|_| ()),
            // The agent already dropped it with the old connection.
            _ => Ok(()),
        }
    }

    fn resource_register(&self, ctx: &Ctx<'_>, resource: &ResourceView<'_>) -> Result<()> {
        let (conn, session, _) = self.remote(ctx)?;
        let rr = Self::upload(&conn, resource)?;
        conn.call(&Message::Register {
            session,
            resource: rr,
        })?;
        if let Some(r) = lock(&self.sessions).get_mut(&ctx.session_id) {
            Arc::make_mut(&mut r.resources).insert(resource.id, rr);
        }
        Ok(())
    }

    fn resource_unregister(&self, session_id: i64, resource_id: i64) -> Result<()> {
        let (remote, rr, epoch) = {
            let mut s = lock(&self.sessions);
            let Some(r) = s.get_mut(&session_id) else {
                return Ok(());
            };
            let Some(rr) = Arc::make_mut(&mut r.resources).remove(&resource_id) else {
                return Ok(());
            };
            (r.id, rr, r.epoch)
        };
        match lock(&self.conn).clone() {
            Some(conn) if conn.epoch == epoch && !conn.is_dead() => {
                conn.call(&Message::Unregister {
                    session: remote,
                    resource: rr,
                })?;
                let _ = conn.call(&Message::ResourceRelease { resource: rr });
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn forward(&self, ctx: &Ctx<'_>, op: OpType, args: &mut ForwardArgs<'_>) -> Option<Result<()>> {
        Some(self.forward_op(ctx, op, args))
    }
}

vaccel_plugin::declare_plugin! {
    plugin: Rpc,
    name: "rpc",
    description: "forwards every op to a vaccel-agent (VACCEL_RPC_ADDRESS, default vsock://2:2048)",
    plugin_type: plugin_type::REMOTE,
    ops: OpSet::all(),
}
