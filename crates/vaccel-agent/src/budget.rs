//! The agent's memory budget: one limit for everything clients can make the agent hold,
//! split into a share per tenant.
//!
//! Memory is *charged before it is allocated*, by the size that will really be allocated,
//! and refunded only when that memory is gone: a [`Charge`] is the right to hold some
//! bytes, and dropping it is the refund. So a charge lives next to what it pays for (a
//! read buffer, a blob's buffer, a decoded request, a queued reply) and goes when it goes.
//!
//! Three counters are charged at once: the tenant's share ([`Share`]), the share of its
//! peer (all connections of one VM or process, so that opening more connections does not
//! buy more memory), and the agent-wide [`Budget`]. A deduplicated blob is held once but charged to the share of every tenant
//! that holds it (what a tenant may hold does not depend on what others did) and to the
//! agent-wide budget once, by the store (what the host holds is real memory): see
//! [`Charge::split`].

use crate::tenant::Failure;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The agent-wide limit.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    used: AtomicU64,
}

/// A share of the budget: one tenant's, or one peer's (whose tenants' shares count
/// against it too).
#[derive(Debug)]
pub struct Share {
    budget: Arc<Budget>,
    /// The peer's share, for a tenant's share of it.
    parent: Option<Arc<Share>>,
    /// Whether this is a peer's share (for messages).
    peer: bool,
    limit: u64,
    used: AtomicU64,
}

/// Add `bytes` to `used` unless that passes `limit`; the total before, on refusal.
fn take(used: &AtomicU64, limit: u64, bytes: u64) -> Result<(), u64> {
    used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
        u.checked_add(bytes).filter(|n| *n <= limit)
    })
    .map(drop)
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<Budget> {
        Arc::new(Budget {
            limit,
            used: AtomicU64::new(0),
        })
    }

    /// Bytes charged now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// A tenant's share of at most `limit` bytes (and never more than the budget's), with
    /// no peer share above it.
    pub fn share(self: &Arc<Self>, limit: u64) -> Arc<Share> {
        self.new_share(limit, false)
    }

    /// A peer's share of at most `limit` bytes, for its tenants' shares
    /// ([`Share::tenant`]).
    pub fn peer(self: &Arc<Self>, limit: u64) -> Arc<Share> {
        self.new_share(limit, true)
    }

    fn new_share(self: &Arc<Self>, limit: u64, peer: bool) -> Arc<Share> {
        Arc::new(Share {
            budget: self.clone(),
            parent: None,
            peer,
            limit: limit.min(self.limit),
            used: AtomicU64::new(0),
        })
    }

    /// Charge the budget alone (memory held for all tenants, such as a stored blob).
    ///
    /// # Errors
    /// `ENOMEM` when the agent's budget would be passed.
    pub fn charge(self: &Arc<Self>, bytes: u64, what: &str) -> Result<Charge, Failure> {
        take(&self.used, self.limit, bytes).map_err(|used| self.refusal(bytes, used, what))?;
        Ok(Charge {
            share: None,
            budget: Some(self.clone()),
            bytes,
        })
    }

    fn refusal(&self, bytes: u64, used: u64, what: &str) -> Failure {
        Failure::new(
            vaccel::code::ENOMEM,
            format!(
                "{what} needs {bytes} bytes: the agent's memory budget of {} bytes has {} left (--memory-budget)",
                self.limit,
                self.limit.saturating_sub(used)
            ),
        )
    }
}

impl Share {
    /// A tenant's share of at most `limit` bytes within this (peer's) share.
    pub fn tenant(self: &Arc<Self>, limit: u64) -> Arc<Share> {
        Arc::new(Share {
            budget: self.budget.clone(),
            parent: Some(self.clone()),
            peer: false,
            limit: limit.min(self.limit),
            used: AtomicU64::new(0),
        })
    }

    /// Take `bytes` on this share and the shares above it (not the budget), or nothing.
    fn take(&self, bytes: u64, what: &str) -> Result<(), Failure> {
        take(&self.used, self.limit, bytes).map_err(|used| self.refusal(bytes, used, what))?;
        if let Some(p) = &self.parent
            && let Err(f) = p.take(bytes, what)
        {
            self.used.fetch_sub(bytes, Ordering::AcqRel);
            return Err(f);
        }
        Ok(())
    }

    /// Give back `bytes` on this share and the shares above it.
    fn give(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
        if let Some(p) = &self.parent {
            p.give(bytes);
        }
    }

    /// Bytes this tenant is charged now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// Charge `bytes` to this tenant and to the agent.
    ///
    /// # Errors
    /// `ENOMEM` naming `what` and the limit that would be passed; nothing is charged.
    pub fn charge(self: &Arc<Self>, bytes: u64, what: &str) -> Result<Charge, Failure> {
        let mut c = Charge {
            share: Some(self.clone()),
            budget: Some(self.budget.clone()),
            bytes: 0,
        };
        c.grow(bytes, what)?;
        Ok(c)
    }

    /// Charge this tenant alone, for memory the agent already holds and has charged once
    /// for everyone (a stored blob a tenant holds a second time).
    ///
    /// # Errors
    /// `ENOMEM` past the share; nothing is charged.
    pub fn charge_alone(self: &Arc<Self>, bytes: u64, what: &str) -> Result<Charge, Failure> {
        self.take(bytes, what)?;
        Ok(Charge {
            share: Some(self.clone()),
            budget: None,
            bytes,
        })
    }

    /// An empty charge on this tenant and the agent, to [`grow`](Charge::grow) later.
    pub fn empty(self: &Arc<Self>) -> Charge {
        Charge {
            share: Some(self.clone()),
            budget: Some(self.budget.clone()),
            bytes: 0,
        }
    }

    fn refusal(&self, bytes: u64, used: u64, what: &str) -> Failure {
        let (whose, flag) = if self.peer {
            ("this peer's (all its connections')", "--peer-memory")
        } else {
            ("this client's (connection's)", "--tenant-memory")
        };
        Failure::new(
            vaccel::code::ENOMEM,
            format!(
                "{what} needs {bytes} bytes: {whose} memory share of {} bytes has {} left ({flag})",
                self.limit,
                self.limit.saturating_sub(used)
            ),
        )
    }
}

/// The right to hold `bytes`: refunded to whatever it was charged to when dropped.
#[derive(Debug)]
#[must_use = "dropping a charge refunds it"]
pub struct Charge {
    share: Option<Arc<Share>>,
    budget: Option<Arc<Budget>>,
    bytes: u64,
}

impl Charge {
    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Charge `more` bytes on top.
    ///
    /// # Errors
    /// `ENOMEM` naming `what` and the limit; the charge is unchanged.
    pub fn grow(&mut self, more: u64, what: &str) -> Result<(), Failure> {
        if more == 0 {
            return Ok(());
        }
        if let Some(s) = &self.share {
            s.take(more, what)?;
        }
        if let Some(b) = &self.budget
            && let Err(used) = take(&b.used, b.limit, more)
        {
            if let Some(s) = &self.share {
                s.give(more);
            }
            return Err(b.refusal(more, used, what));
        }
        self.bytes += more;
        Ok(())
    }

    /// Charge exactly `bytes` in all: grow, or refund the difference.
    ///
    /// # Errors
    /// As [`grow`](Self::grow).
    pub fn set(&mut self, bytes: u64, what: &str) -> Result<(), Failure> {
        if bytes >= self.bytes {
            self.grow(bytes - self.bytes, what)
        } else {
            self.refund(self.bytes - bytes);
            Ok(())
        }
    }

    /// Give back `less` bytes (at most what is held).
    pub fn refund(&mut self, less: u64) {
        let less = less.min(self.bytes);
        if less == 0 {
            return;
        }
        if let Some(s) = &self.share {
            s.give(less);
        }
        if let Some(b) = &self.budget {
            b.used.fetch_sub(less, Ordering::AcqRel);
        }
        self.bytes -= less;
    }

    /// Split into the tenant's part and the agent-wide part, each refunded on its own
    /// (a stored blob: the tenant pays while it holds the blob, the agent while anyone does).
    pub fn split(mut self) -> (Charge, Charge) {
        let bytes = std::mem::take(&mut self.bytes);
        (
            Charge {
                share: self.share.take(),
                budget: None,
                bytes,
            },
            Charge {
                share: None,
                budget: self.budget.take(),
                bytes,
            },
        )
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.refund(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_refused_past_either_limit_and_refunded_on_drop() {
        let b = Budget::new(100);
        let (s1, s2) = (b.share(60), b.share(60));
        let a = s1.charge(50, "a").unwrap();
        let e = s1.charge(20, "upload").unwrap_err();
        assert_eq!(e.code, vaccel::code::ENOMEM);
        assert!(e.message.contains("upload needs 20 bytes"), "{}", e.message);
        assert!(
            e.message.contains("share of 60 bytes has 10 left"),
            "{}",
            e.message
        );
        let c = s2.charge(40, "b").unwrap();
        let e = s2.charge(20, "more").unwrap_err();
        assert!(
            e.message.contains("budget of 100 bytes has 10 left"),
            "{}",
            e.message
        );
        assert_eq!(s2.used(), 40, "a refused charge leaves nothing behind");
        drop(a);
        assert_eq!((s1.used(), b.used()), (0, 40));
        drop(c);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn a_peers_tenants_share_the_peers_share() {
        let b = Budget::new(100);
        let peer = b.peer(50);
        let (t1, t2) = (peer.tenant(40), peer.tenant(40));
        let a = t1.charge(30, "a").unwrap();
        let e = t2.charge(30, "more connections").unwrap_err();
        assert!(
            e.message.contains("this peer's (all its connections') memory share of 50 bytes has 20 left (--peer-memory)"),
            "{}",
            e.message
        );
        assert_eq!(
            (t2.used(), peer.used(), b.used()),
            (0, 30, 30),
            "nothing left behind"
        );
        let e = t1.charge(20, "x").unwrap_err();
        assert!(
            e.message
                .contains("this client's (connection's) memory share of 40 bytes"),
            "{}",
            e.message
        );
        let c = t2.charge(20, "b").unwrap();
        assert_eq!((peer.used(), b.used()), (50, 50));
        drop((a, c));
        assert_eq!((t1.used(), t2.used(), peer.used(), b.used()), (0, 0, 0, 0));
    }

    #[test]
    fn split_charges_pay_share_and_budget_apart() {
        let b = Budget::new(100);
        let s = b.share(100);
        let mut c = s.charge(30, "x").unwrap();
        let part = s.charge(10, "y").unwrap();
        let (tenant, agent) = part.split();
        drop(tenant);
        assert_eq!((s.used(), b.used()), (30, 40));
        drop(agent);
        assert_eq!(b.used(), 30);
        c.set(5, "x").unwrap();
        assert_eq!((s.used(), b.used()), (5, 5));
        let alone = s.charge_alone(7, "z").unwrap();
        assert_eq!((s.used(), b.used()), (12, 5), "a charge on the share alone");
        drop((c, alone));
        assert_eq!((s.used(), b.used()), (0, 0));
    }
}
