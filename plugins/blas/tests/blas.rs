//! sgemm and minmax through the runtime, checked against a plain reference.

use vaccel::{Args, OpType, Runtime, Session, code};
use vaccel_plugin_blas::reference_sgemm;

fn session() -> Session {
    let rt = Runtime::builder()
        .builtin(vaccel_plugin_blas::descriptor())
        .build()
        .unwrap();
    Session::new(&rt, 0).unwrap()
}

fn values(len: usize, seed: u32) -> Vec<f32> {
    (0..len)
        .map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

#[test]
fn sgemm_matches_reference_on_padded_non_square_matrices() {
    let s = session();
    // A 37×23 (lda 29), B 23×41 (ldb 50), C 37×41 (ldc 45): padding must be left alone.
    let (m, n, k, lda, ldb, ldc) = (37usize, 41usize, 23usize, 29usize, 50usize, 45usize);
    let a = values((m - 1) * lda + k, 1);
    let b = values((k - 1) * ldb + n, 2);
    let c0 = values((m - 1) * ldc + n, 3);
    for (alpha, beta) in [(1.0f32, 0.0f32), (0.5, 2.0), (-1.5, 1.0)] {
        let mut c = c0.clone();
        let mut expect = c0.clone();
        s.sgemm(
            m as i64, n as i64, k as i64, alpha, &a, lda as i64, &b, ldb as i64, beta, &mut c,
            ldc as i64,
        )
        .unwrap();
        reference_sgemm(m, n, k, alpha, &a, lda, &b, ldb, beta, &mut expect, ldc);
        for i in 0..m {
            for j in 0..ldc.min(c.len() - i * ldc) {
                let (got, want) = (c[i * ldc + j], expect[i * ldc + j]);
                if j < n {
                    assert!(
                        (got - want).abs() < 1e-3,
                        "C[{i},{j}] = {got}, expected {want} (alpha {alpha}, beta {beta})"
                    );
                } else {
                    assert_eq!(got, c0[i * ldc + j], "padding C[{i},{j}] was written");
                }
            }
        }
    }
}

#[test]
fn sgemm_typed_and_genop_agree() {
    let s = session();
    let (m, n, k) = (5i64, 7i64, 3i64);
    let a = values(15, 4);
    let b = values(21, 5);
    let mut typed = vec![0f32; 35];
    s.sgemm(m, n, k, 1.0, &a, k, &b, n, 0.0, &mut typed, n)
        .unwrap();
    let mut generic = vec![0f32; 35];
    let op = OpType::BlasSgemm.raw() as u8;
    let (alpha, beta) = (1.0f32, 0.0f32);
    let mut r = Args::new();
    r.scalar(&op)
        .scalar(&m)
        .scalar(&n)
        .scalar(&k)
        .scalar(&alpha)
        .slice(&a)
        .scalar(&k)
        .slice(&b)
        .scalar(&n)
        .scalar(&beta)
        .scalar(&n);
    let mut w = Args::new();
    w.slice_mut(&mut generic);
    s.genop(&mut r, &mut w).unwrap();
    drop(w);
    assert_eq!(typed, generic);
}

#[test]
fn sgemm_refuses_bad_shapes() {
    let s = session();
    let a = values(6, 1);
    let b = values(6, 2);
    let mut c = vec![0f32; 4];
    let e = s
        .sgemm(2, 2, 3, 1.0, &a, 2, &b, 2, 0.0, &mut c, 2)
        .unwrap_err();
    assert_eq!(e.code(), code::EINVAL);
    assert!(e.to_string().contains("leading dimension of A is 2"), "{e}");
    let e = s
        .sgemm(-1, 2, 3, 1.0, &a, 3, &b, 2, 0.0, &mut c, 2)
        .unwrap_err();
    assert_eq!(e.code(), code::EINVAL);
    assert!(e.to_string().contains("m is negative"), "{e}");
}

#[test]
fn minmax_clamps_and_reports_extremes() {
    let s = session();
    let input = [5.0, -3.0, 12.5, 7.0];
    let mut out = [0.0; 4];
    let (min, max) = s.minmax(&input, 0, 10, &mut out).unwrap();
    assert_eq!((min, max), (-3.0, 12.5));
    assert_eq!(out, [5.0, 0.0, 10.0, 7.0]);
    let e = s.minmax(&input, 10, 0, &mut out).unwrap_err();
    assert_eq!(e.code(), code::EINVAL);
    let mut short = [0.0; 2];
    assert_eq!(
        s.minmax(&input, 0, 10, &mut short).unwrap_err().code(),
        code::EINVAL
    );
}
