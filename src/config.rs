//! The server's configuration: a TOML file (`serve --config FILE`), then environment
//! variables `TERRIENS_<TABLE>_<KEY>` (e.g. `TERRIENS_LIMITS_MAX_RADIUS_M=50000`), then the
//! command line flags. Every key is optional; unknown keys are errors that name them.
//!
//! ```toml
//! [server]
//! addr = "127.0.0.1:8080"
//! data = "/var/lib/terriens"
//! shutdown_grace_s = 30
//!
//! [auth]
//! keys_file = "/etc/terriens/keys.toml"
//! anonymous_reads = true
//! public_metrics = true
//!
//! [limits]
//! max_radius_m = 200000
//! max_body_bytes = 33554432
//! request_timeout_ms = 30000
//! heavy_concurrency = 2        # default: the number of CPUs
//! max_vertices = 200000
//! body_read_timeout_ms = 10000
//! header_read_timeout_ms = 20000
//! max_connections = 4096
//!
//! [writes]
//! compact_after_bytes = 67108864
//! compact_interval_s = 600
//!
//! [source]                     # serve a PostgreSQL/PostGIS database instead of a data directory
//! url = "postgresql://terriens@db/terriens"
//! roads = "/var/lib/terriens"  # where the road graphs (roads-<profile>.graph) are
//! max_lag_s = 30               # reads answer 503 beyond this lag (default: always served)
//! poll_ms = 25
//! keep_changes_h = 24
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::edit::WriterOptions;
use crate::tiles::TileConfig;

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
    /// An [`OverLimit`] (400 `over-limit` at the API, naming the parameter) when `value` is
    /// above `max`.
    ///
    /// ```
    /// use terriens::config::Limits;
    /// let l = Limits::default();
    /// assert!(Limits::cap("radius", 5_000.0, l.max_radius_m).is_ok());
    /// assert!(Limits::cap("k", 5_000, l.max_k).is_err());
    /// ```
    pub fn cap<T: PartialOrd + std::fmt::Display>(
        param: &str,
        value: T,
        max: T,
    ) -> Result<(), OverLimit> {
        if value > max {
            return Err(OverLimit {
                param: param.to_string(),
                value: value.to_string(),
                max: max.to_string(),
            });
        }
        Ok(())
    }
}

/// A parameter above its cap in [`Limits`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{param}` = {value} is above the limit of this server ({max})")]
pub struct OverLimit {
    pub param: String,
    pub value: String,
    pub max: String,
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

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("environment variable {var}: {reason}")]
    Env { var: String, reason: String },
}

/// The `[server]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub addr: Option<SocketAddr>,
    /// Data directory; without one the demo data is served in memory and writes are refused.
    pub data: Option<PathBuf>,
    /// Longest wait for requests in flight at shutdown.
    pub shutdown_grace_s: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: None,
            data: None,
            shutdown_grace_s: 30,
        }
    }
}

/// The `[auth]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The keys file (`terriens keys add`); without one, no key is valid (reads only).
    pub keys_file: Option<PathBuf>,
    /// See [`AuthPolicy`].
    pub anonymous_reads: bool,
    pub public_metrics: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        let p = AuthPolicy::default();
        AuthConfig {
            keys_file: None,
            anonymous_reads: p.anonymous_reads,
            public_metrics: p.public_metrics,
        }
    }
}

impl AuthConfig {
    pub fn policy(&self) -> AuthPolicy {
        AuthPolicy {
            anonymous_reads: self.anonymous_reads,
            public_metrics: self.public_metrics,
        }
    }
}

/// The `[writes]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WritesConfig {
    pub queue: usize,
    pub max_group: usize,
    pub compact_after_bytes: u64,
    pub compact_interval_s: u64,
    pub compact_on_shutdown: bool,
}

impl Default for WritesConfig {
    fn default() -> Self {
        let d = WriterOptions::default();
        WritesConfig {
            queue: d.queue,
            max_group: d.max_group,
            compact_after_bytes: d.compact_after_bytes,
            compact_interval_s: d.compact_interval.as_secs(),
            compact_on_shutdown: d.compact_on_shutdown,
        }
    }
}

impl WritesConfig {
    pub fn writer_options(&self) -> WriterOptions {
        WriterOptions {
            queue: self.queue,
            max_group: self.max_group,
            compact_after_bytes: self.compact_after_bytes,
            compact_interval: Duration::from_secs(self.compact_interval_s),
            compact_on_shutdown: self.compact_on_shutdown,
            after_compaction: Default::default(),
        }
    }
}

/// The `[tiles]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TilesConfig {
    /// Size of the tile cache (compressed bodies), MB; 0 turns the cache off.
    pub cache_mb: usize,
    /// Largest uncompressed tile, KB; above it features are left out by priority.
    pub budget_kb: usize,
    /// Buffer around each tile, in tile units (of 4096).
    pub buffer: u32,
    /// Credit line of data without a credit of its own (default: the demo data's without
    /// `--data`, `terriens` with it).
    pub attribution: Option<String>,
    /// Credit line per layer (`[tiles.layer_attribution]`, `plots = "…"`), over what the
    /// territory manifest says.
    pub layer_attribution: std::collections::BTreeMap<crate::model::Layer, String>,
}

impl Default for TilesConfig {
    fn default() -> Self {
        let d = TileConfig::default();
        TilesConfig {
            cache_mb: d.cache_bytes >> 20,
            budget_kb: d.budget_bytes / 1000,
            buffer: d.buffer,
            attribution: None,
            layer_attribution: Default::default(),
        }
    }
}

impl TilesConfig {
    pub fn tile_config(&self) -> TileConfig {
        TileConfig {
            cache_bytes: self.cache_mb << 20,
            budget_bytes: self.budget_kb * 1000,
            buffer: self.buffer,
            attribution: self
                .attribution
                .clone()
                .unwrap_or_else(|| TileConfig::default().attribution),
            layer_attribution: self.layer_attribution.clone(),
            ..TileConfig::default()
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub limits: Limits,
    pub writes: WritesConfig,
    pub tiles: TilesConfig,
    pub impact: ImpactConfig,
    pub source: SourceConfig,
}

/// `[source]`: the PostgreSQL/PostGIS database a replica follows (`serve --source`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceConfig {
    /// `postgresql://…`; unset: the data directory (or the demo data) is served.
    pub url: Option<String>,
    /// Directory holding the road graphs (`roads-<profile>.graph`).
    pub roads: Option<PathBuf>,
    /// Lag beyond which reads answer 503 (unset: reads are always served).
    pub max_lag_s: Option<f64>,
    /// How often the change feed is read, milliseconds.
    pub poll_ms: u64,
    /// How long the change table keeps changes, hours.
    pub keep_changes_h: u64,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            url: None,
            roads: None,
            max_lag_s: None,
            poll_ms: 25,
            keep_changes_h: 24,
        }
    }
}

impl SourceConfig {
    /// The replica's settings, when a database is configured.
    pub fn options(&self) -> Option<crate::edit::SourceOptions> {
        let url = self.url.clone()?;
        let mut o = crate::edit::SourceOptions::new(url);
        o.poll = Duration::from_millis(self.poll_ms.max(1));
        o.keep_changes = Duration::from_secs(self.keep_changes_h.max(1).saturating_mul(3600));
        // Duration::from_secs_f64 panics beyond its range: such a lag is no cap at all.
        o.max_lag = self
            .max_lag_s
            .filter(|s| *s > 0.0)
            .and_then(|s| Duration::try_from_secs_f64(s).ok());
        Some(o)
    }
}

/// `[impact]`: the factors of the impact of a synergy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImpactConfig {
    /// A CSV of factor rows (`key,value,unit,year,source`, as `factors/impact_factors.csv`) that
    /// replace the embedded rows of the same key or add rows of a known kind.
    pub factors: Option<PathBuf>,
}

const TABLES: [&str; 7] = [
    "server", "auth", "limits", "writes", "tiles", "impact", "source",
];

impl Config {
    /// Reads the file (if any), then applies `TERRIENS_<TABLE>_<KEY>` variables from `env`.
    /// Variables naming no table (`TERRIENS_DATA`, `TERRIENS_LOG_FORMAT`, …) are left to the
    /// command line parser.
    ///
    /// ```
    /// use terriens::config::Config;
    /// let env = [("TERRIENS_LIMITS_MAX_K".to_string(), "50".to_string())];
    /// let c = Config::load(None, env).unwrap();
    /// assert_eq!(c.limits.max_k, 50);
    /// assert!(c.auth.anonymous_reads);
    /// ```
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let (mut doc, origin) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
                let doc = text
                    .parse::<toml::Table>()
                    .map_err(|e| ConfigError::Invalid {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    })?;
                (doc, path.display().to_string())
            }
            None => (toml::Table::new(), "(none)".to_string()),
        };
        let mut vars: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("TERRIENS_"))
            .collect();
        vars.sort();
        let mut from_env = false;
        for (var, value) in vars {
            let rest = var["TERRIENS_".len()..].to_ascii_lowercase();
            let Some(table) = TABLES.iter().find(|t| rest.starts_with(&format!("{t}_"))) else {
                continue;
            };
            let key = &rest[table.len() + 1..];
            // A TOML value if it reads as one (numbers, booleans, quoted strings), else text.
            let parsed = format!("v = {value}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(value.clone()));
            let slot = doc
                .entry(table.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let Some(t) = slot.as_table_mut() else {
                return Err(ConfigError::Env {
                    var,
                    reason: format!("`{table}` in the config file is not a table"),
                });
            };
            t.insert(key.to_string(), parsed);
            from_env = true;
        }
        toml::Value::Table(doc)
            .try_into::<Config>()
            .map_err(|e| ConfigError::Invalid {
                path: if from_env {
                    format!("{origin} with TERRIENS_* overrides")
                } else {
                    origin
                },
                reason: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(
            &path,
            "[limits]\nmax_radius_m = 1000\nmax_k = 5\n[auth]\nanonymous_reads = false\n[writes]\ncompact_interval_s = 9\n",
        )
        .unwrap();
        let env = [
            ("TERRIENS_LIMITS_MAX_K".into(), "7".into()),
            ("TERRIENS_SERVER_DATA".into(), "/tmp/x y".into()),
            ("TERRIENS_DATA".into(), "ignored".into()),
            ("PATH".into(), "/bin".into()),
        ];
        let c = Config::load(Some(&path), env).unwrap();
        assert_eq!(c.limits.max_radius_m, 1000.0);
        assert_eq!(c.limits.max_k, 7);
        assert_eq!(c.limits.max_limit, Limits::default().max_limit);
        assert!(!c.auth.anonymous_reads);
        assert_eq!(c.server.data, Some(PathBuf::from("/tmp/x y")));
        assert_eq!(
            c.writes.writer_options().compact_interval,
            Duration::from_secs(9)
        );
    }

    #[test]
    fn source_settings_out_of_range_do_not_panic() {
        let env = [
            (
                "TERRIENS_SOURCE_URL".to_string(),
                "postgresql://db/t".to_string(),
            ),
            ("TERRIENS_SOURCE_MAX_LAG_S".to_string(), "1e300".to_string()),
            (
                "TERRIENS_SOURCE_KEEP_CHANGES_H".to_string(),
                i64::MAX.to_string(),
            ),
        ];
        let o = Config::load(None, env).unwrap().source.options().unwrap();
        assert_eq!(o.max_lag, None, "a lag beyond any duration caps nothing");
        assert_eq!(o.keep_changes, Duration::from_secs(u64::MAX));
        let env = [
            (
                "TERRIENS_SOURCE_URL".to_string(),
                "postgresql://db/t".to_string(),
            ),
            ("TERRIENS_SOURCE_MAX_LAG_S".to_string(), "2.5".to_string()),
        ];
        let o = Config::load(None, env).unwrap().source.options().unwrap();
        assert_eq!(o.max_lag, Some(Duration::from_millis(2500)));
        assert_eq!(o.poll, Duration::from_millis(25));
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::load(None, [("TERRIENS_LIMITS_MAX_RADIUS".into(), "5".into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_radius"), "{err}");
        assert!(err.contains("TERRIENS_"), "{err}");
    }
}
