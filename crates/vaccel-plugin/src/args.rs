//! [`Args`]: an argument array whose buffers are guaranteed valid for a lifetime.
//!
//! The runtime builds op arguments with the safe constructors (each borrows the memory it
//! points at, so the borrow checker keeps it alive and unaliased for the call), or the C
//! API wraps a caller's `struct vaccel_arg *` array with [`Args::from_raw`] without copying.
//! Either way a plugin call receives plain `struct vaccel_arg` arrays.

use crate::abi::VaccelArg;
use crate::types::ArgType;
use std::ffi::{CStr, c_void};
use std::marker::PhantomData;

mod sealed {
    pub trait Sealed {}
}

/// Plain numeric types that map to a vAccel scalar / array arg type. Every bit pattern is a
/// valid value, so they can be read from any properly sized and aligned buffer.
pub trait Element: Copy + Default + Send + Sync + 'static + sealed::Sealed {
    /// Scalar arg type.
    const ARG: ArgType;
    /// Array arg type.
    const ARRAY: ArgType;
}

macro_rules! element {
    ($($t:ty => $s:ident, $arr:ident;)*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const ARG: ArgType = ArgType::$s;
            const ARRAY: ArgType = ArgType::$arr;
        }
    )*};
}

element! {
    i8 => Int8, Int8Array;
    i16 => Int16, Int16Array;
    i32 => Int32, Int32Array;
    i64 => Int64, Int64Array;
    u8 => Uint8, Uint8Array;
    u16 => Uint16, Uint16Array;
    u32 => Uint32, Uint32Array;
    u64 => Uint64, Uint64Array;
    f32 => Float32, Float32Array;
    f64 => Float64, Float64Array;
}

enum Repr<'a> {
    Owned(Vec<VaccelArg>),
    Borrowed(&'a mut [VaccelArg]),
}

/// An array of arguments whose buffers stay valid (and, for output args, exclusively
/// borrowed) for `'a`.
pub struct Args<'a> {
    repr: Repr<'a>,
    _borrow: PhantomData<&'a mut [u8]>,
}

impl std::fmt::Debug for Args<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl Default for Args<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Args<'a> {
    /// No arguments (nothing to allocate or free: ops without arguments stay cheap).
    pub fn new() -> Self {
        Args {
            repr: Repr::Borrowed(&mut []),
            _borrow: PhantomData,
        }
    }

    /// Room for `n` arguments.
    pub fn with_capacity(n: usize) -> Self {
        Args {
            repr: Repr::Owned(Vec::with_capacity(n)),
            _borrow: PhantomData,
        }
    }

    /// View a C array of arguments without copying.
    ///
    /// # Safety
    /// `ptr` must point to `len` initialised `VaccelArg`s (or `len` must be 0), exclusively
    /// borrowed for `'a`, and each arg's `buf` must be valid for reads (and, for output
    /// args, writes) of `size` bytes for `'a`.
    pub unsafe fn from_raw(ptr: *mut VaccelArg, len: usize) -> Args<'a> {
        let slice: &'a mut [VaccelArg] = if len == 0 || ptr.is_null() {
            &mut []
        } else {
            // SAFETY: the caller guarantees `ptr` points to `len` args borrowed for 'a.
            unsafe { std::slice::from_raw_parts_mut(ptr, len) }
        };
        Args {
            repr: Repr::Borrowed(slice),
            _borrow: PhantomData,
        }
    }

    fn push(&mut self, arg: VaccelArg) -> &mut Self {
        match &mut self.repr {
            Repr::Owned(v) => v.push(arg),
            Repr::Borrowed(b) => {
                let mut v = b.to_vec();
                v.push(arg);
                self.repr = Repr::Owned(v);
            }
        }
        self
    }

    /// Add read-only bytes of type `ty`. The plugin must not write to them.
    pub fn bytes(&mut self, data: &'a [u8], ty: ArgType) -> &mut Self {
        self.push(VaccelArg::from_slice(data, ty))
    }

    /// Add writable bytes of type `ty`.
    pub fn bytes_mut(&mut self, data: &'a mut [u8], ty: ArgType) -> &mut Self {
        self.push(VaccelArg::from_mut_slice(data, ty))
    }

    /// Add a custom-typed read-only buffer.
    pub fn custom(&mut self, data: &'a [u8], custom_type_id: u32) -> &mut Self {
        let mut arg = VaccelArg::from_slice(data, ArgType::Custom);
        arg.custom_type_id = custom_type_id;
        self.push(arg)
    }

    /// Add a custom-typed writable buffer.
    pub fn custom_mut(&mut self, data: &'a mut [u8], custom_type_id: u32) -> &mut Self {
        let mut arg = VaccelArg::from_mut_slice(data, ArgType::Custom);
        arg.custom_type_id = custom_type_id;
        self.push(arg)
    }

    /// Add a NUL-terminated string (size includes the NUL).
    pub fn string(&mut self, s: &'a CStr) -> &mut Self {
        self.push(VaccelArg::from_slice(
            s.to_bytes_with_nul(),
            ArgType::String,
        ))
    }

    /// Add a read-only scalar.
    pub fn scalar<T: Element>(&mut self, v: &'a T) -> &mut Self {
        self.push(VaccelArg {
            buf: v as *const T as *mut c_void,
            size: size_of::<T>(),
            arg_type: T::ARG.raw(),
            custom_type_id: 0,
            owned: false,
        })
    }

    /// Add a writable scalar.
    pub fn scalar_mut<T: Element>(&mut self, v: &'a mut T) -> &mut Self {
        self.push(VaccelArg {
            buf: v as *mut T as *mut c_void,
            size: size_of::<T>(),
            arg_type: T::ARG.raw(),
            custom_type_id: 0,
            owned: false,
        })
    }

    /// Add a read-only array.
    pub fn slice<T: Element>(&mut self, v: &'a [T]) -> &mut Self {
        self.push(VaccelArg {
            buf: v.as_ptr() as *mut c_void,
            size: size_of_val(v),
            arg_type: T::ARRAY.raw(),
            custom_type_id: 0,
            owned: false,
        })
    }

    /// Add a writable array.
    pub fn slice_mut<T: Element>(&mut self, v: &'a mut [T]) -> &mut Self {
        self.push(VaccelArg {
            buf: v.as_mut_ptr() as *mut c_void,
            size: size_of_val(v),
            arg_type: T::ARRAY.raw(),
            custom_type_id: 0,
            owned: false,
        })
    }

    /// Append views of `other`'s arguments, borrowing it (and so its buffers) for `'a`.
    pub fn extend_from(&mut self, other: &'a mut Args<'_>) -> &mut Self {
        for arg in other.as_slice() {
            self.push(*arg);
        }
        self
    }

    /// The same arguments, borrowed again (to pass them on while keeping these).
    pub fn reborrow(&mut self) -> Args<'_> {
        Args {
            repr: Repr::Borrowed(self.as_mut_slice()),
            _borrow: PhantomData,
        }
    }

    /// The arguments.
    pub fn as_slice(&self) -> &[VaccelArg] {
        match &self.repr {
            Repr::Owned(v) => v,
            Repr::Borrowed(b) => b,
        }
    }

    /// The arguments, mutable — to hand them to C code of another ABI.
    ///
    /// # Safety
    /// Whoever changes an argument keeps every `buf` valid for its `size` (and writable
    /// for write arguments) for the lifetime of these `Args`.
    pub unsafe fn raw_mut(&mut self) -> &mut [VaccelArg] {
        self.as_mut_slice()
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [VaccelArg] {
        match &mut self.repr {
            Repr::Owned(v) => v,
            Repr::Borrowed(b) => b,
        }
    }

    /// Number of arguments.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of argument `index`.
    pub fn bytes_of(&self, index: usize) -> Option<&[u8]> {
        let arg = self.as_slice().get(index)?;
        if arg.size == 0 || arg.buf.is_null() {
            return Some(&[]);
        }
        // SAFETY: the constructors guarantee every arg's buffer is valid for `size` bytes
        // for 'a, which outlives this borrow of self.
        Some(unsafe { std::slice::from_raw_parts(arg.buf as *const u8, arg.size) })
    }

    /// Split off the first argument: its bytes and type, and the rest as `Args`
    /// (genop's op-type argument and the op's own arguments).
    pub fn split_first(&mut self) -> Option<(Vec<u8>, u32, Args<'_>)> {
        let first = self.bytes_of(0)?.to_vec();
        let ty = self.as_slice()[0].arg_type;
        let rest = &mut self.as_mut_slice()[1..];
        Some((
            first,
            ty,
            Args {
                repr: Repr::Borrowed(rest),
                _borrow: PhantomData,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_record_sizes_and_types() {
        let x = 5i64;
        let v = [1.0f32, 2.0];
        let mut out = [0u8; 8];
        let mut args = Args::new();
        args.scalar(&x)
            .slice(&v)
            .bytes_mut(&mut out, ArgType::UcharArray)
            .string(c"hi");
        let s = args.as_slice();
        assert_eq!(s[0].size, 8);
        assert_eq!(s[0].arg_type, ArgType::Int64.raw());
        assert_eq!(s[1].size, 8);
        assert_eq!(s[1].arg_type, ArgType::Float32Array.raw());
        assert_eq!(s[2].arg_type, ArgType::UcharArray.raw());
        assert_eq!(s[3].size, 3);
        assert_eq!(args.bytes_of(3).unwrap(), b"hi\0");
    }

    #[test]
    fn split_first_views_the_rest() {
        let op = 3u8;
        let y = 7i32;
        let mut args = Args::new();
        args.scalar(&op).scalar(&y);
        let (first, ty, rest) = args.split_first().unwrap();
        assert_eq!(first, vec![3]);
        assert_eq!(ty, ArgType::Uint8.raw());
        assert_eq!(rest.len(), 1);
        assert_eq!(rest.bytes_of(0).unwrap(), &7i32.to_ne_bytes());
    }
}
