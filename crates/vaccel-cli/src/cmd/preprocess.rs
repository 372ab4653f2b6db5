//! `vaccel preprocess`: an image as the classifier's input tensor, for programs that run
//! models on tensors.

use super::read;
use anyhow::{Context, Result};
use std::path::PathBuf;
use vaccel_builtins::onnx;

/// `vaccel preprocess` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Image file (JPEG or PNG).
    image: PathBuf,
    /// Output file (3 × 224 × 224 float32 values).
    #[arg(long)]
    out: PathBuf,
}

/// Run `vaccel preprocess`.
///
/// # Errors
/// An unreadable or bad image; an unwritable output.
pub fn run(a: &Args) -> Result<()> {
    let img = onnx::decode(&read(&a.image)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.image.display()))?;
    let x = onnx::classifier_input(&img).map_err(|e| anyhow::anyhow!("{e}"))?;
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&a.out, bytes).with_context(|| format!("cannot write {}", a.out.display()))?;
    println!(
        "{}: 1x3x{s}x{s} float32 written to {}",
        a.image.display(),
        a.out.display(),
        s = onnx::INPUT_SIDE
    );
    Ok(())
}
