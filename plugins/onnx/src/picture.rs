//! Image decoding and preprocessing: JPEG / PNG bytes → RGB pixels (with limits checked
//! before anything large is allocated) → resized, cropped, normalised NCHW tensors.

use fast_image_resize as fr;
use image::{ColorType, DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use std::io::Cursor;
use std::sync::Mutex;
use vaccel_plugin::PluginError;
use vaccel_plugin::sync::lock;

/// Largest width or height accepted (a 16k × 16k RGB image is 768 MiB).
pub const MAX_SIDE: u32 = 16_384;
/// Most memory the decoder may allocate.
pub const MAX_ALLOC: u64 = 1 << 30;
/// Default for the most pixels an image may have (64 megapixels: 192 MB as RGB, more
/// than any camera photo; `VACCEL_MAX_IMAGE_PIXELS` changes it). Larger images are
/// refused from their header, before anything is decoded: a 746 KB PNG can claim
/// 16000 x 16000 pixels and take seconds of a worker to decode.
pub const DEFAULT_MAX_PIXELS: u64 = 64_000_000;

/// The pixel limit in force: `VACCEL_MAX_IMAGE_PIXELS` when set to a number, else
/// [`DEFAULT_MAX_PIXELS`] (read once).
pub fn max_pixels() -> u64 {
    static MAX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        std::env::var("VACCEL_MAX_IMAGE_PIXELS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_MAX_PIXELS)
    })
}

/// Decoded pixel buffers kept for the next decode, at most this many bytes in all (two 4K
/// photos).
///
/// A 4K photo decodes to ~29 MB. Freeing that and allocating it again on the next call
/// costs ~7 500 page faults (~10 ms) on a worker thread, whose malloc arena hands large
/// blocks back to the kernel; reusing the buffer costs none.
pub const POOL_BYTES: usize = 64 << 20;

static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A decoded RGB image whose buffer goes back to a small pool when dropped.
#[derive(Debug)]
pub struct Picture(RgbImage);

impl std::ops::Deref for Picture {
    type Target = RgbImage;
    fn deref(&self) -> &RgbImage {
        &self.0
    }
}

impl std::ops::DerefMut for Picture {
    fn deref_mut(&mut self) -> &mut RgbImage {
        &mut self.0
    }
}

impl Drop for Picture {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.0).into_raw());
    }
}

/// A buffer of exactly `len` bytes, reusing a pooled one when one is large enough. Its
/// contents are unspecified (the decoder overwrites all of it).
fn take_buffer(len: usize) -> Vec<u8> {
    let reused = {
        let mut pool = lock(&POOL);
        // The smallest buffer that fits, so large ones stay for large images.
        let best = pool
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= len)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        best.map(|i| pool.swap_remove(i))
    };
    // A fresh buffer comes zeroed from the allocator (calloc): its pages cost nothing
    // until the decoder writes them, so an image whose data stops short of what its
    // header claims touches only what it really had.
    let Some(mut buf) = reused else {
        return vec![0; len];
    };
    if buf.len() >= len {
        buf.truncate(len);
    } else {
        buf.resize(len, 0);
    }
    buf
}

fn give_back(buf: Vec<u8>) {
    let mut pool = lock(&POOL);
    let held: usize = pool.iter().map(Vec::capacity).sum();
    if held + buf.capacity() <= POOL_BYTES {
        pool.push(buf);
    } else if let Some((i, _)) = pool
        .iter()
        .enumerate()
        .filter(|(_, b)| b.capacity() < buf.capacity())
        .min_by_key(|(_, b)| b.capacity())
    {
        // Keep the larger buffer if that stays within the bound.
        if held - pool[i].capacity() + buf.capacity() <= POOL_BYTES {
            pool[i] = buf;
        }
    }
}

/// Bytes held by the pool of decoded-image buffers (for tests and diagnostics).
pub fn pooled_bytes() -> usize {
    let pool = lock(&POOL);
    pool.iter().map(Vec::capacity).sum()
}

/// Decode encoded image bytes to RGB. Images that decode to 8-bit RGB (JPEG, RGB PNG) go
/// straight into a reused buffer; others are converted.
///
/// # Errors
/// `EINVAL` naming what is wrong: empty input, unknown format, corrupt or truncated data,
/// dimensions over the limit (refused from the header, before decoding).
pub fn decode(bytes: &[u8]) -> Result<Picture, PluginError> {
    if bytes.is_empty() {
        return Err(PluginError::invalid("image is empty (0 bytes)"));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PluginError::invalid(format!("cannot read image: {e}")))?;
    let Some(format) = reader.format() else {
        return Err(PluginError::invalid(format!(
            "image format not recognised ({} bytes; JPEG and PNG are supported)",
            bytes.len()
        )));
    };
    if format == ImageFormat::Jpeg {
        jpeg_is_whole(bytes).map_err(|e| {
            PluginError::invalid(format!(
                "cannot decode Jpeg image ({} bytes): {e}",
                bytes.len()
            ))
        })?;
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let bad = |e: &dyn std::fmt::Display| {
        PluginError::invalid(format!(
            "cannot decode {format:?} image ({} bytes): {e}",
            bytes.len()
        ))
    };
    let decoder = reader.into_decoder().map_err(|e| bad(&e))?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(PluginError::invalid("image has no pixels"));
    }
    let pixels = u64::from(w) * u64::from(h);
    if pixels > max_pixels() {
        return Err(PluginError::invalid(format!(
            "{format:?} image of {w}x{h} ({pixels} pixels) is over the limit of {} pixels (VACCEL_MAX_IMAGE_PIXELS); refused before decoding",
            max_pixels()
        )));
    }
    let total = decoder.total_bytes();
    if total > MAX_ALLOC {
        return Err(bad(&format_args!(
            "{w}x{h} needs {total} bytes, over the {MAX_ALLOC}-byte limit"
        )));
    }
    let img = if decoder.color_type() == ColorType::Rgb8 {
        let len = usize::try_from(total).map_err(|e| bad(&e))?;
        let mut buf = take_buffer(len);
        if let Err(e) = decoder.read_image(&mut buf) {
            give_back(buf);
            return Err(bad(&e));
        }
        RgbImage::from_raw(w, h, buf).ok_or_else(|| bad(&"decoder size mismatch"))?
    } else {
        DynamicImage::from_decoder(decoder)
            .map_err(|e| bad(&e))?
            .into_rgb8()
    };
    Ok(Picture(img))
}

/// Whether a JPEG's marker structure runs from its start to its end-of-image marker.
/// The decoder fills a JPEG cut short with grey and says nothing; classifying that would
/// be an answer about an image nobody sent. Walks the segments (each length checked
/// against the buffer) and the entropy-coded scans (where `FF` is followed only by a
/// stuffed `00` or a restart marker); bytes after the end-of-image marker are allowed.
///
/// # Errors
/// Where the structure breaks or ends.
fn jpeg_is_whole(b: &[u8]) -> Result<(), String> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return Err("no start-of-image marker".into());
    }
    let cut = |at: usize| {
        format!("truncated: the data ends at byte {at}, before the end-of-image marker")
    };
    let mut i = 2;
    loop {
        if b.get(i) != Some(&0xFF) {
            return Err(match b.get(i) {
                None => cut(b.len()),
                Some(x) => format!("corrupt: byte {i} is {x:#04x} where a marker must start"),
            });
        }
        while b.get(i) == Some(&0xFF) {
            i += 1;
        }
        let Some(&marker) = b.get(i) else {
            return Err(cut(b.len()));
        };
        i += 1;
        match marker {
            0xD9 => return Ok(()),
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let len = match b.get(i..i + 2) {
            Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
            None => return Err(cut(b.len())),
        };
        if len < 2 {
            return Err(format!(
                "corrupt: marker {marker:#04x} at byte {} has length {len}",
                i - 2
            ));
        }
        if i + len > b.len() {
            return Err(cut(b.len()));
        }
        i += len;
        if marker == 0xDA {
            // Entropy-coded data up to the next marker.
            loop {
                match (b.get(i), b.get(i + 1)) {
                    (Some(0xFF), Some(0x00 | 0xD0..=0xD7)) => i += 2,
                    (Some(0xFF), Some(_)) => break,
                    (Some(_), _) => i += 1,
                    (None, _) => return Err(cut(b.len())),
                }
            }
        }
    }
}

/// Resize a region of `src` to `out_w × out_h` (bilinear).
///
/// # Errors
/// `EBACKEND` if the resizer refuses (it should not for valid sizes).
pub fn resize_region(
    src: &RgbImage,
    (left, top, width, height): (f64, f64, f64, f64),
    out_w: u32,
    out_h: u32,
) -> Result<RgbImage, PluginError> {
    let fail = |e: &dyn std::fmt::Display| PluginError::backend(format!("resize failed: {e}"));
    let view =
        fr::images::ImageRef::new(src.width(), src.height(), src.as_raw(), fr::PixelType::U8x3)
            .map_err(|e| fail(&e))?;
    let mut dst = fr::images::Image::new(out_w, out_h, fr::PixelType::U8x3);
    let options = fr::ResizeOptions::new()
        .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear))
        .crop(left, top, width, height);
    fr::Resizer::new()
        .resize(&view, &mut dst, &options)
        .map_err(|e| fail(&e))?;
    RgbImage::from_raw(out_w, out_h, dst.into_vec()).ok_or_else(|| fail(&"buffer size"))
}

/// ImageNet-style classifier input: shorter side to `resize`, centre crop `crop`, then
/// `(x - mean) / std` per channel, NCHW float32.
///
/// # Errors
/// As [`resize_region`].
pub fn classifier_input(
    img: &RgbImage,
    resize: u32,
    crop: u32,
    mean: f32,
    std: f32,
) -> Result<Vec<f32>, PluginError> {
    let (w, h) = (f64::from(img.width()), f64::from(img.height()));
    // The crop of the resized image, mapped back to source pixels: one resize, no copy.
    let scale = f64::from(resize) / w.min(h);
    let side = f64::from(crop) / scale;
    let region = ((w - side) / 2.0, (h - side) / 2.0, side.min(w), side.min(h));
    let cropped = resize_region(img, region, crop, crop)?;
    Ok(to_nchw(&cropped, [mean; 3], [std; 3]))
}

/// Planar float32 NCHW from interleaved RGB: `(x - mean[c]) / std[c]`.
pub fn to_nchw(img: &RgbImage, mean: [f32; 3], std: [f32; 3]) -> Vec<f32> {
    let plane = (img.width() * img.height()) as usize;
    let mut out = vec![0f32; plane * 3];
    for (i, px) in img.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (f32::from(px[c]) - mean[c]) / std[c];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 13) as u8, (x ^ y) as u8])
        });
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
            .unwrap();
        out
    }

    #[test]
    fn a_truncated_image_is_refused_at_every_cut_not_filled_in() {
        let j = jpeg(64, 48);
        decode(&j).unwrap();
        for cut in (3..j.len() - 1).step_by(7) {
            let e = decode(&j[..cut]).unwrap_err();
            assert_eq!(e.code, vaccel_plugin::code::EINVAL, "cut at {cut}");
            assert!(
                e.message.contains("cannot decode"),
                "cut at {cut}: {}",
                e.message
            );
        }
        let e = decode(&j[..j.len() / 2]).unwrap_err();
        assert!(e.message.contains("truncated"), "{}", e.message);
        // Bytes after the end-of-image marker are tolerated, as viewers do.
        let mut trailing = j.clone();
        trailing.extend_from_slice(b"trailing junk");
        decode(&trailing).unwrap();
        // A PNG cut anywhere before its last 12 bytes (the empty IEND chunk, after all
        // the pixel data) is refused too.
        let p = png(64, 48);
        for cut in (8..p.len() - 12).step_by(5) {
            assert!(
                decode(&p[..cut]).is_err(),
                "png cut at {cut} of {}",
                p.len()
            );
        }
    }

    #[test]
    fn decode_refuses_empty_and_garbage() {
        assert!(decode(&[]).unwrap_err().message.contains("empty"));
        assert!(
            decode(b"definitely not an image")
                .unwrap_err()
                .message
                .contains("not recognised")
        );
    }

    #[test]
    fn decode_refuses_truncated_png() {
        let p = png(64, 64);
        let e = decode(&p[..p.len() / 2]).unwrap_err();
        assert_eq!(e.code, vaccel_plugin::code::EINVAL);
        assert!(e.message.contains("cannot decode"), "{}", e.message);
    }

    #[test]
    fn decode_refuses_huge_dimensions_from_the_header() {
        // A valid PNG header claiming 100000 x 100000 pixels, and no data.
        let mut p = png(1, 1);
        p[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        p[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let e = decode(&p).unwrap_err();
        assert!(e.message.contains("cannot decode"), "{}", e.message);
    }

    #[test]
    fn decode_refuses_images_over_the_pixel_limit_from_the_header() {
        // A valid PNG (right CRC) whose header claims 9000 x 8000 pixels: under the
        // per-side limit, over 64 megapixels; its data is one pixel's.
        let mut p = png(1, 1);
        p[16..20].copy_from_slice(&9000u32.to_be_bytes());
        p[20..24].copy_from_slice(&8000u32.to_be_bytes());
        let crc = crc32fast::hash(&p[12..29]);
        p[29..33].copy_from_slice(&crc.to_be_bytes());
        let t0 = std::time::Instant::now();
        let e = decode(&p).unwrap_err();
        assert_eq!(e.code, vaccel_plugin::code::EINVAL);
        assert!(
            e.message
                .contains("9000x8000 (72000000 pixels) is over the limit of 64000000"),
            "{}",
            e.message
        );
        assert!(t0.elapsed() < std::time::Duration::from_millis(100));
        // 7999 x 8000 is under it: refused only for its missing data, after the header.
        p[16..20].copy_from_slice(&7999u32.to_be_bytes());
        let crc = crc32fast::hash(&p[12..29]);
        p[29..33].copy_from_slice(&crc.to_be_bytes());
        let e = decode(&p).unwrap_err();
        assert!(!e.message.contains("over the limit"), "{}", e.message);
    }

    #[test]
    fn reused_buffers_give_the_same_pixels_as_a_fresh_decode() {
        // Large first, so the smaller images land in a reused buffer with stale bytes.
        for (w, h) in [(640, 480), (320, 240), (17, 5), (640, 480)] {
            let bytes = png(w, h);
            let fresh = image::load_from_memory(&bytes).unwrap().into_rgb8();
            let got = decode(&bytes).unwrap();
            assert_eq!(got.dimensions(), (w, h));
            assert!(*got == fresh, "{w}x{h} differs from a fresh decode");
        }
        assert!(pooled_bytes() >= 640 * 480 * 3);
    }

    #[test]
    fn grey_and_rgba_images_are_converted_to_rgb() {
        let grey = image::GrayImage::from_fn(9, 4, |x, _| image::Luma([x as u8 * 20]));
        let rgba = image::RgbaImage::from_fn(9, 4, |x, y| image::Rgba([x as u8, y as u8, 3, 99]));
        for img in [
            image::DynamicImage::from(grey),
            image::DynamicImage::from(rgba),
        ] {
            let mut bytes = Vec::new();
            img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
                .unwrap();
            assert!(*decode(&bytes).unwrap() == img.to_rgb8());
        }
    }

    #[test]
    fn the_pool_stays_within_its_bound() {
        for _ in 0..4 {
            give_back(Vec::with_capacity(POOL_BYTES / 3));
        }
        give_back(Vec::with_capacity(POOL_BYTES / 2));
        assert!(pooled_bytes() <= POOL_BYTES);
        let b = take_buffer(POOL_BYTES / 2);
        assert_eq!(b.len(), POOL_BYTES / 2);
        give_back(b);
        assert!(pooled_bytes() <= POOL_BYTES);
    }

    #[test]
    fn classifier_input_has_nchw_shape_and_range() {
        let img = decode(&png(320, 240)).unwrap();
        let x = classifier_input(&img, 256, 224, 127.0, 128.0).unwrap();
        assert_eq!(x.len(), 3 * 224 * 224);
        assert!(x.iter().all(|v| (-1.0..=1.0).contains(v)));
        // Blue channel is constant 7 everywhere.
        let blue = &x[2 * 224 * 224..];
        assert!(
            blue.iter()
                .all(|v| (v - (7.0 - 127.0) / 128.0).abs() < 1e-3)
        );
    }
}
