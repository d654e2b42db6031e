//! terriens: a geospatial server for industrial territories.
//!
//! French intercommunalities (EPCI) keep the resources they offer to industry — land, ready
//! buildings, waste streams usable as raw material, workforce within reach — in five layers.
//! terriens holds them in memory, in R-trees, and answers radius, nearest, box, polygon and
//! drive-time questions over HTTP, with vector tiles for web maps.
//!
//! Modules, lowest first (a module only uses those above it; only `api` knows HTTP; the same
//! order as the README and ARCHITECTURE.md):
//! - [`cancel`]: the cancellation flag of the request a long loop works for;
//! - [`model`]: layers, typed fields, the material taxonomy, features, the access rule (pure data);
//! - [`geo_util`]: CRS reprojection, geodesic distance and area, the Hilbert curve (pure maths);
//! - [`ingest`]: GeoJSON, FlatGeobuf and CSV readers and validation;
//! - [`index`]: per-layer R-trees with columnar attributes, immutable snapshots, the filter
//!   grammar, and the views that bind every read to the caller's audience;
//! - [`store`]: FlatGeobuf files in a data directory, the write log, the embedded demo data;
//! - [`edit`]: the editing API's engine: validation, the single writer, group commit, compaction;
//! - [`query`]: radius, nearest, box and polygon search, site search, the sites–waste join;
//! - [`routing`]: road graphs, travel times, isochrones, drive-time filters, workforce;
//! - [`territory`]: a territory's data directory built from the national open data files;
//! - [`tiles`]: vector tiles (generalisation, clipping, MVT), TileJSON, the tile cache, PMTiles;
//! - [`auth`]: API keys (hashed keys file, constant-time checks);
//! - [`config`]: the server's TOML configuration with environment overrides, and its limits;
//! - [`request`]: requests planned below the API (typed, validated plans; reserved names);
//! - [`api`]: the axum router, handlers and the one error mapping.

pub mod api;
pub mod auth;
pub mod cancel;
pub mod config;
pub mod edit;
pub mod geo_util;
pub mod index;
pub mod ingest;
pub mod matching;
pub mod model;
pub mod query;
pub mod request;
pub mod routing;
pub mod store;
pub mod territory;
pub mod tiles;
