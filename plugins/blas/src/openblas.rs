//! OpenBLAS's CBLAS `sgemm`, loaded at run time with `dlopen` so that libvaccel and the
//! CLI do not need OpenBLAS installed to start: without it, sgemm says what to install.
//!
//! This module is the plugin's one exception to "no unsafe outside the ABI crate": calling
//! a native compute library is FFI. The unsafety is confined to two calls whose
//! preconditions (matrix bounds) `SgemmArgs::validate` checks before they are made.

#![allow(unsafe_code)]

use vaccel_plugin::ops::SgemmArgs;
use vaccel_plugin::{PluginError, code};

/// `CblasRowMajor` (cblas.h).
const CBLAS_ROW_MAJOR: i32 = 101;
/// `CblasNoTrans` (cblas.h).
const CBLAS_NO_TRANS: i32 = 111;

type SgemmFn = unsafe extern "C" fn(
    order: i32,
    trans_a: i32,
    trans_b: i32,
    m: i32,
    n: i32,
    k: i32,
    alpha: f32,
    a: *const f32,
    lda: i32,
    b: *const f32,
    ldb: i32,
    beta: f32,
    c: *mut f32,
    ldc: i32,
);
type SetThreadsFn = unsafe extern "C" fn(n: i32);

/// The loaded library and its `cblas_sgemm`.
pub struct OpenBlas {
    sgemm: SgemmFn,
    /// Keeps the library mapped while `sgemm` may be called.
    _lib: libloading::Library,
    /// Where it was loaded from, for logs.
    pub name: &'static str,
}

impl std::fmt::Debug for OpenBlas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenBlas")
            .field("name", &self.name)
            .finish()
    }
}

/// Shared-object names tried, in order (Debian's `libopenblas0` provides the first).
pub const CANDIDATES: &[&str] = &["libopenblas.so.0", "libopenblas.so"];

impl OpenBlas {
    /// Load OpenBLAS; `threads` > 0 sets its thread count.
    ///
    /// # Errors
    /// Why no library could be loaded.
    pub fn load(threads: i32) -> Result<Self, String> {
        let mut errors = Vec::new();
        for name in CANDIDATES {
            // SAFETY: loading OpenBLAS runs its initialisers (thread pool set-up), which is
            // what using it requires.
            let lib = match unsafe { libloading::Library::new(name) } {
                Ok(l) => l,
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            };
            // SAFETY: `cblas_sgemm` has the CBLAS signature declared by `SgemmFn`
            // (cblas.h; 32-bit ints in Debian's LP64 build).
            let sgemm = match unsafe { lib.get::<SgemmFn>(b"cblas_sgemm\0") } {
                Ok(f) => *f,
                Err(e) => {
                    errors.push(format!("{name}: {e}"));
                    continue;
                }
            };
            if threads > 0 {
                // SAFETY: `openblas_set_num_threads(int)` is OpenBLAS's documented API.
                if let Ok(set) = unsafe { lib.get::<SetThreadsFn>(b"openblas_set_num_threads\0") } {
                    // SAFETY: plain value argument.
                    unsafe { set(threads) };
                }
            }
            return Ok(OpenBlas {
                sgemm,
                _lib: lib,
                name,
            });
        }
        Err(errors.join("; "))
    }

    /// `C = alpha·A·B + beta·C`, row-major, on checked arguments.
    ///
    /// # Errors
    /// `EINVAL` when a dimension exceeds CBLAS's 32-bit ints.
    pub fn sgemm(&self, a: &mut SgemmArgs<'_>) -> Result<(), PluginError> {
        a.validate()
            .map_err(|m| PluginError::invalid(format!("blas_sgemm: {m}")))?;
        let int = |v: usize, what: &str| {
            i32::try_from(v).map_err(|_| {
                PluginError::new(
                    code::EINVAL,
                    format!("blas_sgemm: {what}={v} exceeds CBLAS's 32-bit range"),
                )
            })
        };
        let (m, n, k) = (int(a.m, "m")?, int(a.n, "n")?, int(a.k, "k")?);
        let (lda, ldb, ldc) = (int(a.lda, "lda")?, int(a.ldb, "ldb")?, int(a.ldc, "ldc")?);
        if a.m == 0 || a.n == 0 {
            return Ok(());
        }
        // SAFETY: `validate` checked that A holds (m-1)·lda+k floats, B (k-1)·ldb+n and C
        // (m-1)·ldc+n with each ld ≥ its row length, which is all row-major sgemm reads or
        // writes; C is exclusively borrowed and disjoint from A and B (checked by the SDK).
        unsafe {
            (self.sgemm)(
                CBLAS_ROW_MAJOR,
                CBLAS_NO_TRANS,
                CBLAS_NO_TRANS,
                m,
                n,
                k,
                a.alpha,
                a.a.as_ptr(),
                lda,
                a.b.as_ptr(),
                ldb,
                a.beta,
                a.c.as_mut_ptr(),
                ldc,
            )
        };
        Ok(())
    }
}
