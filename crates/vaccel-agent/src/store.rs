//! The content-addressed blob store: one copy of each distinct blob (by SHA-256) however
//! many tenants upload or use it.
//!
//! A stored blob is a [`StoredBlob`] held by the resources that use it; the store itself
//! keeps only a weak reference. When the last holder lets go, the blob's bytes are freed
//! at once, its entry leaves the map and the agent-wide charge for its bytes is refunded —
//! nothing waits for a later sweep.
//!
//! The store never hands a blob out by hash alone: [`BlobStore::insert`] takes bytes that
//! were received and verified, and returns the stored copy when one exists. A tenant thus
//! obtains an existing blob only by sending its bytes (see docs/SECURITY.md, "Shared
//! blobs"); what dedup saves is memory, not the upload.

use crate::budget::Charge;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

type Map = Mutex<HashMap<[u8; 32], Weak<StoredBlob>>>;

/// Blobs by content hash.
#[derive(Debug, Default)]
pub struct BlobStore {
    map: Arc<Map>,
}

/// One stored blob.
#[derive(Debug)]
pub struct StoredBlob {
    sha256: [u8; 32],
    data: Arc<[u8]>,
    /// The agent-wide charge for `data` (paid once, however many tenants hold it).
    _charge: Charge,
    /// The agent-wide charge for a plugin's loaded copy of this blob as a model, taken
    /// when it is first registered as a model and kept while the blob is held.
    loaded: std::sync::Mutex<Option<Charge>>,
    map: Weak<Map>,
}

impl StoredBlob {
    /// The bytes.
    pub fn data(&self) -> &Arc<[u8]> {
        &self.data
    }

    /// Their SHA-256.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// Charge the agent for a plugin's loaded copy of this blob (a model registered with
    /// a session), once however many tenants register it.
    ///
    /// # Errors
    /// `ENOMEM` when the agent's budget would be passed.
    pub fn charge_loaded(
        &self,
        budget: &std::sync::Arc<crate::budget::Budget>,
        what: &str,
    ) -> Result<(), crate::tenant::Failure> {
        let mut loaded = vaccel::sync::lock(&self.loaded);
        if loaded.is_none() {
            *loaded = Some(budget.charge(self.data.len() as u64, what)?);
        }
        Ok(())
    }
}

fn lock(m: &Map) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Weak<StoredBlob>>> {
    vaccel::sync::lock(m)
}

impl Drop for StoredBlob {
    fn drop(&mut self) {
        // No `StoredBlob` is ever dropped with the map locked, so this cannot deadlock.
        if let Some(map) = self.map.upgrade() {
            let mut map = lock(&map);
            // Remove our own entry only: a new copy may have been stored meanwhile.
            if map
                .get(&self.sha256)
                .is_some_and(|w| std::ptr::eq(w.as_ptr(), self))
            {
                map.remove(&self.sha256);
            }
        }
    }
}

impl BlobStore {
    /// Store verified bytes whose agent-wide memory `charge` paid for. When a copy is held
    /// already, that copy is returned and `data` and `charge` are dropped (the duplicate's
    /// memory and its charge go back).
    pub fn insert(&self, sha256: [u8; 32], data: Arc<[u8]>, charge: Charge) -> Arc<StoredBlob> {
        let mut map = lock(&self.map);
        if let Some(existing) = map.get(&sha256).and_then(Weak::upgrade) {
            drop(map);
            return existing;
        }
        let blob = Arc::new(StoredBlob {
            sha256,
            data,
            _charge: charge,
            loaded: std::sync::Mutex::new(None),
            map: Arc::downgrade(&self.map),
        });
        map.insert(sha256, Arc::downgrade(&blob));
        blob
    }

    /// Number of blobs held (for metrics and tests).
    pub fn live(&self) -> usize {
        lock(&self.map).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budget;

    #[test]
    fn one_copy_while_held_freed_and_refunded_at_once() {
        let budget = Budget::new(100);
        let s = BlobStore::default();
        let a = s.insert(
            [1; 32],
            Arc::from(vec![1u8, 2, 3]),
            budget.charge(3, "a").unwrap(),
        );
        let again = s.insert(
            [1; 32],
            Arc::from(vec![1u8, 2, 3]),
            budget.charge(3, "b").unwrap(),
        );
        assert!(Arc::ptr_eq(&a, &again));
        assert_eq!(
            (s.live(), budget.used()),
            (1, 3),
            "the duplicate is refunded"
        );
        let bytes = Arc::downgrade(a.data());
        drop((a, again));
        assert_eq!(s.live(), 0, "the entry goes with the last holder");
        assert_eq!(budget.used(), 0);
        assert!(bytes.upgrade().is_none(), "and so do the bytes");
    }
}
