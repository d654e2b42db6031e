//! What every handler shares.

use std::sync::Arc;

use super::ApiError;
use super::limits::HeavyGate;
use super::metrics::Metrics;
use crate::auth::KeyStore;
use crate::config::{AuthPolicy, Limits};
use crate::edit::{EditError, FeedStatus, Writer};
use crate::index::SharedSnapshot;
use crate::ingest::bmo::OccupationTable;
use crate::matching::Factors;
use crate::routing::Routing;
use crate::store::{DataDir, Manifest};
use crate::tiles::{TileConfig, TileEngine};

/// Server state, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub snapshot: Arc<SharedSnapshot>,
    /// Where layers are persisted; `None` when serving data held only in memory.
    pub data_dir: Option<DataDir>,
    pub limits: Arc<Limits>,
    pub keys: Arc<KeyStore>,
    pub auth: Arc<AuthPolicy>,
    /// The single writer; `None` without a data directory (writes answer 409).
    pub writer: Option<Arc<Writer>>,
    pub metrics: Arc<Metrics>,
    /// Concurrency limit of heavy endpoints.
    pub heavy: HeavyGate,
    /// Prepared tile data, the tile cache and tile settings.
    pub tiles: Arc<TileEngine>,
    /// Road graphs by profile; `None` when the server has none (routes that need one answer
    /// 404 `profile-not-loaded`).
    pub routing: Option<Arc<Routing>>,
    /// What `territory build` made the data directory from (sources, vintages, reports);
    /// `None` for the demo data or a directory filled by hand.
    pub manifest: Option<Arc<Manifest>>,
    /// Labels and families of the BMO occupation codes (`bmo_occupations.json` of the data
    /// directory, written by `terriens import-bmo`); empty when there is none.
    pub occupations: Arc<OccupationTable>,
    /// The factors of the impact of a synergy (the embedded table, or with the config's rows).
    pub factors: Arc<Factors>,
    /// A replica's change feed (`serve --source`): lag and state for `/health` and
    /// `/metrics`; `None` on a data directory or the demo data.
    pub feed: Option<Arc<FeedStatus>>,
}

impl AppState {
    pub fn new(snapshot: SharedSnapshot, data_dir: Option<DataDir>) -> AppState {
        let limits = Limits::default();
        let occupations = match data_dir.as_ref().map(|d| OccupationTable::read(d.path())) {
            Some(Ok(Some(t))) => t,
            Some(Err(e)) => {
                tracing::warn!("occupation labels not loaded: {e}");
                OccupationTable::default()
            }
            _ => OccupationTable::default(),
        };
        AppState {
            occupations: Arc::new(occupations),
            snapshot: Arc::new(snapshot),
            data_dir,
            heavy: HeavyGate::new(&limits),
            limits: Arc::new(limits),
            keys: Arc::new(KeyStore::empty()),
            auth: Arc::new(AuthPolicy::default()),
            writer: None,
            metrics: Arc::new(Metrics::default()),
            tiles: Arc::new(TileEngine::new(TileConfig::default())),
            routing: None,
            manifest: None,
            factors: Arc::new(Factors::embedded()),
            feed: None,
        }
    }

    /// The same state following a database's change feed.
    pub fn with_feed(mut self, feed: Arc<FeedStatus>) -> AppState {
        self.feed = Some(feed);
        self
    }

    /// The same state with other impact factors.
    pub fn with_factors(mut self, factors: Factors) -> AppState {
        self.factors = Arc::new(factors);
        self
    }

    /// The same state with other tile settings (a fresh tile engine and cache).
    pub fn with_tiles(mut self, config: TileConfig) -> AppState {
        self.tiles = Arc::new(TileEngine::new(config));
        self
    }

    /// The same state with road graphs.
    pub fn with_routing(mut self, routing: Routing) -> AppState {
        self.routing = Some(Arc::new(routing));
        self
    }

    /// The same state with the territory manifest of its data directory.
    pub fn with_manifest(mut self, manifest: Manifest) -> AppState {
        self.manifest = Some(Arc::new(manifest));
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> AppState {
        self.heavy = HeavyGate::new(&limits);
        self.limits = Arc::new(limits);
        self
    }

    pub fn with_keys(mut self, keys: KeyStore, policy: AuthPolicy) -> AppState {
        self.keys = Arc::new(keys);
        self.auth = Arc::new(policy);
        self
    }

    pub fn with_writer(mut self, writer: Arc<Writer>) -> AppState {
        self.writer = Some(writer);
        self
    }

    /// The writer, or the 409 that says writes are impossible without a data directory.
    pub fn writer(&self) -> Result<&Arc<Writer>, ApiError> {
        self.writer
            .as_ref()
            .ok_or(ApiError::Edit(EditError::NotPersistent))
    }
}
