//! `vaccel assets`: the asset scripts are compiled into the binary, so an installed
//! `vaccel` fetches and builds the default models without the source tree.

use anyhow::{Context, Result};
use std::process::Command;

const FILES: &[(&str, &str)] = &[
    ("assets.sh", include_str!("../../../scripts/assets.sh")),
    (
        "assets/make.py",
        include_str!("../../../scripts/assets/make.py"),
    ),
    (
        "assets/torch_legacy.py",
        include_str!("../../../scripts/assets/torch_legacy.py"),
    ),
    (
        "assets/efficientnet_to_onnx.py",
        include_str!("../../../scripts/assets/efficientnet_to_onnx.py"),
    ),
    (
        "assets/requirements-assets.txt",
        include_str!("../../../scripts/assets/requirements-assets.txt"),
    ),
    (
        "assets/requirements-tools.txt",
        include_str!("../../../scripts/assets/requirements-tools.txt"),
    ),
];

/// Make sure the default assets exist (quick when they do).
pub fn fetch(quiet: bool) -> Result<()> {
    if vaccel_plugin_onnx_assets_ready() {
        if !quiet {
            eprintln!("vaccel assets: ready in {}", assets_dir().display());
        }
        return Ok(());
    }
    let dir = std::env::temp_dir().join(format!("vaccel-assets-scripts-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("assets"))?;
    for (name, text) in FILES {
        std::fs::write(dir.join(name), text).with_context(|| format!("writing {name}"))?;
    }
    let status = Command::new("bash")
        .arg(dir.join("assets.sh"))
        .status()
        .context("running bash")?;
    let _ = std::fs::remove_dir_all(&dir);
    anyhow::ensure!(
        status.success(),
        "fetching the assets failed (see the messages above)"
    );
    Ok(())
}

fn assets_dir() -> std::path::PathBuf {
    vaccel_builtins::assets_dir()
}

fn vaccel_plugin_onnx_assets_ready() -> bool {
    assets_dir().join(".complete").exists()
}
