//! The one mapping from errors to HTTP: every error becomes an RFC 9457
//! `application/problem+json` body with a stable `type` slug, a title, a detail and, where a
//! request parameter is at fault, its name. 5xx bodies say nothing internal; the cause is logged.
//!
//! Some problems carry more: `errors` (one entry per rejected feature of a body, with its
//! index), a `Retry-After` header (503: overloaded, busy or timed out; 503/507: the write log
//! or a compaction failed), `WWW-Authenticate`
//! (401).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::edit::EditError;
use crate::index::FilterError;
use crate::model::{FeatureId, Layer, Role, UnknownLayer};
use crate::query::QueryError;
use crate::routing::RoutingError;
use crate::tiles::TileError;

/// `Retry-After` of a replica too far behind its database (reads and `/health`).
pub const LAGGING_RETRY_S: u64 = 5;

/// Every error a handler can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    UnknownLayer(#[from] UnknownLayer),
    #[error("layer {layer} has no feature with id {id}")]
    FeatureNotFound { layer: Layer, id: String },
    #[error("there is no project with id {0}")]
    ProjectNotFound(String),
    #[error("no route for {0}")]
    NoRoute(String),
    #[error(
        "no territory with SIREN {0} in the data: no feature of the territories layer has it, and no feature is tagged with it"
    )]
    TerritoryNotFound(String),
    #[error("{detail}")]
    BadParameter {
        /// The query parameter, path segment or body member at fault.
        param: String,
        detail: String,
    },
    /// Within the contract, but nothing can answer it (a 422).
    #[error("{detail}")]
    Unprocessable { param: String, detail: String },
    #[error("`{param}` = {value} is above the limit of this server ({max})")]
    OverLimit {
        param: String,
        value: String,
        max: String,
    },
    #[error("{0}")]
    BadBody(String),
    #[error("the request body exceeds the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Unauthorized(String),
    #[error("this needs a key of role {needed} or above; the key given is {given}")]
    Forbidden { needed: Role, given: String },
    #[error(
        "too many heavy requests in progress ({limit} at a time); retry after {retry_after_s} s"
    )]
    Overloaded { limit: usize, retry_after_s: u64 },
    #[error("the request took longer than {timeout_ms} ms and was stopped; retry later")]
    Timeout { timeout_ms: u64 },
    #[error("the server is starting and still loading its data ({step}); retry shortly")]
    Loading { step: &'static str },
    #[error(
        "this replica is {lag_s:.1} s behind its database, beyond the {max_s:.1} s it serves reads at; retry shortly or ask another replica"
    )]
    Lagging { lag_s: f64, max_s: f64 },
    #[error(
        "a geometry has {vertices} vertices, above the limit of this server ({limit}); simplify it"
    )]
    TooManyVertices { vertices: usize, limit: usize },
    #[error("the request body did not arrive within {timeout_ms} ms")]
    BodyTimeout { timeout_ms: u64 },
    /// The request was abandoned while its work ran: the client sees the timeout's answer
    /// (or nothing, its connection being gone).
    #[error("the request was abandoned before its work finished")]
    Cancelled,
    #[error("{0}")]
    Edit(#[from] EditError),
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A routing failure; `param` names the request parameter it concerns, if any.
    #[error("{source}")]
    Routing {
        param: Option<&'static str>,
        // Boxed: routing errors carry paths and messages, and every handler returns ApiError.
        source: Box<RoutingError>,
    },
    #[error("internal error: {0}")]
    Internal(String),
    #[error("{0}")]
    Tile(#[from] TileError),
}

impl From<crate::request::RequestError> for ApiError {
    fn from(e: crate::request::RequestError) -> ApiError {
        use crate::request::RequestError as R;
        match e {
            R::BadParameter { param, detail } => ApiError::BadParameter { param, detail },
            R::BadBody(detail) => ApiError::BadBody(detail),
            R::OverLimit(e) => e.into(),
            R::Query(e) => ApiError::Query(e),
            R::Filter(e) => ApiError::Filter(e),
            R::UnknownLayer(e) => ApiError::UnknownLayer(e),
            R::Routing { param, source } => ApiError::Routing {
                param: Some(param),
                source,
            },
            R::TooManyVertices { vertices, limit } => ApiError::TooManyVertices { vertices, limit },
        }
    }
}

impl From<crate::config::OverLimit> for ApiError {
    fn from(e: crate::config::OverLimit) -> ApiError {
        ApiError::OverLimit {
            param: e.param,
            value: e.value,
            max: e.max,
        }
    }
}

impl From<crate::matching::BadNeed> for ApiError {
    fn from(e: crate::matching::BadNeed) -> ApiError {
        if e.unprocessable {
            ApiError::Unprocessable {
                param: e.field,
                detail: e.detail,
            }
        } else {
            ApiError::bad_param(e.field, e.detail)
        }
    }
}

impl ApiError {
    /// A 400 naming the parameter at fault.
    pub fn bad_param(param: impl Into<String>, detail: impl Into<String>) -> ApiError {
        ApiError::BadParameter {
            param: param.into(),
            detail: detail.into(),
        }
    }

    /// A 404 for a feature id.
    pub fn not_found(layer: Layer, id: FeatureId) -> ApiError {
        ApiError::FeatureNotFound {
            layer,
            id: id.to_string(),
        }
    }

    /// A routing failure about a request parameter (e.g. the point that cannot be snapped).
    pub fn routing(param: &'static str) -> impl FnOnce(RoutingError) -> ApiError {
        move |source| ApiError::Routing {
            param: Some(param),
            source: Box::new(source),
        }
    }

    /// (status, type slug, title): the table every error goes through.
    fn table(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            ApiError::UnknownLayer(_) => (S::NOT_FOUND, "unknown-layer", "Unknown layer"),
            ApiError::FeatureNotFound { .. } => {
                (S::NOT_FOUND, "feature-not-found", "Feature not found")
            }
            ApiError::ProjectNotFound(_) => {
                (S::NOT_FOUND, "project-not-found", "Project not found")
            }
            ApiError::NoRoute(_) => (S::NOT_FOUND, "not-found", "Not found"),
            ApiError::TerritoryNotFound(_) => {
                (S::NOT_FOUND, "territory-not-found", "Territory not found")
            }
            ApiError::BadParameter { .. } => (S::BAD_REQUEST, "bad-parameter", "Invalid parameter"),
            ApiError::Unprocessable { .. } => (
                S::UNPROCESSABLE_ENTITY,
                "unprocessable",
                "Cannot be answered",
            ),
            ApiError::OverLimit { .. } => (S::BAD_REQUEST, "over-limit", "Above a server limit"),
            ApiError::BadBody(_) => (S::BAD_REQUEST, "bad-body", "Invalid request body"),
            ApiError::BodyTooLarge { .. } => (
                S::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Request body too large",
            ),
            ApiError::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            ApiError::Unauthorized(_) => (S::UNAUTHORIZED, "unauthorized", "API key needed"),
            ApiError::Forbidden { .. } => (S::FORBIDDEN, "forbidden", "Role too low"),
            ApiError::Overloaded { .. } => (S::SERVICE_UNAVAILABLE, "overloaded", "Overloaded"),
            ApiError::Loading { .. } => (S::SERVICE_UNAVAILABLE, "loading", "Loading"),
            ApiError::Lagging { .. } => (S::SERVICE_UNAVAILABLE, "lagging", "Replica behind"),
            ApiError::Timeout { .. } | ApiError::Cancelled => {
                (S::SERVICE_UNAVAILABLE, "timeout", "Request timed out")
            }
            ApiError::TooManyVertices { .. } => (
                S::PAYLOAD_TOO_LARGE,
                "too-many-vertices",
                "Geometry has too many vertices",
            ),
            ApiError::BodyTimeout { .. } => {
                (S::REQUEST_TIMEOUT, "body-timeout", "Request body too slow")
            }
            ApiError::Edit(e) => match e {
                EditError::Document(_) | EditError::BadPatch(_) => {
                    (S::BAD_REQUEST, "bad-body", "Invalid request body")
                }
                // The body and the URL are each valid; together they disagree.
                EditError::IdMismatch { .. } => {
                    (S::UNPROCESSABLE_ENTITY, "id-mismatch", "Id mismatch")
                }
                EditError::Rejected { .. } => (
                    S::UNPROCESSABLE_ENTITY,
                    "invalid-feature",
                    "Invalid feature",
                ),
                EditError::NotFound { .. } => {
                    (S::NOT_FOUND, "feature-not-found", "Feature not found")
                }
                EditError::Exists { .. } => (S::CONFLICT, "feature-exists", "Feature exists"),
                EditError::Stale { .. } | EditError::ProjectStale { .. } => (
                    S::PRECONDITION_FAILED,
                    "stale-version",
                    "Version does not match",
                ),
                EditError::ProjectNotFound(_) => {
                    (S::NOT_FOUND, "project-not-found", "Project not found")
                }
                EditError::ProjectsNeedPartners => (
                    S::FORBIDDEN,
                    "projects-need-partners",
                    "Confidential projects need the partners right",
                ),
                EditError::ProjectsFull => (S::CONFLICT, "no-free-id", "No free id"),
                EditError::BatchTooLarge { .. } => {
                    (S::PAYLOAD_TOO_LARGE, "batch-too-large", "Batch too large")
                }
                EditError::NotPersistent => (S::CONFLICT, "not-persistent", "Writes disabled"),
                EditError::Busy(_) => (S::SERVICE_UNAVAILABLE, "writer-busy", "Writer busy"),
                EditError::Stopped(_) => {
                    (S::SERVICE_UNAVAILABLE, "writer-stopped", "Writer stopped")
                }
                EditError::SourceUnavailable(_) => (
                    S::SERVICE_UNAVAILABLE,
                    "source-unavailable",
                    "Database unavailable",
                ),
                EditError::Contended(_) => {
                    (S::SERVICE_UNAVAILABLE, "write-contended", "Write contended")
                }
                EditError::LogWrite { no_space: true }
                | EditError::Compaction { no_space: true } => (
                    S::INSUFFICIENT_STORAGE,
                    "insufficient-storage",
                    "No space left",
                ),
                EditError::LogWrite { .. } => (
                    S::SERVICE_UNAVAILABLE,
                    "log-write-failed",
                    "Write log failed",
                ),
                EditError::Compaction { .. } => (
                    S::SERVICE_UNAVAILABLE,
                    "compaction-failed",
                    "Compaction failed",
                ),
                EditError::IdsNeedPartners { .. } => (
                    S::FORBIDDEN,
                    "ids-need-partners",
                    "Ids need the partners right",
                ),
                EditError::Store(_) | EditError::InUse(_) => (
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal server error",
                ),
            },
            ApiError::Filter(_) => (StatusCode::BAD_REQUEST, "bad-filter", "Invalid filter"),
            ApiError::Query(QueryError::NotFound { .. }) => (
                StatusCode::NOT_FOUND,
                "feature-not-found",
                "Feature not found",
            ),
            // 422: a cursor is opaque to the contract (any string); only the server knows
            // whether it issued it, for this query and this data.
            ApiError::Query(
                QueryError::CursorMalformed(_)
                | QueryError::CursorStale { .. }
                | QueryError::CursorForeign,
            ) => (S::UNPROCESSABLE_ENTITY, "bad-cursor", "Invalid cursor"),
            ApiError::Query(QueryError::Unprocessable { .. }) => (
                S::UNPROCESSABLE_ENTITY,
                "unprocessable",
                "Cannot be answered",
            ),
            ApiError::Query(QueryError::TooManyDeposits { .. }) => (
                S::UNPROCESSABLE_ENTITY,
                "too-many-deposits",
                "Too many deposits for a drive-time join",
            ),
            ApiError::Query(QueryError::Filter(_)) => {
                (StatusCode::BAD_REQUEST, "bad-filter", "Invalid filter")
            }
            ApiError::Query(_) => (
                StatusCode::BAD_REQUEST,
                "bad-parameter",
                "Invalid parameter",
            ),
            ApiError::Internal(_) => (
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
            ApiError::Routing { source, .. } => match source.as_ref() {
                // The request is well formed and within the contract; the road network has
                // nothing there (as Mapbox's isochrone API answers "no suitable edges").
                RoutingError::TooFarFromRoad { .. } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "too-far-from-road",
                    "Location too far from a road",
                ),
                RoutingError::BadCoordinate { .. } => (
                    StatusCode::BAD_REQUEST,
                    "bad-parameter",
                    "Invalid parameter",
                ),
                RoutingError::UnknownProfile(_) => (
                    StatusCode::BAD_REQUEST,
                    "unknown-profile",
                    "Unknown profile",
                ),
                RoutingError::ProfileNotLoaded(_) => (
                    StatusCode::NOT_FOUND,
                    "profile-not-loaded",
                    "No road graph for this profile",
                ),
                RoutingError::Io { .. }
                | RoutingError::UnknownFormat(_)
                | RoutingError::Pbf { .. }
                | RoutingError::Xml { .. }
                | RoutingError::BdTopo { .. }
                | RoutingError::Crs(_)
                | RoutingError::EmptyNetwork { .. }
                | RoutingError::BadNetwork { .. }
                | RoutingError::CorruptGraph { .. }
                | RoutingError::Contour(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal server error",
                ),
            },
            ApiError::Tile(e) => match e {
                TileError::UnknownLayer(_) => {
                    (StatusCode::NOT_FOUND, "unknown-layer", "Unknown layer")
                }
                // x or y beyond the zoom's grid: no such tile (which x and y exist depends
                // on z, a rule between parameters; the grid simply has no tile there).
                TileError::OutOfRange { .. } => {
                    (StatusCode::NOT_FOUND, "no-such-tile", "No such tile")
                }
                TileError::ZoomTooHigh { .. } | TileError::BadCoordinate { .. } => (
                    StatusCode::BAD_REQUEST,
                    "bad-tile-address",
                    "Invalid tile address",
                ),
                TileError::DuplicateLayer(_)
                | TileError::Filter(_)
                | TileError::FilterMatchesNoLayer { .. } => (
                    StatusCode::BAD_REQUEST,
                    "bad-parameter",
                    "Invalid parameter",
                ),
                TileError::Io { .. } | TileError::Encode(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal server error",
                ),
            },
        }
    }

    /// Extra members of the problem body (RFC 9457 extensions).
    fn extensions(&self) -> Option<serde_json::Value> {
        match self {
            ApiError::Routing { source, .. } => match source.as_ref() {
                RoutingError::TooFarFromRoad {
                    distance_m, max_m, ..
                } => Some(json!({
                    "snap_distance_m": (distance_m * 10.0).round() / 10.0,
                    "max_snap_distance_m": max_m,
                })),
                _ => None,
            },
            _ => None,
        }
    }

    /// The parameter at fault, if any.
    fn param(&self) -> Option<&str> {
        match self {
            ApiError::BadParameter { param, .. }
            | ApiError::Unprocessable { param, .. }
            | ApiError::OverLimit { param, .. } => Some(param),
            ApiError::UnknownLayer(_) => Some("layer"),
            ApiError::Filter(e) => Some(e.param()),
            ApiError::Query(e) => Some(e.param()),
            ApiError::Tile(e) => e.param(),
            ApiError::Routing { param, source } => match source.as_ref() {
                RoutingError::UnknownProfile(_) | RoutingError::ProfileNotLoaded(_) => {
                    Some("profile")
                }
                _ => *param,
            },
            ApiError::Edit(EditError::Stale { .. } | EditError::ProjectStale { .. }) => {
                Some("If-Match")
            }
            _ => None,
        }
    }

    /// Seconds a client should wait before retrying, for 503s.
    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Overloaded { retry_after_s, .. } => Some(*retry_after_s),
            ApiError::Timeout { .. }
            | ApiError::Cancelled
            | ApiError::Loading { .. }
            | ApiError::Edit(EditError::Busy(_) | EditError::Contended(_)) => Some(1),
            ApiError::Edit(EditError::SourceUnavailable(_)) => Some(2),
            ApiError::Lagging { .. } => Some(LAGGING_RETRY_S),
            ApiError::Edit(EditError::Stopped(_)) => Some(30),
            ApiError::Edit(EditError::LogWrite { .. } | EditError::Compaction { .. }) => Some(10),
            _ => None,
        }
    }
}

impl From<RoutingError> for ApiError {
    fn from(source: RoutingError) -> ApiError {
        ApiError::Routing {
            param: None,
            source: Box::new(source),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.table();
        // 503 and 507 details say what to do and nothing internal; other 5xx are only logged.
        let passes = [
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::INSUFFICIENT_STORAGE,
        ];
        let detail = if status.is_server_error() && !passes.contains(&status) {
            tracing::error!(error = %self, "request failed");
            "the server failed to answer; the error is logged".to_string()
        } else {
            self.to_string()
        };
        let mut body = json!({
            "type": format!("https://terriens.dev/problems/{slug}"),
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
        });
        if let Some(p) = self.param() {
            body["param"] = json!(p);
        }
        if let ApiError::Edit(EditError::Rejected { rejected, .. }) = &self {
            body["errors"] = rejected
                .iter()
                .map(|r| json!({"index": r.index, "reason": r.reason.to_string()}))
                .collect();
        }
        if let ApiError::Edit(
            EditError::Stale { current, .. } | EditError::ProjectStale { current, .. },
        ) = &self
        {
            body["current_version"] = json!(current);
        }
        let retry = self.retry_after();
        if let Some(serde_json::Value::Object(ext)) = self.extensions() {
            for (k, v) in ext {
                body[k] = v;
            }
        }
        let mut resp = (status, Json(body)).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = retry {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"terriens\""),
            );
        }
        resp
    }
}
