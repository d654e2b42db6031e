//! The committed demo road network (`fixtures/roads.osm.gz`), embedded in the binary: the road
//! graphs `terriens serve` routes on without a data directory. The generator that writes the
//! file lives in the `terriens-demo` crate.

use super::{BuildOptions, ProfileId, RawNetwork, Routing, RoutingError};

/// File name of the demo road network in the fixtures directory.
pub const ROADS_FILE: &str = "roads.osm.gz";

/// The committed demo road network (gzip-compressed OSM XML), for demo mode.
pub const EMBEDDED_ROADS: &[u8] = include_bytes!("../../fixtures/roads.osm.gz");

/// Road graphs of every profile built from the embedded demo road network (demo mode).
pub fn embedded_routing() -> Result<Routing, RoutingError> {
    let net = RawNetwork::read_bytes(EMBEDDED_ROADS, ROADS_FILE, None)?;
    Routing::from_network(&net, &ProfileId::ALL, &BuildOptions::default())
}
