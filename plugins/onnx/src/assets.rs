//! Where the plugin finds ONNX Runtime and its default models: the asset cache that
//! `scripts/assets.sh` fills (`$VACCEL_ASSETS_DIR`, else `$XDG_CACHE_HOME/vaccel/assets/v1`,
//! else `~/.cache/vaccel/assets/v1`), or explicit overrides.

use std::path::{Path, PathBuf};

/// The asset directory.
pub fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os("VACCEL_ASSETS_DIR") {
        return PathBuf::from(d);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("vaccel/assets/v1")
}

/// The ONNX Runtime shared library: `$ORT_DYLIB_PATH`, else the asset cache's.
pub fn onnxruntime() -> PathBuf {
    std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir().join("lib/libonnxruntime.so"))
}

/// The default classifier (EfficientNet-Lite0, converted by the project).
pub fn classifier() -> PathBuf {
    dir().join("models/efficientnet-lite0.onnx")
}

/// The default classifier's labels, one per line, in class order.
pub fn labels() -> PathBuf {
    dir().join("labels/imagenet.txt")
}

/// The default text detector (PP-OCRv4 det, DBNet).
pub fn detector() -> PathBuf {
    dir().join("models/ch_PP-OCRv4_det_infer.onnx")
}

/// Where annotated output images go: `$VACCEL_OUTPUT_DIR`, else a per-user directory in
/// the temporary directory.
pub fn output_dir() -> PathBuf {
    std::env::var_os("VACCEL_OUTPUT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let user = std::env::var("USER").unwrap_or_else(|_| "user".into());
            std::env::temp_dir().join(format!("vaccel-{user}"))
        })
}

/// The message that tells a user how to get a missing asset.
pub fn missing(what: &str, path: &Path) -> String {
    format!(
        "{what} not found at {}; run scripts/assets.sh (or `vaccel assets`) to fetch the default assets, or set VACCEL_ASSETS_DIR",
        path.display()
    )
}
