//! The tile cache: size-bounded LRU, sharded so concurrent readers rarely meet on a lock.
//! Keys hold what a body depends on besides the data: layers with their filters and the
//! viewer's audience (the tile set's canonical text), the tile address and the encoding.
//!
//! The data is not in the key: a write drops only the tiles it touches. Each entry remembers
//! the generation it was rendered from; a change stamps, per layer and zoom, the tiles its
//! rows' envelopes touch with the generation that made it (large areas at a coarser grid, so a
//! stamp costs O(1) per zoom), and a layer-wide change stamps the layer. An entry is served
//! only if it is no older than every stamp over its layers at its tile: a request that
//! rendered from an older preparation can never serve or keep a stale body, whatever the
//! order in which it and the write ran.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use lru::LruCache;
use parking_lot::{Mutex, RwLock};

use super::{Encoding, MAX_ZOOM, TileCoord};
use crate::model::Layer;

/// What a cached body depends on besides the data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
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
    /// Generation of the preparation it was rendered from.
    pub generation: u64,
    /// FNV-1a of the uncompressed body: the ETag, the same for the same bytes.
    pub hash: u64,
}

/// Cache counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    /// Entries found but older than a change that touched their tile (counted as misses too).
    pub stale: u64,
    /// Inserts refused because a change touched the tile after the body's generation.
    pub refused: u64,
}

/// Stamp address: layer, zoom of the tile, zoom of the stamp's grid (≤ the tile's), x, y.
type StampKey = (u8, u8, u8, u32, u32);

/// Last-change generations per area.
#[derive(Default)]
struct Stamps {
    map: HashMap<StampKey, u64>,
    /// Per layer and tile zoom, a bit per grid zoom that has stamps.
    grids: [[u32; MAX_ZOOM as usize + 1]; 5],
    /// Per layer, the generation of its last layer-wide change.
    layer: [u64; 5],
}

/// Beyond this many stamps, every layer is stamped whole instead (and the map emptied).
const MAX_STAMPS: usize = 1 << 20;
/// A change covering more tiles than this at a zoom is stamped on a coarser grid.
const STAMPS_PER_ZOOM: u64 = 64;

struct Shard {
    lru: LruCache<TileKey, Arc<CachedTile>>,
    bytes: usize,
}

/// Size-bounded LRU of tile bodies.
pub struct TileCache {
    shards: Vec<Mutex<Shard>>,
    shard_bytes: usize,
    hasher: std::collections::hash_map::RandomState,
    stamps: RwLock<Stamps>,
    hits: AtomicU64,
    misses: AtomicU64,
    stale: AtomicU64,
    refused: AtomicU64,
}

const SHARDS: usize = 16;
/// Bookkeeping per entry (key, map slot), counted against the size bound.
const ENTRY_OVERHEAD: usize = 128;

/// What an entry counts against the size bound.
fn cost(key: &TileKey, tile: &CachedTile) -> usize {
    tile.body.len() + key.set.len() + ENTRY_OVERHEAD
}

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
            stamps: RwLock::new(Stamps::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stale: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Whether a body rendered from `generation` is still what the data gives at `t` for a
    /// tile set of `layers`.
    fn fresh(&self, generation: u64, layers: &[Layer], t: TileCoord) -> bool {
        let s = self.stamps.read();
        layers.iter().all(|l| {
            let li = l.index();
            if s.layer[li] > generation {
                return false;
            }
            let mut grids = s.grids[li][usize::from(t.z.min(MAX_ZOOM))];
            while grids != 0 {
                let g = grids.trailing_zeros() as u8;
                grids &= grids - 1;
                let d = t.z - g;
                let key = (li as u8, t.z, g, t.x >> d, t.y >> d);
                if s.map.get(&key).is_some_and(|st| *st > generation) {
                    return false;
                }
            }
            true
        })
    }

    /// Marks the tiles `x0..=x1 × y0..=y1` of zoom `z` of `layer` as changed by `generation`
    /// (on a coarser grid when they are many).
    pub fn invalidate(&self, layer: Layer, z: u8, x: [u32; 2], y: [u32; 2], generation: u64) {
        let (mut g, mut x, mut y) = (z.min(MAX_ZOOM), x, y);
        while g > 0 && u64::from(x[1] - x[0] + 1) * u64::from(y[1] - y[0] + 1) > STAMPS_PER_ZOOM {
            g -= 1;
            x = [x[0] >> 1, x[1] >> 1];
            y = [y[0] >> 1, y[1] >> 1];
        }
        let mut s = self.stamps.write();
        if s.map.len() > MAX_STAMPS {
            let newest = s.map.values().copied().max().unwrap_or(0);
            s.map.clear();
            s.grids = Default::default();
            for l in s.layer.iter_mut() {
                *l = (*l).max(newest);
            }
        }
        let li = layer.index();
        s.grids[li][usize::from(z.min(MAX_ZOOM))] |= 1 << g;
        for cx in x[0]..=x[1] {
            for cy in y[0]..=y[1] {
                let st = s.map.entry((li as u8, z, g, cx, cy)).or_insert(0);
                *st = (*st).max(generation);
            }
        }
    }

    /// Marks every tile of `layer` as changed by `generation`.
    pub fn invalidate_layer(&self, layer: Layer, generation: u64) {
        let mut s = self.stamps.write();
        let l = &mut s.layer[layer.index()];
        *l = (*l).max(generation);
    }

    /// Counters since start.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            stale: self.stale.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    fn shard(&self, key: &TileKey) -> &Mutex<Shard> {
        let h = self.hasher.hash_one(key);
        &self.shards[(h as usize) % SHARDS]
    }

    /// The body cached for `key` (a tile set of `layers`) if no change touched its tile since
    /// it was rendered; a stale one is dropped.
    pub fn get(&self, key: &TileKey, layers: &[Layer]) -> Option<Arc<CachedTile>> {
        let found = self.shard(key).lock().lru.get(key).cloned();
        match found {
            Some(t) if self.fresh(t.generation, layers, key.coord) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(t)
            }
            Some(_) => {
                self.stale.fetch_add(1, Ordering::Relaxed);
                self.misses.fetch_add(1, Ordering::Relaxed);
                let mut s = self.shard(key).lock();
                if let Some(old) = s.lru.pop(key) {
                    s.bytes -= cost(key, &old);
                }
                None
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Inserts a body, evicting the least recently used ones beyond the size bound. A body
    /// larger than a shard's share is not kept, nor one rendered from data older than a
    /// change that touched its tile.
    pub fn insert(&self, key: TileKey, layers: &[Layer], tile: Arc<CachedTile>) {
        let size = cost(&key, &tile);
        if size > self.shard_bytes {
            return;
        }
        if !self.fresh(tile.generation, layers, key.coord) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut s = self.shard(&key).lock();
        if let Some(old) = s.lru.put(key.clone(), tile) {
            s.bytes -= cost(&key, &old);
        }
        s.bytes += size;
        while s.bytes > self.shard_bytes {
            match s.lru.pop_lru() {
                Some((k, v)) => s.bytes -= cost(&k, &v),
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
                &[Layer::Plots],
                Arc::new(CachedTile {
                    body: body.clone(),
                    features: 1,
                    left_out: 0,
                    generation: 1,
                    hash: 0,
                }),
            );
            // Keep key 0 hot.
            assert!(cache.get(&key(0), &[Layer::Plots]).is_some());
        }
        assert!(cache.bytes() <= SHARDS * 10_000);
        assert!(cache.len() < 1000);
        assert!(cache.get(&key(0), &[Layer::Plots]).is_some());
        assert!(cache.get(&key(1), &[Layer::Plots]).is_none());
    }

    #[test]
    fn a_change_drops_the_tiles_it_touches_and_refuses_older_bodies() {
        let cache = TileCache::new(SHARDS * 100_000);
        let tile = |generation| {
            Arc::new(CachedTile {
                body: Bytes::from_static(b"x"),
                features: 1,
                left_out: 0,
                generation,
                hash: 0,
            })
        };
        let near = TileKey {
            coord: TileCoord { z: 20, x: 5, y: 7 },
            ..key(0)
        };
        let far = TileKey {
            coord: TileCoord {
                z: 20,
                x: 500,
                y: 7,
            },
            ..key(0)
        };
        let both = [Layer::Plots, Layer::Buildings];
        for k in [&near, &far] {
            cache.insert(k.clone(), &both, tile(1));
        }
        cache.invalidate(Layer::Buildings, 20, [4, 6], [7, 7], 2);
        assert!(cache.get(&near, &both).is_none(), "touched by the change");
        assert!(cache.get(&near, &[Layer::Plots]).is_none(), "and dropped");
        assert!(cache.get(&far, &both).is_some());
        // A request that rendered from generation 1 comes back after the change.
        cache.insert(near.clone(), &both, tile(1));
        assert!(cache.get(&near, &both).is_none());
        assert_eq!(cache.stats().refused, 1);
        cache.insert(near.clone(), &both, tile(2));
        assert!(cache.get(&near, &both).is_some());
        // A wide change at a deep zoom is stamped on a coarser grid, still covering the tile.
        cache.invalidate(Layer::Plots, 20, [0, 1000], [0, 1000], 3);
        assert!(cache.get(&near, &both).is_none());
        assert!(cache.get(&far, &both).is_none());
        cache.invalidate_layer(Layer::Plots, 4);
        cache.insert(far.clone(), &both, tile(3));
        assert!(cache.get(&far, &both).is_none());
    }
}
