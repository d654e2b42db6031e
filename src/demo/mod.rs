//! Synthetic demo data: the deterministic generator (`terriens fixtures`) and the embedded
//! fixtures the server starts on when it is given no data directory.
//!
//! Steps: draw the territory (boundary, Voronoi communes, industrial zones) → draw the layers
//! and the road network ([`roads`]) on it → write GeoJSON fixtures and `roads.osm.gz`, or a
//! data directory of FlatGeobuf layers and road graphs for large scales.
//! Everything is labelled synthetic (`source`), with made-up names and codes.

mod layers;
pub mod roads;
mod territory;

use std::io::{BufWriter, Write};
use std::path::Path;

use indicatif::ProgressBar;
use serde_json::{Map, Value as Json};

use crate::geo_util::{Crs, Reprojector};
use crate::index::{LayerData, Snapshot};
use crate::ingest::{
    Format, ImportOptions, IngestError, RawFeature, Rules, import_bytes, validate_feature,
};
use crate::model::{Layer, geometry_to_json};
use crate::routing::{BuildOptions, ProfileId, RawNetwork, Routing, RoutingError};
use crate::store::{DataDir, StoreError};

pub use layers::{Counts, GenFeature, OCCUPATIONS, generate_layers};
pub use roads::{EMBEDDED_ROADS, ROADS_FILE, generate_roads, write_roads};
pub use territory::{LocalFrame, SOURCE, Territory, Town, Zone};

/// Seed of the committed fixtures.
pub const DEFAULT_SEED: u64 = 76;

/// The committed fixtures, embedded in the binary (GeoJSON, one file per layer).
pub const EMBEDDED: [(Layer, &[u8]); 5] = [
    (Layer::Plots, include_bytes!("../../fixtures/plots.geojson")),
    (
        Layer::Buildings,
        include_bytes!("../../fixtures/buildings.geojson"),
    ),
    (
        Layer::WasteDeposits,
        include_bytes!("../../fixtures/waste_deposits.geojson"),
    ),
    (
        Layer::Catchments,
        include_bytes!("../../fixtures/catchments.geojson"),
    ),
    (
        Layer::Territories,
        include_bytes!("../../fixtures/territories.geojson"),
    ),
];

/// Why generating or loading demo data failed.
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

/// Imports the embedded fixtures through the regular importer (strict: they must be valid).
pub fn embedded_snapshot() -> Result<Snapshot, IngestError> {
    let mut layers: Vec<LayerData> = Vec::new();
    for (layer, bytes) in EMBEDDED {
        let mut opts = ImportOptions::new(layer);
        opts.strict = true;
        let out = import_bytes(bytes, Format::GeoJson, &opts, &ProgressBar::hidden())?;
        layers.push(LayerData::build(layer, out.features));
    }
    Ok(Snapshot::new(1, layers))
}

/// Road graphs of every profile built from the embedded demo road network (demo mode).
pub fn embedded_routing() -> Result<Routing, RoutingError> {
    let net = RawNetwork::read_bytes(EMBEDDED_ROADS, ROADS_FILE, None)?;
    Routing::from_network(&net, &ProfileId::ALL, &BuildOptions::default())
}

/// Where `terriens fixtures` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// One GeoJSON FeatureCollection per layer (the committed fixtures).
    GeoJson,
    /// A data directory of FlatGeobuf layers that `terriens serve --data` loads directly
    /// (for large scales, where GeoJSON would be hundreds of megabytes).
    Store,
}

/// Writes the demo data set for a scale and seed into `out`.
pub fn generate(out: &Path, scale: u32, seed: u64, format: OutputFormat) -> Result<(), DemoError> {
    let territory = Territory::generate(seed, scale);
    let layers = generate_layers(&territory, scale, seed);
    match format {
        OutputFormat::GeoJson => {
            std::fs::create_dir_all(out).map_err(|source| DemoError::Io {
                path: out.display().to_string(),
                source,
            })?;
            for (layer, features) in &layers {
                let path = out.join(format!("{}.geojson", layer.id()));
                write_geojson(&path, features).map_err(|source| DemoError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
                eprintln!(
                    "{}: {} features → {}",
                    layer,
                    features.len(),
                    path.display()
                );
            }
            let path = write_roads(out, &territory, seed).map_err(|source| DemoError::Io {
                path: out.join(ROADS_FILE).display().to_string(),
                source,
            })?;
            eprintln!("roads: {}", path.display());
        }
        OutputFormat::Store => {
            let dir = DataDir::open(out)?;
            for (layer, features) in layers {
                let n = features.len();
                let data = build_layer(layer, features)?;
                dir.save_layer(&data)?;
                eprintln!(
                    "{layer}: {n} features → {}",
                    dir.layer_path(layer).display()
                );
            }
            // The road network goes in as graphs, as `terriens import-roads` would write them.
            let xml = generate_roads(&territory, seed);
            let net = RawNetwork::read_bytes(xml.as_bytes(), "demo roads.osm", None)?;
            for profile in ProfileId::ALL {
                let graph =
                    crate::routing::RoadGraph::build(&net, profile, &BuildOptions::default())?;
                let path = dir.path().join(crate::routing::graph_file_name(profile));
                crate::routing::write_graph(&graph, &path)?;
                eprintln!(
                    "roads ({profile}): {} nodes → {}",
                    graph.node_count(),
                    path.display()
                );
            }
        }
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
