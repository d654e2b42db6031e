//! The `terriens` command line: serve, import, keys, log, import-roads, export-pmtiles.
//! (The demo data generator is the `terriens-fixtures` binary of the `terriens-demo` crate.)

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use terriens::api::{self, AppState};
use terriens::auth::{self, KeyStore};
use terriens::config::Config;
use terriens::edit::{
    AfterCompaction, Recovery, SourceOptions, Writer, WriterOptions, load_replica, recover,
};
use terriens::geo_util::Crs;
use terriens::index::{LayerData, SharedSnapshot, Snapshot};
use terriens::ingest::{ImportOptions, import_file};
use terriens::model::{Layer, Role};
use terriens::routing::{
    BuildOptions, ProfileId, RawNetwork, RoadGraph, Routing, embedded_routing, graph_file_name,
    write_graph,
};
use terriens::store::{DataDir, Manifest, embedded_snapshot, pg};
use terriens::tiles::{ExportOptions, TileEngine, TileSet};

#[derive(Parser)]
#[command(
    name = "terriens",
    version,
    about = "Geospatial server for industrial territories"
)]
struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "TERRIENS_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the layers over HTTP. Without --data, serves the embedded synthetic demo data
    /// (in memory: writes are refused).
    Serve {
        /// Data directory holding <layer>.fgb files and the write log.
        #[arg(long, env = "TERRIENS_DATA")]
        data: Option<PathBuf>,
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "TERRIENS_ADDR")]
        addr: Option<SocketAddr>,
        /// TOML configuration file (see README); TERRIENS_<TABLE>_<KEY> variables override it.
        #[arg(long, env = "TERRIENS_CONFIG")]
        config: Option<PathBuf>,
        /// API keys file (overrides auth.keys_file).
        #[arg(long)]
        keys: Option<PathBuf>,
        /// Serve a PostgreSQL/PostGIS database (postgresql://…, made by `terriens pg init`)
        /// instead of a data directory: load it, follow its changes, write through it.
        #[arg(long, env = "TERRIENS_SOURCE", conflicts_with = "data")]
        source: Option<String>,
        /// With --source: the directory holding the road graphs (roads-<profile>.graph).
        #[arg(long, requires = "source")]
        roads: Option<PathBuf>,
    },
    /// A PostgreSQL/PostGIS database as the system of record (see `serve --source`).
    Pg {
        #[command(subcommand)]
        action: PgAction,
    },
    /// Manage API keys (the file holds salted hashes only).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Import a GeoJSON, FlatGeobuf or CSV file (optionally .gz), a GeoPackage, or a Shapefile
    /// (.shp with its .dbf/.prj/.cpg, or a .zip of them) into a layer. Exits non-zero when
    /// nothing was imported (every feature rejected, or none read) and when --strict rejects.
    Import {
        /// Target layer: plots, buildings, waste_deposits, catchments, territories.
        #[arg(long)]
        layer: Layer,
        /// File to import.
        file: PathBuf,
        /// Data directory.
        #[arg(long, default_value = "data", env = "TERRIENS_DATA")]
        data: PathBuf,
        /// CRS of the coordinates (e.g. EPSG:2154); overrides the file's own.
        #[arg(long)]
        crs: Option<String>,
        /// Reject the whole file if any feature is invalid.
        #[arg(long)]
        strict: bool,
        /// Replace the layer instead of adding to it (features with a known id are updated).
        #[arg(long)]
        replace: bool,
        /// Give every feature this value: FIELD=VALUE (repeatable).
        #[arg(long = "set", value_parser = parse_key_value)]
        set: Vec<(String, String)>,
        /// Property holding the feature id.
        #[arg(long)]
        id_field: Option<String>,
        /// waste_deposits only: the file lists holders (e.g. IREP establishments) whose
        /// material and quantity are not known yet; import them with those left unknown.
        #[arg(long)]
        as_holders: bool,
        /// GeoPackage: the feature table to read (default: the first); zip: the shapefile.
        #[arg(long)]
        table: Option<String>,
        /// Import into a PostgreSQL/PostGIS database (postgresql://…) instead of --data.
        #[arg(long, env = "TERRIENS_SOURCE")]
        source: Option<String>,
    },
    /// Build road graphs from an OSM (.osm.pbf, .osm, .osm.gz) or IGN BD TOPO troncon_de_route
    /// (.geojson) file into the data directory, one per profile (roads-<profile>.graph).
    ImportRoads {
        /// Road data file.
        file: PathBuf,
        /// Data directory.
        #[arg(long, default_value = "data", env = "TERRIENS_DATA")]
        data: PathBuf,
        /// Profiles to build: car, hgv, hgv_hazmat (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "car,hgv,hgv_hazmat")]
        profile: Vec<ProfileId>,
        /// CRS of a GeoJSON file's coordinates (e.g. EPSG:2154); overrides the file's own.
        #[arg(long)]
        crs: Option<String>,
    },
    /// Join France Travail's BMO survey (hiring projects `met`, difficult `xmet`, seasonal `smet`
    /// per occupation and bassin) to the commune catchments of a data directory, through the
    /// commune → bassin table; a bassin's figures are spread over its communes by population
    /// (commune population / population of all the bassin's communes in the COG table).
    /// Masked values (`*`) stay unknown. Writes the occupation labels to bmo_occupations.json.
    ImportBmo {
        /// BMO survey CSV (e.g. bmo_2024_france_travail_bassins.csv.gz; gzip or plain).
        #[arg(long)]
        bmo: PathBuf,
        /// Commune → bassin table (code_commune_insee, code_bassin_BMO, lib_bassin_BMO).
        #[arg(long)]
        bassins: PathBuf,
        /// COG communes table with populations (code_insee, population_municipale), for the
        /// population of each whole bassin (e.g. communes_france_cog2021_attributs.csv).
        #[arg(long)]
        cog: PathBuf,
        /// Data directory.
        #[arg(long, default_value = "data", env = "TERRIENS_DATA")]
        data: PathBuf,
    },
    /// Inspect or salvage the write log of a data directory (when start-up refuses it).
    Log {
        #[command(subcommand)]
        action: LogAction,
    },
    /// Build a territory's data directory from the national open data files.
    Territory {
        #[command(subcommand)]
        action: TerritoryAction,
    },
    /// Write the vector tiles of some layers as a PMTiles v3 archive, for static hosting.
    ExportPmtiles {
        /// Output file (.pmtiles).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 0)]
        minzoom: u8,
        #[arg(long, default_value_t = 14)]
        maxzoom: u8,
        /// Comma-separated layers, or `all`.
        #[arg(long, default_value = "all")]
        layers: String,
        /// Data directory holding <layer>.fgb files; without it, the embedded demo data.
        #[arg(long, env = "TERRIENS_DATA")]
        data: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PgAction {
    /// Create (or check) the schema `terriens` in a PostGIS database: one table per layer,
    /// the projects, the id sequences and the change feed's table and triggers.
    Init {
        /// postgresql://user@host:port/database
        #[arg(long, env = "TERRIENS_SOURCE")]
        source: String,
    },
}

#[derive(Subcommand)]
enum TerritoryAction {
    /// From a folder of national files (COG commune table, commune polygons, EPCI boundary,
    /// Cartofriches, IREP, the BMO survey and its commune → bassin table, an OSM extract),
    /// clip to the territory plus a buffer, import every layer and the road graphs, and
    /// print what was imported, rejected and missing. Exits non-zero when nothing was imported.
    Build {
        /// The territory: an EPCI by its SIREN (e.g. 200084952).
        #[arg(long, conflicts_with_all = ["commune", "boundary"], required_unless_present_any = ["commune", "boundary"])]
        epci: Option<String>,
        /// Or a list of communes by INSEE code (a group of EPCI, a PETR): 76351,76552,...
        #[arg(long, value_delimiter = ',', conflicts_with = "boundary")]
        commune: Vec<String>,
        /// Or the communes inside a boundary (GeoJSON polygons, any CRS): a PETR, a SCoT.
        #[arg(long)]
        boundary: Option<PathBuf>,
        /// Name of the territory (default: the EPCI's name).
        #[arg(long)]
        name: Option<String>,
        /// Folder holding the national files (recognised by content, not by name).
        #[arg(long)]
        from: PathBuf,
        /// Data directory to create (must be empty or absent).
        #[arg(long)]
        out: PathBuf,
        /// Kilometres the boundary is grown by for sites, deposits and catchments.
        #[arg(long, default_value_t = 5.0)]
        buffer_km: f64,
        /// Road profiles to build: car, hgv, hgv_hazmat (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "car,hgv,hgv_hazmat")]
        profile: Vec<ProfileId>,
    },
}

#[derive(Subcommand)]
enum LogAction {
    /// Describe the write logs (records, torn tail, damage with offsets); changes nothing.
    /// Exits 1 when start-up would refuse a log.
    Check {
        #[arg(long, default_value = "data", env = "TERRIENS_DATA")]
        data: PathBuf,
    },
    /// Move every damaged stretch of the write logs to a new `writes.log.damaged.N` file and
    /// keep every whole record, so that the server starts. Explicit and logged; the data
    /// directory must not be in use.
    Salvage {
        #[arg(long, default_value = "data", env = "TERRIENS_DATA")]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create a key and print it (once: only its hash is kept).
    Add {
        /// reader, editor or admin.
        #[arg(long)]
        role: Role,
        /// The key may see confidential waste deposits (holder and position).
        #[arg(long)]
        partners: bool,
        /// A note saying whose key it is.
        #[arg(long)]
        label: Option<String>,
        /// Keys file (created if absent).
        #[arg(long, default_value = "keys.toml", env = "TERRIENS_KEYS")]
        keys: PathBuf,
    },
    /// List the keys (ids, roles, rights; no secrets).
    List {
        #[arg(long, default_value = "keys.toml", env = "TERRIENS_KEYS")]
        keys: PathBuf,
    },
    /// Remove a key by id (the 8 hex digits after `trn_`).
    Remove {
        id: String,
        #[arg(long, default_value = "keys.toml", env = "TERRIENS_KEYS")]
        keys: PathBuf,
    },
}

/// A `--set` argument that is not `FIELD=VALUE`.
#[derive(Debug, thiserror::Error)]
#[error("expected FIELD=VALUE, got `{0}`")]
struct NotKeyValue(String);

/// Parses a `--set FIELD=VALUE` argument.
fn parse_key_value(s: &str) -> Result<(String, String), NotKeyValue> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| NotKeyValue(s.to_string()))
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let result = match cli.command {
        Command::Serve {
            data,
            addr,
            config,
            keys,
            source,
            roads,
        } => serve(
            ServeFlags {
                data,
                addr,
                keys,
                source,
                roads,
            },
            config,
        ),
        Command::Pg {
            action: PgAction::Init { source },
        } => pg_init(&source),
        Command::Keys { action } => keys_command(action),
        Command::Import {
            layer,
            file,
            data,
            crs,
            strict,
            replace,
            set,
            id_field,
            as_holders,
            table,
            source,
        } => (|| {
            let mut opts = ImportOptions::new(layer);
            opts.crs = crs.map(|c| Crs::parse(&c)).transpose()?;
            opts.strict = strict;
            opts.set = set;
            opts.id_field = id_field;
            opts.as_holders = as_holders;
            opts.table = table;
            match source {
                Some(url) => import_to_source(&file, &url, opts, replace),
                None => import(&file, &data, opts, replace),
            }
        })(),
        Command::ImportBmo {
            bmo,
            bassins,
            cog,
            data,
        } => import_bmo(&bmo, &bassins, &cog, &data),
        Command::ImportRoads {
            file,
            data,
            profile,
            crs,
        } => import_roads(&file, &data, &profile, crs.as_deref()),
        Command::Log { action } => return log_command(action),
        Command::Territory { action } => return territory_command(action),
        Command::ExportPmtiles {
            out,
            minzoom,
            maxzoom,
            layers,
            data,
        } => export_pmtiles(out, minzoom, maxzoom, &layers, data),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Loads a data directory's layers with the write log replayed (or the embedded demo data).
/// Used by commands that only read (export): when a server holds the directory, the layer
/// files are read as compacted, without the writes still in the log.
fn load(data: Option<PathBuf>) -> Result<(Snapshot, Option<DataDir>), BoxError> {
    Ok(match data {
        Some(path) => {
            let dir = DataDir::open(path)?;
            match recover(dir.clone()) {
                Ok(rec) => (rec.snapshot.clone(), Some(dir)),
                Err(terriens::edit::EditError::InUse(p)) => {
                    tracing::warn!(dir = %p, "a server holds the data directory: reading the compacted layer files, without the writes still in its log");
                    (dir.load()?, Some(dir))
                }
                Err(e) => return Err(e.into()),
            }
        }
        None => (embedded_snapshot()?, None),
    })
}

/// The road graphs of the data directory, or the demo road network with the demo data.
fn load_routing(dir: Option<&DataDir>) -> Result<Option<Routing>, BoxError> {
    Ok(match dir {
        Some(dir) => {
            let routing = Routing::load_dir(dir.path())?;
            if routing.is_none() {
                tracing::warn!(
                    "no road graph in the data directory: /isochrone, /workforce and drive-time filters answer 404 until `terriens import-roads` writes one"
                );
            }
            routing
        }
        None => Some(embedded_routing()?),
    })
}

/// `terriens serve`: configuration → keys → the listener bound (every request answered 503
/// "loading" from then on) → layers (write log replayed) and road graphs in parallel → feature
/// snaps (persisted ones loaded) → state with routing and the writer → the full router
/// published; tiles are prepared and fresh snaps persisted in the background. Serves until
/// shutdown, then the writer's last flush.
fn serve(flags: ServeFlags, config: Option<PathBuf>) -> Result<(), BoxError> {
    let cfg = serve_config(flags, config)?;
    let addr = cfg
        .server
        .addr
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let key_store = load_keys(&cfg)?;
    // Read before listening, like the keys: a bad factor row stops start-up at once.
    let factors = match &cfg.impact.factors {
        Some(path) => terriens::matching::Factors::with_file(path)?,
        None => terriens::matching::Factors::embedded(),
    };
    match api::raise_open_files_limit() {
        Ok((old, new)) => tracing::info!(old, new, "open files soft limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open files limit"),
    }
    let rt = tokio::runtime::Runtime::new()?;
    let listener = rt.block_on(api::bind(addr))?;
    let loading = Arc::new(api::Loading::default());
    let app = api::AppSwitch::new(loading.clone());
    let grace = Duration::from_secs(cfg.server.shutdown_grace_s);
    let limits = Arc::new(cfg.limits.clone());
    let server = rt.spawn(api::serve_switch(listener, limits, app.clone(), grace));
    let (state, writer) = match load_state(&cfg, key_store, factors, &loading) {
        Ok(loaded) => loaded,
        Err(e) => {
            server.abort();
            return Err(e);
        }
    };
    app.ready(api::router(state.clone()));
    loading.step("ready", None);
    // Tiles are prepared off the request path; the first tile request would do it otherwise.
    let tiles = (state.tiles.clone(), state.snapshot.clone());
    std::thread::spawn(move || tiles.0.prepared(&tiles.1.load()));
    run_until_shutdown(&rt, server, writer)
}

/// Everything `serve` loads before it is ready: layers and road graphs (in parallel), the
/// feature snaps, the state and the writer.
fn load_state(
    cfg: &Config,
    key_store: KeyStore,
    factors: terriens::matching::Factors,
    loading: &api::Loading,
) -> Result<(AppState, Option<Arc<Writer>>), BoxError> {
    if let Some(source) = cfg.source.options() {
        return load_replica_state(cfg, source, key_store, factors, loading);
    }
    loading.step("layers", Some(Layer::ALL.len() as u64));
    let (layers, routing) = std::thread::scope(|s| {
        let roads = s.spawn(|| match cfg.server.data.clone() {
            Some(path) => load_routing(Some(&DataDir::open(path)?)),
            None => load_routing(None),
        });
        let layers = load_layers(cfg);
        loading.step("roads", None);
        let routing = roads
            .join()
            .unwrap_or_else(|_| Err("the road loading thread panicked".into()));
        (layers, routing)
    });
    let (snapshot, recovery) = layers?;
    let routing = routing?;
    let dir = recovery.as_ref().map(|r| r.dir.clone());
    let manifest = dir
        .as_ref()
        .map(|d| Manifest::read(d.path()))
        .transpose()?
        .flatten();
    let mut tiles = cfg.tiles.tile_config();
    if dir.is_some() {
        tiles = tiles.for_data_dir(manifest.as_ref());
    }
    let mut state = AppState::new(SharedSnapshot::new(snapshot.clone()), dir.clone())
        .with_limits(cfg.limits.clone())
        .with_keys(key_store, cfg.auth.policy())
        .with_tiles(tiles);
    if let Some(m) = manifest {
        state = state.with_manifest(m);
    }
    state = state.with_factors(factors);
    let mut options = cfg.writes.writer_options();
    if let Some(routing) = routing {
        let path = dir.as_ref().map(|d| d.path().to_path_buf());
        state = with_prepared_routing(state, routing, &snapshot, path.as_deref(), loading);
        if let (Some(routing), Some(path)) = (state.routing.clone(), path) {
            let current = state.snapshot.clone();
            options.after_compaction = AfterCompaction(Some(Arc::new(move |_, layers| {
                routing.persist_snaps(&path, &current.load(), layers);
            })));
        }
    }
    start_writer(state, recovery, options)
}
/// The flags of `serve` that the configuration file also sets.
struct ServeFlags {
    data: Option<PathBuf>,
    addr: Option<SocketAddr>,
    keys: Option<PathBuf>,
    source: Option<String>,
    roads: Option<PathBuf>,
}

/// `serve --source`: the database's layers (and the road graphs of `--roads`, in parallel),
/// the feature snaps, the state, and the replica's follower and writer.
fn load_replica_state(
    cfg: &Config,
    source: SourceOptions,
    key_store: KeyStore,
    factors: terriens::matching::Factors,
    loading: &api::Loading,
) -> Result<(AppState, Option<Arc<Writer>>), BoxError> {
    loading.step("layers", Some(Layer::ALL.len() as u64));
    tracing::info!(source = %redacted(&source.url), "loading every layer from the database");
    let (replica, routing) = std::thread::scope(|s| {
        let roads = s.spawn(|| match &cfg.source.roads {
            Some(path) => load_routing(Some(&DataDir::open(path.clone())?)),
            None => {
                tracing::warn!(
                    "no --roads directory: /isochrone, /workforce and drive-time filters answer 404"
                );
                Ok(None)
            }
        });
        // A database not up yet (both started together) is waited for, /health saying
        // `loading` meanwhile; any other failure (no schema, say) stops the start.
        let replica = loop {
            match load_replica(&source.url, &|layer| {
                tracing::info!(%layer, "layer loaded from the database");
                loading.advance();
            }) {
                Err(e) if e.is_connection() => {
                    tracing::warn!(error = %e, "the database is unreachable; retrying in 2 s");
                    std::thread::sleep(Duration::from_secs(2));
                }
                other => break other,
            }
        };
        loading.step("roads", None);
        let routing = roads
            .join()
            .unwrap_or_else(|_| Err("the road loading thread panicked".into()));
        (replica, routing)
    });
    let replica = replica?;
    let routing = routing?;
    for d in replica.snapshot.layers() {
        tracing::info!(layer = %d.layer(), features = d.len(), "layer ready");
    }
    let snapshot = replica.snapshot.clone();
    let mut state = AppState::new(SharedSnapshot::new(snapshot.clone()), None)
        .with_limits(cfg.limits.clone())
        .with_keys(key_store, cfg.auth.policy())
        .with_tiles(cfg.tiles.tile_config())
        .with_factors(factors);
    if let Some(routing) = routing {
        state = with_prepared_routing(state, routing, &snapshot, None, loading);
    }
    let (writer, feed) = Writer::start_replica(
        replica,
        state.snapshot.clone(),
        source,
        cfg.writes.writer_options(),
    )?;
    let writer = Arc::new(writer);
    Ok((
        state.with_writer(writer.clone()).with_feed(feed),
        Some(writer),
    ))
}

/// A connection string without its password, for logs.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// `terriens pg init`: the schema created (or checked), with the row count of each table.
fn pg_init(url: &str) -> Result<(), BoxError> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let mut client = pg::connect(url).await?;
        let counts = pg::init(&mut client).await?;
        pg::advance_sequences(&client).await?;
        println!("schema {} ready in {}", pg::SCHEMA, redacted(url));
        for (table, n) in counts {
            println!("  {}.{table}: {n} rows", pg::SCHEMA);
        }
        Ok::<(), BoxError>(())
    })
}

/// `terriens import --source`: the file validated exactly as for a data directory, then
/// written into the layer's table in one transaction (replicas follow it as any change).
fn import_to_source(
    file: &std::path::Path,
    url: &str,
    mut opts: ImportOptions,
    replace: bool,
) -> Result<(), BoxError> {
    let layer = opts.layer;
    let rt = tokio::runtime::Runtime::new()?;
    let mut client = rt.block_on(pg::connect(url))?;
    rt.block_on(pg::check_schema(&client))?;
    // What `commune_insee` and `territory` are derived from (catchments and territories
    // only, not the whole database), and the ids already held.
    let areas = [Layer::Catchments, Layer::Territories];
    let loaded = rt.block_on(pg::load_layers(&mut client, &areas, &|_| {}))?;
    opts.first_free_id = rt.block_on(pg::max_id(&client, layer))? + 1;
    let mut outcome = validated_import(file, &opts)?;
    let derived =
        terriens::territory::derive_location(&mut outcome.features, layer, &loaded.snapshot);
    for (field, n) in &derived {
        println!("{layer}: {field} derived from the location for {n} features");
    }
    let progress = ProgressBar::new(outcome.features.len() as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} rows ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    progress.set_message(format!("writing {layer} into the database"));
    let (inserted, updated) = rt.block_on(pg::import(
        &mut client,
        layer,
        &outcome.features,
        replace,
        &|n| progress.set_position(n as u64),
    ))?;
    progress.finish_and_clear();
    let report = &outcome.report;
    println!(
        "{layer}: read {} features from {} ({:?}, {}); imported {} ({inserted} new, {updated} updated) into {}, rejected {}",
        report.read,
        file.display(),
        report.format,
        report.crs,
        outcome.features.len(),
        redacted(url),
        report.rejected.len(),
    );
    Ok(())
}

/// The configuration file and variables, with the command line flags winning over both.
fn serve_config(flags: ServeFlags, config: Option<PathBuf>) -> Result<Config, BoxError> {
    let mut cfg = Config::load(config.as_deref(), std::env::vars())?;
    // Command line flags win over the file and TERRIENS_<TABLE>_<KEY> variables.
    cfg.server.data = flags.data.or(cfg.server.data);
    cfg.server.addr = flags.addr.or(cfg.server.addr);
    cfg.auth.keys_file = flags.keys.or(cfg.auth.keys_file);
    cfg.source.url = flags.source.or(cfg.source.url);
    cfg.source.roads = flags.roads.or(cfg.source.roads);
    if cfg.source.url.is_some() && cfg.server.data.is_some() {
        return Err(
            "serve either a data directory (--data) or a database (--source), not both; \
                    with --source, --roads names the directory of the road graphs"
                .into(),
        );
    }
    Ok(cfg)
}

/// The API keys file, or no keys (every request anonymous).
fn load_keys(cfg: &Config) -> Result<KeyStore, BoxError> {
    Ok(match &cfg.auth.keys_file {
        Some(path) => {
            let k = KeyStore::load(path)?;
            tracing::info!(file = %path.display(), keys = k.len(), "API keys loaded");
            k
        }
        None => {
            tracing::warn!(
                "no keys file (--keys or auth.keys_file): every request is anonymous, writes answer 401"
            );
            KeyStore::empty()
        }
    })
}

/// The data directory's layers with the write log replayed, or the embedded demo data.
fn load_layers(cfg: &Config) -> Result<(Snapshot, Option<Recovery>), BoxError> {
    let (snapshot, recovery) = match cfg.server.data.clone() {
        Some(path) => {
            let dir = DataDir::open(path)?;
            tracing::info!(dir = %dir.path().display(), "loading layers and replaying the write log");
            let rec = recover(dir)?;
            for cut in &rec.cut {
                tracing::warn!(%cut, "cut a torn last record off the write log (a crash mid-append: never acknowledged)");
            }
            tracing::info!(records = rec.replayed, "write log replayed");
            (rec.snapshot.clone(), Some(rec))
        }
        None => {
            tracing::info!(
                "no --data: serving the embedded synthetic demo data (in memory; writes are refused)"
            );
            (embedded_snapshot()?, None)
        }
    };
    for d in snapshot.layers() {
        tracing::info!(layer = %d.layer(), features = d.len(), "layer loaded");
    }
    Ok((snapshot, recovery))
}

/// The state with the road graphs, every feature snapped to the roads now rather than on the
/// first drive-time query: the snaps persisted in the data directory are loaded where they
/// match the data, the rest snapped and persisted (in the background).
fn with_prepared_routing(
    state: AppState,
    routing: Routing,
    snapshot: &Snapshot,
    dir: Option<&std::path::Path>,
    loading: &api::Loading,
) -> AppState {
    for p in routing.profiles() {
        if let Ok(e) = routing.engine(p) {
            let g = e.graph();
            tracing::info!(profile = %p, nodes = g.node_count(), segments = g.segment_count(), source = g.source(), "road graph loaded");
        }
    }
    let pairs = routing.profiles().count() * snapshot.layers().count();
    loading.step("snaps", Some(pairs as u64));
    let prepared = routing.prepare_from(dir, snapshot, &|_| loading.advance());
    let from_file = prepared.iter().filter(|p| p.from_file).count();
    tracing::info!(
        from_file,
        snapped = prepared.len() - from_file,
        "feature snaps ready"
    );
    let state = state.with_routing(routing);
    let mut stale: Vec<Layer> = prepared
        .iter()
        .filter(|p| !p.from_file)
        .map(|p| p.layer)
        .collect();
    stale.sort();
    stale.dedup();
    if let (Some(dir), Some(routing), false) = (dir, state.routing.clone(), stale.is_empty()) {
        let (dir, snapshot) = (dir.to_path_buf(), snapshot.clone());
        std::thread::spawn(move || routing.persist_snaps(&dir, &snapshot, &stale));
    }
    state
}

/// Starts the single writer on a recovered data directory (none on the demo data).
fn start_writer(
    state: AppState,
    recovery: Option<Recovery>,
    options: WriterOptions,
) -> Result<(AppState, Option<Arc<Writer>>), BoxError> {
    Ok(match recovery {
        Some(rec) => {
            let w = Arc::new(Writer::start(rec, state.snapshot.clone(), options)?);
            (state.with_writer(w.clone()), Some(w))
        }
        None => (state, None),
    })
}

/// Serves until shutdown; once requests are drained, stops the writer, which flushes the log
/// (and compacts).
fn run_until_shutdown(
    rt: &tokio::runtime::Runtime,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    writer: Option<Arc<Writer>>,
) -> Result<(), BoxError> {
    let served = rt.block_on(server);
    // Requests are drained: stop the writer, which flushes the log (and compacts).
    if let Some(w) = writer {
        w.shutdown();
    }
    served??;
    Ok(())
}

/// `terriens log check|salvage`.
fn log_command(action: LogAction) -> ExitCode {
    let run = || -> Result<bool, BoxError> {
        match action {
            LogAction::Check { data } => {
                let reports = terriens::store::check_logs(&data)?;
                if reports.is_empty() {
                    println!("{}: no write log", data.display());
                }
                for r in &reports {
                    print!("{r}");
                }
                Ok(reports.iter().all(|r| !r.refused))
            }
            LogAction::Salvage { data } => {
                let dir = DataDir::open(data)?;
                let done = terriens::edit::salvage_log(&dir)?;
                if done.is_empty() {
                    println!("nothing to salvage: every log holds whole records only");
                }
                for line in done {
                    println!("{line}");
                }
                Ok(true)
            }
        }
    };
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn keys_command(action: KeysAction) -> Result<(), BoxError> {
    match action {
        KeysAction::Add {
            role,
            partners,
            label,
            keys,
        } => {
            let key = auth::add_key(&keys, role, partners, label)?;
            eprintln!(
                "added a {role} key{} to {}; it is shown once, keep it:",
                if partners {
                    " with the partners right"
                } else {
                    ""
                },
                keys.display()
            );
            println!("{key}");
        }
        KeysAction::List { keys } => {
            for k in auth::list_keys(&keys)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    k.id,
                    k.role,
                    if k.partners { "partners" } else { "-" },
                    k.created.as_deref().unwrap_or("-"),
                    k.label.as_deref().unwrap_or(""),
                );
            }
        }
        KeysAction::Remove { id, keys } => {
            auth::remove_key(&keys, &id)?;
            eprintln!(
                "removed key {id} from {}; restart the server to apply",
                keys.display()
            );
        }
    }
    Ok(())
}

fn import_roads(
    file: &std::path::Path,
    data: &std::path::Path,
    profiles: &[ProfileId],
    crs: Option<&str>,
) -> Result<(), BoxError> {
    let dir = DataDir::open(data)?;
    let crs = crs.map(Crs::parse).transpose()?;
    let started = std::time::Instant::now();
    let net = RawNetwork::read_file(file, crs.as_ref())?;
    println!(
        "{}: read {} nodes and {} roads in {:.1} s ({} ways skipped as not roads, {} references to missing nodes)",
        file.display(),
        net.lonlat.len(),
        net.ways.len(),
        started.elapsed().as_secs_f64(),
        net.ways_skipped,
        net.missing_node_refs,
    );
    for &profile in profiles {
        let graph = RoadGraph::build(&net, profile, &BuildOptions::default())?;
        let path = dir.path().join(graph_file_name(profile));
        write_graph(&graph, &path)?;
        println!(
            "{profile}: {} nodes, {} segments, {} directed edges, {} island nodes → {}",
            graph.node_count(),
            graph.segment_count(),
            graph.edge_count(),
            graph.island_nodes(),
            path.display()
        );
    }
    Ok(())
}

/// Reads and validates a file to import, printing warnings, rejections and hints; an error
/// when nothing can be imported.
fn validated_import(
    file: &std::path::Path,
    opts: &ImportOptions,
) -> Result<terriens::ingest::ImportOutcome, BoxError> {
    let layer = opts.layer;
    let progress = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} features ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    progress.set_message(format!("validating {}", file.display()));
    let outcome = import_file(file, opts, &progress)?;
    let report = &outcome.report;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    const SHOWN: usize = 50;
    for r in report.rejected.iter().take(SHOWN) {
        eprintln!("rejected {r}");
    }
    if report.rejected.len() > SHOWN {
        eprintln!("… and {} more rejected", report.rejected.len() - SHOWN);
    }
    let holders_only = layer == Layer::WasteDeposits
        && !report.rejected.is_empty()
        && report.rejected.iter().all(|r| {
            matches!(
                r.reason,
                terriens::ingest::Reject::MissingField {
                    field: "material" | "quantity"
                }
            )
        });
    if holders_only {
        eprintln!(
            "hint: every rejection is a missing material or quantity. If the file lists establishments whose \
             streams are not characterised yet (e.g. IREP), import them with --as-holders."
        );
    }
    if outcome.features.is_empty() {
        // Nothing to write: the layer stays as it was, and the exit status says so.
        return Err(if report.read == 0 {
            format!(
                "{layer}: nothing imported: {} holds no features ({:?})",
                file.display(),
                report.format
            )
        } else {
            format!(
                "{layer}: nothing imported: all {} features of {} were rejected (first: {})",
                report.read,
                file.display(),
                report.rejected[0]
            )
        }
        .into());
    }
    Ok(outcome)
}

fn import(
    file: &std::path::Path,
    data: &std::path::Path,
    mut opts: ImportOptions,
    replace: bool,
) -> Result<(), BoxError> {
    let dir = DataDir::open(data)?;
    let layer = opts.layer;
    // The layer as a server would serve it: files plus the write log. Locks the directory.
    let recovery = recover(dir)?;
    let existing = recovery.snapshot.layer(layer).clone();
    opts.first_free_id = existing.ids().iter().max().map_or(1, |m| m + 1);
    let mut outcome = validated_import(file, &opts)?;
    let imported = outcome.features.len();
    let report = &outcome.report;
    // `commune_insee` and `territory` from the location, where the file lacks them.
    let derived =
        terriens::territory::derive_location(&mut outcome.features, layer, &recovery.snapshot);
    for (field, n) in &derived {
        println!("{layer}: {field} derived from the location for {n} features");
    }
    let (added, updated, total) = {
        let mut features: Vec<_> = if replace {
            Vec::new()
        } else {
            existing.features().collect()
        };
        let updated = outcome
            .features
            .iter()
            .filter(|f| !replace && existing.row_of(f.id).is_some())
            .count();
        features.extend(outcome.features);
        let data = LayerData::build(layer, features);
        let total = data.len();
        let snapshot = recovery.snapshot.with_layer(Arc::new(data));
        // Saves this layer and those the log changed, then empties the log.
        recovery.checkpoint(&snapshot, &[layer])?;
        (imported - updated, updated, total)
    };
    println!(
        "{layer}: read {} features from {} ({:?}, {}); imported {imported} ({added} new, {updated} updated), rejected {}; the layer now holds {total} features",
        report.read,
        file.display(),
        report.format,
        report.crs,
        report.rejected.len(),
    );
    Ok(())
}

fn territory_command(action: TerritoryAction) -> ExitCode {
    let TerritoryAction::Build {
        epci,
        commune,
        boundary,
        name,
        from,
        out,
        buffer_km,
        profile,
    } = action;
    let opts = terriens::territory::BuildOptions {
        selection: match (epci, boundary) {
            (Some(s), _) => terriens::territory::Selection::Epci(s),
            (None, Some(b)) => terriens::territory::Selection::Boundary(b),
            (None, None) => terriens::territory::Selection::Communes(commune),
        },
        name,
        from,
        out,
        buffer_km,
        profiles: profile,
    };
    let progress = ProgressBar::new_spinner();
    progress.enable_steady_tick(Duration::from_millis(200));
    let result = terriens::territory::build(&opts, &progress);
    progress.finish_and_clear();
    match result {
        Ok(m) => {
            use std::io::Write;
            // A closed pipe (`| head`) is not an error of the build.
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{}", terriens::territory::report_text(&m));
            let imported: usize = m.layers.values().map(|l| l.imported).sum();
            if imported == 0 {
                eprintln!("error: nothing was imported");
                return ExitCode::FAILURE;
            }
            println!("serve it: terriens serve --data {}", opts.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn import_bmo(
    bmo: &std::path::Path,
    bassins: &std::path::Path,
    cog: &std::path::Path,
    data: &std::path::Path,
) -> Result<(), BoxError> {
    use terriens::ingest::bmo;
    let survey = bmo::read_bmo(bmo)?;
    let table = bmo::read_bassins(bassins)?;
    let population = bmo::bassin_population_from_cog(cog, &table)?;
    println!(
        "{}: {} rows, {} occupations, year {}; {}: {} communes",
        bmo.display(),
        survey.rows.len(),
        survey.occupations.len(),
        survey.year.map_or("unknown".into(), |y| y.to_string()),
        bassins.display(),
        table.communes.len(),
    );
    let dir = DataDir::open(data)?;
    let path = dir.path().to_path_buf();
    let recovery = recover(dir)?;
    let existing = recovery.snapshot.layer(Layer::Catchments).clone();
    if existing.is_empty() {
        return Err(format!(
            "{}: the catchments layer is empty; import the communes first (terriens import --layer catchments FILE)",
            path.display()
        )
        .into());
    }
    let mut features: Vec<_> = existing.features().collect();
    let report = bmo::apply_to_catchments(&mut features, &survey, &table, &population);
    for f in &mut features {
        f.version += 1;
    }
    let snapshot = recovery
        .snapshot
        .with_layer(Arc::new(LayerData::build(Layer::Catchments, features)));
    recovery.checkpoint(&snapshot, &[Layer::Catchments])?;
    bmo::OccupationTable::of_survey(&survey).write(&path)?;
    println!("{report}");
    if report.communes_matched == 0 {
        return Err(
            "no catchment's zone_code is in the commune → bassin table: nothing joined".into(),
        );
    }
    Ok(())
}

fn export_pmtiles(
    out: PathBuf,
    minzoom: u8,
    maxzoom: u8,
    layers: &str,
    data: Option<PathBuf>,
) -> Result<(), BoxError> {
    if minzoom > maxzoom || maxzoom > terriens::tiles::MAX_ZOOM {
        return Err(format!(
            "--minzoom {minzoom} --maxzoom {maxzoom}: need minzoom <= maxzoom <= {}",
            terriens::tiles::MAX_ZOOM
        )
        .into());
    }
    let set = TileSet::parse(layers, &[], &[], terriens::model::Audience::Public)?;
    let (snapshot, dir) = load(data)?;
    let mut tiles = terriens::tiles::TileConfig::default();
    if let Some(dir) = &dir {
        tiles = tiles.for_data_dir(Manifest::read(dir.path())?.as_ref());
    }
    let engine = TileEngine::new(tiles);
    let spinner = ProgressBar::new_spinner()
        .with_message("preparing tiles (projection, generalisation, clusters)");
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let prepared = engine.prepared(&snapshot);
    spinner.finish_and_clear();
    let progress = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} tiles ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    progress.set_message(format!("rendering {}", set.name()));
    let opts = ExportOptions::new(out.clone(), minzoom, maxzoom);
    let report =
        terriens::tiles::export_pmtiles(&prepared, &set, engine.config(), &opts, &progress)?;
    progress.finish_and_clear();
    println!(
        "{}: {} tiles ({} directory entries, {} distinct contents, {} leaf directories), {} bytes, zooms {minzoom}..={maxzoom}",
        out.display(),
        report.addressed_tiles,
        report.tile_entries,
        report.tile_contents,
        report.leaf_directories,
        report.file_bytes,
    );
    Ok(())
}
