//! The runtime's one error type and its mapping to the errno-valued `VACCEL_E*` codes.

use std::path::PathBuf;
use vaccel_plugin::host::DescriptorError;
use vaccel_plugin::ops::ArgError;
use vaccel_plugin::{LoadError, OpType, code};

/// Everything that can go wrong in the runtime. Messages say what was wrong and with which
/// value; [`Error::code`] gives the C API's code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No loaded plugin implements the op.
    #[error("{op}: no loaded plugin implements it")]
    NoPlugin {
        /// The op.
        op: OpType,
    },
    /// The runtime cannot carry this op to plugins yet.
    #[error("{op}: {reason}")]
    Unsupported {
        /// The op.
        op: OpType,
        /// Why.
        reason: &'static str,
    },
    /// Genop named an op id that does not exist.
    #[error("genop: unknown op type {id}")]
    UnknownOp {
        /// The id given.
        id: u64,
    },
    /// No loaded plugin matches a session's hint.
    #[error("no loaded plugin matches session hint {hint:#x} ({names}); loaded: {loaded}")]
    NoPluginForHint {
        /// The hint.
        hint: u32,
        /// The hint's bit names.
        names: String,
        /// Loaded plugins and their types.
        loaded: String,
    },
    /// A plugin returned an error.
    #[error("{what} failed in plugin {plugin}: {message}")]
    Plugin {
        /// Plugin name.
        plugin: String,
        /// The op or hook.
        what: String,
        /// The plugin's code.
        code: i32,
        /// The plugin's message.
        message: String,
    },
    /// A transport plugin (rpc) reported an error from the remote side or the connection.
    #[error("{message}")]
    Remote {
        /// The transport plugin.
        plugin: String,
        /// The code.
        code: i32,
        /// The remote message, as the agent reported it.
        message: String,
    },
    /// Arguments do not fit the op's layout.
    #[error(transparent)]
    Args(#[from] ArgError),
    /// Genop's first argument is missing or malformed.
    #[error("genop: {0}")]
    GenopOpArg(String),
    /// A plugin file could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A built-in plugin's descriptor was refused.
    #[error("built-in plugin: {0}")]
    Descriptor(#[from] DescriptorError),
    /// A plugin's `init` failed.
    #[error("plugin {plugin} failed to initialise: {message}")]
    PluginInit {
        /// Plugin name.
        plugin: String,
        /// Its code.
        code: i32,
        /// Its message.
        message: String,
    },
    /// A `VACCEL_PLUGINS` entry names no file and no built-in plugin.
    #[error("VACCEL_PLUGINS entry {entry:?}: {reason}")]
    PluginEntry {
        /// The entry.
        entry: String,
        /// Why it was refused.
        reason: String,
    },
    /// A plugin of that name is loaded already.
    #[error("plugin {entry:?}: a plugin named {name:?} is already loaded from {from}")]
    PluginExists {
        /// The entry (a path or a built-in's name).
        entry: String,
        /// The plugin's name.
        name: String,
        /// Where the loaded one came from.
        from: String,
    },
    /// A configuration variable has a bad value.
    #[error("{var}={value:?}: {reason}")]
    Config {
        /// Variable name.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is expected.
        reason: String,
    },
    /// A resource file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A resource directory holds no files.
    #[error("{path}: directory holds no files")]
    EmptyDirectory {
        /// The path.
        path: PathBuf,
    },
    /// A resource was given no paths.
    #[error("a resource needs at least one path")]
    NoPaths,
    /// The resource is already registered with the session.
    #[error("resource {resource} is already registered with session {session}")]
    AlreadyRegistered {
        /// Resource id.
        resource: i64,
        /// Session id.
        session: i64,
    },
    /// The resource is not registered with the session.
    #[error("resource {resource} is not registered with session {session}")]
    NotRegistered {
        /// Resource id.
        resource: i64,
        /// Session id.
        session: i64,
    },
    /// The resource is still registered with sessions and cannot be released.
    #[error("resource {resource} is still registered with session(s) {sessions:?}")]
    ResourceBusy {
        /// Resource id.
        resource: i64,
        /// Sessions holding it.
        sessions: Vec<i64>,
    },
    /// The session was already released.
    #[error("session {0} has been released")]
    SessionReleased(i64),
    /// An object the caller named does not exist (or was released).
    #[error("{what} {id} not found (never created, or already released)")]
    NotFound {
        /// `"session"` or `"resource"`.
        what: &'static str,
        /// The id given.
        id: i64,
    },
    /// This library does not do what was asked (the message says what). `ENOTSUP`.
    #[error("{0}")]
    NotOffered(String),
    /// A URL resource could not be downloaded. `EIO`.
    #[error("cannot download {url}: {reason}")]
    Download {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Something exists already (the message says what). `EEXIST`.
    #[error("{0}")]
    Exists(String),
    /// An index or range outside what exists. `ERANGE`.
    #[error("{0}")]
    OutOfRange(String),
    /// A search found nothing (the message says what was looked for). `ENOENT`.
    #[error("{0}")]
    NoneFound(String),
    /// A caller-provided value is invalid.
    #[error("{0}")]
    Invalid(String),
    /// A plugin returned something malformed.
    #[error("{0}")]
    Backend(String),
    /// A size computed from caller data overflows.
    #[error("{0}: size overflows")]
    Overflow(String),
}

impl Error {
    /// The `VACCEL_E*` code for this error.
    pub fn code(&self) -> i32 {
        match self {
            Error::NoPlugin { .. }
            | Error::Unsupported { .. }
            | Error::UnknownOp { .. }
            | Error::NoPluginForHint { .. }
            | Error::NotOffered(_) => code::ENOTSUP,
            Error::Plugin { code, .. }
            | Error::PluginInit { code, .. }
            | Error::Remote { code, .. } => {
                if *code == code::OK {
                    code::EBACKEND
                } else {
                    *code
                }
            }
            Error::Args(_)
            | Error::GenopOpArg(_)
            | Error::Config { .. }
            | Error::EmptyDirectory { .. }
            | Error::NoPaths
            | Error::SessionReleased(_)
            | Error::Invalid(_)
            | Error::Overflow(_) => code::EINVAL,
            Error::Load(e) => e.code(),
            Error::Descriptor(_) => code::ELIBBAD,
            Error::PluginExists { .. } => code::EEXIST,
            Error::PluginEntry { .. }
            | Error::NotRegistered { .. }
            | Error::NotFound { .. }
            | Error::NoneFound(_) => code::ENOENT,
            Error::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => code::ENOENT,
                std::io::ErrorKind::PermissionDenied => code::EACCES,
                std::io::ErrorKind::NotADirectory => code::ENOTDIR,
                std::io::ErrorKind::OutOfMemory => code::ENOMEM,
                _ => code::EIO,
            },
            Error::AlreadyRegistered { .. } | Error::Exists(_) => code::EEXIST,
            Error::Backend(_) => code::EBACKEND,
            Error::ResourceBusy { .. } => code::EBUSY,
            Error::OutOfRange(_) => code::ERANGE,
            Error::Download { .. } => code::EIO,
        }
    }
}

/// Runtime result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_upstream_errno_values() {
        assert_eq!(
            Error::NoPlugin {
                op: OpType::BlasSgemm
            }
            .code(),
            95
        );
        assert_eq!(Error::Invalid("x".into()).code(), 22);
        assert_eq!(
            Error::ResourceBusy {
                resource: 1,
                sessions: vec![2]
            }
            .code(),
            16
        );
        assert_eq!(
            Error::AlreadyRegistered {
                resource: 1,
                session: 2
            }
            .code(),
            17
        );
        let plugin = |code| Error::Plugin {
            plugin: "p".into(),
            what: "x".into(),
            code,
            message: String::new(),
        };
        assert_eq!(plugin(0).code(), code::EBACKEND);
        assert_eq!(plugin(42).code(), 42);
        let io = Error::Io {
            path: "/x".into(),
            source: std::io::ErrorKind::NotFound.into(),
        };
        assert_eq!(io.code(), code::ENOENT);
    }

    #[test]
    fn messages_name_the_value() {
        let e = Error::NotRegistered {
            resource: 7,
            session: 3,
        };
        assert_eq!(e.to_string(), "resource 7 is not registered with session 3");
        assert_eq!(
            Error::UnknownOp { id: 99 }.to_string(),
            "genop: unknown op type 99"
        );
    }
}
