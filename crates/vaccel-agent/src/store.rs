//! The content-addressed blob store: one copy of each distinct blob (by SHA-256) however
//! many tenants upload or use it. Entries are weak: the bytes are freed when the last
//! resource holding them goes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

/// Blobs by content hash.
#[derive(Debug, Default)]
pub struct BlobStore {
    blobs: Mutex<HashMap<[u8; 32], Weak<[u8]>>>,
}

impl BlobStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Weak<[u8]>>> {
        self.blobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The blob with this hash, if some resource still holds it.
    pub fn get(&self, sha256: &[u8; 32]) -> Option<Arc<[u8]>> {
        self.lock().get(sha256).and_then(Weak::upgrade)
    }

    /// Store verified bytes; returns the stored copy (an existing one if another tenant won
    /// the race). Dead entries are swept as new ones arrive.
    pub fn insert(&self, sha256: [u8; 32], data: Arc<[u8]>) -> Arc<[u8]> {
        let mut map = self.lock();
        if let Some(existing) = map.get(&sha256).and_then(Weak::upgrade) {
            return existing;
        }
        map.retain(|_, w| w.strong_count() > 0);
        map.insert(sha256, Arc::downgrade(&data));
        data
    }

    /// Number of live blobs (for metrics and tests).
    pub fn live(&self) -> usize {
        self.lock()
            .values()
            .filter(|w| w.strong_count() > 0)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_copy_while_held_freed_after() {
        let s = BlobStore::default();
        let a: Arc<[u8]> = Arc::from(vec![1u8, 2, 3]);
        let stored = s.insert([1; 32], a.clone());
        let again = s.insert([1; 32], Arc::from(vec![1u8, 2, 3]));
        assert!(Arc::ptr_eq(&stored, &again));
        assert_eq!(s.live(), 1);
        drop((a, stored, again));
        assert!(s.get(&[1; 32]).is_none());
        assert_eq!(s.live(), 0);
    }
}
