//! Why a tile, a TileJSON or an export cannot be made.

use crate::index::FilterError;
use crate::model::UnknownLayer;

/// Errors of the tiles module. Every variant names what is at fault.
#[derive(Debug, thiserror::Error)]
pub enum TileError {
    #[error("zoom {z} is above the largest zoom {max}")]
    ZoomTooHigh { z: u64, max: u8 },
    #[error("tile {axis}={value} is out of range at zoom {z}: valid values are 0..={max}")]
    OutOfRange {
        axis: &'static str,
        value: u64,
        z: u8,
        max: u64,
    },
    #[error(
        "`{segment}` is not a tile {what}; write /tiles/{{layers}}/{{z}}/{{x}}/{{y}} with integers, y optionally ending in .mvt or .pbf"
    )]
    BadCoordinate { what: &'static str, segment: String },
    #[error("{0}")]
    UnknownLayer(#[from] UnknownLayer),
    #[error("layer `{0}` is named twice in the tile set")]
    DuplicateLayer(String),
    #[error("{0}")]
    Filter(#[from] FilterError),
    #[error("filter `{param}` names no field of the requested layers ({layers})")]
    FilterMatchesNoLayer { param: String, layers: String },
    #[error("cannot write {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("tile encoding failed: {0}")]
    Encode(String),
}

impl TileError {
    /// The request parameter at fault, for a 400 that names it.
    pub fn param(&self) -> Option<&str> {
        match self {
            TileError::ZoomTooHigh { .. } => Some("z"),
            TileError::OutOfRange { axis, .. } => Some(axis),
            TileError::BadCoordinate { what, .. } => Some(what),
            TileError::UnknownLayer(_) | TileError::DuplicateLayer(_) => Some("layers"),
            TileError::Filter(f) => Some(f.param()),
            TileError::FilterMatchesNoLayer { param, .. } => Some(param),
            TileError::Io { .. } | TileError::Encode(_) => None,
        }
    }
}
