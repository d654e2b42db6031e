//! Tile settings: MVT extent and buffer, the size budget, generalisation zooms, the cache size.

use std::collections::BTreeMap;

use crate::model::Layer;
use crate::store::Manifest;

/// How tiles are cut and generalised.
#[derive(Debug, Clone)]
pub struct TileConfig {
    /// MVT extent: tile units along a side.
    pub extent: u32,
    /// Buffer around the tile, in tile units, that geometries are kept in (so strokes and
    /// symbols at tile edges join up).
    pub buffer: u32,
    /// Largest uncompressed tile, bytes. Above it features are left out by priority.
    pub budget_bytes: usize,
    /// Up to this zoom features are generalised (simplified, merged, clustered) at load; above
    /// it tiles use the full geometries.
    pub generalise_max_zoom: u8,
    /// Cluster grid cells per tile side (16 → cells of 16 px on 256 px tiles).
    pub cluster_cells_per_tile: u32,
    /// Largest total size of cached tile bodies, bytes.
    pub cache_bytes: usize,
    /// Zoom up to which TileJSON invites clients to ask for tiles (they overzoom beyond);
    /// raised for a layer that is complete only from a higher zoom.
    pub max_zoom: u8,
    /// Attribution of data that has no credit of its own (the demo data, or a data directory
    /// without a territory manifest).
    pub attribution: String,
    /// Credit line of each layer (from the territory manifest, or the configuration); a tile
    /// set's TileJSON and a PMTiles export credit the layers they hold ([`Self::attribution_of`]).
    pub layer_attribution: BTreeMap<Layer, String>,
}

/// The general attribution of the embedded demo data.
pub const DEMO_ATTRIBUTION: &str = "terriens; demo data is synthetic";

impl TileConfig {
    /// The credits of a data directory: its layers credited as its territory manifest says
    /// (unless the configuration credits them already), and no claim that the data is the
    /// synthetic demo.
    pub fn for_data_dir(mut self, manifest: Option<&Manifest>) -> TileConfig {
        if self.attribution == DEMO_ATTRIBUTION {
            self.attribution = "terriens".to_string();
        }
        if let Some(m) = manifest {
            for (layer, credit) in m.attributions() {
                self.layer_attribution.entry(layer).or_insert(credit);
            }
        }
        self
    }

    /// The credit line of a set of layers: the distinct credits of those that have one, in
    /// order, then `terriens`; the general attribution when none has one.
    pub fn attribution_of(&self, layers: impl IntoIterator<Item = Layer>) -> String {
        let mut parts: Vec<&str> = Vec::new();
        for l in layers {
            if let Some(a) = self.layer_attribution.get(&l) {
                for part in a.split("; ") {
                    if !parts.contains(&part) {
                        parts.push(part);
                    }
                }
            }
        }
        if parts.is_empty() {
            return self.attribution.clone();
        }
        parts.push("terriens");
        parts.join("; ")
    }
}

impl Default for TileConfig {
    fn default() -> Self {
        TileConfig {
            extent: 4096,
            buffer: 64,
            budget_bytes: 500_000,
            generalise_max_zoom: 12,
            cluster_cells_per_tile: 16,
            cache_bytes: 256 << 20,
            max_zoom: 14,
            attribution: DEMO_ATTRIBUTION.to_string(),
            layer_attribution: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribution_of_credits_each_source_once() {
        let mut cfg = TileConfig::default();
        assert_eq!(cfg.attribution_of([Layer::Plots]), cfg.attribution);
        cfg.layer_attribution
            .insert(Layer::Plots, "Cerema; IGN".into());
        cfg.layer_attribution
            .insert(Layer::Catchments, "IGN; INSEE COG".into());
        assert_eq!(
            cfg.attribution_of([Layer::Plots, Layer::Buildings, Layer::Catchments]),
            "Cerema; IGN; INSEE COG; terriens"
        );
        assert_eq!(cfg.attribution_of([Layer::Buildings]), cfg.attribution);
    }
}
