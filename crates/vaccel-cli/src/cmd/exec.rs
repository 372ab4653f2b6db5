//! `vaccel exec`: call a function in a shared library through the exec op.

use anyhow::{Context, Result};
use vaccel::{ArgType, Element, Runtime, Session};

/// `vaccel exec` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Path to the shared library.
    library: String,
    /// Function to call.
    symbol: String,
    /// An input argument, `TYPE:VALUE` (types: i8 i16 i32 i64 u8 u16 u32 u64 f32 f64
    /// string); repeat for more.
    #[arg(long = "in", value_name = "TYPE:VALUE")]
    inputs: Vec<String>,
    /// An output argument, `TYPE` or `TYPE:COUNT` (string:BYTES); repeat for more.
    #[arg(long = "out", value_name = "TYPE[:COUNT]")]
    outputs: Vec<String>,
    /// Register the library as a LIB resource and use exec_with_resource.
    #[arg(long)]
    resource: bool,
}

/// One exec argument: its type and bytes.
struct ExecArg {
    ty: ArgType,
    elem: String,
    bytes: Vec<u8>,
}

/// `Some($body)` with `$t` the numeric element type named `$name` (`i8` … `f64`), or
/// `None` for any other name.
macro_rules! for_element {
    ($name:expr, |$t:ident| $body:expr) => {
        for_element!(@ $name, $t, $body, i8 i16 i32 i64 u8 u16 u32 u64 f32 f64)
    };
    (@ $name:expr, $t:ident, $body:expr, $($ty:ident)*) => {
        match $name {
            $(stringify!($ty) => {
                type $t = $ty;
                Some($body)
            })*
            _ => None,
        }
    };
}

fn parse_in(spec: &str) -> Result<ExecArg> {
    let (ty, value) = spec
        .split_once(':')
        .with_context(|| format!("--in {spec:?}: expected TYPE:VALUE, e.g. i32:21"))?;
    let bad = || anyhow::anyhow!("--in {spec:?}: {value:?} is not a valid {ty}");
    let (arg_type, bytes) = if ty == "string" {
        let mut b = value.as_bytes().to_vec();
        b.push(0);
        (ArgType::String, b)
    } else {
        for_element!(ty, |T| value
            .parse::<T>()
            .map(|v| (<T as Element>::ARG, v.to_ne_bytes().to_vec()))
            .map_err(drop))
        .with_context(|| format!("--in {spec:?}: unknown type {ty:?}"))?
        .map_err(|_| bad())?
    };
    Ok(ExecArg {
        ty: arg_type,
        elem: ty.to_string(),
        bytes,
    })
}

fn parse_out(spec: &str) -> Result<ExecArg> {
    let (ty, count) = match spec.split_once(':') {
        Some((t, n)) => (
            t,
            n.parse::<usize>()
                .with_context(|| format!("--out {spec:?}: bad count"))?,
        ),
        None => (spec, if spec == "string" { 256 } else { 1 }),
    };
    let (arg_type, size) = if ty == "string" {
        (ArgType::String, 1)
    } else {
        let (scalar, array, size) = for_element!(ty, |T| (
            <T as Element>::ARG,
            <T as Element>::ARRAY,
            size_of::<T>()
        ))
        .with_context(|| format!("--out {spec:?}: unknown type {ty:?}"))?;
        (if count == 1 { scalar } else { array }, size)
    };
    let bytes = count.checked_mul(size).context("--out: size overflows")?;
    Ok(ExecArg {
        ty: arg_type,
        elem: ty.to_string(),
        bytes: vec![0; bytes],
    })
}

fn show(arg: &ExecArg) -> String {
    let b = &arg.bytes;
    for_element!(arg.elem.as_str(), |T| b
        .chunks_exact(size_of::<T>())
        .map(|c| T::from_ne_bytes(c.try_into().expect("chunk size")).to_string())
        .collect::<Vec<_>>()
        .join(" "))
    .unwrap_or_else(|| {
        let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
        format!("{:?}", String::from_utf8_lossy(&b[..end]))
    })
}

/// Run `vaccel exec`.
///
/// # Errors
/// A bad argument spec; the op's error.
pub fn run(rt: &Runtime, a: Args) -> Result<()> {
    let ins = a
        .inputs
        .iter()
        .map(|s| parse_in(s))
        .collect::<Result<Vec<_>>>()?;
    let mut outs = a
        .outputs
        .iter()
        .map(|s| parse_out(s))
        .collect::<Result<Vec<_>>>()?;
    let sess = Session::new(rt, 0)?;
    let mut read = vaccel::Args::new();
    for arg in &ins {
        read.bytes(&arg.bytes, arg.ty);
    }
    let mut write = vaccel::Args::new();
    for arg in outs.iter_mut() {
        write.bytes_mut(&mut arg.bytes, arg.ty);
    }
    if a.resource {
        let lib = vaccel::Resource::from_path(&a.library, vaccel::ResourceType::Lib)?;
        sess.register(&lib)?;
        sess.exec_with_resource(&lib, &a.symbol, &mut read, &mut write)?;
        sess.unregister(&lib)?;
    } else {
        sess.exec(&a.library, &a.symbol, &mut read, &mut write)?;
    }
    drop(write);
    for (i, arg) in outs.iter().enumerate() {
        println!("out[{i}] {}: {}", arg.elem, show(arg));
    }
    sess.release()?;
    Ok(())
}
