//! The tile engine: prepared layers for the current data generation, the tile cache, and the
//! one entry point per product (a tile, an ETag, a TileJSON). No HTTP here: the API's handlers
//! call it, and so does the PMTiles export.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use parking_lot::Mutex;

use super::cache::{CachedTile, TileCache, TileKey};
use super::prepare::{Prepared, prepare};
use super::{Encoding, TileConfig, TileCoord, TileError, TileSet, compress, render_tile};
use crate::index::Snapshot;

/// Prepared data, cache and settings; one per server.
pub struct TileEngine {
    config: TileConfig,
    prepared: ArcSwapOption<Prepared>,
    build: Mutex<()>,
    cache: TileCache,
}

impl TileEngine {
    pub fn new(config: TileConfig) -> TileEngine {
        let cache = TileCache::new(config.cache_bytes);
        TileEngine {
            config,
            prepared: ArcSwapOption::empty(),
            build: Mutex::new(()),
            cache,
        }
    }

    pub fn config(&self) -> &TileConfig {
        &self.config
    }

    pub fn cache(&self) -> &TileCache {
        &self.cache
    }

    /// The prepared layers for `snap`'s generation, prepared now if needed (layers whose data
    /// did not change are reused). A request holding an older snapshot gets the newer data.
    pub fn prepared(&self, snap: &Snapshot) -> Arc<Prepared> {
        if let Some(p) = self.prepared.load_full()
            && p.generation >= snap.generation
        {
            return p;
        }
        let _guard = self.build.lock();
        let current = self.prepared.load_full();
        if let Some(p) = &current
            && p.generation >= snap.generation
        {
            return Arc::clone(p);
        }
        let started = std::time::Instant::now();
        let next = Arc::new(prepare(snap, current.as_deref(), &self.config));
        tracing::info!(
            generation = snap.generation,
            ms = started.elapsed().as_millis() as u64,
            "tiles prepared"
        );
        self.prepared.store(Some(Arc::clone(&next)));
        next
    }

    /// Strong ETag of a tile: a hash of everything its bytes depend on (generation, layers,
    /// filters, audience, address) and the encoding, so it is known without rendering.
    pub fn etag(generation: u64, set: &TileSet, t: TileCoord, enc: Encoding) -> String {
        let mut h = Fnv64::default();
        generation.hash(&mut h);
        set.canonical().hash(&mut h);
        t.hash(&mut h);
        format!("\"{:016x}-{}\"", h.finish(), enc.tag())
    }

    /// The prepared layers if they are up to date for `snap` (no preparation started).
    pub fn prepared_if_ready(&self, snap: &Snapshot) -> Option<Arc<Prepared>> {
        self.prepared
            .load_full()
            .filter(|p| p.generation >= snap.generation)
    }

    /// A cached tile body, if there is one (never renders: cheap enough for the async path).
    pub fn cached(
        &self,
        prepared: &Prepared,
        set: &TileSet,
        t: TileCoord,
        enc: Encoding,
    ) -> Option<Arc<CachedTile>> {
        self.cache.get(&TileKey {
            generation: prepared.generation,
            set: set.canonical().into(),
            coord: t,
            encoding: enc,
        })
    }

    /// A tile body in the given encoding, from the cache or rendered (and cached).
    pub fn tile(
        &self,
        prepared: &Prepared,
        set: &TileSet,
        t: TileCoord,
        enc: Encoding,
    ) -> Result<Arc<CachedTile>, TileError> {
        let canonical: Arc<str> = set.canonical().into();
        let key = |encoding| TileKey {
            generation: prepared.generation,
            set: Arc::clone(&canonical),
            coord: t,
            encoding,
        };
        if let Some(hit) = self.cache.get(&key(enc)) {
            return Ok(hit);
        }
        let raw = match self.cache.get(&key(Encoding::Identity)) {
            Some(hit) => hit,
            None => {
                let r = render_tile(prepared, set, t, &self.config);
                let tile = Arc::new(CachedTile {
                    body: Bytes::from(r.bytes),
                    features: r.features,
                    left_out: r.left_out,
                });
                self.cache
                    .insert(key(Encoding::Identity), Arc::clone(&tile));
                tile
            }
        };
        if enc == Encoding::Identity || raw.body.is_empty() {
            return Ok(raw);
        }
        let body = compress(&raw.body, enc).map_err(|e| TileError::Encode(e.to_string()))?;
        let tile = Arc::new(CachedTile {
            body: Bytes::from(body),
            features: raw.features,
            left_out: raw.left_out,
        });
        self.cache.insert(key(enc), Arc::clone(&tile));
        Ok(tile)
    }
}

/// FNV-1a, 64 bits: stable across runs and Rust versions (ETags survive restarts).
pub use crate::model::hash::Fnv64;
