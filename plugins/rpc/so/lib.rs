//! `libvaccel_rpc.so`: the rpc plugin exported for `VACCEL_PLUGINS`.
#![forbid(unsafe_code)]
vaccel_plugin::export_plugin!(vaccel_plugin_rpc::descriptor);
