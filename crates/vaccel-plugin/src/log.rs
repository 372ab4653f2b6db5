//! Log forwarding for dynamically loaded plugins.
//!
//! A plugin shared object carries its own copy of `tracing`, with no subscriber. At `init`
//! the SDK installs one that hands each formatted line to the runtime's `log` callback, so
//! a plugin author logs with plain `tracing::debug!` and the lines appear in the runtime's
//! log, filtered by `VACCEL_LOG_LEVEL`. Built-in plugins share the runtime's `tracing` and
//! get no callback.

use std::io;
use tracing_subscriber::fmt::MakeWriter;

type LogFn = unsafe extern "C" fn(level: u32, msg: *const u8, len: usize);

struct HostWriter {
    log: LogFn,
    level: u32,
    buf: Vec<u8>,
}

impl io::Write for HostWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for HostWriter {
    fn drop(&mut self) {
        while self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        }
        if !self.buf.is_empty() {
            // SAFETY: `log` is the runtime's callback (ABI contract: callable from any
            // thread while the plugin is loaded); the buffer is valid for the call.
            unsafe { (self.log)(self.level, self.buf.as_ptr(), self.buf.len()) };
        }
    }
}

struct MakeHostWriter {
    log: LogFn,
}

impl<'a> MakeWriter<'a> for MakeHostWriter {
    type Writer = HostWriter;
    fn make_writer(&'a self) -> HostWriter {
        HostWriter {
            log: self.log,
            level: 3,
            buf: Vec::new(),
        }
    }
    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> HostWriter {
        let level = match *meta.level() {
            tracing::Level::ERROR => 1,
            tracing::Level::WARN => 2,
            tracing::Level::INFO => 3,
            _ => 4,
        };
        HostWriter {
            log: self.log,
            level,
            buf: Vec::new(),
        }
    }
}

/// Install the forwarding subscriber unless this copy of `tracing` already has one.
pub(crate) fn forward_to_host(log: LogFn, level: u32) {
    if tracing::dispatcher::has_been_set() {
        return;
    }
    let max = match level {
        0 | 1 => tracing::Level::ERROR,
        2 => tracing::Level::WARN,
        3 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    let subscriber = tracing_subscriber::fmt()
        .with_writer(MakeHostWriter { log })
        .with_ansi(false)
        .without_time()
        .with_level(false)
        .with_max_level(max)
        .finish();
    let _ = tracing::subscriber::set_global_default(subscriber);
}
