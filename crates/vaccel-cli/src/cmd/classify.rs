//! `vaccel classify`: ImageNet classes of photos, as text or JSON.

use super::read;
use crate::assets;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::Instant;
use vaccel::{OpType, Runtime, Session};

/// `vaccel classify` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Image files (JPEG or PNG); none: the sample photos from the asset cache.
    images: Vec<PathBuf>,
    /// An ONNX classifier to use instead of the default.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Its labels, one per line in class order.
    #[arg(long, requires = "model")]
    labels: Option<PathBuf>,
    /// How many classes to list.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    top: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Also show where the plugin spent the time (decode, preprocess, inference …).
    #[arg(long)]
    stages: bool,
}

/// Run `vaccel classify`.
///
/// # Errors
/// Assets that cannot be fetched, unreadable images, the op's error.
pub fn run(rt: &Runtime, a: Args) -> Result<()> {
    let (images, model, labels, top, json) = (
        &a.images[..],
        a.model.as_deref(),
        a.labels.as_deref(),
        a.top as usize,
        a.json,
    );
    // The default model is needed here only when classification runs in this process (not
    // through a remote plugin, whose agent has its own); the sample photos when none are given.
    let remote = rt
        .plugin_for(0, OpType::ImageClassify)?
        .is_some_and(vaccel::LoadedPlugin::is_remote);
    if (model.is_none() && !remote) || images.is_empty() {
        assets::fetch(true)?;
    }
    let samples: Vec<PathBuf>;
    let images = if images.is_empty() {
        let dir = vaccel_builtins::assets_dir().join("images");
        samples = ["chelsea.png", "coffee.png", "rocket.jpg"]
            .iter()
            .map(|n| dir.join(n))
            .collect();
        &samples[..]
    } else {
        images
    };
    let sess = Session::new(rt, 0)?;
    let mut held = Vec::new();
    if let Some(m) = model {
        held.push(vaccel::Resource::from_path(m, vaccel::ResourceType::Model)?);
    }
    if let Some(l) = labels {
        held.push(vaccel::Resource::from_path(l, vaccel::ResourceType::Data)?);
    }
    for r in &held {
        sess.register(r)?;
    }
    let mut results = Vec::new();
    for path in images {
        let t0 = Instant::now();
        let c = sess
            .image_classify_top(&read(path)?, top)
            .with_context(|| format!("classifying {}", path.display()))?;
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        let stage_ms = |d: &std::time::Duration| d.as_secs_f64() * 1e3;
        if json {
            let mut item = serde_json::json!({
                "image": path.display().to_string(),
                "text": c.text,
                "ms": ms,
                "top": c.top.iter().map(|t| serde_json::json!({
                    "index": t.index, "label": t.label, "score": t.score,
                })).collect::<Vec<_>>(),
            });
            if a.stages {
                item["stages_ms"] = c
                    .timings
                    .iter()
                    .map(|(stage, d)| (stage.clone(), serde_json::json!(stage_ms(d))))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            results.push(item);
        } else {
            println!("{}: {} ({ms:.1} ms)", path.display(), c.text);
            if a.stages {
                let stages: Vec<String> = c
                    .timings
                    .iter()
                    .map(|(stage, d)| format!("{stage} {:.1} ms", stage_ms(d)))
                    .collect();
                println!("  stages: {}", stages.join(", "));
            }
            for t in &c.top {
                println!("  {:>7.3}%  {:>4}  {}", t.score * 100.0, t.index, t.label);
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    for r in &held {
        sess.unregister(r)?;
    }
    sess.release()?;
    Ok(())
}
