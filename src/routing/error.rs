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
    BadNetwork {
        source_name: String,
        reason: NetworkDefect,
    },
    #[error(
        "{path} is not a terriens road graph: {reason}; re-create it with `terriens import-roads`"
    )]
    CorruptGraph {
        path: PathBuf,
        reason: GraphFileError,
    },
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

/// Why a road network cannot be made into a graph ([`RoutingError::BadNetwork`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkDefect {
    /// A way names a node index past the node list (`max` is the way's largest index).
    #[error("a way references node {max:?} of {nodes}")]
    NodeOutOfRange { max: Option<u32>, nodes: usize },
    #[error("a node has a non-finite coordinate")]
    NonFiniteCoordinate,
    #[error(transparent)]
    Parts(#[from] GraphPartsError),
}

/// Why nodes and segments do not assemble into a graph (from a network or a graph file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphPartsError {
    #[error("longitude and latitude arrays differ in length")]
    CoordinateLengths,
    #[error("too many nodes or segments")]
    TooLarge,
    #[error("segment {0} references a node out of range")]
    NodeOutOfRange(usize),
}

/// Why the bytes of a graph file are not a graph ([`RoutingError::CorruptGraph`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphFileError {
    #[error("no terriens road graph header")]
    NoHeader,
    #[error("checksum mismatch (truncated or damaged file)")]
    Checksum,
    #[error("format version {found}, this terriens reads version {reads}")]
    Version { found: u32, reads: u32 },
    #[error("unknown profile byte")]
    UnknownProfile,
    #[error(transparent)]
    SourceName(#[from] std::string::FromUtf8Error),
    #[error(transparent)]
    Count(#[from] std::num::TryFromIntError),
    #[error("counts ({nodes} nodes, {segments} segments) exceed the file size")]
    CountsExceedFile { nodes: usize, segments: usize },
    #[error("count overflow")]
    CountOverflow,
    #[error("truncated at byte {0}")]
    Truncated(usize),
    #[error("{0} unexpected trailing bytes")]
    TrailingBytes(usize),
    #[error("segment {segment} has an unknown road class {class}")]
    UnknownClass { segment: usize, class: u8 },
    #[error(transparent)]
    Parts(#[from] GraphPartsError),
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
