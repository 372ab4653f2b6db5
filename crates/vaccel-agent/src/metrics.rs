//! Prometheus metrics: per-tenant request and error counts, bytes in and out, and op
//! latency histograms, served as text on `--metrics ADDR` (`GET /metrics`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use vaccel::sync::lock;

const BUCKETS_MS: [f64; 12] = [
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0, 5000.0,
];

#[derive(Default, Clone)]
struct Histogram {
    buckets: [u64; BUCKETS_MS.len()],
    count: u64,
    sum_ms: f64,
}

#[derive(Default, Clone)]
struct TenantStats {
    peer: String,
    /// `vaccel` (ours) or `ttrpc` (upstream's guests); empty until the first bytes tell.
    protocol: &'static str,
    requests: u64,
    errors: u64,
    bytes_in: u64,
    bytes_out: u64,
}

/// The agent's metrics.
#[derive(Default)]
pub struct Metrics {
    tenants: Mutex<BTreeMap<u64, TenantStats>>,
    ops: Mutex<BTreeMap<String, Histogram>>,
    connections_total: AtomicU64,
    refused_total: AtomicU64,
}

impl Metrics {
    /// A tenant connected.
    pub fn connected(&self, tenant: u64, peer: &str) {
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        lock(&self.tenants).insert(
            tenant,
            TenantStats {
                peer: peer.into(),
                ..Default::default()
            },
        );
    }

    /// The protocol a tenant speaks (`vaccel` or `ttrpc`), once its first bytes told.
    pub fn protocol(&self, tenant: u64, protocol: &'static str) {
        if let Some(t) = lock(&self.tenants).get_mut(&tenant) {
            t.protocol = protocol;
        }
    }

    /// A tenant disconnected (its series go; totals stay).
    pub fn disconnected(&self, tenant: u64) {
        lock(&self.tenants).remove(&tenant);
    }

    /// A request was refused by a limit.
    pub fn refused(&self) {
        self.refused_total.fetch_add(1, Ordering::Relaxed);
    }

    /// Count a request of a tenant.
    pub fn request(&self, tenant: u64, bytes_in: usize, bytes_out: usize, error: bool) {
        if let Some(t) = lock(&self.tenants).get_mut(&tenant) {
            t.requests += 1;
            t.errors += u64::from(error);
            t.bytes_in += bytes_in as u64;
            t.bytes_out += bytes_out as u64;
        }
    }

    /// Record an op's latency.
    pub fn op(&self, op: &str, ms: f64) {
        let mut ops = lock(&self.ops);
        let h = ops.entry(op.to_string()).or_default();
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            if ms <= *b {
                h.buckets[i] += 1;
            }
        }
        h.count += 1;
        h.sum_ms += ms;
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# TYPE vaccel_connections_total counter");
        let _ = writeln!(
            s,
            "vaccel_connections_total {}",
            self.connections_total.load(Ordering::Relaxed)
        );
        let _ = writeln!(s, "# TYPE vaccel_refused_total counter");
        let _ = writeln!(
            s,
            "vaccel_refused_total {}",
            self.refused_total.load(Ordering::Relaxed)
        );
        let tenants = lock(&self.tenants).clone();
        let _ = writeln!(
            s,
            "# TYPE vaccel_tenants gauge\nvaccel_tenants {}",
            tenants.len()
        );
        let _ = writeln!(s, "# TYPE vaccel_tenants_by_protocol gauge");
        for protocol in ["vaccel", "ttrpc"] {
            let n = tenants.values().filter(|t| t.protocol == protocol).count();
            let _ = writeln!(
                s,
                "vaccel_tenants_by_protocol{{protocol=\"{protocol}\"}} {n}"
            );
        }
        for (name, f) in [
            (
                "vaccel_tenant_requests_total",
                (|t: &TenantStats| t.requests) as fn(&TenantStats) -> u64,
            ),
            ("vaccel_tenant_errors_total", |t| t.errors),
            ("vaccel_tenant_bytes_in_total", |t| t.bytes_in),
            ("vaccel_tenant_bytes_out_total", |t| t.bytes_out),
        ] {
            let _ = writeln!(s, "# TYPE {name} counter");
            for (id, t) in &tenants {
                let _ = writeln!(
                    s,
                    "{name}{{tenant=\"{id}\",peer=\"{}\",protocol=\"{}\"}} {}",
                    t.peer.replace('"', "'"),
                    t.protocol,
                    f(t)
                );
            }
        }
        let _ = writeln!(s, "# TYPE vaccel_op_duration_ms histogram");
        for (op, h) in lock(&self.ops).iter() {
            for (i, b) in BUCKETS_MS.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "vaccel_op_duration_ms_bucket{{op=\"{op}\",le=\"{b}\"}} {}",
                    h.buckets[i]
                );
            }
            let _ = writeln!(
                s,
                "vaccel_op_duration_ms_bucket{{op=\"{op}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(s, "vaccel_op_duration_ms_sum{{op=\"{op}\"}} {}", h.sum_ms);
            let _ = writeln!(s, "vaccel_op_duration_ms_count{{op=\"{op}\"}} {}", h.count);
        }
        s
    }
}
