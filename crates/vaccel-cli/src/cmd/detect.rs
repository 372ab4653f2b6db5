//! `vaccel detect`: text regions in an image, with an annotated copy.

use super::read;
use crate::assets;
use anyhow::{Context, Result};
use std::path::PathBuf;
use vaccel::{Runtime, Session};

/// `vaccel detect` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Image file (JPEG or PNG).
    image: PathBuf,
    /// Where to write the annotated PNG.
    #[arg(long)]
    out: PathBuf,
}

/// Run `vaccel detect`.
///
/// # Errors
/// Assets that cannot be fetched, an unreadable image, the op's error.
pub fn run(rt: &Runtime, a: Args) -> Result<()> {
    let (image, out) = (&a.image, &a.out);
    assets::fetch(true)?;
    let sess = Session::new(rt, 0)?;
    let result = sess
        .image_op(vaccel::ImageOp::Detect, &read(image)?)
        .with_context(|| format!("detecting text in {}", image.display()))?;
    std::fs::copy(&result.imgname, out)
        .with_context(|| format!("cannot write {} (from {})", out.display(), result.imgname))?;
    println!(
        "{}: {} text region(s); annotated image: {}",
        image.display(),
        result.detections.len(),
        out.display()
    );
    for d in &result.detections {
        println!(
            "  score {:.3}  box ({}, {}) - ({}, {})",
            d.score, d.x0, d.y0, d.x1, d.y1
        );
    }
    sess.release()?;
    Ok(())
}
