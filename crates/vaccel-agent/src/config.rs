//! What the operator decides: limits per tenant, which code guests may run, which host
//! models they may use by name, and the shared token for TCP clients.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// Per-tenant (per-connection) limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest frame payload accepted.
    pub max_frame: usize,
    /// Largest message (reassembled from frames), and so largest single upload.
    pub max_message: usize,
    /// Requests running or queued at once.
    pub in_flight: usize,
    /// Sessions open at once.
    pub sessions: usize,
    /// Bytes of resources held (uploaded or referenced) at once.
    pub resource_bytes: u64,
    /// Sustained requests per second.
    pub rate: f64,
    /// Requests allowed in a burst above the rate.
    pub burst: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame: 1 << 20,
            max_message: 512 << 20,
            in_flight: 64,
            sessions: 256,
            resource_bytes: 2 << 30,
            rate: 50_000.0,
            burst: 5_000.0,
        }
    }
}

/// Agent configuration.
#[derive(Debug, Clone, Default)]
pub struct AgentConfig {
    /// Limits per tenant.
    pub limits: Limits,
    /// `(library, symbol)` pairs guests may `exec`; nothing else runs.
    pub allow_exec: HashSet<(String, String)>,
    /// Whether `exec_with_resource` may run libraries guests upload.
    pub allow_uploaded_code: bool,
    /// Operator model catalogue: name → host path.
    pub models: HashMap<String, PathBuf>,
    /// Shared token clients must present (TCP deployments).
    pub token: Option<Vec<u8>>,
    /// Plugin calls running at once across all tenants (0: the number of CPUs).
    pub workers: usize,
    /// How long an idle worker spins for new work before sleeping, in µs (None: 100).
    pub worker_spin_us: Option<u64>,
}

impl AgentConfig {
    /// Parse `library:symbol`.
    ///
    /// # Errors
    /// A message when there is no `:`.
    pub fn parse_exec(s: &str) -> Result<(String, String), String> {
        match s.rsplit_once(':') {
            Some((l, sym)) if !l.is_empty() && !sym.is_empty() => {
                Ok((l.to_string(), sym.to_string()))
            }
            _ => Err(format!("--allow-exec {s:?}: expected LIBRARY:SYMBOL")),
        }
    }

    /// Parse `NAME=PATH`.
    ///
    /// # Errors
    /// A message when there is no `=`.
    pub fn parse_model(s: &str) -> Result<(String, PathBuf), String> {
        match s.split_once('=') {
            Some((n, p)) if !n.is_empty() && !p.is_empty() => Ok((n.to_string(), PathBuf::from(p))),
            _ => Err(format!("--model {s:?}: expected NAME=PATH")),
        }
    }
}
