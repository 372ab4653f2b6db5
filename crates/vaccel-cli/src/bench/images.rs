//! P4 and P8: classification latency per image size, and through vAccel vs ONNX Runtime directly.

use super::median;
use crate::assets;
use crate::cmd::read;
use anyhow::{Context, Result};
use std::time::Instant;
use vaccel::{Runtime, Session};
use vaccel_builtins::onnx;

pub fn run(rt: &Runtime, images: &[std::path::PathBuf], runs: usize) -> Result<()> {
    let sess = Session::new(rt, 0)?;
    for path in images {
        let bytes = read(path)?;
        let (w, h) = onnx::decode(&bytes)
            .map(|i| (i.width(), i.height()))
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let top = sess.image_classify(&bytes)?.text;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t0 = Instant::now();
            sess.image_classify(&bytes)?;
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        println!(
            "p4 {name} {} {w}x{h} {:.3} {top}",
            bytes.len(),
            median(&mut times)
        );
    }
    sess.release()?;
    Ok(())
}

/// The resolutions `bench make-images` writes (width; the height keeps the aspect ratio).
const P4_WIDTHS: [u32; 6] = [160, 320, 640, 1280, 1920, 3840];

pub fn make_images(dir: &std::path::Path, source: Option<&std::path::Path>) -> Result<()> {
    use image::codecs::jpeg::JpegEncoder;
    let source = match source {
        Some(s) => s.to_path_buf(),
        None => {
            assets::fetch(true)?;
            vaccel_builtins::assets_dir().join("images/chelsea.png")
        }
    };
    let img = image::open(&source).with_context(|| format!("reading {}", source.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for w in P4_WIDTHS {
        let h = (u64::from(img.height()) * u64::from(w) / u64::from(img.width())).max(1) as u32;
        let resized = img
            .resize_exact(w, h, image::imageops::FilterType::Triangle)
            .to_rgb8();
        let path = dir.join(format!("photo-{w}x{h}.jpg"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        resized
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, 90))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

pub fn classify(rt: &Runtime, image: Option<&std::path::Path>, runs: usize) -> Result<()> {
    assets::fetch(true)?;
    let path = image.map_or_else(
        || vaccel_builtins::assets_dir().join("images/chelsea.png"),
        Into::into,
    );
    let bytes = read(&path)?;
    let sess = Session::new(rt, 0)?;
    let model = onnx::Classifier::default_model()?;
    let (mut dec, mut pre, mut inf, mut tot, mut via) = (vec![], vec![], vec![], vec![], vec![]);
    let mut answers = (String::new(), String::new());
    // Interleaved, one warm-up of each, so both paths see the same machine.
    for i in 0..=runs {
        let t0 = Instant::now();
        let img = onnx::decode(&bytes)?;
        let t1 = Instant::now();
        let input = onnx::classifier_input(&img)?;
        let t2 = Instant::now();
        let probs = model.probabilities(input)?;
        let t3 = Instant::now();
        let c = sess.image_classify(&bytes)?;
        let t4 = Instant::now();
        if i == 0 {
            let best = onnx::top_k(&probs, 1)[0];
            answers = (
                format!("index {best} ({:.3}%)", probs[best] * 100.0),
                c.text,
            );
            continue;
        }
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        dec.push(ms(t1 - t0));
        pre.push(ms(t2 - t1));
        inf.push(ms(t3 - t2));
        tot.push(ms(t3 - t0));
        via.push(ms(t4 - t3));
    }
    let (d, p, i, t, v) = (
        median(&mut dec),
        median(&mut pre),
        median(&mut inf),
        median(&mut tot),
        median(&mut via),
    );
    println!(
        "P8 classify {} ({} bytes), median of {runs} interleaved runs:",
        path.display(),
        bytes.len()
    );
    println!(
        "  ONNX Runtime directly:  decode {d:.2} ms + preprocess {p:.2} ms + inference {i:.2} ms = {t:.2} ms  [{}]",
        answers.0
    );
    println!("  through vAccel:         {v:.2} ms  [{}]", answers.1);
    println!("  ratio vAccel / direct:  {:.3} (goal <= 1.1)", v / t);
    sess.release()?;
    Ok(())
}
