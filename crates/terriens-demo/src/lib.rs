//! Synthetic demo data: the deterministic generator behind the `terriens-fixtures` binary, which
//! writes the committed fixtures (`fixtures/`) the server embeds and serves when it is given
//! no data directory (see `terriens::store::embedded_snapshot` and
//! `terriens::routing::embedded_routing`), and large data sets for benchmarks.
//!
//! Steps: draw the territory (boundary, Voronoi communes, industrial zones) → draw the layers
//! and the road network ([`roads`]) on it → write GeoJSON fixtures and `roads.osm.gz`, or a
//! data directory of FlatGeobuf layers and road graphs for large scales.
//! Everything is labelled synthetic (`source`), with made-up names and codes.

mod layers;
pub mod roads;
mod territory;

use std::fmt;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use serde_json::{Map, Value as Json};

use terriens::geo_util::{Crs, Reprojector};
use terriens::index::{LayerData, Snapshot};
use terriens::ingest::{IngestError, RawFeature, Rules, validate_feature};
use terriens::model::{Layer, geometry_to_json};
use terriens::routing::{
    BuildOptions, ProfileId, RawNetwork, RoadGraph, RoutingError, graph_file_name, write_graph,
};
use terriens::store::{DataDir, StoreError};

pub use layers::{Counts, GenFeature, OCCUPATIONS, generate_layers};
pub use roads::{generate_roads, write_roads};
pub use terriens::routing::{EMBEDDED_ROADS, ROADS_FILE, embedded_routing};
pub use terriens::store::{EMBEDDED, embedded_snapshot};
pub use territory::{LocalFrame, SOURCE, Territory, Town, Zone};

/// Seed of the committed fixtures.
pub const DEFAULT_SEED: u64 = 76;

/// Why generating demo data failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Routing(#[from] RoutingError),
    #[error("generated feature {id} of {layer} is invalid: {reason}")]
    Invalid {
        layer: Layer,
        id: u64,
        reason: String,
    },
}

/// Where `terriens-fixtures` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// One GeoJSON FeatureCollection per layer (the committed fixtures).
    GeoJson,
    /// A data directory of FlatGeobuf layers that `terriens serve --data` loads directly
    /// (for large scales, where GeoJSON would be hundreds of megabytes).
    Store,
}

/// One file the generator wrote; its `Display` is the progress line the binary prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// A layer's features (GeoJSON or FlatGeobuf).
    Layer {
        layer: Layer,
        features: usize,
        path: PathBuf,
    },
    /// The road network as gzip-compressed OSM XML.
    Roads { path: PathBuf },
    /// The road graph of one profile.
    Graph {
        profile: ProfileId,
        nodes: usize,
        path: PathBuf,
    },
}

impl fmt::Display for Written {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Written::Layer {
                layer,
                features,
                path,
            } => write!(f, "{layer}: {features} features → {}", path.display()),
            Written::Roads { path } => write!(f, "roads: {}", path.display()),
            Written::Graph {
                profile,
                nodes,
                path,
            } => write!(f, "roads ({profile}): {nodes} nodes → {}", path.display()),
        }
    }
}

/// Writes the demo data set for a scale and seed into `out`, logging each file written
/// (`tracing`, info).
pub fn generate(out: &Path, scale: u32, seed: u64, format: OutputFormat) -> Result<(), DemoError> {
    generate_with(out, scale, seed, format, |w| tracing::info!("{w}"))
}

/// Writes the demo data set for a scale and seed into `out`, telling `written` of each file
/// as soon as it is written.
pub fn generate_with(
    out: &Path,
    scale: u32,
    seed: u64,
    format: OutputFormat,
    mut written: impl FnMut(&Written),
) -> Result<(), DemoError> {
    let territory = Territory::generate(seed, scale);
    let layers = generate_layers(&territory, scale, seed);
    match format {
        OutputFormat::GeoJson => write_geojson_set(out, &territory, seed, &layers, &mut written),
        OutputFormat::Store => write_store(out, &territory, seed, layers, &mut written),
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// GeoJSON output: one FeatureCollection per layer and `roads.osm.gz`.
fn write_geojson_set(
    out: &Path,
    territory: &Territory,
    seed: u64,
    layers: &[(Layer, Vec<GenFeature>)],
    written: &mut impl FnMut(&Written),
) -> Result<(), DemoError> {
    std::fs::create_dir_all(out).map_err(io_error(out))?;
    for (layer, features) in layers {
        let path = out.join(format!("{}.geojson", layer.id()));
        write_geojson(&path, features).map_err(io_error(&path))?;
        written(&Written::Layer {
            layer: *layer,
            features: features.len(),
            path,
        });
    }
    let path = write_roads(out, territory, seed).map_err(io_error(&out.join(ROADS_FILE)))?;
    written(&Written::Roads { path });
    Ok(())
}

/// Store output: a data directory of FlatGeobuf layers and the road graph of every profile,
/// as `terriens import-roads` would write them.
fn write_store(
    out: &Path,
    territory: &Territory,
    seed: u64,
    layers: Vec<(Layer, Vec<GenFeature>)>,
    written: &mut impl FnMut(&Written),
) -> Result<(), DemoError> {
    let dir = DataDir::open(out)?;
    for (layer, features) in layers {
        let n = features.len();
        let data = build_layer(layer, features)?;
        dir.save_layer(&data)?;
        written(&Written::Layer {
            layer,
            features: n,
            path: dir.layer_path(layer),
        });
    }
    let xml = generate_roads(territory, seed);
    let net = RawNetwork::read_bytes(xml.as_bytes(), "demo roads.osm", None)?;
    for profile in ProfileId::ALL {
        let graph = RoadGraph::build(&net, profile, &BuildOptions::default())?;
        let path = dir.path().join(graph_file_name(profile));
        write_graph(&graph, &path)?;
        written(&Written::Graph {
            profile,
            nodes: graph.node_count(),
            path,
        });
    }
    Ok(())
}

/// Generates the data set in memory, validated like an import (for benchmarks and tests).
pub fn generate_snapshot(scale: u32, seed: u64) -> Result<Snapshot, DemoError> {
    let territory = Territory::generate(seed, scale);
    let layers = generate_layers(&territory, scale, seed)
        .into_iter()
        .map(|(layer, features)| build_layer(layer, features))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Snapshot::new(1, layers))
}

fn build_layer(layer: Layer, features: Vec<GenFeature>) -> Result<LayerData, DemoError> {
    let wgs84 = Reprojector::to_wgs84(&Crs::Wgs84).map_err(IngestError::from)?;
    let rules = Rules {
        layer,
        as_holders: false,
    };
    let progress = ProgressBar::new(features.len() as u64);
    progress.set_message(format!("validating {layer}"));
    let mut out = Vec::with_capacity(features.len());
    for (index, f) in features.into_iter().enumerate() {
        progress.inc(1);
        let id = f.id;
        let raw = RawFeature {
            index,
            id: None,
            geometry: Ok(f.geometry),
            properties: f.properties,
        };
        let feature = validate_feature(raw, id, rules, &wgs84).map_err(|e| DemoError::Invalid {
            layer,
            id,
            reason: e.to_string(),
        })?;
        out.push(feature);
    }
    progress.finish_and_clear();
    Ok(LayerData::build(layer, out))
}

/// Writes a FeatureCollection, one feature per line (diffs stay readable).
fn write_geojson(path: &Path, features: &[GenFeature]) -> std::io::Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    w.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[\n")?;
    for (i, f) in features.iter().enumerate() {
        let mut obj = Map::new();
        obj.insert("type".into(), Json::from("Feature"));
        obj.insert("id".into(), Json::from(f.id));
        obj.insert("geometry".into(), geometry_to_json(&f.geometry));
        obj.insert("properties".into(), Json::Object(f.properties.clone()));
        if i > 0 {
            w.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut w, &Json::Object(obj))?;
    }
    w.write_all(b"\n]}\n")?;
    w.flush()
}
