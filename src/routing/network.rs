//! A road network as read, before any profile: node positions and ways with their
//! [`WayAttrs`]. The readers ([`super::osm`], [`super::bdtopo`]) produce it; the graph builder
//! consumes it, once per profile.

use std::io::Read;
use std::path::Path;

use super::RoutingError;
use super::profile::WayAttrs;

/// One road: its node indices (into [`RawNetwork::lonlat`]) in digitised order.
#[derive(Debug, Clone, PartialEq)]
pub struct RawWay {
    pub nodes: Vec<u32>,
    pub attrs: WayAttrs,
}

/// Nodes and roads of a network, WGS84.
#[derive(Debug, Clone, Default)]
pub struct RawNetwork {
    /// Where the data comes from (file name), for messages.
    pub source: String,
    /// Node positions (lon, lat), rounded to 1e-7° as OSM stores them.
    pub lonlat: Vec<[f64; 2]>,
    pub ways: Vec<RawWay>,
    /// Way references to nodes the input does not hold (dropped; common at extract borders).
    pub missing_node_refs: usize,
    /// Ways of the input that are not roads for any profile (footways, ferries, ...).
    pub ways_skipped: usize,
}

impl RawNetwork {
    /// An empty network named after its source.
    pub fn new(source: impl Into<String>) -> RawNetwork {
        RawNetwork {
            source: source.into(),
            ..RawNetwork::default()
        }
    }

    /// Adds a node and returns its index; coordinates are rounded to 1e-7°.
    pub fn push_node(&mut self, lon: f64, lat: f64) -> u32 {
        let r = |v: f64| (v * 1e7).round() / 1e7;
        self.lonlat.push([r(lon), r(lat)]);
        (self.lonlat.len() - 1) as u32
    }

    /// Adds a way of at least two nodes (shorter ones are ignored).
    pub fn push_way(&mut self, nodes: Vec<u32>, attrs: WayAttrs) {
        if nodes.len() >= 2 {
            self.ways.push(RawWay { nodes, attrs });
        }
    }

    /// Reads a road file: `.osm.pbf`, `.osm` / `.osm.xml` (optionally gzip-compressed), or a
    /// BD TOPO `troncon_de_route` `.geojson` (any CRS PROJ knows; `crs` overrides the file's).
    pub fn read_file(
        path: &Path,
        crs: Option<&crate::geo_util::Crs>,
    ) -> Result<RawNetwork, RoutingError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let bytes = std::fs::read(path).map_err(RoutingError::io("cannot read", path))?;
        RawNetwork::read_bytes(&bytes, &name, crs)
    }

    /// Reads road data held in memory; the format comes from `name` (as for
    /// [`RawNetwork::read_file`]) or, failing that, from the first bytes.
    pub fn read_bytes(
        bytes: &[u8],
        name: &str,
        crs: Option<&crate::geo_util::Crs>,
    ) -> Result<RawNetwork, RoutingError> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".pbf") {
            return super::osm::read_pbf(bytes, name);
        }
        let plain: std::borrow::Cow<'_, [u8]> = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(bytes)
                .read_to_end(&mut out)
                .map_err(RoutingError::io("cannot decompress", name))?;
            out.into()
        } else {
            bytes.into()
        };
        let stem = lower.strip_suffix(".gz").unwrap_or(&lower);
        let first = plain.iter().find(|b| !b.is_ascii_whitespace()).copied();
        if stem.ends_with(".osm") || stem.ends_with(".xml") || first == Some(b'<') {
            super::osm::read_xml(&plain, name)
        } else if stem.ends_with(".geojson") || stem.ends_with(".json") || first == Some(b'{') {
            super::bdtopo::read_bdtopo(&plain, name, crs)
        } else {
            Err(RoutingError::UnknownFormat(name.to_string()))
        }
    }
}
