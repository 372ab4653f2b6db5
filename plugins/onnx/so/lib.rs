//! `libvaccel_onnx.so`: the onnx plugin exported for `VACCEL_PLUGINS`.
#![forbid(unsafe_code)]
vaccel_plugin::export_plugin!(vaccel_plugin_onnx::descriptor);
