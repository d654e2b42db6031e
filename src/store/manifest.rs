//! The territory manifest (`territory.json` in a data directory): what a `territory build`
//! made — which territory, its member communes and employment areas, every source file with
//! its producer, licence and vintage, and per layer what was imported, rejected and missing.
//!
//! It is the one place the credits of a data directory live: TileJSON, the map page, PMTiles
//! exports and the diagnostic read their attribution and vintages from it
//! ([`Manifest::attribution`]), so a real territory never shows the demo data's credits.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{StoreError, io};
use crate::model::Layer;

/// File name of the manifest in a data directory.
pub const MANIFEST_FILE: &str = "territory.json";

/// Who made a source, under which licence, and how to credit it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// What the file is (e.g. `cartofriches`, `irep`, `bmo`).
    pub kind: String,
    /// File name as found in the source folder.
    pub file: String,
    pub producer: String,
    pub licence: String,
    /// The data's date or year, as the producer states it (e.g. `2023-10-02`, `2024`).
    pub vintage: String,
    /// The credit line to show with anything drawn from it.
    pub attribution: String,
}

/// What became of one layer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerReport {
    /// Source kinds the layer was filled from.
    pub sources: Vec<String>,
    /// Files read for the layer.
    #[serde(default)]
    pub files: Vec<String>,
    /// Features read from the files.
    pub read: usize,
    /// Features kept (inside the territory and valid).
    pub imported: usize,
    /// Valid features left out because they lie outside the territory and its buffer.
    pub outside: usize,
    /// Rejected features by reason (reason → count).
    pub rejected: BTreeMap<String, usize>,
    /// Fields derived from the location (field → number of features given a value).
    pub derived: BTreeMap<String, usize>,
    /// What could not be done, in words.
    pub notes: Vec<String>,
}

/// The road graphs built.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoadsReport {
    /// Source file, if any extract covered the territory.
    pub file: Option<String>,
    /// Profile → drivable nodes.
    pub nodes: BTreeMap<String, usize>,
    /// Share of the territory's bounding box the extract's nodes span (0–1).
    pub bbox_share: Option<f64>,
    pub notes: Vec<String>,
}

/// A BMO employment area (bassin d'emploi) meeting the territory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bassin {
    pub code: String,
    pub name: String,
    /// Member communes of the territory in this bassin.
    pub communes_in_territory: usize,
    /// Communes of the bassin in all.
    pub communes_total: usize,
    /// Population of the territory's communes in the bassin over the bassin's population.
    pub population_share: f64,
}

/// A member commune.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commune {
    pub insee: String,
    pub name: String,
    pub population: Option<u64>,
    pub bassin: Option<String>,
}

/// The manifest of a territory data directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// SIREN of the EPCI; for a group of communes, none.
    pub siren: Option<String>,
    pub name: String,
    /// `epci` (CC, CA, CU, ME given in `epci_type`) or `communes`.
    pub kind: String,
    pub epci_type: Option<String>,
    pub population: Option<u64>,
    pub communes: Vec<Commune>,
    pub bassins: Vec<Bassin>,
    /// Where the boundary came from (`epci file`, `union of commune polygons`, none).
    pub boundary_source: Option<String>,
    /// The EPCI boundary file read, if the boundary came from one.
    #[serde(default)]
    pub boundary_file: Option<String>,
    pub buffer_km: f64,
    /// When the build ran (RFC 3339).
    pub built_at: String,
    pub sources: Vec<Source>,
    pub layers: BTreeMap<String, LayerReport>,
    pub roads: RoadsReport,
    /// Inputs the build looked for and did not find, in words.
    pub missing: Vec<String>,
    /// Files of the folder that were not recognised.
    pub ignored_files: Vec<String>,
}

impl Manifest {
    /// Reads `DIR/territory.json`; `None` when there is none.
    pub fn read(dir: &Path) -> Result<Option<Manifest>, StoreError> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("read", &path)(e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                path,
                reason: e.to_string(),
            })
    }

    /// Writes `DIR/territory.json` atomically (temporary file, fsync, rename).
    pub fn write(&self, dir: &Path) -> Result<(), StoreError> {
        let path = dir.join(MANIFEST_FILE);
        let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
        let mut bytes = serde_json::to_vec_pretty(self).expect("a manifest serialises");
        bytes.push(b'\n');
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io("create", &tmp))?;
            f.write_all(&bytes).map_err(io("write", &tmp))?;
            f.sync_all().map_err(io("fsync", &tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(io("rename", &tmp))?;
        super::sync_dir(dir)
    }

    /// The credit line of a layer: the attributions of the sources it was filled from, in
    /// order, without repeats; `None` when the manifest does not name the layer.
    pub fn attribution(&self, layer: Layer) -> Option<String> {
        let report = self.layers.get(layer.id())?;
        let mut lines: Vec<&str> = Vec::new();
        for kind in &report.sources {
            for s in self.sources.iter().filter(|s| &s.kind == kind) {
                if !lines.contains(&s.attribution.as_str()) {
                    lines.push(&s.attribution);
                }
            }
        }
        (!lines.is_empty()).then(|| lines.join("; "))
    }

    /// Attribution of every layer the manifest names (layer → credit line).
    pub fn attributions(&self) -> BTreeMap<Layer, String> {
        Layer::ALL
            .iter()
            .filter_map(|&l| self.attribution(l).map(|a| (l, a)))
            .collect()
    }

    /// The vintage of a source kind (the first file of that kind).
    pub fn vintage_of(&self, kind: &str) -> Option<&str> {
        self.sources
            .iter()
            .find(|s| s.kind == kind)
            .map(|s| s.vintage.as_str())
    }

    /// Whether a road graph was built.
    pub fn has_roads(&self) -> bool {
        !self.roads.nodes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let mut m = Manifest {
            siren: Some("200084952".into()),
            name: "CU Le Havre Seine Métropole".into(),
            kind: "epci".into(),
            buffer_km: 5.0,
            ..Manifest::default()
        };
        for (kind, att) in [
            ("cartofriches", "Cerema – Cartofriches"),
            ("communes", "IGN – ADMIN EXPRESS"),
            ("cog", "INSEE COG"),
        ] {
            m.sources.push(Source {
                kind: kind.into(),
                file: format!("{kind}.csv"),
                producer: "x".into(),
                licence: "Licence Ouverte 2.0".into(),
                vintage: "2023".into(),
                attribution: att.into(),
            });
        }
        m.layers.insert(
            "plots".into(),
            LayerReport {
                sources: vec!["cartofriches".into(), "communes".into()],
                ..LayerReport::default()
            },
        );
        m.layers.insert(
            "catchments".into(),
            LayerReport {
                sources: vec!["communes".into(), "cog".into(), "communes".into()],
                ..LayerReport::default()
            },
        );
        m
    }

    #[test]
    fn attribution_joins_the_layer_sources_once_each() {
        let m = sample();
        assert_eq!(
            m.attribution(Layer::Plots).as_deref(),
            Some("Cerema – Cartofriches; IGN – ADMIN EXPRESS")
        );
        assert_eq!(
            m.attribution(Layer::Catchments).as_deref(),
            Some("IGN – ADMIN EXPRESS; INSEE COG")
        );
        assert_eq!(m.attribution(Layer::Buildings), None);
        assert_eq!(m.attributions().len(), 2);
    }

    #[test]
    fn write_then_read_round_trips_and_absent_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap(), None);
        let m = sample();
        m.write(dir.path()).unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap(), Some(m));
        std::fs::write(dir.path().join(MANIFEST_FILE), b"{ not json").unwrap();
        assert!(matches!(
            Manifest::read(dir.path()),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
