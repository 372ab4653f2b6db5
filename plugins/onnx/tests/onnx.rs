//! The onnx plugin through the runtime: classification on the sample photos, text
//! detection, generic model load / run / unload, and the errors for bad input.

#[path = "../../../crates/vaccel/tests/support/mod.rs"]
mod support;

use vaccel::{
    ArgType, Args, DType, OpType, Resource, ResourceType, Runtime, Session, Tensor, code,
};
use vaccel_plugin_onnx::picture;

fn session() -> Session {
    let rt = Runtime::builder()
        .builtin(vaccel_plugin_onnx::descriptor())
        .build()
        .unwrap();
    Session::new(&rt, 0).unwrap()
}

fn photo(name: &str) -> Vec<u8> {
    std::fs::read(support::assets().join("images").join(name)).unwrap()
}

#[test]
fn classification_matches_the_reference_answers() {
    let s = session();
    let cat = s.image_classify_top(&photo("chelsea.png"), 3).unwrap();
    let labels: Vec<&str> = cat.top.iter().map(|t| t.label.as_str()).collect();
    for want in ["Egyptian cat", "tiger cat", "tabby, tabby cat"] {
        assert!(labels.contains(&want), "{labels:?}");
    }
    assert!(
        cat.text.ends_with(&format!("% {}", labels[0])),
        "{}",
        cat.text
    );
    assert!((cat.top[0].score - 0.383).abs() < 0.02, "{:?}", cat.top[0]);
    assert_eq!(
        s.image_classify(&photo("coffee.png")).unwrap().top[0].label,
        "espresso"
    );
    assert_eq!(
        s.image_classify(&photo("rocket.jpg")).unwrap().top[0].label,
        "missile"
    );
}

#[test]
fn concurrent_callers_share_a_bounded_pool_of_sessions() {
    let s = session();
    let image = photo("chelsea.png");
    let want = s.image_classify(&image).unwrap().text;
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    (0..3)
                        .map(|_| s.image_classify(&image).unwrap().text)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for r in runs {
            for text in r.join().unwrap() {
                assert_eq!(text, want);
            }
        }
    });
    let model = vaccel_plugin_onnx::classify::default_model().unwrap();
    let max = vaccel_plugin_onnx::engine::Engine::get()
        .unwrap()
        .max_sessions();
    let n = model.sessions();
    // Four callers at once on a 25 ms inference: the pool grew past one session (when the
    // machine allows more than one), and never past its bound.
    assert!(n <= max && n >= max.min(2), "{n} sessions, bound {max}");
}

#[test]
fn typed_and_genop_classification_agree() {
    let s = session();
    let img = photo("coffee.png");
    let typed = s.image_classify(&img).unwrap();
    let op = OpType::ImageClassify.raw() as u8;
    let (mut name, mut text) = (vec![0u8; 256], vec![0u8; 256]);
    let mut r = Args::new();
    r.scalar(&op).bytes(&img, ArgType::Buffer);
    let mut w = Args::new();
    w.bytes_mut(&mut name, ArgType::UcharArray)
        .bytes_mut(&mut text, ArgType::UcharArray);
    s.genop(&mut r, &mut w).unwrap();
    drop(w);
    let end = text.iter().position(|b| *b == 0).unwrap();
    assert_eq!(std::str::from_utf8(&text[..end]).unwrap(), typed.text);
}

#[test]
fn detection_finds_the_lines_of_a_page() {
    let s = session();
    let out = s
        .image_op(vaccel::ImageOp::Detect, &photo("page.png"))
        .unwrap();
    assert!(
        (5..=9).contains(&out.detections.len()),
        "{:?}",
        out.detections
    );
    assert!(
        out.detections
            .iter()
            .all(|d| d.x1 > d.x0 && d.y1 > d.y0 && d.score > 0.5)
    );
    assert!(
        std::path::Path::new(&out.imgname).exists(),
        "{}",
        out.imgname
    );
    let e = s
        .image_op(vaccel::ImageOp::Pose, &photo("page.png"))
        .unwrap_err();
    assert_eq!(e.code(), code::ENOTSUP);
    assert!(
        e.to_string()
            .contains("no pose estimation model is installed"),
        "{e}"
    );
}

#[test]
fn bad_images_are_refused_with_reasons() {
    let s = session();
    for (bytes, want) in [
        (&b""[..], "image is empty"),
        (&b"GIF89a not really"[..], "cannot decode"),
        (&b"plain text"[..], "not recognised"),
    ] {
        let e = s.image_classify(bytes).unwrap_err();
        assert_eq!(e.code(), code::EINVAL, "{want}");
        assert!(e.to_string().contains(want), "{e}");
    }
    let png = photo("page.png");
    let e = s.image_classify(&png[..png.len() / 3]).unwrap_err();
    assert_eq!(e.code(), code::EINVAL);
}

fn classifier_input(name: &str) -> Tensor {
    let img = picture::decode(&photo(name)).unwrap();
    let x = picture::classifier_input(&img, 256, 224, 127.0, 128.0).unwrap();
    Tensor::from_f32(vec![1, 3, 224, 224], &x).unwrap()
}

#[test]
fn generic_model_run_gives_the_classifier_logits() {
    let s = session();
    let model = Resource::from_path(
        support::assets().join("models/efficientnet-lite0.onnx"),
        ResourceType::Model,
    )
    .unwrap();
    s.register(&model).unwrap();
    s.model_load(&model).unwrap();
    let out = s
        .model_run(&model, &[classifier_input("coffee.png")], 1)
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].dims, vec![1, 1000]);
    let logits = out[0].to_f32().unwrap();
    let best = logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(best, 967, "espresso is class 967");
    // Wrong input count and shape: EINVAL with the model's words.
    let e = s.model_run(&model, &[], 1).unwrap_err();
    assert_eq!(e.code(), code::EINVAL);
    assert!(
        e.to_string().contains("takes 1 input(s) (input), got 0"),
        "{e}"
    );
    let small = Tensor::from_f32(vec![1, 3, 8, 8], &[0.0; 192]).unwrap();
    assert_eq!(
        s.model_run(&model, &[small], 1).unwrap_err().code(),
        code::EINVAL
    );
    let ints = Tensor::new(DType::I32, vec![1, 3, 224, 224], vec![0; 3 * 224 * 224 * 4]).unwrap();
    assert_eq!(
        s.model_run(&model, &[ints], 1).unwrap_err().code(),
        code::EINVAL
    );
    // More outputs than the model has.
    let e = s
        .model_run(&model, &[classifier_input("coffee.png")], 2)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("2 outputs asked for, the model has 1"),
        "{e}"
    );
    s.model_unload(&model).unwrap();
    assert_eq!(s.model_unload(&model).unwrap_err().code(), code::ENOENT);
    s.unregister(&model).unwrap();
}

#[test]
fn non_onnx_models_are_named_and_refused() {
    let s = session();
    for (bytes, want) in [
        (&b"PK\x03\x04 a torchscript zip"[..], "zip archive"),
        (&b"\x80\x02 a pickle"[..], "pickle"),
        (
            &b"\x1c\x00\x00\x00TFL3 tflite flatbuffer"[..],
            "TensorFlow Lite",
        ),
    ] {
        let m = Resource::from_buffer(bytes.to_vec(), ResourceType::Model, "model.bin").unwrap();
        s.register(&m).unwrap();
        let e = s.model_load(&m).unwrap_err();
        assert_eq!(e.code(), code::ENOTSUP, "{want}");
        assert!(e.to_string().contains(want), "{e}");
        s.unregister(&m).unwrap();
    }
    // A data resource is not a model.
    let d = Resource::from_buffer(vec![1u8], ResourceType::Data, "x").unwrap();
    s.register(&d).unwrap();
    let e = s.model_op(OpType::TorchModelLoad, d.id()).unwrap_err();
    assert!(e.to_string().contains("is not a MODEL resource"), "{e}");
}

#[test]
fn malformed_tensor_args_are_einval() {
    let s = session();
    let model = Resource::from_path(
        support::assets().join("models/efficientnet-lite0.onnx"),
        ResourceType::Model,
    )
    .unwrap();
    s.register(&model).unwrap();
    let good = classifier_input("coffee.png").encode();
    // Claims 1000000 elements in its dims but carries 602112 bytes.
    let mut lying = good.clone();
    lying[16..24].copy_from_slice(&1_000_000i64.to_le_bytes());
    // Dims whose byte size overflows.
    let mut huge = good.clone();
    huge[16..24].copy_from_slice(&i64::MAX.to_le_bytes());
    for (bytes, want) in [
        (lying, "need"),
        (huge, "overflow"),
        (good[..100].to_vec(), "truncated"),
    ] {
        let id = model.id();
        let mut out = vec![0u8; 8192];
        let mut r = Args::new();
        r.scalar(&id)
            .custom(&bytes, vaccel_plugin::tensor::TENSOR_TYPE_ID);
        let mut w = Args::new();
        w.custom_mut(&mut out, vaccel_plugin::tensor::TENSOR_TYPE_ID);
        let e = s.call(OpType::TorchModelRun, &mut r, &mut w).unwrap_err();
        assert_eq!(e.code(), code::EINVAL, "{want}");
        assert!(e.to_string().contains(want), "{want}: {e}");
    }
}
