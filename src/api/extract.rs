//! Extractors whose rejections are problem+json like every other error.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use serde::de::DeserializeOwned;

use serde_json::Value as Json;

use super::{ApiError, AppState, Limits};
use crate::edit::Precondition;
use crate::model::{Access, Role};

pub use crate::request::Params;

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Params::parse(parts.uri.query().unwrap_or("")))
    }
}

/// Path parameters, with a 400 (or 404 for a bad layer) as problem+json.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| ApiError::bad_param("path", e.body_text()))
    }
}

/// A JSON body, with a 400 as problem+json naming what is wrong; read like [`ApiBody`] (413
/// beyond `max_body_bytes`, 408 when it does not arrive within `body_read_timeout_ms`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = read_body(body, &state.limits).await?;
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|j| ApiJson(j.0))
            .map_err(|e| ApiError::BadBody(e.body_text()))
    }
}

/// Reads a whole body: at most `max_body_bytes` (413), within `body_read_timeout_ms` (408).
/// The one place bodies are read, so every route answers the same.
pub async fn read_body(body: axum::body::Body, limits: &Limits) -> Result<Bytes, ApiError> {
    let limit = limits.max_body_bytes;
    let ms = limits.body_read_timeout_ms;
    let read = axum::body::to_bytes(body, limit);
    match tokio::time::timeout(std::time::Duration::from_millis(ms), read).await {
        Err(_) => Err(ApiError::BodyTimeout { timeout_ms: ms }),
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                Err(ApiError::BodyTooLarge { limit })
            } else {
                Err(ApiError::BadBody(format!("cannot read the body: {e}")))
            }
        }
    }
}

/// The most vertices (positions) of one GeoJSON geometry in a document: every `coordinates`
/// member is counted on its own (a FeatureCollection's features one by one).
pub fn max_vertices(doc: &Json) -> usize {
    fn positions(v: &Json) -> usize {
        match v {
            Json::Array(a) if a.first().is_some_and(Json::is_number) => 1,
            Json::Array(a) => a.iter().map(positions).sum(),
            _ => 0,
        }
    }
    match doc {
        Json::Object(m) => m
            .iter()
            .map(|(k, v)| {
                if k == "coordinates" {
                    positions(v)
                } else {
                    max_vertices(v)
                }
            })
            .max()
            .unwrap_or(0),
        Json::Array(a) => a.iter().map(max_vertices).max().unwrap_or(0),
        _ => 0,
    }
}

/// 413 `too-many-vertices` when a geometry of the document is above `limits.max_vertices`.
pub fn check_vertices(doc: &Json, limits: &Limits) -> Result<(), ApiError> {
    let vertices = max_vertices(doc);
    if vertices > limits.max_vertices {
        return Err(ApiError::TooManyVertices {
            vertices,
            limit: limits.max_vertices,
        });
    }
    Ok(())
}

/// Who is calling: the access granted by the request's API key (`Authorization: Bearer <key>`
/// or `X-Api-Key: <key>`), or anonymous. A key that is given but not valid is a 401, never
/// silently anonymous; without a key, a server with `anonymous_reads = false` answers 401.
#[derive(Debug, Clone, Copy)]
pub struct Caller(pub Access);

impl Caller {
    /// The access, if it has at least `role`: 401 without a key, 403 with a lower role.
    pub fn require(self, role: Role) -> Result<Access, ApiError> {
        let access = self.0;
        match access.role() {
            None => Err(ApiError::Unauthorized(format!(
                "this needs an API key of role {role} or above: send `Authorization: Bearer <key>`"
            ))),
            Some(r) if r < role => Err(ApiError::Forbidden {
                needed: role,
                given: r.to_string(),
            }),
            Some(_) => Ok(access),
        }
    }
}

impl Caller {
    /// Reads the key of a request's headers.
    fn from_headers(headers: &HeaderMap, state: &AppState) -> Result<Caller, ApiError> {
        let bearer = match headers.get(header::AUTHORIZATION) {
            None => None,
            Some(v) => {
                let v = v.to_str().unwrap_or("");
                let (scheme, key) = v.split_once(' ').unwrap_or((v, ""));
                if !scheme.eq_ignore_ascii_case("bearer") {
                    return Err(ApiError::Unauthorized(
                        "the Authorization header must be `Bearer <key>`".into(),
                    ));
                }
                Some(key.to_string())
            }
        };
        let key = bearer.or_else(|| {
            headers
                .get("x-api-key")
                .map(|v| v.to_str().unwrap_or("").to_string())
        });
        match key {
            Some(k) => state
                .keys
                .verify(&k)
                .map(Caller)
                .ok_or_else(|| ApiError::Unauthorized("the API key is not valid".into())),
            None if state.auth.anonymous_reads => Ok(Caller(Access::ANONYMOUS)),
            None => Err(ApiError::Unauthorized(
                "this server needs an API key for every request: send `Authorization: Bearer <key>`"
                    .into(),
            )),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(*c);
        }
        Caller::from_headers(&parts.headers, state)
    }
}

/// Middleware run on every route but `/health`: a request with an invalid key, or without a
/// key where `anonymous_reads = false`, is a 401 whatever the route. Handlers then read the
/// caller with the [`Caller`] extractor.
pub async fn authenticate(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if req.uri().path() == "/health" {
        return next.run(req).await;
    }
    match Caller::from_headers(req.headers(), &state) {
        Ok(c) => {
            req.extensions_mut().insert(c);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// An optional body member that may be left out but not given as `null` (the contract
/// documents the members without nulls): `#[serde(default, deserialize_with = "non_null")]`.
pub fn non_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// The raw request body, read by [`read_body`].
pub struct ApiBody(pub Bytes);

impl FromRequest<AppState> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        read_body(req.into_body(), &state.limits).await.map(ApiBody)
    }
}

/// The `If-Match` header as a condition on a feature's version: `*`, or ETags `"3"` (weak
/// `W/"3"` and bare `3` are accepted too).
pub fn if_match(headers: &HeaderMap) -> Result<Precondition, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(Precondition::None);
    };
    let bad = || {
        ApiError::bad_param(
            "If-Match",
            "If-Match must be `*` or feature ETags such as `\"3\"`",
        )
    };
    let v = v.to_str().map_err(|_| bad())?.trim();
    if v == "*" {
        return Ok(Precondition::Exists);
    }
    let versions = v
        .split(',')
        .map(|t| {
            let t = t.trim();
            let t = t.strip_prefix("W/").unwrap_or(t);
            t.trim_matches('"').parse::<u64>().map_err(|_| bad())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Precondition::Versions(versions))
}

/// The ETag of a feature at a version.
pub fn etag(version: u64) -> HeaderValue {
    // Digits and quotes are always a valid header value.
    HeaderValue::try_from(format!("\"{version}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// Whether `If-None-Match` names `etag` (weak or strong, in any of its headers) or is `*`.
pub fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}
