//! What the operator decides: limits per tenant, which code guests may run, which host
//! models they may use by name, and the shared token for TCP clients.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

/// Limits: per tenant (one connection), per peer (a VM or a process) and agent-wide.
/// docs/SECURITY.md lists each with its default and its `vaccel-agent` flag.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest frame payload accepted once a connection has said Hello.
    pub max_frame: usize,
    /// Largest message reassembled from frames (so the largest op; blobs stream instead).
    pub max_message: usize,
    /// Requests admitted and not yet answered (replies not yet written included); a
    /// connection that has this many is not read from until one is answered.
    pub in_flight: usize,
    /// Sessions open at once.
    pub sessions: usize,
    /// Resource uploads offered and not finished at once.
    pub uploads: usize,
    /// Memory one tenant may make the agent hold (buffers, requests, replies, blobs).
    pub tenant_memory: u64,
    /// Memory one peer's connections together may make the agent hold.
    pub peer_memory: u64,
    /// Memory all clients together may make the agent hold.
    pub memory_budget: u64,
    /// Sustained requests per second.
    pub rate: f64,
    /// Requests allowed in a burst above the rate.
    pub burst: f64,
    /// Connections open at once, in all.
    pub connections: usize,
    /// Connections open at once from one peer (a vsock CID, a Unix peer process, a TCP
    /// address).
    pub connections_per_peer: usize,
    /// Time from connecting to a valid Hello.
    pub handshake_timeout: Duration,
    /// A connection with nothing in flight that sends nothing for this long is closed
    /// (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// A reply the peer does not take within this long closes the connection.
    pub write_timeout: Duration,
}

/// The largest frame a connection may send before its Hello (a Hello is a few dozen bytes
/// and a token).
pub const PRE_HELLO_FRAME: usize = 4096;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame: 1 << 20,
            max_message: 1 << 30,
            in_flight: 64,
            sessions: 256,
            uploads: 64,
            tenant_memory: 2 << 30,
            peer_memory: 4 << 30,
            memory_budget: default_memory_budget(),
            rate: 50_000.0,
            burst: 5_000.0,
            connections: default_connections(),
            connections_per_peer: 256,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(3600)),
            write_timeout: Duration::from_secs(60),
        }
    }
}

/// Half of the host's memory (`MemTotal` in /proc/meminfo), or 4 GiB when unknown.
pub fn default_memory_budget() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let kb = m.lines().find_map(|l| l.strip_prefix("MemTotal:"))?;
            kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok()
        })
        .map_or(4 << 30, |kb| kb * 1024 / 2)
}

/// Connections the agent's file-descriptor limit leaves room for (the soft
/// `RLIMIT_NOFILE` less 64 for listeners, plugins and model files), at most 4096.
pub fn default_connections() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            let line = l.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse::<usize>().ok()
        });
    soft.map_or(960, |n| n.saturating_sub(64)).clamp(16, 4096)
}

/// Parse a byte count: digits with an optional binary suffix `K`, `M`, `G` or `T`
/// (`512M`, `2G`).
///
/// # Errors
/// A message naming the value.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() && t[..i].bytes().all(|b| b.is_ascii_digit()) => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("{s:?}: unknown size suffix {c:?} (K, M, G or T)")),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a byte count (e.g. 512M, 2G)"))?;
    n.checked_shl(shift)
        .filter(|v| v >> shift == n)
        .ok_or_else(|| format!("{s:?} is too large"))
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
    /// Host directories (canonical) whose regular files guests may name as resource paths
    /// (upstream's `RegisterResource.paths`); empty: none.
    pub guest_paths: Vec<PathBuf>,
    /// Operator model catalogue: name → host path.
    pub models: HashMap<String, PathBuf>,
    /// Shared token clients must present (TCP deployments).
    pub token: Option<Vec<u8>>,
    /// Worker threads for plugin calls across all tenants (0: the number of CPUs); one
    /// express worker for short calls comes on top.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_parse_with_suffixes_and_refuse_junk() {
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("512M"), Ok(512 << 20));
        assert_eq!(parse_bytes("2g"), Ok(2 << 30));
        assert!(parse_bytes("2X").unwrap_err().contains("suffix"));
        assert!(
            parse_bytes("lots")
                .unwrap_err()
                .contains("not a byte count")
        );
        assert!(
            parse_bytes("99999999999T")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn defaults_come_from_the_host() {
        assert!(default_memory_budget() >= 1 << 20);
        assert!((16..=4096).contains(&default_connections()));
    }
}
