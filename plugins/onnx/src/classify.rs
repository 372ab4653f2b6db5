//! Image classification: decode, shorter side to 256, centre crop 224, `(x − 127) / 128`,
//! run the model, softmax, top-k. The model is the session's registered MODEL resource if
//! it has one (labels from its DATA resource, one per line), else the default
//! EfficientNet-Lite0 with the ImageNet labels.

use crate::engine::{Chosen, Engine, Model};
use crate::models::Holds;
use crate::{assets, picture};
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use vaccel_plugin::{Classification, Ctx, PluginError, ResourceType, TopClass, code};

struct Default {
    model: Arc<Model>,
    labels: Arc<Vec<String>>,
}

static DEFAULT: OnceLock<Result<Default, PluginError>> = OnceLock::new();

fn parse_labels(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
}

/// The default classifier model (loading it on first use), for benchmarks that call ONNX
/// Runtime directly on the same model.
///
/// # Errors
/// As [`classify`].
pub fn default_model() -> Result<Arc<Model>, PluginError> {
    Ok(default(Engine::get()?)?.model.clone())
}

fn default(engine: &Engine) -> Result<&'static Default, PluginError> {
    DEFAULT
        .get_or_init(|| {
            let path = assets::classifier();
            let bytes = std::fs::read(&path).map_err(|_| {
                PluginError::new(code::ENOTSUP, assets::missing("default classifier", &path))
            })?;
            let sha: [u8; 32] = Sha256::digest(&bytes).into();
            let model = engine.model_in_file(
                &sha,
                &bytes,
                path,
                "default classifier (EfficientNet-Lite0)",
            )?;
            let labels_path = assets::labels();
            let labels = std::fs::read(&labels_path).map_err(|_| {
                PluginError::new(
                    code::ENOTSUP,
                    assets::missing("ImageNet labels", &labels_path),
                )
            })?;
            Ok(Default {
                model,
                labels: Arc::new(parse_labels(&labels)),
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The model and labels a session classifies with, and the bytes of a registered model
/// (to grow its session pool); a registered model is noted as held by the session.
fn pick<'c>(
    engine: &Engine,
    ctx: &Ctx<'c>,
    holds: &Holds,
) -> Result<(Chosen<'c>, Arc<Vec<String>>), PluginError> {
    let registered = ctx
        .resources()
        .find(|r| r.resource_type == Some(ResourceType::Model));
    let Some(res) = registered else {
        let d = default(engine)?;
        let chosen = Chosen {
            model: d.model.clone(),
            bytes: None,
        };
        return Ok((chosen, d.labels.clone()));
    };
    let blob = res
        .blobs()
        .next()
        .ok_or_else(|| PluginError::invalid(format!("model resource {} has no data", res.id)))?;
    let model = engine.model(
        blob.sha256,
        blob.data,
        &format!("model resource {} ({})", res.id, blob.name),
    )?;
    holds.add(ctx.session_id, *blob.sha256);
    let labels = ctx
        .resources()
        .find(|r| r.resource_type == Some(ResourceType::Data))
        .and_then(|r| r.blobs().next())
        .map(|b| parse_labels(b.data))
        .unwrap_or_default();
    let chosen = Chosen {
        model,
        bytes: Some(blob.data),
    };
    Ok((chosen, Arc::new(labels)))
}

/// Softmax of logits (numerically stable).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|x| (x - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// Indices of the `k` largest values, largest first.
pub fn top_k(scores: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    let k = k.min(idx.len());
    if k == 0 {
        return Vec::new();
    }
    idx.select_nth_unstable_by(k - 1, |a, b| scores[*b].total_cmp(&scores[*a]));
    idx.truncate(k);
    idx.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    idx
}

/// Run `model` (whose bytes are `bytes`, when the caller holds them) on one preprocessed
/// NCHW input; returns its first output as float32.
///
/// # Errors
/// `EBACKEND` with ONNX Runtime's message.
pub fn run(
    model: &Model,
    bytes: Option<&[u8]>,
    shape: [usize; 4],
    input: Vec<f32>,
) -> Result<Vec<f32>, PluginError> {
    let tensor = ort::value::Tensor::from_array((shape, input))
        .map_err(|e| PluginError::backend(format!("cannot make input tensor: {e}")))?;
    let mut session = model.session(bytes);
    let outputs = session
        .run(ort::inputs![tensor])
        .map_err(|e| PluginError::backend(format!("model run failed: {e}")))?;
    let (_, data) = outputs[0]
        .try_extract_tensor::<f32>()
        .map_err(|e| PluginError::backend(format!("model output is not float32: {e}")))?;
    Ok(data.to_vec())
}

/// Classes of an ImageNet-1k classifier.
const IMAGENET_CLASSES: usize = 1000;

/// The ImageNet labels from the asset cache (read once), if they are there.
fn imagenet_labels() -> Option<Arc<Vec<String>>> {
    static LABELS: OnceLock<Option<Arc<Vec<String>>>> = OnceLock::new();
    LABELS
        .get_or_init(|| {
            let labels = parse_labels(&std::fs::read(assets::labels()).ok()?);
            (labels.len() == IMAGENET_CLASSES).then(|| Arc::new(labels))
        })
        .clone()
}

/// Named stages' durations, from their start and end instants.
pub fn stages<const N: usize>(s: [(&str, Instant, Instant); N]) -> Vec<(String, Duration)> {
    s.into_iter()
        .map(|(name, from, to)| (name.to_string(), to - from))
        .collect()
}

/// Classify `image`, ranking `k` classes.
///
/// # Errors
/// `EINVAL` for bad images; `ENOTSUP` without ONNX Runtime or a model; `EBACKEND` when
/// the model fails.
pub fn classify(
    ctx: &Ctx<'_>,
    image: &[u8],
    k: usize,
    holds: &Holds,
) -> Result<Classification, PluginError> {
    let engine = Engine::get()?;
    let (chosen, labels) = pick(engine, ctx, holds)?;
    let t0 = Instant::now();
    let img = picture::decode(image)?;
    let t1 = Instant::now();
    let input = picture::classifier_input(&img, 256, 224, 127.0, 128.0)?;
    let t2 = Instant::now();
    let logits = run(&chosen.model, chosen.bytes, [1, 3, 224, 224], input)?;
    let probs = softmax(&logits);
    let t3 = Instant::now();
    // A session's own ImageNet classifier with no labels given: name its classes with the
    // ImageNet labels, as upstream's users expect ("banana", not "class 954").
    let labels = match imagenet_labels() {
        Some(imagenet) if labels.is_empty() && probs.len() == IMAGENET_CLASSES => {
            tracing::info!(
                session = ctx.session_id,
                "the model has {IMAGENET_CLASSES} outputs and no labels were registered: using the ImageNet labels"
            );
            imagenet
        }
        _ => labels,
    };
    let label = |i: usize| {
        labels
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("class {i}"))
    };
    let top: Vec<TopClass> = top_k(&probs, k)
        .into_iter()
        .map(|i| TopClass {
            index: i,
            score: probs[i],
            label: label(i),
        })
        .collect();
    let best = top
        .first()
        .ok_or_else(|| PluginError::backend("model produced no scores"))?;
    let text = format!("{:.3}% {}", best.score * 100.0, best.label);
    let timings = stages([
        ("decode", t0, t1),
        ("preprocess", t1, t2),
        ("inference", t2, t3),
    ]);
    tracing::debug!(?timings, "classified: {text}");
    Ok(Classification {
        text,
        imgname: String::new(),
        top,
        timings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let p = softmax(&[1.0, 3.0, 2.0, 10.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(top_k(&p, 2), vec![3, 1]);
        assert_eq!(top_k(&p, 10).len(), 4);
        assert!(top_k(&p, 0).is_empty());
    }
}
