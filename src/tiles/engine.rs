//! The tile engine: prepared layers for the current data generation, the tile cache, and the
//! one entry point per product (a tile, an ETag, a TileJSON). No HTTP here: the API's handlers
//! call it, and so does the PMTiles export.
//!
//! After a write the new preparation is updated from the changed rows, and the cache drops
//! exactly the tiles they touch ([`TileEngine::prepared`]); every other tile stays a hit with
//! the same ETag (a hash of its bytes).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use parking_lot::Mutex;

use super::cache::{CachedTile, TileCache, TileKey};
use super::prepare::{LayerChange, Prepared, prepare_with_changes};
use super::{Encoding, MAX_ZOOM, TileConfig, TileCoord, TileError, TileSet, compress, render_tile};
use crate::index::Snapshot;
use crate::model::Layer;

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
        let (next, changes) = prepare_with_changes(snap, current.as_deref(), &self.config);
        let ms = started.elapsed().as_secs_f64() * 1e3;
        // Before the new preparation is published: a request still on the old one cannot
        // cache what it renders for a touched tile (the cache refuses bodies older than a
        // stamp).
        let stamps = self.invalidate(next.generation, &changes);
        tracing::info!(
            generation = snap.generation,
            ms = (ms * 1e3).round() / 1e3,
            stamps,
            "tiles prepared"
        );
        let next = Arc::new(next);
        self.prepared.store(Some(Arc::clone(&next)));
        next
    }

    /// Drops the cached tiles the changes touch: per changed envelope and zoom, the tiles whose
    /// buffered box meets it, grown at clustered zooms by a cluster cell (a cell's cluster sits
    /// at its members' mean, inside the cell). Returns how many areas were stamped.
    fn invalidate(&self, generation: u64, changes: &[LayerChange; 5]) -> usize {
        let cfg = &self.config;
        let mut stamped = 0;
        for layer in Layer::ALL {
            let envelopes = match &changes[layer.index()] {
                LayerChange::Same => continue,
                LayerChange::Everything => {
                    self.cache.invalidate_layer(layer, generation);
                    continue;
                }
                LayerChange::Rows(e) => e,
            };
            let clustered = super::prepare::cluster_spec(layer).is_some();
            for z in 0..=MAX_ZOOM {
                let n = f64::from(1u32 << z);
                // The buffer and one tile unit more, against rounding at tile edges.
                let mut grow = (f64::from(cfg.buffer) + 1.0) / f64::from(cfg.extent) / n;
                if clustered && z <= cfg.generalise_max_zoom {
                    grow += 1.0 / (n * f64::from(cfg.cluster_cells_per_tile));
                }
                let tile = |v: f64| ((v * n).floor().clamp(0.0, n - 1.0)) as u32;
                for e in envelopes {
                    let x = [tile(e[0] - grow), tile(e[2] + grow)];
                    let y = [tile(e[1] - grow), tile(e[3] + grow)];
                    self.cache.invalidate(layer, z, x, y, generation);
                    stamped += 1;
                }
            }
        }
        stamped
    }

    /// Strong ETag of a tile in an encoding: a hash of its uncompressed bytes, so it changes
    /// when and only when they do.
    pub fn etag(tile: &CachedTile, enc: Encoding) -> String {
        format!("\"{:016x}-{}\"", tile.hash, enc.tag())
    }

    /// The prepared layers if they are up to date for `snap` (no preparation started).
    pub fn prepared_if_ready(&self, snap: &Snapshot) -> Option<Arc<Prepared>> {
        self.prepared
            .load_full()
            .filter(|p| p.generation >= snap.generation)
    }

    /// A cached tile body, if there is one still true of the newest data (never renders:
    /// cheap enough for the async path).
    pub fn cached(&self, set: &TileSet, t: TileCoord, enc: Encoding) -> Option<Arc<CachedTile>> {
        self.cache.get(
            &TileKey {
                set: set.canonical().into(),
                coord: t,
                encoding: enc,
            },
            &set_layers(set),
        )
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
        let layers = set_layers(set);
        let key = |encoding| TileKey {
            set: Arc::clone(&canonical),
            coord: t,
            encoding,
        };
        if let Some(hit) = self.cache.get(&key(enc), &layers) {
            return Ok(hit);
        }
        let raw = match self.cache.get(&key(Encoding::Identity), &layers) {
            Some(hit) => hit,
            None => {
                let r = render_tile(prepared, set, t, &self.config);
                let mut h = Fnv64::default();
                r.bytes.hash(&mut h);
                let tile = Arc::new(CachedTile {
                    body: Bytes::from(r.bytes),
                    features: r.features,
                    left_out: r.left_out,
                    generation: prepared.generation,
                    hash: h.finish(),
                });
                self.cache
                    .insert(key(Encoding::Identity), &layers, Arc::clone(&tile));
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
            generation: raw.generation,
            hash: raw.hash,
        });
        self.cache.insert(key(enc), &layers, Arc::clone(&tile));
        Ok(tile)
    }
}

/// The layers a tile set draws.
fn set_layers(set: &TileSet) -> Vec<Layer> {
    set.layers.iter().map(|(l, _)| *l).collect()
}

/// FNV-1a, 64 bits: stable across runs and Rust versions (ETags survive restarts).
pub use crate::model::hash::Fnv64;
