//! `libvaccel_exec.so`: the exec plugin exported for `VACCEL_PLUGINS`.
#![forbid(unsafe_code)]
vaccel_plugin::export_plugin!(vaccel_plugin_exec::descriptor);
