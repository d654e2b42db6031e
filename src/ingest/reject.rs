//! Why one feature of an input is rejected.

use crate::geo_util::CrsError;

/// The precise reason a feature was not imported.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Reject {
    #[error("feature has no geometry")]
    NoGeometry,
    #[error("geometry is malformed: {0}")]
    MalformedGeometry(String),
    #[error("geometry type {found} is not accepted in layer {layer}; expected {expected}")]
    GeometryType {
        found: String,
        layer: &'static str,
        expected: &'static str,
    },
    #[error(
        "ring {ring} of polygon {polygon} is not closed: first position {first:?}, last {last:?}"
    )]
    RingNotClosed {
        polygon: usize,
        ring: usize,
        first: (f64, f64),
        last: (f64, f64),
    },
    #[error(
        "ring {ring} of polygon {polygon} has {positions} positions; a closed ring needs at least 4"
    )]
    RingTooShort {
        polygon: usize,
        ring: usize,
        positions: usize,
    },
    #[error("coordinate {0} is not a finite number (NaN or infinite)")]
    NonFinite(String),
    #[error(
        "latitude {lat} is out of range [-90, 90] (after reprojection); are x and y swapped, or is the CRS wrong?"
    )]
    LatitudeOutOfRange { lat: f64 },
    #[error(
        "longitude {lon} is out of range [-180, 180] (after reprojection); projected coordinates need --crs (e.g. EPSG:2154)"
    )]
    LongitudeOutOfRange { lon: f64 },
    #[error("invalid geometry: {0}")]
    InvalidGeometry(String),
    /// Validation stopped early because its request was abandoned (never shown to a client).
    #[error("validation stopped: the request was abandoned")]
    Cancelled,
    #[error("missing required field `{field}`")]
    MissingField { field: &'static str },
    #[error("field `{field}` must be {expected}, found {found}")]
    WrongType {
        field: String,
        expected: &'static str,
        found: String,
    },
    #[error("unknown {field} `{value}`; valid values are: {valid}")]
    UnknownValue {
        field: &'static str,
        value: String,
        valid: String,
    },
    #[error("field `{field}` = `{value}` is not {hint}")]
    BadFormat {
        field: &'static str,
        value: String,
        hint: &'static str,
    },
    #[error("field `{field}` = {value} is out of range [{min}, {max}]")]
    OutOfRange {
        field: &'static str,
        value: f64,
        min: f64,
        max: f64,
    },
    #[error("unit `{unit}` does not match material `{material}`, which is counted in {expected}")]
    UnitMismatch {
        unit: String,
        material: String,
        expected: &'static str,
    },
    #[error("id {0} is not usable: ids are non-negative integers below 2^53 or non-empty strings")]
    BadId(String),
    #[error("duplicate id {id}: feature {first} has it already")]
    DuplicateId { id: u64, first: usize },
    #[error(transparent)]
    Reproject(#[from] CrsError),
    #[error("row is malformed: {0}")]
    MalformedRow(String),
}
