//! The committed demo data set (`fixtures/*.geojson`), embedded in the binary: what
//! `terriens serve` and `terriens export-pmtiles` serve without a data directory. The
//! generator that writes these files lives in the `terriens-demo` crate.

use indicatif::ProgressBar;

use crate::index::{LayerData, Snapshot};
use crate::ingest::{Format, ImportOptions, IngestError, import_bytes};
use crate::model::Layer;

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
