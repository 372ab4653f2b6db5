//! Text detection with the PP-OCRv4 detector (DBNet): the image is scaled so its longer
//! side is at most 960 pixels (each side a multiple of 32), normalised to [-1, 1], and the
//! model's probability map is thresholded (0.3); each connected region is a candidate box,
//! kept when its mean probability is at least 0.6, then grown by DBNet's "unclip" distance
//! (area × 1.6 / perimeter) and scaled back to the image. An annotated PNG (boxes drawn in
//! red) is written to the output directory and named in `out_imgname`.

use crate::engine::Engine;
use crate::{assets, picture};
use image::{Rgb, RgbImage};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use vaccel_plugin::{Detection, ImageOutput, PluginError, code};

const MAX_SIDE: u32 = 960;
const THRESHOLD: f32 = 0.3;
const BOX_THRESHOLD: f32 = 0.6;
const UNCLIP_RATIO: f32 = 1.6;
const MIN_PIXELS: usize = 10;

static MODEL: OnceLock<Result<Arc<crate::engine::Model>, PluginError>> = OnceLock::new();

fn model(engine: &Engine) -> Result<Arc<crate::engine::Model>, PluginError> {
    MODEL
        .get_or_init(|| {
            let path = assets::detector();
            let bytes = std::fs::read(&path).map_err(|_| {
                PluginError::new(
                    code::ENOTSUP,
                    assets::missing("text detector (PP-OCRv4)", &path),
                )
            })?;
            let sha: [u8; 32] = Sha256::digest(&bytes).into();
            engine.model_in_file(&sha, &bytes, path, "text detector (PP-OCRv4)")
        })
        .clone()
}

fn round32(v: f32) -> u32 {
    (((v / 32.0).round() as u32).max(1)) * 32
}

/// Boxes from a probability map (`w × h`), in map pixels.
pub fn boxes(prob: &[f32], w: usize, h: usize) -> Vec<Detection> {
    let mut seen = vec![false; prob.len()];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..prob.len() {
        if seen[start] || prob[start] <= THRESHOLD {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        let (mut n, mut sum) = (0usize, 0f32);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
            n += 1;
            sum += prob[i];
            let mut visit = |j: usize| {
                if !seen[j] && prob[j] > THRESHOLD {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        let score = sum / n as f32;
        if n < MIN_PIXELS || score < BOX_THRESHOLD {
            continue;
        }
        let (bw, bh) = ((x1 - x0 + 1) as f32, (y1 - y0 + 1) as f32);
        let d = bw * bh * UNCLIP_RATIO / (2.0 * (bw + bh));
        out.push(Detection {
            score,
            x0: (x0 as f32 - d).max(0.0) as u32,
            y0: (y0 as f32 - d).max(0.0) as u32,
            x1: ((x1 as f32 + 1.0 + d).min(w as f32)) as u32,
            y1: ((y1 as f32 + 1.0 + d).min(h as f32)) as u32,
            label: String::new(),
        });
    }
    out.sort_by_key(|b| (b.y0, b.x0));
    out
}

fn draw(img: &mut RgbImage, b: &Detection) {
    let red = Rgb([230, 30, 30]);
    let (w, h) = img.dimensions();
    for t in 0..2 {
        for x in b.x0..b.x1.min(w) {
            for y in [b.y0 + t, b.y1.saturating_sub(1 + t)] {
                if y < h {
                    img.put_pixel(x, y, red);
                }
            }
        }
        for y in b.y0..b.y1.min(h) {
            for x in [b.x0 + t, b.x1.saturating_sub(1 + t)] {
                if x < w {
                    img.put_pixel(x, y, red);
                }
            }
        }
    }
}

fn save(img: &RgbImage, image_bytes: &[u8]) -> Result<PathBuf, PluginError> {
    let dir = assets::output_dir();
    std::fs::create_dir_all(&dir).map_err(|e| {
        PluginError::new(
            code::EIO,
            format!("cannot create output directory {}: {e}", dir.display()),
        )
    })?;
    let hash = Sha256::digest(image_bytes);
    let name: String = hash[..6].iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("detect-{name}.png"));
    img.save(&path).map_err(|e| {
        PluginError::new(code::EIO, format!("cannot write {}: {e}", path.display()))
    })?;
    Ok(path)
}

/// Detect text lines in `image`.
///
/// # Errors
/// `EINVAL` for bad images; `ENOTSUP` without ONNX Runtime or the detector; `EBACKEND` when
/// the model fails; `EIO` when the annotated image cannot be written.
pub fn detect(image: &[u8]) -> Result<ImageOutput, PluginError> {
    let engine = Engine::get()?;
    let model = model(engine)?;
    let t0 = Instant::now();
    let img = picture::decode(image)?;
    let t1 = Instant::now();
    let (w, h) = img.dimensions();
    let scale = (MAX_SIDE as f32 / w.max(h) as f32).min(1.0);
    let (rw, rh) = (round32(w as f32 * scale), round32(h as f32 * scale));
    let resized = picture::resize_region(&img, (0.0, 0.0, f64::from(w), f64::from(h)), rw, rh)?;
    // The detector was trained on BGR input scaled to [-1, 1].
    let bgr = RgbImage::from_fn(rw, rh, |x, y| {
        let p = resized.get_pixel(x, y);
        Rgb([p[2], p[1], p[0]])
    });
    let input = picture::to_nchw(&bgr, [127.5; 3], [127.5; 3]);
    let t2 = Instant::now();
    let prob = crate::classify::run(&model, None, [1, 3, rh as usize, rw as usize], input)?;
    let t3 = Instant::now();
    if prob.len() != (rw * rh) as usize {
        return Err(PluginError::backend(format!(
            "detector output has {} values, expected a {rw}x{rh} map",
            prob.len()
        )));
    }
    let (sx, sy) = (w as f32 / rw as f32, h as f32 / rh as f32);
    let detections: Vec<Detection> = boxes(&prob, rw as usize, rh as usize)
        .into_iter()
        .map(|b| Detection {
            score: b.score,
            x0: (b.x0 as f32 * sx) as u32,
            y0: (b.y0 as f32 * sy) as u32,
            x1: ((b.x1 as f32 * sx) as u32).min(w),
            y1: ((b.y1 as f32 * sy) as u32).min(h),
            label: String::new(),
        })
        .collect();
    let mut annotated = img;
    for d in &detections {
        draw(&mut annotated, d);
    }
    let path = save(&annotated, image)?;
    tracing::debug!(boxes = detections.len(), output = %path.display(), "text detection");
    Ok(ImageOutput {
        imgname: path.to_string_lossy().into_owned(),
        detections,
        timings: crate::classify::stages([
            ("decode", t0, t1),
            ("preprocess", t1, t2),
            ("inference", t2, t3),
        ]),
        ..ImageOutput::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_finds_separate_regions_and_drops_weak_ones() {
        let (w, h) = (40, 20);
        let mut p = vec![0f32; w * h];
        for y in 2..6 {
            for x in 3..20 {
                p[y * w + x] = 0.9;
            }
        }
        for y in 12..16 {
            for x in 5..30 {
                p[y * w + x] = 0.8;
            }
        }
        // Weak region: above the pixel threshold, below the box threshold.
        for y in 8..10 {
            for x in 30..38 {
                p[y * w + x] = 0.4;
            }
        }
        let b = boxes(&p, w, h);
        assert_eq!(b.len(), 2, "{b:?}");
        assert!(b[0].y0 < b[1].y0);
        assert!(b[0].x0 <= 3 && b[0].x1 >= 20);
        assert!((b[0].score - 0.9).abs() < 1e-5);
    }
}
