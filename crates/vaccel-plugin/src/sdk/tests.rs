use super::*;
use crate::abi::{CallContext, ERROR_MESSAGE_CAP, ErrorMessage};
use crate::types::{ArgType, OpSet, plugin_type};

struct Sum;

impl Plugin for Sum {
    fn init(_host: &Host) -> Result<Self> {
        Ok(Sum)
    }
    fn fpga_vadd(&self, _ctx: &Ctx<'_>, a: FpgaVaddArgs<'_>) -> Result<()> {
        for ((c, x), y) in a.c.iter_mut().zip(a.a).zip(a.b) {
            *c = x + y;
        }
        Ok(())
    }
}

crate::declare_plugin! {
    plugin: Sum,
    name: "sum",
    description: "adds vectors",
    plugin_type: plugin_type::FPGA,
    ops: OpSet::of(&[OpType::FpgaVectoradd]),
}

fn call(checked: usize, read: &mut [VaccelArg], write: &mut [VaccelArg]) -> (i32, String) {
    let d = descriptor();
    let mut err = ErrorMessage {
        len: 0,
        bytes: [0; ERROR_MESSAGE_CAP],
        flags: 0,
    };
    // SAFETY: the descriptor's own entry points; no host API needed.
    unsafe { (d.init.unwrap())(std::ptr::null(), &mut err) };
    let ctx = CallContext {
        struct_size: size_of::<CallContext>() as u32,
        session_hint: 0,
        session_id: 1,
        resources: std::ptr::null(),
        nr_resources: 0,
        layouts_checked: checked,
        reserved: [std::ptr::null(); 3],
    };
    // SAFETY: the arrays and their buffers are the caller's live locals.
    let rc = unsafe {
        (d.call.unwrap())(
            &ctx,
            OpType::FpgaVectoradd.raw(),
            read.as_mut_ptr(),
            read.len(),
            write.as_mut_ptr(),
            write.len(),
            &mut err,
        )
    };
    let msg = String::from_utf8_lossy(&err.bytes[..err.len as usize]).into_owned();
    (rc, msg)
}

#[test]
fn a_call_the_runtime_did_not_check_is_checked_by_the_plugin() {
    let (a, b) = ([1f32, 2.0], [10f32, 20.0]);
    let mut c = [0f32; 2];
    let mut r = [
        VaccelArg::from_slice(bytes_of(&a), ArgType::Float32Array),
        VaccelArg::from_slice(bytes_of(&b), ArgType::Float32Array),
    ];
    let mut w = [VaccelArg::from_mut_slice(
        bytes_of_mut(&mut c),
        ArgType::Float32Array,
    )];
    // Unchecked, or checked against other layouts: the plugin checks (and refuses).
    for checked in [0, ops::LAYOUTS ^ 2] {
        let mut bad = [r[0]];
        bad[0].arg_type = ArgType::Int32Array.raw();
        let (rc, msg) = call(checked, &mut bad, &mut w);
        assert_eq!(rc, code::EINVAL, "{msg}");
        assert!(msg.contains("fpga_vectoradd"), "{msg}");
    }
    // Checked against these layouts (as our runtime says after checking): served.
    let (rc, msg) = call(ops::LAYOUTS, &mut r, &mut w);
    assert_eq!(rc, 0, "{msg}");
    assert_eq!(c, [11.0, 22.0]);
}

fn bytes_of(v: &[f32]) -> &[u8] {
    // SAFETY: f32 has no padding; the byte view covers exactly the slice.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast(), size_of_val(v)) }
}

fn bytes_of_mut(v: &mut [f32]) -> &mut [u8] {
    // SAFETY: as above; every byte pattern is a valid f32.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast(), size_of_val(v)) }
}
