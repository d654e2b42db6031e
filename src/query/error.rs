//! Why a query cannot be answered. Every variant names the request parameter at fault, so the
//! API can say which one.

use crate::index::FilterError;
use crate::model::{FeatureId, Layer};

/// A query that cannot be answered as asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("`{param}` must be {expected}, got `{value}`")]
    OutOfRange {
        param: &'static str,
        value: String,
        expected: String,
    },
    #[error("`{param}`: {detail}")]
    Invalid { param: &'static str, detail: String },
    /// Within the contract, but not answerable as asked (a 422): a polygon that is not a valid
    /// simple feature, a box whose min exceeds its max, a territory the data does not hold, a
    /// distance sort without a point. The rules a schema can state are 400s.
    #[error("`{param}`: {detail}")]
    Unprocessable { param: &'static str, detail: String },
    #[error("missing `{param}`: {hint}")]
    Missing { param: &'static str, hint: String },
    #[error("`{param}` cannot be combined with `{other}`: {hint}")]
    Conflict {
        param: &'static str,
        other: &'static str,
        hint: String,
    },
    #[error(
        "`cursor` is not a cursor this server issued (`{0}`); use the `next` link of a response"
    )]
    CursorMalformed(String),
    #[error(
        "`cursor` was issued for data generation {issued}, but the data has changed since (now generation {current}); run the query again without `cursor`"
    )]
    CursorStale { issued: u64, current: u64 },
    #[error(
        "`cursor` belongs to another query (other layer, area, filters or sort); keep the parameters of the request that returned it"
    )]
    CursorForeign,
    #[error("`{param}`: unknown value `{value}`; valid values are: {valid}")]
    UnknownValue {
        param: &'static str,
        value: String,
        valid: String,
    },
    #[error("unknown parameter `{param}`; valid parameters are: {valid}")]
    UnknownParam { param: String, valid: String },
    #[error("{layer} has no feature with id {id}")]
    NotFound { layer: Layer, id: FeatureId },
    #[error(
        "{matched} deposits match: the drive-time join runs one road search per deposit and takes at most {max}; narrow it (materials, deposit.quantity_min=...) or use within_km"
    )]
    TooManyDeposits { matched: usize, max: usize },
    #[error(transparent)]
    Filter(#[from] FilterError),
}

impl QueryError {
    /// The parameter at fault.
    pub fn param(&self) -> &str {
        match self {
            QueryError::OutOfRange { param, .. }
            | QueryError::Invalid { param, .. }
            | QueryError::Unprocessable { param, .. }
            | QueryError::Missing { param, .. }
            | QueryError::Conflict { param, .. }
            | QueryError::UnknownValue { param, .. } => param,
            QueryError::CursorMalformed(_)
            | QueryError::CursorStale { .. }
            | QueryError::CursorForeign => "cursor",
            QueryError::UnknownParam { param, .. } => param,
            QueryError::NotFound { .. } => "id",
            QueryError::TooManyDeposits { .. } => "max_drive_min",
            QueryError::Filter(e) => e.param(),
        }
    }

    pub(crate) fn unprocessable(param: &'static str, detail: impl Into<String>) -> QueryError {
        QueryError::Unprocessable {
            param,
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid(param: &'static str, detail: impl Into<String>) -> QueryError {
        QueryError::Invalid {
            param,
            detail: detail.into(),
        }
    }

    pub(crate) fn out_of_range(
        param: &'static str,
        value: impl ToString,
        expected: impl Into<String>,
    ) -> QueryError {
        QueryError::OutOfRange {
            param,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}
