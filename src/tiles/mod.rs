//! Vector tiles for web maps: generalisation, clipping, Mapbox Vector Tile encoding, TileJSON,
//! the tile cache and PMTiles export. Knows nothing of HTTP.
//!
//! Pipeline. At load, per data generation ([`prepare`]): project every geometry to web
//! mercator, simplify polygons to one tile unit per zoom, decide at which zooms polygons are
//! under a pixel, cluster points and those polygons on a grid per zoom, estimate from which
//! zoom each layer is complete. Per tile ([`render_tile`]): query the buffered tile box in the
//! R-trees, filter, take the zoom's generalised form, clip in floating point, snap to the
//! 4096 grid (clockwise exteriors, no repeated points or spikes), order by priority, keep
//! within the size budget, encode. The [`TileEngine`] caches bodies per encoding.

mod cache;
mod clip;
mod cluster;
mod compress;
mod config;
mod encode;
mod engine;
mod error;
mod pmtiles;
mod prepare;
mod render_tile;
mod tile_coord;
mod tile_load;
mod tile_set;
mod tilejson;

pub use cache::{CachedTile, TileCache, TileKey};
pub use clip::clip;
pub use compress::{Encoding, compress, gzip, negotiate};
pub use config::{DEMO_ATTRIBUTION, TileConfig};
pub use engine::TileEngine;
pub use error::TileError;
pub use pmtiles::{ExportOptions, ExportReport, export_pmtiles, tile_id};
pub use prepare::{
    LayerChange, Prepared, PreparedLayer, prepare, prepare_layer, prepare_with_changes,
    update_layer,
};
pub use render_tile::{RenderedTile, render_tile};
pub use tile_coord::{MAX_LAT, MAX_ZOOM, TileCoord, lonlat_to_world, tile_unit, world_to_lonlat};
pub use tile_set::{ALL_ALIAS, TileSet, parse_layers};
pub use tilejson::{layer_fields, tilejson};
