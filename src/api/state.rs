//! What every handler shares.

use std::sync::Arc;

use crate::index::SharedSnapshot;
use crate::store::DataDir;
use crate::tiles::{TileConfig, TileEngine};

/// Caps checked before any work starts.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest search radius, metres.
    pub max_radius_m: f64,
    /// Largest page size.
    pub max_limit: usize,
    /// Default page size.
    pub default_limit: usize,
    /// Largest k of a nearest query.
    pub max_k: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_radius_m: 200_000.0,
            max_limit: 1_000,
            default_limit: 100,
            max_k: 1_000,
        }
    }
}

/// Server state, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub snapshot: Arc<SharedSnapshot>,
    /// Where layers are persisted; `None` when serving data held only in memory.
    pub data_dir: Option<DataDir>,
    pub limits: Arc<Limits>,
    /// Prepared tile data, the tile cache and tile settings.
    pub tiles: Arc<TileEngine>,
}

impl AppState {
    pub fn new(snapshot: SharedSnapshot, data_dir: Option<DataDir>) -> AppState {
        AppState {
            snapshot: Arc::new(snapshot),
            data_dir,
            limits: Arc::new(Limits::default()),
            tiles: Arc::new(TileEngine::new(TileConfig::default())),
        }
    }
}
