//! Everything that can go wrong in routing: reading road data, graph files, and requests.

use std::path::PathBuf;

use super::profile::{ProfileId, UnknownProfile};
use crate::geo_util::CrsError;
use crate::ingest::IngestError;

/// Why routing failed.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot tell the road data format of {0}: name it .osm.pbf, .osm, .osm.xml (optionally .gz) or, for IGN BD TOPO troncon_de_route, .geojson"
    )]
    UnknownFormat(String),
    #[error("OSM PBF {source_name}: {message}")]
    Pbf {
        source_name: String,
        message: String,
    },
    #[error("OSM XML {source_name}, byte {position}: {message}")]
    Xml {
        source_name: String,
        position: u64,
        message: String,
    },
    #[error("BD TOPO {source_name}: {source}")]
    BdTopo {
        source_name: String,
        source: IngestError,
    },
    #[error(transparent)]
    Crs(#[from] CrsError),
    #[error(
        "{source_name} holds no road usable by the {profile} profile ({ways} ways read): is it a road network?"
    )]
    EmptyNetwork {
        source_name: String,
        profile: ProfileId,
        ways: usize,
    },
    #[error("road network {source_name}: {reason}")]
    BadNetwork { source_name: String, reason: String },
    #[error(
        "{path} is not a terriens road graph: {reason}; re-create it with `terriens import-roads`"
    )]
    CorruptGraph { path: PathBuf, reason: String },
    #[error(
        "the point ({lon}, {lat}) is {distance_m:.0} m from the nearest road usable by {profile}; the limit is {max_m:.0} m (is it at sea, or outside the road network?)"
    )]
    TooFarFromRoad {
        lon: f64,
        lat: f64,
        distance_m: f64,
        max_m: f64,
        profile: ProfileId,
    },
    #[error("({lon}, {lat}) is not a WGS84 longitude, latitude")]
    BadCoordinate { lon: f64, lat: f64 },
    #[error(transparent)]
    UnknownProfile(#[from] UnknownProfile),
    #[error(
        "no road graph is loaded for the {0} profile; import one with `terriens import-roads FILE --profile {0}`"
    )]
    ProfileNotLoaded(ProfileId),
    #[error("contouring failed: {0}")]
    Contour(String),
}

impl RoutingError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> RoutingError {
        let path = path.into();
        move |source| RoutingError::Io {
            action,
            path,
            source,
        }
    }
}
