//! A session's own ImageNet classifier without labels is named with the ImageNet labels.
//! In a test binary of its own: loading a model while tests/onnx.rs measures concurrent
//! callers would skew that measurement.

#[path = "../../../crates/vaccel/tests/support/mod.rs"]
mod support;

use vaccel::{Resource, ResourceType, Runtime, Session};

#[test]
fn a_registered_imagenet_model_without_labels_names_its_classes() {
    let rt = Runtime::builder()
        .builtin(vaccel_plugin_onnx::descriptor())
        .build()
        .unwrap();
    let s = Session::new(&rt, 0).unwrap();
    // The default classifier's file, registered as the session's own model, no labels.
    let model = Resource::from_path(
        support::assets().join("models/efficientnet-lite0.onnx"),
        ResourceType::Model,
    )
    .unwrap();
    s.register(&model).unwrap();
    let photo = std::fs::read(support::assets().join("images/coffee.png")).unwrap();
    let c = s.image_classify(&photo).unwrap();
    assert!(c.text.ends_with("% espresso"), "{}", c.text);
    assert_eq!(c.top[0].label, "espresso");
}
