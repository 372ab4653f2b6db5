//! The plugin's classification pipeline without vAccel — the public API of this crate
//! for tools and baselines: decode an image, prepare the classifier's input tensor, run
//! the default classifier. The `vaccel` CLI uses it to write input tensors and to measure
//! ONNX Runtime called directly next to the same work through vAccel.

use crate::engine::Model;
use crate::{classify, picture};
use std::sync::Arc;
use vaccel_plugin::PluginError;

pub use crate::picture::{Picture, max_pixels};

/// The classifier's input size: shorter side scaled to 256, centre crop of 224.
pub const INPUT_SIDE: usize = 224;

/// Decode an encoded image (JPEG, PNG …) — refused past [`max_pixels`].
///
/// # Errors
/// `EINVAL` naming what is wrong with the image.
pub fn decode(bytes: &[u8]) -> Result<Picture, PluginError> {
    picture::decode(bytes)
}

/// The default classifier's input tensor for a decoded image: NCHW float32, shorter side
/// 256, centre crop 224, `(x − 127) / 128`.
///
/// # Errors
/// An image too small to crop.
pub fn classifier_input(img: &Picture) -> Result<Vec<f32>, PluginError> {
    picture::classifier_input(img, 256, INPUT_SIDE as u32, 127.0, 128.0)
}

/// The default ImageNet classifier (EfficientNet-Lite0 from the asset cache).
pub struct Classifier {
    model: Arc<Model>,
}

impl Classifier {
    /// Load it (shared with the plugin's own cache).
    ///
    /// # Errors
    /// `ENOTSUP` without ONNX Runtime or the model.
    pub fn default_model() -> Result<Self, PluginError> {
        Ok(Classifier {
            model: classify::default_model()?,
        })
    }

    /// Class probabilities for an input from [`classifier_input`].
    ///
    /// # Errors
    /// `EBACKEND` when the model fails.
    pub fn probabilities(&self, input: Vec<f32>) -> Result<Vec<f32>, PluginError> {
        let logits = classify::run(&self.model, None, [1, 3, INPUT_SIDE, INPUT_SIDE], input)?;
        Ok(classify::softmax(&logits))
    }
}

/// The indices of the `k` highest scores, best first.
pub fn top_k(scores: &[f32], k: usize) -> Vec<usize> {
    classify::top_k(scores, k)
}
