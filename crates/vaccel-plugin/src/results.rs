//! What the vision ops find, as it travels from a plugin to the runtime: one `CUSTOM`
//! argument (custom type id [`RESULTS_TYPE_ID`]) holding a checked little-endian encoding
//! that the SDK writes and the runtime decodes once — never text to be parsed back.
//!
//! ```text
//! u32 magic "VRES" | u32 version (1) | u32 nr_records | u32 reserved (0)
//! record: u32 tag | u32 len | payload[len]
//!   1 class:   u32 index | f32 score | label (UTF-8, the rest)
//!   2 box:     f32 score | u32 x0 | u32 y0 | u32 x1 | u32 y1 | label (UTF-8, the rest)
//!   3 pose:    f32 score | then per keypoint: f32 x | f32 y | f32 score
//!   4 mask:    u32 width | u32 height | one class id (u8) per pixel, row-major
//!   5 timing:  u64 nanoseconds | stage name (UTF-8, the rest)
//! ```
//!
//! Decoding checks every length against the buffer and the payload's own layout; an
//! unknown tag, a label that is not UTF-8 or bytes left over are errors, not skipped.
//! A buffer too small for the encoding is reported with the size needed, so the caller
//! can ask again with room ([`Results::encode_into`]).

use std::time::Duration;

/// `custom_type_id` of a results argument ("VRES").
pub const RESULTS_TYPE_ID: u32 = u32::from_le_bytes(*b"VRES");
const VERSION: u32 = 1;
const HEADER: usize = 16;
const RECORD: usize = 8;
/// Most records one encoding may hold.
pub const MAX_RECORDS: usize = 1 << 20;

/// One ranked class.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopClass {
    /// Class index in the model's output.
    pub index: usize,
    /// Probability (0–1).
    pub score: f32,
    /// Class label.
    pub label: String,
}

/// A found object: a box in image pixels, a confidence and (when the model names it) a
/// label.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detection {
    /// Confidence (0–1).
    pub score: f32,
    /// Left.
    pub x0: u32,
    /// Top.
    pub y0: u32,
    /// Right (exclusive).
    pub x1: u32,
    /// Bottom (exclusive).
    pub y1: u32,
    /// What it is (empty when the model does not say).
    pub label: String,
}

/// One point of a pose, in image pixels.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Keypoint {
    /// Column.
    pub x: f32,
    /// Row.
    pub y: f32,
    /// Confidence (0–1).
    pub score: f32,
}

/// One person's (or object's) pose: its keypoints in the model's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pose {
    /// Confidence (0–1).
    pub score: f32,
    /// Keypoints.
    pub keypoints: Vec<Keypoint>,
}

/// A per-pixel class map.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mask {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `width × height` class ids, row-major.
    pub classes: Vec<u8>,
}

/// Everything one op found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Results {
    /// Ranked classes, best first.
    pub classes: Vec<TopClass>,
    /// Boxes.
    pub boxes: Vec<Detection>,
    /// Poses.
    pub poses: Vec<Pose>,
    /// Masks.
    pub masks: Vec<Mask>,
    /// Where the time went, by stage (`decode`, `preprocess`, `inference` …).
    pub timings: Vec<(String, Duration)>,
}

/// The output buffer is too small; the encoding needs `needed` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooSmall {
    /// Bytes the encoding takes.
    pub needed: usize,
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_f32(out: &mut Vec<u8>, v: f32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A length that must fit the encoding's u32 fields.
fn len32(n: usize, what: &str) -> u32 {
    u32::try_from(n).unwrap_or_else(|_| panic!("{what} of {n} bytes does not fit a record"))
}

impl Results {
    fn record_count(&self) -> usize {
        self.classes.len()
            + self.boxes.len()
            + self.poses.len()
            + self.masks.len()
            + self.timings.len()
    }

    /// The encoding.
    ///
    /// # Panics
    /// When a single record would exceed 4 GiB or there are more than [`MAX_RECORDS`].
    pub fn encode(&self) -> Vec<u8> {
        let count = self.record_count();
        assert!(
            count <= MAX_RECORDS,
            "{count} records; at most {MAX_RECORDS}"
        );
        let mut out = Vec::with_capacity(HEADER + count * 32);
        out.extend_from_slice(&RESULTS_TYPE_ID.to_le_bytes());
        put_u32(&mut out, VERSION);
        put_u32(&mut out, len32(count, "record count"));
        put_u32(&mut out, 0);
        let record = |out: &mut Vec<u8>, tag: u32, body: &dyn Fn(&mut Vec<u8>)| {
            put_u32(out, tag);
            let len_at = out.len();
            put_u32(out, 0);
            body(out);
            let len = len32(out.len() - len_at - 4, "record");
            out[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
        };
        for c in &self.classes {
            record(&mut out, 1, &|o| {
                put_u32(o, len32(c.index, "class index"));
                put_f32(o, c.score);
                o.extend_from_slice(c.label.as_bytes());
            });
        }
        for b in &self.boxes {
            record(&mut out, 2, &|o| {
                put_f32(o, b.score);
                for v in [b.x0, b.y0, b.x1, b.y1] {
                    put_u32(o, v);
                }
                o.extend_from_slice(b.label.as_bytes());
            });
        }
        for p in &self.poses {
            record(&mut out, 3, &|o| {
                put_f32(o, p.score);
                for k in &p.keypoints {
                    put_f32(o, k.x);
                    put_f32(o, k.y);
                    put_f32(o, k.score);
                }
            });
        }
        for m in &self.masks {
            record(&mut out, 4, &|o| {
                put_u32(o, m.width);
                put_u32(o, m.height);
                o.extend_from_slice(&m.classes);
            });
        }
        for (stage, t) in &self.timings {
            record(&mut out, 5, &|o| {
                o.extend_from_slice(
                    &u64::try_from(t.as_nanos())
                        .unwrap_or(u64::MAX)
                        .to_le_bytes(),
                );
                o.extend_from_slice(stage.as_bytes());
            });
        }
        out
    }

    /// Write the encoding into `out`; returns its length.
    ///
    /// # Errors
    /// [`TooSmall`] with the size needed when it does not fit (nothing is written).
    pub fn encode_into(&self, out: &mut [u8]) -> Result<usize, TooSmall> {
        let bytes = self.encode();
        let dst = out.get_mut(..bytes.len()).ok_or(TooSmall {
            needed: bytes.len(),
        })?;
        dst.copy_from_slice(&bytes);
        Ok(bytes.len())
    }

    /// Decode, checking every length.
    ///
    /// # Errors
    /// A message naming what is malformed.
    pub fn decode(b: &[u8]) -> Result<Results, String> {
        let mut r = Cursor { b, at: 0 };
        if r.u32("magic")? != RESULTS_TYPE_ID {
            return Err("not encoded results (bad magic)".into());
        }
        let version = r.u32("version")?;
        if version != VERSION {
            return Err(format!(
                "results version {version}; this runtime reads {VERSION}"
            ));
        }
        let count = r.u32("record count")? as usize;
        if r.u32("reserved")? != 0 {
            return Err("the reserved header word is not 0".into());
        }
        // Each record takes at least its 8-byte head: a count the buffer cannot hold is a lie.
        if count > MAX_RECORDS || count > b.len().saturating_sub(HEADER) / RECORD {
            return Err(format!("{count} records declared in {} bytes", b.len()));
        }
        let mut out = Results::default();
        for i in 0..count {
            let tag = r.u32("record tag")?;
            let len = r.u32("record length")? as usize;
            let payload = r.take(len, "record")?;
            let mut p = Cursor { b: payload, at: 0 };
            let what = |e: String| format!("record {i} (tag {tag}): {e}");
            match tag {
                1 => out.classes.push(TopClass {
                    index: p.u32("class index").map_err(what)? as usize,
                    score: p.f32("score").map_err(what)?,
                    label: p.rest_text().map_err(what)?,
                }),
                2 => out.boxes.push(Detection {
                    score: p.f32("score").map_err(what)?,
                    x0: p.u32("x0").map_err(what)?,
                    y0: p.u32("y0").map_err(what)?,
                    x1: p.u32("x1").map_err(what)?,
                    y1: p.u32("y1").map_err(what)?,
                    label: p.rest_text().map_err(what)?,
                }),
                3 => {
                    let score = p.f32("score").map_err(what)?;
                    let points = p.rest();
                    if !points.len().is_multiple_of(12) {
                        return Err(what(format!(
                            "{} bytes of keypoints, not a whole number of 12-byte points",
                            points.len()
                        )));
                    }
                    let keypoints = points
                        .chunks_exact(12)
                        .map(|c| {
                            let f = |i: usize| {
                                f32::from_le_bytes(c[i..i + 4].try_into().expect("4 bytes"))
                            };
                            Keypoint {
                                x: f(0),
                                y: f(4),
                                score: f(8),
                            }
                        })
                        .collect();
                    out.poses.push(Pose { score, keypoints });
                }
                4 => {
                    let width = p.u32("width").map_err(what)?;
                    let height = p.u32("height").map_err(what)?;
                    let classes = p.rest();
                    let need = u64::from(width) * u64::from(height);
                    if classes.len() as u64 != need {
                        return Err(what(format!(
                            "a {width}×{height} mask needs {need} bytes, has {}",
                            classes.len()
                        )));
                    }
                    out.masks.push(Mask {
                        width,
                        height,
                        classes: classes.to_vec(),
                    });
                }
                5 => {
                    let ns = p.u64("nanoseconds").map_err(what)?;
                    out.timings
                        .push((p.rest_text().map_err(what)?, Duration::from_nanos(ns)));
                }
                _ => return Err(what("unknown record tag".into())),
            }
            if !p.rest().is_empty() {
                return Err(what(format!("{} bytes left over", p.rest().len())));
            }
        }
        if r.at != b.len() {
            return Err(format!("{} bytes after the last record", b.len() - r.at));
        }
        Ok(out)
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let s = self
            .at
            .checked_add(n)
            .and_then(|end| self.b.get(self.at..end))
            .ok_or_else(|| {
                format!(
                    "{what} truncated: {n} bytes declared, {} present",
                    self.b.len() - self.at
                )
            })?;
        self.at += n;
        Ok(s)
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }

    fn f32(&mut self, what: &str) -> Result<f32, String> {
        Ok(f32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }

    /// Everything left (consumed).
    fn rest(&mut self) -> &'a [u8] {
        let s = &self.b[self.at..];
        self.at = self.b.len();
        s
    }

    fn rest_text(&mut self) -> Result<String, String> {
        String::from_utf8(self.rest().to_vec()).map_err(|_| "label is not UTF-8".to_string())
    }
}

/// What image classification returns to the caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Classification {
    /// Text for `out_text` (upstream format: `"38.253% Egyptian cat"`).
    pub text: String,
    /// Text for `out_imgname`.
    pub imgname: String,
    /// The best classes, best first (as many as asked for).
    pub top: Vec<TopClass>,
    /// Where the time went, by stage.
    pub timings: Vec<(String, Duration)>,
}

/// What detection / segmentation / pose / depth return.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageOutput {
    /// Text for `out_imgname` (the path of an annotated image, or a message).
    pub imgname: String,
    /// Boxes found (detection).
    pub detections: Vec<Detection>,
    /// Poses found.
    pub poses: Vec<Pose>,
    /// Class maps (segmentation).
    pub masks: Vec<Mask>,
    /// Where the time went, by stage.
    pub timings: Vec<(String, Duration)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Results {
        Results {
            classes: vec![
                TopClass {
                    index: 954,
                    score: 0.94,
                    label: "banana".into(),
                },
                TopClass {
                    index: 1,
                    score: 0.01,
                    label: "a label\twith a tab\nand a newline".into(),
                },
            ],
            boxes: vec![Detection {
                score: 0.5,
                x0: 1,
                y0: 2,
                x1: 30,
                y1: 40,
                label: String::new(),
            }],
            poses: vec![Pose {
                score: 0.8,
                keypoints: vec![Keypoint {
                    x: 1.5,
                    y: 2.5,
                    score: 0.9,
                }],
            }],
            masks: vec![Mask {
                width: 2,
                height: 2,
                classes: vec![0, 1, 1, 0],
            }],
            timings: vec![("inference".into(), Duration::from_micros(1234))],
        }
    }

    #[test]
    fn round_trips_every_kind_labels_with_tabs_and_newlines_included() {
        let r = sample();
        assert_eq!(Results::decode(&r.encode()).unwrap(), r);
        assert_eq!(
            Results::decode(&Results::default().encode()).unwrap(),
            Results::default()
        );
    }

    #[test]
    fn a_short_buffer_is_reported_with_the_size_needed() {
        let r = sample();
        let n = r.encode().len();
        let mut small = vec![0u8; n - 1];
        assert_eq!(r.encode_into(&mut small), Err(TooSmall { needed: n }));
        assert!(small.iter().all(|b| *b == 0), "nothing written");
        let mut room = vec![0u8; n + 10];
        assert_eq!(r.encode_into(&mut room), Ok(n));
        assert_eq!(Results::decode(&room[..n]).unwrap(), r);
    }

    #[test]
    fn every_truncation_and_lie_is_refused_not_skipped() {
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            assert!(Results::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(
            Results::decode(&extra)
                .unwrap_err()
                .contains("after the last record")
        );
        // A record count the buffer cannot hold.
        let mut lie = bytes.clone();
        lie[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            Results::decode(&lie)
                .unwrap_err()
                .contains("records declared")
        );
        // A record length past the end.
        let mut long = bytes.clone();
        long[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Results::decode(&long).unwrap_err().contains("truncated"));
        // An unknown tag.
        let mut tag = bytes.clone();
        tag[16..20].copy_from_slice(&99u32.to_le_bytes());
        assert!(
            Results::decode(&tag)
                .unwrap_err()
                .contains("unknown record tag")
        );
        // A label that is not UTF-8.
        let mut bad = Results {
            classes: vec![TopClass::default()],
            ..Results::default()
        }
        .encode();
        bad.extend_from_slice(&[0xff]);
        let len = u32::from_le_bytes(bad[20..24].try_into().unwrap()) + 1;
        bad[20..24].copy_from_slice(&len.to_le_bytes());
        assert!(Results::decode(&bad).unwrap_err().contains("UTF-8"));
        // A mask whose pixels do not match its size.
        let mut mask = Results {
            masks: vec![Mask {
                width: 3,
                height: 3,
                classes: vec![0; 9],
            }],
            ..Results::default()
        }
        .encode();
        mask[24..28].copy_from_slice(&4u32.to_le_bytes());
        assert!(Results::decode(&mask).unwrap_err().contains("mask needs"));
    }
}
