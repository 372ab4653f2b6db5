//! The decoders of what a guest sends as op arguments: images (JPEG / PNG, with the
//! pixel limit checked from the header), tensors (dtype, dims, data) and TF graph node
//! lists; and of what comes back: vision results (classes, boxes, poses, masks, timings). Each must return a value
//! or an error naming what is wrong, never panic, hang or allocate past its limits.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((which, bytes)) = data.split_first() else {
        return;
    };
    if which % 3 == 2 {
        // What decodes encodes back to the very same bytes.
        if let Ok(r) = vaccel_plugin::Results::decode(bytes) {
            assert_eq!(r.encode(), bytes);
        }
        if let Ok(n) = vaccel_plugin::nodes::decode(bytes) {
            assert_eq!(vaccel_plugin::nodes::encode(&n), bytes);
        }
    } else if which & 1 == 0 {
        if let Ok(img) = vaccel_plugin_onnx::picture::decode(bytes) {
            assert!(u64::from(img.width()) * u64::from(img.height()) <= vaccel_plugin_onnx::picture::max_pixels());
        }
    } else if let Ok(t) = vaccel_plugin::tensor::Tensor::decode(bytes) {
        // What decodes encodes back to the same bytes (but the reserved word at 12..16,
        // which decoding ignores and encoding writes as 0).
        let again = t.encode();
        assert_eq!(again[..12], bytes[..12]);
        assert_eq!(again[16..], bytes[16..t.encoded_len()]);
    }
});
