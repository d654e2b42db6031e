//! Road routing: road graphs built from OpenStreetMap or IGN BD TOPO, bounded Dijkstra travel
//! times, isochrone polygons, drive-time filters over layers and workforce within reach.
//!
//! Pipeline:
//! 1. **Read** road data into a [`RawNetwork`]: OSM `.osm.pbf` / `.osm` / `.osm.gz`
//!    ([`osm`]), BD TOPO `troncon_de_route` GeoJSON in Lambert-93 or any CRS ([`bdtopo`]).
//! 2. **Profile** ([`profile`]): normalise tags into [`WayAttrs`]; the car table for France,
//!    HGV restrictions.
//! 3. **Build** the compact graph of one profile ([`RoadGraph::build`], [`graph`]): integer
//!    millisecond weights, forward and reverse CSR adjacency, islands flagged ([`islands`]).
//!    `terriens import-roads` stores it in a binary file ([`graph_file`]) that `serve` loads.
//! 4. **Snap** points to the nearest usable segment ([`snap`], an R-tree; 1 km at most by
//!    default, beyond which [`RoutingError::TooFarFromRoad`] carries the distance).
//! 5. **Search**: one bounded Dijkstra per request from one or several points, forwards or
//!    backwards ([`search`]), with pooled, generation-stamped state.
//! 6. **Use** the labels: isochrone polygons ([`isochrone()`]), drive times to features
//!    ([`travel_times_to_features`]), workforce within reach ([`workforce`]).
//!
//! # Module order
//!
//! Imports only run down this list (a module uses only modules above it), so the module graph
//! has no cycle:
//! `profile` → `error` → `network` → `osm`, `bdtopo`, `synthetic` → `read_roads` (picks the
//! reader of a file) → `urban_density`, `islands`, `direction` → `graph` → `search`,
//! `graph_file`, `snap`, `catchment_roads`, `coverage` → `engine` → `features`, `isochrone`, `workforce` →
//! `snap_file` (the snaps persisted beside the layer files).
//!
//! # Drive-time filtering API (for search endpoints)
//!
//! ```text
//! // The engine of a profile (AppState holds `routing: Option<Arc<Routing>>`):
//! let engine: &Arc<RoutingEngine> = routing.engine(ProfileId::Car)?;
//!
//! // One call: (row, seconds) for every feature of the layer within max_seconds, by row.
//! pub fn travel_times_to_features(
//!     engine: &RoutingEngine,
//!     layer: &Arc<LayerData>,      // snapshot.layer(Layer::Plots)
//!     origins: &[[f64; 2]],        // (lon, lat); several points = nearest of them
//!     direction: Direction,        // From: origin → feature; To: feature → origin
//!     max_seconds: f64,
//! ) -> Result<Vec<(u32, f64)>, RoutingError>;
//!
//! // Or keep the labels to ask several layers or single points:
//! let times: SearchTimes = engine.travel_times(&[[lon, lat]], Direction::From, 1800.0)?;
//! times.to_features(snapshot.layer(Layer::WasteDeposits));   // Vec<(row, seconds)>
//! times.time_at(&engine.snap(lon, lat)?);                    // Option<seconds>
//! ```
//!
//! Feature positions are snapped once per layer snapshot and cached by the engine, keyed by
//! the `Arc<LayerData>` (readers never block; a new snapshot is snapped on first use, or
//! ahead with [`Routing::prepare`]). Features farther than the snapping limit from a usable
//! road get no time and are left out. Times are those of the road position nearest to the
//! feature (its interior point for polygons); the walk from the road is not counted.
//! `TooFarFromRoad` should become a 400 naming the origin parameter.

pub mod bdtopo;
mod catchment_roads;
pub mod coverage;
pub mod direction;
mod drive_from;
mod embedded;
mod engine;
mod error;
mod features;
pub mod graph;
pub mod graph_file;
pub mod islands;
pub mod isochrone;
pub mod network;
pub mod osm;
pub mod profile;
mod read_roads;
pub mod search;
pub mod snap;
mod snap_file;
pub mod synthetic;
pub mod urban_density;
pub mod workforce;

pub use coverage::{AnswerCoverage, FULL_COVERAGE, RoadCoverage};
pub use direction::{Direction, UnknownDirection};
pub use embedded::{EMBEDDED_ROADS, ROADS_FILE, embedded_routing};
pub use engine::{GraphIdentity, Route, Routing, RoutingEngine, SearchTimes, graph_file_name};
pub use error::{GraphFileError, GraphPartsError, NetworkDefect, RoutingError};
pub use features::{FeatureSnaps, snap_features, travel_times_to_features};
pub use graph::{BuildOptions, Edge, NO_EDGE, RoadGraph, Segment};
pub use graph_file::{read_graph, write_graph};
pub use isochrone::{Contour, Isochrone, IsochroneCoverage, IsochroneOptions, isochrone};
pub use network::{RawNetwork, RawWay};
pub use profile::{Oneway, Profile, ProfileId, RoadClass, UnknownProfile, WayAttrs};
pub use search::{SearchState, search};
pub use snap::{DEFAULT_MAX_SNAP_M, Snap, SnapIndex};
pub use snap_file::{
    DERIVED_DIR, Prepared, SnapFileError, SnapKey, layer_fingerprint, read_snaps, snap_file_path,
    write_snaps,
};
pub use workforce::{
    CatchmentShare, FamilyFigures, Figures, OccupationFigures, ShareBasis, TENSION_SHARE,
    Workforce, whole_catchments,
};
