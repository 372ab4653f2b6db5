//! One module per command: each declares its arguments (`Args`) and runs (`run`).

pub mod classify;
pub mod detect;
pub mod exec;
pub mod noop;
pub mod plugins;
pub mod preprocess;
pub mod sgemm;

use anyhow::{Context, Result};
use std::path::Path;

/// A hint given as decimal or `0x` hex.
pub fn parse_hint(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("{s:?} is not a number (decimal or 0x-hex)"))
}

/// A file's bytes, or an error naming it.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}
