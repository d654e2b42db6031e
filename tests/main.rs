//! Every integration test in one binary.
//!
//! Cargo builds one executable per file under `tests/`, and each of ours links the whole library
//! with PROJ, SQLite and the tile encoders: forty of them took several gigabytes of `target/` and
//! forty links on the 2-core CI machine (the CI run on record ran out of disk space while linking
//! them). One binary links once; each file stays a module, so `cargo test --test integration
//! live_tiles::` runs one file's tests.

mod common;

mod area;
mod auth_matrix;
mod bad_input;
mod confidential_walk;
mod contract_fuzz;
mod crs;
mod durability_ids;
mod durability_log;
mod durability_tmpfs;
mod fixtures;
mod import_formats;
mod limits_status;
mod live_queries;
mod live_routing;
mod live_tiles;
mod map_page;
mod matching;
mod matching_realdata;
mod ogc_client;
mod ogc_compression;
mod ogc_cql2;
mod ogc_edit;
mod ogc_gdal;
mod ogc_options;
mod ogc_sort;
mod openapi;
mod pg_replicas;
mod projects;
mod realdata_import;
mod routing_api;
mod routing_features;
mod routing_import;
mod routing_isochrone;
mod routing_oracle;
mod routing_tiny;
mod search_http;
mod search_oracle;
mod search_realdata;
mod stall_limits;
mod startup_loading;
mod store_round_trip;
mod territory_diagnostic;
mod territory_page;
mod tiles_http;
mod tiles_mvt;
mod tiles_pmtiles;
mod validity_isochrones;
mod validity_tiles;
mod workforce_bmo;
mod writes_api;
mod writes_crash;
