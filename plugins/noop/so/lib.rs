//! `libvaccel_noop.so`: the noop plugin exported for `VACCEL_PLUGINS`.
#![forbid(unsafe_code)]
vaccel_plugin::export_plugin!(vaccel_plugin_noop::descriptor);
