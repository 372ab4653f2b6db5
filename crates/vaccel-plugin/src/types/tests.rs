use super::*;

#[test]
fn op_numbers_match_upstream_main() {
    assert_eq!(OpType::Noop.raw(), 0);
    assert_eq!(OpType::ImageClassify.raw(), 3);
    assert_eq!(OpType::TfModelLoad.raw(), 8);
    assert_eq!(OpType::TorchModelRun.raw(), 15);
    assert_eq!(OpType::BlasSgemm.raw(), 17);
    assert_eq!(OpType::Minmax.raw(), 22);
    assert_eq!(OpType::Opencv.raw(), 23);
    assert_eq!(OpType::ALL.len() as u32, OP_MAX);
    for (i, op) in OpType::ALL.iter().enumerate() {
        assert_eq!(op.raw(), i as u32);
        assert_eq!(OpType::from_raw(i as u32), Some(*op));
    }
    assert_eq!(OpType::from_raw(OP_MAX), None);
}

#[test]
fn arg_numbers_match_upstream() {
    assert_eq!(ArgType::Raw.raw(), 0);
    assert_eq!(ArgType::Uint8.raw(), 9);
    assert_eq!(ArgType::Float32Array.raw(), 18);
    assert_eq!(ArgType::String.raw(), 27);
    assert_eq!(ArgType::Custom.raw(), 29);
    assert_eq!(ArgType::ALL.len(), 30);
}

#[test]
fn codes_are_errno_values() {
    assert_eq!(code::EINVAL, 22);
    assert_eq!(code::ENOTSUP, 95);
    assert_eq!(code::ESESS, 104);
    assert_eq!(code::EBACKEND, 71);
    assert_eq!(code::name(80), Some("VACCEL_ELIBBAD"));
    assert_eq!(code::name(9999), None);
}

#[test]
fn opset_tracks_members() {
    let s = OpSet::of(&[OpType::Noop, OpType::BlasSgemm]);
    assert!(s.contains(OpType::Noop));
    assert!(s.contains(OpType::BlasSgemm));
    assert!(!s.contains(OpType::Exec));
    assert_eq!(s.iter().count(), 2);
    assert_eq!(OpSet::all().iter().count(), OP_MAX as usize);
}

#[test]
fn plugin_type_describe_names_bits() {
    assert_eq!(plugin_type::describe(0x9), "CPU|SOFTWARE");
    assert_eq!(plugin_type::describe(0), "NONE");
    assert_eq!(plugin_type::describe(0x10000), "0x10000");
}
