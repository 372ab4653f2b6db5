//! Per-session, per-op profiling (`VACCEL_PROFILING_ENABLED`): count and total/min/max
//! nanoseconds of every op a session ran, reported when it is released.

use std::time::Duration;
use vaccel_plugin::{OP_MAX, OpType};

/// Timing summary of one op in one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// The op.
    pub op: OpType,
    /// Calls timed.
    pub count: u64,
    /// Sum of durations, ns.
    pub total_ns: u64,
    /// Shortest, ns.
    pub min_ns: u64,
    /// Longest, ns.
    pub max_ns: u64,
}

impl Region {
    /// Mean duration, ns.
    pub fn mean_ns(&self) -> u64 {
        self.total_ns.checked_div(self.count).unwrap_or(0)
    }
}

/// The regions of one session.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    regions: [Region; OP_MAX as usize],
}

impl Profile {
    pub(crate) fn new() -> Self {
        Profile {
            regions: std::array::from_fn(|i| Region {
                op: OpType::ALL[i],
                count: 0,
                total_ns: 0,
                min_ns: u64::MAX,
                max_ns: 0,
            }),
        }
    }

    pub(crate) fn record(&mut self, op: OpType, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let r = &mut self.regions[op.raw() as usize];
        r.count += 1;
        r.total_ns = r.total_ns.saturating_add(ns);
        r.min_ns = r.min_ns.min(ns);
        r.max_ns = r.max_ns.max(ns);
    }

    pub(crate) fn regions(&self) -> Vec<Region> {
        self.regions
            .iter()
            .filter(|r| r.count > 0)
            .copied()
            .collect()
    }
}
