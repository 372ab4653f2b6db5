//! Little-endian field encoding with bounds checks: every length and count from the peer is
//! checked against the bytes actually present before anything is allocated.

use crate::error::ProtoError;

/// Appends fields.
#[derive(Debug, Default)]
pub struct Writer {
    /// The encoded bytes.
    pub buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }
    /// `u16`.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// `u32`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// `u64`.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// `i32`.
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// `i64`.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Fixed bytes (no length).
    pub fn raw(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }
    /// `u64` length, then bytes.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u64(v.len() as u64).raw(v)
    }
    /// A string as bytes.
    pub fn str(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }
}

/// Reads fields from a message body.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Read `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn take(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], ProtoError> {
        if n > self.buf.len() as u64 {
            return Err(ProtoError::Truncated {
                what,
                need: n,
                have: self.buf.len(),
            });
        }
        let (a, b) = self.buf.split_at(n as usize);
        self.buf = b;
        Ok(a)
    }

    /// `u16`.
    ///
    /// # Errors
    /// [`ProtoError::Truncated`].
    pub fn u16(&mut self, what: &'static str) -> Result<u16, ProtoError> {
        Ok(u16::from_le_bytes(
            self.take(2, what)?.try_into().expect("2 bytes"),
        ))
    }
    /// `u32`.
    ///
    /// # Errors
    /// [`ProtoError::Truncated`].
    pub fn u32(&mut self, what: &'static str) -> Result<u32, ProtoError> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }
    /// `u64`.
    ///
    /// # Errors
    /// [`ProtoError::Truncated`].
    pub fn u64(&mut self, what: &'static str) -> Result<u64, ProtoError> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }
    /// `i32`.
    ///
    /// # Errors
    /// [`ProtoError::Truncated`].
    pub fn i32(&mut self, what: &'static str) -> Result<i32, ProtoError> {
        Ok(self.u32(what)? as i32)
    }
    /// `i64`.
    ///
    /// # Errors
    /// [`ProtoError::Truncated`].
    pub fn i64(&mut self, what: &'static str) -> Result<i64, ProtoError> {
        Ok(self.u64(what)? as i64)
    }
    /// `N` fixed bytes.
    ///
    /// # Errors
    /// [`ProtoError::Truncated`].
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ProtoError> {
        Ok(self.take(N as u64, what)?.try_into().expect("N bytes"))
    }
    /// Length-prefixed bytes (borrowed).
    ///
    /// # Errors
    /// [`ProtoError::Truncated`] when the length exceeds what is left.
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], ProtoError> {
        let n = self.u64(what)?;
        self.take(n, what)
    }
    /// Length-prefixed UTF-8.
    ///
    /// # Errors
    /// [`ProtoError::Truncated`], [`ProtoError::NotUtf8`].
    pub fn str(&mut self, what: &'static str) -> Result<&'a str, ProtoError> {
        std::str::from_utf8(self.bytes(what)?).map_err(|_| ProtoError::NotUtf8(what))
    }
    /// A `u32` count of items, each at least `min_item` bytes: refused when the bytes left
    /// cannot hold that many (so a hostile count never drives an allocation).
    ///
    /// # Errors
    /// [`ProtoError::Truncated`].
    pub fn count(&mut self, what: &'static str, min_item: usize) -> Result<usize, ProtoError> {
        let n = self.u32(what)? as u64;
        let need = n.saturating_mul(min_item.max(1) as u64);
        if need > self.buf.len() as u64 {
            return Err(ProtoError::Truncated {
                what,
                need,
                have: self.buf.len(),
            });
        }
        Ok(n as usize)
    }
    /// A list count, as [`count`](Self::count), and at most `max`.
    ///
    /// # Errors
    /// As [`count`](Self::count); [`ProtoError::TooMany`] past `max`.
    pub fn count_at_most(
        &mut self,
        what: &'static str,
        min_item: usize,
        max: usize,
    ) -> Result<usize, ProtoError> {
        let n = self.count(what, min_item)?;
        if n > max {
            return Err(ProtoError::TooMany { what, n, max });
        }
        Ok(n)
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }
    /// Check that nothing is left.
    ///
    /// # Errors
    /// [`ProtoError::Trailing`].
    pub fn finish(self) -> Result<(), ProtoError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(ProtoError::Trailing(self.buf.len()))
        }
    }
}
