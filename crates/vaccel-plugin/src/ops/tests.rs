use super::*;

fn arg_of<T>(v: &mut [T], ty: ArgType) -> VaccelArg {
    VaccelArg {
        buf: v.as_mut_ptr().cast(),
        size: std::mem::size_of_val(v),
        arg_type: ty.raw(),
        custom_type_id: 0,
        owned: false,
    }
}

#[test]
fn the_fast_shape_test_and_the_explaining_one_agree() {
    // Every type, against sizes around its element size, with aligned, misaligned
    // and NULL buffers.
    let backing = [0u64; 8];
    let aligned = backing.as_ptr() as *mut std::ffi::c_void;
    // Only the address matters: the shape checks never read the bytes.
    let misaligned = (aligned as usize + 1) as *mut std::ffi::c_void;
    for ty in ArgType::ALL {
        for size in 0..=17usize {
            for buf in [aligned, misaligned, std::ptr::null_mut()] {
                let arg = VaccelArg {
                    buf,
                    size,
                    arg_type: ty.raw(),
                    custom_type_id: 0,
                    owned: false,
                };
                assert_eq!(
                    shape_fits(&arg, *ty),
                    check_shape(&arg, *ty).is_ok(),
                    "{ty} size {size} buf {buf:?}"
                );
            }
        }
    }
}

#[test]
fn roles_come_from_the_layouts() {
    let ids = |op| read_args_with(op, Role::ResourceId).collect::<Vec<_>>();
    for op in [
        OpType::ExecWithResource,
        OpType::TorchModelLoad,
        OpType::TorchModelRun,
        OpType::TfliteModelLoad,
        OpType::TfliteModelRun,
        OpType::TfliteModelUnload,
        OpType::TfModelLoad,
        OpType::TfModelRun,
        OpType::TfModelUnload,
    ] {
        assert_eq!(ids(op), vec![0], "{op}");
    }
    for op in [
        OpType::Noop,
        OpType::Exec,
        OpType::ImageClassify,
        OpType::BlasSgemm,
    ] {
        assert!(ids(op).is_empty(), "{op}");
    }
    let roles = |role| read_args_with(OpType::Exec, role).collect::<Vec<_>>();
    assert_eq!(
        (roles(Role::Library), roles(Role::Symbol)),
        (vec![0], vec![1])
    );
    assert_eq!(
        read_args_with(OpType::ExecWithResource, Role::Symbol).collect::<Vec<_>>(),
        vec![1]
    );
}

#[test]
fn check_args_rejects_wrong_count_naming_op() {
    let e = check_args(OpType::BlasSgemm, &[], &[]).unwrap_err();
    assert!(matches!(
        e,
        ArgError::Count {
            min: 10,
            max: Some(10),
            got: 0,
            ..
        }
    ));
    assert_eq!(e.to_string(), "blas_sgemm: expected 10 read args, got 0");
}

#[test]
fn check_args_rejects_wrong_type_naming_arg() {
    let mut lib = *b"lib\0";
    let mut sym = 5i64;
    let read = [
        arg_of(&mut lib, ArgType::String),
        arg_of(std::slice::from_mut(&mut sym), ArgType::Int64),
    ];
    let e = check_args(OpType::Exec, &read, &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "exec: read arg 1 (symbol) must be string, got int64"
    );
}

#[test]
fn check_args_rejects_bad_scalar_size() {
    let mut v = [0u8; 3];
    let mut arg = arg_of(&mut v, ArgType::Int64);
    arg.arg_type = ArgType::Int64.raw();
    let mut sym = *b"f\0";
    let read = [arg, arg_of(&mut sym, ArgType::String)];
    let e = check_args(OpType::ExecWithResource, &read, &[]).unwrap_err();
    assert!(
        e.to_string()
            .contains("(resource_id) has size 3 bytes, expected 8"),
        "{e}"
    );
}

#[test]
fn check_args_rejects_null_buffer_with_size() {
    let mut arg = VaccelArg::empty(ArgType::Buffer);
    arg.size = 10;
    let e = check_args(
        OpType::ImageDetect,
        &[arg],
        &[VaccelArg::empty(ArgType::UcharArray)],
    );
    assert!(e.unwrap_err().to_string().contains("NULL buffer"));
}

#[test]
fn optional_trailing_args_may_be_left_out() {
    let mut img = [0u8; 4];
    let mut name = [0u8; 8];
    let mut text = [0u8; 8];
    let mut top = [0u8; 8];
    let mut k = 3i32;
    let r1 = [arg_of(&mut img, ArgType::Buffer)];
    let w2 = [
        arg_of(&mut name, ArgType::UcharArray),
        arg_of(&mut text, ArgType::UcharArray),
    ];
    check_args(OpType::ImageClassify, &r1, &w2).unwrap();
    let r2 = [r1[0], arg_of(std::slice::from_mut(&mut k), ArgType::Int32)];
    let w3 = [w2[0], w2[1], arg_of(&mut top, ArgType::Custom)];
    check_args(OpType::ImageClassify, &r2, &w3).unwrap();
    let e = check_args(OpType::ImageClassify, &r2, &w2[..1]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "image_classify: expected 2 to 3 write args, got 1"
    );
}

#[test]
fn exec_layout_is_variadic() {
    let mut lib = *b"lib\0";
    let mut sym = *b"f\0";
    let mut extra = 1i32;
    let read = [
        arg_of(&mut lib, ArgType::String),
        arg_of(&mut sym, ArgType::String),
        arg_of(std::slice::from_mut(&mut extra), ArgType::Int32),
    ];
    check_args(OpType::Exec, &read, &[]).unwrap();
    check_args(OpType::Exec, &read[..2], &[]).unwrap();
    assert!(check_args(OpType::Exec, &read[..1], &[]).is_err());
}

#[test]
fn sgemm_validate_checks_leading_dimensions() {
    let a = [0f32; 6];
    let b = [0f32; 6];
    let mut c = [0f32; 4];
    let mut args = SgemmArgs {
        m: 2,
        n: 2,
        k: 3,
        alpha: 1.0,
        a: &a,
        lda: 3,
        b: &b,
        ldb: 2,
        beta: 0.0,
        c: &mut c,
        ldc: 2,
    };
    args.validate().unwrap();
    args.lda = 2;
    assert!(
        args.validate()
            .unwrap_err()
            .contains("leading dimension of A is 2")
    );
    args.lda = 4;
    assert!(args.validate().unwrap_err().contains("A holds 6 floats"));
}

#[test]
fn matrix_len_detects_overflow() {
    assert!(matrix_len(usize::MAX, 2, usize::MAX, "A").is_err());
    assert_eq!(matrix_len(0, 5, 5, "A").unwrap(), 0);
}

#[test]
fn write_c_string_truncates_and_terminates() {
    let mut out = [0xffu8; 5];
    assert_eq!(write_c_string(&mut out, "hello world"), 4);
    assert_eq!(&out, b"hell\0");
    let mut one = [0xffu8; 1];
    assert_eq!(write_c_string(&mut one, "x"), 0);
    assert_eq!(one, [0]);
    let mut utf = [0u8; 3];
    assert_eq!(write_c_string(&mut utf, "é!"), 2);
    assert_eq!(write_c_string(&mut [], "x"), 0);
}

#[test]
fn every_view_is_the_layout_of_its_ops_and_only_those() {
    let mut seen = std::collections::HashSet::new();
    for (name, ops, schema) in views::ALL_VIEWS {
        for op in *ops {
            assert!(seen.insert(*op), "{op} declared twice ({name})");
            let (got, want) = (super::schema(*op).unwrap(), *schema);
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "{op} → {name}");
        }
        // Only trailing args are optional.
        for side in [schema.read, schema.write] {
            let first_optional = side.iter().position(|s| s.optional).unwrap_or(side.len());
            assert!(side[first_optional..].iter().all(|s| s.optional), "{name}");
        }
    }
    for raw in 0..crate::types::OP_MAX {
        if let Some(op) = OpType::from_raw(raw)
            && op != OpType::Noop
        {
            assert_eq!(super::schema(op).is_some(), seen.contains(&op), "{op}");
        }
    }
}

#[test]
fn a_view_encodes_what_it_decodes() {
    let (a, b) = ([1.0f32, 2.0, 3.0, 4.0], [5.0f32, 6.0, 7.0, 8.0]);
    let mut c = [0.5f32; 4];
    let mut view = SgemmArgs {
        m: 2,
        n: 2,
        k: 2,
        alpha: 1.5,
        a: &a,
        lda: 2,
        b: &b,
        ldb: 2,
        beta: 0.0,
        ldc: 2,
        c: &mut c,
    };
    view.with_args(|r, w| {
        check_args(OpType::BlasSgemm, r.as_slice(), w.as_slice()).unwrap();
        assert_eq!(r.len(), 10);
        let (r, w) = (r.as_mut_slice(), w.as_mut_slice());
        // SAFETY: built from live slices and values just above, checked, disjoint.
        let back = unsafe { SgemmArgs::decode(OpType::BlasSgemm, r, w) }.unwrap();
        assert_eq!(
            (back.m, back.n, back.k, back.lda, back.ldb, back.ldc),
            (2, 2, 2, 2, 2, 2)
        );
        assert_eq!((back.alpha, back.beta), (1.5, 0.0));
        assert_eq!((back.a, back.b), (&a[..], &b[..]));
        back.c[3] = 9.0;
    });
    assert_eq!(c, [0.5, 0.5, 0.5, 9.0]);
}

#[test]
fn a_negative_dimension_is_refused_by_name_when_decoded() {
    let (mut m, mut rest) = (-3i64, [2i64; 5]);
    let (mut alpha, mut beta) = (1f32, 0f32);
    let (mut a, mut b, mut c) = ([0f32; 4], [0f32; 4], [0f32; 4]);
    let [n, k, lda, ldb, ldc] = &mut rest;
    let mut r = [
        arg_of(std::slice::from_mut(&mut m), ArgType::Int64),
        arg_of(std::slice::from_mut(n), ArgType::Int64),
        arg_of(std::slice::from_mut(k), ArgType::Int64),
        arg_of(std::slice::from_mut(&mut alpha), ArgType::Float32),
        arg_of(&mut a, ArgType::Float32Array),
        arg_of(std::slice::from_mut(lda), ArgType::Int64),
        arg_of(&mut b, ArgType::Float32Array),
        arg_of(std::slice::from_mut(ldb), ArgType::Int64),
        arg_of(std::slice::from_mut(&mut beta), ArgType::Float32),
        arg_of(std::slice::from_mut(ldc), ArgType::Int64),
    ];
    let mut w = [arg_of(&mut c, ArgType::Float32Array)];
    check_args(OpType::BlasSgemm, &r, &w).unwrap();
    // SAFETY: every arg views a live local above; checked; the output is its own array.
    let e = unsafe { SgemmArgs::decode(OpType::BlasSgemm, &mut r, &mut w) }.unwrap_err();
    assert_eq!(e.to_string(), "blas_sgemm: read arg 0 (m) is negative (-3)");
}

#[test]
fn an_output_reports_what_it_needs_when_too_small() {
    let mut buf = [0u8; 4];
    let mut out: Out<'_> = Out::new(&mut buf);
    assert_eq!(
        out.set(b"12345"),
        Err(crate::results::TooSmall { needed: 5 })
    );
    assert_eq!(out.written_bytes(), Err(5));
    out.set(b"ab").unwrap();
    assert_eq!(out.written_bytes(), Ok(&b"ab"[..]));
}

#[test]
fn a_variadic_tail_of_one_type_checks_each_argument() {
    let mut id = 1i64;
    let mut t = crate::Tensor::from_f32(vec![1], &[1.0]).unwrap().encode();
    let mut not_tensor = [0u8; 8];
    let mut r = [
        arg_of(std::slice::from_mut(&mut id), ArgType::Int64),
        VaccelArg {
            custom_type_id: crate::tensor::TENSOR_TYPE_ID,
            ..arg_of(&mut t, ArgType::Custom)
        },
        arg_of(&mut not_tensor, ArgType::Custom),
    ];
    check_args(OpType::TorchModelRun, &r, &[]).unwrap();
    // SAFETY: every arg views a live local above; no outputs.
    let e = unsafe { ModelRunArgs::decode(OpType::TorchModelRun, &mut r, &mut []) }.unwrap_err();
    assert!(
        e.to_string()
            .starts_with("torch_model_run: read arg 2 (inputs) must carry custom type id"),
        "{e}"
    );
    // SAFETY: as above.
    let v = unsafe { ModelRunArgs::decode(OpType::TorchModelRun, &mut r[..2], &mut []) }.unwrap();
    assert_eq!(v.inputs.len(), 1);
}
