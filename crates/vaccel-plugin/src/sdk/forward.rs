//! A transport's view of a call: every op as its id and argument bytes, never decoded.

use super::{PluginError, Result};
use crate::abi::VaccelArg;

/// An op's arguments as a transport sees them: types and bytes, copied in and out without
/// ever forming references into the caller's buffers (which may overlap).
pub struct ForwardArgs<'a> {
    read: &'a mut [VaccelArg],
    write: &'a mut [VaccelArg],
}

/// An argument's type, custom type id and size.
#[derive(Debug, Clone, Copy)]
pub struct ArgInfo {
    /// `vaccel_arg_type_t`.
    pub arg_type: u32,
    /// Custom type id.
    pub custom_type_id: u32,
    /// Bytes (for write args: the capacity).
    pub size: usize,
}

fn info(a: &VaccelArg) -> ArgInfo {
    ArgInfo {
        arg_type: a.arg_type,
        custom_type_id: a.custom_type_id,
        size: a.size,
    }
}

fn copy_out(a: &VaccelArg) -> Vec<u8> {
    let mut v = vec![0u8; a.size];
    if a.size > 0 && !a.buf.is_null() {
        // SAFETY: the caller's buffer is valid for `size` bytes for the call (ABI
        // contract); copying through raw pointers forms no reference to it.
        unsafe { std::ptr::copy(a.buf as *const u8, v.as_mut_ptr(), a.size) };
    }
    v
}

fn borrow(a: &VaccelArg) -> &[u8] {
    if a.size == 0 || a.buf.is_null() {
        return &[];
    }
    // SAFETY: the caller's buffer is valid for `size` bytes for the whole call (ABI
    // contract) and the caller is blocked in it; the slice lives no longer than the
    // `ForwardArgs` borrow, and results are stored (`set_write`) only through `&mut self`,
    // so no write can happen while a slice from here exists.
    unsafe { std::slice::from_raw_parts(a.buf as *const u8, a.size) }
}

impl<'a> ForwardArgs<'a> {
    pub(super) fn new(read: &'a mut [VaccelArg], write: &'a mut [VaccelArg]) -> Self {
        ForwardArgs { read, write }
    }

    /// Read arg `i`'s bytes, borrowed from the caller (no copy), e.g. to send them.
    pub fn read_slice(&self, i: usize) -> &[u8] {
        self.read.get(i).map_or(&[], borrow)
    }
    /// Write arg `i`'s current bytes, borrowed from the caller (in/out args carry input).
    pub fn write_slice(&self, i: usize) -> &[u8] {
        self.write.get(i).map_or(&[], borrow)
    }
    /// Read args.
    pub fn read(&self) -> Vec<ArgInfo> {
        self.read.iter().map(info).collect()
    }
    /// Write args.
    pub fn write(&self) -> Vec<ArgInfo> {
        self.write.iter().map(info).collect()
    }
    /// A copy of read arg `i`'s bytes.
    pub fn read_bytes(&self, i: usize) -> Vec<u8> {
        self.read.get(i).map(copy_out).unwrap_or_default()
    }
    /// A copy of write arg `i`'s current bytes (in/out args carry input there).
    pub fn write_bytes(&self, i: usize) -> Vec<u8> {
        self.write.get(i).map(copy_out).unwrap_or_default()
    }
    /// Store `data` as write arg `i`'s result (its size becomes `data.len()`).
    ///
    /// # Errors
    /// `EINVAL` when there is no such arg or the data does not fit its capacity.
    pub fn set_write(&mut self, i: usize, data: &[u8]) -> Result<()> {
        let a = self
            .write
            .get_mut(i)
            .ok_or_else(|| PluginError::invalid(format!("no write arg {i}")))?;
        if data.len() > a.size || (a.buf.is_null() && !data.is_empty()) {
            return Err(PluginError::invalid(format!(
                "write arg {i}: result of {} bytes does not fit its {} bytes",
                data.len(),
                a.size
            )));
        }
        if !data.is_empty() {
            // SAFETY: the buffer is valid for `size` ≥ `data.len()` bytes (ABI contract);
            // raw copy, no reference formed.
            unsafe { std::ptr::copy(data.as_ptr(), a.buf as *mut u8, data.len()) };
        }
        a.size = data.len();
        Ok(())
    }
}
