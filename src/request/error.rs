//! Why a request cannot be planned. The API maps each variant to the HTTP answer of the
//! matching `ApiError` (same status, slug and detail), so moving a check here changes no answer.

use crate::config::OverLimit;
use crate::index::FilterError;
use crate::model::UnknownLayer;
use crate::query::QueryError;
use crate::routing::RoutingError;

/// A request that cannot be turned into a plan.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("{detail}")]
    BadParameter {
        /// The query parameter or body member at fault.
        param: String,
        detail: String,
    },
    #[error("{0}")]
    BadBody(String),
    #[error(transparent)]
    OverLimit(#[from] OverLimit),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error(transparent)]
    UnknownLayer(#[from] UnknownLayer),
    /// A routing failure (an unknown profile); `param` names the parameter.
    #[error("{source}")]
    Routing {
        param: &'static str,
        source: Box<RoutingError>,
    },
    #[error(
        "a geometry has {vertices} vertices, above the limit of this server ({limit}); simplify it"
    )]
    TooManyVertices { vertices: usize, limit: usize },
}

impl RequestError {
    /// A 400 naming the parameter at fault.
    pub fn bad_param(param: impl Into<String>, detail: impl Into<String>) -> RequestError {
        RequestError::BadParameter {
            param: param.into(),
            detail: detail.into(),
        }
    }
}
