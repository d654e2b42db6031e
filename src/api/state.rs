//! What every handler shares.

use std::sync::Arc;

use serde::Deserialize;

use super::ApiError;
use super::limits::HeavyGate;
use super::metrics::Metrics;
use crate::auth::KeyStore;
use crate::edit::{EditError, Writer};
use crate::index::SharedSnapshot;
use crate::routing::Routing;
use crate::store::DataDir;
use crate::tiles::{TileConfig, TileEngine};

/// Caps checked before any work starts. Read from the `[limits]` table of the config file
/// (every key optional; `TERRIENS_LIMITS_<KEY>` overrides).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// Most features in one POST batch (413 beyond).
    pub max_batch: usize,
    /// Largest request body, bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Longest a request may run, milliseconds (503 with Retry-After beyond).
    pub request_timeout_ms: u64,
    /// Heavy requests (isochrones, large joins) running at once; more wait up to
    /// `heavy_wait_ms`, then get 503 with Retry-After.
    pub heavy_concurrency: usize,
    pub heavy_wait_ms: u64,
    /// Retry-After of an overloaded answer, seconds.
    pub retry_after_s: u64,
    /// Most vertices of one geometry in a body (search polygon, written feature): 413
    /// `too-many-vertices` beyond, before any parsing or validation.
    pub max_vertices: usize,
    /// Longest a request body may take to arrive, milliseconds: 408 `body-timeout` beyond (a
    /// Content-Length larger than the bytes sent ends here, not at the request timeout).
    pub body_read_timeout_ms: u64,
    /// Longest a connection may take to send a complete request head, milliseconds, counted
    /// from its opening or from its previous answer: half-sent and idle keep-alive
    /// connections are closed after it.
    pub header_read_timeout_ms: u64,
    /// Most connections open at once; one more is answered 503 (Retry-After) and closed.
    pub max_connections: usize,
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
            max_batch: 10_000,
            max_body_bytes: 32 << 20,
            request_timeout_ms: 30_000,
            heavy_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            heavy_wait_ms: 200,
            retry_after_s: 2,
            max_vertices: 200_000,
            body_read_timeout_ms: 10_000,
            header_read_timeout_ms: 20_000,
            max_connections: 4_096,
        }
    }
}

impl Limits {
    /// A 400 (`over-limit`, naming the parameter) when `value` is above `max`.
    ///
    /// ```
    /// use terriens::api::Limits;
    /// let l = Limits::default();
    /// assert!(Limits::check("radius", 5_000.0, l.max_radius_m).is_ok());
    /// assert!(Limits::check("k", 5_000, l.max_k).is_err());
    /// ```
    pub fn check<T: PartialOrd + std::fmt::Display>(
        param: &str,
        value: T,
        max: T,
    ) -> Result<(), ApiError> {
        if value > max {
            return Err(ApiError::OverLimit {
                param: param.to_string(),
                value: value.to_string(),
                max: max.to_string(),
            });
        }
        Ok(())
    }
}

/// Who may do what without a key.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthPolicy {
    /// Reads without a key (as the anonymous reader). When false, every request needs a key.
    pub anonymous_reads: bool,
    /// `/metrics` without a key; when false it needs an admin key.
    pub public_metrics: bool,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        AuthPolicy {
            anonymous_reads: true,
            public_metrics: true,
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
}

impl AppState {
    pub fn new(snapshot: SharedSnapshot, data_dir: Option<DataDir>) -> AppState {
        let limits = Limits::default();
        AppState {
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
        }
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
