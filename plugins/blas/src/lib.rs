//! The BLAS plugin (type CPU): `blas_sgemm` on OpenBLAS through CBLAS (row-major, leading
//! dimensions honoured), and `minmax`.
//!
//! OpenBLAS is loaded on the first sgemm, not when the plugin starts: loading it starts
//! its thread pool, whose threads spin (`sched_yield`) for a while and would steal CPU from
//! every process that links libvaccel but never multiplies a matrix. If it is not installed
//! the plugin still loads (so libvaccel works everywhere) and sgemm returns
//! `VACCEL_ENOTSUP` saying what to install. `VACCEL_BLAS_THREADS=N` sets OpenBLAS's thread
//! count.
//!
//! `minmax` (upstream's deprecated op, whose semantics upstream never documented) is
//! defined here as: `outdata[i] = clamp(indata[i], low, high)`, and `min` / `max` are the
//! smallest and largest input values.

#![deny(unsafe_code)]

mod openblas;

use openblas::OpenBlas;
use vaccel_plugin::ops::{MinmaxArgs, SgemmArgs};
use vaccel_plugin::sdk::{Host, Result};
use vaccel_plugin::{Ctx, OpSet, OpType, Plugin, PluginError, code, plugin_type};

/// The plugin.
#[derive(Debug)]
pub struct Blas {
    threads: i32,
    openblas: std::sync::OnceLock<std::result::Result<OpenBlas, String>>,
}

impl Blas {
    fn openblas(&self) -> &std::result::Result<OpenBlas, String> {
        self.openblas.get_or_init(|| {
            let o = OpenBlas::load(self.threads);
            match &o {
                Ok(o) => tracing::debug!(library = o.name, "OpenBLAS loaded"),
                Err(e) => tracing::debug!("OpenBLAS not available: {e}"),
            }
            o
        })
    }
}

fn threads_from_env() -> Result<i32> {
    match std::env::var("VACCEL_BLAS_THREADS") {
        Err(_) => Ok(0),
        Ok(v) => v
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                PluginError::invalid(format!(
                    "VACCEL_BLAS_THREADS={v:?}: expected a positive number"
                ))
            }),
    }
}

/// Row-major reference GEMM (naive triple loop) for tests and benchmarks' correctness checks.
#[allow(clippy::too_many_arguments)]
pub fn reference_sgemm(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0f64;
            for p in 0..k {
                acc += f64::from(a[i * lda + p]) * f64::from(b[p * ldb + j]);
            }
            let old = if beta == 0.0 {
                0.0
            } else {
                beta * c[i * ldc + j]
            };
            c[i * ldc + j] = alpha * acc as f32 + old;
        }
    }
}

impl Plugin for Blas {
    fn init(_host: &Host) -> Result<Self> {
        Ok(Blas {
            threads: threads_from_env()?,
            openblas: std::sync::OnceLock::new(),
        })
    }

    fn sgemm(&self, _ctx: &Ctx<'_>, mut args: SgemmArgs<'_>) -> Result<()> {
        match self.openblas() {
            Ok(o) => o.sgemm(&mut args),
            Err(e) => Err(PluginError::new(
                code::ENOTSUP,
                format!(
                    "blas_sgemm: OpenBLAS is not installed (install Debian's libopenblas0, or libopenblas-dev): {e}"
                ),
            )),
        }
    }

    fn minmax(&self, _ctx: &Ctx<'_>, a: MinmaxArgs<'_>) -> Result<()> {
        if a.low_threshold > a.high_threshold {
            return Err(PluginError::invalid(format!(
                "minmax: low threshold {} is above high threshold {}",
                a.low_threshold, a.high_threshold
            )));
        }
        if a.indata.is_empty() {
            return Err(PluginError::invalid("minmax: no input values"));
        }
        let (lo, hi) = (f64::from(a.low_threshold), f64::from(a.high_threshold));
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for (out, v) in a.outdata.iter_mut().zip(a.indata) {
            if v.is_nan() {
                return Err(PluginError::invalid("minmax: input holds NaN"));
            }
            min = min.min(*v);
            max = max.max(*v);
            *out = v.clamp(lo, hi);
        }
        *a.min = min;
        *a.max = max;
        Ok(())
    }
}

vaccel_plugin::declare_plugin! {
    plugin: Blas,
    name: "blas",
    description: "sgemm on OpenBLAS (CBLAS, row-major), minmax",
    plugin_type: plugin_type::CPU,
    ops: OpSet::of(&[OpType::BlasSgemm, OpType::Minmax]),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_sgemm_multiplies() {
        // [1 2; 3 4] x [5 6; 7 8] = [19 22; 43 50]
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0, 7.0, 8.0];
        let mut c = [1.0f32; 4];
        reference_sgemm(2, 2, 2, 1.0, &a, 2, &b, 2, 0.0, &mut c, 2);
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
        let mut c = [1.0f32; 4];
        reference_sgemm(2, 2, 2, 2.0, &a, 2, &b, 2, 1.0, &mut c, 2);
        assert_eq!(c, [39.0, 45.0, 87.0, 101.0]);
    }
}
