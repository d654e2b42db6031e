//! What every handler shares.

use std::sync::Arc;

use crate::index::SharedSnapshot;
use crate::routing::Routing;
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
    /// Most contours in one isochrone request.
    pub max_contours: usize,
    /// Longest contour (and workforce drive time), minutes.
    pub max_contour_min: f64,
    /// Most locations in one isochrone request.
    pub max_locations: usize,
    /// Largest `generalize` tolerance, metres.
    pub max_generalize_m: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_radius_m: 200_000.0,
            max_limit: 1_000,
            default_limit: 100,
            max_k: 1_000,
            max_contours: 6,
            max_contour_min: 120.0,
            max_locations: 10,
            max_generalize_m: 1_000.0,
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
    /// Road graphs by profile; `None` when the server has none (routes that need one answer
    /// 404 `profile-not-loaded`).
    pub routing: Option<Arc<Routing>>,
}

impl AppState {
    pub fn new(snapshot: SharedSnapshot, data_dir: Option<DataDir>) -> AppState {
        AppState {
            snapshot: Arc::new(snapshot),
            data_dir,
            limits: Arc::new(Limits::default()),
            tiles: Arc::new(TileEngine::new(TileConfig::default())),
            routing: None,
        }
    }

    /// The same state with road graphs.
    pub fn with_routing(mut self, routing: Routing) -> AppState {
        self.routing = Some(Arc::new(routing));
        self
    }
}
