//! `vaccel sgemm`: random matrices through blas_sgemm, GFLOP/s, optionally checked.

use anyhow::{Context, Result};
use std::time::Instant;
use vaccel::{OpType, Runtime, Session};

/// `vaccel sgemm` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Rows of A and C.
    m: i64,
    /// Columns of B and C.
    n: i64,
    /// Columns of A, rows of B.
    k: i64,
    /// Timed repetitions (the best is reported).
    #[arg(long, short = 'n', default_value_t = 3)]
    iterations: u32,
    /// Also check the result against a plain reference multiplication.
    #[arg(long)]
    check: bool,
}

/// Deterministic pseudo-random values in [-1, 1) (xorshift), so runs are repeatable.
pub fn random_matrix(len: usize, seed: u64) -> Vec<f32> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Run `vaccel sgemm`.
///
/// # Errors
/// Non-positive dimensions, the op's error, a result that differs from the reference.
pub fn run(rt: &Runtime, a: Args) -> Result<()> {
    let Args {
        m,
        n,
        k,
        iterations,
        check,
    } = a;
    let dims = |v: i64, what: &str| {
        usize::try_from(v)
            .ok()
            .filter(|v| *v > 0)
            .with_context(|| format!("{what} must be positive, got {v}"))
    };
    let (mu, nu, ku) = (dims(m, "M")?, dims(n, "N")?, dims(k, "K")?);
    let len = |a: usize, b: usize| a.checked_mul(b).context("matrix size overflows");
    let a = random_matrix(len(mu, ku)?, 1);
    let b = random_matrix(len(ku, nu)?, 2);
    let mut c = vec![0f32; len(mu, nu)?];
    let sess = Session::new(rt, 0)?;
    let plugin = sess
        .plugin_for(OpType::BlasSgemm)
        .map_or("none", |p| p.name())
        .to_string();
    let mut best = f64::INFINITY;
    for _ in 0..iterations.max(1) {
        let t0 = Instant::now();
        sess.sgemm(m, n, k, 1.0, &a, k, &b, n, 0.0, &mut c, n)?;
        best = best.min(t0.elapsed().as_secs_f64());
    }
    let flops = 2.0 * mu as f64 * nu as f64 * ku as f64;
    println!(
        "sgemm {m}x{n}x{k} on plugin {plugin}: best of {} {:.3} ms, {:.1} GFLOP/s",
        iterations.max(1),
        best * 1e3,
        flops / best / 1e9
    );
    if check {
        let mut r = vec![0f32; c.len()];
        vaccel_builtins::reference_sgemm(mu, nu, ku, &a, &b, &mut r);
        let worst = c
            .iter()
            .zip(&r)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        let tolerance = 1e-4 * ku as f32;
        anyhow::ensure!(
            worst <= tolerance,
            "result differs from the reference by {worst} (tolerance {tolerance})"
        );
        println!("check: matches the reference (largest difference {worst:.2e})");
    }
    sess.release()?;
    Ok(())
}
