//! A road network as read, before any profile: node positions and ways with their
//! [`WayAttrs`]. The readers ([`super::osm`], [`super::bdtopo`]) produce it; the graph builder
//! consumes it, once per profile. A file of any format is read by [`RawNetwork::read_file`].

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
}
