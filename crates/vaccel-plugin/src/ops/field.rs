//! How one field of a typed op view maps to one `struct vaccel_arg`, both ways: decoding
//! (a plugin receives checked arguments as typed fields) and encoding (the runtime builds
//! the argument arrays from typed fields). The catalogue (`views.rs`) declares each op's
//! fields once; this file says what each field type means on the wire.

use crate::abi::VaccelArg;
use crate::args::Args;
use crate::types::ArgType;
use std::ffi::{CStr, c_void};

/// A field of an op view (see the catalogue in `views.rs`).
///
/// `decode` is called only on arguments that passed [`super::check_args`] against the
/// field's declared type; the SDK has also refused outputs that overlap anything else.
pub trait Field<'a>: Sized {
    /// May be left out (`Option<_>`; only trailing args).
    const OPTIONAL: bool = false;
    /// `custom_type_id` the field carries (CUSTOM fields).
    const CUSTOM_ID: u32 = 0;

    /// The field from its argument (`None`: left out).
    ///
    /// # Safety
    /// `arg` passed `check_shape` for the field's declared type; its buffer is valid for
    /// `'a` (writable and not aliased by any other argument for output fields).
    ///
    /// # Errors
    /// Why the value does not fit the field (a negative dimension, a string that is not
    /// UTF-8), without the op and argument, which the caller adds.
    unsafe fn decode(arg: Option<&'a mut VaccelArg>) -> Result<Self, String>;

    /// The argument viewing this field's data, typed `ty`; nothing for a left-out field.
    /// The pointers stay valid while the field is borrowed.
    fn encode(&mut self, ty: ArgType, out: &mut Vec<VaccelArg>);

    /// After a call: the arguments this field encoded to, as the plugin left them (an
    /// output's reported length).
    fn written(&mut self, _args: &[VaccelArg]) {}
}

fn raw(buf: *const c_void, size: usize, ty: ArgType, custom_type_id: u32) -> VaccelArg {
    VaccelArg {
        buf: buf.cast_mut(),
        size,
        arg_type: ty.raw(),
        custom_type_id,
        owned: false,
    }
}

fn required(arg: Option<&mut VaccelArg>) -> Result<&mut VaccelArg, String> {
    arg.ok_or_else(|| "is missing".to_string())
}

/// # Safety
/// `arg.buf` valid for `arg.size` bytes for `'a`, aligned for `T`, size a multiple of
/// `T`'s.
unsafe fn slice_of<'a, T>(arg: &VaccelArg) -> &'a [T] {
    if arg.size == 0 || arg.buf.is_null() {
        return &[];
    }
    // SAFETY: per the function's contract.
    unsafe { std::slice::from_raw_parts(arg.buf as *const T, arg.size / size_of::<T>()) }
}

/// # Safety
/// As [`slice_of`], and exclusive for `'a`.
unsafe fn slice_of_mut<'a, T>(arg: &VaccelArg) -> &'a mut [T] {
    if arg.size == 0 || arg.buf.is_null() {
        return &mut [];
    }
    // SAFETY: per the function's contract.
    unsafe { std::slice::from_raw_parts_mut(arg.buf as *mut T, arg.size / size_of::<T>()) }
}

/// Scalars by value, arrays by shared or exclusive slice, output scalars by exclusive
/// reference: every numeric element type.
macro_rules! numeric_fields {
    ($($t:ty),*) => {$(
        impl<'a> Field<'a> for $t {
            unsafe fn decode(arg: Option<&'a mut VaccelArg>) -> Result<Self, String> {
                let arg = required(arg)?;
                // SAFETY: check_shape: exactly size_of::<$t>() aligned bytes; every bit
                // pattern is a value.
                Ok(unsafe { (arg.buf as *const $t).read() })
            }
            fn encode(&mut self, ty: ArgType, out: &mut Vec<VaccelArg>) {
                out.push(raw((self as *const $t).cast(), size_of::<$t>(), ty, 0));
            }
        }

        impl<'a> Field<'a> for &'a [$t] {
            unsafe fn decode(arg: Option<&'a mut VaccelArg>) -> Result<Self, String> {
                // SAFETY: check_shape: size a multiple of the element, aligned; valid for 'a.
                Ok(unsafe { slice_of(required(arg)?) })
            }
            fn encode(&mut self, ty: ArgType, out: &mut Vec<VaccelArg>) {
                out.push(raw(self.as_ptr().cast(), size_of_val(*self), ty, 0));
            }
        }

        impl<'a> Field<'a> for &'a mut [$t] {
            unsafe fn decode(arg: Option<&'a mut VaccelArg>) -> Result<Self, String> {
                // SAFETY: as above, and exclusive (outputs are checked disjoint).
                Ok(unsafe { slice_of_mut(required(arg)?) })
            }
            fn encode(&mut self, ty: ArgType, out: &mut Vec<VaccelArg>) {
                out.push(raw(self.as_mut_ptr().cast(), size_of_val(*self), ty, 0));
            }
        }

        impl<'a> Field<'a> for &'a mut $t {
            unsafe fn decode(arg: Option<&'a mut VaccelArg>) -> Result<Self, String> {
                let arg = required(arg)?;
                // SAFETY: check_shape: exactly one aligned element; exclusive (outputs are
                // checked disjoint); valid for 'a.
                Ok(unsafe { &mut *(arg.buf as *mut $t) })
            }
            fn encode(&mut self, ty: ArgType, out: &mut Vec<VaccelArg>) {
                out.push(raw((&raw mut **self).cast(), size_of::<$t>(), ty, 0));
            }
        }
    )*};
}

numeric_fields!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

// A `usize` field travels as an INT64 of the same 8 bytes; values above `i64::MAX`
// arrive as negative and are refused.
const _: () = assert!(size_of::<usize>() == size_of::<i64>());

/// A count or dimension: an INT64 that must not be negative.
impl<'a> Field<'a> for usize {
    unsafe fn decode(arg: Option<&'a mut VaccelArg>) -> Result<Self, String> {
        let arg = required(arg)?;
        // SAFETY: check_shape: 8 aligned bytes (INT64).
        let v = unsafe { (arg.buf as *const i64).read() };
        usize::try_from(v).map_err(|_| format!("is negative ({v})"))
    }
    fn encode(&mut self, ty: ArgType, out: &mut Vec<VaccelArg>) {
        out.push(raw((self as *const usize).cast(), 8, ty, 0));
    }
}

impl<'a, F: Field<'a>> Field<'a> for Option<F> {
    const OPTIONAL: bool = true;
    const CUSTOM_ID: u32 = F::CUSTOM_ID;

    unsafe fn decode(arg: Option<&'a mut VaccelArg>) -> Result<Self, String> {
        match arg {
            None => Ok(None),
            // SAFETY: the caller's contract, passed on.
            Some(a) => unsafe { F::decode(Some(a)) }.map(Some),
        }
    }
    fn encode(&mut self, ty: ArgType, out: &mut Vec<VaccelArg>) {
        if let Some(f) = self {
            f.encode(ty, out);
        }
    }
    fn written(&mut self, args: &[VaccelArg]) {
        if let Some(f) = self {
            f.written(args);
        }
    }
}

/// A STRING argument: UTF-8 text up to the first NUL (upstream programs pass sizes with
/// and without the terminator). Encoded with its NUL, so C plugins can read it as a C
/// string.
#[derive(Clone, Copy, Debug)]
pub struct Text<'a> {
    text: &'a str,
    /// The argument's bytes as given (the text, possibly its NUL).
    wire: &'a [u8],
}

impl<'a> Text<'a> {
    /// From a C string.
    ///
    /// # Errors
    /// When it is empty or not UTF-8.
    pub fn new(s: &'a CStr) -> Result<Self, String> {
        Self::from_wire(s.to_bytes_with_nul())
    }

    fn from_wire(wire: &'a [u8]) -> Result<Self, String> {
        let b = wire
            .iter()
            .position(|c| *c == 0)
            .map_or(wire, |n| &wire[..n]);
        if b.is_empty() {
            return Err("is empty".into());
        }
        let text = std::str::from_utf8(b).map_err(|_| "is not UTF-8".to_string())?;
        Ok(Text { text, wire })
    }

    /// The text.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The text as a C string: the caller's bytes when they hold the NUL, else a copy
    /// (a C function must never read past the argument).
    pub fn as_c_str(&self) -> std::borrow::Cow<'a, CStr> {
        match CStr::from_bytes_until_nul(self.wire) {
            Ok(c) => std::borrow::Cow::Borrowed(c),
            // `text` holds no NUL (it ends at the first one) and is not empty.
            Err(_) => std::borrow::Cow::Owned(
                std::ffi::CString::new(self.text).expect("text stops at the first NUL"),
            ),
        }
    }
}

impl std::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text)
    }
}

impl<'a> Field<'a> for Text<'a> {
    unsafe fn decode(arg: Option<&'a mut VaccelArg>) -> Result<Self, String> {
        // SAFETY: valid for its size for 'a (STRING has one-byte elements).
        Text::from_wire(unsafe { slice_of::<u8>(required(arg)?) })
    }
    fn encode(&mut self, ty: ArgType, out: &mut Vec<VaccelArg>) {
        out.push(raw(self.wire.as_ptr().cast(), self.wire.len(), ty, 0));
    }
}

/// A read-only CUSTOM argument carrying custom type id `ID` (an encoded tensor …).
#[derive(Clone, Copy, Debug)]
pub struct Blob<'a, const ID: u32>(pub &'a [u8]);

impl<'a, const ID: u32> Field<'a> for Blob<'a, ID> {
    const CUSTOM_ID: u32 = ID;

    unsafe fn decode(arg: Option<&'a mut VaccelArg>) -> Result<Self, String> {
        let arg = required(arg)?;
        custom_id(arg, ID)?;
        // SAFETY: valid for its size for 'a (CUSTOM: bytes).
        Ok(Blob(unsafe { slice_of::<u8>(arg) }))
    }
    fn encode(&mut self, ty: ArgType, out: &mut Vec<VaccelArg>) {
        out.push(raw(self.0.as_ptr().cast(), self.0.len(), ty, ID));
    }
}

fn custom_id(arg: &VaccelArg, id: u32) -> Result<(), String> {
    if arg.custom_type_id == id {
        return Ok(());
    }
    Err(format!(
        "must carry custom type id {id:#x} ({}), has {:#x}",
        String::from_utf8_lossy(&id.to_le_bytes()),
        arg.custom_type_id
    ))
}

/// An output buffer a plugin fills with an encoding (custom type id `ID`: results,
/// tensors) and whose length it reports; a too-small buffer comes back with the size
/// needed, so the caller can ask again with room.
#[derive(Debug)]
pub struct Out<'a, const ID: u32 = { crate::results::RESULTS_TYPE_ID }> {
    repr: OutRepr<'a>,
}

#[derive(Debug)]
enum OutRepr<'a> {
    /// The plugin's side: the caller's argument.
    Arg(&'a mut VaccelArg),
    /// The caller's side: its buffer and the length reported.
    Buf { buf: &'a mut [u8], len: usize },
}

impl<'a, const ID: u32> Out<'a, ID> {
    /// A caller's buffer to receive an output.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Out {
            repr: OutRepr::Buf { buf, len: 0 },
        }
    }

    /// Bytes of room.
    pub fn capacity(&self) -> usize {
        match &self.repr {
            OutRepr::Arg(a) => a.size,
            OutRepr::Buf { buf, .. } => buf.len(),
        }
    }

    /// Store `data`, or say how much room it needs.
    ///
    /// # Errors
    /// [`crate::results::TooSmall`] with `data.len()` (also reported in the argument's
    /// size); nothing is written then.
    pub fn set(&mut self, data: &[u8]) -> Result<(), crate::results::TooSmall> {
        self.set_with(data.len(), |dst| dst.copy_from_slice(data))
    }

    /// Store `len` bytes produced by `fill` (given exactly `len` bytes of the buffer), or
    /// say how much room they need.
    ///
    /// # Errors
    /// As [`Out::set`].
    pub fn set_with(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(), crate::results::TooSmall> {
        let fits = len <= self.capacity();
        match &mut self.repr {
            OutRepr::Arg(a) => {
                if fits && len > 0 {
                    // SAFETY: the argument's buffer is valid, writable and exclusive for
                    // its `size` ≥ `len` bytes (Field::decode's contract).
                    fill(unsafe { std::slice::from_raw_parts_mut(a.buf.cast::<u8>(), len) });
                }
                a.size = len;
            }
            OutRepr::Buf { buf, len: reported } => {
                if fits {
                    fill(&mut buf[..len]);
                }
                *reported = len;
            }
        }
        if fits {
            Ok(())
        } else {
            Err(crate::results::TooSmall { needed: len })
        }
    }

    /// The caller's side, after the call: the bytes written, or `Err(needed)` when the
    /// plugin reported more than the buffer holds.
    pub fn written_bytes(&self) -> Result<&[u8], usize> {
        match &self.repr {
            OutRepr::Arg(_) => Ok(&[]),
            OutRepr::Buf { buf, len } if *len <= buf.len() => Ok(&buf[..*len]),
            OutRepr::Buf { len, .. } => Err(*len),
        }
    }
}

impl<'a, const ID: u32> Field<'a> for Out<'a, ID> {
    const CUSTOM_ID: u32 = ID;

    unsafe fn decode(arg: Option<&'a mut VaccelArg>) -> Result<Self, String> {
        let arg = required(arg)?;
        custom_id(arg, ID)?;
        Ok(Out {
            repr: OutRepr::Arg(arg),
        })
    }
    fn encode(&mut self, ty: ArgType, out: &mut Vec<VaccelArg>) {
        match &mut self.repr {
            OutRepr::Arg(a) => out.push(**a),
            OutRepr::Buf { buf, .. } => {
                out.push(raw(buf.as_mut_ptr().cast_const().cast(), buf.len(), ty, ID))
            }
        }
    }
    fn written(&mut self, args: &[VaccelArg]) {
        if let (OutRepr::Buf { len, .. }, [arg]) = (&mut self.repr, args) {
            *len = arg.size;
        }
    }
}

/// The variable tail of an op: any arguments (exec's function arguments), or a list of
/// one field type (model run's tensors).
pub trait Tail<'a>: Sized {
    /// The tail from the arguments after the fixed ones.
    ///
    /// # Safety
    /// As [`Field::decode`], for every argument.
    ///
    /// # Errors
    /// The position within the tail and why that argument does not fit.
    unsafe fn decode(rest: &'a mut [VaccelArg], ty: ArgType) -> Result<Self, (usize, String)>;
    /// Append the tail's arguments, typed `ty` where the tail has one type.
    fn encode(&mut self, ty: ArgType, out: &mut Vec<VaccelArg>);
    /// After a call, as [`Field::written`].
    fn written(&mut self, _args: &[VaccelArg]) {}
}

/// Any arguments, passed through as they are.
impl<'a> Tail<'a> for Args<'a> {
    unsafe fn decode(rest: &'a mut [VaccelArg], _ty: ArgType) -> Result<Self, (usize, String)> {
        // SAFETY: every argument's buffer is valid for 'a (the caller's contract).
        Ok(unsafe { Args::from_raw(rest.as_mut_ptr(), rest.len()) })
    }
    fn encode(&mut self, _ty: ArgType, out: &mut Vec<VaccelArg>) {
        out.extend_from_slice(self.as_slice());
    }
}

/// Arguments of one field type.
impl<'a, F: Field<'a>> Tail<'a> for Vec<F> {
    unsafe fn decode(rest: &'a mut [VaccelArg], ty: ArgType) -> Result<Self, (usize, String)> {
        rest.iter_mut()
            .enumerate()
            .map(|(i, a)| {
                // The fixed arguments' types were checked against the layout; a tail's
                // are checked here.
                if a.arg_type != ty.raw() {
                    let got = ArgType::describe_raw(a.arg_type);
                    return Err((i, format!("must be {ty}, got {got}")));
                }
                super::check_shape(a, ty).map_err(|m| (i, m))?;
                // SAFETY: shape checked; the caller's contract for the buffer.
                unsafe { F::decode(Some(a)) }.map_err(|m| (i, m))
            })
            .collect()
    }
    fn encode(&mut self, ty: ArgType, out: &mut Vec<VaccelArg>) {
        for f in self {
            f.encode(ty, out);
        }
    }
    fn written(&mut self, args: &[VaccelArg]) {
        for (f, a) in self.iter_mut().zip(args) {
            f.written(std::slice::from_ref(a));
        }
    }
}
