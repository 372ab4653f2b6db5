//! `libvaccel_blas.so`: the blas plugin exported for `VACCEL_PLUGINS`.
#![forbid(unsafe_code)]
vaccel_plugin::export_plugin!(vaccel_plugin_blas::descriptor);
