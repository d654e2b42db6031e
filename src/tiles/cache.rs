//! The tile cache: size-bounded LRU, sharded so concurrent readers rarely meet on a lock.
//! Keys hold everything a body depends on: data generation, layers with their filters and the
//! viewer's audience (the tile set's canonical text), the tile address and the encoding.

use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use bytes::Bytes;
use lru::LruCache;
use parking_lot::Mutex;

use super::{Encoding, TileCoord};

/// What a cached body depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    pub generation: u64,
    /// `TileSet::canonical()`.
    pub set: Arc<str>,
    pub coord: TileCoord,
    pub encoding: Encoding,
}

/// A tile body as served.
#[derive(Debug, Clone)]
pub struct CachedTile {
    /// Encoded (and compressed per the key's encoding) body; empty for an empty tile.
    pub body: Bytes,
    pub features: usize,
    pub left_out: usize,
}

struct Shard {
    lru: LruCache<TileKey, Arc<CachedTile>>,
    bytes: usize,
}

/// Size-bounded LRU of tile bodies.
pub struct TileCache {
    shards: Vec<Mutex<Shard>>,
    shard_bytes: usize,
    hasher: std::collections::hash_map::RandomState,
}

const SHARDS: usize = 16;
/// Bookkeeping per entry (key, map slot), counted against the size bound.
const ENTRY_OVERHEAD: usize = 128;

impl TileCache {
    /// A cache holding at most about `max_bytes` of bodies.
    pub fn new(max_bytes: usize) -> TileCache {
        TileCache {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        lru: LruCache::unbounded(),
                        bytes: 0,
                    })
                })
                .collect(),
            shard_bytes: max_bytes / SHARDS,
            hasher: Default::default(),
        }
    }

    fn shard(&self, key: &TileKey) -> &Mutex<Shard> {
        let h = self.hasher.hash_one(key);
        &self.shards[(h as usize) % SHARDS]
    }

    pub fn get(&self, key: &TileKey) -> Option<Arc<CachedTile>> {
        self.shard(key).lock().lru.get(key).cloned()
    }

    /// Inserts a body, evicting the least recently used ones beyond the size bound. A body
    /// larger than a shard's share is not kept.
    pub fn insert(&self, key: TileKey, tile: Arc<CachedTile>) {
        let cost = tile.body.len() + key.set.len() + ENTRY_OVERHEAD;
        if cost > self.shard_bytes {
            return;
        }
        let mut s = self.shard(&key).lock();
        if let Some(old) = s.lru.put(key.clone(), tile) {
            s.bytes -= old.body.len() + key.set.len() + ENTRY_OVERHEAD;
        }
        s.bytes += cost;
        while s.bytes > self.shard_bytes {
            match s.lru.pop_lru() {
                Some((k, v)) => s.bytes -= v.body.len() + k.set.len() + ENTRY_OVERHEAD,
                None => break,
            }
        }
    }

    /// Bytes held (bodies and bookkeeping).
    pub fn bytes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().bytes).sum()
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().lru.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> TileKey {
        TileKey {
            generation: 1,
            set: "plots[];full".into(),
            coord: TileCoord { z: 20, x: i, y: 0 },
            encoding: Encoding::Identity,
        }
    }

    #[test]
    fn stays_within_its_size_and_evicts_least_recent() {
        let cache = TileCache::new(SHARDS * 10_000);
        let body = Bytes::from(vec![0u8; 1000]);
        for i in 0..1000 {
            cache.insert(
                key(i),
                Arc::new(CachedTile {
                    body: body.clone(),
                    features: 1,
                    left_out: 0,
                }),
            );
            // Keep key 0 hot.
            assert!(cache.get(&key(0)).is_some());
        }
        assert!(cache.bytes() <= SHARDS * 10_000);
        assert!(cache.len() < 1000);
        assert!(cache.get(&key(0)).is_some());
        assert!(cache.get(&key(1)).is_none());
    }
}
