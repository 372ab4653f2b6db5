use super::*;
use sha2::{Digest, Sha256};

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
    Arc::new(Shared::new(rt, config))
}

fn tenant(sh: &Arc<Shared>) -> Tenant {
    let share = sh.budget.share(sh.config.limits.tenant_memory);
    Tenant::new(sh.clone(), share)
}

fn upload_all(t: &mut Tenant, data: &[u8]) -> Message {
    let Message::ResourceOffered { upload, missing } = t.handle(Message::ResourceOffer {
        resource_type: 1,
        blobs: vec![blob(data)],
    }) else {
        panic!("not offered")
    };
    assert_eq!(missing, vec![0]);
    t.handle(Message::BlobUpload {
        upload,
        index: 0,
        data: data.to_vec(),
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
    let mut a = tenant(&sh);
    let mut b = tenant(&sh);
    let Message::SessionCreated { session } = a.handle(Message::SessionCreate { hint: 0 }) else {
        panic!()
    };
    let reply = b.handle(Message::SessionRelease { session });
    assert!(matches!(reply, Message::Error { code: 2, .. }), "{reply:?}");
    assert!(b.prepare_op_parts(session, 0, vec![], vec![]).is_err());
    assert!(a.prepare_op_parts(session, 0, vec![], vec![]).is_ok());
}

#[test]
fn tenants_share_the_bytes_of_a_blob_but_each_uploads_and_pays_for_it() {
    let sh = shared(AgentConfig::default());
    let data = vec![7u8; 1000];
    let mut a = tenant(&sh);
    assert!(matches!(
        upload_all(&mut a, &data),
        Message::ResourceReady { .. }
    ));
    // Another tenant offering the same hash is asked for the bytes: a hash alone
    // neither obtains the blob nor tells whether the agent holds it.
    let mut b = tenant(&sh);
    assert!(matches!(
        upload_all(&mut b, &data),
        Message::ResourceReady { .. }
    ));
    assert_eq!(sh.store.live(), 1, "one copy of the bytes");
    assert_eq!((a.share().used(), b.share().used()), (1000, 1000));
    assert_eq!(sh.budget.used(), 1000, "the agent holds them once");
    // The tenant itself holds them: a second resource needs no upload, and is paid for.
    let r = a.handle(Message::ResourceOffer {
        resource_type: 1,
        blobs: vec![blob(&data)],
    });
    assert!(matches!(r, Message::ResourceReady { .. }), "{r:?}");
    assert_eq!(a.share().used(), 2000);
    // ... and not under a false length.
    let mut short = blob(&data);
    short.len = 1;
    let r = a.handle(Message::ResourceOffer {
        resource_type: 1,
        blobs: vec![short],
    });
    assert!(
        matches!(&r, Message::Error { code: 22, message } if message.contains("1000 bytes")),
        "{r:?}"
    );
    drop((a, b));
    assert_eq!(sh.store.live(), 0, "freed when the tenants go");
    assert_eq!(sh.budget.used(), 0);
}

#[test]
fn uploads_must_match_their_hash_and_limits() {
    let mut cfg = AgentConfig::default();
    cfg.limits.tenant_memory = 100;
    let sh = shared(cfg);
    let mut t = tenant(&sh);
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
    assert_eq!(t.share().used(), 0, "a refused blob is not held");
    let r = upload_all(&mut t, &[0; 200]);
    assert!(
        matches!(&r, Message::Error { code: 12, message } if message.contains("share of 100 bytes")),
        "{r:?}"
    );
    let r = t.handle(Message::ResourceOffer {
        resource_type: 1,
        blobs: vec![BlobInfo {
            name: "../etc/passwd".into(),
            ..blob(b"x")
        }],
    });
    assert!(
        matches!(&r, Message::Error { code: 22, message } if message.contains("file name")),
        "{r:?}"
    );
    assert_eq!((t.share().used(), sh.budget.used()), (0, 0));
}

#[test]
fn catalogue_models_are_read_once_and_charged_to_each_holder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.onnx");
    std::fs::write(&path, vec![3u8; 5000]).unwrap();
    let mut cfg = AgentConfig::default();
    cfg.models.insert("m".into(), path);
    cfg.limits.tenant_memory = 12_000;
    let sh = shared(cfg);
    let mut t = tenant(&sh);
    for _ in 0..2 {
        let r = t.handle(Message::ModelByName { name: "m".into() });
        assert!(matches!(r, Message::ResourceReady { .. }), "{r:?}");
    }
    assert_eq!(sh.store.live(), 1, "read once");
    assert_eq!(sh.budget.used(), 5000, "agent: once");
    assert_eq!(t.share().used(), 10_000, "tenant: per resource");
    let r = t.handle(Message::ModelByName { name: "m".into() });
    assert!(matches!(&r, Message::Error { code: 12, .. }), "{r:?}");
    let r = t.handle(Message::ModelByName {
        name: "other".into(),
    });
    assert!(matches!(&r, Message::Error { code: 2, .. }), "{r:?}");
    drop(t);
    assert_eq!((sh.store.live(), sh.budget.used()), (0, 0));
}

#[test]
fn registered_models_are_charged_for_their_loaded_copy() {
    let mut cfg = AgentConfig::default();
    cfg.limits.tenant_memory = 3500;
    let sh = shared(cfg);
    let mut t = tenant(&sh);
    let Message::SessionCreated { session } = t.handle(Message::SessionCreate { hint: 0 }) else {
        panic!()
    };
    let model = vec![9u8; 1000];
    let Message::ResourceOffered { upload, .. } = t.handle(Message::ResourceOffer {
        resource_type: ResourceType::Model.raw(),
        blobs: vec![blob(&model)],
    }) else {
        panic!()
    };
    let Message::ResourceReady { resource } = t.handle(Message::BlobUpload {
        upload,
        index: 0,
        data: model,
    }) else {
        panic!()
    };
    assert_eq!((t.share().used(), sh.budget.used()), (1000, 1000));
    assert_eq!(
        t.handle(Message::Register { session, resource }),
        Message::Ok
    );
    assert_eq!((t.share().used(), sh.budget.used()), (2000, 2000));
    let Message::SessionCreated { session: s2 } = t.handle(Message::SessionCreate { hint: 0 })
    else {
        panic!()
    };
    assert_eq!(
        t.handle(Message::Register {
            session: s2,
            resource
        }),
        Message::Ok
    );
    assert_eq!(
        (t.share().used(), sh.budget.used()),
        (3000, 2000),
        "each registration is the tenant's; the loaded copy is the agent's once"
    );
    let Message::SessionCreated { session: s3 } = t.handle(Message::SessionCreate { hint: 0 })
    else {
        panic!()
    };
    let r = t.handle(Message::Register {
        session: s3,
        resource,
    });
    assert!(
        matches!(&r, Message::Error { code: 12, message } if message.contains("loading model")),
        "{r:?}"
    );
    assert_eq!(
        t.handle(Message::Unregister {
            session: s2,
            resource
        }),
        Message::Ok
    );
    assert_eq!(t.handle(Message::SessionRelease { session }), Message::Ok);
    assert_eq!(t.share().used(), 1000);
    drop(t);
    assert_eq!(sh.budget.used(), 0);
}

#[test]
fn arguments_are_checked_against_the_layout_before_any_policy() {
    let mut t = tenant(&shared(AgentConfig::default()));
    let Message::SessionCreated { session } = t.handle(Message::SessionCreate { hint: 0 }) else {
        panic!()
    };
    // exec with a library that is not a string: refused for its layout (EINVAL), not
    // read by the policy.
    let int = WireArg {
        arg_type: ArgType::Int64.raw(),
        custom_type_id: 0,
        data: 5i64.to_le_bytes().to_vec(),
    };
    let e = t
        .prepare_op_parts(session, OpType::Exec.raw(), vec![int.clone(), int], vec![])
        .err()
        .unwrap();
    assert_eq!(e.code, code::EINVAL, "{}", e.message);
    assert!(
        e.message.contains("exec") && e.message.contains("library"),
        "{}",
        e.message
    );
    // A model op naming a resource the tenant does not hold: not found.
    let id = WireArg {
        arg_type: ArgType::Int64.raw(),
        custom_type_id: 0,
        data: 77i64.to_le_bytes().to_vec(),
    };
    let e = t
        .prepare_op_parts(session, OpType::TorchModelLoad.raw(), vec![id], vec![])
        .err()
        .unwrap();
    assert_eq!(e.code, code::ENOENT, "{}", e.message);
}

#[test]
fn exec_needs_the_operators_permission() {
    let mut cfg = AgentConfig::default();
    cfg.allow_exec.insert(("/lib/ok.so".into(), "f".into()));
    let mut t = tenant(&shared(cfg));
    let Message::SessionCreated { session } = t.handle(Message::SessionCreate { hint: 0 }) else {
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
    let mut t = tenant(&shared(AgentConfig::default()));
    let Message::SessionCreated { session } = t.handle(Message::SessionCreate { hint: 0 }) else {
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
