//! The built-in plugins, in their default priority order, registered the same way by every
//! face (libvaccel, the `vaccel` CLI, the agent) so that `vaccel classify` and C programs
//! work with no configuration. `VACCEL_PLUGINS` entries come before them.

#![forbid(unsafe_code)]

use vaccel::RuntimeBuilder;

/// The onnx plugin's pipeline without vAccel (its public API), for tools and for
/// benchmarks that call ONNX Runtime directly.
pub use vaccel_plugin_onnx::direct as onnx;

/// Register the built-ins: exec, onnx, blas, then the debug plugin noop (last; only used
/// when named or asked for).
pub fn register(builder: RuntimeBuilder) -> RuntimeBuilder {
    builder
        .builtin(vaccel_plugin_exec::descriptor())
        .builtin(vaccel_plugin_onnx::descriptor())
        .builtin(vaccel_plugin_blas::descriptor())
        .builtin(vaccel_plugin_noop::descriptor())
}

/// A runtime from the environment with the built-ins, logging set up from the same
/// configuration.
///
/// # Errors
/// A bad configuration value or a `VACCEL_PLUGINS` entry that cannot be loaded.
pub fn runtime_from_env() -> vaccel::Result<vaccel::Runtime> {
    runtime_with(config_from_env())
}

/// The configuration from the environment, as upstream reads it: a bad value is reported
/// and its default applies (logging is set up first, so the report is seen). Reported at
/// error level, which the default level shows: a setting silently ignored helps no one.
pub fn config_from_env() -> vaccel::Config {
    let (config, bad) = vaccel::Config::from_env_lenient();
    vaccel::logging::init(&config);
    for e in bad {
        tracing::error!("{e}; using the default");
    }
    config
}

/// A runtime with the built-ins and `config` (logging set up from it).
///
/// # Errors
/// A plugin entry of `config` that cannot be loaded.
pub fn runtime_with(config: vaccel::Config) -> vaccel::Result<vaccel::Runtime> {
    vaccel::logging::init(&config);
    register(vaccel::Runtime::builder()).config(config).build()
}

/// Plain row-major `C = A·B` (dense, no leading-dimension padding), for checking results.
pub fn reference_sgemm(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    vaccel_plugin_blas::reference_sgemm(m, n, k, 1.0, a, k, b, n, 0.0, c, n);
}

/// Where the onnx plugin looks for its default models (see `scripts/assets.sh`).
pub fn assets_dir() -> std::path::PathBuf {
    vaccel_plugin_onnx::assets::dir()
}
